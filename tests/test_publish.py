"""Publishing a trained checkpoint with the model's current config (dreem.models.checkpoint.
republish): a link when the config is unchanged, a rewrite when it changed, an error when
the model section differs from the trained one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_plain_resnet import _write_checkpoint

from dreem.models.checkpoint import load_checkpoint_file, read_checkpoint_config, republish
from dreem.utils.errors import InputDataError


@pytest.fixture
def trained(tmp_path: Path) -> Path:
    path = tmp_path / "train" / "best.ckpt"
    path.parent.mkdir()
    _write_checkpoint(path, pretrained=False)
    return path


def _stored(path: Path) -> dict:
    return load_checkpoint_file(path)["hyper_parameters"]


def test_unchanged_config_publishes_a_link(trained: Path, tmp_path: Path) -> None:
    out = republish(trained, _stored(trained), tmp_path / "best.ckpt")
    assert out.stat().st_ino == trained.stat().st_ino  # no second copy
    assert read_checkpoint_config(out) == read_checkpoint_config(trained)
    assert not list(tmp_path.glob("*.tmp*"))


def test_edited_tracker_rewrites_with_the_new_config(trained: Path, tmp_path: Path) -> None:
    cfg = _stored(trained)
    cfg["tracker"]["window_size"] = 3
    out = republish(trained, cfg, tmp_path / "best.ckpt")
    assert out.stat().st_ino != trained.stat().st_ino
    assert read_checkpoint_config(out).tracker.window_size == 3
    assert read_checkpoint_config(trained).tracker.window_size != 3  # source untouched
    new, old = load_checkpoint_file(out), load_checkpoint_file(trained)
    assert new["state_dict"].keys() == old["state_dict"].keys()
    for k, v in old["state_dict"].items():
        assert torch.equal(new["state_dict"][k], v), k


def test_other_model_section_is_refused_and_nothing_written(trained: Path, tmp_path: Path) -> None:
    cfg = _stored(trained)
    cfg["model"]["d_model"] = 64
    with pytest.raises(InputDataError, match=r"best\.ckpt: the model section differs"):
        republish(trained, cfg, tmp_path / "best.ckpt")
    assert not (tmp_path / "best.ckpt").exists()
