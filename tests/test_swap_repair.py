"""EXTENSION tracker.swap_repair: short identity swaps undone with the frames after them."""

from __future__ import annotations

import numpy as np

from dreem.inference.smoothing import crowded_rows, repair_swaps, repair_tail_swaps


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
    assert n == 2 and np.array_equal(fixed, gt)  # longest stretches first: one exchange
    once, n1 = repair_swaps(frames, cen, ids, max_len=1)
    assert n1 == 3 and np.array_equal(once, gt)  # 1-frame stretches only: one per frame


def test_correct_tracks_and_distant_animals_are_left_alone():
    frames, cen, gt = _crossers()
    assert repair_swaps(frames, cen, gt.copy())[1] == 0
    far = _swap(gt, frames, [11])  # frame 11: the animals are 55 px apart, not touching
    assert repair_swaps(frames, cen, far)[1] == 0


def test_a_swap_as_two_animals_approach_is_undone():
    """Frame 4: the animals are 11 px apart, closer than the frame before (20 px) but not
    than the next (4 px, where they meet); exchanged ids there are undone too."""
    frames, cen, gt = _crossers()
    ids = _swap(gt, frames, [4])
    fixed, n = repair_swaps(frames, cen, ids, max_len=1)
    assert n == 1 and np.array_equal(fixed, gt)
    assert np.array_equal(repair_swaps(frames, cen, ids, max_len=2)[0], gt)


def test_a_swap_on_the_frame_an_animal_comes_back_is_undone_with_a_gap():
    """Animal 1 is unseen at frames 3-4 and comes back at frame 5, where the two meet, with
    animal 0's id for that one frame. Its anchor before the stretch is then frame 2: with
    ``gap`` 3 its path is interpolated across the gap and the swap undone; with the
    adjacent frames only (``gap`` 1) it cannot be."""
    frames, cen, gt = _crossers()
    keep = ~(np.isin(frames, [3, 4]) & (gt == 1))
    frames, cen, gt = frames[keep], cen[keep], gt[keep]
    ids = _swap(gt, frames, [5])
    assert repair_swaps(frames, cen, ids, max_len=2)[1] == 0
    fixed, n = repair_swaps(frames, cen, ids, max_len=2, gap=3)
    assert n == 1 and np.array_equal(fixed, gt)
    looks = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert repair_swaps(frames, cen, ids, max_len=2, feats=looks[ids], gap=3)[1] == 0
    assert repair_swaps(frames, cen, ids, max_len=2, gap=2)[1] == 0  # frame 2 is 3 away
    assert repair_swaps(frames, cen, gt.copy(), max_len=2, gap=3)[1] == 0


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


def _looks(gt, seed=0, noise=0.3):
    """Unit features: each animal its own direction in 8-d, plus per-detection noise."""
    rng = np.random.default_rng(seed)
    base = np.eye(8)[:2]
    f = base[gt] + noise * rng.standard_normal((len(gt), 8))
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def _tail_swap(ids, frames, after):
    ids = ids.copy()
    late = frames > after
    ids[late] = 1 - ids[late]
    return ids


def test_lasting_swap_after_an_occlusion_is_undone_by_appearance():
    """The tracker exchanged the two identities at frame 5 for the rest of the clip (with
    animal 1 unseen at frames 5-6, as behind an occluder): each track's looks before and
    after disagree, so the tails are exchanged back; the short-swap repair cannot do this."""
    frames, cen, gt = _crossers()
    feats = _looks(gt)
    ids = _tail_swap(gt, frames, after=5)
    keep = ~(np.isin(frames, [5, 6]) & (gt == 1))
    frames, cen, gt, ids, feats = frames[keep], cen[keep], gt[keep], ids[keep], feats[keep]
    assert repair_swaps(frames, cen, ids, feats=feats)[1] == 0
    fixed, n = repair_tail_swaps(frames, cen, ids, feats, window=5, margin=0.1)
    assert n == 1
    assert np.array_equal(fixed[frames > 6], gt[frames > 6])  # every frame after the event
    assert np.mean(fixed == gt) > 0.95


