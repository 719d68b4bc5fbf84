"""Every component takes its validated config section and holds no default of its own:
built from a section whose every key differs from its default, each component reflects the
section's values (so none is overridden or ignored downstream)."""

from __future__ import annotations

import math

import pytest
import torch

from dreem.config import load_dreem_config
from dreem.config.data import CropParams, DatasetSection
from dreem.config.model import ModelConfig
from dreem.config.tracker import TrackerConfig
from dreem.config.training import (
    CheckpointingConfig,
    EarlyStoppingConfig,
    LossConfig,
    OptimizerConfig,
    SchedulerConfig,
    TrainerConfig,
)


def _differs(section, changed: dict) -> None:
    """``changed`` sets every field of ``section`` (guards against new untested keys)."""
    fields = set(type(section).model_fields)
    assert fields == set(changed), f"untested keys: {sorted(fields - set(changed))}"
    default = type(section)()
    for k, v in changed.items():
        assert getattr(default, k) != v, f"{k}: the test value equals the default"


def test_model_builder_reads_every_model_key():
    from dreem.models.gtr import GlobalTrackingTransformer

    keys = {
        "ckpt_path": "/no/such.ckpt",  # used by training (fine-tuning), not the builder
        "d_model": 48,
        "nhead": 3,
        "num_encoder_layers": 2,
        "num_decoder_layers": 3,
        "dropout": 0.25,
        "activation": "gelu",
        "return_intermediate_dec": False,
        "norm": True,
        "num_layers_attn_head": 2,
        "dropout_attn_head": 0.3,
        "return_embedding": True,
        "decoder_self_attn": False,
        "embedding_meta": {"pos": {"mode": "fixed"}, "temp": {"mode": "learned", "emb_num": 7}},
        "encoder_cfg": {"model_name": "test_resnet", "in_chans": 6},
        "pos_every_layer": True,
        "attn_head_scale": True,
    }
    cfg = ModelConfig.model_validate(keys)
    _differs(cfg, {k: getattr(cfg, k) for k in keys})
    m = GlobalTrackingTransformer(cfg)
    t = m.transformer
    assert m.d_model == 48 and m.visual_encoder.proj.out_features == 48
    assert len(t.enc) == 2 and len(t.dec) == 3
    attn = t.enc[0].attn
    assert attn.num_heads == 3 and attn.dropout == 0.25
    assert isinstance(t.enc[0].ff.act, torch.nn.GELU)
    assert not t.return_intermediate and t.pos_every_layer
    assert isinstance(t.enc[0].n1, torch.nn.LayerNorm)
    assert all(layer.self_attn is None for layer in t.dec)
    assert m.head.factor == pytest.approx(1 / math.sqrt(48))
    assert len([x for x in m.head.q_proj.layers if isinstance(x, torch.nn.Linear)]) == 2
    assert m.pos_emb.mode == "fixed" and m.temp_emb.mode == "learned"
    assert m.temp_emb.lookup.shape[0] == 7
    assert m.in_chans == 6


def test_tracker_keeps_its_section():
    from dreem.inference.baseline import CentroidTracker
    from dreem.inference.tracker import Tracker

    cfg = TrackerConfig(window_size=3, max_center_dist=9.0, max_gap=4, max_tracks=5)
    assert Tracker(cfg).cfg is cfg
    base = CentroidTracker(cfg)
    assert (base.max_center_dist, base.max_gap, base.max_tracks) == (9.0, 4, 5)
    assert CentroidTracker(TrackerConfig()).max_center_dist == math.inf


def test_loss_reads_every_key():
    from dreem.training.loss import AssoLoss
    from dreem.training.module import GTRLightning

    keys = {
        "neg_unmatched": True,
        "epsilon": 0.5,
        "asso_weight": 3.0,
        "embedding_weight": 0.7,
        "embedding_temperature": 0.3,
    }
    cfg = LossConfig(**keys)
    _differs(cfg, keys)
    loss = AssoLoss(cfg)
    assert (loss.neg_unmatched, loss.epsilon, loss.asso_weight) == (True, 0.5, 3.0)
    module = GTRLightning(
        load_dreem_config(
            {"loss": keys, "model": {"d_model": 16, "encoder_cfg": {"model_name": "test_resnet"}}}
        )
    )
    assert module.cfg.loss is not None and module.cfg.loss.embedding_weight == 0.7
    assert module.cfg.loss.embedding_temperature == 0.3


