"""EXTENSION ``tracker.swap_repair``: undo short identity swaps with the frames after them.

Where two animals touch or cross, their detections can be so alike in one or two frames
that the tracker gives each the other's id, and takes the ids back once they separate: two
identity switches per crossing. A tracker that decides frame by frame cannot know better,
but the whole video is at hand afterwards. For every pair of tracks present on both sides
of a short stretch of frames, each track's position inside the stretch is interpolated
between its detections just before and just after it (its anchors: with ``gap`` above 1, a
track unseen next to the stretch is anchored at its sightings up to ``gap`` frames away, so
an exchange on the frame an animal comes back from an occlusion is seen too): along the
cubic through the anchors and the track's sightings on the frames just outside them where
it is seen there at its pace (an animal that turns fast bends its path between two frames,
and a straight line through the bend can fit the other animal better), else along the
straight line between the anchors. Provided the two come closer inside the stretch than
at one of their anchors (they approach, meet or part there, not keep apart), when the two
tracks' ids inside the stretch fit these paths better exchanged (the summed distance falls
below ``ratio`` times the current one) *and*, when appearance features are given, each
detection inside the stretch also looks more like the other track (cosine similarity to
that track's anchors), they are exchanged. Stretches of 1 to ``max_len`` frames are tried
(longest first), the best improvement first, until nothing improves. Given keypoints,
whole poses are interpolated and compared instead of centroids (:func:`pose_distance`:
where the keypoints seen in all the detections involved stand, plus how they lie around
that): two animals on top of each other have nearly one centroid but seldom one heading.

Lasting swaps (``tail_window``, :func:`repair_tail_swaps`): after an occlusion, or where two
animals look alike for a few frames (both half behind the same occluder), the tracker can
carry two identities on exchanged tracks for the rest of the video. Each track's mean
appearance over a window before and after a cut then disagrees with itself and agrees with
the other's; exchanging the tails, where the exchanged links are physically possible, undoes
it. Crops that show two animals (:func:`crowded_rows`) look like both and are left out of
the means. This is the track-level memory of appearance a frame-by-frame tracker lacks.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import numpy as np


def repair_swaps(
    frame_idx: np.ndarray,
    centroids: np.ndarray,
    track_id: np.ndarray,
    max_len: int = 2,
    ratio: float = 0.5,
    feats: np.ndarray | None = None,
    crowded: np.ndarray | None = None,
    points: np.ndarray | None = None,
    gap: int = 1,
) -> tuple[np.ndarray, int]:
    """Track ids with short swaps undone (see module docstring) and how many were.

    ``frame_idx (N,)`` sorted, ``centroids (N, 2)`` pixels, ``track_id (N,)`` (``-1`` left
    alone), ``feats (N, D)`` L2-normalised appearance features or None. Frames are
    consecutive source frames. Each track's anchors are its last sighting before a stretch
    and its first after it, each at most ``gap`` frames away (1: the frames right before and
    right after; more: a track that was unseen next to the stretch, coming back from a gap
    on its first frame, is interpolated across the gap). ``crowded (N,)``
    (:func:`crowded_rows`): where a detection of the stretch has another animal in its crop
    (its looks are unreliable), positions fitting better by ``CONTACT_RATIO`` decide alone.
    ``points (N, K, 2)`` (keypoints, NaN where not visible) or None: the fits compare whole
    poses (:func:`pose_distance`) instead of centroids.
    """
    ids = np.asarray(track_id, np.int64).copy()
    cen = np.asarray(centroids, np.float64)
    pts = fit_points(cen, points)
    rows: dict[int, dict[int, int]] = defaultdict(dict)  # frame -> track id -> row
    for r, (f, t) in enumerate(zip(np.asarray(frame_idx).tolist(), ids.tolist(), strict=True)):
        if t >= 0 and np.all(np.isfinite(cen[r])):
            rows[f][t] = r
    n_repaired = 0
    stretch_fit = _StretchFit(rows, cen, pts, ratio, feats, crowded, max(1, int(gap)))
    for length in range(max_len, 0, -1):  # longest first: a long swap is not split
        for start in sorted(rows):
            while stretch_fit.repair_one(ids, start, length):
                n_repaired += 1
    return ids, n_repaired


class _StretchFit:
    """The short-swap repair's test of one stretch of frames (see :func:`repair_swaps`)."""

    def __init__(self, rows, cen, pts, ratio: float, feats, crowded, gap: int) -> None:
        self.rows, self.cen, self.pts = rows, cen, pts
        self.ratio, self.feats, self.crowded, self.gap = ratio, feats, crowded, gap

    def anchors(self, t: int, start: int, after: int) -> _Path | None:
        """Track ``t``'s path around the stretch: its last sighting before frame ``start``
        and its first from frame ``after`` on, each at most ``gap`` frames from the stretch,
        and its sightings on the frames just outside those; None when it is unseen on
        either side."""
        rows = self.rows
        before = next(
            (f for f in range(start - 1, start - 1 - self.gap, -1) if t in rows.get(f, ())), None
        )
        later = next((f for f in range(after, after + self.gap) if t in rows.get(f, ())), None)
        if before is None or later is None:
            return None
        path = _Path((before, rows[before][t]), (later, rows[later][t]), None)
        if t in rows.get(before - 1, ()) and t in rows.get(later + 1, ()):
            outer = (before - 1, rows[before - 1][t]), (later + 1, rows[later + 1][t])
            if _steady(self.cen, path.before, path.after, outer):
                path = path._replace(outer=outer)
        return path

    def repair_one(self, ids, start: int, length: int) -> bool:
        """Exchange the ids of the pair whose stretch ``[start, start+length)`` gains most."""
        rows = self.rows
        stretch = range(start, start + length)
        if any(f not in rows for f in stretch):
            return False
        common = set(rows[start])
        for f in stretch:
            common &= set(rows[f])
        if len(common) < 2:
            return False  # no pair to exchange: no anchors to look for
        found = {t: self.anchors(t, start, start + length) for t in sorted(common)}
        tracks = [t for t, anchors in found.items() if anchors is not None]
        best, best_gain = None, 0.0
        for i, a in enumerate(tracks):
            for b in tracks[i + 1 :]:
                pairs = [(rows[f][a], rows[f][b]) for f in stretch]
                path_a, path_b = found[a], found[b]
                if not _anchored(self.cen, path_a.rows, path_b.rows, pairs):
                    continue
                cur = swp = 0.0
                for f, (ra, rb) in zip(stretch, pairs, strict=True):
                    c, s = _exchange_fit(self.cen, self.pts, path_a, path_b, f, ra, rb)
                    cur, swp = cur + c, swp + s
                if swp < self.ratio * cur and cur - swp > best_gain:
                    crowded = self.crowded
                    touching = (
                        swp < CONTACT_RATIO * cur
                        and crowded is not None
                        and any(crowded[ra] or crowded[rb] for ra, rb in pairs)
                    )
                    if (
                        self.feats is None
                        or touching
                        or _looks_swapped(self.feats, path_a.rows, path_b.rows, pairs)
                    ):
                        best, best_gain = (a, b), cur - swp
        if best is None:
            return False
        a, b = best
        for f in stretch:
            ra, rb = rows[f][a], rows[f][b]
            ids[ra], ids[rb] = b, a
            rows[f][a], rows[f][b] = rb, ra
        return True


