"""The demo dataset: synthetic animal clips and cell movies split into train/val/test.

Layout under ``out_dir``::

    animals/{train,val,test}/{split}_{kk}.slp + .mp4     (test's last clip is ``test_{kk}_hard``)
    cells/{train,val,test}/{NN}/ + {NN}_GT/TRA/          (CTC layout, NN = 01, 02, ...)
    DONE.json                                            (the resolved spec; written last)

Each clip has its own seed derived from (seed, kind, split, index). Each split is built in a
temporary folder and renamed into place, and ``DONE.json`` is removed first and written
last, so an interrupted run never leaves a complete-looking split or a done marker.
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
# Bodies are ~24 px long, so a 48-64 px crop around the thorax covers one animal.
ANIMAL_DEFAULTS: dict[str, Any] = {
    "n_animals": 4,
    "size": [256, 256],
    "fps": 25,
    "body_length": 24.0,
    "speed": 0.6,
    "noise_std": 6.0,
    "n_frames": {"train": 150, "val": 100, "test": 150},
    "n_videos": {"train": 2, "val": 1, "test": 2},
    "hard_test": True,  # the last test clip has one more animal and 1.3x the speed
}
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


def demo_layout(animals: dict | None = None, cells: dict | None = None) -> dict:
    """``{kind: {split: [video_id, ...]}}`` of the demo data :func:`generate_demo` would
    write with these settings (computed, nothing generated)."""
    a = resolve_spec(ANIMAL_DEFAULTS, animals, "demo.animals")
    c = resolve_spec(CELL_DEFAULTS, cells, "demo.cells")
    layout: dict[str, dict[str, list[str]]] = {"animals": {}, "cells": {}}
    for split in SPLITS:
        layout["animals"][split] = [_animal_name(a, split, k) for k in range(a["n_videos"][split])]
        layout["cells"][split] = [f"{k + 1:02d}" for k in range(c["n_videos"][split])]
    return layout


def _animal_name(spec: dict, split: str, k: int) -> str:
    n_videos = spec["n_videos"][split]
    hard = spec["hard_test"] and split == "test" and k == n_videos - 1 and n_videos > 1
    return f"{split}_{k:02d}" + ("_hard" if hard else "")


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
    seed = 0 if seed is None else int(seed)
    spec = {
        "seed": seed,
        "animals": resolve_spec(ANIMAL_DEFAULTS, animals, "demo.animals"),
        "cells": resolve_spec(CELL_DEFAULTS, cells, "demo.cells"),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DONE_NAME).unlink(missing_ok=True)
    _remove_stale(out_dir)
    jobs = [("animals", split) for split in SPLITS] + [("cells", split) for split in SPLITS]
    files: dict[str, dict[str, list[str]]] = {"animals": {}, "cells": {}}
    bar = _progress(len(jobs), progress)
    for kind, split in jobs:
        build = _animal_split if kind == "animals" else _cell_split
        with _split_dir(out_dir / kind / split) as tmp:
            files[kind][split] = build(tmp, split, seed, spec[kind])
        bar.update(1)
    bar.close()
    info = {**spec, "files": files}
    write_text_atomic(out_dir / DONE_NAME, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def _animal_split(folder: Path, split: str, seed: int, spec: dict) -> list[str]:
    """Write one split's animal clips into ``folder``; return the .slp file names."""
    from dreem.synth.animals import generate_animals

    n_videos = spec["n_videos"][split]
    names = []
    for k in range(n_videos):
        name = _animal_name(spec, split, k)
        hard = name.endswith("_hard")
        slp, _ = generate_animals(
            folder,
            name,
            clip_seed(seed, 0, split, k),
            n_animals=spec["n_animals"] + (1 if hard else 0),
            n_frames=spec["n_frames"][split],
            size=tuple(spec["size"]),
            fps=spec["fps"],
            body_length=spec["body_length"],
            speed=spec["speed"] * (1.3 if hard else 1.0),
            noise_std=spec["noise_std"],
        )
        names.append(slp.name)
    return names


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
