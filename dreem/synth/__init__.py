"""Deterministic synthetic data: multi-animal clips (SLEAP), cell movies (CTC), the demo set
and the identity benchmark (held-apart individuals).

Names are imported lazily so ``import dreem.synth`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "generate_animals": "dreem.synth.animals",
    "generate_cells": "dreem.synth.cells",
    "generate_demo": "dreem.synth.demo",
    "generate_identity_benchmark": "dreem.synth.identity_bench",
    "simulate_identity_clip": "dreem.synth.identity",
    "write_identity_clip": "dreem.synth.identity",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'dreem.synth' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
