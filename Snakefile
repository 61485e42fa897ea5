from snakemake.utils import min_version

min_version("9.0")


# A --configfile given on the command line is the whole config (the schema fills in defaults); it
# is never merged into this default, whose entries (e.g. a model of the same name) would leak in.
if not workflow.overwrite_configfiles:
    from drscale.grid import yaml_error_message

    # Snakemake reports a YAML syntax error without file or line.
    if yaml_error_message("config/config.yaml"):
        raise WorkflowError(yaml_error_message("config/config.yaml"))

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/tokenize.smk"
include: "workflow/rules/strategies.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/analysis.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
