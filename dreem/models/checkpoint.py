"""Load a trained model from a checkpoint without importing Lightning (fast tracking jobs).

Every checkpoint is read with ``torch.load(weights_only=True)``: only tensors and plain
containers are unpickled, never arbitrary Python objects (a full unpickle of a file handed
over can run any code). The checkpoints dreem writes (Lightning's: weights, optimizer and
scheduler states, loop and callback states, the config as plain dicts) hold nothing else:
dicts, lists, tuples, strings, numbers, ``OrderedDict`` and tensors, all in torch's own
weights-only allow-list, so :data:`EXTRA_SAFE_GLOBALS` is empty. A file that is not one of
ours gets an error saying so and naming it.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from dreem.config.dreem import DreemConfig
from dreem.config.model import ModelConfig
from dreem.models.gtr import GlobalTrackingTransformer
from dreem.utils.errors import ConfigError, InputDataError

# Types beyond torch's weights-only defaults that dreem checkpoints may hold (none today;
# add a class here, not weights_only=False, if a new checkpoint field ever needs one).
EXTRA_SAFE_GLOBALS: tuple = ()


def load_checkpoint_file(
    path: str | Path,
    map_location: str | torch.device = "cpu",
    mmap: bool = False,
    dreem: bool = True,
) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; errors name the file and say why it is not a
    dreem checkpoint. ``dreem``: require a training checkpoint's ``state_dict`` and
    ``hyper_parameters`` (False: any weights file, e.g. for fine-tuning)."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise InputDataError(
            f"{path}: not a dreem checkpoint: not a PyTorch checkpoint archive (a truncated "
            "file, or another kind of file)"
        )
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(list(EXTRA_SAFE_GLOBALS)):
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise InputDataError(f"{path}: not a dreem checkpoint: {_load_failure(exc)}") from exc
    if not isinstance(ckpt, dict):
        raise InputDataError(
            f"{path}: not a dreem checkpoint: it holds a {type(ckpt).__name__}, not a dict"
        )
    if dreem and not {"state_dict", "hyper_parameters"} <= set(ckpt):
        keys = ", ".join(sorted(map(str, ckpt))[:8]) or "none"
        raise InputDataError(
            f"{path}: not a dreem checkpoint: a PyTorch file without a training run's "
            f"'state_dict' and 'hyper_parameters' (keys: {keys})"
        )
    return ckpt


def _load_failure(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one line."""
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (
            f"it holds Python objects ({found.group(1)}) that dreem checkpoints never "
            "contain; not loaded, since unpickling them could run arbitrary code"
        )
    if "central directory" in text or "zip archive" in text:
        return "the archive is damaged or truncated"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"cannot be read as a PyTorch checkpoint ({first[:200]})"


def load_model_from_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[GlobalTrackingTransformer, DreemConfig]:
    """Rebuild the model (eval mode) and its full config from a training checkpoint.

    The file is memory-mapped: only the model's weights are read, never the optimizer state
    a training checkpoint also holds (two thirds of a resnet18 checkpoint with Adam). A
    standard ResNet encoder is built from torch alone (:mod:`dreem.models.plain_resnet`:
    timm and torchvision are not imported), and pretrained weights are never looked for:
    the checkpoint holds the trained ones."""
    path = Path(path)
    ckpt = load_checkpoint_file(path, map_location="cpu", mmap=True)
    cfg = checkpoint_config(ckpt["hyper_parameters"], path)
    model = GlobalTrackingTransformer(_untrained(cfg.model), plain_backbone=True)
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputDataError(
            f"{path}: its weights do not fit the model its stored config describes "
            f"({_state_mismatch(exc)}); the checkpoint was edited or not written by dreem"
        ) from exc
    model.to(map_location)
    model.eval()
    return model, cfg


