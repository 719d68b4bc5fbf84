"""Rule `extract`: one manifest row -> crop shard (adapter for dreem.data.extract)."""

from pathlib import Path

from _common import logged, manifest_row

with logged(snakemake) as log:  # noqa: F821
    from dreem.data.extract import extract_video

    smk = snakemake  # noqa: F821
    row = manifest_row(smk.input.manifest, smk.params.video_id)
    stats = extract_video(row, dict(smk.params.crop), Path(smk.output.shard), progress=False)
    log.info("extracted %s: %s", smk.params.video_id, stats)
