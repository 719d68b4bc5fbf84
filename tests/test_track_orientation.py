"""Tracker soft penalties: orientation (max_angle_diff, front/back nodes) and distance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dreem.config.tracker import TrackerConfig
from dreem.inference.penalties import angle_penalty, instance_axes, pca_axes
from dreem.inference.tracker import Tracker
from dreem.utils.errors import ConfigError


def _pose(cx: float, cy: float, angle_deg: float, n: int = 3, half: float = 6.0) -> np.ndarray:
    """``n`` nodes on a line through (cx, cy) at ``angle_deg``; node 0 is the front."""
    t = np.linspace(half, -half, n)
    a = np.deg2rad(angle_deg)
    return np.stack([cx + t * np.cos(a), cy + t * np.sin(a)], -1).astype(np.float32)


def _video(instances):
    """instances: list of (frame, cx, cy, angle) -> frame_idx, boxes, centroids, poses."""
    frame_idx = np.array([f for f, *_ in instances])
    cents = np.array([[x, y] for _, x, y, _ in instances], np.float64)
    boxes = np.stack([[[y - 5, x - 5, y + 5, x + 5]] for x, y in cents]).astype(np.float64)
    poses = np.stack([_pose(x, y, a) for _, x, y, a in instances])
    return frame_idx, boxes, cents, poses


def _assoc(logits: dict[tuple[int, int], float]):
    """An associate callable: logit 0 except for the given (query_row, ref_row) pairs."""

    def associate(ref_rows, query_rows):
        out = np.zeros((len(query_rows), len(ref_rows)))
        for i, q in enumerate(query_rows):
            for j, r in enumerate(ref_rows):
                out[i, j] = logits.get((int(q), int(r)), 0.0)
        return out

    return associate


# rows 0 and 1: frame 0, a horizontal and a vertical animal; row 2: frame 1, a horizontal
# animal half-way between them, which the model slightly prefers to match with row 1
ORIENT = [(0, 40.0, 50.0, 0.0), (0, 60.0, 50.0, 90.0), (1, 50.0, 50.0, 2.0)]
PREFER_VERTICAL = _assoc({(2, 1): 1.0})


def test_orientation_penalty_flips_assignment_to_aligned_track():
    f, b, c, p = _video(ORIENT)
    off = Tracker(TrackerConfig.model_validate({})).track_video(PREFER_VERTICAL, f, b, c, poses=p)
    assert off.track_id[2] == off.track_id[1]
    on = Tracker(TrackerConfig.model_validate({"max_angle_diff": 10})).track_video(
        PREFER_VERTICAL, f, b, c, poses=p
    )
    assert on.track_id[2] == on.track_id[0]
    # within the allowed angle there is no penalty; a zero multiplier disables it too
    wide = Tracker(TrackerConfig.model_validate({"max_angle_diff": 89})).track_video(
        PREFER_VERTICAL, f, b, c, poses=p
    )
    assert wide.track_id[2] == wide.track_id[1]
    zero = Tracker(
        TrackerConfig.model_validate({"max_angle_diff": 10, "angle_diff_penalty_multiplier": 0})
    )
    assert zero.track_video(PREFER_VERTICAL, f, b, c, poses=p).track_id[2] == off.track_id[1]


def test_orientation_without_poses_is_off_with_warning(caplog):
    f, b, c, _ = _video(ORIENT)
    with caplog.at_level("WARNING"):
        res = Tracker(TrackerConfig.model_validate({"max_angle_diff": 10})).track_video(
            PREFER_VERTICAL, f, b, c
        )
    assert res.track_id[2] == res.track_id[1]
    assert "orientation penalty is off" in caplog.text


def test_front_back_nodes_define_the_axis():
    names = ["head", "thorax", "tail"]
    # head and tail vertical, thorax far to the side: PCA is not vertical, front−back is
    pose = np.array([[[0.0, 0.0], [30.0, 5.0], [0.0, 10.0]]])
    ax = instance_axes(pose, names, ["head"], ["tail"])
    assert np.allclose(ax[0], [0.0, -1.0])
    assert abs(instance_axes(pose, names)[0, 1]) < 0.9  # PCA axis differs
    # first *present* node of each list; missing front falls back to PCA
    pose2 = pose.copy()
    pose2[0, 0] = np.nan
    ax2 = instance_axes(pose2, names, ["head", "thorax"], ["tail"])
    assert np.allclose(ax2[0], np.array([30.0, -5.0]) / math.hypot(30, 5))
    ax3 = instance_axes(pose2, names, ["head"], ["tail"])
    assert np.allclose(np.abs(ax3[0]), np.abs(pca_axes(pose2)[0]))


def test_pca_axis_is_first_right_singular_vector():
    t = np.linspace(-5, 5, 7)
    d = np.array([1.0, 2.0]) / math.sqrt(5)
    pts = (t[:, None] * d + [[3.0, 4.0]])[None]
    pts[0, 1] += [0.05, -0.05]
    pts[0, 3] = np.nan  # invisible nodes are ignored
    ax = pca_axes(pts)[0]
    assert abs(abs(ax @ d) - 1) < 1e-3  # parallel to the line (Vt[:, 0] would not be)
    assert np.isnan(pca_axes(np.full((1, 3, 2), np.nan))).all()


def test_angle_penalty_folds_head_tail():
    a = np.array([[1.0, 0.0]])
    b = np.array([[-math.cos(math.radians(10)), math.sin(math.radians(10))], [0.0, 1.0]])
    pen = angle_penalty(a, b, 5.0)
    assert pen[0, 0] == pytest.approx(math.radians(5), abs=1e-6)  # 170° folds to 10°
    assert pen[0, 1] == pytest.approx(math.radians(85), abs=1e-6)
    assert angle_penalty(a, np.array([[np.nan, np.nan]]), 0.0)[0, 0] == 0.0


# distance: rows 0 and 1 are tracks at x = 20 and x = 100; row 2 at x = 30 is preferred by
# the model for the far track (row 1)
DIST = [(0, 20.0, 50.0, 0.0), (0, 100.0, 50.0, 0.0), (1, 30.0, 50.0, 0.0)]
PREFER_FAR = _assoc({(2, 1): 1.0})


def test_distance_penalty_soft_and_gate():
    f, b, c, _ = _video(DIST)
    base = Tracker(TrackerConfig.model_validate({})).track_video(PREFER_FAR, f, b, c)
    assert base.track_id[2] == base.track_id[1]
    soft = Tracker(TrackerConfig.model_validate({"max_center_dist": 20})).track_video(
        PREFER_FAR, f, b, c
    )
    assert soft.track_id[2] == soft.track_id[0]
    weak = Tracker(
        TrackerConfig.model_validate({"max_center_dist": 20, "distance_penalty_multiplier": 1e-4})
    )
    assert weak.track_video(PREFER_FAR, f, b, c).track_id[2] == base.track_id[1]
    gate = Tracker(
        TrackerConfig.model_validate({"max_center_dist": 20, "distance_penalty_multiplier": 0})
    )
    assert gate.track_video(PREFER_FAR, f, b, c).track_id[2] == base.track_id[0]


def test_single_far_track_gate_vs_soft():
    f, b, c, _ = _video([(0, 20.0, 50.0, 0.0), (1, 80.0, 50.0, 0.0)])
    assoc = _assoc({(1, 0): 3.0})
    gated = Tracker(
        TrackerConfig.model_validate({"max_center_dist": 20, "distance_penalty_multiplier": 0})
    )
    assert list(gated.track_video(assoc, f, b, c).track_id) == [0, 1]  # never linked
    half = Tracker(
        TrackerConfig.model_validate({"max_center_dist": 20, "distance_penalty_multiplier": 0.5})
    )
    assert list(half.track_video(assoc, f, b, c).track_id) == [0, 0]  # penalised, linked


def test_new_keys_validated():
    from dreem.config import load_dreem_config

    cfg = load_dreem_config({"tracker": {"front_nodes": "head", "max_angle_diff": None}}).tracker
    assert cfg.front_nodes == ["head"] and cfg.back_nodes is None
    assert not cfg.angle_penalty_on
    with pytest.raises(ConfigError, match="tracker.angle_diff_penalty_multiplier"):
        load_dreem_config({"tracker": {"angle_diff_penalty_multiplier": -1}})
    with pytest.raises(ConfigError, match=r"tracker.front_nodes\[0\]"):
        load_dreem_config({"tracker": {"front_nodes": [1]}})
