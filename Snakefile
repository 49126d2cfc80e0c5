# stochastic-attention: the attention operation as a generator, measured against baselines.
from snakemake.utils import min_version, validate

min_version("9.0")


# The default config unless --configfile names another one: a profile given on the command
# line replaces the default entirely (no silent merging of two profiles' keys).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml", set_default=True)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/memory.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        get_final_outputs(),
