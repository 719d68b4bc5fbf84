"""Rule `discover`: one dataset -> manifest.parquet (dreem.pipeline.jobs.discover_job)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import discover_job

    p = snakemake.params  # noqa: F821
    out = snakemake.output.manifest  # noqa: F821
    df = discover_job(p.name, p.spec, p.expected, out, require_tracks=p.require_tracks)
    log.info("%d videos", len(df))
