"""Checkpoints are read with ``torch.load(weights_only=True)``; a file that is not a dreem
checkpoint gets an error naming it and saying so (never a traceback, never code run)."""

from __future__ import annotations

import os
import pickletools
import zipfile
from pathlib import Path

import pytest
import torch
from test_train import _write_shard, tiny_cfg

from dreem.models.checkpoint import (
    check_checkpoint,
    load_checkpoint_file,
    load_model_from_checkpoint,
    read_checkpoint_config,
)
from dreem.models.gtr import GlobalTrackingTransformer
from dreem.utils.errors import InputDataError

# What a real dreem training checkpoint holds beyond builtins (all in torch's own weights-only
# allow-list; see dreem.models.checkpoint.EXTRA_SAFE_GLOBALS).
CHECKPOINT_GLOBALS = {
    "collections OrderedDict",
    "torch._utils _rebuild_tensor_v2",
    "torch FloatStorage",
    "torch LongStorage",
    "torch IntStorage",
    "torch BoolStorage",
    "torch DoubleStorage",
    "torch BFloat16Storage",
    "torch HalfStorage",
}


def _globals(path: Path) -> set[str]:
    """Every GLOBAL a checkpoint's pickle references."""
    with zipfile.ZipFile(path) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    found = set()
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            found.add(str(arg))
    return found


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A real training run with validation tracking, early stopping and a plateau scheduler:
    every kind of state Lightning puts into our checkpoints."""
    from dreem.training.train import train_model

    d = tmp_path_factory.mktemp("ckpt")
    train = [_write_shard(d / "a.parquet", "a", 8, 3, 0)]
    val = [_write_shard(d / "b.parquet", "b", 8, 3, 1)]
    cfg = tiny_cfg(
        max_epochs=2,
        runner={"metrics": {"train": [], "val": ["num_switches"], "test": []}},
        early_stopping={"monitor": "val_loss", "patience": 5},
        scheduler={"name": "ReduceLROnPlateau", "patience": 1},
    )
    cfg.checkpointing.monitor = ["val_loss", "val_num_switches"]
    train_model(cfg, train, val, d / "run", seed=0)
    return d / "run"


def test_real_checkpoints_hold_only_allow_listed_types(trained: Path) -> None:
    files = sorted(trained.rglob("*.ckpt"))
    assert len(files) >= 4  # best, last, checkpoints/last and the top-k ones
    for f in files:
        assert _globals(f) <= CHECKPOINT_GLOBALS, f
        ckpt = load_checkpoint_file(f)
        assert {"state_dict", "hyper_parameters", "optimizer_states", "callbacks"} <= set(ckpt)
    model, cfg = load_model_from_checkpoint(trained / "best.ckpt")
    assert cfg.model.d_model == 32 and not model.training
    assert read_checkpoint_config(trained / "last.ckpt").model == cfg.model


class _RunsCode:
    """Unpickling this runs a shell command (what weights_only=False would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _bad_files(tmp: Path, real: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, expected message part)."""
    out = {}
    marker = tmp / "code-ran"
    p = tmp / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": _RunsCode(marker)}, p)
    out["pickled code"] = (p, "holds Python objects (posix.system)")
    p = tmp / "garbage.ckpt"
    p.write_bytes(os.urandom(4096))
    out["garbage"] = (p, "not a PyTorch checkpoint archive")
    p = tmp / "text.ckpt"
    p.write_text("model: {d_model: 32}\n")
    out["text"] = (p, "not a PyTorch checkpoint archive")
    p = tmp / "empty.ckpt"
    p.write_bytes(b"")
    out["empty"] = (p, "not a PyTorch checkpoint archive")
    p = tmp / "truncated.ckpt"
    data = real.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    out["truncated"] = (p, "not a PyTorch checkpoint archive")
    p = tmp / "weights.pt"
    torch.save(GlobalTrackingTransformer(tiny_cfg().model).state_dict(), p)
    out["bare state_dict"] = (p, "without a training run's 'state_dict' and 'hyper_parameters'")
    p = tmp / "legacy.pt"
    torch.save({"a": torch.zeros(2)}, p, _use_new_zipfile_serialization=False)
    out["legacy format"] = (p, "not a PyTorch checkpoint archive")
    ckpt = torch.load(real, weights_only=True)
    p = tmp / "foreign.ckpt"
    torch.save({**ckpt, "hyper_parameters": {"lr": 0.1, "backbone": "resnet50"}}, p)
    out["foreign Lightning"] = (p, "its stored config is not valid")
    p = tmp / "mismatch.ckpt"
    hp = dict(ckpt["hyper_parameters"])
    hp["model"] = {**hp["model"], "d_model": 64}
    torch.save({**ckpt, "hyper_parameters": hp}, p)
    out["config does not fit weights"] = (p, "its weights do not fit the model")
    return out


def test_bad_checkpoints_are_refused_naming_the_file(trained: Path, tmp_path: Path) -> None:
    cases = _bad_files(tmp_path, trained / "best.ckpt")
    for name, (path, expected) in cases.items():
        for load in (load_model_from_checkpoint, check_checkpoint):  # the cheap check too
            with pytest.raises(InputDataError) as err:
                load(path)
            msg = str(err.value)
            assert msg.startswith(f"{path}: "), (name, load.__name__, msg)
            assert expected in msg, (name, load.__name__, msg)
        if name != "config does not fit weights":
            with pytest.raises(InputDataError, match=str(path.name)):
                read_checkpoint_config(path)
    assert not (tmp_path / "code-ran").exists(), "unpickling ran code"
    assert (
        check_checkpoint(trained / "best.ckpt")
        == load_model_from_checkpoint(trained / "best.ckpt")[1]
    )
