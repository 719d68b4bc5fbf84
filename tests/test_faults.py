"""Faults during a real pipeline run: SIGKILL during extraction, training and tracking.

One tiny pipeline (demo animals + cells, a GTR trained 3 epochs, a baseline) runs once
uninterrupted (the reference) and once killed three times: after the first extract job
finished, while the model trains (after its first epoch's ``last.ckpt``) and after the
first track job finished. After each kill the rerun must redo only unfinished jobs (the
finished ones keep their files, and a dry run does not plan them); the last rerun
finishes, and the final tables, metrics and weights equal the reference's. Then a
``--forcerun train`` of the finished reference trains afresh (no resume).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_train_kill_resume import first_epoch_logged
from test_workflow import planned, run_smk, smk_cmd, smk_env, tiny_config

pytestmark = pytest.mark.slow

MAX_EPOCHS = 3
DREEM = {
    "model": {
        "d_model": 32,
        "nhead": 1,
        "num_encoder_layers": 1,
        "num_decoder_layers": 1,
        "encoder_cfg": {"model_name": "test_resnet", "pretrained": False},
    },
    "dataset": {"train_dataset": {"clip_length": 4}, "val_dataset": {"clip_length": 4}},
    "optimizer": {"lr": 1.0e-4},
    "trainer": {"max_epochs": MAX_EPOCHS, "limit_val_batches": 1},
    "tracker": {"window_size": 4},
}


def fault_config(root: Path) -> Path:
    (root / "dreem tiny.yaml").write_text(yaml.safe_dump(DREEM))
    cfg = tiny_config(root)
    cfg["demo"]["animals"]["train"]["n_frames"] = [64, 64]  # 16 steps/epoch
    cfg["evaluate"]["render"] = False
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def out(root: Path, *parts: str) -> Path:
    return root / "out dir" / Path(*parts)


def finished(log: Path, rule: str) -> int:
    """Jobs of ``rule`` Snakemake reported finished so far."""
    return log.read_text(errors="replace").count(f"(Rule: {rule})") if log.exists() else 0


def run_until(root: Path, config: Path, log: Path, stop: Callable[[], bool]) -> None:
    """Start the pipeline and SIGKILL its whole process group once ``stop()`` holds."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            smk_cmd(root, config),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=smk_env(),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 400
        while not stop():
            assert proc.poll() is None, f"the run ended before the kill:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the kill condition never held"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    run_smk(root, None, "--unlock", "--configfile", str(config))


def dry_run(root: Path, config: Path) -> tuple[dict[str, int], set[Path]]:
    """What a rerun would do: ``({rule: count}, output files)``, from one dry run."""
    proc = run_smk(root, config, "-n")
    text = proc.stdout + proc.stderr
    jobs: dict[str, int] = {}
    if "Job stats:" in text:
        for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
            parts = line.split()
            if len(parts) != 2 or parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    outputs = set()
    for line in text.splitlines():
        m = re.match(r"\s+output: (.*)$", line)
        if m:
            outputs.update(root / p for p in m.group(1).split(", "))
    return jobs, outputs


def complete_files(root: Path, config: Path) -> tuple[dict[str, int], dict[Path, int]]:
    """The jobs a rerun plans, and the output files that exist and that it does not redo:
    file -> mtime (the training run's resume state in checkpoints/ is not an output)."""
    jobs, redo = dry_run(root, config)
    keep = {}
    for f in out(root).rglob("*"):
        skip = {"logs", "checkpoints"} & set(f.parts)
        # the .csv copy of a redone output is redone with it (a kill can land after a job
        # wrote both but before Snakemake recorded it)
        redone = f in redo or (f.suffix == ".csv" and f.with_suffix(".parquet") in redo)
        # a killed writer's temporary file is no output: the job it belonged to did not
        # finish, so a rerun redoes it and, writing the same file, removes the temporary
        # (checked once the last rerun is done: leftover_temporaries)
        temporary = _temporary_target(f) is not None
        if f.is_file() and not skip and not redone and not temporary:
            assert not f.name.startswith("."), f"a temporary file looks like an output: {f}"
            if f.suffix in (".parquet", ".csv", ".ckpt"):
                keep[f] = f.stat().st_mtime_ns
    return jobs, keep


TEMPORARY = re.compile(r"\.(.+)\.\d+-[A-Za-z0-9]*-[A-Za-z0-9_]+\.tmp(.*)")


def _temporary_target(f: Path) -> Path | None:
    """The output a temporary file of ``dreem.utils.atomic`` stands for, else None."""
    m = TEMPORARY.fullmatch(f.name)
    return f.parent / f"{m.group(1)}{m.group(2)}" if m else None


def leftover_temporaries(root: Path) -> list[Path]:
    return [f for f in out(root).rglob(".*") if _temporary_target(f) is not None]


