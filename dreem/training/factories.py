"""Build optimizers, schedulers, loggers, callbacks and dataloaders from a DREEM config."""

from __future__ import annotations

import difflib
import inspect
from pathlib import Path
from typing import Any

from dreem.config.data import DataloaderSection
from dreem.config.dreem import DreemConfig
from dreem.config.training import LoggingConfig, OptimizerConfig, SchedulerConfig
from dreem.utils.errors import ConfigError
from dreem.utils.torch_names import optimizer_classes, scheduler_classes


def _unknown(key: str, name: Any, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.4)
    lower = [k for k in known if k.lower() == str(name).lower()]
    hint = lower or close
    return ConfigError(
        f"{key}: unknown name {name!r}"
        + (f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else "")
        + f" (names are case-sensitive; known: {', '.join(sorted(known))})"
    )


def _kwargs(section: Any) -> dict[str, Any]:
    """Constructor kwargs of an open section (betas as a tuple for torch)."""
    out = section.kwargs()
    if isinstance(out.get("betas"), list):
        out["betas"] = tuple(out["betas"])
    return out


def build_optimizer(params, cfg: OptimizerConfig):
    """Any ``torch.optim`` class by exact name; the section's other keys are its kwargs."""

    classes = optimizer_classes()
    if cfg.name not in classes:
        raise _unknown("optimizer.name", cfg.name, list(classes))
    kwargs = _kwargs(cfg)
    params = list(params)
    cls = classes[cfg.name]
    # The fused kernels are several times faster on CPU too (resnet18 Adam step: 1.16 s →
    # 0.18 s on this machine); use them unless the config chooses an implementation.
    if (
        "fused" in inspect.signature(cls).parameters
        and "fused" not in kwargs
        and not kwargs.get("foreach")
    ):
        try:
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):
            pass
    try:
        return cls(params, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"optimizer: bad arguments for {cfg.name}: {exc}") from exc


def _one_scheduler(optimizer, name: str, kwargs: dict[str, Any], key: str):
    classes = scheduler_classes()
    if name not in classes:
        raise _unknown(key, name, list(classes))
    try:
        return classes[name](optimizer, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"{key}: bad arguments for {name}: {exc}") from exc


def build_scheduler(optimizer, cfg: SchedulerConfig | None) -> dict[str, Any] | None:
    """Lightning ``lr_scheduler`` dict (monitor ``val_loss``, stepped per epoch); ``None``
    (``scheduler: null``) means a constant learning rate.

    ``name`` may be a list: ``SequentialLR`` over them with per-scheduler kwargs under
    ``"0"``, ``"1"``, ... and ``milestones``.
    """
    import torch

    if cfg is None:
        return None
    if isinstance(cfg.name, list):
        extra = cfg.extras()
        subs = []
        for i, n in enumerate(cfg.name):
            sub_kwargs = dict(extra.get(str(i)) or {})
            subs.append(_one_scheduler(optimizer, n, sub_kwargs, f"scheduler.name[{i}]"))
        sched = torch.optim.lr_scheduler.SequentialLR(
            optimizer, subs, milestones=list(cfg.milestones or [])
        )
    else:
        sched = _one_scheduler(optimizer, cfg.name, cfg.kwargs(), "scheduler.name")
    return {"scheduler": sched, "monitor": "val_loss", "interval": "epoch", "frequency": 1}


def build_logger(cfg: LoggingConfig, out_dir: Path, full_cfg: dict | None = None):
    """The configured Lightning logger (None when ``logging.logger_type`` is null).

    Relative ``save_dir`` paths are resolved under ``out_dir``; MLflow defaults to a SQLite
    store in ``out_dir``; W&B runs offline unless told otherwise.
    """
    ltype = cfg.logger_type
    if ltype is None:
        return None
    from lightning.pytorch import loggers

    kwargs = cfg.kwargs()
    name = kwargs.pop("name")
    save_dir = Path(kwargs.pop("save_dir"))
    save_dir = save_dir if save_dir.is_absolute() else Path(out_dir) / save_dir
    if ltype == "MLFlowLogger":
        kwargs.setdefault("tracking_uri", f"sqlite:///{Path(out_dir).resolve() / 'mlflow.db'}")
        kwargs.setdefault("experiment_name", name)
    elif ltype == "WandbLogger":
        kwargs.update(save_dir=str(save_dir), name=name)
        kwargs.setdefault("offline", True)
        if full_cfg is not None:
            kwargs.setdefault("config", full_cfg)
    else:
        kwargs.update(save_dir=str(save_dir), name=name)
    try:
        return getattr(loggers, ltype)(**kwargs)
    except (TypeError, ModuleNotFoundError, ImportError) as exc:
        raise ConfigError(f"logging: cannot create {ltype}: {exc}") from exc


