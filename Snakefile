# stochastic-attention: the attention operation as a generator, measured against baselines.
import os
import sys

from snakemake.utils import min_version

# This workflow's own folder, also where another workflow uses it as a module (there
# workflow.basedir is the other workflow's folder): the library, the schema, the rules.
WORKFLOW_DIR = workflow.current_basedir.get_path_or_uri(secret_free=True)
# the library, also without an installed package
sys.path.insert(0, os.path.join(WORKFLOW_DIR, "src"))
from stochastic_attention.config import ConfigError, prepare  # noqa: E402
from stochastic_attention.report.figure_registry import captions as figure_captions  # noqa: E402

min_version("9.0")


# The default config unless --configfile names another one: a profile given on the command
# line replaces the default entirely (no silent merging of two profiles' keys).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


try:
    prepare(
        config,
        workflow.configfiles,
        os.path.join(WORKFLOW_DIR, "workflow", "schemas", "config.schema.yaml"),
    )
except ConfigError as error:
    raise WorkflowError(f"Invalid config: {error}") from None
# The report names the config files that made it (workflow/report/workflow.rst); the key
# is added after validation, so it never clashes with a user's key.
config["_config_files"] = [os.path.relpath(path) for path in workflow.configfiles]
# Captions of figures come from their registry, a plug-in's too (workflow/report/figure.rst).
config["_figure_captions"] = figure_captions()


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/thermodynamics.smk"
include: "workflow/rules/claims.smk"


rule all:
    input:
        get_final_outputs(),
