"""``train_model``: shards + DREEM config → checkpoints, metrics and the resolved config."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dreem.config.dreem import DreemConfig
from dreem.config.training import TrainerConfig
from dreem.utils.atomic import link_atomic
from dreem.utils.errors import ConfigError, InputDataError

log = logging.getLogger(__name__)


def import_training_libraries() -> None:
    """Import what :func:`train_model` imports lazily (torch, Lightning, the model, data
    and callback modules), with the garbage collector paused (:func:`dreem.utils.
    process.paused_collection`): seconds of one core's work, done early by ``dreem train``
    while another process prepares the data (:mod:`dreem.pipeline.prepare_worker`)."""
    from dreem.utils.process import paused_collection

    with paused_collection():
        import lightning.pytorch  # noqa: F401

        import dreem.data.dataset  # noqa: F401
        import dreem.training.checkpoint_io  # noqa: F401
        import dreem.training.csv_log  # noqa: F401
        import dreem.training.factories  # noqa: F401
        import dreem.training.module  # noqa: F401


def _cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


class _Throughput:
    """Counts training instances/clips and the time spent in training epochs."""

    def __init__(self):
        import lightning as L

        class _CB(L.Callback):
            def __init__(cb):
                cb.instances = cb.clips = 0
                cb.seconds = 0.0
                cb._t0 = None

            def on_train_epoch_start(cb, trainer, pl_module):
                cb._t0 = time.perf_counter()

            def on_train_batch_end(cb, trainer, pl_module, outputs, batch, batch_idx):
                if batch is not None:
                    cb.instances += len(batch.gt_ids)
                    cb.clips += 1

            def on_train_epoch_end(cb, trainer, pl_module):
                if cb._t0 is not None:
                    cb.seconds += time.perf_counter() - cb._t0
                    cb._t0 = None

            def on_validation_start(cb, trainer, pl_module):
                # validation runs inside the train epoch: pause the clock
                if cb._t0 is not None:
                    cb.seconds += time.perf_counter() - cb._t0
                    cb._t0 = None

            def on_validation_end(cb, trainer, pl_module):
                if not trainer.sanity_checking and trainer.training:
                    cb._t0 = time.perf_counter()

        self.callback = _CB()


def train_model(
    cfg: DreemConfig,
    train_shards: list[Path],
    val_shards: list[Path],
    out_dir: Path,
    seed: int | None = None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train a GTR from crop shards; write ``out_dir/{best,last}.ckpt``, ``metrics.csv``,
    ``config.yaml`` and return a summary (paths, epochs, seconds, throughput).
    ``callbacks``: extra Lightning callbacks (e.g. the pipeline's MLflow record).

    Re-running with the same ``out_dir`` resumes from ``checkpoints/last.ckpt``.
    ``model.ckpt_path`` starts from those weights (fine-tuning) when not resuming.
    ``seed`` (the pipeline's) wins over ``cfg.seed``.
    """
    import_training_libraries()  # already done by `dreem train`; a Snakemake job's now
    import lightning as L
    import torch

    from dreem.training.ddp import cpu_threads_per_process
    from dreem.utils.process import reuse_freed_memory
    from dreem.utils.seed import seed_everything

    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not train_shards:
        raise InputDataError("train_model: no training shards given")
    for p in [*train_shards, *val_shards]:
        if not Path(p).is_file():
            raise InputDataError(f"{p}: crop shard not found")
    seed = int(seed if seed is not None else cfg.seed or 0)
    cfg = cfg.model_copy(update={"seed": seed}, deep=True)
    seed_everything(seed)
    L.seed_everything(seed, workers=True, verbose=False)
    if not torch.cuda.is_available():
        accelerator = "cpu" if cfg.trainer.accelerator == "auto" else cfg.trainer.accelerator
        torch.set_num_threads(
            cpu_threads_per_process(_cpu_threads(), accelerator, cfg.trainer.devices)
        )
        reuse_freed_memory()  # steps reuse their activations' pages (8-10% faster here)
    with _gpu_matmul_precision():
        return _fit(cfg, train_shards, val_shards, out_dir, seed, callbacks, t_start)


