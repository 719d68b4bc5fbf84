"""Tests for dreem.inference.motion: the per-track Kalman filter and the MotionTracker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dreem.config.tracker import MotionConfig, TrackerConfig
from dreem.evaluation.evaluate import evaluate_tracks
from dreem.inference.baseline import CentroidTracker
from dreem.inference.motion import MotionTrack, MotionTracker, kalman_params, predict_centroids


def _boxes(cen: np.ndarray, half: float = 5.0) -> np.ndarray:
    """(n, 1, 4) square boxes (y1, x1, y2, x2) around centroids (x, y)."""
    x, y = cen[:, 0], cen[:, 1]
    return np.stack([y - half, x - half, y + half, x + half], axis=1)[:, None, :]


def _switches(frame_idx, track_id, gt) -> int:
    df = pd.DataFrame({"frame_idx": frame_idx, "track_id": track_id, "gt_track_id": gt})
    summary, _ = evaluate_tracks(df, metrics=["num_switches"])
    return int(summary.value.iloc[0])


def _video(paths: list[np.ndarray], frames: np.ndarray | None = None):
    """Flat per-instance arrays for objects following ``paths`` (each (T, 2)); NaN rows of a
    path are missing detections. Returns frame_idx, boxes, centroids, gt ids."""
    n_frames = len(paths[0])
    frames = np.arange(n_frames) if frames is None else frames
    rows = [(frames[t], k, p[t]) for t in range(n_frames) for k, p in enumerate(paths)]
    rows = [r for r in rows if np.all(np.isfinite(r[2]))]
    fidx = np.array([r[0] for r in rows])
    gt = np.array([r[1] for r in rows])
    cen = np.stack([r[2] for r in rows])
    return fidx, _boxes(cen), cen, gt


def test_constant_velocity_prediction_and_gap():
    track = MotionTrack([0.0, 0.0], frame=0, params=kalman_params(MotionConfig(meas_std=0.1)))
    for t in range(1, 6):
        track.update([10.0 * t, -3.0 * t], frame=t)
    np.testing.assert_allclose(track.velocity, [10.0, -3.0], atol=0.3)
    c, box = track.predict(9)  # four frames ahead
    np.testing.assert_allclose(c, [90.0, -27.0], atol=1.0)
    assert box is None and track.frame == 5  # predicting does not change the track
    # the uncertainty grows with the gap
    assert np.trace(track.predict_cov(9)) > np.trace(track.predict_cov(6)) > 0
    # after a 3-frame gap the next detection is far from the last one but close to the
    # prediction; the update pulls the state to it
    track.update([90.5, -27.0], frame=9)
    c, _ = track.predict(10)
    np.testing.assert_allclose(c, [100.5, -30.0], atol=1.5)
    with pytest.raises(ValueError, match="cannot predict"):
        track.predict(8)


def test_velocity_decay_bounds_long_gaps():
    fading = MotionTrack(
        [0.0, 0.0], 0, params=kalman_params(MotionConfig(meas_std=0.1, velocity_decay=0.8))
    )
    steady = MotionTrack([0.0, 0.0], 0, params=kalman_params(MotionConfig(meas_std=0.1)))
    for t in range(1, 4):
        fading.update([10.0 * t, 0.0], t)
        steady.update([10.0 * t, 0.0], t)
    far_fading = fading.predict(100)[0][0]
    assert steady.predict(100)[0][0] == pytest.approx(1000.0, rel=0.05)
    assert 30.0 < far_fading < 30.0 + 10.0 / (1 - 0.8) + 5  # geometric series limit


def test_box_follows_the_prediction_with_a_filtered_size():
    track = MotionTrack([50.0, 50.0], 0, box=[40, 40, 60, 60])  # 20 x 20
    track.update([55.0, 50.0], 1, box=[40, 44, 60, 66])  # 22 wide
    c, box = track.predict(2)
    w, h = box[3] - box[1], box[2] - box[0]
    assert 20.0 < w < 22.0 and h == pytest.approx(20.0)
    assert (box[1] + box[3]) / 2 == pytest.approx(c[0]) and (box[0] + box[2]) / 2 == c[1]


def test_predict_centroids_matches_each_track():
    rng = np.random.default_rng(0)
    tracks = []
    for k in range(5):
        decay = 1.0 if k % 2 else 0.9
        tr = MotionTrack(
            rng.uniform(0, 100, 2), 0, params=kalman_params(MotionConfig(velocity_decay=decay))
        )
        for t in range(1, 2 + k):
            tr.update(rng.uniform(0, 100, 2), t)
        tracks.append(tr)
    many = predict_centroids(tracks, 12)
    one = np.stack([tr.predict(12)[0] for tr in tracks])
    np.testing.assert_allclose(many, one, atol=1e-9)
    assert predict_centroids([], 3).shape == (0, 2)


def test_crossing_centroid_swaps_motion_keeps_ids():
    """Two animals crossing in an X at 10 px/frame: nearest-centroid swaps them at the
    crossing, the motion linker follows the velocity."""
    t = np.arange(12, dtype=float)
    a = np.stack([10 * t, 10 * t], axis=1)
    b = np.stack([10 * t, 105 - 10 * t], axis=1)
    fidx, boxes, cen, gt = _video([a, b])
    centroid = CentroidTracker(TrackerConfig(max_tracks=2)).track_video(fidx, boxes, cen)
    motion = MotionTracker(TrackerConfig(max_tracks=2)).track_video(fidx, boxes, cen)
    assert _switches(fidx, centroid.track_id, gt) >= 1
    assert _switches(fidx, motion.track_id, gt) == 0
    assert np.all((motion.confidence >= 0) & (motion.confidence <= 1))


def test_detection_gap_is_bridged():
    t = np.arange(20, dtype=float)
    a = np.stack([8 * t, np.full_like(t, 20.0)], axis=1)
    b = np.stack([160 - 8 * t, np.full_like(t, 32.0)], axis=1)
    a[8:11] = np.nan  # a is missing for 3 frames while b passes by
    fidx, boxes, cen, gt = _video([a, b])
    res = MotionTracker(TrackerConfig(max_center_dist=30)).track_video(fidx, boxes, cen)
    assert sorted(set(res.track_id)) == [0, 1]  # no new id after the gap
    assert _switches(fidx, res.track_id, gt) == 0


def test_ids_start_at_zero_never_collide_and_max_tracks_holds():
    rng = np.random.default_rng(1)
    t = np.arange(30, dtype=float)[:, None]
    paths = [rng.uniform(0, 300, 2) + rng.uniform(-6, 6, 2) * t for _ in range(3)]
    paths[2][:10] = np.nan  # a third animal appears late
    fidx, boxes, cen, gt = _video(paths)
    res = MotionTracker(TrackerConfig(max_center_dist=15)).track_video(fidx, boxes, cen)
    assert res.track_id.min() == 0 and set(res.track_id[fidx == 0]) == {0, 1}
    assert set(res.track_id[fidx == 10]) == {0, 1, 2}  # the newcomer gets the next id
    for f in np.unique(fidx):
        ids = res.track_id[fidx == f]
        assert len(set(ids)) == len(ids)
    capped = MotionTracker(TrackerConfig(max_center_dist=15, max_tracks=2)).track_video(
        fidx, boxes, cen
    )
    assert set(capped.track_id) <= {-1, 0, 1}
    assert (capped.track_id >= 0).sum() == 2 * 30  # two ids per frame, the third left out
    # an id retired by max_gap (in processed frames) is not reused: the returning animal
    # gets a fresh id, the other one keeps its own
    b = paths[0].copy()
    b[10:20] = np.nan
    fidx, boxes, cen, gt = _video([b, paths[1]])
    res = MotionTracker(TrackerConfig(max_gap=3)).track_video(fidx, boxes, cen)
    assert set(res.track_id[(gt == 0) & (fidx < 10)]) == {0}
    assert set(res.track_id[(gt == 0) & (fidx >= 20)]) == {2}
    assert set(res.track_id[gt == 1]) == {1}


def test_deterministic_and_empty():
    rng = np.random.default_rng(2)
    paths = [rng.uniform(50, 250, 2) + rng.normal(0, 7, (40, 2)).cumsum(0) for _ in range(4)]
    fidx, boxes, cen, gt = _video(paths)
    one = MotionTracker(TrackerConfig(max_tracks=4)).track_video(fidx, boxes, cen)
    two = MotionTracker(TrackerConfig(max_tracks=4)).track_video(fidx, boxes, cen)
    np.testing.assert_array_equal(one.track_id, two.track_id)
    np.testing.assert_array_equal(one.confidence, two.confidence)
    empty = MotionTracker(TrackerConfig()).track_video(
        np.zeros(0, int), np.zeros((0, 1, 4)), np.zeros((0, 2))
    )
    assert len(empty.track_id) == 0
    with pytest.raises(ValueError, match="sorted"):
        MotionTracker(TrackerConfig()).track_video(fidx[::-1], boxes[::-1], cen[::-1])


def test_fewer_switches_than_centroid_on_a_hard_clip():
    from dreem.synth.identity import ClipSpec, clip_detections, simulate_identity_clip

    spec = ClipSpec(n_animals=4, n_frames=150, size=(256, 256), body_length=24.0)
    det = clip_detections(simulate_identity_clip(spec, seed=3))
    args = (det.frame_idx, det.boxes, det.centroid)
    centroid = CentroidTracker(TrackerConfig(max_tracks=4)).track_video(*args)
    motion = MotionTracker(
        TrackerConfig(max_tracks=4, motion=MotionConfig(accel_std=6.0))
    ).track_video(*args)
    n_c = _switches(det.frame_idx, centroid.track_id, det.gt_track_id)
    n_m = _switches(det.frame_idx, motion.track_id, det.gt_track_id)
    assert n_m < 0.7 * n_c
