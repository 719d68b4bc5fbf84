"""Sliding-window global tracker: model association scores → track ids (spec §6).

The tracker never touches pixels or the model directly: it works on per-instance arrays of
one video (boxes, centroids, frame indices) and an ``associate(ref_rows, query_rows)``
callable returning ``(n_query, n_ref)`` logits. :mod:`dreem.inference.track` builds that
callable from a model and a feature cache (every crop encoded once per video).

Per processed frame (a frame with at least one detection), in order:

1. Candidate tracks: the active ones (seen within ``max_gap`` processed frames); once
   ``max_tracks`` distinct ids exist, every id of the video (expired ones included), so a
   video never gets more than ``max_tracks`` ids.
2. Reference instances: the last ``window_size`` appearances of every candidate track
   (a per-track queue, not the last ``window_size`` frames).
3. Logits from the model; per reference frame, softmax over that frame's instances plus a
   null column (an implicit "none of these").
4. Track score: weighted sum over each track's queued instances of those probabilities,
   with weight ``decay_time ** (age - 1)`` (age in processed frames; 1 = previous frame)
   when ``decay_time`` is set, divided by the weight of a full window (``window_size``
   appearances) so scores stay in [0, 1] for the IoU re-weighting and the confidence. The
   reference's plain sum ranks the same; a per-appearance *mean* (tried first) let a
   3-frame spurious track tie with an established one and caused 32 switches on
   two_flies_noisy_detections (0 with this score; bench/results/real_flies.md).
5. Post-processing, in the reference's order (spec §6.4 steps 6–8):

   * IoU re-weighting with each track's last box (``iou: mult | max``);
   * ``max_center_dist`` (pixels, finite): with ``distance_penalty_multiplier > 0`` (default
     1) a *soft* penalty ``max(d - max_center_dist, 0)`` on the centroid distance ``d`` to
     the track's last detection, row-scaled (:mod:`dreem.inference.penalties`) and
     multiplied by ``distance_penalty_multiplier`` (the reference's behaviour); with
     ``distance_penalty_multiplier: 0`` a *hard gate* instead: farther pairs are never
     matched while new ids are still allowed. (A gate plus the penalty would be pointless:
     the penalty is zero for every pair the gate lets through.)
   * ``max_angle_diff > 0`` (degrees): orientation penalty ``max(angle - max_angle_diff, 0)``
     between the detection's body axis and the track's last axis (angle folded to
     [0, 90°]), row-scaled and multiplied by ``angle_diff_penalty_multiplier``. Axes:
     ``front_nodes`` − ``back_nodes`` (first visible node of each list), else the principal
     axis of the visible keypoints; pairs without an axis get no penalty (the reference
     skips the whole frame). Needs ``poses`` in :meth:`Tracker.track_video`; without them
     (or with fewer than 2 nodes) the penalty is off and a warning is logged.
6. Hungarian (``scipy.optimize.linear_sum_assignment``) maximising the score; a match is
   kept when the mean score exceeds ``overlap_thresh`` (``mult_thresh: true``; otherwise the
   plain sum must exceed it) or when ``max_tracks`` is reached.
7. Unmatched detections start new ids (0, 1, 2, … in order of creation; never reused, never
   copied from the input file) while fewer than ``max_tracks`` exist; otherwise they get
   the best unused existing id (second Hungarian), or stay -1 if every id is taken in that
   frame.

``verbose: true`` logs each frame's assignments (INFO).

Confidence: softmax over ``[scores, null] / temperature`` for the row; the probability of
the chosen option (a new track chooses null). First detections of a video get 1.0. A frame
is *uncertain* when any of its confidences is below ``confidence_threshold`` (> 0).
``persistent_tracking: false`` empties the queue every ``clip_length`` processed frames
(``tracker.clip_length``, else the checkpoint's ``dataset.test_dataset.clip_length``, else
32; ids stay unique across chunks). Gaps are counted in processed frames.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from dreem.config.tracker import TrackerConfig
from dreem.inference.penalties import (
    angle_penalty,
    distance_penalty,
    instance_axes,
    row_scaled_penalty,
)
from dreem.utils.errors import ConfigError

log = logging.getLogger(__name__)

Associate = Callable[[np.ndarray, np.ndarray], np.ndarray]
GATED = -1e6


@dataclass
class TrackResult:
    """Per-instance outputs of tracking one video (same order as the inputs)."""

    track_id: np.ndarray  # (N,) int64, -1 = unassigned
    confidence: np.ndarray  # (N,) float32 in [0, 1]
    uncertain_frames: list[int] = field(default_factory=list)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``a (n, A, 4)`` and ``b (m, A, 4)`` averaged over anchors (NaN-aware)."""
    a = a[:, None]
    b = b[None, :]
    y1 = np.maximum(a[..., 0], b[..., 0])
    x1 = np.maximum(a[..., 1], b[..., 1])
    y2 = np.minimum(a[..., 2], b[..., 2])
    x2 = np.minimum(a[..., 3], b[..., 3])
    inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area_a + area_b - inter)
    valid = np.isfinite(iou)
    n_valid = valid.sum(-1)
    total = np.where(valid, iou, 0.0).sum(-1)
    return np.where(n_valid > 0, total / np.maximum(n_valid, 1), 0.0)


