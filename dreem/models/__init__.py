"""dreem.models: the Global Tracking Transformer and its parts (import submodules; torch is
heavy)."""

from __future__ import annotations

from types import ModuleType


def checkpoint_code() -> ModuleType:
    """:mod:`dreem.models.checkpoint` (torch and the model code), imported with the garbage
    collector paused (:func:`dreem.utils.process.paused_collection`): the start-up of a
    command that loads or checks a checkpoint."""
    from dreem.utils.process import paused_collection

    with paused_collection():
        from dreem.models import checkpoint
    return checkpoint
