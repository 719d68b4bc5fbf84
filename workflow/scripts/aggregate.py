"""Rule `aggregate`: all metrics CSVs -> summary table, figure and HTML report
(dreem.pipeline.jobs.aggregate_job); the means also go to MLflow unless mlflow.enabled is
false."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import aggregate_job
    from dreem.pipeline.mlflow_log import record_summary, settings_from_config

    smk = snakemake  # noqa: F821
    summary = aggregate_job(
        smk.input.metrics,
        Path(smk.output.csv).parent,
        smk.params.title,
        smk.input.videos,
        smk.input.curves,
        smk.params.provenance,
    )
    log.info("summary: %s", {k: summary[k] for k in ("csv", "png", "html")})
    runs = record_summary(settings_from_config(smk.config), summary, smk.params.provenance)
    if runs:
        log.info("evaluation logged to MLflow runs %s", runs)
