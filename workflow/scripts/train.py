"""Rule `train`: shards + DREEM config -> models/{model}/best.ckpt (dreem.training).

Resume state (``checkpoints/last.ckpt``) is kept only while the run's fingerprint (params,
code, input shards) is unchanged: a rerun after a kill resumes, a rerun after an edit starts
over.
"""

import hashlib
import json
import shutil
from pathlib import Path

from _common import logged


def fingerprint(smk) -> str:
    shards = [
        [str(p), Path(p).stat().st_size, Path(p).stat().st_mtime_ns]
        for p in [*smk.input.train, *smk.input.val]
    ]
    record = {
        "cfg": smk.params.cfg,
        "datasets": smk.params.train_datasets,
        "seed": smk.params.seed,
        "code": smk.params.code,
        "shards": shards,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


with logged(snakemake) as log:  # noqa: F821
    import torch

    from dreem.config import load_dreem_config
    from dreem.training.curves import plot_training_curves
    from dreem.training.train import train_model
    from dreem.utils.atomic import write_text_atomic

    smk = snakemake  # noqa: F821
    torch.set_num_threads(max(1, int(smk.threads)))
    out_dir = Path(smk.output.best).parent
    ckpt_dir = out_dir / "checkpoints"
    stamp = out_dir / "resume-fingerprint.txt"
    fp = fingerprint(smk)
    if ckpt_dir.exists():
        if stamp.exists() and stamp.read_text().strip() == fp:
            log.info("resuming from %s", ckpt_dir)
        else:
            log.info("params, code or data changed: discarding resume state %s", ckpt_dir)
            shutil.rmtree(ckpt_dir)
    write_text_atomic(stamp, fp + "\n")

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
