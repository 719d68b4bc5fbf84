"""Validation tracking's inputs: the clips' keypoints reach the swap repair in tracking order."""

from __future__ import annotations

import numpy as np
import torch

from dreem.training.val_tracking import ValGroup, _joined_poses


def _add(group: ValGroup, frames: list[int], poses) -> None:
    n = len(frames)
    group.add(
        torch.zeros(n, 4), torch.zeros(n, 1, 4), torch.tensor(frames), torch.zeros(n), (8, 8), poses
    )


def test_clip_poses_are_joined_in_tracking_order():
    group = ValGroup()
    first = torch.arange(12, dtype=torch.float32).reshape(2, 3, 2)
    second = -torch.arange(6, dtype=torch.float32).reshape(1, 3, 2)
    _add(group, [5, 6], first)
    _add(group, [2], second)
    order = torch.argsort(torch.cat(group.frames), stable=True)
    joined = _joined_poses(group.poses, order)
    assert joined.shape == (3, 3, 2)
    np.testing.assert_array_equal(joined[0], second[0].numpy())  # frame 2 first
    np.testing.assert_array_equal(joined[1:], first.numpy())


def test_clips_without_keypoints_or_with_different_skeletons_fit_centroids():
    none = ValGroup()
    _add(none, [0, 1], None)
    assert none.poses[0].shape == (2, 0, 2)
    assert _joined_poses(none.poses, torch.arange(2)) is None
    mixed = ValGroup()
    _add(mixed, [0], torch.zeros(1, 3, 2))
    _add(mixed, [1], torch.zeros(1, 5, 2))
    assert _joined_poses(mixed.poses, torch.arange(2)) is None
