"""Tests for dreem.synth.demo: the demo dataset (identity-style animals + CTC cells)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

sio = pytest.importorskip("sleap_io")

import dreem.synth.identity as identity_mod  # noqa: E402
from dreem.synth import generate_demo  # noqa: E402
from dreem.synth.demo import demo_layout  # noqa: E402
from dreem.utils.errors import ConfigError  # noqa: E402

POOL = {"n_animals": [2, 3], "n_occluders": [0, 0], "gap_rate": [0.0, 0.0]}
TINY_ANIMALS = {
    "clip": {"size": [96, 96], "n_frames": 10, "body_length": 14.0},
    "test": [{"name": "test_00", "n_animals": 3}, {"name": "test_01_hard", "n_animals": 4}],
    "train": {**POOL, "n_clips": 3, "n_frames": [12, 12], "size": [96, 96]},
    "val": {**POOL, "n_clips": 1, "n_frames": [8, 8]},
}
TINY_CELLS = {"n_frames": 6, "size": [64, 64], "n_cells": 5}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A tiny demo (seed 7): 3 pool clips, 1 val clip, 2 test clips; cells 64x64, 6 frames."""
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, seed=7, animals=TINY_ANIMALS, cells=TINY_CELLS)
    return out


def test_layout_matches_what_the_planner_computes(demo):
    layout = demo_layout(animals=TINY_ANIMALS, cells=TINY_CELLS)
    for split, ids in layout["animals"].items():
        assert sorted(p.stem for p in (demo / "animals" / split).glob("*.slp")) == sorted(ids)
        assert all((demo / "animals" / split / f"{v}.mp4").is_file() for v in ids), split
    assert layout["animals"]["train"] == ["pool_000", "pool_001", "pool_002"]
    assert layout["animals"]["test"] == ["test_00", "test_01_hard"]
    for split in ("train", "val", "test"):
        assert (demo / "cells" / split / "01" / "t000.tif").is_file()
        assert (demo / "cells" / split / "01_GT" / "TRA" / "man_track.txt").is_file()
    info = json.loads((demo / "DONE.json").read_text())
    assert info["seed"] == 7
    assert info["animals"]["train"]["n_clips"] == 3
    assert info["cells"]["n_frames"] == {"train": 6, "val": 6, "test": 6}
    assert info["files"]["animals"]["test"] == ["test_00.slp", "test_01_hard.slp"]
    assert not list(demo.glob("*/.*"))  # no temporary folders left


def test_test_individuals_are_held_apart_and_clips_have_their_sizes(demo):
    test = sio.load_slp(str(demo / "animals" / "test" / "test_01_hard.slp"))
    assert len(test.tracks) == 4 and test.video.shape == (10, 96, 96, 1)
    pool = [sio.load_slp(str(p)) for p in sorted((demo / "animals" / "train").glob("*.slp"))]
    assert all(len(lab) == 12 for lab in pool)
    done = json.loads((demo / "animals" / "DONE.json").read_text())
    test_ids = {k for f in done["files"]["test"] for k in f["individuals"]}
    pool_ids = {k for f in done["files"]["train"] for k in f["individuals"]}
    assert test_ids and pool_ids and not test_ids & pool_ids
    untracked = sio.load_slp(str(demo / "animals" / "test_untracked" / "test_00.slp"))
    assert not untracked.tracks and len(untracked.labeled_frames) == 10


def test_same_seed_is_reproducible(demo, tmp_path):
    generate_demo(tmp_path, seed=7, animals=TINY_ANIMALS, cells=TINY_CELLS)
    labels = sorted(p.relative_to(demo) for p in demo.rglob("*") if p.suffix in {".slp", ".txt"})
    labels += [Path("DONE.json"), Path("cells/test/01_GT/TRA/man_track003.tif")]
    for rel in labels:
        assert (tmp_path / rel).read_bytes() == (demo / rel).read_bytes(), rel
    for mp4 in (demo / "animals" / "test").glob("*.mp4"):
        a = sio.load_video(str(mp4))[:]
        b = sio.load_video(str(tmp_path / mp4.relative_to(demo)))[:]
        np.testing.assert_array_equal(a, b)


def test_unknown_or_bad_keys_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"demo\.animals: .*unknown section 'n_flies'"):
        generate_demo(tmp_path, animals={"n_flies": 3})
    with pytest.raises(ConfigError, match=r"demo\.cells\.n_frames"):
        generate_demo(tmp_path, cells={"n_frames": {"tr": 3}})
    assert not (tmp_path / "DONE.json").exists()


def test_failure_leaves_no_marker_and_no_complete_split(tmp_path, monkeypatch):
    generate_demo(tmp_path, seed=1, animals=TINY_ANIMALS, cells=TINY_CELLS)
    assert (tmp_path / "DONE.json").exists()
    calls = []
    real = identity_mod.simulate_identity_clip

    def fail_on_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    import dreem.synth.identity_bench as bench_mod

    monkeypatch.setattr(bench_mod, "simulate_identity_clip", fail_on_second)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_demo(tmp_path / "fresh", seed=1, animals=TINY_ANIMALS, cells=TINY_CELLS)
    assert not (tmp_path / "fresh" / "DONE.json").exists()
    assert not (tmp_path / "fresh" / "animals" / "test").exists()  # crashed mid-split
    assert not [p for p in (tmp_path / "fresh" / "animals").iterdir() if p.is_dir()]
    calls.clear()
    with pytest.raises(RuntimeError, match="simulated crash"):  # rerun over a finished demo
        generate_demo(tmp_path, seed=1, animals=TINY_ANIMALS, cells=TINY_CELLS)
    assert not (tmp_path / "DONE.json").exists()


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, dreem.synth; "
        "print(sorted(m for m in ('sleap_io', 'cv2', 'tifffile', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
