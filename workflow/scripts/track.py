"""Rule `track`: one shard + a checkpoint (or a baseline) -> tracks (jobs.track_job)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import track_job

    smk = snakemake  # noqa: F821
    p = smk.params
    tracks = track_job(p.model, smk.input.shard, p.tracker, smk.output.parquet, device=p.device)
    log.info("%d instances, %d tracks", len(tracks), tracks["track_id"].nunique())
