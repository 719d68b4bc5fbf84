"""Resume state is kept for the same run and discarded after an edit."""

from __future__ import annotations

from pathlib import Path

from dreem.training.resume import prepare_resume, run_fingerprint


def _fake_checkpoints(out: Path) -> Path:
    ck = out / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    (ck / "last.ckpt").write_bytes(b"state")
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
