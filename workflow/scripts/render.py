"""Rule `render`: draw one video's tracks into an MP4 for the report."""

from _common import logged, pair_row

with logged(snakemake) as log:  # noqa: F821
    import pandas as pd

    from dreem.evaluation.render import render_tracks

    smk = snakemake  # noqa: F821
    row = pair_row(smk.params.spec, smk.params.dataset, smk.params.video_id)
    tracks = pd.read_parquet(smk.input.tracks)
    render_tracks(tracks, row["video_path"], smk.output.mp4, **smk.params.render)
    log.info("rendered %s", smk.output.mp4)
