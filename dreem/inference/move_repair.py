"""EXTENSION ``tracker.swap_repair.move_gap``: give detections back to the animal they belong to.

Where an animal is missing for a frame or a few (behind an occluder, a missed detection),
the tracker can give its id to a neighbour's detection, or give the missing animal's
detection to a neighbour when it comes back, and take it back a frame later. Each such
frame costs two identity switches, and no two tracks are exchanged, so
:func:`dreem.inference.smoothing.repair_swaps` cannot see it.

For a run of up to ``max_len`` consecutive detections of a track ``a``, and a track ``b``
not seen on those frames, both tracks' positions there are interpolated (linearly in time)
between their sightings just before and just after the run, each at most ``move_gap``
frames away. When the run fits ``b``'s interpolation better by ``ratio`` (summed distance
below ``ratio`` times the fit to ``a``'s) and, with appearance features, looks more like
``b``'s sightings around it than like ``a``'s, the run is given to ``b``. Given keypoints,
whole poses are fitted instead of positions, as in the short-swap repair. Where the run
lies farther from ``a``'s path than the tracks' speed limit
(:func:`dreem.inference.smoothing.speed_limit`: no animal gets there in a frame), the
positions decide alone: two animals on top of each other give a crop that looks like both.
So they do where another animal is in a crop of the run (``crowded``) and the run fits
``b`` better by ``CONTACT_RATIO``, and where the run fits ``b`` that clearly and looks more
like ``a`` only by less than ``LOOKALIKE_MARGIN`` (look-alike animals, whose crops cannot
tell). The best gains first, until nothing gains.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from dreem.inference.smoothing import (
    CONTACT_RATIO,
    LOOKALIKE_MARGIN,
    fit_points,
    pose_distance,
    shared_points,
    speed_limit,
    track_arrays,
)


@dataclass
class _Track:
    frames: list[int]
    rows: list[int]


def repair_moves(
    frame_idx: np.ndarray,
    centroids: np.ndarray,
    track_id: np.ndarray,
    max_len: int = 2,
    ratio: float = 0.5,
    move_gap: int = 1,
    feats: np.ndarray | None = None,
    crowded: np.ndarray | None = None,
    points: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Track ids with detections given back (see module docstring) and how many runs were.

    ``frame_idx (N,)``, ``centroids (N, 2)`` pixels, ``track_id (N,)`` (``-1`` left alone),
    ``feats (N, D)`` L2-normalised appearance features or None; ``crowded (N,)``
    (:func:`dreem.inference.smoothing.crowded_rows`): a run with another animal in a crop
    that fits ``b`` better by ``CONTACT_RATIO`` is decided by position alone. ``points
    (N, K, 2)`` (keypoints, NaN where unseen) or None: the fits compare whole poses
    (:func:`dreem.inference.smoothing.pose_distance`) instead of centroids.
    """
    ids, frames, cen, ok = track_arrays(frame_idx, centroids, track_id)
    pts = fit_points(cen, points)
    vmax = speed_limit(frames, cen, ids, ok)
    n_moved = 0
    if vmax is None:
        return ids, 0
    for _ in range(int(ok.sum())):  # every sweep moves at least one run; bounded anyway
        tracks = _tracks(frames, ids, ok)
        moves = sorted(
            _candidates(tracks, (cen, pts), feats, crowded, max_len, ratio, move_gap, vmax),
            reverse=True,
        )
        touched: set[int] = set()
        for _gain, a, b, run in moves:
            if a in touched or b in touched:
                continue  # re-evaluated in the next sweep against the changed tracks
            ids[run] = b
            touched |= {a, b}
            n_moved += 1
        if not touched:
            break
    return ids, n_moved


def _tracks(frames, ids, ok) -> dict[int, _Track]:
    """Per track id: its frames and rows, in frame order."""
    rows = np.flatnonzero(ok)
    rows = rows[np.lexsort((frames[rows], ids[rows]))]
    out: dict[int, _Track] = {}
    for t, r in zip(ids[rows].tolist(), rows.tolist(), strict=True):
        tr = out.setdefault(t, _Track([], []))
        tr.frames.append(int(frames[r]))
        tr.rows.append(r)
    return out


def _candidates(
    tracks, where, feats, crowded, max_len: int, ratio: float, move_gap: int, vmax: float
):
    """``(gain, a, b, rows)`` for every run of ``a`` that fits absent ``b`` better;
    ``where`` is ``(centroids, fit points)``."""
    for b, tb in tracks.items():
        for k in range(len(tb.frames) - 1):
            f0, f1 = tb.frames[k], tb.frames[k + 1]
            if f1 - f0 < 2 or f1 - f0 > move_gap + 1:
                continue  # b seen on the next frame, or missing for too long
            b0, b1 = tb.rows[k], tb.rows[k + 1]
            for a, ta in tracks.items():
                if a == b:
                    continue
                lo = bisect.bisect_right(ta.frames, f0)
                hi = bisect.bisect_left(ta.frames, f1)  # a's sightings inside b's gap
                for i in range(lo, hi):
                    for j in range(i, min(i + max_len, hi)):
                        found = _run_gain(
                            ta, i, j, (b0, b1, f0, f1), where, feats, crowded, ratio, move_gap, vmax
                        )
                        if found is not None:
                            yield found, a, b, ta.rows[i : j + 1]


def _run_gain(ta, i, j, b_anchors, where, feats, crowded, ratio, move_gap, vmax) -> float | None:
    """The distance gained by giving ``a``'s sightings ``i..j`` to ``b`` (anchored at rows
    ``b0, b1`` on frames ``f0, f1``); None when it gains nothing or may not move."""
    if i == 0 or j + 1 >= len(ta.frames):
        return None  # a's run starts or ends the track: no interpolation to compare with
    fa0, fa1 = ta.frames[i - 1], ta.frames[j + 1]
    if ta.frames[i] - fa0 > move_gap or fa1 - ta.frames[j] > move_gap:
        return None
    b0, b1, f0, f1 = b_anchors
    a0, a1 = ta.rows[i - 1], ta.rows[j + 1]
    run = ta.rows[i : j + 1]
    cen, pts = where
    cur = swp = 0.0
    for k in range(i, j + 1):
        f, r = ta.frames[k], ta.rows[k]
        p, use = shared_points(pts, cen, [r, a0, a1, b0, b1])
        cur += _dist(p, r, a0, a1, (f - fa0) / (fa1 - fa0), use)
        swp += _dist(p, r, b0, b1, (f - f0) / (f1 - f0), use)
    if not swp < ratio * cur:
        return None
    off_path = cur / (j + 1 - i) > vmax  # farther from a's path than a frame's motion
    clear = swp < CONTACT_RATIO * cur
    touching = clear and crowded is not None and bool(crowded[run].any())
    if feats is not None and not off_path and not touching:
        ref = feats[b0] + feats[b1] - feats[a0] - feats[a1]
        look_gain = float(np.sum(feats[run] @ ref)) / (2 * len(run))  # mean cosine gain
        if look_gain <= 0 and not (clear and look_gain > -LOOKALIKE_MARGIN):
            return None  # the run looks more like a's own sightings (and they are not alike)
    return cur - swp


def _dist(p: np.ndarray, r: int, r0: int, r1: int, w: float, use: np.ndarray) -> float:
    """Distance from row ``r``'s pose to the pose a fraction ``w`` of the way from row
    ``r0``'s to row ``r1``'s (on the points ``use``)."""
    return pose_distance(p[r], (1 - w) * p[r0] + w * p[r1], use)
