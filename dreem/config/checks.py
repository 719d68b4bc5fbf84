"""Checks on a validated :class:`DreemConfig` that involve several keys or installed names.

* :func:`cross_errors`: rules across keys (``mlp_cfg`` needed when ``n_points > 1``, ...);
* :func:`name_errors`: names that must exist in installed libraries (optimizer, scheduler,
  augmentation and timm model names), checked before any job runs;
* :func:`warn_unsupported`: accepted values dreem-pipeline cannot honour (a warning naming
  the key: existing DREEM configs must still load).
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from dreem.config.data import DatasetSection
from dreem.config.dreem import DreemConfig
from dreem.config.errors import join, suggest
from dreem.config.metrics import SWITCHES_THEN_LOSS, check_metric_names, expand_names
from dreem.utils.errors import ConfigWarning

_LOADER_FIXED = ("batch_size", "collate_fn", "sampler", "batch_sampler")


def cross_errors(cfg: DreemConfig) -> list[str]:
    """Every cross-key problem of ``cfg`` as ``path: message`` lines."""
    errors: list[str] = []
    model = cfg.model
    pos = model.embedding_meta.pos
    p = "model.embedding_meta.pos"
    if pos.mode != "off" and pos.n_points > 1 and pos.mlp_cfg is None:
        errors.append(f"{p}.mlp_cfg: required when n_points > 1 (n_points is {pos.n_points})")
    if pos.mode == "fixed" and pos.scale is not None and not pos.normalize:
        errors.append(f"{p}.scale: only used with normalize: true")
    if model.d_model % model.nhead:
        errors.append(
            f"model.nhead: d_model {model.d_model} is not divisible by nhead {model.nhead}"
        )
    meta = model.embedding_meta
    if meta.use_fourier:
        errors.append("model.embedding_meta.use_fourier: the Fourier-feature path is not supported")
    if model.encoder_cfg.encoder_type in ("descriptor", "dino"):
        errors.append(
            f"model.encoder_cfg.encoder_type: {model.encoder_cfg.encoder_type!r} encoders are not "
            "supported; use a timm/torchvision backbone (encoder_type: null or resnet)"
        )
    for split in ("train", "val", "test"):
        errors += check_metric_names(getattr(cfg.runner.metrics, split), f"runner.metrics.{split}")
    errors += _switches_then_loss_errors(cfg)
    if cfg.metrics is not None:
        errors += check_metric_names(cfg.metrics.test, "metrics.test")
    sch = cfg.scheduler
    if sch is not None and isinstance(sch.name, list):
        n = len(sch.name)
        if n < 2:
            errors.append("scheduler.name: a list needs at least 2 scheduler names")
        elif sch.milestones is None or len(sch.milestones) != n - 1:
            errors.append(
                f"scheduler.milestones: a list of {n - 1} epoch(s) is required when "
                f"scheduler.name lists {n} schedulers"
            )
    betas = cfg.optimizer.betas
    if betas is not None and len(betas) != 2:
        errors.append(f"optimizer.betas: expected 2 values, got {len(betas)}")
    for split in ("train_dataloader", "val_dataloader", "test_dataloader"):
        errors += _loader_errors(getattr(cfg.dataloader, split), f"dataloader.{split}")
    for split in ("train_dataset", "val_dataset", "test_dataset"):
        ds = getattr(cfg.dataset, split)
        if ds is not None:
            errors += dataset_errors(ds, f"dataset.{split}")
    tr = cfg.trainer
    if (
        tr.min_epochs is not None
        and tr.max_epochs not in (None, -1)
        and tr.min_epochs > tr.max_epochs
    ):
        errors.append(f"trainer.min_epochs: {tr.min_epochs} exceeds max_epochs {tr.max_epochs}")
    dt = cfg.tracker.decay_time
    if dt is not None and not 0 < dt <= 1:
        errors.append(f"tracker.decay_time: must be in (0, 1], got {dt}")
    return errors


def _loader_errors(dl: Any, path: str) -> list[str]:
    errors = []
    extra = dl.extras()
    for k in _LOADER_FIXED:
        if k in extra and not (k == "batch_size" and extra[k] == 1):
            errors.append(f"{join(path, k)}: set by dreem (one clip per batch); remove it")
    if dl.persistent_workers and not dl.num_workers:
        errors.append(f"{path}.persistent_workers: needs num_workers > 0")
    if dl.prefetch_factor is not None and not dl.num_workers:
        errors.append(f"{path}.prefetch_factor: needs num_workers > 0")
    return errors


def dataset_errors(ds: DatasetSection, path: str) -> list[str]:
    """Cross-key problems of one dataset section (a DREEM split or a pipeline dataset)."""
    errors = []
    dir_path = ds.dir.path if ds.dir is not None else None
    for key in ("crop_size", "dilation_radius_px"):
        val = getattr(ds, key)
        if isinstance(val, list) and len(val) > 1:
            if dir_path is None or len(val) != len(dir_path):
                n = 0 if dir_path is None else len(dir_path)
                errors.append(f"{path}.{key}: {len(val)} values for {n} dir.path entries")
    if ds.align_crops is not None and (ds.apply_mask_to_crop or ds.dilation_radius_px):
        errors.append(
            f"{path}.align_crops: cannot be combined with apply_mask_to_crop or "
            "dilation_radius_px (masks are cut axis-aligned)"
        )
    n_chunks = ds.n_chunks
    if isinstance(n_chunks, float) and n_chunks > 1 and not n_chunks.is_integer():
        errors.append(f"{path}.n_chunks: {n_chunks} is neither a fraction in (0, 1] nor a count")
    if ds.n_chunks == 0:
        errors.append(f"{path}.n_chunks: must be > 0 (a fraction in (0, 1] or a count)")
    return errors


def _switches_then_loss_errors(cfg: DreemConfig) -> list[str]:
    """``val_num_switches_then_loss`` is made from ``val_num_switches``: the validation
    metrics must track ``num_switches``."""
    val = expand_names(cfg.runner.metrics.val or [])
    keys = [("checkpointing.monitor", cfg.checkpointing.monitor)]
    if cfg.early_stopping is not None:
        keys.append(("early_stopping.monitor", [cfg.early_stopping.monitor]))
    return [
        f"{key}: {SWITCHES_THEN_LOSS} needs num_switches in runner.metrics.val (validation "
        f"tracking); runner.metrics.val is {sorted(val) or 'empty'}"
        for key, names in keys
        if SWITCHES_THEN_LOSS in names and "num_switches" not in val
    ]


# ----------------------------------------------------------------------------- names
def name_errors(cfg: DreemConfig) -> list[str]:
    """Names that must exist in installed libraries (imports torch, timm, albumentations)."""
    errors: list[str] = []
    optimizers = _torch_names("optim")
    if cfg.optimizer.name not in optimizers:
        errors.append(_unknown("optimizer.name", cfg.optimizer.name, optimizers))
    if cfg.scheduler is not None:
        schedulers = _torch_names("scheduler")
        names = cfg.scheduler.names
        for i, name in enumerate(names):
            key = "scheduler.name" if len(names) == 1 else f"scheduler.name[{i}]"
            if name not in schedulers:
                errors.append(_unknown(key, name, schedulers))
    for split in ("train_dataset", "val_dataset", "test_dataset"):
        ds = getattr(cfg.dataset, split)
        if ds is not None and ds.augmentations:
            errors += augmentation_errors(ds.augmentations, f"dataset.{split}.augmentations")
    from dreem.models.plain_resnet import ARCHITECTURES

    enc = cfg.model.encoder_cfg
    if enc.model_name in ARCHITECTURES and enc.backend in ("timm", "torchvision"):
        return errors  # both libraries have the standard ResNets (no import needed)
    models = _backbone_names(enc.backend)
    if enc.model_name not in models:
        errors.append(_unknown("model.encoder_cfg.model_name", enc.model_name, models))
    return errors


def _names_key(cfg: DreemConfig) -> str:
    """Hash of what :func:`name_errors` checks and the library versions it checks against."""
    from importlib.metadata import PackageNotFoundError, version

    from dreem import __version__

    versions = {}
    for pkg in ("torch", "torchvision", "timm", "albumentations"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    data = cfg.to_dict()
    checked = {
        "optimizer": cfg.optimizer.name,
        "scheduler": cfg.scheduler.names if cfg.scheduler is not None else None,
        "augmentations": {
            k: (data["dataset"].get(k) or {}).get("augmentations") for k in data["dataset"]
        },
        "encoder": [cfg.model.encoder_cfg.backend, cfg.model.encoder_cfg.model_name],
        "versions": versions,
        "dreem": __version__,
    }
    blob = json.dumps(checked, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cached_name_errors(cfg: DreemConfig, cache_dir: str | Path | None = None) -> list[str]:
    """:func:`name_errors`, remembered in ``cache_dir`` when they pass (a file named by
    :func:`_names_key`), so that parsing the same config again skips the slow imports."""
    from dreem.utils.atomic import write_text_atomic
    from dreem.utils.errors import DreemError

    stamp = Path(cache_dir) / f"{_names_key(cfg)}.ok" if cache_dir is not None else None
    if stamp is not None and stamp.is_file():
        return []
    errors = name_errors(cfg)
    if not errors and stamp is not None:
        try:
            write_text_atomic(stamp, "names checked\n")
        except (OSError, DreemError):  # a read-only output folder: just no cache
            pass
    return errors


def pipeline_name_errors(cfg, cache_dir: str | Path | None = None) -> list[str]:
    """:func:`name_errors` of every trained model of a :class:`PipelineConfig`, each line
    prefixed with ``models.{name} ({its config file})``."""
    from dreem.config.pipeline import TrainedModel

    errors = []
    for name, spec in cfg.models.items():
        if isinstance(spec, TrainedModel):
            for e in cached_name_errors(spec.dreem, cache_dir):
                errors.append(f"models.{name} ({spec.config}): {e}")
    return errors


def augmentation_errors(augs: dict, path: str) -> list[str]:
    """Unknown augmentation names and bad kwargs under ``path`` (builds them once)."""
    from dreem.data.augment import build_augmentations
    from dreem.utils.errors import ConfigError

    try:
        build_augmentations(augs, path)
    except ConfigError as err:
        return [str(err)]
    return []


def _unknown(path: str, name: Any, known: list[str]) -> str:
    hint = suggest(name, known)
    return f"{path}: unknown name {name!r}{hint} (names are case-sensitive)"


def _torch_names(kind: str) -> list[str]:
    from dreem.utils.torch_names import optimizer_classes, scheduler_classes

    return sorted(optimizer_classes() if kind == "optim" else scheduler_classes())


@functools.cache
def _backbone_names(backend: str) -> list[str]:
    if backend == "timm":
        import timm

        return list(timm.list_models())
    import torchvision

    return [m for m in torchvision.models.list_models() if m.startswith(("resnet", "wide_resnet"))]


# ----------------------------------------------------------------------------- unsupported
# Accepted keys whose non-default values dreem-pipeline cannot honour: path -> (accepted
# values, reason). ``*`` stands for every dataset split.
UNSUPPORTED: dict[str, tuple[tuple, str]] = {
    "model.return_embedding": ((False,), "tracking only needs association scores"),
    "model.embedding_meta.embedding_agg_method": (
        ("average",),
        "the reference implements only 'average' too",
    ),
    "tracker.enable_crop_saving": ((False,), "crops are not kept on tracked instances"),
    "runner.metrics.train": (([],), "no tracking metrics are computed on training batches"),
    "runner.persistent_tracking.train": ((False,), "training batches are not tracked"),
    "runner.persistent_tracking.test": (
        (True,),
        "test tracking follows tracker.persistent_tracking; set that instead",
    ),
    "runner.test_save_path": (
        ("./test_results.h5",),
        "results are written as tracks tables and metric CSVs under the output directory",
    ),
    "runner.save_frame_meta": ((False,), "no per-frame metadata file is written"),
    "save_frame_meta": ((False,), "no per-frame metadata file is written"),
    "ckpt_path": ((None,), "give the checkpoint on the command line or in the pipeline config"),
    "outdir": (("./results",), "give the output folder with --out or the pipeline's output_dir"),
    "view_batch.enable": ((False,), "there is no batch viewer"),
    "dataset.*.normalize_image": ((True,), "crops are always scaled to [0, 1]"),
    "dataset.*.detection_iou_threshold": (
        (None,),
        "documented but unimplemented in the reference too; see max_detection_overlap",
    ),
}


def warn_unsupported(cfg: DreemConfig) -> None:
    """A :class:`ConfigWarning` for each key set to a value dreem-pipeline cannot honour."""
    data = cfg.to_dict()
    for pattern, (allowed, reason) in UNSUPPORTED.items():
        for path, value in _values_at(data, pattern.split(".")):
            if not any(type(value) is type(a) and value == a for a in allowed):
                warnings.warn(
                    f"{path}: {value!r} is not supported by dreem-pipeline and has no effect "
                    f"({reason})",
                    ConfigWarning,
                    stacklevel=3,
                )


def _values_at(data: Any, parts: list[str], path: str = ""):
    if not parts:
        yield path, data
        return
    if not isinstance(data, dict):
        return
    head, rest = parts[0], parts[1:]
    keys = [k for k, v in data.items() if v is not None] if head == "*" else [head]
    for k in keys:
        if k in data:
            yield from _values_at(data[k], rest, join(path, k))
