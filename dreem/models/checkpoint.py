"""Load a trained model from a checkpoint without importing Lightning (fast tracking jobs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dreem.models.gtr import GlobalTrackingTransformer
from dreem.utils.errors import InputDataError


def load_model_from_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[GlobalTrackingTransformer, dict[str, Any]]:
    """Rebuild the model (eval mode) and its full config from a training checkpoint."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot read checkpoint ({exc})") from exc
    if "hyper_parameters" not in ckpt or "state_dict" not in ckpt:
        raise InputDataError(f"{path}: not a dreem training checkpoint (no config / weights)")
    cfg = dict(ckpt["hyper_parameters"])
    model = GlobalTrackingTransformer(cfg.get("model") or {})
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    model.to(map_location)
    model.eval()
    return model, cfg
