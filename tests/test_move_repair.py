"""EXTENSION tracker.swap_repair.move_gap: detections given back to the animal they belong to."""

from __future__ import annotations

import numpy as np
from test_swap_repair import _crossers

from dreem.inference.move_repair import repair_moves

LOOKS = np.array([[1.0, 0.0], [0.0, 1.0]])


def _drop(frames, cen, gt, gone):
    """Without the rows where ``gone(frames, gt)`` is true."""
    keep = ~gone(frames, gt)
    return frames[keep], cen[keep], gt[keep]


def test_a_missing_animals_detection_taken_by_a_neighbour_is_given_back():
    """Animal 1 is unseen at frame 12 and track 1 takes animal 0's detection there (50 px
    from its own path); track 0 has no detection at 12. The detection goes back to track 0."""
    # 120 frames: the tracks' own speeds, not this jump, set the speed limit
    frames, cen, gt = _drop(*_crossers(120), lambda f, g: (f == 12) & (g == 1))
    ids = gt.copy()
    ids[(frames == 12) & (gt == 0)] = 1
    fixed, n = repair_moves(frames, cen, ids, max_len=2)
    assert n == 1 and np.array_equal(fixed, gt)
    assert repair_moves(frames, cen, ids, feats=LOOKS[gt])[1] == 1  # looks agree
    # 50 px off track 1's path: farther than any animal moves in a frame (the speed limit is
    # 1.5 x 5 px), so the looks cannot keep it there (a crop of two animals on top of each
    # other looks like both)
    assert repair_moves(frames, cen, ids, feats=LOOKS[ids])[1] == 1
    # near its own path, a detection stays where the tracker put it
    near = cen.copy()
    near[(frames == 12) & (gt == 0)] = (2.0, 54.0)  # next to track 1's path
    assert repair_moves(frames, near, ids, max_len=2)[1] == 0


def test_where_the_animals_meet_the_looks_decide():
    """Frame 5, where the paths meet (4 px apart): track 1 (animal 1 unseen) holds animal 0's
    detection, which fits track 0's path better but lies within a frame's motion of both."""
    frames, cen, gt = _drop(*_crossers(), lambda f, g: (f == 5) & (g == 1))
    ids = gt.copy()
    ids[(frames == 5) & (gt == 0)] = 1
    fixed, n = repair_moves(frames, cen, ids, feats=LOOKS[gt])
    assert n == 1 and np.array_equal(fixed, gt)
    assert repair_moves(frames, cen, ids, feats=LOOKS[ids])[1] == 0


def test_a_reappearing_animal_given_a_missing_neighbours_id_gets_its_own_back():
    """Animal 0 is unseen on frames 10-13 and animal 1 on frame 12, where track 0 holds
    animal 1's detection: track 0's sightings around it are 3 and 2 frames away, so only a
    ``move_gap`` of 3 or more gives the detection back."""
    frames, cen, gt = _drop(
        *_crossers(), lambda f, g: ((g == 0) & (f >= 10) & (f <= 13)) | ((g == 1) & (f == 11))
    )
    ids = gt.copy()
    ids[(frames == 12) & (gt == 1)] = 0
    assert repair_moves(frames, cen, ids, move_gap=2)[1] == 0
    fixed, n = repair_moves(frames, cen, ids, move_gap=3, feats=LOOKS[gt])
    assert n == 1 and np.array_equal(fixed, gt)


def test_a_long_missing_owner_needs_a_long_enough_move_gap():
    """Animal 1 is unseen on frames 7-11; when it comes back at 12, track 0 (animal 0 unseen
    on 11 and 12) takes its detection. Track 1's sightings around it are 7 frames apart."""
    frames, cen, gt = _drop(
        *_crossers(),
        lambda f, g: ((g == 1) & (f >= 7) & (f <= 11)) | ((g == 0) & ((f == 11) | (f == 12))),
    )
    ids = gt.copy()
    ids[(frames == 12) & (gt == 1)] = 0
    assert repair_moves(frames, cen, ids, move_gap=5)[1] == 0
    fixed, n = repair_moves(frames, cen, ids, move_gap=6, feats=LOOKS[gt])
    assert n == 1 and np.array_equal(fixed, gt)


def test_track_ends_unassigned_rows_and_consistent_tracks_are_left_alone():
    frames, cen, gt = _crossers()
    assert repair_moves(frames, cen, gt.copy(), move_gap=5)[1] == 0
    # a detection of animal 1 at the last frame of track 0: no sighting after to compare
    frames, cen, gt = _drop(frames, cen, gt, lambda f, g: (g == 1) & (f == 23))
    ids = gt.copy()
    ids[(frames == 23)] = -1
    out, n = repair_moves(frames, cen, ids, move_gap=5)
    assert n == 0 and np.array_equal(out, ids)


