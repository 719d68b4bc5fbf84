"""dreem.io on the real DREEM test data in ../shared/data (skipped when absent)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from test_io_fixtures import SHARED_DATA

from dreem.io.discover import discover_dataset, pair_files
from dreem.io.sources import open_source
from dreem.io.trackmate import parse_trackmate

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared test data absent")
SLEAP = SHARED_DATA / "sleap"
MICRO = SHARED_DATA / "microscopy"


def _slp_row(stem):
    return {
        "format": "slp",
        "labels_path": SLEAP / f"{stem}.slp",
        "video_path": SLEAP / f"{stem}.mp4",
        "slp_video_index": 0,
    }


def test_two_flies():
    src = open_source(_slp_row("two_flies"))
    assert (src.n_frames, src.height, src.width, src.channels) == (128, 1024, 1024, 1)
    assert (src.n_labeled_frames, src.n_instances) == (128, 256)
    assert src.track_names == ["F", "M"] and len(src.node_names) == 13
    assert src.node_names[:3] == ["head", "thorax", "abdomen"]
    n, last = 0, -1
    for k, fr in enumerate(src.iter_frames()):
        assert fr.frame_idx > last
        last = fr.frame_idx
        assert fr.image.shape == (1024, 1024, 1) and fr.image.dtype == np.uint8
        assert sorted(i.track_id for i in fr.instances) == [0, 1]
        n += len(fr.instances)
        if k == 2:
            break
    assert n == 6


def test_two_flies_sequential_equals_random_access():
    from dreem.io.video import read_frame_random_access

    src = open_source(_slp_row("two_flies"))
    picks = {1, 30}
    seen = 0
    for fr in src.iter_frames():
        if fr.frame_idx in picks:
            ref = read_frame_random_access(src.video_path, fr.frame_idx, grayscale=True)
            np.testing.assert_array_equal(fr.image, ref)
            seen += 1
    assert seen == 2


def test_two_flies_noisy_detections():
    src = open_source(_slp_row("two_flies_noisy_detections"))
    assert (src.n_labeled_frames, src.n_instances) == (128, 259)
    assert src.n_dropped_nan == 0
    first = next(iter(src.iter_frames()))
    assert sorted(i.track_id for i in first.instances) == [-1, 0, 1]


def test_sleap_dir_discovery():
    df = discover_dataset(
        "flies", {"dir": {"path": str(SLEAP), "labels_suffix": ".slp", "vid_suffix": ".mp4"}}
    )
    assert df["video_id"].tolist() == ["single_fly", "two_flies", "two_flies_noisy_detections"]
    assert df["n_instances"].tolist() == [128, 256, 259]
    assert (df["n_frames"] == 128).all() and (df["channels"] == 1).all()


def test_ctc_test_0_matches_man_track():
    pairs = pair_files({"dir": {"path": str(MICRO / "cell_tracking"), "labels_suffix": ".tif"}})
    assert [p.video_id for p in pairs] == ["test_0"]
    src = open_source(pairs[0].as_row())
    assert (src.n_frames, src.height, src.width, src.dtype) == (11, 592, 608, np.uint8)
    segments: dict[int, list[tuple[int, int]]] = {}
    for line in (MICRO / "cell_tracking/test_0_GT/TRA/man_track.txt").read_text().splitlines():
        lab, b, e, _ = map(int, line.split())
        segments.setdefault(lab, []).append((b, e))
    n = 0
    for fr in src.iter_frames():
        ids = [i.track_id for i in fr.instances]
        expected = sorted(
            lab for lab, seg in segments.items() if any(b <= fr.frame_idx <= e for b, e in seg)
        )
        assert ids == expected, fr.frame_idx
        for inst in fr.instances:
            ys, xs = np.nonzero(inst.mask)
            np.testing.assert_allclose(inst.points[0], [xs.mean(), ys.mean()], atol=1e-3)
        n += len(ids)
    assert n == src.n_instances
    assert src.lineage[1] == (0, 6, 0)  # label 1 has segments 0-0, 2-3, 6-6


def test_isbi_microtubules_frame0():
    xml = MICRO / "isbi/microtubules/MICROTUBULE snr 7 density low.xml"
    expected = sum(1 for d in ET.parse(xml).getroot().iter("detection") if int(d.get("t")) == 0)
    spec = {
        "dir": {"path": str(xml.parent), "labels_suffix": ".xml", "vid_suffix": ".tif"},
        "source": "isbi",
        "truncate_labels": True,  # the XML covers 100 frames, only 9 TIFFs are shipped
    }
    pairs = pair_files(spec)
    assert len(pairs) == 1 and len(pairs[0].extra["frames"]) == 9
    src = open_source(pairs[0].as_row())
    assert src.n_frames == 9 and (src.height, src.width) == (512, 512)
    first = next(iter(src.iter_frames()))
    assert first.frame_idx == 0 and len(first.instances) == expected
    assert first.instances[0].points.shape == (1, 2)
    spec.pop("truncate_labels")
    with pytest.raises(Exception, match="reference frame 99"):
        discover_dataset("isbi", spec)


def test_trackmate_latin1_csv():
    df = parse_trackmate(MICRO / "trackmate/test_airyscan_tracks.csv")
    assert df["track_id"].nunique() == 38
    assert df["frame"].min() == 0 and df["frame"].max() == 499
    assert df["track_id"].min() == 0
    assert len(df) == 12577


def test_icy_xml_parse():
    from dreem.io.isbi_icy import parse_isbi_icy

    df = parse_isbi_icy(MICRO / "icy/10_cells_1_gt.xml", "icy")
    assert df["track_id"].nunique() == 10 and (df["frame"] == 0).sum() == 10
