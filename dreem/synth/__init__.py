"""Deterministic synthetic data: multi-animal clips (SLEAP), cell movies (CTC), the demo set
and the identity benchmark (hard clips + a training pool of many individuals).

Names are imported lazily so ``import dreem.synth`` stays cheap (explicit imports, so the
pipeline's code triggers can see them).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "generate_animals",
    "generate_cells",
    "generate_demo",
    "generate_identity_benchmark",
    "simulate_identity_clip",
    "write_identity_clip",
]


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
    if name == "generate_identity_benchmark":
        from dreem.synth.identity_bench import generate_identity_benchmark

        return generate_identity_benchmark
    if name in ("simulate_identity_clip", "write_identity_clip"):
        from dreem.synth import identity

        return getattr(identity, name)
    raise AttributeError(f"module 'dreem.synth' has no attribute {name!r}")
