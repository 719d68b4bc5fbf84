"""Crop geometry and extraction into shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_fakes import NODES, coded_image, install, walking_frames

from dreem.config.data import DatasetSection, crop_params
from dreem.data.extract import extract_video, normalize_params
from dreem.data.geometry import (
    anchor_points,
    crop_windows,
    keep_mask,
    resolve_anchors,
    square_boxes,
)
from dreem.io.shards import read_shard
from dreem.utils.errors import ConfigError, InputDataError

PARAMS = {"crop_size": 6, "padding": 1, "anchors": "thorax", "handle_missing": "drop", "seed": 0}


@pytest.mark.parametrize("crop_size,padding", [(6, 1), (5, 0), (7, 2)])
@pytest.mark.parametrize(
    "xy", [(20.2, 15.7), (0.0, 0.0), (49.4, 39.49), (1.6, 38.0), (-2.0, 10.0), (48.0, 0.4)]
)
def test_crop_centre_pixel_is_frame_pixel_at_anchor(crop_size, padding, xy):
    img = coded_image(40, 50, 0, channels=2)
    boxes = square_boxes(np.array([xy], np.float32), crop_size, padding)
    side = crop_size + 2 * padding
    crop = crop_windows(img, boxes, side)[0]
    assert crop.shape == (2, side, side)
    assert boxes[0, 2] - boxes[0, 0] == side and boxes[0, 3] - boxes[0, 1] == side
    row, col = int(np.floor(xy[1] + 0.5)), int(np.floor(xy[0] + 0.5))
    centre = crop[:, side // 2, side // 2]
    if 0 <= row < 40 and 0 <= col < 50:
        np.testing.assert_array_equal(centre, img[row, col])
    else:
        assert (centre == 0).all()
    # every crop pixel is either the matching frame pixel or zero padding outside the frame
    y1, x1 = int(boxes[0, 0]), int(boxes[0, 1])
    for r in range(side):
        for c in range(side):
            fy, fx = y1 + r, x1 + c
            expect = img[fy, fx] if (0 <= fy < 40 and 0 <= fx < 50) else 0
            np.testing.assert_array_equal(crop[:, r, c], expect)


def test_nan_box_gives_zero_crop():
    img = coded_image(10, 10, 0)
    boxes = square_boxes(np.array([[np.nan, 3.0]], np.float32), 4, 0)
    assert np.isnan(boxes).all()
    assert (crop_windows(img, boxes, 4) == 0).all()


def _pts(*rows):
    return np.array(rows, np.float32)


def test_handle_missing_modes():
    pts = np.stack([_pts([1, 1], [4, 6], [7, 2]), _pts([1, 1], [np.nan, np.nan], [5, 3])])
    spec = resolve_anchors("thorax", NODES)
    drop = anchor_points(pts, spec, "drop")
    assert keep_mask(drop, "drop").tolist() == [True, False]
    ign = anchor_points(pts, spec, "ignore")
    assert keep_mask(ign, "ignore").tolist() == [True, True]
    assert np.isnan(ign[1]).all()
    cen = anchor_points(pts, spec, "centroid")
    np.testing.assert_allclose(cen[1, 0], [3.0, 2.0])  # nan-mean of visible nodes
    np.testing.assert_allclose(cen[0, 0], [4.0, 6.0])
    # with several anchors a missing one stays missing under "centroid"
    multi = anchor_points(pts, resolve_anchors(["head", "thorax"], NODES), "centroid")
    assert np.isfinite(multi[1, 0]).all() and np.isnan(multi[1, 1]).all()


def test_centroid_anchor_and_literal_centroid_node():
    pts = _pts([[0, 0], [2, 4], [np.nan, np.nan]])
    mid = anchor_points(pts, resolve_anchors("centroid", NODES), "drop")
    np.testing.assert_allclose(mid[0, 0], [1.0, 2.0])
    lit = anchor_points(pts, resolve_anchors("centroid", ["a", "centroid", "b"]), "drop")
    np.testing.assert_allclose(lit[0, 0], [2.0, 4.0])


def test_int_anchors_are_visible_nodes_or_midpoint_and_seeded():
    pts = np.stack([_pts([0, 0], [10, 10], [np.nan, np.nan])] * 50)
    spec = resolve_anchors(3, NODES)
    assert spec.n_anchors == 3 and spec.names == ("random:3",)
    a = anchor_points(pts, spec, "drop", np.random.default_rng(1))
    b = anchor_points(pts, spec, "drop", np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    allowed = {(0.0, 0.0), (10.0, 10.0), (5.0, 5.0)}
    seen = {tuple(map(float, p)) for p in a.reshape(-1, 2)}
    assert seen == allowed  # drawn from visible nodes + midpoint, never the invisible node


def test_unknown_anchor_name_suggests():
    with pytest.raises(ConfigError, match="thorx.*did you mean 'thorax'"):
        resolve_anchors("thorx", NODES)
    with pytest.raises(ConfigError, match="anchors: must name at least one node"):
        normalize_params({**PARAMS, "anchors": []})
    with pytest.raises(ConfigError, match="handle_missing.*did you mean 'drop'"):
        normalize_params({**PARAMS, "handle_missing": "dorp"})


def test_extraction_round_trip(monkeypatch, tmp_path):
    frames = walking_frames(12, 2)
    frames[5][1] = (1, _pts([1, 1], [np.nan, np.nan], [3, 3]))  # thorax missing → dropped
    row, src = install(monkeypatch, tmp_path, frames)
    out = tmp_path / "crops" / "v.parquet"
    stats = extract_video(row, PARAMS, out, progress=False)
    assert src.closed
    assert stats["n_frames_read"] == 12 and stats["n_instances"] == 23
    assert stats["n_dropped_missing"] == 1 and stats["n_dropped_nan"] == 2
    assert json.loads(out.with_suffix(".stats.json").read_text())["n_instances"] == 23
    data = read_shard(out)
    meta = data.meta
    assert meta.params["n_anchors"] == 1 and meta.crop_hw == (8, 8)
    assert meta.anchor_names == ["thorax"] and meta.node_names == NODES
    assert data.crops.shape == (23, 1, 1, 8, 8) and data.crops.dtype == np.uint16
    assert data.gt_track_id.tolist() == [0, 1] * 5 + [0] + [0, 1] * 6
    assert (data.frame_idx[:-1] <= data.frame_idx[1:]).all()
    for k in range(len(data)):
        f, i = int(data.frame_idx[k]), int(data.instance_idx[k])
        pts = frames[f][i][1]
        img = coded_image(40, 50, f)
        r, c = np.floor(pts[1, ::-1] + 0.5).astype(int)
        assert data.crops[k, 0, 0, 4, 4] == img[r, c, 0]
        np.testing.assert_allclose(data.bbox[k, 0], [r - 4, c - 4, r + 4, c + 4])
        np.testing.assert_allclose(data.centroid[k], np.nanmean(pts, 0), rtol=1e-5)
        np.testing.assert_allclose(data.pose[k], pts)


def test_multi_anchor_colour_crops(monkeypatch, tmp_path):
    row, _ = install(monkeypatch, tmp_path, walking_frames(3, 2), channels=3, dtype=np.uint8)
    out = tmp_path / "v.parquet"
    extract_video(row, {**PARAMS, "anchors": ["head", "tail", "centroid"]}, out, progress=False)
    data = read_shard(out)
    assert data.crops.shape == (6, 3, 3, 8, 8) and data.bbox.shape == (6, 3, 4)
    assert data.meta.anchor_names == ["head", "tail", "centroid"]


def test_shard_reused_or_rewritten(monkeypatch, tmp_path):
    row, _ = install(monkeypatch, tmp_path, walking_frames(4, 2))
    out = tmp_path / "v.parquet"
    first = extract_video(row, PARAMS, out, progress=False)
    mtime = out.stat().st_mtime_ns
    again = extract_video(row, dict(PARAMS), out, progress=False)
    assert again["skipped"] and again["n_instances"] == first["n_instances"]
    assert out.stat().st_mtime_ns == mtime
    # the seed does not matter for named anchors
    assert extract_video(row, {**PARAMS, "seed": 9}, out, progress=False)["skipped"]
    changed = extract_video(row, {**PARAMS, "crop_size": 4}, out, progress=False)
    assert not changed["skipped"] and read_shard(out).meta.crop_hw == (6, 6)


def test_failure_leaves_no_shard(monkeypatch, tmp_path):
    row, src = install(monkeypatch, tmp_path, walking_frames(10, 2), fail_at=6)
    out = tmp_path / "crops" / "v.parquet"
    with pytest.raises(RuntimeError, match="decoder died"):
        extract_video(row, PARAMS, out, progress=False)
    assert src.closed
    assert list(out.parent.iterdir()) == []


def test_crop_params_resolution_order():
    """Keys the dataset gives, else the model's training section, else the defaults."""
    spec = DatasetSection.model_validate({"crop_size": 64})
    model = DatasetSection.model_validate({"padding": 2, "anchors": "thorax", "crop_size": 96})
    p = crop_params(spec, model, seed=3)
    assert (p.crop_size, p.padding, p.anchors, p.handle_missing) == (64, 2, "thorax", "centroid")
    assert p.seed is None  # named anchors do not depend on the seed
    assert crop_params(DatasetSection.model_validate({"anchors": 2}), None, seed=3).seed == 3
    assert crop_params(None, None).crop_size == DatasetSection().crop_size == 128
    spec = DatasetSection.model_validate({"dir": {"path": ["/a", "/b"]}, "crop_size": [32, 48]})
    assert crop_params(spec, None, per_dir=1).crop_size == 48
    with pytest.raises(ConfigError, match="flies.crop_size: 2 values given"):
        crop_params(spec, None, key_path="flies")


