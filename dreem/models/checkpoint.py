"""Load a trained model from a checkpoint without importing Lightning (fast tracking jobs)."""

from __future__ import annotations

from pathlib import Path

import torch

from dreem.config.dreem import DreemConfig
from dreem.models.gtr import GlobalTrackingTransformer
from dreem.utils.errors import ConfigError, InputDataError


def load_model_from_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[GlobalTrackingTransformer, DreemConfig]:
    """Rebuild the model (eval mode) and its full config from a training checkpoint."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot read checkpoint ({exc})") from exc
    if "hyper_parameters" not in ckpt or "state_dict" not in ckpt:
        raise InputDataError(f"{path}: not a dreem training checkpoint (no config / weights)")
    cfg = checkpoint_config(ckpt["hyper_parameters"], path)
    model = GlobalTrackingTransformer(cfg.model)
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    model.to(map_location)
    model.eval()
    return model, cfg


def checkpoint_config(hparams: dict, path: Path) -> DreemConfig:
    """The validated DREEM config stored in a checkpoint; errors name the checkpoint."""
    import warnings

    from dreem.config.load import validate_dreem

    try:
        with warnings.catch_warnings():  # warned about when the model was trained
            warnings.simplefilter("ignore")
            return validate_dreem(dict(hparams), source=f"{path} (stored config)")
    except ConfigError as exc:
        raise InputDataError(
            f"{path}: its stored config is not valid for this dreem-pipeline version:\n{exc}"
        ) from exc


def read_checkpoint_config(path: str | Path) -> DreemConfig:
    """Only the config stored in a checkpoint (weights are memory-mapped, not read)."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot read checkpoint ({exc})") from exc
    if not isinstance(ckpt, dict) or "hyper_parameters" not in ckpt:
        raise InputDataError(f"{path}: not a dreem training checkpoint (no stored config)")
    return checkpoint_config(ckpt["hyper_parameters"], path)


def republish(trained: Path, model_cfg: dict, out: Path) -> Path:
    """Copy checkpoint ``trained`` to ``out`` (atomically) with its stored config replaced by
    ``model_cfg`` (validated; the model section must be the one the weights were trained
    with)."""
    from dreem.utils.atomic import atomic_path

    cfg = checkpoint_config(model_cfg, Path(out))
    try:
        ckpt = torch.load(trained, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise InputDataError(f"{trained}: cannot read checkpoint ({exc})") from exc
    stored = checkpoint_config(ckpt["hyper_parameters"], Path(trained))
    if stored.model != cfg.model:
        raise InputDataError(
            f"{trained}: the model section differs from the one it was trained with; retrain"
        )
    ckpt["hyper_parameters"] = cfg.to_dict()
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)
    return Path(out)