def test_tail_repair_leaves_consistent_tracks_and_impossible_links_alone():
    frames, cen, gt = _crossers()
    feats = _looks(gt, seed=1)
    assert repair_tail_swaps(frames, cen, gt.copy(), feats, window=5)[1] == 0
    # the looks exchange at frame 11, where the animals are 55 px apart and move 5 px per
    # frame: exchanging the tails there needs an 11x faster jump than any step, and where
    # they meet (frames 5, 17) each track's looks agree on both sides: nothing to repair
    changed = _looks(np.where(frames > 11, 1 - gt, gt), seed=2)
    assert repair_tail_swaps(frames, cen, gt.copy(), changed, window=5)[1] == 0
    # the same change of looks where the animals meet (frame 5) is exchanged
    met = _looks(np.where(frames > 5, 1 - gt, gt), seed=2)
    assert repair_tail_swaps(frames, cen, gt.copy(), met, window=5)[1] == 1


def _parallel(n=200, gap=40.0):
    """Two animals on lines ``gap`` px apart, both moving right at 5 px/frame."""
    frames = np.repeat(np.arange(n), 2)
    gt = np.tile([0, 1], n)
    cen = np.stack([5.0 * frames, 50.0 + gap * gt], axis=1)
    return frames, cen, gt


def test_impossible_links_of_look_alikes_are_exchanged_by_position():
    """Animal 1 is unseen at frames 100-102; the tracker gave its id to animal 0 from frame
    101 and animal 0's id to animal 1 when it came back: each track jumps 100 px in a frame
    or two. The two look the same, so the looks cannot tell; position can."""
    frames, cen, gt = _parallel(gap=100.0)
    keep = ~(np.isin(frames, [100, 101, 102]) & (gt == 1))
    frames, cen, gt = frames[keep], cen[keep], gt[keep]
    ids = np.where(frames > 100, 1 - gt, gt)
    same = np.ones((len(gt), 4)) / 2.0
    assert repair_tail_swaps(frames, cen, ids, same, window=5, margin=0.1)[1] == 0
    fixed, n = repair_tail_swaps(frames, cen, ids, same, window=5, impossible_links=True)
    assert n == 1 and np.array_equal(fixed, gt)
    fixed, n = repair_tail_swaps(frames, cen, ids, None, window=5, impossible_links=True)
    assert n == 1 and np.array_equal(fixed, gt)  # no features needed
    assert repair_tail_swaps(frames, cen, gt.copy(), None, impossible_links=True)[1] == 0


def _crossing_unseen(n=200):
    """Animals 0 and 1 run towards each other 20 px apart at 15 px/frame and cross at
    frame 100 while unseen (0 at frames 99-100, 1 at 98-102). The tracker gave 0's detection
    at frame 98 to 1's track (a 78 px jump from 1's last sighting: impossible) and 0's own
    track skips it. Exchanging the tails at frame 97 makes both links possible, but carries
    the two animals on each other's tracks from frame 103 to the end."""
    t = np.arange(n) - 100.0
    frames = np.repeat(np.arange(n), 2)
    gt = np.tile([0, 1], n)
    cen = np.stack(
        [np.where(gt == 0, 0.0, 20.0), 150.0 + 15.0 * np.where(gt == 0, 1, -1) * t[frames]], 1
    )
    unseen = (np.isin(frames, [99, 100]) & (gt == 0)) | (
        np.isin(frames, range(98, 103)) & (gt == 1)
    )
    frames, cen, gt = frames[~unseen], cen[~unseen], gt[~unseen]
    ids = gt.copy()
    ids[(frames == 98) & (gt == 0)] = 1
    return frames, cen, gt, ids


