"""``train_model``: shards + DREEM config → checkpoints, metrics and the resolved config."""

from __future__ import annotations

import copy
import inspect
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from dreem.utils.atomic import atomic_path, write_text_atomic
from dreem.utils.errors import ConfigError, InputDataError

log = logging.getLogger(__name__)

_TRAINER_DEFAULTS = {"num_sanity_val_steps": 0, "log_every_n_steps": 1}


def _cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _dataset(shards: list[Path], section: dict[str, Any] | None, mode: str, seed: int):
    from dreem.data.dataset import ClipDataset

    params = inspect.signature(ClipDataset).parameters
    kwargs = {k: v for k, v in (section or {}).items() if k in params and v is not None}
    kwargs.pop("shard_paths", None)
    kwargs["mode"] = mode
    kwargs.setdefault("seed", seed)
    if mode != "train":
        kwargs["augmentations"] = None
    return ClipDataset([Path(p) for p in shards], **kwargs)


def _copy_atomic(src: str | Path, dst: Path) -> Path:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def _merge_csv_logs(log_root: Path, out: Path) -> None:
    """One row per epoch from every CSVLogger version (later runs win on overlap)."""
    import pandas as pd

    frames = []
    for i, f in enumerate(sorted(log_root.glob("version_*/metrics.csv"), key=_version_key)):
        df = pd.read_csv(f)
        if len(df) and "epoch" in df:
            df["_run"] = i
            frames.append(df)
    if not frames:
        return
    df = pd.concat(frames, ignore_index=True).dropna(subset=["epoch"])
    df["epoch"] = df["epoch"].astype(int)
    df = df.sort_values(["epoch", "_run"], kind="stable")
    cols = [c for c in df.columns if c not in ("step", "_run", "epoch")]
    per_epoch = df.groupby("epoch")[cols].last().reset_index()
    front = [c for c in ("epoch", "train_loss", "val_loss") if c in per_epoch]
    per_epoch = per_epoch[front + sorted(c for c in per_epoch if c not in front)]
    with atomic_path(out) as tmp:
        per_epoch.to_csv(tmp, index=False)


