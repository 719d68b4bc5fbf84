"""dreem.training: loss, Lightning module, factories and ``train_model`` (imported lazily)."""

from __future__ import annotations

from typing import Any

__all__ = ["train_model", "load_model_from_checkpoint"]


def __getattr__(name: str) -> Any:
    if name == "train_model":
        from dreem.training.train import train_model

        return train_model
    if name == "load_model_from_checkpoint":
        from dreem.training.module import load_model_from_checkpoint

        return load_model_from_checkpoint
    raise AttributeError(f"module 'dreem.training' has no attribute {name!r}")
