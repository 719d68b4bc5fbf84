"""CLEAR-MOT / identity metrics with py-motmetrics, fed from a tracks table.

Two ways to build the per-frame accumulator:

* **identity** (ground-truth detections, the DREEM evaluation): every row with a known
  ``gt_track_id`` is a ground-truth object; a row with a predicted ``track_id`` is a
  hypothesis that may match only the object of the *same row* (distance 0; every other pair
  is forbidden). Unlike the reference, rows left unassigned (``track_id == -1``) stay in the
  accumulator as ground-truth objects without a hypothesis, so they count as misses. Rows
  without a ground-truth id cannot be judged and are ignored.
* **detection** (predicted detections vs. separate ground truth): per frame, predicted rows
  are matched to ground-truth rows by centroid distance (pixels, pairs farther than
  ``threshold`` forbidden) or by box IoU (distance ``1 - IoU``, pairs with IoU below
  ``threshold`` forbidden). The distance matrices are computed here (motmetrics'
  ``iou_matrix`` fails on numpy 2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dreem.config.metrics import DEFAULT_THRESHOLD, EXTRA_METRICS
from dreem.utils.errors import ConfigError, InputDataError


def _require(df: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputDataError(f"{what} lacks column(s) {missing}; has {list(df.columns)}")


def identity_accumulator(tracks: pd.DataFrame):
    """Accumulator for identity mode (see module docstring)."""
    import motmetrics as mm

    _require(tracks, ["frame_idx", "track_id", "gt_track_id"], "tracks table")
    acc = mm.MOTAccumulator(auto_id=False)
    known = tracks[tracks.gt_track_id >= 0]
    for frame, g in known.groupby("frame_idx", sort=True):
        gt = g.gt_track_id.to_numpy()
        pred = g.track_id.to_numpy()
        has = pred >= 0
        d = np.full((len(gt), int(has.sum())), np.nan)
        d[np.flatnonzero(has), np.arange(int(has.sum()))] = 0.0
        acc.update(gt.tolist(), pred[has].tolist(), d, frameid=int(frame))
    return acc


def centroid_distances(gt: pd.DataFrame, pred: pd.DataFrame, threshold: float) -> np.ndarray:
    """Euclidean centroid distances (pixels); NaN beyond ``threshold``."""
    a = gt[["centroid_x", "centroid_y"]].to_numpy(float)
    b = pred[["centroid_x", "centroid_y"]].to_numpy(float)
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return np.where(d <= threshold, d, np.nan)


def iou_distances(gt: pd.DataFrame, pred: pd.DataFrame, threshold: float) -> np.ndarray:
    """``1 - IoU`` of ``bbox_y1, bbox_x1, bbox_y2, bbox_x2`` boxes; NaN where IoU < threshold."""
    cols = ["bbox_y1", "bbox_x1", "bbox_y2", "bbox_x2"]
    a = gt[cols].to_numpy(float)[:, None]
    b = pred[cols].to_numpy(float)[None]
    ih = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iw = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ih * iw
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area(a) + area(b) - inter)
    return np.where(iou >= threshold, 1.0 - iou, np.nan)


def detection_accumulator(
    tracks: pd.DataFrame, gt: pd.DataFrame, match: str = "centroid", threshold: float | None = None
):
    """Accumulator for detection mode (see module docstring)."""
    import motmetrics as mm

    if match not in DEFAULT_THRESHOLD:
        raise ConfigError(f"evaluate.match: {match!r} is not one of {list(DEFAULT_THRESHOLD)}")
    thr = DEFAULT_THRESHOLD[match] if threshold is None else float(threshold)
    need = (
        ["centroid_x", "centroid_y"]
        if match == "centroid"
        else ["bbox_y1", "bbox_x1", "bbox_y2", "bbox_x2"]
    )
    _require(tracks, ["frame_idx", "track_id", *need], "tracks table")
    _require(gt, ["frame_idx", "gt_track_id", *need], "ground-truth table")
    dist = centroid_distances if match == "centroid" else iou_distances
    pred = tracks[tracks.track_id >= 0]
    gt = gt[gt.gt_track_id >= 0]
    pred_by = dict(tuple(pred.groupby("frame_idx")))
    gt_by = dict(tuple(gt.groupby("frame_idx")))
    acc = mm.MOTAccumulator(auto_id=False)
    empty_p, empty_g = pred.iloc[:0], gt.iloc[:0]
    for frame in sorted(set(pred_by) | set(gt_by)):
        g = gt_by.get(frame, empty_g)
        p = pred_by.get(frame, empty_p)
        d = dist(g, p, thr) if len(g) and len(p) else np.full((len(g), len(p)), np.nan)
        acc.update(g.gt_track_id.tolist(), p.track_id.tolist(), d, frameid=int(frame))
    return acc


def global_tracking_accuracy(tracks: pd.DataFrame) -> float:
    """Mean over gt tracks of the fraction of detections carrying its most frequent pred id."""
    t = tracks[tracks.gt_track_id >= 0]
    if not len(t):
        return float("nan")
    fr = []
    for _, g in t.groupby("gt_track_id"):
        ids = g.track_id[g.track_id >= 0]
        fr.append(ids.value_counts().iloc[0] / len(g) if len(ids) else 0.0)
    return float(np.mean(fr))


def summarize(acc, metrics: list[str]) -> pd.DataFrame:
    """Tidy ``metric, value`` rows for the motmetrics names in ``metrics``."""
    import motmetrics as mm

    mm_names = [m for m in metrics if m not in EXTRA_METRICS]
    if not mm_names:
        return pd.DataFrame({"metric": [], "value": []})
    if len(acc.events) == 0:
        return pd.DataFrame({"metric": mm_names, "value": [np.nan] * len(mm_names)})
    summary = mm.metrics.create().compute(acc, metrics=mm_names, name="acc")
    values = [summary.loc["acc", m] for m in mm_names]
    return pd.DataFrame({"metric": mm_names, "value": [float(v) for v in values]})


def identity_summary(tables: list[pd.DataFrame], metrics: list[str]) -> dict[str, float]:
    """Identity-mode metrics over several tracks tables at once (motmetrics' OVERALL row);
    ``global_tracking_accuracy`` over all tables' ground-truth tracks."""
    import motmetrics as mm

    mm_names = [m for m in metrics if m not in EXTRA_METRICS]
    out: dict[str, float] = {}
    accs = [identity_accumulator(t) for t in tables]
    accs = [a for a in accs if len(a.events)]
    if mm_names and accs:
        names = [str(i) for i in range(len(accs))]
        summary = mm.metrics.create().compute_many(
            accs, metrics=mm_names, names=names, generate_overall=True
        )
        row = summary.loc["OVERALL"] if "OVERALL" in summary.index else summary.iloc[-1]
        out = {m: float(row[m]) for m in mm_names}
    elif mm_names:
        out = dict.fromkeys(mm_names, float("nan"))
    if "global_tracking_accuracy" in metrics:
        out["global_tracking_accuracy"] = float(
            np.mean([global_tracking_accuracy(t) for t in tables]) if tables else np.nan
        )
    return out


def events_table(acc) -> pd.DataFrame:
    """Per-frame MOT events: ``frame_idx, event, type, gt_id, pred_id, distance``."""
    ev = acc.mot_events.reset_index()
    ev = ev.rename(
        columns={
            "FrameId": "frame_idx",
            "Event": "event",
            "Type": "type",
            "OId": "gt_id",
            "HId": "pred_id",
            "D": "distance",
        }
    )
    cols = ["frame_idx", "event", "type", "gt_id", "pred_id", "distance"]
    for c in cols:
        if c not in ev.columns:
            ev[c] = pd.Series(dtype=float)
    return ev[cols]
