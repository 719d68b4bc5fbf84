# dreem-pipeline: demo/discover -> extract -> train -> track -> evaluate -> aggregate.
#
#   snakemake --cores all                              # the demo (config/config.yaml)
#   snakemake --cores all --configfile my_config.yaml  # your data (replaces the demo config)
#   snakemake --workflow-profile profiles/slurm        # on a SLURM cluster
#
# Every rule's params carry exactly the config subtree it uses plus the dreem version and a
# hash of the dreem sources it runs, so Snakemake's default rerun triggers redo exactly the
# stages an edit affects. Paths are documented in docs/architecture.md.

from snakemake.utils import min_version

min_version("8.0")

# The bundled demo config is the default; a --configfile given on the command line replaces
# it instead of being merged into it (Snakemake would otherwise merge the two).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/discover.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/track.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