def fit_points(cen: np.ndarray, points: np.ndarray | None) -> np.ndarray:
    """``(N, K, 2)`` points the fits compare: the keypoints when given (K > 0), else the
    centroids as one point each."""
    if points is None or np.asarray(points).size == 0:
        return cen[:, None, :]
    return np.asarray(points, np.float64).reshape(len(cen), -1, 2)


def shared_points(pts: np.ndarray, cen: np.ndarray, rows: list[int]):
    """``(points, use)`` for comparing the detections ``rows``: the fit points and a mask
    of those visible in all of them, or the centroids when none is."""
    use = np.all(np.isfinite(pts[rows]), axis=(0, 2))
    if use.any():
        return pts, use
    return cen[:, None, :], np.ones(1, bool)


def pose_distance(p: np.ndarray, q: np.ndarray, use: np.ndarray) -> float:
    """How far pose ``p`` is from pose ``q`` ``(K, 2)`` on the points ``use``: the distance
    between their means plus the mean distance between the points around those means. Where
    the poses stand and how they lie count apart: the error of a straight-line path through
    a fast turn moves every point alike and counts once, so it cannot hide that two animals
    on top of each other face different ways. One point: the distance between the two."""
    a, b = p[use], q[use]
    n = len(a)  # means as sums over the count: np.mean's result without its per-call cost
    at_a, at_b = a.sum(axis=0) / n, b.sum(axis=0) / n
    where = float(np.hypot(*(at_a - at_b)))
    return where + float(np.hypot(*((a - at_a) - (b - at_b)).T).sum() / n)