def windowed_softmax(logits: np.ndarray, ref_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax per reference frame with an extra zero (null) logit.

    ``ref_times`` must be sorted. Returns ``(probs (n_q, n_ref), null (n_q, n_frames))``.
    """
    starts = np.flatnonzero(np.r_[True, np.diff(ref_times) != 0])
    block = np.cumsum(np.r_[False, np.diff(ref_times) != 0])
    mx = np.maximum(np.maximum.reduceat(logits, starts, axis=1), 0.0)
    e = np.exp(logits - mx[:, block])
    null = np.exp(-mx)
    den = np.add.reduceat(e, starts, axis=1) + null
    return e / den[:, block], null / den


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


class Tracker:
    """Sliding-window tracker configured by a validated ``tracker`` section (module docstring).

    ``clip_length`` null in the section means "the model's": the caller resolves it
    (:func:`dreem.inference.track.resolve_tracker`); it is required only when
    ``persistent_tracking`` is false.
    """

    def __init__(self, cfg: TrackerConfig):
        if not isinstance(cfg, TrackerConfig):
            raise TypeError(f"expected a TrackerConfig, got {type(cfg).__name__}")
        if not cfg.persistent_tracking and cfg.clip_length is None:
            raise ConfigError(
                "tracker.clip_length: required when persistent_tracking is false (the model's "
                "dataset clip_length is used when tracking with a checkpoint)"
            )
        self.cfg = cfg
        self.reset()

    @property
    def use_vis_feats(self) -> bool:
        return self.cfg.use_vis_feats

    def queued_rows(self) -> np.ndarray:
        """Rows held in any track's queue (active or expired): every reference row that
        association can still be asked about."""
        queues = [*self.active.values(), *self.expired.values()]
        if not queues:
            return np.zeros(0, np.int64)
        return np.fromiter(itertools.chain.from_iterable(queues), np.int64)

    def reset(self) -> None:
        """Forget every track and id (called at the start of each video)."""
        self.active: dict[int, deque] = {}
        self.expired: dict[int, deque] = {}
        self.last_step: dict[int, int] = {}
        self.next_id = 0
        self._axes: np.ndarray | None = None
        self._motion: dict[int, object] = {}  # track id -> MotionTrack (motion.model kalman)
        self._frame = 0
        self._px_to_box = np.ones(2)

    # ------------------------------------------------------------------ scoring
    def _score(
        self,
        associate: Associate,
        rows: np.ndarray,
        tids: list[int],
        queues: dict[int, deque],
        step: int,
        inst_step: np.ndarray,
        frame_idx: np.ndarray,
        boxes: np.ndarray,
        centroids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Scores ``(n_q, n_t)``, null scores ``(n_q,)``, gate mask, threshold values."""
        cfg = self.cfg
        ref = np.concatenate([np.fromiter(queues[t], np.int64) for t in tids])
        owner = np.concatenate([np.full(len(queues[t]), j) for j, t in enumerate(tids)])
        order = np.lexsort((ref, frame_idx[ref]))
        ref, owner = ref[order], owner[order]
        logits = np.asarray(associate(ref, rows), dtype=np.float64)
        if logits.shape != (len(rows), len(ref)):
            raise ValueError(
                f"associate returned shape {logits.shape}, expected {(len(rows), len(ref))}"
            )
        probs, null_f = windowed_softmax(logits, frame_idx[ref])
        age = np.maximum(step - inst_step[ref], 1)
        w = np.ones(len(ref)) if cfg.decay_time is None else cfg.decay_time ** (age - 1.0)
        onehot = np.zeros((len(ref), len(tids)))
        onehot[np.arange(len(ref)), owner] = 1.0
        sums = (probs * w) @ onehot
        means = sums / (w @ onehot)  # per-appearance mean: what mult_thresh compares
        # Ranking score: the evidence summed over each track's queued appearances (as the
        # reference does), scaled by a full window's weight so it stays in [0, 1]. A short
        # or stale track cannot outscore an established one on a few look-alike frames.
        full = np.ones(cfg.window_size)
        if cfg.decay_time is not None:
            full = cfg.decay_time ** np.arange(cfg.window_size, dtype=float)
        scores = sums / full.sum()
        # null: weighted mean over reference frames of the null probability
        t_ref = frame_idx[ref]
        first = np.r_[True, np.diff(t_ref) != 0]
        w_frames = w[first]
        null = (null_f * w_frames).sum(1) / w_frames.sum()
        last = np.array([queues[t][-1] for t in tids])
        ref_boxes, ref_cen = self._reference_geometry(tids, last, boxes, centroids)
        if cfg.iou is not None:
            ious = np.nan_to_num(box_iou(boxes[rows], ref_boxes))
            if cfg.iou == "mult":
                scores = scores + np.abs(ious - scores) * ious
            else:
                scores = np.maximum(scores, ious)
        gate = np.zeros(scores.shape, bool)
        if cfg.max_center_dist is not None:
            if cfg.distance_penalty_multiplier > 0:
                pen = distance_penalty(centroids[rows], ref_cen, cfg.max_center_dist)
                scores = row_scaled_penalty(scores, pen, cfg.distance_penalty_multiplier)
            else:
                d = np.linalg.norm(centroids[rows][:, None] - ref_cen[None], axis=-1)
                gate = ~(d <= cfg.max_center_dist)
        motion_pen = self._motion_penalty(tids, centroids[rows])
        if motion_pen is not None:
            scores = row_scaled_penalty(scores, motion_pen, cfg.motion.penalty_multiplier)
        if self._axes is not None:
            pen = angle_penalty(self._axes[rows], self._axes[last], cfg.max_angle_diff)
            scores = row_scaled_penalty(scores, pen, cfg.angle_diff_penalty_multiplier)
        return scores, null, gate, means if cfg.mult_thresh else sums

    def _reference_geometry(
        self, tids: list[int], last: np.ndarray, boxes: np.ndarray, centroids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate track's box ``(n_t, A, 4)`` and centroid ``(n_t, 2)`` to compare
        the frame's detections with: its last detection's, or with ``motion.model: kalman``
        the ones predicted for this frame (the last box moved by the predicted shift)."""
        ref_boxes, ref_cen = boxes[last].copy(), centroids[last].copy()
        if self.cfg.motion.model == "none":
            return ref_boxes, ref_cen
        from dreem.inference.motion import predict_centroids

        have = [j for j, t in enumerate(tids) if t in self._motion]
        if not have:
            return ref_boxes, ref_cen
        pred = predict_centroids([self._motion[tids[j]] for j in have], self._frame)
        shift = np.nan_to_num(pred - ref_cen[have])  # (x, y) pixels
        dy, dx = shift[:, 1] * self._px_to_box[0], shift[:, 0] * self._px_to_box[1]
        ref_boxes[have, :, 0::2] += dy[:, None, None]
        ref_boxes[have, :, 1::2] += dx[:, None, None]
        ref_cen[have] = pred
        return ref_boxes, ref_cen

    def _motion_penalty(self, tids: list[int], query_xy: np.ndarray) -> np.ndarray | None:
        """``max(m - gate_sigma, 0)`` for the Mahalanobis distance ``m`` of each detection
        to each track's predicted position (``motion.model: kalman``), ``(n_q, n_t)``."""
        mc = self.cfg.motion
        if mc.model == "none" or mc.gate_sigma is None or mc.penalty_multiplier == 0:
            return None
        pen = np.zeros((len(query_xy), len(tids)))
        for j, t in enumerate(tids):
            track = self._motion.get(t)
            if track is None:
                continue
            centre, _ = track.predict(self._frame)
            cov = track.predict_cov(self._frame) + np.eye(2) * mc.meas_std**2
            diff = query_xy - centre
            m = np.sqrt(np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff))
            pen[:, j] = np.nan_to_num(np.maximum(m - mc.gate_sigma, 0.0), nan=0.0)
        return pen

    def _observe(self, tid: int, centroid: np.ndarray) -> None:
        """Feed a track's new detection to its motion model (``motion.model: kalman``)."""
        if self.cfg.motion.model == "none" or not np.all(np.isfinite(centroid)):
            return
        from dreem.inference.motion import MotionTrack, kalman_params

        track = self._motion.get(tid)
        if track is None:
            self._motion[tid] = MotionTrack(
                centroid, self._frame, None, kalman_params(self.cfg.motion)
            )
        else:
            track.update(centroid, self._frame)

    def _orientation_axes(self, poses, node_names, n: int) -> np.ndarray | None:
        """Body axes ``(N, 2)`` when the orientation penalty is on and possible, else None."""
        cfg = self.cfg
        if not cfg.angle_penalty_on:
            return None
        if poses is None or n == 0 or np.asarray(poses).reshape(n, -1, 2).shape[1] < 2:
            log.warning(
                "tracker.max_angle_diff is set but the instances have no poses with >= 2 "
                "nodes; the orientation penalty is off"
            )
            return None
        return instance_axes(poses, node_names, cfg.front_nodes or [], cfg.back_nodes or [])

    def _confidence(self, scores: np.ndarray, null: np.ndarray) -> np.ndarray:
        """Row-wise probabilities over ``[tracks..., null]`` (last column = null)."""
        logits = np.concatenate([scores, null[:, None]], axis=1) / self.cfg.temperature
        return _softmax_rows(logits)

    # ------------------------------------------------------------------ main loop
    def track_video(
        self,
        associate: Associate,
        frame_idx: np.ndarray,
        boxes: np.ndarray,
        centroids: np.ndarray,
        progress: Iterable | None = None,
        poses: np.ndarray | None = None,
        node_names: list[str] | None = None,
        px_to_box: tuple[float, float] = (1.0, 1.0),
    ) -> TrackResult:
        """Track one video.

        ``frame_idx (N,)`` sorted, ``boxes (N, A, 4)`` (any consistent units; used for IoU),
        ``centroids (N, 2)`` pixels. ``associate(ref_rows, query_rows)`` returns logits.
        ``progress`` optionally wraps the per-frame loop (e.g. a tqdm factory).
        ``poses (N, n_nodes, 2)`` and ``node_names`` feed the orientation penalty
        (``max_angle_diff > 0``; ignored otherwise). ``px_to_box`` = box units per pixel
        along (y, x) (``(1/H, 1/W)`` for normalised boxes), for motion-predicted boxes.
        """
        self.reset()
        self._px_to_box = np.asarray(px_to_box, np.float64)
        cfg = self.cfg
        self._axes = self._orientation_axes(poses, node_names, len(frame_idx))
        n = len(frame_idx)
        frame_idx = np.asarray(frame_idx)
        centroids = np.asarray(centroids, np.float64)
        boxes = np.asarray(boxes, np.float64)
        track_id = np.full(n, -1, np.int64)
        conf = np.zeros(n, np.float32)
        inst_step = np.zeros(n, np.int64)
        uncertain: list[int] = []
        if n == 0:
            return TrackResult(track_id, conf, uncertain)
        if np.any(np.diff(frame_idx) < 0):
            raise ValueError("track_video: frame_idx must be sorted")
        starts = np.flatnonzero(np.r_[True, np.diff(frame_idx) != 0])
        ends = np.r_[starts[1:], n]
        steps = range(len(starts))
        if progress is not None:
            steps = progress(steps)
        max_tracks = cfg.max_tracks
        for step in steps:
            rows = np.arange(starts[step], ends[step])
            inst_step[rows] = step
            self._frame = int(frame_idx[rows[0]])
            if not cfg.persistent_tracking and step and step % cfg.clip_length == 0:
                self.expired.update(self.active)
                self.active = {}
            for t in [t for t, s in self.last_step.items() if t in self.active]:
                if step - self.last_step[t] > cfg.max_gap:
                    self.expired[t] = self.active.pop(t)
            full = self.next_id >= max_tracks
            queues = {**self.expired, **self.active} if full else self.active
            tids = sorted(queues)
            assigned: dict[int, int] = {}  # row position -> track id
            used: set[int] = set()
            if tids:
                scores, null, gate, thresh_vals = self._score(
                    associate, rows, tids, queues, step, inst_step, frame_idx, boxes, centroids
                )
                probs = self._confidence(np.where(gate & (not full), GATED, scores), null)
                cost = -np.where(gate, scores - 1e3, scores)
                r_ind, c_ind = _lsa(cost)
                for i, j in zip(r_ind, c_ind, strict=True):
                    val = thresh_vals[i, j]
                    if full or (not gate[i, j] and val > cfg.overlap_thresh):
                        assigned[i] = tids[j]
                        used.add(tids[j])
                        conf[rows[i]] = probs[i, j]
                new_conf = probs[:, -1]
            else:
                new_conf = np.ones(len(rows))
            for i in range(len(rows)):
                if i in assigned or self.next_id >= max_tracks:
                    continue
                assigned[i] = self.next_id
                conf[rows[i]] = new_conf[i]
                self.next_id += 1
            left = [i for i in range(len(rows)) if i not in assigned]
            spare = sorted(t for t in {**self.expired, **self.active} if t not in used)
            if left and spare:  # max_tracks reached mid-frame: best unused existing ids
                every = {**self.expired, **self.active}
                sc, nl, _, _ = self._score(
                    associate,
                    rows[left],
                    spare,
                    every,
                    step,
                    inst_step,
                    frame_idx,
                    boxes,
                    centroids,
                )
                pr = self._confidence(sc, nl)
                r2, c2 = _lsa(-sc)
                for i, j in zip(r2, c2, strict=True):
                    assigned[left[i]] = spare[j]
                    conf[rows[left[i]]] = pr[i, j]
            for i, t in assigned.items():
                r = rows[i]
                track_id[r] = t
                q = self.expired.pop(t, None) or self.active.get(t)
                if q is None:
                    q = deque(maxlen=cfg.window_size)
                q.append(int(r))
                self.active[t] = q
                self.last_step[t] = step
                self._observe(t, centroids[r])
            if cfg.verbose:
                log.info(
                    "frame %d: %d detections -> ids %s (%d candidate tracks)",
                    int(frame_idx[rows[0]]),
                    len(rows),
                    [int(track_id[r]) for r in rows],
                    len(tids),
                )
            thr = cfg.confidence_threshold
            if thr > 0 and np.any(conf[rows] < thr):
                uncertain.append(int(frame_idx[rows[0]]))
        return TrackResult(track_id, conf, uncertain)


def _lsa(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)
