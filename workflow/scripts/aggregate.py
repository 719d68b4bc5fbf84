"""Rule `aggregate`: all metrics CSVs -> summary table, figure and HTML report."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import aggregate_job

    smk = snakemake  # noqa: F821
    out = aggregate_job(
        smk.input.metrics, Path(smk.output.csv).parent, smk.params.title, smk.input.videos,
        smk.input.curves,
    )
    log.info("summary: %s", out)
