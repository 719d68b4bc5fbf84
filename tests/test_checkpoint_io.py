"""Checkpoint writing: atomic local saves, and a save of the very state just written
published as a hard link to that file (save_last after the epoch's top-k checkpoint)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dreem.training.checkpoint_io import AtomicTorchCheckpointIO, training_state
from dreem.utils.errors import OutputError

EXP_AVG = torch.zeros(3)


def _checkpoint(weight: torch.Tensor, step: int) -> dict:
    return {
        "global_step": step,
        "epoch": step // 4,
        "state_dict": {"model.w": weight},
        "optimizer_states": [{"state": {0: {"exp_avg": EXP_AVG}}}],
        "callbacks": {"ModelCheckpoint": {"last_model_path": f"last-{step}"}},
    }


def test_same_state_is_linked_a_new_state_is_written(tmp_path: Path) -> None:
    io = AtomicTorchCheckpointIO()
    w = torch.zeros(3)
    ck = _checkpoint(w, 4)
    io.save_checkpoint(ck, tmp_path / "epoch=0.ckpt")
    io.save_checkpoint(_checkpoint(w, 4), tmp_path / "last.ckpt")
    first, last = (tmp_path / "epoch=0.ckpt").stat(), (tmp_path / "last.ckpt").stat()
    assert first.st_ino == last.st_ino  # one file on disk, two names

    w.add_(1.0)  # an optimizer step changes the weights in place
    io.save_checkpoint(_checkpoint(w, 8), tmp_path / "last.ckpt")
    assert (tmp_path / "last.ckpt").stat().st_ino != first.st_ino
    loaded = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert loaded["global_step"] == 8 and torch.equal(loaded["state_dict"]["model.w"], w)
    old = torch.load(tmp_path / "epoch=0.ckpt", weights_only=True)
    assert old["global_step"] == 4 and torch.equal(old["state_dict"]["model.w"], torch.zeros(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch=0.ckpt", "last.ckpt"]


def test_state_identity_needs_the_same_tensors_unchanged() -> None:
    w = torch.zeros(2)
    a = training_state(_checkpoint(w, 1))
    assert a == training_state(_checkpoint(w, 1))
    assert a != training_state(_checkpoint(w.clone(), 1))  # equal values, other storage
    assert a != training_state(_checkpoint(w, 2))
    w.mul_(1.0)
    assert a != training_state(_checkpoint(w, 1))  # modified in place
    assert training_state({"global_step": 1}) is None


def test_a_failed_write_leaves_nothing_and_names_the_file(tmp_path: Path, monkeypatch) -> None:
    io = AtomicTorchCheckpointIO()
    target = tmp_path / "epoch=0.ckpt"

    def full_disk(obj, f, *a, **k):
        Path(f).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OutputError, match="epoch=0.ckpt"):
        io.save_checkpoint(_checkpoint(torch.zeros(2), 1), target)
    assert os.listdir(tmp_path) == []


def test_training_publishes_last_as_a_link_and_resumes_from_it(tmp_path: Path) -> None:
    from test_train import _write_shard, tiny_cfg

    from dreem.training.train import train_model

    train = [_write_shard(tmp_path / "a.parquet", "a", 8, 3, 0)]
    cfg = tiny_cfg(max_epochs=2)
    cfg.checkpointing.save_top_k = -1
    cfg.checkpointing.monitor = ["train_loss"]
    res = train_model(cfg, train, [], tmp_path / "m", seed=0)
    ckpts = tmp_path / "m" / "checkpoints"
    last = (ckpts / "last.ckpt").stat()
    epoch1 = next(ckpts.glob("epoch=1-*.ckpt")).stat()
    assert last.st_ino == epoch1.st_ino and res["epochs"] == 2
    resumed = train_model(tiny_cfg(max_epochs=3), train, [], tmp_path / "m", seed=0)
    assert resumed["epochs"] == 3
    state = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["epoch"] == 2
    assert not (ckpts / "last.ckpt").samefile(next(ckpts.glob("epoch=1-*.ckpt")))


def test_other_callback_states_are_a_new_content() -> None:
    w = torch.zeros(2)
    a, b = _checkpoint(w, 1), _checkpoint(w, 1)
    b["callbacks"]["ModelCheckpoint"]["best_model_path"] = "epoch=0-val_loss.ckpt"
    assert training_state(a) != training_state(b)  # same tensors, a monitor's new best


def test_last_holds_every_monitors_current_best(tmp_path: Path) -> None:
    """With two monitors saving in the same step, last.ckpt holds the second one's updated
    best path (a link to the first one's file would hold its stale one, and a run resumed
    from it would compare against a deleted checkpoint)."""
    from test_train import _write_shard, tiny_cfg

    from dreem.training.train import train_model

    train = [_write_shard(tmp_path / "a.parquet", "a", 8, 3, 0)]
    val = [_write_shard(tmp_path / "b.parquet", "b", 8, 3, 1)]
    cfg = tiny_cfg(max_epochs=3)
    cfg.checkpointing.monitor = ["val_loss", "train_loss"]
    train_model(cfg, train, val, tmp_path / "m", seed=0)
    last = tmp_path / "m" / "checkpoints" / "last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=False)["callbacks"]
    bests = {k: v["best_model_path"] for k, v in state.items() if "'monitor': '" in k}
    assert len(bests) == 2 and all(Path(p).is_file() for p in bests.values()), bests


def test_dropping_a_written_checkpoint_from_the_page_cache_keeps_it(tmp_path) -> None:
    """A checkpoint flushed to disk and dropped from the page cache reads back the same;
    a path that is gone is no error."""
    import torch

    from dreem.training.checkpoint_io import drop_from_page_cache

    path = tmp_path / "a.ckpt"
    state = {"w": torch.arange(1000.0)}
    torch.save(state, path)
    drop_from_page_cache(path)
    assert torch.equal(torch.load(path)["w"], state["w"])
    drop_from_page_cache(tmp_path / "missing.ckpt")


def test_first_epochs_last_checkpoint_is_its_top_k_file(tmp_path: Path) -> None:
    """The first epoch's top-k checkpoint and last.ckpt hold the same state (the every-epoch
    callback names last.ckpt from the start): one file, two names, not a second write. A
    later epoch keeps last.ckpt (never removed as its "previous" file) and a killed run
    resumes from it."""
    from test_train import _write_shard, tiny_cfg

    from dreem.training.train import train_model

    train = [_write_shard(tmp_path / "a.parquet", "a", 8, 3, 0)]
    val = [_write_shard(tmp_path / "b.parquet", "b", 8, 3, 1)]
    cfg = tiny_cfg(max_epochs=1)
    cfg.checkpointing.monitor = ["val_loss"]
    train_model(cfg, train, val, tmp_path / "m", seed=0)
    ckpts = tmp_path / "m" / "checkpoints"
    top = next(ckpts.glob("epoch=0-*.ckpt"))
    assert (ckpts / "last.ckpt").samefile(top)
    state = torch.load(top, map_location="cpu", weights_only=False)["callbacks"]
    last_cb = next(v for k, v in state.items() if "'monitor': None" in k)
    assert Path(last_cb["best_model_path"]) == (ckpts / "last.ckpt").resolve()

    resumed = train_model(tiny_cfg(max_epochs=2), train, val, tmp_path / "m", seed=0)
    assert resumed["epochs"] == 2 and (ckpts / "last.ckpt").is_file()
    assert torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=False)["epoch"] == 1
