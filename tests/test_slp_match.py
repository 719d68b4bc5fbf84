"""Tests for dreem.evaluation.slp_match: scoring a peer tracker's .slp by coordinates."""

from __future__ import annotations

import numpy as np
import pytest

sio = pytest.importorskip("sleap_io")

from dreem.evaluation.evaluate import evaluate_tracks  # noqa: E402
from dreem.evaluation.slp_match import match_tracked_slp  # noqa: E402
from dreem.synth.animals import write_pose_slp  # noqa: E402
from dreem.utils.errors import InputDataError  # noqa: E402


@pytest.fixture()
def gt(tmp_path):
    """Ground truth: 3 animals, 10 frames, animal 2 missing in frames 4-5."""
    rng = np.random.default_rng(0)
    poses = rng.uniform(0, 100, (10, 3, 5, 2))
    visible = np.ones((10, 3), bool)
    visible[4:6, 2] = False
    path = write_pose_slp(poses, tmp_path / "gt.slp", "v.mp4", (10, 64, 64), 25, visible)
    return path, poses, visible


def _retrack(src, dst, new_track, drop=None, shift=0.0):
    """Copy ``src`` moving instance of GT track k to output track ``new_track(frame, k)``."""
    labels = sio.load_slp(str(src), open_videos=False)
    out_tracks = [sio.Track(name=f"t{i}") for i in range(3)]
    for lf in labels.labeled_frames:
        keep = []
        for inst in lf.instances:
            k = labels.tracks.index(inst.track)
            if drop is not None and drop(lf.frame_idx, k):
                continue
            pts = inst.numpy() + shift
            keep.append(
                sio.PredictedInstance.from_numpy(
                    pts, labels.skeleton, score=1.0, track=out_tracks[new_track(lf.frame_idx, k)]
                )
            )
        lf.instances = keep
    labels.tracks = out_tracks
    sio.save_slp(labels, str(dst))
    return dst


def test_matches_by_coordinates_and_counts_switches(gt, tmp_path):
    path, poses, visible = gt
    # output ids permuted, and animals 0/1 swapped from frame 6 on: 2 switches
    perm = {0: 2, 1: 0, 2: 1}
    out = _retrack(path, tmp_path / "out.slp", lambda f, k: perm[1 - k if f >= 6 and k < 2 else k])
    table = match_tracked_slp(out, path)
    assert len(table) == int(visible.sum())
    first = table[table.frame_idx == 0].sort_values("gt_track_id")
    assert first.track_id.tolist() == [2, 0, 1]
    np.testing.assert_allclose(first.centroid_x, poses[0, :, :, 0].mean(-1))
    summary, _ = evaluate_tracks(table, metrics=["num_switches"])
    assert int(summary.value.iloc[0]) == 2


def test_dropped_instances_are_misses_and_moved_points_raise(gt, tmp_path):
    path, _, _ = gt
    out = _retrack(path, tmp_path / "drop.slp", lambda f, k: k, drop=lambda f, k: f == 3 and k == 0)
    table = match_tracked_slp(out, path)
    assert table[(table.frame_idx == 3) & (table.gt_track_id == 0)].track_id.tolist() == [-1]
    moved = _retrack(path, tmp_path / "moved.slp", lambda f, k: k, shift=0.5)
    with pytest.raises(InputDataError, match="match no ground-truth"):
        match_tracked_slp(moved, path)
