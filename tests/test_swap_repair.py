"""EXTENSION tracker.swap_repair: short identity swaps undone with the frames after them."""

from __future__ import annotations

import numpy as np

from dreem.inference.smoothing import repair_swaps


def _crossers(n=24):
    """Two animals on lines 4 px apart, moving at 5 px/frame in opposite directions, that
    meet at frame 5 and (after turning) again at frame 17."""
    frames, cen, gt = [], [], []
    for t in range(n):
        xa = 5.0 * t if t <= 11 else 55.0 - 5.0 * (t - 11)
        xb = 50.0 - 5.0 * t if t <= 11 else -5.0 + 5.0 * (t - 11)
        for k, (x, y) in enumerate([(xa, 50.0), (xb, 54.0)]):
            frames.append(t)
            cen.append((x, y))
            gt.append(k)
    return np.array(frames), np.array(cen), np.array(gt)


def _swap(ids, frames, at):
    ids = ids.copy()
    for t in at:
        ids[frames == t] = ids[frames == t][::-1]
    return ids


def test_single_and_double_frame_swaps_at_crossings_are_undone():
    frames, cen, gt = _crossers()
    ids = _swap(gt, frames, [5, 16, 17])  # a 1-frame swap, then a 2-frame one
    fixed, n = repair_swaps(frames, cen, ids, max_len=2)
    assert n == 2 and np.array_equal(fixed, gt)
    once, n1 = repair_swaps(frames, cen, ids, max_len=1)
    assert n1 == 1 and not np.array_equal(once, gt)  # the 2-frame swap needs max_len 2


def test_correct_tracks_and_distant_animals_are_left_alone():
    frames, cen, gt = _crossers()
    assert repair_swaps(frames, cen, gt.copy())[1] == 0
    far = _swap(gt, frames, [11])  # frame 11: the animals are 55 px apart, not touching
    assert repair_swaps(frames, cen, far)[1] == 0


def test_appearance_must_agree():
    frames, cen, gt = _crossers()
    ids = _swap(gt, frames, [5])
    looks = np.array([[1.0, 0.0], [0.0, 1.0]])
    fixed, n = repair_swaps(frames, cen, ids, feats=looks[gt])
    assert n == 1 and np.array_equal(fixed, gt)  # positions and looks agree
    assert repair_swaps(frames, cen, ids, feats=looks[ids])[1] == 0  # the looks disagree


def test_unassigned_and_missing_neighbours_are_not_touched():
    frames, cen, gt = _crossers()
    ids = _swap(gt, frames, [5])
    keep = ~((frames == 6) & (gt == 1))  # track 1 unseen right after the stretch
    assert repair_swaps(frames[keep], cen[keep], ids[keep])[1] == 0
    ids[0] = -1
    assert repair_swaps(frames, cen, ids)[0][0] == -1
