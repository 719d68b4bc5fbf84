"""Rule `train`: shards + DREEM config -> models/{model}/best.ckpt (dreem.training).

Resume state (``checkpoints/last.ckpt``) is kept only while the run's fingerprint (params,
code, input shards) is unchanged: a rerun after a kill resumes, a rerun after an edit starts
over (dreem.training.resume).
"""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    import torch

    from dreem.config import load_dreem_config
    from dreem.training.curves import plot_training_curves
    from dreem.training.resume import prepare_resume, run_fingerprint
    from dreem.training.train import train_model

    smk = snakemake  # noqa: F821
    torch.set_num_threads(max(1, int(smk.threads)))
    out_dir = Path(smk.output.best).parent
    record = {
        "cfg": smk.params.cfg,
        "datasets": smk.params.train_datasets,
        "seed": smk.params.seed,
        "code": smk.params.code,
    }
    fingerprint = run_fingerprint(record, [*smk.input.train, *smk.input.val])
    if prepare_resume(out_dir, fingerprint):
        log.info("resuming from %s", out_dir / "checkpoints")
    else:
        log.info("starting training from scratch in %s", out_dir)

    cfg = load_dreem_config(smk.params.cfg)  # re-adds the (unused) default tracker section
    result = train_model(
        cfg,
        [Path(p) for p in smk.input.train],
        [Path(p) for p in smk.input.val],
        out_dir,
        seed=smk.params.seed,
    )
    log.info("trained: %s", result)
    plot_training_curves(smk.output.metrics, smk.output.curves, title=Path(out_dir).name)
