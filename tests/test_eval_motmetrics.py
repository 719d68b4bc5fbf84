"""evaluate_tracks in identity and detection modes, and write_metrics."""

from __future__ import annotations

import pandas as pd
import pytest

from dreem.evaluation.evaluate import evaluate_tracks, switch_frames, write_metrics
from dreem.utils.errors import ConfigError


def _table(n_frames=10, n_obj=2, pred=None):
    rows = []
    for f in range(n_frames):
        for k in range(n_obj):
            tid = k if pred is None else pred(f, k)
            rows.append(
                dict(
                    video_id="v",
                    frame_idx=f,
                    instance_idx=k,
                    track_id=tid,
                    confidence=1.0,
                    gt_track_id=10 + k,
                    centroid_x=10.0 + f,
                    centroid_y=20.0 * (k + 1),
                    bbox_y1=20.0 * (k + 1) - 4,
                    bbox_x1=6.0 + f,
                    bbox_y2=20.0 * (k + 1) + 4,
                    bbox_x2=14.0 + f,
                    score=1.0,
                )
            )
    return pd.DataFrame(rows)


def _m(summary, name):
    return float(summary.set_index("metric").value[name])


def test_perfect_predictions():
    summary, events = evaluate_tracks(_table())
    assert _m(summary, "num_switches") == 0
    assert _m(summary, "mota") == 1.0
    assert _m(summary, "idf1") == 1.0
    assert list(summary.metric)[:3] == ["mota", "idf1", "num_switches"]
    assert (events.type == "MATCH").sum() == 20


def test_constructed_swap_counts_switches():
    # ids swap at frame 5: both objects switch once
    summary, events = evaluate_tracks(_table(pred=lambda f, k: k if f < 5 else 1 - k))
    assert _m(summary, "num_switches") == 2
    assert switch_frames(events) == [5]
    # relabelling without a swap (consistent permutation) is not a switch
    summary, _ = evaluate_tracks(_table(pred=lambda f, k: 5 + (1 - k)))
    assert _m(summary, "num_switches") == 0


def test_unassigned_prediction_is_a_miss():
    summary, _ = evaluate_tracks(
        _table(pred=lambda f, k: -1 if (f, k) == (3, 1) else k), ["num_misses", "mota", "recall"]
    )
    assert _m(summary, "num_misses") == 1
    assert _m(summary, "mota") == pytest.approx(1 - 1 / 20)
    assert _m(summary, "recall") == pytest.approx(19 / 20)


def test_detection_mode_dropped_and_spurious():
    gt = _table()
    pred = gt.drop(index=gt.index[(gt.frame_idx == 2) & (gt.instance_idx == 0)])
    spurious = gt.iloc[[0]].assign(
        frame_idx=4,
        centroid_x=100.0,
        centroid_y=100.0,
        bbox_y1=96.0,
        bbox_x1=96.0,
        bbox_y2=104.0,
        bbox_x2=104.0,
        track_id=7,
    )
    pred = pd.concat([pred, spurious], ignore_index=True)
    pred[["centroid_x", "centroid_y"]] += 1.0  # small localisation error, within threshold
    metrics = ["num_misses", "num_false_positives", "num_switches"]
    for match, thr in [("centroid", 5.0), ("iou", 0.5)]:
        s, _ = evaluate_tracks(pred, metrics, mode="detection", gt=gt, match=match, threshold=thr)
        assert _m(s, "num_misses") == 1, match
        assert _m(s, "num_false_positives") == 1, match
        assert _m(s, "num_switches") == 0, match
    s, _ = evaluate_tracks(pred, metrics, mode="detection", gt=gt, threshold=0.5)
    assert _m(s, "num_misses") == 20  # everything beyond a 0.5 px gate


def test_bad_arguments():
    with pytest.raises(ConfigError, match="idf_one"):
        evaluate_tracks(_table(), ["idf_one"])
    with pytest.raises(ConfigError, match="gt"):
        evaluate_tracks(_table(), mode="detection")
    with pytest.raises(ConfigError, match="mode"):
        evaluate_tracks(_table(), mode="nope")


def test_global_tracking_accuracy_and_all():
    s, _ = evaluate_tracks(
        _table(pred=lambda f, k: k if f < 5 else 1 - k), ["global_tracking_accuracy"]
    )
    assert _m(s, "global_tracking_accuracy") == 0.5
    s, _ = evaluate_tracks(_table(), "all")
    assert {"idf1", "mota", "motp", "num_transfer"} <= set(s.metric)


def test_write_metrics(tmp_path):
    summary, events = evaluate_tracks(_table(pred=lambda f, k: k if f < 5 else 1 - k))
    out = write_metrics(summary, events, tmp_path / "m" / "vid.csv", "gtr", "flies", "vid")
    df = pd.read_csv(out)
    assert list(df.columns) == ["model", "dataset", "video_id", "metric", "value"]
    assert set(df.model) == {"gtr"} and len(df) == len(summary)
    ev = pd.read_csv(tmp_path / "m" / "vid.events.csv")
    assert (ev.type == "SWITCH").sum() == 2
