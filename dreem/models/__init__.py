"""dreem.models: the Global Tracking Transformer (imported lazily: torch is heavy)."""

from __future__ import annotations

from typing import Any

__all__ = ["GlobalTrackingTransformer"]


def __getattr__(name: str) -> Any:
    if name == "GlobalTrackingTransformer":
        from dreem.models.gtr import GlobalTrackingTransformer

        return GlobalTrackingTransformer
    raise AttributeError(f"module 'dreem.models' has no attribute {name!r}")