SLEAP_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sleap"


@pytest.mark.skipif(not (SLEAP_DATA / "two_flies.slp").exists(), reason="shared test data absent")
def test_real_sleap_video_round_trip(tmp_path):
    from dreem.data.dataset import ClipDataset
    from dreem.io.video import read_frame_random_access

    row = {
        "dataset": "flies",
        "video_id": "two_flies",
        "format": "slp",
        "labels_path": str(SLEAP_DATA / "two_flies.slp"),
        "video_path": str(SLEAP_DATA / "two_flies.mp4"),
        "slp_video_index": 0,
        "extra": "{}",
    }
    out = tmp_path / "two_flies.parquet"
    params = {"crop_size": 16, "padding": 2, "anchors": ["thorax", "head"]}
    stats = extract_video(row, params, out, progress=False)
    assert stats["n_frames_read"] == 128 and stats["n_instances"] == 256
    data = read_shard(out)
    assert data.crops.shape == (256, 2, 1, 20, 20) and set(data.gt_track_id) == {0, 1}
    k = 77
    img = read_frame_random_access(SLEAP_DATA / "two_flies.mp4", int(data.frame_idx[k]), True)
    y1, x1 = data.bbox[k, 0, :2].astype(int)
    assert data.crops[k, 0, 0, 10, 10] == img[y1 + 10, x1 + 10, 0]
    ds = ClipDataset(
        [out], DatasetSection.model_validate({"clip_length": 32, "mode": "val"}), seed=0
    )
    assert len(ds) == 4
    clip = ds[1]
    assert clip.crops.shape == (64, 6, 20, 20) and clip.boxes.shape == (64, 2, 4)
    assert clip.frame_idx.tolist() == [f for f in range(32, 64) for _ in range(2)]


