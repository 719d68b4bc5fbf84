"""Tests for dreem.synth.animals: the synthetic multi-animal .slp + .mp4 clips."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

sio = pytest.importorskip("sleap_io")

from dreem.synth import generate_animals  # noqa: E402
from dreem.synth.render import NODE_NAMES, make_appearances  # noqa: E402


@pytest.fixture(scope="module")
def default_clip(tmp_path_factory) -> tuple[Path, Path]:
    """The default clip (4 animals, 200 frames, 256x256, seed 0): close passes, crossings."""
    return generate_animals(tmp_path_factory.mktemp("default"), "clip", seed=0)


@pytest.fixture(scope="module")
def small_clips(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Three small clips (3 animals, 30 frames, 128x128): seeds 1, 1 (again) and 2."""
    root = tmp_path_factory.mktemp("small")
    kw = {"n_animals": 3, "n_frames": 30, "size": (128, 128)}
    return {
        "a": generate_animals(root / "a", "clip", seed=1, **kw),
        "a_again": generate_animals(root / "b", "clip", seed=1, **kw),
        "other": generate_animals(root / "c", "clip", seed=2, **kw),
    }


def _frames(mp4: Path) -> np.ndarray:
    """All decoded frames (n, H, W) uint8 via sleap-io's default (OpenCV) backend."""
    return sio.load_video(str(mp4))[:][..., 0]


def test_slp_counts_tracks_and_skeleton(default_clip):
    slp, _ = default_clip
    labels = sio.load_slp(str(slp))
    assert len(labels) == 200
    assert [lf.frame_idx for lf in labels] == list(range(200))
    assert all(len(lf.instances) == 4 for lf in labels)
    assert len(labels.tracks) == 4
    assert [n.name for n in labels.skeleton.nodes] == list(NODE_NAMES)
    assert len(labels.skeleton.edges) == len(NODE_NAMES) - 1
    for lf in labels:
        assert all(type(inst) is sio.Instance for inst in lf.instances)  # user instances
        assert sorted(labels.tracks.index(i.track) for i in lf.instances) == [0, 1, 2, 3]
    assert labels.numpy().shape == (200, 4, len(NODE_NAMES), 2)
    assert not np.isnan(labels.numpy()).any()


def test_video_matches_labels_and_path_is_bare_name(default_clip, tmp_path):
    slp, mp4 = default_clip
    assert (slp.parent, mp4.name) == (mp4.parent, "clip.mp4")
    video = sio.load_video(str(mp4))
    assert video.shape == (200, 256, 256, 1)
    with h5py.File(slp) as f:
        assert b'"filename":"clip.mp4"' in f["videos_json"][0]
    moved = tmp_path / "moved"
    shutil.copytree(slp.parent, moved)
    labels = sio.load_slp(str(moved / slp.name))
    assert Path(labels.video.filename) == moved / "clip.mp4"
    assert labels.video.exists()
    assert labels.video.shape == (200, 256, 256, 1)


def test_thorax_lies_on_rendered_animal(default_clip):
    slp, mp4 = default_clip
    poses = sio.load_slp(str(slp)).numpy()
    frames = _frames(mp4).astype(float)
    thorax = np.rint(poses[:, :, NODE_NAMES.index("thorax")]).astype(int)
    t = np.arange(len(frames))[:, None]
    on_animal = frames[t, thorax[..., 1], thorax[..., 0]]
    background = np.median(frames, axis=(1, 2))[:, None]
    diff = on_animal - background
    assert np.median(diff) > 30
    assert np.mean(diff > 10) > 0.95
    corners = frames[:, :6, :6].mean(axis=(1, 2))[:, None]  # far from any animal centre
    assert np.all(np.abs(corners - background) < 15)


def _centroid_linker_switches(centroids: np.ndarray) -> int:
    """Link (n_frames, n, 2) centroids frame to frame by Hungarian matching on distance.

    Returns the number of identity switches: how often a ground-truth animal's linked id
    changes between consecutive frames.
    """
    from scipy.optimize import linear_sum_assignment

    linked = np.arange(centroids.shape[1])  # linked id of each ground-truth animal
    switches = 0
    for t in range(1, len(centroids)):
        cost = np.linalg.norm(centroids[t - 1][:, None] - centroids[t][None], axis=-1)
        prev, cur = linear_sum_assignment(cost)
        new = np.empty_like(linked)
        new[cur] = linked[prev]
        switches += int((new != linked).sum())
        linked = new
    return switches


def test_centroid_linker_switches_but_ground_truth_is_consistent(default_clip):
    slp, _ = default_clip
    labels = sio.load_slp(str(slp))
    poses = labels.numpy()  # (frames, tracks, nodes, 2), ordered by track
    thorax = poses[:, :, NODE_NAMES.index("thorax")]
    assert _centroid_linker_switches(thorax) >= 1
    # Ground truth: each track moves at most max_speed (1.2 body lengths, ~1.1 size) per frame.
    step = np.linalg.norm(np.diff(thorax, axis=0), axis=-1)
    assert step.max() < 1.2 * 24 * 1.1 + 3
    assert step.mean() > 0.4 * 24  # fast: about half a body length per frame on average
    # and animals come close: some pair within one body length in many frames.
    gap = np.linalg.norm(thorax[:, :, None] - thorax[:, None], axis=-1)
    gap[:, np.arange(4), np.arange(4)] = np.inf
    assert np.mean(gap.min(axis=(1, 2)) < 24) > 0.2


def test_appearances_are_distinct_and_stable():
    apps = make_appearances(np.random.default_rng(0), 6)
    assert len({a.brightness for a in apps}) == 6
    assert len({a.pattern for a in apps}) == 6
    assert apps == make_appearances(np.random.default_rng(0), 6)


def test_same_seed_same_poses_and_frames(small_clips):
    (slp_a, mp4_a), (slp_b, mp4_b) = small_clips["a"], small_clips["a_again"]
    assert slp_a.read_bytes() == slp_b.read_bytes()
    np.testing.assert_array_equal(_frames(mp4_a), _frames(mp4_b))
    np.testing.assert_array_equal(
        sio.load_slp(str(slp_a)).numpy(), sio.load_slp(str(slp_b)).numpy()
    )


def test_different_seed_differs(small_clips):
    (slp_a, mp4_a), (slp_c, mp4_c) = small_clips["a"], small_clips["other"]
    assert not np.allclose(sio.load_slp(str(slp_a)).numpy(), sio.load_slp(str(slp_c)).numpy())
    assert not np.array_equal(_frames(mp4_a), _frames(mp4_c))


def test_small_clip_shapes(small_clips):
    slp, mp4 = small_clips["a"]
    labels = sio.load_slp(str(slp))
    assert len(labels) == 30 and len(labels.tracks) == 3
    assert sio.load_video(str(mp4)).shape == (30, 128, 128, 1)
    xy = labels.numpy()
    assert xy.min() >= 0 and xy.max() < 128


@pytest.mark.parametrize("kw", [{"size": (65, 64)}, {"n_animals": 0}, {"n_frames": 0}])
def test_bad_arguments_raise(tmp_path, kw):
    with pytest.raises(ValueError):
        generate_animals(tmp_path, "bad", seed=0, **kw)
    assert not list(tmp_path.glob("bad*"))
