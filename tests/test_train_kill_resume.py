"""A real kill: ``dreem train`` is SIGKILLed mid-run, rerun, and must resume, not restart.

The run trains 3 epochs of a tiny GTR on two generated 2-animal clips. Once the first
epoch's ``checkpoints/last.ckpt`` and its CSV log line exist the whole process group is
killed; the rerun of the same command must continue from that checkpoint and end with
exactly epochs 0..2. What a kill inside a CSV log write leaves is tested in test_csv_log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

MAX_EPOCHS = 3
CLIP_LENGTH = 8
N_FRAMES = 80  # -> 10 training clips = 10 optimizer steps per epoch

CONFIG = """\
seed: 0
model:
  d_model: 32
  nhead: 1
  num_encoder_layers: 1
  num_decoder_layers: 1
  encoder_cfg: {{model_name: test_resnet, backend: timm, in_chans: 3, pretrained: false}}
dataset:
  train_dataset:
    dir: {{path: {train}, labels_suffix: .slp, vid_suffix: .mp4}}
    crop_size: 24
    anchors: thorax
    clip_length: {clip}
  val_dataset:
    dir: {{path: {val}, labels_suffix: .slp, vid_suffix: .mp4}}
    crop_size: 24
    anchors: thorax
    clip_length: {clip}
logging: {{logger_type: null}}
trainer: {{max_epochs: {epochs}, enable_progress_bar: false, enable_model_summary: false}}
"""


def _dreem_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("dreem")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from dreem.cli import main; main()"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    return env


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    from dreem.synth import generate_animals

    for split, seed in (("train", 0), ("val", 1)):
        generate_animals(
            tmp_path / "data" / split,
            f"clip_{split}",
            seed=seed,
            n_animals=2,
            n_frames=N_FRAMES,
            size=(128, 128),
        )
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        CONFIG.format(
            train=tmp_path / "data" / "train",
            val=tmp_path / "data" / "val",
            clip=CLIP_LENGTH,
            epochs=MAX_EPOCHS,
        )
    )
    return cfg


def _ckpt(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def _wait_until(done: Callable[[], bool], what: str, proc: subprocess.Popen, timeout: float):
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"training ended (rc {proc.returncode}) before {what}:\n{err}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.02)


def first_epoch_logged(train_dir: Path) -> bool:
    """The first epoch's checkpoint is written and its train_loss is in the run's CSV log
    (Lightning logs an epoch's train_loss just after saving its checkpoint: a kill in
    between leaves that epoch without a train_loss in metrics.csv)."""
    from dreem.training.csv_log import read_metrics_log

    log = train_dir / "logs" / "csv" / "version_0" / "metrics.csv"
    if not ((train_dir / "checkpoints" / "last.ckpt").is_file() and log.is_file()):
        return False
    df = read_metrics_log(log)
    return df is not None and "train_loss" in df and df["train_loss"].notna().any()


def test_sigkill_then_rerun_resumes(config: Path, tmp_path: Path) -> None:
    import pandas as pd

    root = tmp_path / "model"
    cmd = [*_dreem_cmd(), "train", str(config), "-o", str(root), "--name", "m"]
    out = root / "models" / "m" / "train"  # the training run's folder
    log1, log2 = tmp_path / "run1.log", tmp_path / "run2.log"

    with log1.open("w") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(), start_new_session=True
        )
        _wait_until(lambda: first_epoch_logged(out), "a first epoch", proc, timeout=120)
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the whole group dies
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    # What a kill leaves: resume state only. The final outputs are written once, at the end,
    # atomically, so nothing looks like a finished model.
    killed = _ckpt(out / "checkpoints" / "last.ckpt")
    killed_epoch = int(killed["epoch"])
    steps_per_epoch = killed["global_step"] // (killed_epoch + 1)
    assert killed_epoch < MAX_EPOCHS - 1 and steps_per_epoch == N_FRAMES // CLIP_LENGTH
    for name in ("best.ckpt", "last.ckpt", "metrics.csv"):
        assert not (out / name).exists(), f"{name} exists after a kill"
    left = {"checkpoints", "config.yaml", "logs", "resume-fingerprint.txt"}
    assert {p.name for p in out.iterdir()} == left
    assert not (root / "models" / "m" / "best.ckpt").exists()

    with log2.open("w") as log:
        rerun = subprocess.run(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(), timeout=180, check=False
        )
    text = log2.read_text()
    print("\n".join(ln for ln in text.splitlines() if "Restor" in ln or ln.startswith("Epoch ")))
    assert rerun.returncode == 0, text
    assert "Restored all states from the checkpoint" in text, text
    # The rerun trains only the missing epochs: no "Epoch 0" checkpoint line in its log.
    assert "Epoch 0," not in text and f"Epoch {killed_epoch + 1}," in text, text

    final = _ckpt(out / "last.ckpt")
    assert int(final["epoch"]) == MAX_EPOCHS - 1
    assert final["global_step"] == MAX_EPOCHS * steps_per_epoch  # no epoch trained twice
    df = pd.read_csv(out / "metrics.csv")
    assert df["epoch"].tolist() == list(range(MAX_EPOCHS))
    assert df["train_loss"].notna().all() and df["val_loss"].notna().all()
    assert (out / "best.ckpt").is_file() and (root / "models" / "m" / "best.ckpt").is_file()
    # Two CSV logger versions: the killed run's and the resumed run's.
    versions = sorted(p.parent.name for p in out.glob("logs/csv/version_*/metrics.csv"))
    assert len(versions) == 2, versions
    resumed = pd.read_csv(out / "logs" / "csv" / versions[1] / "metrics.csv")
    assert resumed["epoch"].dropna().min() == killed_epoch + 1

    # a forced rerun of a finished run trains afresh (resume is for interrupted runs only)
    again = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=180)
    assert again.returncode == 0, again.stderr
    assert "Restored all states" not in again.stdout + again.stderr
    assert _ckpt(out / "last.ckpt")["global_step"] == MAX_EPOCHS * steps_per_epoch
    assert len(list(out.glob("logs/csv/version_*/metrics.csv"))) == 1  # a fresh log
    assert pd.read_csv(out / "metrics.csv")["epoch"].tolist() == list(range(MAX_EPOCHS))
