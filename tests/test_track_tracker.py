"""Tracker, baseline and track_shard behaviour on synthetic shards with a fake model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fakes import FakeModel, write_synthetic_shard

from dreem.config.dreem import DreemConfig
from dreem.config.tracker import TrackerConfig
from dreem.evaluation.evaluate import evaluate_tracks
from dreem.inference.track import track_shard
from dreem.inference.tracker import Tracker, windowed_softmax
from dreem.utils.errors import ConfigError


def _metric(summary, name):
    return float(summary.set_index("metric").value[name])


def _track(tmp_path, shard, cfg=None, model=None, name="out"):
    model = model or FakeModel()
    tracker = TrackerConfig.model_validate(cfg or {})
    return track_shard((model, DreemConfig()), shard, tracker, tmp_path / name, progress=False)


def test_ids_start_at_zero_and_input_ids_not_copied(tmp_path):
    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=15, n_animals=3, gt_offset=7)
    t = _track(tmp_path, shard)
    assert sorted(t.track_id.unique()) == [0, 1, 2]
    assert set(t.gt_track_id.unique()) == {7, 8, 9}
    summary, _ = evaluate_tracks(t)
    assert _metric(summary, "num_switches") == 0
    assert _metric(summary, "mota") == 1.0
    assert t.confidence.between(0, 1).all()
    assert (tmp_path / "out.parquet").is_file() and (tmp_path / "out.csv").is_file()


def test_max_tracks_never_exceeded_with_spurious_detections(tmp_path):
    extra = {f: [(60.0, 10.0 + f)] for f in range(3, 20, 4)}
    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=24, n_animals=2, extra=extra)
    free = _track(tmp_path, shard, {"max_gap": 1}, name="free")
    assert free.track_id[free.track_id >= 0].nunique() > 2  # spurious ones get new ids
    capped = _track(tmp_path, shard, {"max_tracks": 2, "max_gap": 1}, name="capped")
    ids = capped.track_id[capped.track_id >= 0]
    assert ids.nunique() <= 2
    # the real animals keep their identities; the extra detection is left unassigned
    real = capped[capped.gt_track_id >= 0]
    assert real.groupby("gt_track_id").track_id.nunique().max() == 1
    assert (capped[capped.gt_track_id < 0].track_id == -1).all()


def test_max_tracks_reuses_expired_ids(tmp_path):
    # animal 1 disappears for 6 frames; with max_gap 2 its track expires
    drop = {(f, 1) for f in range(5, 11)}
    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=16, n_animals=2, drop=drop)
    free = _track(tmp_path, shard, {"max_gap": 2}, name="free")
    assert free.track_id.nunique() == 3  # a new, non-colliding id after expiry
    after = free[(free.gt_track_id == 1) & (free.frame_idx > 10)].track_id.unique()
    assert list(after) == [2]
    capped = _track(tmp_path, shard, {"max_gap": 2, "max_tracks": 2}, name="capped")
    assert capped.track_id.nunique() == 2
    assert capped.groupby("gt_track_id").track_id.nunique().max() == 1


def test_state_reset_between_videos(tmp_path):
    from dreem.inference.track import encode_shard, model_associate
    from dreem.io.shards import read_shard

    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=5, n_animals=2)
    data = read_shard(shard, with_crops=False)
    model = FakeModel()
    assoc = model_associate(model, encode_shard(model, shard), data.bbox, data.frame_idx)
    tracker = Tracker(TrackerConfig.model_validate({}))
    a = tracker.track_video(assoc, data.frame_idx, data.bbox, data.centroid)
    b = tracker.track_video(assoc, data.frame_idx, data.bbox, data.centroid)
    assert np.array_equal(a.track_id, b.track_id)  # second video starts again at id 0
    assert sorted(set(b.track_id)) == [0, 1]


def test_decay_time_weights_recent_frames_more():
    # one track seen at steps 0..3; the query looks like the OLD appearances, not the recent
    frame_idx = np.array([0, 1, 2, 3, 4])
    boxes = np.zeros((5, 1, 4))
    cen = np.zeros((5, 2))

    def scores(decay):
        tr = Tracker(TrackerConfig.model_validate({"decay_time": decay, "window_size": 8}))
        from collections import deque

        q = deque([0, 1, 2, 3], maxlen=8)
        logits = np.array([[3.0, 3.0, 3.0, -3.0]])
        *_, means = tr._score(  # weighted per-appearance mean (mult_thresh: true)
            lambda ref, query: logits,
            np.array([4]),
            [0],
            {0: q},
            4,
            frame_idx,
            frame_idx,
            boxes,
            cen,
        )
        return float(means[0, 0])

    plain, decayed = scores(None), scores(0.5)
    assert decayed < plain  # the dissimilar most recent appearance now dominates
    assert scores(0.9) > decayed


def test_stale_short_track_cannot_outscore_established_one():
    """Two look-alike tracks: 8 recent appearances vs 3 old ones with equal per-frame
    probabilities. The established track must score higher (a per-appearance mean tied)."""
    from collections import deque

    frame_idx = np.arange(12)
    boxes = np.zeros((12, 1, 4))
    cen = np.zeros((12, 2))
    tr = Tracker(TrackerConfig.model_validate({"window_size": 8, "iou": None}))
    queues = {0: deque(range(3, 11), maxlen=8), 1: deque([0, 1, 2], maxlen=8)}
    logits = np.zeros((1, 11))  # every reference looks the same as the query
    scores, *_ = tr._score(
        lambda ref, query: logits,
        np.array([11]),
        [0, 1],
        queues,
        11,
        frame_idx,
        frame_idx,
        boxes,
        cen,
    )
    assert scores[0, 0] > scores[0, 1]
    assert 0.0 <= scores.min() and scores.max() <= 1.0


def _two_animals_one_unrecognised_frame(overlap_thresh: float) -> np.ndarray:
    """Track ids of two animals standing apart for 6 frames; at frame 3 the model sees
    animal 1 as unlike every earlier appearance (its own by 1e-4, the other's by 1e-8)."""
    n_frames = 6
    frame_idx = np.repeat(np.arange(n_frames), 2)
    animal = np.tile([0, 1], n_frames)
    cen = np.stack([40.0 + 40.0 * animal, np.full(len(animal), 50.0)], axis=1)
    boxes = np.concatenate([cen[:, ::-1] - 4, cen[:, ::-1] + 4], axis=1)[:, None, :]

    def associate(ref, query):
        same = animal[query][:, None] == animal[ref][None, :]
        logits = np.where(same, 6.0, -6.0)
        odd = (frame_idx[query] == 3) & (animal[query] == 1)
        logits[odd] = np.where(same[odd], -9.0, -18.0)
        return logits

    cfg = {"overlap_thresh": overlap_thresh, "iou": None, "motion": {"model": "none"}}
    tracker = Tracker(TrackerConfig.model_validate(cfg))
    return tracker.track_video(associate, frame_idx, boxes, cen).track_id


def test_overlap_thresh_zero_keeps_every_match_the_assignment_makes():
    """The threshold is on the mean probability of the matched track's appearances: under
    it (the reference's 0.01) an animal the model does not recognise for a frame starts a
    new id although its own track is free and the best match; at 0 the match stands."""
    ref_ids = _two_animals_one_unrecognised_frame(0.01)
    assert list(ref_ids[1::2]) == [1, 1, 1, 2, 1, 1]  # a new id for a frame: 2 switches
    ids = _two_animals_one_unrecognised_frame(0.0)
    assert set(ids[0::2]) == {0} and set(ids[1::2]) == {1}


def test_windowed_softmax_has_null_column():
    logits = np.array([[2.0, 1.0, 5.0], [0.0, 0.0, -1.0]])
    probs, null = windowed_softmax(logits, np.array([0, 0, 3]))
    assert probs.shape == (2, 3) and null.shape == (2, 2)
    np.testing.assert_allclose(probs[:, :2].sum(1) + null[:, 0], 1.0)
    np.testing.assert_allclose(probs[:, 2] + null[:, 1], 1.0)


def test_use_vis_feats_false_never_encodes(tmp_path):
    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=10, n_animals=2)
    model = FakeModel()
    t = _track(tmp_path, shard, {"use_vis_feats": False}, model=model)
    assert model.encode_calls == 0
    assert model.associate_calls > 0
    assert (t.track_id >= 0).all()


