"""Multi-device training: ``trainer.devices: 2, strategy: ddp`` on the CPU (gloo backend).

``dreem train`` runs as a user would; Lightning starts the second process itself by running
the same command again with ``LOCAL_RANK=1``. Each process trains on half of the clips, so
an epoch has half the optimizer steps of a one-process run; only the main process writes
the outputs, and the published checkpoint loads.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

N_FRAMES = 24
CLIP_LENGTH = 4  # -> 6 training clips; 2 processes -> 3 optimizer steps per epoch
EPOCHS = 2
DEVICES = 2

CONFIG = """\
seed: 0
model:
  d_model: 16
  nhead: 1
  encoder_cfg: {{model_name: test_resnet, backend: timm, in_chans: 3, pretrained: false}}
dataset:
  train_dataset:
    dir: {{path: {data}, labels_suffix: .slp, vid_suffix: .mp4}}
    crop_size: 16
    anchors: thorax
    clip_length: {clip}
    augmentations: null
logging: {{logger_type: null}}
trainer:
  max_epochs: {epochs}
  accelerator: cpu
  devices: {devices}
  strategy: ddp
  enable_progress_bar: false
  enable_model_summary: false
"""


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    from dreem.synth import generate_animals

    generate_animals(
        tmp_path / "data", "clip", seed=0, n_animals=2, n_frames=N_FRAMES, size=(64, 64)
    )
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(
        CONFIG.format(data=tmp_path / "data", clip=CLIP_LENGTH, epochs=EPOCHS, devices=DEVICES)
    )
    return cfg


def test_ddp_two_cpu_processes(config: Path, tmp_path: Path):
    import torch

    from dreem.models.checkpoint import load_model_from_checkpoint

    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "SLURM_NTASKS", "SLURM_PROCID"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "dreem.cli", "train", str(config), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    log = f"rc {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, log
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in proc.stderr, log
    # the main process alone prints the result and the published model
    assert proc.stdout.count("model: ") == 1, log

    train_dir = out / "models" / "ddp" / "train"
    ckpt = torch.load(train_dir / "last.ckpt", map_location="cpu", weights_only=False)
    steps_per_epoch = math.ceil(N_FRAMES // CLIP_LENGTH / DEVICES)
    assert ckpt["global_step"] == EPOCHS * steps_per_epoch  # 6, not the 12 of one process
    assert ckpt["epoch"] == EPOCHS - 1
    assert (train_dir / "metrics.csv").read_text().count("\n") == EPOCHS + 1  # header + epochs

    published = out / "models" / "ddp" / "best.ckpt"
    model, cfg = load_model_from_checkpoint(published)
    assert cfg.trainer.devices == DEVICES and cfg.trainer.strategy == "ddp"
    feats = model.encode(torch.rand(3, 3, 16, 16))
    assert feats.shape == (3, 16) and torch.isfinite(feats).all()
