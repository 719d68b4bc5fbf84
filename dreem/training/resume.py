"""Resume state guarded by a fingerprint: resume after a kill, start over after an edit.

A training run keeps ``checkpoints/last.ckpt`` in its output folder so a killed run can
continue. That state is only valid for the same inputs: :func:`prepare_resume` compares a
fingerprint of everything that defines the run (config, datasets, seed, code version, input
files' sizes and mtimes) with the one stored beside the checkpoints, and discards the
checkpoints when they differ. A ``last.ckpt`` that cannot be read (a kill or a full disk
while Lightning wrote it) is replaced by the newest readable checkpoint of the same run, or
the run starts over; either way with a warning naming the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dreem.utils.atomic import remove_stale_temporaries_in, write_text_atomic

STAMP = "resume-fingerprint.txt"
log = logging.getLogger(__name__)


def run_fingerprint(record: Mapping[str, Any], inputs: Sequence[str | Path] = ()) -> str:
    """SHA-256 of ``record`` plus each input file's path, size and mtime."""
    files = [[str(p), Path(p).stat().st_size, Path(p).stat().st_mtime_ns] for p in inputs]
    blob = json.dumps({"record": record, "inputs": files}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def prepare_resume(out_dir: str | Path, fingerprint: str) -> bool:
    """Keep ``out_dir/checkpoints`` only if it was written by a run with ``fingerprint``.

    Returns True when the run will resume. Stores ``fingerprint`` for the next call.
    """
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    stamp = out_dir / STAMP
    resume = (
        ckpt_dir.is_dir()
        and stamp.is_file()
        and stamp.read_text().strip() == fingerprint
        and (ckpt_dir / "last.ckpt").is_file()
    )
    if resume:
        remove_stale_temporaries_in(ckpt_dir)  # checkpoints a killed run was writing
        resume = _usable_last(ckpt_dir)
    if not resume:  # starting over: no state or logs of another run may leak in
        for stale in (ckpt_dir, out_dir / "logs"):
            if stale.exists():
                shutil.rmtree(stale)
    write_text_atomic(stamp, fingerprint + "\n")
    return resume


def _readable(path: Path) -> tuple[int, int] | None:
    """``(epoch, global_step)`` of a readable training checkpoint, else None."""
    from dreem.models.checkpoint import load_checkpoint_file
    from dreem.utils.errors import InputDataError

    try:
        ckpt = load_checkpoint_file(path, mmap=True)
    except InputDataError:
        return None
    return int(ckpt.get("epoch", -1)), int(ckpt.get("global_step", -1))


def _usable_last(ckpt_dir: Path) -> bool:
    """True if ``ckpt_dir/last.ckpt`` can be resumed from, after replacing an unreadable one
    by the newest readable checkpoint beside it; False (start over) if there is none."""
    from dreem.utils.atomic import atomic_path

    last = ckpt_dir / "last.ckpt"
    if _readable(last) is not None:
        return True
    others = {p: _readable(p) for p in sorted(ckpt_dir.glob("*.ckpt")) if p != last}
    usable = {p: k for p, k in others.items() if k is not None}
    if not usable:
        log.warning("%s cannot be read (truncated?); training starts over", last)
        return False
    best = max(usable, key=lambda p: usable[p])
    log.warning(
        "%s cannot be read (truncated?); resuming from %s (epoch %d) instead",
        last,
        best.name,
        usable[best][0],
    )
    with atomic_path(last) as tmp:
        shutil.copyfile(best, tmp)
    return True


FINISHED = "FINISHED"


def train_resumable(
    cfg,
    train_shards: Sequence[Path],
    val_shards: Sequence[Path],
    out_dir: str | Path,
    seed: int | None,
    record: Mapping[str, Any],
    callbacks: Sequence[Any] = (),
) -> dict:
    """``train_model`` that resumes only an *interrupted* run of the same ``record``
    (params, code) and inputs: after an edit, or after a run that finished (a forced rerun),
    it trains afresh. Used by the pipeline's train job and by ``dreem train``."""
    import logging

    from dreem.training.ddp import is_main_process
    from dreem.training.train import train_model

    log = logging.getLogger(__name__)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    if not is_main_process():  # DDP: the main process owns the run's state and markers
        return train_model(cfg, list(train_shards), list(val_shards), out_dir, seed=seed)
    if (ckpt_dir / FINISHED).is_file():
        shutil.rmtree(ckpt_dir)  # a finished run is never "resumed" (forced rerun)
    fingerprint = run_fingerprint(record, [*train_shards, *val_shards])
    if prepare_resume(out_dir, fingerprint):
        log.info("resuming an interrupted run from %s", ckpt_dir / "last.ckpt")
    else:
        log.info("training from scratch in %s", out_dir)
    result = train_model(
        cfg, list(train_shards), list(val_shards), out_dir, seed=seed, callbacks=callbacks
    )
    write_text_atomic(ckpt_dir / FINISHED, fingerprint + "\n")
    return result
