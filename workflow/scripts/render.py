"""Rule `render`: draw one video's tracks into an MP4 (dreem.pipeline.jobs.render_job)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import render_job, video_row

    smk = snakemake  # noqa: F821
    p = smk.params
    video = video_row(p.dataset, p.spec, p.video_id)["video_path"]
    log.info("rendered %s", render_job(smk.input.tracks, video, smk.output.mp4, p.options))
