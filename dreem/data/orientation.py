"""Body orientation of instances and crops rotated to it.

:func:`instance_axes` gives each instance's body axis from its keypoints (front − back nodes,
else the principal axis); :func:`aligned_crops` cuts crops rotated so that this axis points
up (EXTENSION ``align_crops``): an animal's pattern then looks the same whichever way it
walks, which is what makes appearance comparable across frames without learning rotation
invariance.
"""

from __future__ import annotations

import numpy as np


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


def aligned_crops(
    image: np.ndarray, anchors_xy: np.ndarray, axes: np.ndarray, side: int
) -> np.ndarray:
    """Square crops ``(n, A, C, side, side)`` centred on ``anchors_xy`` ``(n, A, 2)`` and
    rotated so each instance's axis ``axes`` ``(n, 2)`` (unit, image x/y) points up; an
    instance without an axis (NaN) is cut unrotated, a missing anchor gives zeros.

    Output pixel ``side // 2`` (row and column) samples the anchor; bilinear interpolation,
    zeros outside the frame. Native dtype is kept.
    """
    import cv2

    img = image if image.ndim == 3 else image[:, :, None]
    c = img.shape[2]
    n, a = anchors_xy.shape[:2]
    out = np.zeros((n, a, c, side, side), dtype=img.dtype)
    centre = side // 2
    for i in range(n):
        ax = axes[i]
        if np.all(np.isfinite(ax)) and np.hypot(*ax) > 1e-9:
            # rotate so that ax -> (0, -1): theta = -pi/2 - atan2(ay, ax)
            theta = -np.pi / 2 - np.arctan2(ax[1], ax[0])
        else:
            theta = 0.0
        cos, sin = np.cos(theta), np.sin(theta)
        rot = np.array([[cos, -sin], [sin, cos]])
        for k in range(a):
            p = anchors_xy[i, k]
            if not np.all(np.isfinite(p)):
                continue
            m = np.hstack([rot, (np.array([centre, centre]) - rot @ p)[:, None]])
            warped = cv2.warpAffine(
                img, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
            out[i, k] = (warped if warped.ndim == 3 else warped[:, :, None]).transpose(2, 0, 1)
    return out