def test_distinct_looks_veto_an_impossible_link_exchange():
    """Position alone would exchange the tails (right for look-alikes, whose looks cannot
    tell); animals that look distinct keep their tracks, and the one taken detection stays
    the only error."""
    frames, cen, gt, ids = _crossing_unseen()
    distinct = np.eye(2)[gt]
    kept, n = repair_tail_swaps(frames, cen, ids, distinct, window=10, impossible_links=True)
    assert n == 0 and np.array_equal(kept, ids)
    alike = np.full((len(gt), 2), 0.5**0.5)
    for feats in (alike, None):
        exchanged, n = repair_tail_swaps(frames, cen, ids, feats, window=10, impossible_links=True)
        assert n == 1 and np.array_equal(exchanged[frames > 102], 1 - gt[frames > 102])


def test_a_detection_taken_for_a_frame_is_given_back_not_exchanged():
    """Animal 1 is unseen at frames 100-101 and its track takes animal 0's detection at
    frame 101 (animal 0's own track skips it). Both tracks' links are impossible there; the
    move repair gives the detection back before the impossible-link pass runs, and that
    pass must leave the repaired tracks as they are."""
    from dreem.config.tracker import TrackerConfig
    from dreem.inference.track import repaired
    from dreem.inference.tracker import TrackResult

    frames, cen, gt = _parallel()
    keep = ~(np.isin(frames, [100, 101]) & (gt == 1))
    frames, cen, gt = frames[keep], cen[keep], gt[keep]
    ids = gt.copy()
    ids[(frames == 101) & (gt == 0)] = 1
    result = TrackResult(ids, np.ones(len(ids), np.float32))
    cfg = TrackerConfig.model_validate({"swap_repair": {"move_gap": 2, "impossible_links": True}})
    assert not TrackerConfig.model_validate({"swap_repair": {}}).swap_repair.impossible_links
    assert np.array_equal(repaired(result, cfg, frames, cen, None).track_id, gt)


def test_crowded_rows_marks_detections_with_a_neighbour_in_their_crop():
    frames = np.array([0, 0, 0, 1, 1, 2])
    cen = np.array([[0.0, 0.0], [5.0, 0.0], [40.0, 0.0], [0.0, 0.0], [30.0, 0.0], [0.0, 0.0]])
    assert crowded_rows(frames, cen, 10.0).tolist() == [True, True, False, False, False, False]
    assert crowded_rows(frames, cen, 36.0).tolist() == [True, True, True, True, True, False]
    assert crowded_rows(frames, cen, None) is None


def test_in_a_crowded_crop_a_clear_fit_of_positions_overrides_the_looks():
    """At frame 5 the two animals are on top of each other: each crop shows both, so looks
    that disagree with a clear fit of the positions do not keep the swap; a weak fit (better
    by less than CONTACT_RATIO) still needs the looks."""
    frames, cen, gt = _crossers()
    ids = _swap(gt, frames, [5])
    looks = np.array([[1.0, 0.0], [0.0, 1.0]])[ids]  # the contaminated crops look swapped
    crowded = crowded_rows(frames, cen, 10.0)
    assert crowded[frames == 5].all() and not crowded[frames == 11].any()
    assert repair_swaps(frames, cen, ids, ratio=0.7, feats=looks)[1] == 0
    fixed, n = repair_swaps(frames, cen, ids, ratio=0.7, feats=looks, crowded=crowded)
    assert n == 1 and np.array_equal(fixed, gt)
    weak = cen.copy()  # the two nearly coincide: the exchanged ids fit only 0.6x better
    weak[(frames == 5) & (gt == 0)] = (25.0, 51.5)
    weak[(frames == 5) & (gt == 1)] = (25.0, 52.5)
    crowded = crowded_rows(frames, weak, 10.0)
    assert repair_swaps(frames, weak, ids, ratio=0.7, feats=looks, crowded=crowded)[1] == 0
    agree = np.array([[1.0, 0.0], [0.0, 1.0]])[gt]
    assert repair_swaps(frames, weak, ids, ratio=0.7, feats=agree, crowded=crowded)[1] == 1


def _headed_poses(frames, cen, gt, half=6.0):
    """Head, thorax, tail keypoints along each animal's heading: animal 0 faces +x until
    frame 11, animal 1 -x (they turn at frame 11, as in ``_crossers``)."""
    facing = np.where((gt == 0) == (frames <= 11), 1.0, -1.0)
    axis = np.stack([facing, np.zeros_like(facing)], axis=1) * half
    return np.stack([cen + axis, cen, cen - axis], axis=1)


