"""Rule `extract`: one video -> crop shard (dreem.pipeline.jobs.extract_job)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import extract_job

    p = snakemake.params  # noqa: F821
    stats = extract_job(p.dataset, p.spec, p.video_id, p.crop, snakemake.output.shard)  # noqa: F821
    log.info("extracted %s: %s", p.video_id, stats)