def assert_not_redone(kept: dict[Path, int]) -> None:
    for f, mtime in kept.items():
        assert f.stat().st_mtime_ns == mtime, f"{f} was redone"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reference run")
    run_smk(root, fault_config(root))
    return root


def _tables(root: Path, pattern: str) -> dict[str, pd.DataFrame]:
    base = out(root)
    found = {}
    for f in sorted(base.glob(pattern)):
        read = pd.read_parquet if f.suffix == ".parquet" else pd.read_csv
        found[str(f.relative_to(base))] = read(f)
    return found


def test_sigkill_during_extract_train_and_track(reference: Path, tmp_path: Path) -> None:
    import torch

    root = tmp_path / "killed run"
    root.mkdir()
    config = fault_config(root)
    ckpt_dir = out(root, "models", "gtr", "train", "checkpoints")

    # 1. during extraction
    log = root / "run1.log"
    run_until(root, config, log, lambda: finished(log, "extract") >= 1)
    assert not out(root, "models", "gtr", "train", "best.ckpt").exists(), "killed too late"
    _, kept = complete_files(root, config)
    assert any("crops" in f.parts for f in kept), "a finished extract job must be kept"

    # 2. during training, after the first epoch's resume state and log line
    log = root / "run2.log"
    run_until(root, config, log, lambda: first_epoch_logged(ckpt_dir.parent))
    assert_not_redone(kept)
    assert not (ckpt_dir / "FINISHED").exists(), "training finished before the kill"
    jobs, kept = complete_files(root, config)
    assert "extract" not in jobs and "discover" not in jobs and jobs["train"] == 1, jobs

    # 3. during tracking
    log = root / "run3.log"
    run_until(root, config, log, lambda: finished(log, "track") >= 1)
    assert_not_redone(kept)
    train_log = out(root, "logs", "train", "gtr.log").read_text()
    assert "resuming an interrupted run" in train_log, "training restarted instead of resuming"
    assert not out(root, "summary", "metrics.csv").exists(), "killed too late"
    jobs, kept = complete_files(root, config)
    assert "train" not in jobs and "extract" not in jobs and jobs["track"] < 4, jobs
    assert any("tracks" in f.parts for f in kept), "a finished track job must be kept"

    # 4. the last rerun finishes; nothing is left to do, no killed writer's temporary file
    run_smk(root, config)
    assert_not_redone(kept)
    assert planned(root, config) == {}
    assert leftover_temporaries(root) == []

    # the final outputs equal the uninterrupted run's
    for pattern in ("tracks/*/*/*.parquet", "metrics/*/*/*.csv", "summary/metrics.csv"):
        ref, got = _tables(reference, pattern), _tables(root, pattern)
        assert ref and set(got) == set(ref), pattern
        for name in ref:
            pd.testing.assert_frame_equal(got[name], ref[name], obj=name)
    train_csv = "models/gtr/train/metrics.csv"
    pd.testing.assert_frame_equal(
        pd.read_csv(out(root, train_csv)), pd.read_csv(out(reference, train_csv))
    )
    assert pd.read_csv(out(root, train_csv)).epoch.tolist() == list(range(MAX_EPOCHS))
    a = torch.load(out(root, "models", "gtr", "best.ckpt"), weights_only=True)["state_dict"]
    b = torch.load(out(reference, "models", "gtr", "best.ckpt"), weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    res = "tracks/gtr/c_test/01_RES/res_track.txt"
    assert out(root, res).read_text() == out(reference, res).read_text()


def test_forcerun_train_after_a_finished_run_trains_afresh(reference: Path) -> None:
    """`snakemake --forcerun train` on a finished run: no "resume" from the finished
    last.ckpt (before: it restored it and trained nothing); every epoch is trained again."""
    import torch

    config = reference / "config.yaml"
    log = out(reference, "logs", "train", "gtr.log")
    before = log.read_text()
    steps = torch.load(out(reference, "models", "gtr", "train", "last.ckpt"), weights_only=True)[
        "global_step"
    ]
    proc = run_smk(reference, config, "--forcerun", "train", "--until", "train")
    text = log.read_text()
    new = text[len(before) :] if text.startswith(before) else text
    assert "training from scratch" in new, new[-3000:]
    assert "Restor" not in new and "resuming" not in new, new[-3000:]
    assert "(Rule: train)" in proc.stdout + proc.stderr
    df = pd.read_csv(out(reference, "models", "gtr", "train", "metrics.csv"))
    assert df.epoch.tolist() == list(range(MAX_EPOCHS))
    last = torch.load(out(reference, "models", "gtr", "train", "last.ckpt"), weights_only=True)
    assert last["epoch"] == MAX_EPOCHS - 1 and last["global_step"] == steps
