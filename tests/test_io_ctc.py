"""CtcSource on generated Cell Tracking Challenge folders."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from test_io_fixtures import make_ctc

from dreem.io.ctc import parse_man_track
from dreem.io.sources import open_source
from dreem.utils.errors import InputDataError


def _row(tra, raw, extra=None):
    return {"format": "ctc", "labels_path": tra, "video_path": raw, "extra": extra or {}}


@pytest.mark.parametrize("naming", ["ctc", "frame"])
def test_ctc_source(tmp_path, naming):
    tra, raw = make_ctc(tmp_path, "01", n_frames=4, naming=naming)
    src = open_source(_row(tra, raw))
    assert (src.n_frames, src.height, src.width, src.channels) == (4, 32, 40, 1)
    assert src.node_names == ["centroid"] and src.dtype == np.uint8
    assert (src.n_labeled_frames, src.n_instances, src.track_names) == (4, 7, ["1", "2"])
    assert src.lineage == {1: (0, 3, 0), 2: (1, 3, 0)}
    frames = list(src.iter_frames())
    assert [len(f.instances) for f in frames] == [1, 2, 2, 2]
    f2 = frames[2]
    a, b = f2.instances
    assert (a.instance_idx, a.track_id, b.instance_idx, b.track_id) == (0, 1, 1, 2)
    np.testing.assert_allclose(a.points, [[2 + 2 + 1.5, 3.5]])  # square cols 4..7, rows 2..5
    np.testing.assert_allclose(b.points, [[21.5, 24.5]])
    assert a.mask.shape == (32, 40) and a.mask.dtype == bool and a.mask.sum() == 16
    assert f2.image.shape == (32, 40, 1) and f2.image[3, 5, 0] == 200


def test_ctc_uint16_intensity_range(tmp_path):
    tra, raw = make_ctc(tmp_path, "02", n_frames=3, dtype=np.uint16)
    src = open_source(_row(tra, raw))
    assert src.dtype == np.uint16
    assert src.intensity_range == (10.0, 40000.0)


def test_ctc_frame_count_mismatch(tmp_path):
    tra, raw = make_ctc(tmp_path, "01", n_frames=4)
    (raw / "t003.tif").unlink()
    with pytest.raises(InputDataError, match="4 mask frames.*3 raw frames"):
        open_source(_row(tra, raw))


def test_ctc_frame_number_mismatch(tmp_path):
    tra, raw = make_ctc(tmp_path, "01", n_frames=3)
    (raw / "t002.tif").rename(raw / "t005.tif")
    with pytest.raises(InputDataError, match="t005.tif"):
        open_source(_row(tra, raw))


def test_ctc_empty_masks(tmp_path):
    tra, raw = make_ctc(tmp_path, "01", n_frames=2)
    for m in tra.glob("*.tif"):
        tifffile.imwrite(m, np.zeros((32, 40), np.uint16))
    with pytest.raises(InputDataError, match="empty"):
        open_source(_row(tra, raw))


def test_ctc_missing_folder(tmp_path):
    tra, raw = make_ctc(tmp_path, "01", n_frames=2)
    with pytest.raises(InputDataError, match="nope"):
        open_source(_row(tra, tmp_path / "nope"))


def test_man_track_parse(tmp_path):
    p = tmp_path / "man_track.txt"
    p.write_text("1 0 0 0\n1 2 3 0\n5 1 4 1\n\n")
    assert parse_man_track(p) == {1: [(0, 0, 0), (2, 3, 0)], 5: [(1, 4, 1)]}
    p.write_text("1 0 x 0\n")
    with pytest.raises(InputDataError, match="man_track.txt:1"):
        parse_man_track(p)
