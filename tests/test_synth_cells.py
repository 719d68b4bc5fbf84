"""Tests for dreem.synth.cells: synthetic cell movies in Cell Tracking Challenge layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")

from dreem.synth import generate_cells  # noqa: E402


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    """Default sequence "01" (12 cells, 30 frames, 128x128, divisions on, seed 0)."""
    root = tmp_path_factory.mktemp("cells")
    generate_cells(root, "01", seed=0)
    return root


def _read_man_track(path: Path) -> dict[int, tuple[int, int, int]]:
    """label -> (begin, end, parent) from a CTC ``man_track.txt``."""
    rows = [tuple(int(v) for v in line.split()) for line in path.read_text().splitlines()]
    assert all(len(r) == 4 for r in rows)
    table = {r[0]: r[1:] for r in rows}
    assert len(table) == len(rows), "labels must be unique"
    return table


def _stack(folder: Path, prefix: str) -> np.ndarray:
    files = sorted(folder.glob(f"{prefix}*.tif"))
    return np.stack([tifffile.imread(f) for f in files])


def test_ctc_layout(sequence):
    raw_dir, tra_dir = sequence / "01", sequence / "01_GT" / "TRA"
    assert [p.name for p in sorted(raw_dir.iterdir())] == [f"t{t:03d}.tif" for t in range(30)]
    masks = sorted(p.name for p in tra_dir.glob("*.tif"))
    assert masks == [f"man_track{t:03d}.tif" for t in range(30)]
    assert (tra_dir / "man_track.txt").is_file()
    raw = _stack(raw_dir, "t")
    lab = _stack(tra_dir, "man_track")
    assert raw.shape == lab.shape == (30, 128, 128)
    assert raw.dtype == np.uint16 and lab.dtype == np.uint16
    assert not list(sequence.glob(".*"))  # no temporary folders left


def test_masks_match_man_track_and_parents_are_valid(sequence):
    table = _read_man_track(sequence / "01_GT" / "TRA" / "man_track.txt")
    masks = _stack(sequence / "01_GT" / "TRA", "man_track")
    for label, (begin, end, parent) in table.items():
        assert label >= 1 and 0 <= begin <= end < 30
        present = np.flatnonzero((masks == label).any(axis=(1, 2)))
        assert present.tolist() == list(range(begin, end + 1)), f"label {label}"
        if parent:
            assert parent in table and table[parent][1] == begin - 1
    assert set(np.unique(masks).tolist()) - {0} == set(table)
    children: dict[int, int] = {}
    for _, _, parent in table.values():
        if parent:
            children[parent] = children.get(parent, 0) + 1
    assert children and all(n == 2 for n in children.values())  # divisions happen, in pairs
    assert len(table) > 12


def test_cells_are_brighter_than_background(sequence):
    raw = _stack(sequence / "01", "t").astype(float)
    masks = _stack(sequence / "01_GT" / "TRA", "man_track")
    assert raw[masks > 0].mean() > 2 * raw[masks == 0].mean()
    # each cell has its own intensity: per-label means spread out
    means = [raw[masks == lab].mean() for lab in np.unique(masks[0]) if lab]
    assert np.std(means) > 50


def test_no_divisions_and_uint8(tmp_path):
    generate_cells(
        tmp_path, "02", seed=3, n_frames=20, size=(64, 64), divisions=False, dtype="uint8"
    )
    table = _read_man_track(tmp_path / "02_GT" / "TRA" / "man_track.txt")
    assert all(parent == 0 for _, _, parent in table.values())
    assert tifffile.imread(tmp_path / "02" / "t000.tif").dtype == np.uint8
    assert tifffile.imread(tmp_path / "02_GT" / "TRA" / "man_track000.tif").dtype == np.uint16


def test_deterministic(tmp_path, sequence):
    generate_cells(tmp_path / "same", "01", seed=0)
    generate_cells(tmp_path / "other", "01", seed=1)
    for rel in ["01/t007.tif", "01_GT/TRA/man_track007.tif", "01_GT/TRA/man_track.txt"]:
        assert (tmp_path / "same" / rel).read_bytes() == (sequence / rel).read_bytes()
        assert (tmp_path / "other" / rel).read_bytes() != (sequence / rel).read_bytes()


def test_rerun_replaces_sequence(tmp_path):
    generate_cells(tmp_path, "01", seed=0, n_frames=12, size=(64, 64))
    generate_cells(tmp_path, "01", seed=0, n_frames=5, size=(64, 64))
    assert len(list((tmp_path / "01").glob("*.tif"))) == 5
    assert len(list((tmp_path / "01_GT" / "TRA").glob("*.tif"))) == 5


@pytest.mark.parametrize("kw", [{"dtype": "float32"}, {"n_cells": 0}, {"n_frames": 0}])
def test_bad_arguments_raise(tmp_path, kw):
    with pytest.raises(ValueError):
        generate_cells(tmp_path, "01", **kw)
    assert not list(tmp_path.iterdir())
