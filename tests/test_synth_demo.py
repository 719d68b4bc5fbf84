"""Tests for dreem.synth.demo: the train/val/test demo dataset and its DONE.json marker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

sio = pytest.importorskip("sleap_io")

import dreem.synth.animals as animals_mod  # noqa: E402
from dreem.synth import generate_demo  # noqa: E402
from dreem.utils.errors import ConfigError  # noqa: E402

TINY_ANIMALS = {"n_frames": {"train": 12, "val": 8, "test": 10}, "size": [96, 96]}
TINY_CELLS = {"n_frames": 6, "size": [64, 64], "n_cells": 5}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A tiny demo (seed 7): animals 96x96, 12/8/10 frames; cells 64x64, 6 frames, 5 cells."""
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, seed=7, animals=TINY_ANIMALS, cells=TINY_CELLS)
    return out


def test_layout_and_done_marker(demo):
    for split, n in {"train": 2, "val": 1, "test": 2}.items():
        assert len(list((demo / "animals" / split).glob("*.slp"))) == n
        assert len(list((demo / "animals" / split).glob("*.mp4"))) == n
        assert (demo / "cells" / split / "01" / "t000.tif").is_file()
        assert (demo / "cells" / split / "01_GT" / "TRA" / "man_track.txt").is_file()
    info = json.loads((demo / "DONE.json").read_text())
    assert info["seed"] == 7
    assert info["animals"]["n_frames"] == {"train": 12, "val": 8, "test": 10}
    assert info["animals"]["n_animals"] == 4  # default kept
    assert info["cells"]["n_frames"] == {"train": 6, "val": 6, "test": 6}
    assert info["files"]["animals"]["test"] == ["test_00.slp", "test_01_hard.slp"]
    assert not list(demo.glob("*/.*"))  # no temporary folders left


def test_split_clips_have_requested_sizes_and_distinct_seeds(demo):
    train = [sio.load_slp(str(p)) for p in sorted((demo / "animals" / "train").glob("*.slp"))]
    assert [len(lab) for lab in train] == [12, 12]
    assert train[0].video.shape == (12, 96, 96, 1)
    assert not np.allclose(train[0].numpy(), train[1].numpy())
    hard = sio.load_slp(str(demo / "animals" / "test" / "test_01_hard.slp"))
    assert len(hard.tracks) == 5  # one more animal than the default 4


def test_same_seed_is_reproducible(demo, tmp_path):
    generate_demo(tmp_path, seed=7, animals=TINY_ANIMALS, cells=TINY_CELLS)
    labels = sorted(p.relative_to(demo) for p in demo.rglob("*") if p.suffix in {".slp", ".txt"})
    labels += [Path("DONE.json"), Path("cells/test/01_GT/TRA/man_track003.tif")]
    for rel in labels:
        assert (tmp_path / rel).read_bytes() == (demo / rel).read_bytes(), rel
    for mp4 in (demo / "animals").rglob("*.mp4"):
        a = sio.load_video(str(mp4))[:]
        b = sio.load_video(str(tmp_path / mp4.relative_to(demo)))[:]
        np.testing.assert_array_equal(a, b)


def test_unknown_or_bad_keys_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"demo\.animals\.n_flies"):
        generate_demo(tmp_path, animals={"n_flies": 3})
    with pytest.raises(ConfigError, match=r"demo\.cells\.n_frames"):
        generate_demo(tmp_path, cells={"n_frames": {"tr": 3}})
    assert not (tmp_path / "DONE.json").exists()


def test_failure_leaves_no_marker_and_no_complete_split(tmp_path, monkeypatch):
    generate_demo(tmp_path, seed=1, animals=TINY_ANIMALS, cells=TINY_CELLS)
    assert (tmp_path / "DONE.json").exists()
    calls = []
    real = animals_mod.generate_animals

    def fail_on_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(animals_mod, "generate_animals", fail_on_second)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_demo(tmp_path / "fresh", seed=1, animals=TINY_ANIMALS, cells=TINY_CELLS)
    assert not (tmp_path / "fresh" / "DONE.json").exists()
    assert not (tmp_path / "fresh" / "animals" / "train").exists()  # crashed mid-split
    assert not list((tmp_path / "fresh" / "animals").iterdir())  # no temporary leftovers
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
