"""The one atomic-write path: a failed write never appears under its final name.

Write failures are injected deterministically (a writer whose flush/close raises, a writer
that reports success without a footer) and, where the machine allows mounting, a real full
disk on a small tmpfs.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fakes import write_synthetic_shard

from dreem.io.shards import read_shard
from dreem.utils.atomic import atomic_group, atomic_path, remove_stale_temporaries
from dreem.utils.errors import OutputError


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("method", ["write_table", "close"])
def test_shard_writer_failure_publishes_nothing(tmp_path: Path, monkeypatch, method: str) -> None:
    """The partial Parquet of a failed final write is never renamed into place."""
    monkeypatch.setattr(pq.ParquetWriter, method, _enospc)
    target = tmp_path / "crops" / "v.parquet"
    with pytest.raises(OutputError, match="cannot write .*v.parquet: No space left"):
        write_synthetic_shard(target, n_frames=5)
    assert _left(target.parent) == []  # no shard, no temporary file


def test_shard_writer_that_reports_success_without_footer_publishes_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    """A writer that swallows its failed footer write is caught by the footer check."""
    real_close = pq.ParquetWriter.close

    def close_without_footer(self):
        real_close(self)
        path = Path(self.where)
        path.write_bytes(path.read_bytes()[:-20])  # as if the last write never reached disk

    monkeypatch.setattr(pq.ParquetWriter, "close", close_without_footer)
    target = tmp_path / "v.parquet"
    with pytest.raises(OutputError, match="v.parquet: the written file is incomplete"):
        write_synthetic_shard(target, n_frames=5)
    assert _left(tmp_path) == []


def test_shard_writer_success_and_error_in_block(tmp_path: Path) -> None:
    target = write_synthetic_shard(tmp_path / "ok.parquet", n_frames=4, n_animals=2)
    assert len(read_shard(target, with_crops=False)) == 8 and _left(tmp_path) == ["ok.parquet"]
    with pytest.raises(ValueError, match="boom"), atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("partial")
        raise ValueError("boom")
    assert _left(tmp_path) == ["ok.parquet"]


def test_writer_that_makes_no_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="the writer made no file"), atomic_path(tmp_path / "a"):
        pass
    assert _left(tmp_path) == []


def test_group_publishes_all_or_none(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_group() as stage:
        stage(tmp_path / "a.csv").write_text("a")
        stage(tmp_path / "b.csv").write_text("b")
        raise RuntimeError("the third output failed")
    assert _left(tmp_path) == []
    with atomic_group() as stage:
        stage(tmp_path / "a.csv").write_text("a")
        res = stage(tmp_path / "a_RES", suffix="")
        res.mkdir()
        (res / "mask000.tif").write_bytes(b"m")
    assert _left(tmp_path) == ["a.csv", "a_RES"] and _left(tmp_path / "a_RES") == ["mask000.tif"]


def test_group_verify_failure_publishes_nothing(tmp_path: Path) -> None:
    def must_not_be_empty(p: Path) -> None:
        if not p.read_text():
            raise ValueError("empty")

    with pytest.raises(OutputError, match="b.txt: the written file is incomplete"):
        with atomic_group() as stage:
            stage(tmp_path / "a.txt").write_text("fine")
            stage(tmp_path / "b.txt", verify=must_not_be_empty).write_text("")
    assert _left(tmp_path) == []


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_the_same_target_are_removed(tmp_path: Path) -> None:
    from dreem.utils.atomic import _HOST

    dead = _dead_pid()
    stale = tmp_path / f".v.{dead}-{_HOST}-abc123.tmp.parquet"
    stale_dir = tmp_path / f".v.{dead}-{_HOST}-def456.tmp.parquet"
    live = tmp_path / f".v.{os.getppid()}-{_HOST}-ghi789.tmp.parquet"  # a running writer
    other = tmp_path / f".w.{dead}-{_HOST}-abc123.tmp.parquet"  # another target's
    stats = tmp_path / f".v.stats.{dead}-{_HOST}-abc123.tmp.stats.json"  # v.stats.json's
    for p in (stale, live, other, stats):
        p.write_bytes(b"partial")
    stale_dir.mkdir()
    (stale_dir / "x").write_bytes(b"partial")
    removed = remove_stale_temporaries(tmp_path / "v.parquet")
    assert sorted(removed) == sorted([stale, stale_dir])
    assert live.exists() and other.exists() and stats.exists()


def test_a_killed_extraction_leaves_no_temporary_after_the_rerun(tmp_path: Path) -> None:
    """A temporary shard of a writer killed mid-write is removed when the job reruns."""
    import signal
    import sys

    target = tmp_path / "crops" / "v.parquet"
    code = (
        "import sys, time; sys.path.insert(0, 'tests'); import pyarrow.parquet as pq\n"
        "from fakes import write_synthetic_shard\n"
        "real = pq.ParquetWriter.write_table\n"
        "def slow(self, t, **k):\n"
        "    real(self, t, **k); print('wrote', flush=True); time.sleep(60)\n"
        "pq.ParquetWriter.write_table = slow\n"
        f"write_synthetic_shard({str(target)!r}, n_frames=40, rows_per_group=16)\n"
    )
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "wrote"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = _left(target.parent)
    assert len(left) == 1 and left[0].startswith(".v.") and not target.exists()
    write_synthetic_shard(target, n_frames=3)
    assert _left(target.parent) == ["v.parquet"]


# --------------------------------------------------------------------------- real full disk


@pytest.fixture()
def tiny_disk(tmp_path: Path):
    """A 256 kB tmpfs (needs root and mount permission; skipped otherwise)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_during_shard_write(tiny_disk: Path) -> None:
    target = tiny_disk / "v.parquet"
    with pytest.raises(OutputError, match=r"cannot write .*v\.parquet.*No space left"):
        write_synthetic_shard(target, n_frames=300, n_animals=3, crop=32)
    assert _left(tiny_disk) == []


def test_full_disk_during_table_write(tiny_disk: Path) -> None:
    big = pd.DataFrame({"x": np.random.default_rng(0).random(200_000)})
    with pytest.raises(OutputError, match="No space left"), atomic_group() as stage:
        big.to_csv(stage(tiny_disk / "t.csv"), index=False)
        big.to_parquet(stage(tiny_disk / "t.parquet"))
    assert _left(tiny_disk) == []
