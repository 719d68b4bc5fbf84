"""Checkpoint selection by validation ID switches, ties broken by validation loss
(``checkpointing.monitor: val_num_switches_then_loss``)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_train import _write_shard, tiny_cfg

from dreem.config.load import load_dreem_config
from dreem.models.checkpoint import load_checkpoint_file
from dreem.training.selection import SWITCHES_THEN_LOSS, switches_then_loss
from dreem.utils.errors import ConfigError


def test_orders_by_switches_then_by_loss() -> None:
    pairs = [(0, 3.30), (2, 0.01), (0, 2.99), (1, 50.0), (0, 0.0), (1, 0.5)]
    ranked = sorted(pairs, key=lambda p: switches_then_loss(*p))
    assert ranked == sorted(pairs)  # lexicographic: switches first, then loss
    assert math.floor(switches_then_loss(7, 1e6)) == 7  # the integer part is the switch count
    assert math.isnan(switches_then_loss(1, math.inf))
    assert math.isnan(switches_then_loss(math.nan, 1.0))


@pytest.mark.parametrize(
    "over",
    [
        {"checkpointing": {"monitor": ["val_loss", SWITCHES_THEN_LOSS]}},
        {"early_stopping": {"monitor": SWITCHES_THEN_LOSS}},
    ],
)
def test_needs_num_switches_in_validation_metrics(over: dict) -> None:
    key = next(iter(over))
    with pytest.raises(ConfigError, match=rf"{key}\.monitor: {SWITCHES_THEN_LOSS} needs"):
        load_dreem_config({**over, "runner": {"metrics": {"val": ["idf1"]}}})
    for val in (["num_switches"], ["sw_cnt"], ["default"]):
        load_dreem_config({**over, "runner": {"metrics": {"val": val}}})


def test_training_keeps_the_epoch_with_fewest_switches_then_lowest_loss(tmp_path) -> None:
    from dreem.training.train import train_model

    train = [_write_shard(tmp_path / "a.parquet", "a", 8, 3, 0)]
    val = [_write_shard(tmp_path / "b.parquet", "b", 8, 3, 1)]
    cfg = tiny_cfg(
        max_epochs=4,
        runner={"metrics": {"train": [], "val": ["num_switches"], "test": []}},
    )
    cfg.checkpointing.monitor = [SWITCHES_THEN_LOSS]
    train_model(cfg, train, val, tmp_path / "run", seed=0)
    log = pd.read_csv(tmp_path / "run" / "metrics.csv").dropna(subset=["val_loss"])
    assert len(log) == 4
    want = min(log.itertuples(), key=lambda r: (r.val_num_switches, r.val_loss)).epoch
    fewest = log[log.val_num_switches == log.val_num_switches.min()]
    assert want > fewest.epoch.min()  # a tie the loss broke (switches alone keep the first)
    best = load_checkpoint_file(tmp_path / "run" / "best.ckpt")
    assert best["epoch"] == want
    files = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("epoch=*.ckpt"))
    assert files == [f"epoch={want}-{SWITCHES_THEN_LOSS}={files[0].split('=')[-1]}"]
