"""The track stage's own checks: integrity of the result, all-or-none outputs, crop match."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import FakeModel, write_synthetic_shard
from test_track_writers import _ctc_shard, _make_ctc

import dreem.inference.track as track_mod
from dreem.config.dreem import DreemConfig
from dreem.config.load import validate_dreem
from dreem.inference.checks import check_tracks, crop_mismatch
from dreem.inference.track import track_shard
from dreem.inference.tracker import TrackResult
from dreem.io.shards import read_shard
from dreem.utils.errors import InputDataError, IntegrityError, OutputError


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture()
def shard(tmp_path: Path) -> Path:
    return write_synthetic_shard(tmp_path / "s.parquet", n_frames=6, n_animals=3)


def _table(shard: Path) -> tuple:
    from dreem.inference.track import tracks_table

    data = read_shard(shard, with_crops=False)
    ids = np.tile(np.arange(3), 6)
    table = tracks_table(data, TrackResult(ids, np.ones(len(ids), np.float32), []))
    return data, table


def _broken(table: pd.DataFrame, how: str) -> pd.DataFrame:
    t = table.copy()
    if how == "lost":
        return t.drop(index=4).reset_index(drop=True)
    if how == "duplicated":
        return pd.concat([t, t.iloc[[4]]], ignore_index=True)
    if how == "invented":
        extra = t.iloc[[4]].copy()
        extra["instance_idx"] = 7
        return pd.concat([t, extra], ignore_index=True)
    if how == "swapped":  # one lost, one twice: same count
        t.loc[4, "instance_idx"] = t.loc[3, "instance_idx"]
        return t
    if how == "negative":
        t.loc[2, "track_id"] = -5
        return t
    if how == "unassigned":
        t.loc[2, "track_id"] = -1
        return t
    if how == "id twice in a frame":
        t.loc[1, "track_id"] = t.loc[0, "track_id"]
        return t
    raise AssertionError(how)


CASES = {
    "lost": "18 instances in, 17 out",
    "duplicated": "not exactly once: (frame 1, instance 1)",
    "invented": "not in the shard: (frame 1, instance 7)",
    "swapped": "lost: (frame 1, instance 1)",
    "negative": "negative track id(s) [-5]",
    "unassigned": "without a track id in frame(s) 0",
    "id twice in a frame": "id 0 in frame 0",
}


@pytest.mark.parametrize("how", list(CASES))
def test_check_tracks_names_each_violation(shard: Path, how: str) -> None:
    data, table = _table(shard)
    check_tracks(data, table, float("inf"), shard)  # the intact result passes
    with pytest.raises(IntegrityError, match="integrity check") as err:
        check_tracks(data, _broken(table, how), float("inf"), shard)
    assert str(err.value).startswith(f"{shard}: ")
    assert CASES[how] in str(err.value)


def test_unassigned_allowed_only_beyond_max_tracks(shard: Path) -> None:
    data, table = _table(shard)
    t = table.copy()
    t.loc[t.instance_idx == 2, "track_id"] = -1  # 3 instances per frame, 2 ids allowed
    check_tracks(data, t, 2, shard)
    t.loc[0, "track_id"] = -1  # a second unassigned instance in frame 0
    with pytest.raises(IntegrityError, match="frame"):
        check_tracks(data, t, 2, shard)


@pytest.mark.parametrize("how", ["lost", "id twice in a frame"])
def test_a_broken_tracker_result_raises_and_writes_nothing(
    shard: Path, tmp_path: Path, monkeypatch, how: str
) -> None:
    """The check runs inside the track stage: a violation is an error, not a log line."""
    real = track_mod.tracks_table

    def broken(data, result):
        return _broken(real(data, result), how)

    monkeypatch.setattr(track_mod, "tracks_table", broken)
    with pytest.raises(IntegrityError, match="nothing written"):
        track_shard("baseline", shard, None, tmp_path / "o" / "s", progress=False)
    assert _left(tmp_path / "o") == []


def test_ctc_outputs_are_all_or_none_when_the_res_writer_fails(tmp_path: Path, monkeypatch) -> None:
    """A failure while writing the CTC _RES folder (a full disk) leaves no tracks table."""
    import tifffile

    raw, tra = _make_ctc(tmp_path, 6, lambda f, lab: True)
    shard = _ctc_shard(tmp_path / "s.parquet", raw, tra, 6, lambda f, lab: True)
    real = tifffile.imwrite
    calls = []

    def fails_on_the_fourth_mask(path, *a, **k):
        calls.append(path)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *a, **k)

    monkeypatch.setattr(tifffile, "imwrite", fails_on_the_fourth_mask)
    out = tmp_path / "o"
    with pytest.raises(OutputError, match="No space left"):
        track_shard("baseline", shard, None, out / "01", progress=False)
    assert _left(out) == []  # no 01.parquet, 01.csv, 01_RES or temporaries
    monkeypatch.setattr(tifffile, "imwrite", real)
    track_shard("baseline", shard, None, out / "01", progress=False)
    assert _left(out) == ["01.csv", "01.parquet", "01_RES", "01_RES.json"]


def test_float_masks_are_rejected_before_any_output(tmp_path: Path) -> None:
    """Masks replaced by float32 after extraction: an error naming the mask file, no output
    (before: IndexError in the CTC writer after the tables were written)."""
    import tifffile

    raw, tra = _make_ctc(tmp_path, 4, lambda f, lab: True)
    shard = _ctc_shard(tmp_path / "s.parquet", raw, tra, 4, lambda f, lab: True)
    first = sorted(tra.glob("*.tif"))[0]
    tifffile.imwrite(first, tifffile.imread(first).astype(np.float32))
    with pytest.raises(InputDataError, match="must hold integer labels") as err:
        track_shard("baseline", shard, None, tmp_path / "o" / "01", progress=False)
    assert str(err.value).startswith(f"{first}: ")
    assert _left(tmp_path / "o") == []


def _model_cfg(crop_size: int, anchors: str = "centroid") -> DreemConfig:
    return validate_dreem(
        {"dataset": {"train_dataset": {"crop_size": crop_size, "anchors": anchors}}}
    )


def test_crop_mismatch_names_both_values(shard: Path) -> None:
    meta = read_shard(shard, with_crops=False).meta
    assert crop_mismatch(_model_cfg(8), meta) == {}
    assert crop_mismatch(_model_cfg(48), meta) == {"crop_size": (8, 48)}


def test_track_warns_when_shard_crops_differ_from_training(
    shard: Path, tmp_path: Path, caplog
) -> None:
    with caplog.at_level(logging.WARNING, logger="dreem.inference.checks"):
        track_shard((FakeModel(), _model_cfg(8)), shard, None, tmp_path / "a", progress=False)
        assert caplog.text == ""
        track_shard((FakeModel(), _model_cfg(48)), shard, None, tmp_path / "b", progress=False)
    assert f"{shard}: its crops differ" in caplog.text
    assert "crop_size 8 (trained: 48)" in caplog.text
