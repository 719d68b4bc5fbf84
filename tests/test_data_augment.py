"""Crop augmentations: config errors, geometry consistency, dropouts."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_data_fakes import install, walking_frames

from dreem.config.data import DatasetSection
from dreem.data.augment import build_augmentations
from dreem.data.dataset import ClipDataset
from dreem.data.extract import extract_video
from dreem.utils.errors import ConfigError


def _crops(n=1, a=1, side=8, seed=0):
    rng = np.random.default_rng(seed)
    grey = rng.permutation(n * a * side * side).reshape(n, a, 1, side, side) / (n * a * side**2)
    return np.repeat(grey.astype(np.float32), 3, axis=2)


def test_unknown_augmentation_suggests_closest():
    with pytest.raises(ConfigError, match=r"augmentations\.HorizontalFlp.*'HorizontalFlip'"):
        build_augmentations({"HorizontalFlp": {"p": 0.5}})
    with pytest.raises(ConfigError, match=r"augmentations\.NodeDropot.*'NodeDropout'"):
        build_augmentations({"NodeDropot": {"p": 0.5, "n": 1}})
    with pytest.raises(ConfigError, match=r"augmentations\.Rotate\.limt.*did you mean .limit."):
        build_augmentations({"Rotate": {"limt": 45}})
    with pytest.raises(ConfigError, match=r"augmentations\.NodeDropout\.p"):
        build_augmentations({"NodeDropout": {"p": 2, "n": 1}})
    assert build_augmentations(None) is None and build_augmentations({}) is None


@pytest.mark.parametrize(
    "spec,shift",
    [
        ({"HorizontalFlip": {"p": 1.0}}, (-1, 0)),
        ({"VerticalFlip": {"p": 1.0}}, (0, -1)),
        ({"Affine": {"translate_px": {"x": 2, "y": -1}, "p": 1.0}}, (2, -1)),
        ({"Rotate": {"limit": [90, 90], "p": 1.0}}, None),
    ],
)
def test_geometric_augmentation_keeps_keypoint_on_content(spec, shift):
    aug = build_augmentations(spec)
    crops = _crops(n=2, a=2)
    boxes = np.tile(np.array([10, 20, 18, 28], np.float32), (2, 2, 1))
    out, new_boxes, keep = aug(crops, boxes, np.zeros(2, np.int64), np.random.default_rng(0))
    assert keep.all() and out.shape == crops.shape
    d = new_boxes - boxes  # the box follows the anchor: shift = keypoint displacement
    dy, dx = d[0, 0, 0], d[0, 0, 1]
    if shift is not None:
        assert (dx, dy) == shift
    np.testing.assert_array_equal(d[..., 0], d[..., 2])
    np.testing.assert_array_equal(d[..., 1], d[..., 3])
    for i in range(2):
        for k in range(2):
            y, x = int(round(4 + dy)), int(round(4 + dx))
            np.testing.assert_allclose(out[i, k, :, y, x], crops[i, k, :, 4, 4], atol=1e-6)


def test_node_dropout_p1_drops_exactly_n():
    aug = build_augmentations({"NodeDropout": {"p": 1.0, "n": 2}})
    crops = _crops(n=5, a=3) + 0.01
    boxes = np.ones((5, 3, 4), np.float32)
    out, new_boxes, keep = aug(crops, boxes, np.arange(5), np.random.default_rng(0))
    assert keep.all()
    blank = (out == 0).all(axis=(2, 3, 4))
    assert blank.sum(1).tolist() == [2] * 5
    np.testing.assert_array_equal(np.isnan(new_boxes).all(-1), blank)
    assert not (crops == 0).any()  # input untouched


def test_instance_dropout_limits_per_frame():
    aug = build_augmentations({"InstanceDropout": {"p": 1.0, "n": 1}})
    frames = np.array([0, 0, 0, 1, 1, 2])
    _, _, keep = aug(_crops(n=6), np.ones((6, 1, 4), np.float32), frames, np.random.default_rng(0))
    assert [int((~keep)[frames == f].sum()) for f in range(3)] == [1, 1, 1]


def test_dataset_applies_augmentations_in_train_mode_only(monkeypatch, tmp_path):
    row, _ = install(monkeypatch, tmp_path, walking_frames(10, 3))
    path = tmp_path / "v.parquet"
    extract_video(row, {"crop_size": 8, "padding": 0, "anchors": "thorax"}, path, progress=False)
    augs = {"GaussNoise": {"p": 1.0}, "InstanceDropout": {"p": 1.0, "n": 1}}
    train = ClipDataset(
        [path], DatasetSection.model_validate({"clip_length": 10, "augmentations": augs}), seed=5
    )
    a, b = train[0], train[0]
    assert len(a) == 20  # one of three instances dropped per frame
    assert torch.equal(a.crops, b.crops) and torch.equal(a.gt_ids, b.gt_ids)
    val = ClipDataset(
        [path],
        DatasetSection.model_validate({"clip_length": 10, "mode": "val", "augmentations": augs}),
        seed=0,
    )
    assert len(val[0]) == 30


def test_albumentations_is_imported_without_its_network_update_check():
    """Importing albumentations asks PyPI for a newer version (a 2 s timeout per process
    on a compute node without internet); through dreem it makes no connection at all, and a
    value the user set for its switch is kept."""
    code = (
        "import os, socket, sys\n"
        "tried = []\n"
        "def refuse(*args, **kwargs):\n"
        "    tried.append(args[0] if args else kwargs)\n"
        "    raise OSError('no network in this test')\n"
        "socket.create_connection = refuse\n"
        "from dreem.data.augment import build_augmentations\n"
        "build_augmentations({'GaussianBlur': {'p': 0.5}}, 'aug')\n"
        "switch = os.environ.get('NO_ALBUMENTATIONS_UPDATE')\n"
        "print(tried, switch, 'albumentations' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.stdout.split() == ["[]", "1", "True"], proc.stdout + proc.stderr
    env["NO_ALBUMENTATIONS_UPDATE"] = "true"  # the user's own setting is left as it is
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.stdout.split() == ["[]", "true", "True"], proc.stdout + proc.stderr
