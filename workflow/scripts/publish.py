"""Rule `publish`: the trained checkpoint with the model's current config -> best.ckpt."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import publish_job

    smk = snakemake  # noqa: F821
    log.info("published %s", publish_job(smk.input.trained, smk.params.cfg, smk.output.ckpt))