def _version_key(p: Path) -> int:
    try:
        return int(p.parent.name.split("_")[-1])
    except ValueError:
        return 0


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
    cfg: dict[str, Any],
    train_shards: list[Path],
    val_shards: list[Path],
    out_dir: Path,
    seed: int | None = None,
) -> dict[str, Any]:
    """Train a GTR from crop shards; write ``out_dir/{best,last}.ckpt``, ``metrics.csv``,
    ``config.yaml`` and return a summary (paths, epochs, seconds, throughput).

    Re-running with the same ``out_dir`` resumes from ``checkpoints/last.ckpt``.
    ``model.ckpt_path`` starts from those weights (fine-tuning) when not resuming.
    """
    import lightning as L
    import torch
    import yaml
    from lightning.pytorch.loggers import CSVLogger

    from dreem.training.factories import (
        build_callbacks,
        build_dataloader,
        build_logger,
    )
    from dreem.training.module import GTRLightning
    from dreem.utils.seed import seed_everything

    t_start = time.perf_counter()
    cfg = copy.deepcopy(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not train_shards:
        raise InputDataError("train_model: no training shards given")
    for p in [*train_shards, *val_shards]:
        if not Path(p).is_file():
            raise InputDataError(f"{p}: crop shard not found")
    seed = int(seed if seed is not None else cfg.get("seed", 0) or 0)
    cfg["seed"] = seed
    seed_everything(seed)
    L.seed_everything(seed, workers=True, verbose=False)
    if not torch.cuda.is_available():
        torch.set_num_threads(_cpu_threads())
    torch.set_float32_matmul_precision("medium")

    ds_cfg = cfg.get("dataset") or {}
    dl_cfg = cfg.get("dataloader") or {}
    train_ds = _dataset(train_shards, ds_cfg.get("train_dataset"), "train", seed)
    train_dl = build_dataloader(train_ds, dl_cfg.get("train_dataloader"), train=True)
    val_dl = None
    if val_shards:
        val_section = ds_cfg.get("val_dataset") or ds_cfg.get("train_dataset")
        val_ds = _dataset(val_shards, val_section, "val", seed)
        val_dl = build_dataloader(val_ds, dl_cfg.get("val_dataloader"), train=False)
    has_val = val_dl is not None and len(val_dl) > 0

    write_text_atomic(out_dir / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))

    module = GTRLightning(cfg)
    if not has_val:
        module.loss_monitor = "train_loss"
        module.val_metrics = []
    ckpt_dir = Path(_dirpath(cfg) or out_dir / "checkpoints")
    resume = ckpt_dir / "last.ckpt"
    resume_path = str(resume) if resume.is_file() else None
    ft = (cfg.get("model") or {}).get("ckpt_path")
    if ft and resume_path is None:
        _load_weights(module, Path(ft))

    logger = build_logger(cfg.get("logging"), out_dir, cfg)
    csv_logger = CSVLogger(save_dir=str(out_dir / "logs"), name="csv")
    loggers = [csv_logger] + ([logger] if logger is not None else [])
    cb_cfg = {**cfg, "checkpointing": {**(cfg.get("checkpointing") or {}), "dirpath": ckpt_dir}}
    callbacks = build_callbacks(cb_cfg, out_dir, logger is not None, has_val)
    meter = _Throughput().callback
    callbacks.append(meter)

    tr_cfg = {**_TRAINER_DEFAULTS, **{k: v for k, v in (cfg.get("trainer") or {}).items()}}
    tr_cfg = {k: v for k, v in tr_cfg.items() if v is not None}
    for k in ("logger", "callbacks", "default_root_dir"):
        tr_cfg.pop(k, None)
    tr_cfg.setdefault("accelerator", "auto")
    tr_cfg.setdefault("devices", 1)
    tr_cfg.setdefault("enable_progress_bar", True)
    if not has_val:
        tr_cfg["limit_val_batches"] = 0
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
    )

    ckpt_cb = next(c for c in callbacks if isinstance(c, L.pytorch.callbacks.ModelCheckpoint))
    last_src = ckpt_dir / "last.ckpt"
    if not last_src.is_file():  # e.g. every_n_epochs larger than the run
        trainer.save_checkpoint(last_src)
    best_src = ckpt_cb.best_model_path or str(last_src)
    best = _copy_atomic(best_src, out_dir / "best.ckpt")
    last = _copy_atomic(last_src, out_dir / "last.ckpt")
    _merge_csv_logs(Path(csv_logger.root_dir), out_dir / "metrics.csv")

    seconds = time.perf_counter() - t_start
    train_s = max(meter.seconds, 1e-9)
    return {
        "best_ckpt": best,
        "last_ckpt": last,
        "epochs": int(trainer.current_epoch),
        "seconds": seconds,
        "train_seconds": meter.seconds,
        "instances_per_s": meter.instances / train_s,
        "clips_per_s": meter.clips / train_s,
        "best_score": float(ckpt_cb.best_model_score)
        if ckpt_cb.best_model_score is not None
        else None,
    }


def _dirpath(cfg: dict[str, Any]) -> str | None:
    return (cfg.get("checkpointing") or {}).get("dirpath")


def _load_weights(module, path: Path) -> None:
    """Fine-tuning: copy model weights from a checkpoint (shapes must match)."""
    import torch

    if not path.is_file():
        raise ConfigError(f"model.ckpt_path: {path} does not exist")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    state = ckpt.get("state_dict", ckpt)
    state = {k[len("model.") :] if k.startswith("model.") else k: v for k, v in state.items()}
    try:
        module.model.load_state_dict(state)
    except RuntimeError as exc:
        raise ConfigError(f"model.ckpt_path: {path} does not fit this model: {exc}") from exc
    log.info("fine-tuning from %s", path)
