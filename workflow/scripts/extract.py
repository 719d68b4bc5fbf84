"""Rule `extract`: one manifest row -> crop shard (adapter for dreem.data.extract)."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    import pandas as pd
    from dreem.data.extract import extract_video

    smk = snakemake  # noqa: F821
    manifest = pd.read_parquet(smk.input.manifest)
    rows = manifest[manifest["video_id"] == smk.params.video_id].to_dict("records")
    if len(rows) != 1:
        raise RuntimeError(
            f"{smk.input.manifest}: expected one row for video {smk.params.video_id!r}, "
            f"found {len(rows)}"
        )
    stats = extract_video(rows[0], dict(smk.params.crop), Path(smk.output.shard), progress=False)
    log.info("extracted %s: %s", smk.params.video_id, stats)