def test_poses_tell_apart_two_animals_on_top_of_each_other():
    """At frame 5 the two centroids nearly coincide, so exchanged ids fit the positions only
    0.6x better (not enough for ratio 0.5); the animals face opposite ways, so their heads
    and tails fit far better exchanged: the pose fit repairs what the centroid fit cannot."""
    frames, cen, gt = _crossers()
    ids = _swap(gt, frames, [5])
    cen[(frames == 5) & (gt == 0)] = (25.0, 51.5)
    cen[(frames == 5) & (gt == 1)] = (25.0, 52.5)
    poses = _headed_poses(frames, cen, gt)
    assert repair_swaps(frames, cen, ids, ratio=0.5)[1] == 0
    fixed, n = repair_swaps(frames, cen, ids, ratio=0.5, points=poses)
    assert n == 1 and np.array_equal(fixed, gt)
    assert repair_swaps(frames, cen, gt.copy(), ratio=0.5, points=poses)[1] == 0
    # a keypoint unseen in one detection is left out of every fit of that stretch
    one_gone = poses.copy()
    one_gone[(frames == 5) & (gt == 1), 0] = np.nan
    fixed, n = repair_swaps(frames, cen, ids, ratio=0.5, points=one_gone)
    assert n == 1 and np.array_equal(fixed, gt)
    # no keypoint seen anywhere (or no keypoints at all): the centroids decide, as without
    unseen = np.full_like(poses, np.nan)
    assert repair_swaps(frames, cen, ids, ratio=0.5, points=unseen)[1] == 0
    no_nodes = np.zeros((len(frames), 0, 2))
    assert repair_swaps(frames, cen, ids, ratio=0.5, points=no_nodes)[1] == 0


def _dash_and_turn(n=11):
    """Two animals facing opposite ways dash 20 px/frame towards each other, meet at frame
    5 and both turn to 40 px/frame sideways: a straight line through frame 5 misses each by
    20 px, alike for both."""
    frames, cen, gt = [], [], []
    for t in range(n):
        rise = 40.0 * max(t - 5, 0)
        for k, (x, y) in enumerate([(20.0 * t, rise), (200.0 - 20.0 * t, 1.0 + rise)]):
            frames.append(t)
            cen.append((x, y))
            gt.append(k)
    frames, cen, gt = np.array(frames), np.array(cen), np.array(gt)
    axis = np.where(gt[:, None] == 0, 1.0, -1.0) * np.array([8.0, 0.0])
    return frames, cen, gt, np.stack([cen + axis, cen, cen - axis], axis=1)


def test_a_fast_turn_does_not_hide_which_way_two_animals_face():
    """The path's miss moves every keypoint alike: compared point by point it swamps the
    heading (exchanged ids fit 0.84x better, not enough for ratio 0.7); where the poses
    stand and how they lie, counted apart, fit 0.65x better, and the swap is undone."""
    frames, cen, gt, poses = _dash_and_turn()
    ids = _swap(gt, frames, [5])
    fixed, n = repair_swaps(frames, cen, ids, ratio=0.7, points=poses)
    assert n == 1 and np.array_equal(fixed, gt)
    assert repair_swaps(frames, cen, ids, ratio=0.7)[1] == 0  # centroids cannot tell
    assert repair_swaps(frames, cen, gt.copy(), ratio=0.7, points=poses)[1] == 0


def _bending_meeting():
    """Two animals at 20-40 px/frame that turn ~50 degrees a frame and pass 5 px apart at
    frame 253, facing nearly the same way (centroids from the identity benchmark's data
    seed 6, clip ``n6``, where every model's tracks had them right)."""
    paths = {
        0: [(16, 335), (48, 329), (67, 346), (64, 388), (33, 417), (39, 441), (82, 449)],
        1: [(97, 346), (78, 344), (65, 356), (59, 388), (67, 425), (91, 458), (124, 482)],
    }
    frames = np.repeat(np.arange(250, 257), 2)
    gt = np.tile([0, 1], 7)
    cen = np.array([paths[k][f - 250] for f, k in zip(frames, gt, strict=True)], np.float64)
    return frames, cen, gt


