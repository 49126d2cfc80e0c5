# stochastic-attention: the attention operation as a generator, measured against baselines.
import sys

from snakemake.utils import min_version

sys.path.insert(0, workflow.basedir + "/src")  # the library, also without an installed package
from stochastic_attention.config import ConfigError, prepare  # noqa: E402

min_version("9.0")


# The default config unless --configfile names another one: a profile given on the command
# line replaces the default entirely (no silent merging of two profiles' keys).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


try:
    prepare(config, workflow.configfiles, "workflow/schemas/config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(f"Invalid config: {error}") from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/synthetic.smk"


rule all:
    input:
        get_final_outputs(),
