"""The demo dataset: synthetic animals (an identity benchmark in miniature) and cells.

Layout under ``out_dir``::

    animals/train/pool_{kkk}.slp + .mp4   many short clips of many distinct individuals
    animals/val/val_{kk}.slp + .mp4       other individuals (checkpoint choice)
    animals/test/{name}.slp + .mp4        held-apart individuals; the last clip is hard
    animals/test_untracked/{name}.slp     the test detections without tracks (track-only)
    cells/{train,val,test}/{NN}/ + {NN}_GT/TRA/   (CTC layout, NN = 01, 02, ...)
    DONE.json                             (the resolved spec; written last)

The animals are :mod:`dreem.synth.identity_bench` data with the demo's settings
(:data:`ANIMAL_DEFAULTS`): animals that touch, cross and move ~0.75 body length per frame,
distinct by appearance; the test individuals never appear in training. Each split is
built in a temporary folder and renamed into place, and ``DONE.json`` is removed first and
written last, so an interrupted run never leaves a complete-looking split or marker.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dreem.utils.atomic import write_text_atomic
from dreem.utils.errors import ConfigError

SPLITS = ("train", "val", "test")
DONE_NAME = "DONE.json"

# Small enough that the whole demo pipeline (incl. CPU training) fits in minutes on 2 cores.
# Bodies are ~28 px long, so a 48 px crop around the thorax covers one animal. Sections as
# in dreem.synth.identity_bench (``test`` is replaced whole when given).
ANIMAL_DEFAULTS: dict[str, Any] = {
    "clip": {"size": [320, 320], "n_frames": 150, "body_length": 28.0, "speed": 0.75},
    "test": [
        {"name": "test_00", "n_animals": 4, "attraction": 0.4},
        {
            "name": "test_01_hard",
            "n_animals": 5,
            "attraction": 0.25,
            "n_occluders": 2,
            "gap_rate": 0.02,
        },
    ],
    "train": {
        "n_clips": 20,
        "n_animals": [3, 5],
        "n_frames": [60, 80],
        "size": [256, 256],
        "attraction": [0.25, 0.5],
        "n_occluders": [0, 1],
        "gap_rate": [0.0, 0.02],
    },
    "val": {
        "n_clips": 2,
        "n_animals": [4, 5],
        "n_frames": [60, 60],
        "attraction": [0.25, 0.5],
        "n_occluders": [0, 1],
        "gap_rate": [0.0, 0.02],
    },
}
ANIMAL_SPLITS = ("train", "val", "test", "test_untracked")
CELL_DEFAULTS: dict[str, Any] = {
    "n_cells": 12,
    "size": [128, 128],
    "n_frames": {"train": 30, "val": 30, "test": 30},
    "n_videos": {"train": 1, "val": 1, "test": 1},
    "divisions": True,
    "dtype": "uint16",
}
_PER_SPLIT = ("n_frames", "n_videos")


def resolve_spec(defaults: dict, overrides: dict | None, key_path: str) -> dict:
    """Defaults updated by ``overrides``; per-split keys accept an int (all splits) or a dict.

    Raises ``ConfigError`` naming ``key_path.<key>`` for unknown keys or bad split values.
    """
    spec = copy.deepcopy(defaults)
    for key, value in (overrides or {}).items():
        if key not in defaults:
            raise ConfigError(
                f"{key_path}.{key}: unknown key; valid keys: {', '.join(sorted(defaults))}"
            )
        if key in _PER_SPLIT:
            value = _per_split(value, f"{key_path}.{key}")
            spec[key].update(value)
        else:
            spec[key] = copy.deepcopy(value)
    for split in SPLITS:
        if spec["n_videos"][split] < 0 or spec["n_frames"][split] < 1:
            raise ConfigError(f"{key_path}: n_videos must be >= 0 and n_frames >= 1 ({split})")
    if len(spec["size"]) != 2:
        raise ConfigError(f"{key_path}.size: expected [height, width], got {spec['size']!r}")
    return spec


def _per_split(value: Any, key_path: str) -> dict[str, int]:
    """Normalise an int or a {split: int} mapping to a {split: int} mapping."""
    if isinstance(value, int) and not isinstance(value, bool):
        return dict.fromkeys(SPLITS, value)
    if isinstance(value, dict) and set(value) <= set(SPLITS):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            return dict(value)
    raise ConfigError(f"{key_path}: expected an int or a mapping of {list(SPLITS)} to ints")


def animal_spec(overrides: dict | None) -> dict:
    """The demo's identity-benchmark spec: :data:`ANIMAL_DEFAULTS` updated by ``overrides``
    section by section; errors name ``demo.animals``."""
    from dreem.synth.identity_bench import resolve_identity_spec

    merged = copy.deepcopy(ANIMAL_DEFAULTS)
    for section, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(section), dict):
            merged[section].update(copy.deepcopy(value))
        else:
            merged[section] = copy.deepcopy(value)
    try:
        return resolve_identity_spec(merged)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"demo.animals: {err}") from err


def demo_layout(animals: dict | None = None, cells: dict | None = None) -> dict:
    """``{kind: {split: [video_id, ...]}}`` of the demo data :func:`generate_demo` would
    write with these settings (computed, nothing generated)."""
    a = animal_spec(animals)
    c = resolve_spec(CELL_DEFAULTS, cells, "demo.cells")
    tests = [clip["name"] for clip in a["test"]]
    layout: dict[str, dict[str, list[str]]] = {
        "animals": {
            "train": [f"pool_{i:03d}" for i in range(int(a["train"]["n_clips"]))],
            "val": [f"val_{i:02d}" for i in range(int(a["val"]["n_clips"]))],
            "test": tests,
            "test_untracked": tests,
        },
        "cells": {},
    }
    for split in SPLITS:
        layout["cells"][split] = [f"{k + 1:02d}" for k in range(c["n_videos"][split])]
    return layout


def clip_seed(seed: int, kind: int, split: str, index: int) -> int:
    """A 31-bit seed for one clip, derived from the demo seed."""
    entropy = [int(seed) % 2**63, kind, SPLITS.index(split), index]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)


def generate_demo(
    out_dir: Path,
    seed: int | None = 0,
    animals: dict | None = None,
    cells: dict | None = None,
    progress: bool = False,
) -> dict:
    """Generate the demo dataset under ``out_dir``; return the resolved spec (also DONE.json).

    ``animals`` / ``cells`` override :data:`ANIMAL_DEFAULTS` / :data:`CELL_DEFAULTS` (e.g.
    ``{"n_frames": 50, "n_videos": {"train": 1}}``). ``seed`` None means 0. ``progress``
    shows a progress bar (for the CLI). The same arguments give byte-identical label files
    and identical decoded frames.
    """
    from dreem.synth.identity_bench import generate_identity_benchmark

    seed = 0 if seed is None else int(seed)
    spec = {
        "seed": seed,
        "animals": animal_spec(animals),
        "cells": resolve_spec(CELL_DEFAULTS, cells, "demo.cells"),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DONE_NAME).unlink(missing_ok=True)
    _remove_stale(out_dir)
    files: dict[str, dict[str, list[str]]] = {"animals": {}, "cells": {}}
    bar = _progress(1 + len(SPLITS), progress)
    made = generate_identity_benchmark(
        out_dir / "animals", spec["animals"], clip_seed(seed, 0, "train", 0)
    )
    for split in ("train", "val", "test"):
        files["animals"][split] = [rec["slp"] for rec in made["files"][split]]
    bar.update(1)
    for split in SPLITS:
        with _split_dir(out_dir / "cells" / split) as tmp:
            files["cells"][split] = _cell_split(tmp, split, seed, spec["cells"])
        bar.update(1)
    bar.close()
    info = {**spec, "files": files}
    write_text_atomic(out_dir / DONE_NAME, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def _cell_split(folder: Path, split: str, seed: int, spec: dict) -> list[str]:
    """Write one split's CTC sequences into ``folder``; return the sequence names."""
    from dreem.synth.cells import generate_cells

    names = []
    for k in range(spec["n_videos"][split]):
        raw = generate_cells(
            folder,
            f"{k + 1:02d}",
            clip_seed(seed, 1, split, k),
            n_cells=spec["n_cells"],
            n_frames=spec["n_frames"][split],
            size=tuple(spec["size"]),
            divisions=spec["divisions"],
            dtype=spec["dtype"],
        )
        names.append(raw.name)
    return names


@contextlib.contextmanager
def _split_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``target``; on success it replaces ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        shutil.rmtree(old)
    tmp.rename(target)


def _remove_stale(out_dir: Path) -> None:
    """Delete temporary folders left by an interrupted earlier run."""
    for kind in ("animals", "cells"):
        for stale in (out_dir / kind).glob(".*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)


def _progress(total: int, enabled: bool):
    """A tqdm bar (or a no-op stand-in when disabled)."""
    from tqdm import tqdm

    return tqdm(total=total, desc="demo data", unit="split", disable=not enabled)
