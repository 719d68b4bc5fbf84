"""Soft score penalties of the tracker: centroid distance and body orientation (spec §6.4).

Both penalties are non-negative ``(n_query, n_track)`` arrays subtracted from the track
scores after row scaling: ``scores -= multiplier * scale_i * penalty`` with
``scale_i = mean_j |scores_ij| / (mean_j penalty_ij + 1e-8)``, so a penalty is expressed in
the units of that row's scores whatever its own units.
"""

from __future__ import annotations

import numpy as np


def row_scaled_penalty(scores: np.ndarray, penalty: np.ndarray, multiplier: float) -> np.ndarray:
    """``scores`` minus the row-scaled ``penalty`` (NaN penalties count as 0)."""
    pen = np.nan_to_num(np.asarray(penalty, np.float64), nan=0.0)
    scale = np.abs(scores).mean(1, keepdims=True) / (pen.mean(1, keepdims=True) + 1e-8)
    return scores - float(multiplier) * scale * pen


def distance_penalty(query_xy: np.ndarray, track_xy: np.ndarray, max_dist: float) -> np.ndarray:
    """``max(d - max_dist, 0)`` for centroid distances ``d`` (pixels); NaN distance → 0."""
    d = np.linalg.norm(query_xy[:, None] - track_xy[None], axis=-1)
    return np.nan_to_num(np.maximum(d - max_dist, 0.0), nan=0.0)


def _first_present(points: np.ndarray, indices: list[int]) -> np.ndarray:
    """Per instance, the first visible node among ``indices`` ``(N, 2)`` (NaN if none)."""
    out = np.full((points.shape[0], 2), np.nan)
    todo = np.ones(points.shape[0], bool)
    for k in indices:
        ok = todo & np.isfinite(points[:, k]).all(-1)
        out[ok] = points[ok, k]
        todo &= ~ok
    return out


def pca_axes(points: np.ndarray) -> np.ndarray:
    """Principal axis (unit, sign arbitrary) of each instance's visible keypoints ``(N, 2)``.

    The first right-singular vector of the centred points (``Vt[0]``); NaN with fewer than
    two distinct visible points. (The reference takes ``Vt[:, 0]``, a bug.)
    """
    pts = np.asarray(points, np.float64)
    out = np.full((pts.shape[0], 2), np.nan)
    vis = np.isfinite(pts).all(-1)
    for i in np.flatnonzero(vis.sum(1) >= 2):
        p = pts[i, vis[i]]
        p = p - p.mean(0)
        _, s, vt = np.linalg.svd(p, full_matrices=False)
        if s[0] > 1e-9:
            out[i] = vt[0]
    return out


def instance_axes(
    poses: np.ndarray,
    node_names: list[str] | None,
    front_nodes: list[str] | None = None,
    back_nodes: list[str] | None = None,
) -> np.ndarray:
    """Unit body axis per instance ``(N, 2)``: front − back when both lists give a visible
    node (the first present of each list), else PCA of the visible keypoints; NaN if neither.
    """
    pts = np.asarray(poses, np.float64).reshape(len(poses), -1, 2)
    axes = pca_axes(pts)
    names = list(node_names or [])
    front = [names.index(n) for n in (front_nodes or []) if n in names]
    back = [names.index(n) for n in (back_nodes or []) if n in names]
    if front and back:
        v = _first_present(pts, front) - _first_present(pts, back)
        norm = np.linalg.norm(v, axis=-1)
        ok = np.isfinite(norm) & (norm > 1e-9)
        axes[ok] = v[ok] / norm[ok, None]
    return axes


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
