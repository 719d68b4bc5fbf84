"""Nearest-centroid Hungarian linker: the "baseline" model of every report.

Frame to frame, each detection is matched to the last known centroid of a track (tracks
unseen for more than ``max_gap`` processed frames are dropped) by minimising the summed
Euclidean distance (``scipy.optimize.linear_sum_assignment``). Pairs farther apart than
``max_center_dist`` pixels are never linked; unmatched detections start new ids (0, 1, …)
while fewer than ``max_tracks`` exist, otherwise they take the nearest unused id.

Confidence: softmax over ``-distance / scale`` of the candidate tracks plus a "new track"
option at ``max_center_dist`` (or 4 × scale), where scale is a quarter of the detection's
box diagonal (10 px if unknown); the probability of the chosen option. Frames with a
confidence below ``confidence_threshold`` (> 0) are flagged uncertain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dreem.config.tracker import TrackerConfig
from dreem.inference.tracker import TrackResult, _lsa, _softmax_rows


class CentroidTracker:
    """Frame-to-frame nearest-centroid linker with the :class:`Tracker` output interface.

    Of the tracker section it uses ``max_center_dist`` (null: no limit), ``max_gap``,
    ``max_tracks`` and ``confidence_threshold``.
    """

    use_vis_feats = False

    def __init__(self, cfg: TrackerConfig):
        self.cfg = cfg
        self.confidence_threshold = cfg.confidence_threshold
        self.max_center_dist = math.inf if cfg.max_center_dist is None else cfg.max_center_dist
        self.max_gap = cfg.max_gap
        self.max_tracks = cfg.max_tracks

    def track_video(
        self,
        frame_idx: np.ndarray,
        boxes: np.ndarray,
        centroids: np.ndarray,
        progress=None,
    ) -> TrackResult:
        """Track one video; arrays as in :meth:`Tracker.track_video` (boxes in pixels)."""
        n = len(frame_idx)
        if n == 0:
            return TrackResult(np.zeros(0, np.int64), np.zeros(0, np.float32), [])
        frame_idx = np.asarray(frame_idx)
        cen = np.asarray(centroids, np.float64)
        boxes = np.asarray(boxes, np.float64).reshape(n, -1, 4)
        scale = distance_scale(boxes)
        track_id = np.full(n, -1, np.int64)
        conf = np.zeros(n, np.float32)
        starts = np.flatnonzero(np.r_[True, np.diff(frame_idx) != 0])
        ends = np.r_[starts[1:], n]
        last_pos: dict[int, np.ndarray] = {}
        last_step: dict[int, int] = {}
        uncertain: list[int] = []
        next_id = 0
        steps: Iterable[int] = range(len(starts))
        if progress is not None:
            steps = progress(steps)
        for step in steps:
            rows = np.arange(starts[step], ends[step])
            full = next_id >= self.max_tracks
            tids = sorted(t for t in last_pos if full or step - last_step[t] <= self.max_gap)
            assigned: dict[int, int] = {}
            if tids:
                pos = np.stack([last_pos[t] for t in tids])
                d = np.linalg.norm(cen[rows][:, None] - pos[None], axis=-1)
                d = np.where(np.isfinite(d), d, 1e9)
                gate = d > self.max_center_dist
                radius = np.where(
                    math.isfinite(self.max_center_dist), self.max_center_dist, 4 * scale[rows]
                )
                logits = np.concatenate([-d, -radius[:, None]], axis=1) / scale[rows][:, None]
                probs = _softmax_rows(logits)
                r_ind, c_ind = _lsa(np.where(gate, d + 1e9, d))
                for i, j in zip(r_ind, c_ind, strict=True):
                    if full or not gate[i, j]:
                        assigned[i] = tids[j]
                        conf[rows[i]] = probs[i, j]
                new_conf = probs[:, -1]
            else:
                new_conf = np.ones(len(rows))
            for i in range(len(rows)):
                if i not in assigned and next_id < self.max_tracks:
                    assigned[i] = next_id
                    conf[rows[i]] = new_conf[i]
                    next_id += 1
            left = [i for i in range(len(rows)) if i not in assigned]
            spare = sorted(set(last_pos) - set(assigned.values()))
            if left and spare:
                pos = np.stack([last_pos[t] for t in spare])
                d = np.linalg.norm(cen[rows[left]][:, None] - pos[None], axis=-1)
                r2, c2 = _lsa(np.where(np.isfinite(d), d, 1e9))
                for i, j in zip(r2, c2, strict=True):
                    assigned[left[i]] = spare[j]
                    conf[rows[left[i]]] = 0.5
            for i, t in assigned.items():
                track_id[rows[i]] = t
                if np.all(np.isfinite(cen[rows[i]])):
                    last_pos[t] = cen[rows[i]]
                elif t not in last_pos:
                    last_pos[t] = np.array([np.nan, np.nan])
                last_step[t] = step
            thr = self.confidence_threshold
            if thr > 0 and np.any(conf[rows] < thr):
                uncertain.append(int(frame_idx[rows[0]]))
        return TrackResult(track_id, conf, uncertain)


def distance_scale(boxes: np.ndarray) -> np.ndarray:
    """Per-detection softmax scale of distance-based confidences: a quarter of the mean box
    diagonal ``(n,)`` (10 px if unknown)."""
    import warnings

    n = len(boxes)
    if not boxes.shape[1]:
        return np.full(n, 10.0)
    diag = np.hypot(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        diag = np.nanmean(diag, axis=1)
    return np.where(np.isfinite(diag) & (diag > 0), diag / 4.0, 10.0)
