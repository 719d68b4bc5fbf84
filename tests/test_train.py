"""Training: loss, factories, train_model end to end (tiny shards), resume, val metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dreem.config import load_dreem_config
from dreem.config.training import LoggingConfig, LossConfig, OptimizerConfig, SchedulerConfig
from dreem.training.factories import build_logger, build_optimizer, build_scheduler
from dreem.training.loss import AssoLoss
from dreem.utils.errors import ConfigError

# --------------------------------------------------------------------------- loss


def test_loss_hand_computed():
    # 2 frames; frame 0: ids [0, 1]; frame 1: id [0]. Logits all zero except one entry.
    gt = torch.tensor([0, 1, 0])
    fr = torch.tensor([5, 5, 6])
    logits = torch.zeros(3, 3)
    logits[0, 2] = 2.0  # row 0 (id 0) vs the id-0 detection of frame 1
    loss = AssoLoss(LossConfig(epsilon=0.0))([logits], gt, fr)
    # frame 0 blocks: 3 classes (2 dets + null), all logits 0 → CE = ln 3 for each row (3 rows)
    # frame 1 blocks: 2 classes (1 det + null):
    #   row 0 → target det, logits [2, 0] → ln(1 + e^-2)
    #   row 1 → target null (id 1 absent), logits [0, 0] → ln 2
    #   row 2 → target det, logits [0, 0] → ln 2
    expected = 3 * math.log(3) + math.log(1 + math.exp(-2)) + 2 * math.log(2)
    n_obj = 3 + 2  # non-null targets
    assert loss.item() == pytest.approx(expected / n_obj, rel=1e-5)
    # two layers are summed; asso_weight scales
    loss2 = AssoLoss(LossConfig(epsilon=0.0, asso_weight=2.0))([logits, logits], gt, fr)
    assert loss2.item() == pytest.approx(4 * expected / n_obj, rel=1e-5)


def test_loss_perfect_logits_near_zero_and_unlabelled():
    gt = torch.tensor([0, 1, 0, 1, -1])
    fr = torch.tensor([0, 0, 1, 1, 1])
    same = (gt[:, None] == gt[None, :]) & (gt[:, None] >= 0)
    logits = torch.where(same, 30.0, -30.0)
    assert AssoLoss(LossConfig())([logits], gt, fr).item() < 1e-6
    # neg_unmatched: the unlabelled row must target null everywhere
    assert AssoLoss(LossConfig(neg_unmatched=True))([logits], gt, fr).item() < 1e-6
    bad = logits.clone()
    bad[4, 0] = 30.0  # unlabelled row claims a match
    assert AssoLoss(LossConfig())([bad], gt, fr).item() < 1e-6  # ignored without neg_unmatched
    assert AssoLoss(LossConfig(neg_unmatched=True))([bad], gt, fr).item() > 1.0


def test_loss_duplicate_identity_raises():
    with pytest.raises(ValueError, match="twice"):
        AssoLoss(LossConfig())([torch.zeros(2, 2)], torch.tensor([0, 0]), torch.tensor([0, 0]))


# --------------------------------------------------------------------------- factories


def _opt(data):
    return OptimizerConfig.model_validate(data)


def _sched(data):
    return SchedulerConfig.model_validate(data)


def _log(data):
    return LoggingConfig.model_validate(data)


def _params():
    return [torch.nn.Parameter(torch.zeros(3))]


def test_optimizer_factory():
    opt = build_optimizer(_params(), _opt({"name": "SGD", "lr": 0.1, "momentum": 0.9}))
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    opt = build_optimizer(_params(), _opt({"name": "AdamW", "lr": 1e-3, "betas": [0.9, 0.99]}))
    assert opt.defaults["betas"] == (0.9, 0.99)
    with pytest.raises(ConfigError, match="Adam"):
        build_optimizer(_params(), _opt({"name": "adam", "lr": 1e-3}))
    with pytest.raises(ConfigError, match="optimizer"):
        build_optimizer(_params(), _opt({"name": "Adam", "lrr": 1e-3}))


def test_scheduler_factory():
    opt = build_optimizer(_params(), _opt({"name": "Adam", "lr": 1e-3}))
    s = build_scheduler(opt, _sched({"name": "ReduceLROnPlateau", "mode": "min", "patience": 3}))
    assert isinstance(s["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert s["monitor"] == "val_loss"
    s = build_scheduler(opt, _sched({"name": "CosineAnnealingLR", "T_max": 10}))
    assert isinstance(s["scheduler"], torch.optim.lr_scheduler.CosineAnnealingLR)
    s = build_scheduler(
        opt,
        _sched(
            {
                "name": ["LinearLR", "CosineAnnealingLR"],
                "0": {"start_factor": 0.1, "total_iters": 2},
                "1": {"T_max": 5},
                "milestones": [2],
            }
        ),
    )
    assert isinstance(s["scheduler"], torch.optim.lr_scheduler.SequentialLR)
    with pytest.raises(ConfigError, match="CosineAnnealingLR"):
        build_scheduler(opt, _sched({"name": "CosineAnealingLR"}))


def test_logger_factory(tmp_path):
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    assert build_logger(_log({"logger_type": None}), tmp_path) is None
    lg = build_logger(
        _log({"logger_type": "CSVLogger", "name": "x", "save_dir": "./logs"}), tmp_path
    )
    assert isinstance(lg, CSVLogger) and Path(lg.save_dir) == tmp_path / "logs"
    try:
        import tensorboard  # noqa: F401

        lg = build_logger(_log({"logger_type": "TensorBoardLogger", "name": "x"}), tmp_path)
        assert isinstance(lg, TensorBoardLogger)
    except ImportError:  # not installed: a clear config error instead of a crash
        with pytest.raises(ConfigError, match="TensorBoardLogger"):
            build_logger(_log({"logger_type": "TensorBoardLogger", "name": "x"}), tmp_path)
    with pytest.raises(ConfigError, match="CSVLogger"):
        load_dreem_config({"logging": {"logger_type": "CsvLogger"}})


@pytest.mark.slow
def test_mlflow_logger_defaults_to_sqlite_in_out_dir(tmp_path):
    lg = build_logger(_log({"logger_type": "MLFlowLogger", "name": "exp"}), tmp_path)
    assert lg._tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


# --------------------------------------------------------------------------- end to end


def _write_shard(path: Path, video_id: str, n_frames: int, n_ids: int, seed: int, hw=16):
    from dreem.io.shards import InstanceRecord, ShardMeta, ShardWriter

    rng = np.random.default_rng(seed)
    meta = ShardMeta(
        video_id=video_id,
        source_format="slp",
        labels_path=f"{video_id}.slp",
        video_path=f"{video_id}.mp4",
        params={"crop_size": hw, "n_anchors": 1},
        sources={},
        frame_height=64,
        frame_width=96,
        n_frames=n_frames,
        channels=1,
        dtype="uint8",
        crop_hw=(hw, hw),
        anchor_names=["centroid"],
    )
    pos = rng.uniform(10, 50, size=(n_ids, 2))
    with ShardWriter(path, meta) as w:
        for f in range(n_frames):
            recs = []
            pos += rng.normal(0, 2, size=pos.shape)
            for k in range(n_ids):
                y, x = pos[k]
                crop = np.full((1, 1, hw, hw), 40 + 60 * k, np.uint8)
                crop += rng.integers(0, 20, size=crop.shape, dtype=np.uint8)
                recs.append(
                    InstanceRecord(
                        frame_idx=f,
                        instance_idx=k,
                        gt_track_id=k,
                        gt_track_name=f"t{k}",
                        score=1.0,
                        centroid=(x, y),
                        bbox=np.array([[y - 8, x - 8, y + 8, x + 8]], np.float32),
                        pose=np.array([[x, y]], np.float32),
                        crop=crop,
                    )
                )
            w.add_frame(recs)
    return path


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    train = [_write_shard(d / "a.parquet", "a", 8, 3, 0)]
    val = [_write_shard(d / "b.parquet", "b", 8, 3, 1)]
    return train, val


def tiny_cfg(max_epochs=1, **over):
    data = {
        "model": {"d_model": 32, "nhead": 1, "encoder_cfg": {"model_name": "test_resnet"}},
        "dataset": {"train_dataset": {"clip_length": 4, "augmentations": None}},
        "trainer": {
            "max_epochs": max_epochs,
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "checkpointing": {"save_top_k": 1},
        "optimizer": {"lr": 1e-3},
    }
    data.update(over)
    return load_dreem_config(data)


def test_train_writes_outputs_and_checkpoint_rebuilds_model(shards, tmp_path):
    import pandas as pd

    from dreem.models.checkpoint import load_model_from_checkpoint
    from dreem.training.train import train_model

    train, val = shards
    cfg = tiny_cfg(runner={"metrics": {"train": [], "val": ["num_switches"], "test": []}})
    cfg.checkpointing.monitor = ["val_loss", "val_num_switches"]
    precision = torch.get_float32_matmul_precision()
    res = train_model(cfg, train, val, tmp_path, seed=1)
    # no process-wide change leaks out (a lower precision makes CPUs with bf16 units
    # compute every later float32 matmul in bf16)
    assert torch.get_float32_matmul_precision() == precision
    for name in ("best.ckpt", "last.ckpt", "metrics.csv", "config.yaml"):
        assert (tmp_path / name).is_file(), name
    assert res["epochs"] == 1 and res["instances_per_s"] > 0
    df = pd.read_csv(tmp_path / "metrics.csv")
    assert {"epoch", "train_loss", "val_loss", "val_num_switches"} <= set(df.columns)
    assert len(df) == 1 and df["val_num_switches"].notna().all()

    model, cfg2 = load_model_from_checkpoint(tmp_path / "last.ckpt")
    assert cfg2.model.d_model == 32 and cfg2.seed == 1
    state = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["state_dict"]["model." + k]), k
    assert not model.training


def test_resume_continues_epochs(shards, tmp_path):
    import pandas as pd

    from dreem.training.train import train_model

    train, val = shards
    train_model(tiny_cfg(max_epochs=1), train, val, tmp_path, seed=0)
    steps = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=False)[
        "global_step"
    ]
    assert steps > 0
    res = train_model(tiny_cfg(max_epochs=2), train, val, tmp_path, seed=0)
    assert res["epochs"] == 2
    ck = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=False)
    assert ck["global_step"] == 2 * steps  # exactly one more epoch, not two
    df = pd.read_csv(tmp_path / "metrics.csv")
    assert df["epoch"].tolist() == [0, 1]


def test_finetune_from_ckpt_path(shards, tmp_path):
    from dreem.training.train import train_model

    train, val = shards
    first = train_model(tiny_cfg(max_epochs=1), train, [], tmp_path / "a", seed=0)
    cfg = tiny_cfg(max_epochs=1)
    cfg.model.ckpt_path = str(first["last_ckpt"])
    cfg.model.d_model = 64
    with pytest.raises(ConfigError, match="ckpt_path"):
        train_model(cfg, train, [], tmp_path / "b", seed=0)


def test_bf16_mixed_training_runs(shards, tmp_path):
    from dreem.training.train import train_model

    train, _ = shards
    cfg = tiny_cfg(max_epochs=1)
    cfg.trainer.precision = "bf16-mixed"
    res = train_model(cfg, train, [], tmp_path, seed=0)
    assert res["epochs"] == 1 and (tmp_path / "best.ckpt").is_file()


def test_load_model_rejects_non_checkpoint(tmp_path):
    from dreem.models.checkpoint import load_model_from_checkpoint
    from dreem.utils.errors import InputDataError

    bad = tmp_path / "x.ckpt"
    torch.save({"weights": 1}, bad)
    with pytest.raises(InputDataError, match="x.ckpt"):
        load_model_from_checkpoint(bad)
    with pytest.raises(InputDataError, match="missing.ckpt"):
        load_model_from_checkpoint(tmp_path / "missing.ckpt")
