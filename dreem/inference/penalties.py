"""Soft score penalties of the tracker: centroid distance and body orientation (spec §6.4).

Both penalties are non-negative ``(n_query, n_track)`` arrays subtracted from the track
scores after row scaling: ``scores -= multiplier * scale_i * penalty`` with
``scale_i = mean_j |scores_ij| / (mean_j penalty_ij + 1e-8)``, so a penalty is expressed in
the units of that row's scores whatever its own units.
"""

from __future__ import annotations

import numpy as np

from dreem.data.orientation import instance_axes, pca_axes  # noqa: F401 (re-export)


def row_scaled_penalty(scores: np.ndarray, penalty: np.ndarray, multiplier: float) -> np.ndarray:
    """``scores`` minus the row-scaled ``penalty`` (NaN penalties count as 0)."""
    pen = np.nan_to_num(np.asarray(penalty, np.float64), nan=0.0)
    scale = np.abs(scores).mean(1, keepdims=True) / (pen.mean(1, keepdims=True) + 1e-8)
    return scores - float(multiplier) * scale * pen


def distance_penalty(query_xy: np.ndarray, track_xy: np.ndarray, max_dist: float) -> np.ndarray:
    """``max(d - max_dist, 0)`` for centroid distances ``d`` (pixels); NaN distance → 0."""
    d = np.linalg.norm(query_xy[:, None] - track_xy[None], axis=-1)
    return np.nan_to_num(np.maximum(d - max_dist, 0.0), nan=0.0)


def angle_penalty(query_axes: np.ndarray, track_axes: np.ndarray, max_angle_deg: float):
    """``max(angle - max_angle, 0)`` (radians) between axes, the angle folded to [0, π/2]
    (an axis has no head/tail); pairs with an unknown axis get 0."""
    a = query_axes[:, None]
    b = track_axes[None]
    cross = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    dot = (a * b).sum(-1)
    ang = np.abs(np.arctan2(cross, dot))
    ang = np.where(ang > np.pi / 2, np.pi - ang, ang)
    pen = np.maximum(ang - np.deg2rad(max_angle_deg), 0.0)
    return np.nan_to_num(pen, nan=0.0)