def test_optimizer_and_scheduler_read_their_sections():
    from dreem.training.factories import build_optimizer, build_scheduler

    params = [torch.nn.Parameter(torch.zeros(2))]
    opt_keys = {"name": "AdamW", "lr": 0.3, "betas": [0.8, 0.9], "eps": 1e-6, "weight_decay": 0.2}
    cfg = OptimizerConfig(**opt_keys)
    _differs(cfg, opt_keys)
    opt = build_optimizer(params, cfg)
    assert type(opt).__name__ == "AdamW"
    d = opt.defaults
    assert (d["lr"], d["betas"], d["eps"], d["weight_decay"]) == (0.3, (0.8, 0.9), 1e-6, 0.2)
    # the reference's Adam settings are the section's defaults
    adam = build_optimizer(params, OptimizerConfig()).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"]) == (
        1e-4,
        (0.9, 0.999),
        1e-8,
        0.01,
    )
    sch_keys = {
        "name": "ReduceLROnPlateau",
        "mode": "max",
        "factor": 0.25,
        "patience": 9,
        "threshold": 0.05,
        "threshold_mode": "abs",
        "milestones": None,
    }
    sched = build_scheduler(opt, SchedulerConfig(**sch_keys))["scheduler"]
    assert (sched.mode, sched.factor, sched.patience, sched.threshold) == ("max", 0.25, 9, 0.05)
    assert sched.threshold_mode == "abs"
    default = build_scheduler(opt, SchedulerConfig())["scheduler"]
    assert (default.mode, default.factor, default.patience) == ("min", 0.5, 5)


def test_callbacks_and_trainer_read_their_sections(tmp_path):
    from lightning.pytorch import callbacks as cb

    from dreem.training.factories import build_callbacks
    from dreem.training.train import trainer_kwargs

    cfg = load_dreem_config(
        {
            "checkpointing": {"monitor": ["val_idf1"], "save_top_k": 2, "every_n_epochs": 3},
            "early_stopping": {"patience": 4, "min_delta": 0.5, "mode": "max"},
        }
    )
    out = build_callbacks(cfg, tmp_path, has_logger=False, has_val=True)
    best = [c for c in out if isinstance(c, cb.ModelCheckpoint) and c.monitor][0]
    assert (best.monitor, best.save_top_k, best.mode) == ("val_idf1", 2, "max")
    stop = next(c for c in out if isinstance(c, cb.EarlyStopping))
    assert (stop.patience, stop.min_delta, stop.mode) == (4, 0.5, "max")
    assert CheckpointingConfig().save_top_k == -1 and EarlyStoppingConfig().patience == 10
    tr = TrainerConfig(max_epochs=3, num_sanity_val_steps=0, precision="bf16-mixed")
    kw = trainer_kwargs(tr)
    assert kw["max_epochs"] == 3 and kw["num_sanity_val_steps"] == 0
    assert kw["precision"] == "bf16-mixed" and "default_root_dir" not in kw
    assert trainer_kwargs(TrainerConfig())["num_sanity_val_steps"] == 2  # Lightning's default


def test_crop_params_defaults_are_the_dataset_sections():
    from dreem.data.extract import normalize_params

    section = DatasetSection()
    crop = CropParams()
    for key in ("crop_size", "padding", "anchors", "handle_missing", "max_tracks"):
        assert getattr(crop, key) == getattr(section, key), key
    norm = normalize_params(crop)
    assert (norm["crop_size"], norm["padding"], norm["anchors"]) == (128, 0, "centroid")


def test_dataset_reads_its_section(tmp_path):
    import numpy as np

    from dreem.data.dataset import ClipDataset
    from dreem.io.shards import InstanceRecord, ShardMeta, ShardWriter

    meta = ShardMeta(
        video_id="v",
        source_format="slp",
        labels_path="v.slp",
        video_path="v.mp4",
        params={"n_anchors": 1},
        sources={},
        frame_height=20,
        frame_width=20,
        n_frames=12,
        channels=1,
        dtype="uint8",
        crop_hw=(4, 4),
        anchor_names=["c"],
    )
    path = tmp_path / "v.parquet"
    with ShardWriter(path, meta) as w:
        for f in range(12):
            box = np.array([[0, 0, 4, 4]], np.float32)
            crop = np.zeros((1, 1, 4, 4), np.uint8)
            w.add_frame(
                [InstanceRecord(f, 0, 0, None, 1.0, (2.0, 2.0), box, np.zeros((1, 2)), crop)]
            )
    section = DatasetSection(clip_length=5, mode="val", seed=11, n_chunks=2)
    ds = ClipDataset([path], section, seed=0)
    assert ds.mode == "val" and ds.seed == 11 and len(ds) == 2  # 12 frames: 5 + 5 + 2
    assert sorted(len(c.frames) for c in ds.chunks) in ([2, 5], [5, 5])
    assert ClipDataset([path], DatasetSection(clip_length=5), seed=3).seed == 3
