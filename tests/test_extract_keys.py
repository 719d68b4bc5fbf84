"""Optional dataset keys applied at extraction: apply_mask_to_crop, dilation_radius_px,
max_detection_overlap, max_tracks, use_tight_bbox."""

from __future__ import annotations

import numpy as np
import pytest
from test_data_fakes import FakeSource, coded_image, install

from dreem.config.data import DatasetSection, crop_params
from dreem.data.extract import extract_video, normalize_params
from dreem.data.filters import intersection_over_min
from dreem.io.shards import read_shard
from dreem.io.sources import SourceFrame, SourceInstance
from dreem.utils.errors import ConfigError

H, W = 40, 50
NAN2 = [[np.nan, np.nan]] * 2
BASE = {"crop_size": 10, "padding": 1, "anchors": "centroid", "handle_missing": "ignore"}


class RichSource(FakeSource):
    """FakeSource whose frames are lists of ready-made SourceInstance (masks, scores)."""

    def __init__(self, labels_path, video_path, frames):
        super().__init__(labels_path, video_path, {f: [] for f in frames}, h=H, w=W)
        self.rich = frames

    def iter_frames(self, progress: bool = False):
        for f in sorted(self.rich):
            yield SourceFrame(f, coded_image(H, W, f), list(self.rich[f]))


def _inst(i, pts, score=1.0, predicted=False, mask=None, track=None):
    return SourceInstance(
        instance_idx=i,
        track_id=i if track is None else track,
        track_name=None,
        score=score,
        points=np.asarray(pts, np.float32),
        mask=mask,
        is_predicted=predicted,
    )


def _extract(monkeypatch, tmp_path, frames, params):
    row, src = install(monkeypatch, tmp_path, {0: [(0, np.zeros((3, 2)))]})
    rich = RichSource(src.labels_path, src.video_path, frames)
    import dreem.io.sources as sources

    monkeypatch.setattr(sources, "open_source", lambda row: rich)
    out = tmp_path / "v.parquet"
    stats = extract_video(row, {**BASE, **params}, out, progress=False)
    return stats, read_shard(out)


def _window(data, k):
    """Frame pixel (row, col) of crop pixel (0, 0) of shard row k (square window)."""
    side = data.meta.crop_hw[0]
    cx, cy = data.centroid[k]
    r, c = int(np.floor(cy + 0.5)), int(np.floor(cx + 0.5))
    return r - side // 2, c - side // 2


def test_apply_mask_to_crop_zeroes_outside_own_mask(monkeypatch, tmp_path):
    mask = np.zeros((H, W), bool)
    mask[18:23, 20:26] = True
    other = np.zeros((H, W), bool)
    other[23:26, 20:26] = True  # a neighbour's mask inside the same window
    frames = {0: [_inst(0, [[22.5, 20.0]], mask=mask), _inst(1, [[23.0, 24.0]], mask=other)]}
    _, plain = _extract(monkeypatch, tmp_path, frames, {})
    assert (plain.crops[0] > 0).all()
    _, masked = _extract(monkeypatch, tmp_path, frames, {"apply_mask_to_crop": True})
    assert masked.meta.params["apply_mask_to_crop"] is True
    y0, x0 = _window(masked, 0)
    crop = masked.crops[0, 0, 0]
    img = coded_image(H, W, 0)[..., 0]
    for r in range(crop.shape[0]):
        for c in range(crop.shape[1]):
            fy, fx = y0 + r, x0 + c
            inside = 0 <= fy < H and 0 <= fx < W and mask[fy, fx]
            assert crop[r, c] == (img[fy, fx] if inside else 0)


def test_dilation_radius_keeps_pixels_near_keypoints(monkeypatch, tmp_path):
    pts = [[20.0, 18.0], [26.0, 22.0], [np.nan, np.nan]]
    frames = {0: [_inst(0, pts)]}
    stats, data = _extract(monkeypatch, tmp_path, frames, {"dilation_radius_px": 2})
    assert data.meta.params["dilation_radius_px"] == 2
    y0, x0 = _window(data, 0)
    crop = data.crops[0, 0, 0]
    vis = np.array(pts[:2])
    n_kept = 0
    for r in range(crop.shape[0]):
        for c in range(crop.shape[1]):
            d = np.hypot(vis[:, 0] - (x0 + c), vis[:, 1] - (y0 + r)).min()
            assert (crop[r, c] != 0) == (d <= 2)
            n_kept += d <= 2
    assert 10 < n_kept < crop.size


def test_max_detection_overlap_drops_fewer_keypoints_then_later(monkeypatch, tmp_path):
    full = [[20.0, 20.0], [22.0, 21.0], [24.0, 22.0]]
    part = [[21.0, 20.0], [np.nan, np.nan], [25.0, 23.0]]  # box shifted by one pixel
    far = [[5.0, 35.0], [6.0, 35.0], [7.0, 35.0]]
    frames = {
        0: [_inst(0, part), _inst(1, full), _inst(2, far)],  # 0 has fewer keypoints
        1: [_inst(0, full), _inst(1, full), _inst(2, far)],  # tie: the later one goes
    }
    kept, plain = _extract(monkeypatch, tmp_path, frames, {})
    assert kept["n_instances"] == 6 and kept["n_dropped_overlap"] == 0
    assert 0.5 < intersection_over_min(plain.bbox[:2])[0, 1] < 0.9
    stats, data = _extract(monkeypatch, tmp_path, frames, {"max_detection_overlap": 0.5})
    assert stats["n_dropped_overlap"] == 2 and stats["n_instances"] == 4
    assert data.instance_idx[data.frame_idx == 0].tolist() == [1, 2]
    assert data.instance_idx[data.frame_idx == 1].tolist() == [0, 2]
    _, loose = _extract(monkeypatch, tmp_path, frames, {"max_detection_overlap": 0.999})
    assert len(loose) == 5  # only the identical pair of frame 1 overlaps fully


