"""EXTENSION align_crops: crops rotated so the body axis points up."""

from __future__ import annotations

import numpy as np
import pytest

from dreem.config import load_dreem_config
from dreem.data.orientation import aligned_crops, instance_axes
from dreem.utils.errors import ConfigError


def _peak(crop: np.ndarray) -> tuple[float, float]:
    """(row, col) centre of mass of the bright marker."""
    rows, cols = np.nonzero(crop > crop.max() / 2)
    return float(rows.mean()), float(cols.mean())


def _image_with_marker(head_xy, size=64) -> np.ndarray:
    img = np.zeros((size, size, 1), np.uint8)
    x, y = head_xy
    img[y - 1 : y + 2, x - 1 : x + 2] = 255
    return img


@pytest.mark.parametrize("direction", [(1, 0), (0, 1), (-1, 0), (0, -1), (1, 1)])
def test_front_of_the_animal_ends_up_at_the_top(direction):
    centre = np.array([32.0, 32.0])
    d = np.array(direction, float) / np.hypot(*direction)
    head = np.rint(centre + 10 * d).astype(int)
    img = _image_with_marker(head)
    pose = np.array([[head, centre, centre - 10 * d]], float)  # head, thorax, abdomen
    axes = instance_axes(pose, ["head", "thorax", "abdomen"], ["head"], ["abdomen"])
    crops = aligned_crops(img, centre[None, None], axes, 25)
    assert crops.shape == (1, 1, 1, 25, 25) and crops.dtype == np.uint8
    row, col = _peak(crops[0, 0, 0])
    assert abs(col - 12) <= 1 and 8 <= 12 - row <= 12  # above the centre, on the midline


def test_unknown_axis_and_missing_anchor():
    img = _image_with_marker((40, 32))
    crops = aligned_crops(
        img, np.array([[[32.0, 32.0]], [[np.nan, np.nan]]]), np.full((2, 2), np.nan), 25
    )
    assert _peak(crops[0, 0, 0]) == (12.0, 20.0)  # unrotated: the marker stays 8 px right
    assert not crops[1].any()  # a missing anchor gives a zero crop


def test_align_crops_config():
    cfg = load_dreem_config({"dataset": {"train_dataset": {"align_crops": ["head", "tail"]}}})
    assert cfg.dataset.train_dataset.align_crops == ["head", "tail"]
    with pytest.raises(ConfigError, match=r"align_crops: expected \[front node, back node\]"):
        load_dreem_config({"dataset": {"train_dataset": {"align_crops": "head"}}})
    with pytest.raises(ConfigError, match="align_crops: cannot be combined"):
        load_dreem_config(
            {"dataset": {"train_dataset": {"align_crops": ["a", "b"], "dilation_radius_px": 3}}}
        )
