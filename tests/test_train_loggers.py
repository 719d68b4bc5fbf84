"""Every documented logger works here with no network (installed via the dev extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreem.config.training import LoggingConfig
from dreem.training.factories import build_logger


def test_wandb_logger_runs_offline(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    lg = build_logger(
        LoggingConfig(logger_type="WandbLogger", name="run1", project="dreem-test"),
        tmp_path,
        full_cfg={"model": {"d_model": 8}},
    )
    lg.log_metrics({"train_loss": 1.0}, step=0)
    lg.log_metrics({"train_loss": 0.5}, step=1)
    lg.finalize("success")
    lg.experiment.finish()
    runs = list((tmp_path / "logs" / "wandb").glob("offline-run-*"))  # logging.save_dir
    assert runs, f"no offline run under {tmp_path}"
    assert any(p.suffix == ".wandb" for p in runs[0].iterdir())


def test_tensorboard_logger_writes_events(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    lg = build_logger(LoggingConfig(logger_type="TensorBoardLogger", name="run1"), tmp_path)
    lg.log_metrics({"val_loss": 0.3}, step=0)
    lg.finalize("success")
    assert list((tmp_path / "logs" / "run1").rglob("events.out.tfevents.*"))