def test_a_path_that_bends_between_two_frames_is_followed_not_cut_straight():
    """The straight line from frame 252 to 254 misses animal 0 at 253 by 15 px, and the
    exchanged ids fit it 0.62x as far: a wrong exchange at ``ratio`` 0.7. The cubic through
    each track's sightings at 251, 252, 254 and 255 follows the bend (exchanged 0.95x):
    the right ids are left alone."""
    frames, cen, gt = _bending_meeting()
    fixed, n = repair_swaps(frames, cen, gt.copy(), ratio=0.7)
    assert n == 0 and np.array_equal(fixed, gt)
    seen = frames != 251  # no sightings before the anchors: straight lines
    assert repair_swaps(frames[seen], cen[seen], gt[seen], ratio=0.7)[1] == 1


def test_fit_poses_is_the_tracker_configs_choice():
    from dreem.config.tracker import TrackerConfig
    from dreem.inference.track import repaired
    from dreem.inference.tracker import TrackResult

    frames, cen, gt = _crossers()
    ids = _swap(gt, frames, [5])
    cen[(frames == 5) & (gt == 0)] = (25.0, 51.5)
    cen[(frames == 5) & (gt == 1)] = (25.0, 52.5)
    poses = _headed_poses(frames, cen, gt)
    result = TrackResult(ids, np.ones(len(ids), np.float32))
    on = TrackerConfig.model_validate({"swap_repair": {"impossible_links": False}})
    off = TrackerConfig.model_validate(
        {"swap_repair": {"fit_poses": False, "impossible_links": False}}
    )
    assert on.swap_repair.fit_poses  # the default
    assert np.array_equal(repaired(result, on, frames, cen, None, poses=poses).track_id, gt)
    assert np.array_equal(repaired(result, off, frames, cen, None, poses=poses).track_id, ids)
    assert np.array_equal(repaired(result, on, frames, cen, None).track_id, ids)  # no poses


def _touching(n=200):
    """Two animals moving right at 5 px/frame on lines 60 px apart that come within 6 px
    of each other at frames 99-111 (closer than the crop's half, 10 px: each crop there
    shows both, and both look like the mix of the two). The tracker exchanged their ids
    from frame 105 to the end."""
    frames = np.repeat(np.arange(n), 2)
    gt = np.tile([0, 1], n)
    sep = np.maximum(6.0, (np.abs(frames - 105.0) - 5.0) * 6.0).clip(max=60.0)
    cen = np.stack([5.0 * frames, 50.0 + gt * sep], axis=1)
    looks = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])
    feats = looks[gt]
    crowded = crowded_rows(frames, cen, 10.0)
    mix = looks.sum(0) / np.linalg.norm(looks.sum(0))
    feats[crowded] = mix
    ids = np.where(frames >= 105, 1 - gt, gt)
    return frames, cen, gt, ids, feats, crowded


def test_a_lasting_swap_while_animals_touch_is_undone_with_the_looks_around_the_touch():
    """Windows of the crowded detections compare mixes with mixes and see nothing to
    exchange; without them each track's looks before the touch disagree with its looks
    after it, and among the cuts inside the touch (the same looks) the one where the
    tracks jump between the animals is taken."""
    frames, cen, gt, ids, feats, crowded = _touching()
    assert crowded[(frames >= 99) & (frames <= 111)].all() and not crowded[frames < 99].any()
    assert repair_tail_swaps(frames, cen, ids, feats, window=5, margin=0.1)[1] == 0
    fixed, n = repair_tail_swaps(frames, cen, ids, feats, window=5, margin=0.1, crowded=crowded)
    assert n == 1 and np.array_equal(fixed, gt)
    # consistent tracks stay as they are
    assert repair_tail_swaps(frames, cen, gt.copy(), feats, 5, 0.1, crowded=crowded)[1] == 0
