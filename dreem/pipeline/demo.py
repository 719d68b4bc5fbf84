"""Datasets that read the pipeline's generated demo data, and their video ids.

Demo datasets (a ``dir.path`` under ``demo.out_dir``) get their video ids from the demo
settings before any data exists, so ``snakemake -n`` on a fresh clone plans the whole run
and one call runs it all (no Snakemake checkpoint: a re-run checkpoint did not reschedule
every dependent job in Snakemake 9.27). Their only data input is the demo's ``DONE.json``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from dreem.config.data import DatasetSection
from dreem.config.pipeline import DemoConfig
from dreem.utils.errors import ConfigError

KINDS = ("animals", "cells")
SPLITS = ("train", "val", "test", "test_untracked")


def done_path(demo: DemoConfig) -> str:
    """The marker the demo job writes last."""
    return f"{demo.out_dir.rstrip('/')}/DONE.json"


@functools.cache
def _layout(animals: str, cells: str) -> dict:
    import json

    from dreem.synth.demo import demo_layout

    return demo_layout(animals=json.loads(animals), cells=json.loads(cells))


def layout(demo: DemoConfig) -> dict:
    """``{kind: {split: [video_id, ...]}}`` of the demo settings."""
    import json

    return _layout(json.dumps(demo.animals or {}), json.dumps(demo.cells or {}))


def _inside(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def demo_dirs(name: str, spec: DatasetSection, demo: DemoConfig) -> list[tuple[str, str]] | None:
    """``(kind, split)`` of each demo folder dataset ``name`` reads; None if not demo data."""
    if not demo.enabled:
        return None
    root = Path(demo.out_dir).resolve()
    dirs = list(spec.dir.path or []) if spec.dir is not None else []
    files = [
        p
        for key in ("slp_files", "video_files", "tracks")
        for p in (getattr(spec, key) or [])
        if isinstance(p, str)
    ]
    if not any(_inside(p, root) for p in dirs + files):
        return None
    if any(_inside(p, root) for p in files):
        raise ConfigError(f"datasets.{name}: demo data must be given as dir.path (got file lists)")
    out = []
    for p in dirs:
        rel = Path(p).resolve().relative_to(root).parts if _inside(p, root) else ()
        lay = layout(demo)
        if len(rel) != 2 or rel[0] not in KINDS or rel[1] not in lay[rel[0]]:
            raise ConfigError(
                f"datasets.{name}.dir.path: demo data must be read as "
                f"{demo.out_dir}/{{animals,cells}}/{{split}} (animals: train, val, test, "
                f"test_untracked; cells: train, val, test), got {p!r}"
            )
        out.append((rel[0], rel[1]))
    return out