def test_a_detection_taken_next_to_another_animal_is_given_back_on_a_clear_fit():
    """Three animals in lanes 6 px apart (y = 44, 50, 56), moving right at 5 px/frame.
    Animal 1 (y = 56) and animal 0's own track are unseen at frame 100, where track 1 holds
    animal 0's detection: 6 px from track 1's path (within a frame's motion), on track 0's.
    Its crop also shows animal 2, and its looks say track 1: with ``crowded`` the clear fit
    of the positions gives it back."""
    from dreem.inference.smoothing import crowded_rows

    n = 200
    frames = np.repeat(np.arange(n), 3)
    gt = np.tile([0, 1, 2], n)
    cen = np.stack([5.0 * frames, np.array([50.0, 56.0, 44.0])[gt]], axis=1)
    keep = ~((frames == 100) & (gt == 1))
    frames, cen, gt = frames[keep], cen[keep], gt[keep]
    ids = gt.copy()
    ids[(frames == 100) & (gt == 0)] = 1
    looks = np.eye(3)[ids]  # the crowded crop looks like track 1
    crowded = crowded_rows(frames, cen, 10.0)
    assert repair_moves(frames, cen, ids, ratio=0.7, feats=looks)[1] == 0
    fixed, moved = repair_moves(frames, cen, ids, ratio=0.7, feats=looks, crowded=crowded)
    assert moved == 1 and np.array_equal(fixed, gt)


def test_a_detection_between_two_paths_goes_to_the_track_it_faces_like():
    """Frame 5: track 1 (animal 1 unseen) holds animal 0's detection, placed midway between
    the two paths, so the centroids cannot tell; animal 0 faces +x, animal 1 -x, and the
    detection's head and tail fit track 0's poses: given back with poses only."""
    from test_swap_repair import _headed_poses

    frames, cen, gt = _crossers()
    cen[(frames == 5) & (gt == 0)] = (25.0, 52.0)
    poses = _headed_poses(frames, cen, gt)
    keep = ~((frames == 5) & (gt == 1))
    frames, cen, gt, poses = frames[keep], cen[keep], gt[keep], poses[keep]
    ids = gt.copy()
    ids[(frames == 5) & (gt == 0)] = 1
    assert repair_moves(frames, cen, ids)[1] == 0
    fixed, n = repair_moves(frames, cen, ids, points=poses)
    assert n == 1 and np.array_equal(fixed, gt)
    assert repair_moves(frames, cen, gt.copy(), points=poses)[1] == 0


def test_look_alikes_do_not_veto_a_clear_fit_of_positions():
    """Frame 5: track 1 (animal 1 unseen) holds animal 0's detection, which lies on track
    0's path. Two look-alikes (cosine 0.92): the detection looks a little more like track 1,
    which no longer keeps it there; distinct looks still do, and so do look-alikes where
    the positions fit only weakly."""
    frames, cen, gt = _drop(*_crossers(), lambda f, g: (f == 5) & (g == 1))
    ids = gt.copy()
    ids[(frames == 5) & (gt == 0)] = 1
    alike = np.array([[1.0, 0.2], [1.0, -0.2]])
    alike /= np.linalg.norm(alike, axis=1, keepdims=True)
    fixed, n = repair_moves(frames, cen, ids, feats=alike[ids])
    assert n == 1 and np.array_equal(fixed, gt)
    assert repair_moves(frames, cen, ids, feats=LOOKS[ids])[1] == 0
    weak = cen.copy()
    weak[(frames == 5) & (gt == 0)] = (25.0, 51.5)  # 1.5 px from track 0's path, 2.5 from 1's
    assert repair_moves(frames, weak, ids, feats=alike[ids])[1] == 0


def test_a_detection_taken_in_a_fast_turn_goes_back_to_the_track_it_faces_like():
    """Frame 5 of ``_dash_and_turn``: animal 1 unseen, track 1 holds animal 0's detection.
    Both tracks' straight paths miss it by 20-21 px; compared point by point that miss
    swamps the heading (0.81x, not enough for ratio 0.7), where the poses stand and how
    they lie, counted apart, fit track 0 0.63x as far: given back."""
    from test_swap_repair import _dash_and_turn

    frames, cen, gt, poses = _dash_and_turn()
    keep = ~((frames == 5) & (gt == 1))
    frames, cen, gt, poses = frames[keep], cen[keep], gt[keep], poses[keep]
    ids = gt.copy()
    ids[(frames == 5) & (gt == 0)] = 1
    fixed, n = repair_moves(frames, cen, ids, ratio=0.7, points=poses)
    assert n == 1 and np.array_equal(fixed, gt)
    assert repair_moves(frames, cen, ids, ratio=0.7)[1] == 0  # centroids cannot tell
    assert repair_moves(frames, cen, gt.copy(), ratio=0.7, points=poses)[1] == 0
