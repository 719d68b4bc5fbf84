"""Motion prediction per track (a small Kalman filter) and a motion-based linker.

:class:`MotionTrack` filters one track's centroid with a constant-velocity Kalman filter
(state ``x, y, vx, vy``; white-noise acceleration of std ``accel_std`` px/frame², position
measurements of std ``meas_std`` px) and its box size (``w, h``) as a random walk of std
``size_std`` px/frame. It is created on a first detection, :meth:`~MotionTrack.update`\\ d
with each later one at its frame index, and :meth:`~MotionTrack.predict`\\ s the centroid and
box at any later frame, so gaps of several frames are bridged by extrapolation (with
``velocity_decay`` < 1 the velocity fades over a gap instead of carrying on forever).
:func:`predict_centroids` predicts many tracks at once.

:class:`MotionTracker` has the interface and id semantics of
:class:`~dreem.inference.baseline.CentroidTracker` (ids 0, 1, … in order of creation,
``max_tracks``, ``max_gap`` in processed frames, a distance gate ``max_center_dist``) but
links each frame's detections to the tracks' *predicted* positions at that frame
(Hungarian on the Euclidean distance), so two animals that cross keep their ids when they
move steadily. Confidence: as the centroid baseline's (softmax over ``-distance / scale``
plus a "new track" option), in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import attrs
import numpy as np

from dreem.config.tracker import MotionConfig, TrackerConfig
from dreem.inference.baseline import distance_scale
from dreem.inference.tracker import TrackResult, _lsa, _softmax_rows


@attrs.define(frozen=True)
class KalmanParams:
    """Noise model of :class:`MotionTrack` (pixels and frames); see
    :class:`dreem.config.tracker.MotionConfig` for the meanings and defaults."""

    accel_std: float
    meas_std: float
    size_std: float
    init_vel_std: float
    velocity_decay: float

    def __attrs_post_init__(self) -> None:
        if min(self.accel_std, self.meas_std, self.size_std, self.init_vel_std) < 0:
            raise ValueError(f"noise levels must be >= 0: {self}")
        if not 0.0 < self.velocity_decay <= 1.0:
            raise ValueError(f"velocity_decay must be in (0, 1], got {self.velocity_decay}")


def kalman_params(cfg: MotionConfig) -> KalmanParams:
    """The Kalman noise model of a validated ``tracker.motion`` section."""
    return KalmanParams(
        accel_std=cfg.accel_std,
        meas_std=cfg.meas_std,
        size_std=cfg.size_std,
        init_vel_std=cfg.init_vel_std,
        velocity_decay=cfg.velocity_decay,
    )


def _transition(dt: int, decay: float) -> np.ndarray:
    """State transition over ``dt`` frames: ``x += v * s``, ``v *= decay**dt``."""
    reach = dt if decay == 1.0 else (1.0 - decay**dt) / (1.0 - decay)
    f = np.eye(4)
    f[0, 2] = f[1, 3] = reach
    f[2, 2] = f[3, 3] = decay**dt
    return f


def _process_noise(accel_std: float) -> np.ndarray:
    """One frame of white-noise acceleration for a constant-velocity model."""
    q1 = accel_std**2 * np.array([[0.25, 0.5], [0.5, 1.0]])
    q = np.zeros((4, 4))
    q[np.ix_([0, 2], [0, 2])] = q1
    q[np.ix_([1, 3], [1, 3])] = q1
    return q


class MotionTrack:
    """Constant-velocity Kalman filter over one track's centroid, plus its box size.

    ``centroid`` is (x, y); ``box`` (y1, x1, y2, x2) or None. ``frame`` is the frame index
    of that first detection.
    """

    def __init__(
        self,
        centroid: Sequence[float],
        frame: int,
        box: Sequence[float] | None = None,
        params: KalmanParams | None = None,
    ):
        c = np.asarray(centroid, np.float64).reshape(2)
        if not np.all(np.isfinite(c)):
            raise ValueError(f"a track must start from a finite centroid, got {c}")
        params = params if params is not None else kalman_params(MotionConfig())
        self.params = params
        self.frame = int(frame)
        self.x = np.array([c[0], c[1], 0.0, 0.0])
        self.P = np.diag([params.meas_std**2] * 2 + [params.init_vel_std**2] * 2)
        self.size: np.ndarray | None = None
        self.size_var = 0.0
        self.n_updates = 1
        self._set_size(box)

    @property
    def centroid(self) -> np.ndarray:
        """Filtered centroid (x, y) at :attr:`frame`."""
        return self.x[:2].copy()

    @property
    def velocity(self) -> np.ndarray:
        """Filtered velocity (px/frame) at :attr:`frame`."""
        return self.x[2:].copy()

    def _set_size(self, box: Sequence[float] | None) -> None:
        size = _box_size(box)
        if size is None:
            return
        if self.size is None:
            self.size, self.size_var = size, self.params.meas_std**2
            return
        var = self.size_var + self.params.size_std**2
        gain = var / (var + self.params.meas_std**2)
        self.size = self.size + gain * (size - self.size)
        self.size_var = (1.0 - gain) * var

    def _propagate(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        dt = int(frame) - self.frame
        if dt < 0:
            raise ValueError(f"cannot predict frame {frame}: track last updated at {self.frame}")
        p = self.params
        q = _process_noise(p.accel_std)
        one = _transition(1, p.velocity_decay)
        cov = self.P
        for _ in range(dt):
            cov = one @ cov @ one.T + q
        return _transition(dt, p.velocity_decay) @ self.x, cov

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted centroid (x, y) and box (y1, x1, y2, x2, or None) at ``frame``
        (>= :attr:`frame`); the track is not changed."""
        state, _ = self._propagate(frame)
        return state[:2].copy(), _box_at(state[:2], self.size)

    def predict_cov(self, frame: int) -> np.ndarray:
        """(2, 2) covariance of the predicted centroid at ``frame``."""
        return self._propagate(frame)[1][:2, :2].copy()

    def update(
        self, centroid: Sequence[float], frame: int, box: Sequence[float] | None = None
    ) -> None:
        """Correct the track with a detection at ``frame`` (>= :attr:`frame`). A non-finite
        centroid only moves the track to ``frame`` (a prediction, no correction)."""
        state, cov = self._propagate(frame)
        z = np.asarray(centroid, np.float64).reshape(2)
        if np.all(np.isfinite(z)):
            h = np.eye(2, 4)  # we observe the position
            s = h @ cov @ h.T + np.eye(2) * self.params.meas_std**2
            gain = cov @ h.T @ np.linalg.inv(s)
            state = state + gain @ (z - h @ state)
            cov = (np.eye(4) - gain @ h) @ cov
            self.n_updates += 1
        self.x, self.P, self.frame = state, 0.5 * (cov + cov.T), int(frame)
        self._set_size(box)


