"""Resume state is kept for the same run and discarded after an edit; an unreadable
``last.ckpt`` falls back to the newest readable checkpoint, or to starting over."""

from __future__ import annotations

import logging
from pathlib import Path

from dreem.training.resume import prepare_resume, run_fingerprint


def _state(path: Path, epoch: int) -> Path:
    """A minimal training-checkpoint-shaped file (what the resume guard reads)."""
    import torch

    torch.save(
        {"state_dict": {}, "hyper_parameters": {}, "epoch": epoch, "global_step": 2 * epoch}, path
    )
    return path


def _fake_checkpoints(out: Path) -> Path:
    ck = out / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    _state(ck / "last.ckpt", 0)
    return ck


def test_same_run_resumes_edited_run_starts_over(tmp_path: Path) -> None:
    shard = tmp_path / "a.parquet"
    shard.write_bytes(b"x")
    out = tmp_path / "model"
    fp = run_fingerprint({"cfg": {"lr": 1e-3}, "seed": 1}, [shard])
    assert prepare_resume(out, fp) is False  # first run: nothing to resume
    ck = _fake_checkpoints(out)  # ... killed after writing last.ckpt
    assert prepare_resume(out, fp) is True and (ck / "last.ckpt").is_file()
    edited = run_fingerprint({"cfg": {"lr": 2e-3}, "seed": 1}, [shard])
    assert edited != fp
    assert prepare_resume(out, edited) is False
    assert not ck.exists(), "stale resume state of another config must be discarded"


def test_changed_input_file_changes_fingerprint(tmp_path: Path) -> None:
    shard = tmp_path / "a.parquet"
    shard.write_bytes(b"x")
    before = run_fingerprint({"cfg": 1}, [shard])
    shard.write_bytes(b"xy")
    assert run_fingerprint({"cfg": 1}, [shard]) != before


def test_checkpoints_without_stamp_are_not_trusted(tmp_path: Path) -> None:
    out = tmp_path / "model"
    ck = _fake_checkpoints(out)
    assert prepare_resume(out, run_fingerprint({"cfg": 1})) is False
    assert not ck.exists()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_last_ckpt_falls_back_to_newest_readable(tmp_path: Path, caplog) -> None:
    out = tmp_path / "model"
    fp = run_fingerprint({"cfg": 1})
    prepare_resume(out, fp)
    ck = _fake_checkpoints(out)
    _state(ck / "last.ckpt", 4)
    _truncate(ck / "last.ckpt")  # killed while Lightning wrote it
    _state(ck / "epoch=1-val_loss=0.5.ckpt", 1)
    _state(ck / "epoch=3-val_loss=0.4.ckpt", 3)
    (ck / "epoch=2-val_loss=0.6.ckpt").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="dreem.training.resume"):
        assert prepare_resume(out, fp) is True
    assert "last.ckpt cannot be read" in caplog.text and "epoch=3-val_loss=0.4.ckpt" in caplog.text
    import torch

    assert torch.load(ck / "last.ckpt", weights_only=True)["epoch"] == 3


def test_truncated_last_ckpt_alone_starts_over_with_a_warning(tmp_path: Path, caplog) -> None:
    out = tmp_path / "model"
    fp = run_fingerprint({"cfg": 1})
    prepare_resume(out, fp)
    ck = _fake_checkpoints(out)
    _truncate(ck / "last.ckpt")
    with caplog.at_level(logging.WARNING, logger="dreem.training.resume"):
        assert prepare_resume(out, fp) is False
    assert f"{ck / 'last.ckpt'} cannot be read" in caplog.text and "starts over" in caplog.text
    assert not ck.exists()


def test_resume_removes_checkpoints_a_killed_run_was_writing(tmp_path: Path) -> None:
    """A SIGKILL inside a checkpoint write leaves its temporary file; the resumed run never
    writes that name again, so resuming removes it: this host's dead writers' and other
    hosts' (the run that resumes is its folder's only writer); a live writer's is kept."""
    import os

    from test_atomic import _dead_pid

    from dreem.utils.atomic import _HOST

    shard = tmp_path / "a.parquet"
    shard.write_bytes(b"x")
    out = tmp_path / "model"
    fp = run_fingerprint({"cfg": {}}, [shard])
    prepare_resume(out, fp)
    ck = _fake_checkpoints(out)
    dead = _dead_pid()
    cut = ck / f".epoch=1-val_loss=0.5000.{dead}-{_HOST}-a1b2c3.tmp.ckpt"
    live = ck / f".epoch=1-val_loss=0.4000.{os.getpid()}-{_HOST}-d4e5f6.tmp.ckpt"
    other_host = ck / f".epoch=1-val_loss=0.3000.{dead}-elsewhere-g7h8i9.tmp.ckpt"
    for p in (cut, live, other_host):
        p.write_bytes(b"partial")
    assert prepare_resume(out, fp) is True
    assert not cut.exists() and not other_host.exists()
    assert live.exists()
    assert (ck / "last.ckpt").is_file()