def test_every_crop_encoded_once_in_batches(tmp_path):
    n_frames, n_animals = 50, 3  # 150 crops, row groups of 16 rows
    shard = write_synthetic_shard(
        tmp_path / "s.parquet", n_frames=n_frames, n_animals=n_animals, rows_per_group=16
    )
    model = FakeModel()
    _track(tmp_path, shard, {"window_size": 4}, model=model)
    assert model.encoded_rows == n_frames * n_animals
    assert model.encode_calls == math.ceil(n_frames * n_animals / 64)


def test_baseline_straight_lines_zero_switches(tmp_path):
    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=40, n_animals=4, gt_offset=3)
    t = track_shard("baseline", shard, None, tmp_path / "b", progress=False)
    summary, _ = evaluate_tracks(t)
    assert _metric(summary, "num_switches") == 0
    assert sorted(t.track_id.unique()) == [0, 1, 2, 3]
    assert t.confidence.between(0, 1).all()


def test_appearance_beats_baseline_on_crossing(tmp_path):
    # two animals on the same line crossing each other: position alone is ambiguous
    from dreem.io.shards import InstanceRecord, ShardMeta, ShardWriter

    meta = ShardMeta("x", "none", "", "", {}, {}, 64, 64, 20, 1, "uint8", (4, 4), ["c"])
    path = tmp_path / "cross.parquet"
    with ShardWriter(path, meta) as w:
        for f in range(20):
            recs = []
            for k, x in enumerate([10 + 2.2 * f, 52 - 2.2 * f]):
                crop = np.full((1, 1, 4, 4), 50 + 150 * k, np.uint8)
                box = np.array([[30, x - 2, 34, x + 2]], np.float32)
                recs.append(
                    InstanceRecord(f, k, k, None, 1.0, (x, 32.0), box, np.zeros((0, 2)), crop)
                )
            w.add_frame(recs)
    model_t = _track(tmp_path, path, {"iou": None})
    assert _metric(evaluate_tracks(model_t)[0], "num_switches") == 0
    base = track_shard("baseline", path, None, tmp_path / "b", progress=False)
    assert _metric(evaluate_tracks(base)[0], "num_switches") > 0