def _box_size(box: Sequence[float] | None) -> np.ndarray | None:
    """(w, h) of a (y1, x1, y2, x2) box, or of the NaN-mean box of several anchors."""
    if box is None:
        return None
    b = np.asarray(box, np.float64).reshape(-1, 4)
    b = b[np.isfinite(b).all(axis=1)]
    if not len(b):
        return None
    m = b.mean(axis=0)
    return np.array([m[3] - m[1], m[2] - m[0]])


def _box_at(center: np.ndarray, size: np.ndarray | None) -> np.ndarray | None:
    if size is None:
        return None
    x, y = center
    w, h = size
    return np.array([y - h / 2, x - w / 2, y + h / 2, x + w / 2])


def predict_centroids(tracks: Sequence[MotionTrack], frame: int) -> np.ndarray:
    """Predicted centroids (n, 2) of ``tracks`` at ``frame`` in one vectorised step (the
    same values as ``track.predict(frame)[0]`` for each)."""
    if not tracks:
        return np.zeros((0, 2))
    x = np.stack([t.x for t in tracks])
    dt = frame - np.array([t.frame for t in tracks], np.float64)
    if np.any(dt < 0):
        raise ValueError(f"frame {frame} is before the last update of some tracks")
    decay = np.array([t.params.velocity_decay for t in tracks])
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(decay == 1.0, dt, (1.0 - decay**dt) / (1.0 - decay))
    return x[:, :2] + reach[:, None] * x[:, 2:]


