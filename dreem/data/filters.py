"""Per-frame detection filters, tight boxes and crop masking used by extraction.

* :func:`overlap_suppression` — ``max_detection_overlap``: non-max suppression on the
  intersection over the *smaller* box's area (IoM, averaged over anchors);
* :func:`cap_predicted` — ``max_tracks``: drop the lowest-score predicted instances;
* :func:`tight_boxes` — ``use_tight_bbox``: extent of the visible keypoints (or of the mask);
* :func:`mask_crops` — ``apply_mask_to_crop``: zero crop pixels outside the instance mask;
* :func:`dilate_crops` — ``dilation_radius_px``: zero crop pixels far from every keypoint.

Boxes are ``[y1, x1, y2, x2]`` pixels; crops ``(n, A, C, S, S)`` with crop pixel ``(r, c)``
being frame pixel ``(y1 + r, x1 + c)`` of its square window (see :mod:`dreem.data.geometry`).
"""

from __future__ import annotations

import numpy as np


def intersection_over_min(boxes: np.ndarray) -> np.ndarray:
    """Pairwise IoM ``(n, n)`` of boxes ``(n, A, 4)``, averaged over anchors (NaN-aware)."""
    a = boxes[:, None]
    b = boxes[None, :]
    h = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    w = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(h, 0, None) * np.clip(w, 0, None)
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    smaller = np.minimum(area[:, None], area[None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        iom = inter / smaller
    iom = np.where(smaller > 0, iom, np.nan)
    valid = np.isfinite(iom)
    n_valid = valid.sum(-1)
    total = np.where(valid, iom, 0.0).sum(-1)
    return np.where(n_valid > 0, total / np.maximum(n_valid, 1), 0.0)


def overlap_suppression(boxes: np.ndarray, n_visible: np.ndarray, threshold: float) -> np.ndarray:
    """Keep mask ``(n,)``: for each pair ``i < j`` (in order) with IoM above ``threshold``
    and neither already dropped, drop the one with fewer visible keypoints (tie: ``j``)."""
    n = len(boxes)
    keep = np.ones(n, bool)
    if n < 2 or threshold <= 0:
        return keep
    iom = intersection_over_min(np.asarray(boxes, np.float64))
    ii, jj = np.nonzero(np.triu(iom > threshold, k=1))
    for i, j in zip(ii, jj, strict=True):
        if keep[i] and keep[j]:
            keep[i if n_visible[i] < n_visible[j] else j] = False
    return keep


def cap_predicted(
    scores: np.ndarray, predicted: np.ndarray, keep: np.ndarray, max_tracks: int | None
) -> np.ndarray:
    """Drop (in ``keep``) the lowest-score predicted instance (score < 1; tie: the later one)
    while more than ``max_tracks`` are kept; user labels are never dropped."""
    keep = keep.copy()
    if max_tracks is None:
        return keep
    droppable = np.asarray(predicted, bool) & (np.asarray(scores, np.float64) < 1)
    while keep.sum() > max_tracks:
        cand = np.flatnonzero(keep & droppable)
        if not len(cand):
            break
        s = np.asarray(scores, np.float64)[cand]
        worst = cand[np.flatnonzero(s == s.min())[-1]]
        keep[worst] = False
    return keep


def tight_boxes(
    points: np.ndarray, masks: list[np.ndarray | None], padding: int, fallback: np.ndarray
) -> np.ndarray:
    """Tight boxes ``(n, A, 4)``: the instance's mask extent (pixel edges) if it has a mask,
    else the extent of its visible keypoints when it has at least two, grown by ``padding``
    on each side; otherwise (a single point) the square ``fallback`` box. The same box is
    used for every anchor."""
    out = np.array(fallback, np.float32, copy=True)
    for i, pts in enumerate(np.asarray(points, np.float32)):
        m = masks[i] if i < len(masks) else None
        if m is not None and m.any():
            rows = np.flatnonzero(m.any(1))
            cols = np.flatnonzero(m.any(0))
            box = [rows[0], cols[0], rows[-1] + 1, cols[-1] + 1]
        else:
            vis = pts[np.isfinite(pts).all(-1)]
            if len(vis) < 2:
                continue
            box = [vis[:, 1].min(), vis[:, 0].min(), vis[:, 1].max(), vis[:, 0].max()]
        b = np.asarray(box, np.float32) + np.array([-1, -1, 1, 1], np.float32) * padding
        out[i, :] = b
    return out


def mask_crops(crops: np.ndarray, windows: np.ndarray, masks: list[np.ndarray | None]) -> None:
    """Zero, in place, the pixels of ``crops (n, A, C, S, S)`` outside each instance's
    full-frame bool mask (instances without a mask are left as they are)."""
    from dreem.data.geometry import crop_windows

    side = crops.shape[-1]
    for i, m in enumerate(masks):
        if m is None:
            continue
        inside = crop_windows(np.asarray(m, bool), windows[i], side)  # (A, 1, S, S) bool
        crops[i] *= inside.astype(crops.dtype)


def dilate_crops(crops: np.ndarray, windows: np.ndarray, points: np.ndarray, radius: float) -> None:
    """Zero, in place, crop pixels farther than ``radius`` from every visible keypoint of
    the instance (pixel centres; keypoints in frame pixels). Instances without visible
    keypoints are left as they are (their crops are already empty)."""
    side = crops.shape[-1]
    grid = np.arange(side, dtype=np.float32)
    r2 = float(radius) ** 2
    for i, pts in enumerate(np.asarray(points, np.float32)):
        vis = pts[np.isfinite(pts).all(-1)]
        if not len(vis):
            continue
        for a, win in enumerate(windows[i]):
            if not np.isfinite(win).all():
                continue
            dy = (win[0] + grid)[None, :, None] - vis[:, 1, None, None]  # (k, S, 1)
            dx = (win[1] + grid)[None, None, :] - vis[:, 0, None, None]  # (k, 1, S)
            near = ((dy * dy + dx * dx) <= r2).any(0)  # (S, S)
            crops[i, a] *= near.astype(crops.dtype)