def test_bad_tracker_config_names_key():
    from dreem.config import load_dreem_config

    with pytest.raises(ConfigError, match="tracker.iou: 'sum' is not one of"):
        load_dreem_config({"tracker": {"iou": "sum"}})
    with pytest.raises(ConfigError, match="tracker.window_size: 0 is below the minimum 1"):
        load_dreem_config({"tracker": {"window_size": 0}})
    assert load_dreem_config({"tracker": {"max_tracks": None}}).tracker.max_tracks == math.inf
    with pytest.raises(TypeError, match="expected a TrackerConfig"):
        Tracker({"window_size": 3})
    with pytest.raises(ConfigError, match="tracker.clip_length: required"):
        Tracker(TrackerConfig(persistent_tracking=False))


def test_missing_checkpoint_is_clear_error(tmp_path):
    from dreem.utils.errors import InputDataError

    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=2, n_animals=1)
    with pytest.raises(InputDataError, match="checkpoint not found"):
        track_shard(tmp_path / "nope.ckpt", shard, None, tmp_path / "o", progress=False)


def test_baseline_flags_uncertain_frames(tmp_path):
    from dreem.inference.baseline import CentroidTracker

    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=10, n_animals=3)
    from dreem.io.shards import read_shard

    d = read_shard(shard, with_crops=False)
    sure = CentroidTracker(TrackerConfig()).track_video(d.frame_idx, d.bbox, d.centroid)
    assert sure.uncertain_frames == []
    picky = CentroidTracker(TrackerConfig.model_validate({"confidence_threshold": 0.999999}))
    flagged = picky.track_video(d.frame_idx, d.bbox, d.centroid).uncertain_frames
    assert flagged and set(flagged) <= set(range(1, 10))  # frame 0 is certain (new tracks)


def test_non_persistent_tracking_restarts_every_chunk(tmp_path):
    shard = write_synthetic_shard(tmp_path / "s.parquet", n_frames=12, n_animals=2)
    cfg = {"persistent_tracking": False, "clip_length": 5}
    t = _track(tmp_path, shard, cfg)
    assert t.track_id.nunique() == 6  # chunks 0-4, 5-9, 10-11: fresh, non-colliding ids
    assert t.groupby(t.frame_idx // 5).track_id.nunique().tolist() == [2, 2, 2]
    capped = _track(tmp_path, shard, {**cfg, "max_tracks": 2}, name="capped")
    assert capped.groupby("gt_track_id").track_id.nunique().max() == 1


def _crossing(n_frames=30, speed=6.0, half=5.0):
    """Two animals crossing head-on (2 px apart vertically): per-instance arrays."""
    frames, cen = [], []
    for t in range(n_frames):
        for x0, v, y in [(10.0, speed, 50.0), (10.0 + speed * n_frames, -speed, 52.0)]:
            frames.append(t)
            cen.append((x0 + v * t, y))
    cen = np.array(cen)
    boxes = np.stack(
        [cen[:, 1] - half, cen[:, 0] - half, cen[:, 1] + half, cen[:, 0] + half], axis=1
    )[:, None]
    gt = np.tile([0, 1], n_frames)
    return np.array(frames), boxes, cen, gt


def test_kalman_motion_keeps_identities_through_a_crossing():
    """With uninformative appearance, comparing detections with each track's last box swaps
    the animals where they cross; the Kalman-predicted box does not."""
    frames, boxes, cen, gt = _crossing()
    blind = lambda ref, q: np.zeros((len(q), len(ref)))  # noqa: E731
    swaps = {}
    for model in ("none", "kalman"):
        cfg = TrackerConfig.model_validate({"max_tracks": 2, "motion": {"model": model}})
        ids = Tracker(cfg).track_video(blind, frames, boxes, cen).track_id
        table = pd.DataFrame({"frame_idx": frames, "gt_track_id": gt, "track_id": ids})
        swaps[model] = _metric(evaluate_tracks(table)[0], "num_switches")
    assert swaps["none"] > 0 and swaps["kalman"] == 0
