"""The training's CSV log survives a kill mid-write, and metrics.csv is merged from what
survived: complete rows only, later (resumed) runs winning on overlap."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from dreem.training.csv_log import KillSafeCSVLogger, merge_metrics_logs, read_metrics_log


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_row_cut_by_a_kill_is_dropped(tmp_path: Path) -> None:
    log = _write(tmp_path / "m.csv", "epoch,step,val_loss\n0,9,0.7626\n1,19,0.75")
    df = read_metrics_log(log)
    assert df is not None
    assert df.to_dict("records") == [{"epoch": 0, "step": 9, "val_loss": 0.7626}]


@pytest.mark.parametrize("text", ["", "epoch,st", "epoch,step,val_loss\n"])
def test_a_log_without_a_complete_row_reads_as_none(tmp_path: Path, text: str) -> None:
    assert read_metrics_log(_write(tmp_path / "m.csv", text)) is None


def test_merge_skips_empty_logs_and_later_runs_win(tmp_path: Path) -> None:
    root = tmp_path / "csv"
    _write(
        root / "version_0" / "metrics.csv",
        "epoch,step,train_loss,val_loss\n0,9,0.9,\n0,9,,0.8\n1,19,,0.7\n",
    )
    _write(root / "version_1" / "metrics.csv", "")  # killed while Lightning rewrote it
    _write(
        root / "version_2" / "metrics.csv",
        "epoch,step,train_loss,val_loss\n1,19,0.6,0.5\n2,29,0.4,0.3\n2,29,0.1",
    )
    out = tmp_path / "metrics.csv"
    merge_metrics_logs(root, out)
    df = pd.read_csv(out)
    assert list(df.columns) == ["epoch", "train_loss", "val_loss"]
    assert df.to_dict("records") == [
        {"epoch": 0, "train_loss": 0.9, "val_loss": 0.8},
        {"epoch": 1, "train_loss": 0.6, "val_loss": 0.5},
        {"epoch": 2, "train_loss": 0.4, "val_loss": 0.3},
    ]


def test_merge_of_nothing_writes_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "csv" / "version_0" / "metrics.csv", "")
    merge_metrics_logs(tmp_path / "csv", tmp_path / "metrics.csv")
    assert not (tmp_path / "metrics.csv").exists()


def _logger_with_one_row(tmp_path: Path) -> tuple[KillSafeCSVLogger, Path]:
    logger = KillSafeCSVLogger(save_dir=str(tmp_path), name="csv")
    logger.log_metrics({"epoch": 0, "train_loss_step": 1.5}, step=0)
    logger.save()
    return logger, Path(logger.experiment.metrics_file_path)


def test_a_new_metric_name_rewrites_the_log_with_every_row(tmp_path: Path) -> None:
    logger, path = _logger_with_one_row(tmp_path)
    logger.log_metrics({"epoch": 0, "val_loss": 0.8}, step=9)  # a new name: a rewrite
    logger.save()
    df = read_metrics_log(path)
    assert df is not None
    assert df["train_loss_step"].tolist()[0] == 1.5 and df["val_loss"].tolist()[-1] == 0.8
    assert [p.name for p in path.parent.iterdir()] == ["metrics.csv"]


def test_a_kill_inside_the_rewrite_keeps_the_earlier_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, path = _logger_with_one_row(tmp_path)
    before = path.read_text()

    def die(self: csv.DictWriter, rows: object) -> None:  # stopped right after the header
        raise KeyboardInterrupt

    monkeypatch.setattr(csv.DictWriter, "writerows", die)
    logger.log_metrics({"epoch": 0, "val_loss": 0.8}, step=9)
    with pytest.raises(KeyboardInterrupt):
        logger.save()
    assert path.read_text() == before  # Lightning's own writer leaves only the header
    assert [p.name for p in path.parent.iterdir()] == ["metrics.csv"]  # no temp file left