def test_max_tracks_drops_lowest_score_predictions_only(monkeypatch, tmp_path):
    def pts(x):
        return [[x, 10.0], [x + 1, 11.0], [x + 2, 12.0]]

    frames = {
        0: [
            _inst(0, pts(5)),  # user label
            _inst(1, pts(15), 0.9, True),
            _inst(2, pts(25), 0.5, True),
            _inst(3, pts(35), 0.5, True),
        ],
        1: [_inst(0, pts(5)), _inst(1, pts(15)), _inst(2, pts(25))],  # users only
    }
    stats, data = _extract(monkeypatch, tmp_path, frames, {"max_tracks": 2})
    assert data.instance_idx[data.frame_idx == 0].tolist() == [0, 1]
    assert data.instance_idx[data.frame_idx == 1].tolist() == [0, 1, 2]  # never dropped
    assert stats["n_dropped_max_tracks"] == 2
    stats, data = _extract(monkeypatch, tmp_path, frames, {"max_tracks": 1})
    assert data.instance_idx[data.frame_idx == 0].tolist() == [0]
    assert stats["n_dropped_max_tracks"] == 3
    assert normalize_params({**BASE, "max_tracks": float("inf")}) == normalize_params(BASE)


def test_use_tight_bbox_records_tight_box_keeps_square_crop(monkeypatch, tmp_path):
    pts = [[20.0, 18.0], [27.0, 22.0], [np.nan, np.nan]]
    mask = np.zeros((H, W), bool)
    mask[5:9, 30:37] = True
    frames = {
        0: [
            _inst(0, pts),
            _inst(1, [[33.0, 7.0]] + NAN2, mask=mask),
            _inst(2, [[10.0, 30.0]] + NAN2),
        ]
    }
    _, square = _extract(monkeypatch, tmp_path, frames, {})
    _, tight = _extract(monkeypatch, tmp_path, frames, {"use_tight_bbox": True})
    assert tight.meta.params["use_tight_bbox"] is True
    p = BASE["padding"]
    np.testing.assert_allclose(tight.bbox[0, 0], [18 - p, 20 - p, 22 + p, 27 + p])
    np.testing.assert_allclose(tight.bbox[1, 0], [5 - p, 30 - p, 9 + p, 37 + p])
    np.testing.assert_allclose(tight.bbox[2], square.bbox[2])  # a single point: square box
    # the pixel crops are the same fixed-size windows as without tight boxes
    assert tight.meta.crop_hw == square.meta.crop_hw
    np.testing.assert_array_equal(tight.crops, square.crops)


def test_keys_flow_through_params_and_reextract(monkeypatch, tmp_path):
    spec = DatasetSection.model_validate({"use_tight_bbox": True})
    model = DatasetSection.model_validate({"max_tracks": 3, "dilation_radius_px": 0})
    p = crop_params(spec, model)
    assert p.use_tight_bbox is True and p.max_tracks == 3
    spec = DatasetSection.model_validate(
        {"dir": {"path": ["/a", "/b"]}, "dilation_radius_px": [0, 4]}
    )
    assert crop_params(spec, None, per_dir=1).dilation_radius_px == 4
    with pytest.raises(ConfigError, match="max_detection_overlap: 2.0 is above the maximum 1"):
        normalize_params({**BASE, "max_detection_overlap": 2.0})
    with pytest.raises(ConfigError, match="apply_mask_to_crop"):
        normalize_params({**BASE, "apply_mask_to_crop": "yes"})
    frames = {0: [_inst(0, [[20.0, 18.0], [27.0, 22.0], [25.0, 20.0]])]}
    first, _ = _extract(monkeypatch, tmp_path, frames, {})
    again, _ = _extract(monkeypatch, tmp_path, frames, {"use_tight_bbox": False})
    assert again["skipped"]  # a default value does not invalidate the shard
    changed, _ = _extract(monkeypatch, tmp_path, frames, {"dilation_radius_px": 3})
    assert not changed["skipped"]


def test_unsupported_values_warn_with_key_path_and_reason():
    from dreem.config import load_dreem_config
    from dreem.utils.errors import ConfigWarning

    cfg = {
        "dataset": {"train_dataset": {"normalize_image": False}},
        "tracker": {"enable_crop_saving": True},
        "view_batch": {"enable": True},
    }
    with pytest.warns(ConfigWarning) as record:
        loaded = load_dreem_config(cfg)  # an existing DREEM config still loads
    text = "\n".join(str(w.message) for w in record)
    for path, value in (
        ("dataset.train_dataset.normalize_image", False),
        ("tracker.enable_crop_saving", True),
        ("view_batch.enable", True),
    ):
        assert f"{path}: {value} is not supported by dreem-pipeline and has no effect" in text
    assert loaded.tracker.enable_crop_saving is True
    # defaults and the newly implemented keys are accepted
    ok = load_dreem_config(
        {"dataset": {"train_dataset": {"use_tight_bbox": True, "max_detection_overlap": 0.5}}}
    )
    assert ok.dataset.train_dataset.use_tight_bbox is True