def check_checkpoint(path: str | Path) -> DreemConfig:
    """The errors :func:`load_model_from_checkpoint` would raise for ``path``, at a fraction
    of its cost (the file memory-mapped, no weight read: every weight's name and shape
    compared with a freshly built model's); its validated config when none."""
    path = Path(path)
    ckpt = load_checkpoint_file(path, mmap=True)
    cfg = checkpoint_config(ckpt["hyper_parameters"], path)
    # Built on the CPU, not the meta device: randomly initialising meta tensors imports
    # torch._dynamo (1 s); the CPU build of a resnet18 GTR takes 0.06 s here.
    model = GlobalTrackingTransformer(_untrained(cfg.model), plain_backbone=True)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {
        k[len("model.") :]: tuple(v.shape)
        for k, v in ckpt["state_dict"].items()
        if k.startswith("model.")
    }
    if want != have:
        missing = sorted(set(want) - set(have))[:2]
        unexpected = sorted(set(have) - set(want))[:2]
        shapes = [k for k in sorted(set(want) & set(have)) if want[k] != have[k]][:2]
        raise InputDataError(
            f"{path}: its weights do not fit the model its stored config describes "
            f"(missing {missing}, unexpected {unexpected}, other shapes {shapes}); the "
            "checkpoint was edited or not written by dreem"
        )
    return cfg


def _untrained(model_cfg: ModelConfig) -> ModelConfig:
    """``model_cfg`` with ``encoder_cfg.pretrained: false``: a model whose weights are loaded
    from a checkpoint needs no pretrained ones (nor their cache)."""
    enc = model_cfg.encoder_cfg.model_copy(update={"pretrained": False})
    return model_cfg.model_copy(update={"encoder_cfg": enc})


def _state_mismatch(exc: RuntimeError) -> str:
    """The first problems of a ``load_state_dict`` error, on one line."""
    lines = [ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()]
    text = "; ".join(lines[:2]) or str(exc)
    return text[:300] + ("..." if len(text) > 300 else "")


def checkpoint_config(hparams: dict, path: Path) -> DreemConfig:
    """The validated DREEM config stored in a checkpoint; errors name the checkpoint."""
    from dreem.config.load import validate_dreem

    if not isinstance(hparams, dict):
        raise InputDataError(f"{path}: not a dreem checkpoint: its hyper_parameters are no dict")
    try:
        with warnings.catch_warnings():  # warned about when the model was trained
            warnings.simplefilter("ignore")
            return validate_dreem(dict(hparams), source=f"{path} (stored config)")
    except ConfigError as exc:
        raise InputDataError(
            f"{path}: its stored config is not valid for this dreem-pipeline version (not a "
            f"dreem checkpoint, or one from another version):\n{exc}"
        ) from exc


def read_checkpoint_config(path: str | Path) -> DreemConfig:
    """Only the config stored in a checkpoint (weights are memory-mapped, not read)."""
    path = Path(path)
    ckpt = load_checkpoint_file(path, mmap=True)
    return checkpoint_config(ckpt["hyper_parameters"], path)


def republish(trained: Path, model_cfg: dict, out: Path) -> Path:
    """Copy checkpoint ``trained`` to ``out`` (atomically) with its stored config replaced by
    ``model_cfg`` (validated; the model section must be the one the weights were trained
    with). When the stored config already is that config, ``out`` is a hard link to
    ``trained`` (no rewrite of the whole file, no second copy on disk)."""
    from dreem.utils.atomic import atomic_path, link_atomic

    cfg = checkpoint_config(model_cfg, Path(out))
    ckpt = load_checkpoint_file(trained, mmap=True)
    stored = checkpoint_config(ckpt["hyper_parameters"], Path(trained))
    if stored.model != cfg.model:
        raise InputDataError(
            f"{trained}: the model section differs from the one it was trained with; retrain"
        )
    current = cfg.to_dict()
    if ckpt["hyper_parameters"] == current:
        return link_atomic(trained, out)
    ckpt["hyper_parameters"] = current
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)
    return Path(out)