@contextmanager
def _gpu_matmul_precision() -> Iterator[None]:
    """TF32 matmuls on a CUDA GPU, for this training only. CPUs keep full float32: on a
    CPU with bf16 units a lower precision makes oneDNN compute matmuls in bf16, so the same
    config would train differently on different machines."""
    import torch

    before = torch.get_float32_matmul_precision()
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def _fit(
    cfg: DreemConfig,
    train_shards: list[Path],
    val_shards: list[Path],
    out_dir: Path,
    seed: int,
    callbacks: Sequence[Any],
    t_start: float,
) -> dict[str, Any]:
    """The body of :func:`train_model` once the process is set up."""
    import lightning as L

    from dreem.config.load import save_config
    from dreem.data.dataset import ClipDataset
    from dreem.training.checkpoint_io import AtomicTorchCheckpointIO
    from dreem.training.csv_log import KillSafeCSVLogger, merge_metrics_logs
    from dreem.training.ddp import cluster_plugins
    from dreem.training.factories import build_callbacks, build_dataloader, build_logger
    from dreem.training.module import GTRLightning

    ds, dl = cfg.dataset, cfg.dataloader
    train_ds = ClipDataset(train_shards, ds.train_dataset, seed)
    train_dl = build_dataloader(train_ds, dl.train_dataloader, "train_dataloader")
    val_dl = None
    if val_shards:
        val_section = ds.val_dataset or ds.train_dataset.model_copy(
            update={"mode": "val", "augmentations": None}
        )
        val_ds = ClipDataset(val_shards, val_section, seed)
        val_dl = build_dataloader(val_ds, dl.val_dataloader, "val_dataloader")
    has_val = val_dl is not None and len(val_dl) > 0

    save_config(cfg, out_dir / "config.yaml")

    module = GTRLightning(cfg)
    if not has_val:
        module.loss_monitor = "train_loss"
        module.val_metrics = []
    ckpt_dir = Path(cfg.checkpointing.dirpath or out_dir / "checkpoints")
    resume = ckpt_dir / "last.ckpt"
    resume_path = str(resume) if resume.is_file() else None
    if cfg.model.ckpt_path and resume_path is None:
        _load_weights(module, Path(cfg.model.ckpt_path))

    logger = build_logger(cfg.logging, out_dir, cfg.to_dict())
    csv_logger = KillSafeCSVLogger(save_dir=str(out_dir / "logs"), name="csv")
    loggers = [csv_logger] + ([logger] if logger is not None else [])
    meter = _Throughput().callback
    callbacks = [*build_callbacks(cfg, ckpt_dir, logger is not None, has_val), meter, *callbacks]

    tr_cfg = trainer_kwargs(cfg.trainer)
    if not has_val:
        tr_cfg["limit_val_batches"] = 0
    tr_cfg["plugins"] = [
        *cluster_plugins(cfg.trainer.devices, cfg.trainer.num_nodes),
        AtomicTorchCheckpointIO(),
    ]
    try:
        trainer = L.Trainer(
            logger=loggers, callbacks=callbacks, default_root_dir=str(out_dir), **tr_cfg
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"trainer: {exc}") from exc

    trainer.fit(
        module,
        train_dataloaders=train_dl,
        val_dataloaders=val_dl if has_val else None,
        ckpt_path=resume_path,
        weights_only=True,  # our own resume state: tensors and plain containers only
    )

    ckpt_cb = next(c for c in callbacks if isinstance(c, L.pytorch.callbacks.ModelCheckpoint))
    summary = {
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "world_size": int(trainer.world_size),
        "rank": int(trainer.global_rank),
        "train_seconds": meter.seconds,
        "instances_per_s": meter.instances / max(meter.seconds, 1e-9),
        "clips_per_s": meter.clips / max(meter.seconds, 1e-9),
    }
    last_src = ckpt_dir / "last.ckpt"
    if not last_src.is_file():  # e.g. no epoch ran; every process (DDP: a collective call)
        trainer.save_checkpoint(last_src)
    if trainer.global_rank != 0:  # DDP: only the main process writes the outputs
        return {
            **summary,
            "best_ckpt": None,
            "last_ckpt": None,
            "best_score": None,
            "seconds": time.perf_counter() - t_start,
        }
    best_src = ckpt_cb.best_model_path or str(last_src)
    best = link_atomic(best_src, out_dir / "best.ckpt")
    last = link_atomic(last_src, out_dir / "last.ckpt")
    merge_metrics_logs(Path(csv_logger.root_dir), out_dir / "metrics.csv")

    return {
        **summary,
        "best_ckpt": best,
        "last_ckpt": last,
        "seconds": time.perf_counter() - t_start,
        "best_score": float(ckpt_cb.best_model_score)
        if ckpt_cb.best_model_score is not None
        else None,
    }


def trainer_kwargs(trainer: TrainerConfig) -> dict[str, Any]:
    """``lightning.Trainer`` kwargs from the trainer section: every key that is set
    (``null`` = Lightning's own default); the output folder is the model's."""
    out = {k: v for k, v in trainer.to_dict().items() if v is not None}
    out.pop("default_root_dir", None)
    return out


def _load_weights(module, path: Path) -> None:
    """Fine-tuning: copy model weights from a checkpoint (shapes must match)."""
    from dreem.models.checkpoint import load_checkpoint_file

    if not path.is_file():
        raise ConfigError(f"model.ckpt_path: {path} does not exist")
    try:
        ckpt = load_checkpoint_file(path, dreem=False)
    except InputDataError as exc:
        raise ConfigError(f"model.ckpt_path: {exc}") from exc
    state = ckpt.get("state_dict", ckpt)
    state = {k[len("model.") :] if k.startswith("model.") else k: v for k, v in state.items()}
    try:
        module.model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConfigError(f"model.ckpt_path: {path} does not fit this model: {exc}") from exc
    log.info("fine-tuning from %s", path)