class _Path(NamedTuple):
    """A track's sightings around a stretch, each ``(frame, row)``: its anchors (the last
    before the stretch, the first after) and, where the track is seen on the frame before
    the first anchor and the frame after the second at its pace (:func:`_steady`), those
    two (else None)."""

    before: tuple[int, int]
    after: tuple[int, int]
    outer: tuple[tuple[int, int], tuple[int, int]] | None

    @property
    def rows(self) -> tuple[int, int]:
        return self.before[1], self.after[1]

    def at(self, p: np.ndarray, use: np.ndarray, frame: int) -> np.ndarray:
        """The track's pose (rows of ``p``) at ``frame``: the cubic through its four
        sightings (a fast turn bends the path between the anchors) where the outer two show
        the points ``use``, else the straight line between the anchors."""
        (f0, r0), (f1, r1) = self.before, self.after
        if self.outer is not None:
            (fo0, o0), (fo1, o1) = self.outer
            if np.isfinite(p[o0][use]).all() and np.isfinite(p[o1][use]).all():
                w = _lagrange_weights((fo0, f0, f1, fo1), frame)
                return w[0] * p[o0] + w[1] * p[r0] + w[2] * p[r1] + w[3] * p[o1]
        w = (frame - f0) / (f1 - f0)
        return (1 - w) * p[r0] + w * p[r1]


def _steady(
    cen: np.ndarray,
    before: tuple[int, int],
    after: tuple[int, int],
    outer: tuple[tuple[int, int], tuple[int, int]],
) -> bool:
    """True when neither outer sighting's step to its anchor (``(frame, row)`` each;
    centroids ``cen``) is longer than twice the anchors' pace across the stretch (pixels per
    frame, at least 1): a longer step says an anchor is itself another animal's detection,
    which a cubic would carry into the stretch."""
    (f0, r0), (f1, r1) = before, after
    (_, o0), (_, o1) = outer
    pace = max(float(np.hypot(*(cen[r1] - cen[r0]))) / (f1 - f0), 1.0)
    step = max(np.hypot(*(cen[r0] - cen[o0])), np.hypot(*(cen[r1] - cen[o1])))
    return bool(step <= 2 * pace)


def _lagrange_weights(times: tuple[int, ...], t: int) -> list[float]:
    """Weights of the values at ``times`` in the polynomial through them, evaluated at ``t``."""
    out = []
    for i, ti in enumerate(times):
        w = 1.0
        for j, tj in enumerate(times):
            if j != i:
                w *= (t - tj) / (ti - tj)
        out.append(w)
    return out


def _exchange_fit(
    cen, pts, path_a: _Path, path_b: _Path, frame: int, ra: int, rb: int
) -> tuple[float, float]:
    """``(as they are, exchanged)``: the summed distance of one frame's detections ``ra``
    (of track ``a``) and ``rb`` (of ``b``) to their tracks' paths at that frame. Poses are
    compared on the points visible in the anchors and both detections."""
    p, use = shared_points(pts, cen, [*path_a.rows, *path_b.rows, ra, rb])
    ma, mb = path_a.at(p, use, frame), path_b.at(p, use, frame)
    cur = pose_distance(p[ra], ma, use) + pose_distance(p[rb], mb, use)
    swp = pose_distance(p[ra], mb, use) + pose_distance(p[rb], ma, use)
    return cur, swp


def _anchored(cen, anchors_a, anchors_b, pairs) -> bool:
    """True when tracks ``a`` and ``b`` come closer inside the stretch (``pairs``: their rows
    on each frame) than at one of the anchors (``anchors_a``: ``a``'s rows before and after):
    they approach, meet or part there, not keep apart. Anchored across a gap, the two
    anchors of a side may be on different frames."""

    def sep(ra: int, rb: int) -> float:
        return float(np.hypot(*(cen[ra] - cen[rb])))

    at_anchors = max(sep(anchors_a[0], anchors_b[0]), sep(anchors_a[1], anchors_b[1]))
    return at_anchors > min(sep(ra, rb) for ra, rb in pairs)


