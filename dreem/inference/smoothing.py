"""EXTENSION ``tracker.swap_repair``: undo short identity swaps with the frames after them.

Where two animals touch or cross, their detections can be so alike in one or two frames
that the tracker gives each the other's id, and takes the ids back once they separate: two
identity switches per crossing. A tracker that decides frame by frame cannot know better,
but the whole video is at hand afterwards. For every pair of tracks present on both sides
of a short stretch of frames, each track's position inside the stretch is interpolated
linearly between its detections just before and just after it, provided the two come
closer inside the stretch than at those anchor frames (a crossing or a touch, not two
distant animals); when the two tracks' ids inside the stretch
fit these interpolations better exchanged (the summed distance falls
below ``ratio`` times the current one) *and*, when appearance features are given, each
detection inside the stretch also looks more like the other track (cosine similarity to
that track's detections just before and after), they are exchanged. Stretches of 1 to
``max_len`` frames are tried (longest first), the best improvement first, until nothing improves.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def repair_swaps(
    frame_idx: np.ndarray,
    centroids: np.ndarray,
    track_id: np.ndarray,
    max_len: int = 2,
    ratio: float = 0.5,
    feats: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Track ids with short swaps undone (see module docstring) and how many were.

    ``frame_idx (N,)`` sorted, ``centroids (N, 2)`` pixels, ``track_id (N,)`` (``-1`` left
    alone), ``feats (N, D)`` L2-normalised appearance features or None. Frames are
    consecutive source frames (a stretch is only repaired when both tracks are seen on the
    frames right before and right after it).
    """
    ids = np.asarray(track_id, np.int64).copy()
    cen = np.asarray(centroids, np.float64)
    rows: dict[int, dict[int, int]] = defaultdict(dict)  # frame -> track id -> row
    for r, (f, t) in enumerate(zip(np.asarray(frame_idx).tolist(), ids.tolist(), strict=True)):
        if t >= 0 and np.all(np.isfinite(cen[r])):
            rows[f][t] = r
    n_repaired = 0
    for length in range(max_len, 0, -1):  # longest first: a long swap is not split
        for start in sorted(rows):
            while _repair_one(rows, cen, ids, start, length, ratio, feats):
                n_repaired += 1
    return ids, n_repaired


def _repair_one(rows, cen, ids, start: int, length: int, ratio: float, feats) -> bool:
    """Exchange the ids of the pair whose stretch ``[start, start+length)`` gains most."""
    before, after = start - 1, start + length
    stretch = range(start, after)
    if before not in rows or after not in rows or any(f not in rows for f in stretch):
        return False
    common = set(rows[before]) & set(rows[after])
    for f in stretch:
        common &= set(rows[f])
    tracks = sorted(common)
    best, best_gain = None, 0.0
    for i, a in enumerate(tracks):
        for b in tracks[i + 1 :]:
            if not _anchored(rows, cen, before, after, stretch, a, b):
                continue
            cur = swp = 0.0
            for k, f in enumerate(stretch, start=1):
                w = k / (length + 1)
                ma = (1 - w) * cen[rows[before][a]] + w * cen[rows[after][a]]
                mb = (1 - w) * cen[rows[before][b]] + w * cen[rows[after][b]]
                pa, pb = cen[rows[f][a]], cen[rows[f][b]]
                cur += np.hypot(*(pa - ma)) + np.hypot(*(pb - mb))
                swp += np.hypot(*(pa - mb)) + np.hypot(*(pb - ma))
            if swp < ratio * cur and cur - swp > best_gain:
                if feats is None or _looks_swapped(rows, feats, before, after, stretch, a, b):
                    best, best_gain = (a, b), cur - swp
    if best is None:
        return False
    a, b = best
    for f in stretch:
        ra, rb = rows[f][a], rows[f][b]
        ids[ra], ids[rb] = b, a
        rows[f][a], rows[f][b] = rb, ra
    return True


def _anchored(rows, cen, before: int, after: int, stretch, a: int, b: int) -> bool:
    """True when ``a`` and ``b`` come closer inside the stretch than at both anchors."""

    def sep(f: int) -> float:
        return float(np.hypot(*(cen[rows[f][a]] - cen[rows[f][b]])))

    return min(sep(before), sep(after)) > min(sep(f) for f in stretch)


def _looks_swapped(rows, feats, before: int, after: int, stretch, a: int, b: int) -> bool:
    """True when the stretch's detections look more like the other track's neighbours."""
    ref_a = feats[rows[before][a]] + feats[rows[after][a]]
    ref_b = feats[rows[before][b]] + feats[rows[after][b]]
    cur = swp = 0.0
    for f in stretch:
        fa, fb = feats[rows[f][a]], feats[rows[f][b]]
        cur += float(fa @ ref_a + fb @ ref_b)
        swp += float(fa @ ref_b + fb @ ref_a)
    return swp > cur
