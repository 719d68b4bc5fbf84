"""Rule `track`: one shard + a checkpoint (or the baseline) -> tracks (dreem.inference)."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.inference.track import track_shard

    smk = snakemake  # noqa: F821
    model_spec = "baseline" if smk.params.baseline else smk.input.model[0]
    out_prefix = Path(smk.output.parquet).with_suffix("")
    tracks = track_shard(
        model_spec, Path(smk.input.shard), smk.params.tracker, out_prefix, progress=False
    )
    log.info("%d instances, %d tracks -> %s", len(tracks), tracks["track_id"].nunique(), out_prefix)
