"""Deterministic synthetic data: multi-animal clips (SLEAP), cell movies (CTC) and the demo set.

Names are imported lazily so ``import dreem.synth`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["generate_animals", "generate_cells", "generate_demo"]


def __getattr__(name: str) -> Any:
    if name == "generate_animals":
        from dreem.synth.animals import generate_animals

        return generate_animals
    if name == "generate_cells":
        from dreem.synth.cells import generate_cells

        return generate_cells
    if name == "generate_demo":
        from dreem.synth.demo import generate_demo

        return generate_demo
    raise AttributeError(f"module 'dreem.synth' has no attribute {name!r}")
