"""Rule `render`: draw one video's tracks into an MP4 for the report."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    import pandas as pd
    from dreem.evaluation.render import render_tracks

    smk = snakemake  # noqa: F821
    tracks = pd.read_parquet(smk.input.tracks)
    render_tracks(tracks, smk.params.video, smk.output.mp4)
    log.info("rendered %s", smk.output.mp4)