def metric_mode(name: str) -> str:
    """``max`` for metrics where higher is better, else ``min``."""
    higher = ("mota", "idf1", "idp", "idr", "precision", "recall", "mostly_tracked", "accuracy")
    return "max" if any(s in name for s in higher) else "min"


def build_callbacks(cfg: DreemConfig, ckpt_dir: Path, has_logger: bool, has_val: bool):
    """ModelCheckpoint per monitored metric, last.ckpt every epoch, EarlyStopping,
    LearningRateMonitor (with a logger)."""
    from lightning.pytorch import callbacks as cb

    from dreem.training.selection import SWITCHES_THEN_LOSS, switches_then_loss_callback

    out: list = []
    ck = cfg.checkpointing
    monitors = ck.monitor if has_val else ["train_loss"]
    es_monitor = cfg.early_stopping.monitor if cfg.early_stopping is not None else None
    if has_val and SWITCHES_THEN_LOSS in (*monitors, es_monitor):
        out.append(switches_then_loss_callback())  # before EarlyStopping reads it
    for m in monitors:
        try:
            out.append(
                cb.ModelCheckpoint(
                    dirpath=ckpt_dir,
                    monitor=m,
                    mode=metric_mode(m),
                    filename=ck.filename or f"{{epoch}}-{{{m}:.4f}}",
                    save_last=False,
                    verbose=ck.verbose,
                    auto_insert_metric_name=ck.auto_insert_metric_name,
                    every_n_epochs=ck.every_n_epochs,
                    save_top_k=ck.save_top_k,
                )
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"checkpointing: {exc}") from exc
    # Every epoch, whatever every_n_epochs says: a killed run resumes from here. Not
    # `save_last=True`: since Lightning 2.6 that writes last.ckpt only in steps where the same
    # callback saved a top-k checkpoint (with save_top_k=0: only at the end of training).
    last = cb.ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="last",
        monitor=None,
        save_top_k=1,
        every_n_epochs=1,
        enable_version_counter=False,
    )
    # Its state, in every checkpoint of the run, names its file from the start instead of
    # from its first save: the first epoch's top-k checkpoint and last.ckpt then hold the
    # same state and last.ckpt is a link to it (checkpoint_io), not a second write.
    last.best_model_path = last.format_checkpoint_name({})
    out.append(last)
    es = cfg.early_stopping
    if es is not None:
        kwargs = es.to_dict()
        if not has_val and kwargs["monitor"].startswith("val_"):
            kwargs["monitor"] = "train_loss"
        try:
            out.append(cb.EarlyStopping(**kwargs))
        except TypeError as exc:
            raise ConfigError(f"early_stopping: {exc}") from exc
    if has_logger:
        out.append(cb.LearningRateMonitor(logging_interval="epoch"))
    out.append(epoch_seed_callback(int(cfg.seed or 0)))
    return out


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one training epoch: a function of the run's seed and the epoch only."""
    import zlib

    return zlib.crc32(f"{seed}:{epoch}".encode())


def epoch_seed_callback(seed: int):
    """A callback that reseeds Python, NumPy and torch at the start of every training epoch
    (:func:`epoch_seed`): the epoch's shuffling and dropout then do not depend on what ran
    before in the process, so a run resumed from ``last.ckpt`` after a kill trains exactly
    as an uninterrupted one."""
    from lightning.pytorch.callbacks import Callback

    from dreem.utils.seed import seed_everything

    class EpochSeed(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            seed_everything(epoch_seed(seed, trainer.current_epoch))

    return EpochSeed()


def build_dataloader(dataset, cfg: DataloaderSection, key: str):
    """DataLoader with batch size 1 and ``collate_single``; the section's kwargs.

    ``shuffle: true`` draws each epoch's order from the dataset's seed and the epoch alone
    (:class:`EpochShuffle`), and the loader has its own generator, so iterating it never
    consumes the global RNG: a resumed run shuffles (and drops out) as an uninterrupted one.
    """
    import torch
    from torch.utils.data import DataLoader

    from dreem.data.dataset import collate_single

    kwargs = cfg.kwargs()
    pin = kwargs.pop("pin_memory")
    pin = (kwargs["num_workers"] > 0) if pin is None else pin
    kwargs["pin_memory"] = bool(pin) and torch.cuda.is_available()
    seed = int(getattr(dataset, "seed", 0))
    if kwargs.get("shuffle") and kwargs.get("sampler") is None:
        kwargs["shuffle"] = False
        kwargs["sampler"] = EpochShuffle(len(dataset), seed)
    kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
    try:
        return DataLoader(dataset, batch_size=1, collate_fn=collate_single, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"dataloader.{key}: {exc}") from exc


class EpochShuffle:
    """A random order of ``n`` items that depends only on ``seed`` and the epoch (Lightning
    calls :meth:`set_epoch` before each epoch)."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        import numpy as np

        rng = np.random.default_rng([self.seed % 2**63, self.epoch, 0x5EED])
        return iter(rng.permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n