class MotionTracker:
    """Hungarian linking on the distance to each track's Kalman-predicted position.

    Of the tracker section it uses ``max_center_dist`` (px gate between a detection and a
    track's predicted position; null = no gate), ``max_gap`` (a track unseen for more
    processed frames is no longer a candidate), ``max_tracks`` (never more ids; once reached
    every id is a candidate and the gate is ignored), ``confidence_threshold`` (frames with
    a lower confidence are flagged uncertain) and ``motion`` (the Kalman noise levels).
    """

    use_vis_feats = False

    def __init__(self, cfg: TrackerConfig):
        self.cfg = cfg
        self.max_center_dist = math.inf if cfg.max_center_dist is None else cfg.max_center_dist
        self.max_gap = cfg.max_gap
        self.max_tracks = cfg.max_tracks
        self.confidence_threshold = cfg.confidence_threshold
        self.params = kalman_params(cfg.motion)

    def track_video(
        self,
        frame_idx: np.ndarray,
        boxes: np.ndarray,
        centroids: np.ndarray,
        progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
    ) -> TrackResult:
        """Track one video: per-instance ``frame_idx`` (n,), ``boxes`` (n, A, 4) as
        (y1, x1, y2, x2) pixels, ``centroids`` (n, 2) as (x, y), sorted by frame."""
        n = len(frame_idx)
        if n == 0:
            return TrackResult(np.zeros(0, np.int64), np.zeros(0, np.float32), [])
        frame_idx = np.asarray(frame_idx)
        if np.any(np.diff(frame_idx) < 0):
            raise ValueError("MotionTracker.track_video: instances must be sorted by frame")
        cen = np.asarray(centroids, np.float64).reshape(n, 2)
        boxes = np.asarray(boxes, np.float64).reshape(n, -1, 4)
        scale = distance_scale(boxes)
        track_id = np.full(n, -1, np.int64)
        conf = np.zeros(n, np.float32)
        starts = np.flatnonzero(np.r_[True, np.diff(frame_idx) != 0])
        ends = np.r_[starts[1:], n]
        tracks: dict[int, MotionTrack | None] = {}  # None: no finite centroid seen yet
        last_step: dict[int, int] = {}
        uncertain: list[int] = []
        next_id = 0
        steps: Iterable[int] = range(len(starts))
        if progress is not None:
            steps = progress(steps)
        for step in steps:
            rows = np.arange(starts[step], ends[step])
            frame = int(frame_idx[rows[0]])
            full = next_id >= self.max_tracks
            tids = sorted(t for t in tracks if full or step - last_step[t] <= self.max_gap)
            pred = self._predicted(tracks, tids, frame)
            assigned, new_conf = self._link(cen[rows], pred, scale[rows], full, conf, rows, tids)
            for i in range(len(rows)):
                if i not in assigned and next_id < self.max_tracks:
                    assigned[i] = next_id
                    conf[rows[i]] = new_conf[i]
                    next_id += 1
            self._fill_spare(assigned, cen[rows], tracks, frame, conf, rows)
            for i, t in assigned.items():
                track_id[rows[i]] = t
                self._observe(tracks, t, cen[rows[i]], frame, boxes[rows[i]])
                last_step[t] = step
            thr = self.confidence_threshold
            if thr > 0 and np.any(conf[rows] < thr):
                uncertain.append(frame)
        return TrackResult(track_id, conf, uncertain)

    def _predicted(self, tracks: dict, tids: list[int], frame: int) -> np.ndarray:
        """(len(tids), 2) predicted positions at ``frame`` (NaN for tracks without one)."""
        out = np.full((len(tids), 2), np.nan)
        live = [j for j, t in enumerate(tids) if tracks[t] is not None]
        if live:
            out[live] = predict_centroids([tracks[tids[j]] for j in live], frame)
        return out

    def _link(self, cen, pred, scale, full, conf, rows, tids) -> tuple[dict[int, int], np.ndarray]:
        """Hungarian match of the frame's detections to candidate tracks (gated)."""
        if not tids:
            return {}, np.ones(len(cen))
        d = np.linalg.norm(cen[:, None] - pred[None], axis=-1)
        d = np.where(np.isfinite(d), d, 1e9)
        gate = d > self.max_center_dist
        radius = np.where(math.isfinite(self.max_center_dist), self.max_center_dist, 4 * scale)
        logits = np.concatenate([-d, -radius[:, None]], axis=1) / scale[:, None]
        probs = _softmax_rows(logits)
        assigned: dict[int, int] = {}
        for i, j in zip(*_lsa(np.where(gate, d + 1e9, d)), strict=True):
            if full or not gate[i, j]:
                assigned[int(i)] = tids[j]
                conf[rows[i]] = probs[i, j]
        return assigned, probs[:, -1]

    def _fill_spare(self, assigned, cen, tracks, frame, conf, rows) -> None:
        """Detections left over once ``max_tracks`` ids exist take the nearest unused id."""
        left = [i for i in range(len(cen)) if i not in assigned]
        spare = sorted(set(tracks) - set(assigned.values()))
        if not left or not spare:
            return
        pred = self._predicted(tracks, spare, frame)
        d = np.linalg.norm(cen[left][:, None] - pred[None], axis=-1)
        for i, j in zip(*_lsa(np.where(np.isfinite(d), d, 1e9)), strict=True):
            assigned[left[i]] = spare[j]
            conf[rows[left[i]]] = 0.5

    def _observe(self, tracks: dict, tid: int, c: np.ndarray, frame: int, box) -> None:
        track = tracks.get(tid)
        if track is not None:
            track.update(c, frame, box)
        elif np.all(np.isfinite(c)):
            tracks[tid] = MotionTrack(c, frame, box, self.params)
        else:
            tracks[tid] = None
