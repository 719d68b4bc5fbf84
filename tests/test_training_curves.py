"""Training curves are drawn from a per-epoch metrics.csv."""

from __future__ import annotations

import pandas as pd
import pytest

from dreem.training.curves import plot_training_curves


def test_curves_png_written(tmp_path):
    csv = tmp_path / "metrics.csv"
    pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "train_loss": [1.0, 0.5, 0.2],
            "val_loss": [1.1, 0.6, 0.3],
            "val_num_switches": [9, 4, 0],
        }
    ).to_csv(csv, index=False)
    out = plot_training_curves(csv, tmp_path / "curves.png", title="m")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 1000


def test_curves_need_epochs(tmp_path):
    csv = tmp_path / "metrics.csv"
    pd.DataFrame({"step": [1]}).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="metrics.csv"):
        plot_training_curves(csv, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()
