"""The identity benchmark data: a training pool, a validation pool and a fixed hard test set.

Layout under ``out_dir``::

    train/pool_{kkk}.slp + .mp4 + .json     many short clips, 3-6 animals each
    val/val_{kk}.slp + .mp4 + .json
    test/{name}.slp + .mp4 + .json          the hard clips (:data:`TEST_CLIPS`)
    test_untracked/{name}.slp + .mp4        the test detections, untracked (for peers);
                                            the .mp4 is a hard link to test/{name}.mp4
    DONE.json                               spec, seed, files, individuals; written last

**Held-apart individuals.** Every animal's look is drawn from its own seed stream keyed by
``(seed, role, clip, animal)`` with a different role word for test, train and val, so no
test individual is ever re-drawn for the pools. On top of that, pool looks are rejected
when they are close to any test look (the same :class:`~dreem.synth.looks.Distinctness`
thresholds as within a clip), so no pool individual even resembles a test one.

Each split is written to a temporary folder and renamed into place; ``DONE.json`` is
removed first and written last. The same spec and seed give identical labels and frames.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dreem.synth.identity import (
    ClipSpec,
    look_stream,
    simulate_identity_clip,
    write_identity_clip,
    write_untracked_slp,
)
from dreem.synth.looks import Distinctness, Look, sample_distinct_looks
from dreem.utils.atomic import atomic_path, write_text_atomic

DONE_NAME = "DONE.json"
GENERATOR_VERSION = 1  # bump when the same spec would give different data
ROLES = {"test": 1, "train": 2, "val": 3}
LOOK_WORD, CLIP_WORD, SPEC_WORD = 0x100C, 0xC11F, 0x5BEC

TEST_CLIPS: list[dict[str, Any]] = [
    {"name": "n3", "n_animals": 3, "attraction": 0.5},
    {"name": "n6", "n_animals": 6, "attraction": 0.25},
    {"name": "n5_occluded", "n_animals": 5, "attraction": 0.25, "n_occluders": 4, "gap_rate": 0.02},
]
IDENTITY_DEFAULTS: dict[str, Any] = {
    # fields of ClipSpec shared by every clip unless a split/clip overrides them
    "clip": {"size": [512, 512], "n_frames": 300, "body_length": 28.0, "speed": 0.75},
    "test": TEST_CLIPS,
    # pool entries: a value, or [lo, hi] drawn per clip (ints inclusive, floats uniform)
    "train": {
        "n_clips": 100,
        "n_animals": [3, 6],
        "n_frames": [40, 60],
        "size": [320, 320],
        "attraction": [0.25, 0.5],
        "n_occluders": [0, 2],
        "gap_rate": [0.0, 0.02],
    },
    "val": {
        "n_clips": 6,
        "n_animals": [3, 6],
        "n_frames": [100, 100],
        "attraction": [0.25, 0.5],
        "n_occluders": [0, 3],
        "gap_rate": [0.0, 0.02],
    },
    "distinct": {"min_distance": 30.0, "min_pattern_distance": 18.0},
}
_POOL_KEYS = {"n_clips"}
_RANGE_KEYS = {"n_animals", "n_frames", "attraction", "n_occluders", "gap_rate", "speed"}


def resolve_identity_spec(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """:data:`IDENTITY_DEFAULTS` with ``overrides`` merged section by section (``test`` is
    replaced whole). Raises ``ValueError`` on unknown sections or keys."""
    spec = copy.deepcopy(IDENTITY_DEFAULTS)
    clip_names = {a.name for a in attrs.fields(ClipSpec)}
    for section, value in (overrides or {}).items():
        if section not in spec:
            raise ValueError(f"identity spec: unknown section {section!r}; valid: {sorted(spec)}")
        if section == "test":
            spec["test"] = copy.deepcopy(list(value))
            continue
        valid = clip_names | (_POOL_KEYS if section in ("train", "val") else set())
        if section == "distinct":
            valid = {"min_distance", "min_pattern_distance", "max_tries"}
        bad = sorted(set(value) - valid)
        if bad:
            raise ValueError(f"identity spec: unknown key(s) {bad} in {section!r}")
        spec[section].update(copy.deepcopy(value))
    names = [c.get("name") for c in spec["test"]]
    if len(set(names)) != len(names) or not all(names):
        raise ValueError(f"identity spec: test clips need unique names, got {names}")
    return spec


def spec_hash(spec: dict[str, Any], seed: int) -> str:
    """A short hash of the resolved spec, the seed and the generator version."""
    text = json.dumps({"spec": spec, "seed": int(seed), "v": GENERATOR_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _draw(rng: np.random.Generator, value: Any) -> Any:
    """A [lo, hi] range drawn once (ints inclusive); any other value as is."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) for v in value)
    ):
        lo, hi = value
        if isinstance(lo, int) and isinstance(hi, int):
            return int(rng.integers(lo, hi + 1))
        return float(rng.uniform(lo, hi))
    return value


def pool_clip_spec(spec: dict[str, Any], split: str, index: int, seed: int) -> ClipSpec:
    """The :class:`ClipSpec` of pool clip ``index`` of ``split`` (ranges drawn from its seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPEC_WORD, ROLES[split], index]))
    fields = dict(spec["clip"])
    for key, value in spec[split].items():
        if key in _POOL_KEYS:
            continue
        fields[key] = _draw(rng, value) if key in _RANGE_KEYS else value
    return ClipSpec.from_dict(fields)


def hard_clip_spec(spec: dict[str, Any], index: int) -> ClipSpec:
    """The :class:`ClipSpec` of test clip ``index``."""
    fields = {k: v for k, v in spec["test"][index].items() if k != "name"}
    return ClipSpec.from_dict({**spec["clip"], **fields})


def clip_seed(seed: int, split: str, index: int) -> int:
    """A 31-bit seed for one clip's motion, occluders, gaps and noise."""
    entropy = [int(seed) % 2**63, CLIP_WORD, ROLES[split], int(index)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)


