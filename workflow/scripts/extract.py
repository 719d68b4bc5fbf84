"""Rule `extract`: one video -> crop shard (adapter for dreem.data.extract.extract_video)."""

from pathlib import Path

from _common import logged, pair_row

with logged(snakemake) as log:  # noqa: F821
    from dreem.data.extract import extract_video

    smk = snakemake  # noqa: F821
    row = pair_row(smk.params.spec, smk.params.dataset, smk.params.video_id)
    stats = extract_video(row, dict(smk.params.crop), Path(smk.output.shard), progress=False)
    log.info("extracted %s: %s", smk.params.video_id, stats)
