"""Rule `evaluate`: tracks table -> tidy metrics CSV (dreem.pipeline.jobs.evaluate_job)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import evaluate_job

    smk = snakemake  # noqa: F821
    p = smk.params
    gt = smk.input.gt[0] if smk.input.gt else None
    summary = evaluate_job(
        smk.input.tracks,
        smk.output.metrics,
        p.model,
        p.dataset,
        p.video_id,
        p.metrics,
        gt,
        p.detection,
    )
    log.info("metrics: %s", summary)