def test_centroid_only_sources_resolve_every_anchor_to_the_centroid():
    spec = resolve_anchors(["thorax", "head"], ["centroid"])
    assert spec.indices == (0, 0) and spec.n_anchors == 2
    with pytest.raises(ConfigError, match="not in the skeleton"):
        resolve_anchors("thorax", ["centroid", "other"])


def test_crop_stage_error_names_video_and_stops_threads(monkeypatch, tmp_path):
    import threading

    before = threading.active_count()
    row, src = install(monkeypatch, tmp_path, walking_frames(30, 2), bad_shape_at=3)
    out = tmp_path / "v.parquet"
    with pytest.raises(InputDataError, match=r"frame 3 of .*v\.mp4 is 50x39"):
        extract_video(row, PARAMS, out, progress=False)
    assert not out.exists() and src.closed
    assert threading.active_count() == before


def test_extraction_streams_in_row_groups_of_whole_frames(monkeypatch, tmp_path):
    import pyarrow.parquet as pq

    import dreem.data.extract as ex

    monkeypatch.setattr(ex, "ROW_GROUP_BYTES", 1)  # → the minimum rows per group
    row, _ = install(monkeypatch, tmp_path, walking_frames(40, 3))
    out = tmp_path / "v.parquet"
    assert extract_video(row, PARAMS, out, progress=False)["n_instances"] == 120
    pf = pq.ParquetFile(out)
    assert pf.num_row_groups > 3
    groups = [
        pf.read_row_group(i, columns=["frame_idx"]).column(0).to_pylist()
        for i in range(pf.num_row_groups)
    ]
    for a, b in zip(groups, groups[1:], strict=False):
        assert a[-1] < b[0]  # no frame split across row groups