def _looks_swapped(feats, anchors_a, anchors_b, pairs) -> bool:
    """True when the stretch's detections look more like the other track's anchors."""
    ref_a = feats[anchors_a[0]] + feats[anchors_a[1]]
    ref_b = feats[anchors_b[0]] + feats[anchors_b[1]]
    cur = swp = 0.0
    for ra, rb in pairs:
        fa, fb = feats[ra], feats[rb]
        cur += float(fa @ ref_a + fb @ ref_b)
        swp += float(fa @ ref_b + fb @ ref_a)
    return swp > cur


def repair_tail_swaps(
    frame_idx: np.ndarray,
    centroids: np.ndarray,
    track_id: np.ndarray,
    feats: np.ndarray | None,
    window: int = 10,
    margin: float = 0.05,
    impossible_links: bool = False,
    crowded: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Track ids with lasting swaps undone by each track's appearance memory, or with
    ``impossible_links`` by position alone.

    After an occlusion or a crossing the tracker can carry two identities on exchanged
    tracks for the rest of the video; no short stretch is then wrong, so
    :func:`repair_swaps` cannot see it. For every pair of tracks ``a``, ``b`` and every cut
    between frames, the mean feature of each track's last ``window`` detections before the
    cut is compared (cosine) with the mean of each track's first ``window`` after it; when
    exchanging the tails fits better by more than ``margin`` (the mean of the two cosine
    gains) and both exchanged links are physically possible (no faster than the tracks'
    own 99th-percentile speed × 1.5 over the frames between them), the ids after the cut
    are exchanged. The best cut first, until none is left.

    With ``impossible_links`` position decides (``margin`` is unused): a cut is exchanged
    where a track's own link across it is faster than that limit and both exchanged links
    are not — two look-alike animals whose ids the tracker gave across the frame — unless
    the looks disagree with the exchange by more than :data:`LOOKALIKE_MARGIN` (``feats``
    None: they never do). Animals that look distinct are not look-alikes: there the
    impossible link is one detection taken for a frame or two (two animals crossing while
    neither was seen), and exchanging the tails would carry both on each other's tracks to
    the end. Run it after the short repairs (:func:`repair_swaps`,
    :func:`dreem.inference.move_repair.repair_moves`): a detection taken for a frame is
    also an impossible link, and giving it back is the smaller change.

    ``crowded (N,)`` (:func:`crowded_rows`) or None: the looks of a detection with another
    animal in its crop (the two animals' crossing or touch, where such an exchange starts)
    are left out of the window means, which then reach to the track's nearest detections
    without one (a track with none on a side of the cut keeps all its detections there).
    Cuts inside such a stretch then compare the same looks; among them the one that leaves
    the two tracks' paths smoothest (least squared acceleration) is taken.
    """
    ids, frames, cen, ok = track_arrays(frame_idx, centroids, track_id)
    if feats is None:
        if not impossible_links:
            raise ValueError("repair_tail_swaps: feats are needed unless impossible_links")
        feats = np.zeros((len(ids), 1), np.float32)
    feats = np.asarray(feats, np.float32)
    vmax = speed_limit(frames, cen, ids, ok)
    n_repaired = 0
    if vmax is None or window < 1:
        return ids, 0
    for _ in range(int(ok.sum())):  # each exchange strictly improves; bounded anyway
        best = _best_tail_swap(
            frames, cen, ids, ok, feats, window, margin, vmax, impossible_links, crowded
        )
        if best is None:
            break
        a, b, cut = best
        after = ok & (frames > cut)
        on_a, on_b = after & (ids == a), after & (ids == b)
        ids[on_a], ids[on_b] = b, a
        n_repaired += 1
    return ids, n_repaired


CONTACT_RATIO = 0.5  # the fit a crowded stretch needs for its positions to decide alone

# Where position decides against the looks (a clear fit in the move repair, an impossible
# link in the tail repair), looks that disagree by more than this mean cosine gain still
# veto: look-alikes disagree a little, distinct animals a lot. On the identity benchmark
# the right moves allowed looked -0.02 to -0.21, the wrong ones kept out -0.66 and -0.69
# (docs/deviations.md); the wrong impossible-link exchanges it now keeps out, -0.995 and -0.60.
LOOKALIKE_MARGIN = 0.25


def crowded_rows(frame_idx, centroids, dist: float | None) -> np.ndarray | None:
    """``(N,)`` True where another detection of the same frame lies closer than ``dist``
    pixels (half the crop size: the crop shows both animals, so its looks are unreliable);
    None when ``dist`` is None."""
    if dist is None:
        return None
    frames = np.asarray(frame_idx, np.int64)
    cen = np.asarray(centroids, np.float64)
    out = np.zeros(len(frames), bool)
    order = np.argsort(frames, kind="stable")
    cuts = np.flatnonzero(np.diff(frames[order])) + 1
    for rows in np.split(order, cuts):
        if len(rows) > 1:
            d = np.linalg.norm(cen[rows][:, None] - cen[rows][None], axis=-1)
            np.fill_diagonal(d, np.inf)
            out[rows] = np.nanmin(d, axis=1) < dist
    return out


def track_arrays(frame_idx, centroids, track_id):
    """``(ids, frames, cen, ok)``: a copy of the ids to revise, the frames and centroids as
    arrays, and which rows a repair may touch (assigned, with a finite centroid)."""
    ids = np.asarray(track_id, np.int64).copy()
    cen = np.asarray(centroids, np.float64)
    ok = (ids >= 0) & np.all(np.isfinite(cen), axis=1)
    return ids, np.asarray(frame_idx, np.int64), cen, ok


def speed_limit(frames, cen, ids, ok) -> float | None:
    """1.5 × the 99th percentile of the tracks' per-frame speed (pixels per frame)."""
    speeds = []
    for t in np.unique(ids[ok]):
        rows = np.flatnonzero(ok & (ids == t))
        if len(rows) > 1:
            dt = np.diff(frames[rows]).astype(np.float64)
            step = np.hypot(*np.diff(cen[rows], axis=0).T)
            speeds.append(step[dt > 0] / dt[dt > 0])
    if not speeds or not len(np.concatenate(speeds)):
        return None
    return 1.5 * float(np.percentile(np.concatenate(speeds), 99)) + 1e-6


class _TrackLooks:
    """One track's rows, frames and the cumulative looks its window means are taken from
    (all its detections, and those without another animal in the crop)."""

    def __init__(self, frames, feats, rows, crowded):
        self.rows, self.frames = rows, frames[rows]
        own = feats[rows]
        self.cs = _cumulative(own)
        self.clear = None  # (frames, cumulative looks) of the clear rows, where any is crowded
        if crowded is not None and crowded[rows].any():
            keep = ~crowded[rows]
            self.clear = self.frames[keep], _cumulative(own[keep])

    def around(self, cuts: np.ndarray, after: np.ndarray, window: int):
        """Unit mean looks of the last ``window`` detections up to each cut and the first
        ``window`` after it (``after``: the index of the first row after each cut):
        uncrowded ones where there are some on that side."""
        pre, post = _means_around(self.cs, after, window)
        if self.clear is None:
            return pre, post
        clear_frames, clear_cs = self.clear
        clear_after = np.searchsorted(clear_frames, cuts, "right")
        clear_pre, clear_post = _means_around(clear_cs, clear_after, window)
        pre = np.where((clear_after > 0)[:, None], clear_pre, pre)
        post = np.where((clear_after < len(clear_frames))[:, None], clear_post, post)
        return pre, post


def _cumulative(feats: np.ndarray) -> np.ndarray:
    """Cumulative sums of rows, with a leading zero row (window sums by differences)."""
    return np.vstack([np.zeros((1, feats.shape[1]), np.float64), np.cumsum(feats, 0)])


def _means_around(cs, after, window):
    """Unit mean of the ``window`` rows before each index ``after`` and the ``window`` from
    it on (``cs``: cumulative rows; a zero vector where a side has no rows)."""
    n = len(cs) - 1
    return (
        _window_means(cs, np.maximum(after - window, 0), after),
        _window_means(cs, after, np.minimum(after + window, n)),
    )


def _window_means(cs, start, stop):
    """Unit mean feature of rows ``[start, stop)`` of a track (per cut)."""
    m = (cs[stop] - cs[start]) / np.maximum(stop - start, 1)[:, None]
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)


def _best_tail_swap(frames, cen, ids, ok, feats, window, margin, vmax, impossible_links, crowded):
    """The (a, b, cut frame) whose tail exchange gains most beyond ``margin`` (with
    ``impossible_links``: most among those that make impossible links possible); or None.
    Cuts of equal gain (the same looks on both sides) are told apart by the paths' smoothness."""
    tracks = np.unique(ids[ok])
    info = {t: _TrackLooks(frames, feats, np.flatnonzero(ok & (ids == t)), crowded) for t in tracks}
    best, best_rank = None, -np.inf
    for i, a in enumerate(tracks):
        ta = info[a]
        ra, fa = ta.rows, ta.frames
        for b in tracks[i + 1 :]:
            tb = info[b]
            rb, fb = tb.rows, tb.frames
            lo, hi = max(fa[0], fb[0]), min(fa[-1], fb[-1])
            if lo >= hi:
                continue
            cuts = np.unique(np.concatenate([fa, fb]))
            cuts = cuts[(cuts >= lo) & (cuts < hi)]
            ia = np.searchsorted(fa, cuts, "right")  # first row after the cut
            ib = np.searchsorted(fb, cuts, "right")
            # both tracks seen within `window` frames on both sides of the cut
            near = (
                (fa[ia - 1] > cuts - window)
                & (fb[ib - 1] > cuts - window)
                & (fa[np.minimum(ia, len(fa) - 1)] <= cuts + window)
                & (fb[np.minimum(ib, len(fb) - 1)] <= cuts + window)
                & (ia < len(fa))
                & (ib < len(fb))
            )
            if not near.any():
                continue
            cuts, ia, ib = cuts[near], ia[near], ib[near]
            a_pre, a_post = ta.around(cuts, ia, window)
            b_pre, b_post = tb.around(cuts, ib, window)
            keep = np.einsum("nd,nd->n", a_pre, a_post) + np.einsum("nd,nd->n", b_pre, b_post)
            swap = np.einsum("nd,nd->n", a_pre, b_post) + np.einsum("nd,nd->n", b_pre, a_post)
            gain = (swap - keep) / 2
            swap_ok = (_link_speed(fa, ra, ia - 1, fb, rb, ib, cen) <= vmax) & (
                _link_speed(fb, rb, ib - 1, fa, ra, ia, cen) <= vmax
            )
            keep_ok = (_link_speed(fa, ra, ia - 1, fa, ra, ia, cen) <= vmax) & (
                _link_speed(fb, rb, ib - 1, fb, rb, ib, cen) <= vmax
            )
            if impossible_links:  # position decides, unless distinct looks object
                rank = np.where(swap_ok & ~keep_ok & (gain > -LOOKALIKE_MARGIN), gain, -np.inf)
            else:
                rank = np.where(swap_ok & (gain > margin), gain, -np.inf)
            k = int(np.argmax(rank))
            if rank[k] > best_rank:
                tied = np.flatnonzero(rank == rank[k])
                if len(tied) > 1:  # the same looks: where the exchanged paths are smoothest
                    lo, hi = cuts[tied[0]] - 2, cuts[tied[-1]] + 3
                    rough = [_roughness(frames, cen, ra, rb, cuts[j], lo, hi) for j in tied]
                    k = int(tied[np.argmin(rough)])
                best, best_rank = (int(a), int(b), int(cuts[k])), float(rank[k])
    return best


def _roughness(frames, cen, rows_a, rows_b, cut, lo, hi) -> float:
    """Summed squared accelerations (pixels per frame²) of two tracks between frames ``lo``
    and ``hi`` with their detections after ``cut`` exchanged (consecutive frames only)."""
    total = 0.0
    for first, then in ((rows_a, rows_b), (rows_b, rows_a)):
        rows = np.concatenate([first[frames[first] <= cut], then[frames[then] > cut]])
        rows = rows[(frames[rows] >= lo) & (frames[rows] <= hi)]  # in frame order
        f, p = frames[rows], cen[rows]
        steady = (np.diff(f[1:]) == 1) & (np.diff(f[:-1]) == 1)
        total += float(np.sum((p[2:] - 2 * p[1:-1] + p[:-2])[steady] ** 2))
    return total


def _link_speed(f_from, r_from, i_from, f_to, r_to, i_to, cen) -> np.ndarray:
    """Pixels per frame from row ``i_from`` of one track to row ``i_to`` of another
    (infinite where the second is not later)."""
    dt = (f_to[i_to] - f_from[i_from]).astype(np.float64)
    dist = np.hypot(*(cen[r_to[i_to]] - cen[r_from[i_from]]).T)
    return np.where(dt > 0, dist / np.where(dt > 0, dt, 1.0), np.inf)