def individual_keys(split: str, index: int, n_animals: int) -> list[str]:
    """Names of a clip's individuals: ``{split}/{clip}/{animal}`` (unique per benchmark)."""
    return [f"{split}/{index}/{k}" for k in range(n_animals)]


def clip_looks(
    spec: dict[str, Any],
    seed: int,
    split: str,
    index: int,
    n_animals: int,
    forbidden: list[Look] | tuple[Look, ...] = (),
) -> list[Look]:
    """The distinct looks of one clip, each from its own ``(seed, role, clip, animal)``
    stream, none close to ``forbidden``."""
    streams = [
        look_stream(int(seed) % 2**63, LOOK_WORD, ROLES[split], index, k) for k in range(n_animals)
    ]
    return sample_distinct_looks(streams, Distinctness(**spec["distinct"]), forbidden)


def hard_clip_looks(spec: dict[str, Any], seed: int) -> list[list[Look]]:
    """The looks of every test clip (cheap: no rendering of frames)."""
    return [
        clip_looks(spec, seed, "test", i, hard_clip_spec(spec, i).n_animals)
        for i in range(len(spec["test"]))
    ]


def _write_split(
    out_dir: Path,
    split: str,
    jobs: list[tuple[str, ClipSpec, int, list[Look], list[str]]],
    bar: Any,
) -> list[dict[str, Any]]:
    """Write one split's clips atomically into ``out_dir/split``; return their records."""
    records = []
    with atomic_path(out_dir / split) as tmp:
        tmp.mkdir()
        for name, clip_spec, cseed, looks, keys in jobs:
            clip = simulate_identity_clip(clip_spec, cseed, looks)
            write_identity_clip(clip, tmp, name, keys)
            records.append(
                {
                    "name": name,
                    "slp": f"{name}.slp",
                    "seed": cseed,
                    "n_animals": clip_spec.n_animals,
                    "n_frames": clip_spec.n_frames,
                    "n_detections": int(clip.detected.sum()),
                    "individuals": keys,
                }
            )
            bar.update(1)
    return records


def _write_untracked(out_dir: Path, spec: dict, seed: int, looks: list[list[Look]]) -> None:
    """``test_untracked/``: each test clip's detections without tracks, its video linked."""
    with atomic_path(out_dir / "test_untracked") as tmp:
        tmp.mkdir()
        for i, entry in enumerate(spec["test"]):
            name = entry["name"]
            clip = simulate_identity_clip(
                hard_clip_spec(spec, i), clip_seed(seed, "test", i), looks[i]
            )
            src = out_dir / "test" / f"{name}.mp4"
            try:
                os.link(src, tmp / src.name)
            except OSError:
                shutil.copyfile(src, tmp / src.name)
            write_untracked_slp(clip, tmp / f"{name}.slp", src.name)


def generate_identity_benchmark(
    out_dir: Path,
    spec: dict[str, Any] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate the benchmark under ``out_dir``; return the ``DONE.json`` record.

    ``spec`` overrides :data:`IDENTITY_DEFAULTS` (see :func:`resolve_identity_spec`), e.g.
    ``{"train": {"n_clips": 10}}``.
    """
    t0 = time.perf_counter()
    spec = resolve_identity_spec(spec)
    seed = int(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DONE_NAME).unlink(missing_ok=True)
    looks = hard_clip_looks(spec, seed)
    forbidden = [lk for clip in looks for lk in clip]
    jobs: dict[str, list] = {"test": []}
    for i, entry in enumerate(spec["test"]):
        cspec = hard_clip_spec(spec, i)
        keys = individual_keys("test", i, cspec.n_animals)
        jobs["test"].append((entry["name"], cspec, clip_seed(seed, "test", i), looks[i], keys))
    for split, prefix, width in (("train", "pool", 3), ("val", "val", 2)):
        jobs[split] = []
        for i in range(int(spec[split]["n_clips"])):
            cspec = pool_clip_spec(spec, split, i, seed)
            lk = clip_looks(spec, seed, split, i, cspec.n_animals, forbidden)
            keys = individual_keys(split, i, cspec.n_animals)
            jobs[split].append(
                (f"{prefix}_{i:0{width}d}", cspec, clip_seed(seed, split, i), lk, keys)
            )
    bar = _progress(sum(len(j) for j in jobs.values()), progress)
    files: dict[str, list] = {}
    seconds: dict[str, float] = {}
    for split in ("test", "train", "val"):
        t_split = time.perf_counter()
        files[split] = _write_split(out_dir, split, jobs[split], bar)
        seconds[split] = time.perf_counter() - t_split
    _write_untracked(out_dir, spec, seed, looks)
    bar.close()
    info = {
        "seed": seed,
        "spec": spec,
        "spec_hash": spec_hash(spec, seed),
        "generator_version": GENERATOR_VERSION,
        "files": files,
        "seconds": {**seconds, "total": time.perf_counter() - t0},
    }
    write_text_atomic(out_dir / DONE_NAME, json.dumps(info, indent=1, sort_keys=True) + "\n")
    return info


def _progress(total: int, enabled: bool):
    """A tqdm bar (or a no-op stand-in when disabled)."""
    from tqdm import tqdm

    return tqdm(total=total, desc="identity data", unit="clip", disable=not enabled)


def load_done(out_dir: Path) -> dict[str, Any] | None:
    """The ``DONE.json`` record of a complete benchmark folder, or None."""
    path = Path(out_dir) / DONE_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text())
