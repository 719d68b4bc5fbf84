"""DREEM config: typed sections, defaults, key-path errors, merging, aliases, nulls, names."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from dreem.config import (
    DreemConfig,
    default_dreem_config,
    describe_config,
    load_dreem_config,
    parse_overrides,
    save_config,
)
from dreem.config.dreem import SECTIONS
from dreem.config.metrics import MOTMETRICS_NAMES
from dreem.utils.errors import ConfigError, ConfigWarning

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "config" / "dreem_reference_example.yaml"


def _errors(cfg, overrides=None, check_names=False) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_dreem_config(cfg, overrides, check_names=check_names)
    return info.value.errors


def _get(cfg, path):
    for part in path.split("."):
        cfg = cfg[part]
    return cfg


def _leaves(d, prefix=""):
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            yield from _leaves(v, path)
        else:
            yield path, v


# ----------------------------------------------------------------------------- defaults
def test_defaults_fully_populated_and_typed():
    cfg = default_dreem_config()
    assert isinstance(cfg, DreemConfig)
    assert set(SECTIONS) <= set(DreemConfig.model_fields)
    data = cfg.to_dict()
    assert len(list(_leaves(data))) > 150
    assert cfg.early_stopping is None
    assert cfg.logging.logger_type is None
    assert cfg.dataset.val_dataset is None
    assert cfg.model.embedding_meta.pos.mode == "learned"
    assert cfg.model.embedding_meta.temp.mode == "fixed"
    assert cfg.tracker.max_gap == math.inf
    assert cfg.tracker.iou == "mult"
    assert cfg.dataset.train_dataset.padding == 0
    assert set(cfg.dataset.train_dataset.augmentations) == {
        "GaussianBlur",
        "MotionBlur",
        "RandomBrightnessContrast",
        "Rotate",
    }


def test_defaults_are_fresh_copies():
    a = default_dreem_config()
    a.optimizer.betas.append(1)
    a.dataset.train_dataset.augmentations["Rotate"]["p"] = 1.0
    b = default_dreem_config()
    assert b.optimizer.betas == [0.9, 0.999]
    assert b.dataset.train_dataset.augmentations["Rotate"]["p"] == 0.3


def test_every_key_accepted_round_trip(tmp_path):
    """The defaulted config, written and re-read, is accepted and unchanged."""
    data = default_dreem_config().to_dict()
    data["early_stopping"] = {}  # fill the default-null sections too
    data["dataset"]["val_dataset"] = {}
    data["dataset"]["test_dataset"] = {}
    data["model"]["embedding_meta"]["pos"]["mlp_cfg"] = {}
    full = load_dreem_config(data)
    out = save_config(full, tmp_path / "sub" / "cfg.yaml")
    assert out.exists() and not list(out.parent.glob(".*tmp*"))
    assert load_dreem_config(out) == full


def test_assignment_is_validated():
    cfg = default_dreem_config()
    with pytest.raises(ValueError, match="expected int"):
        cfg.trainer.max_epochs = "three"


# ----------------------------------------------------------------------------- reference
def test_reference_example_loads_unchanged():
    raw = yaml.safe_load(EXAMPLE.read_text())
    with pytest.warns(ConfigWarning):
        cfg = load_dreem_config(EXAMPLE).to_dict()
    normalised = {"runner.metrics.val": ["num_switches"], "metrics.test": ["all"]}
    for split in ("train", "val", "test"):  # a single directory becomes a list of one
        section = raw["dataset"].get(f"{split}_dataset") or {}
        if isinstance((section.get("dir") or {}).get("path"), str):
            normalised[f"dataset.{split}_dataset.dir.path"] = [section["dir"]["path"]]
    assert set(raw) <= set(DreemConfig.model_fields)
    for path, value in _leaves(raw):
        got = _get(cfg, path)
        if path in normalised:
            assert got == normalised[path], path
        elif isinstance(value, str) and isinstance(got, float):
            assert got == float(value), path  # YAML 1.1 "1e-8" strings
        else:
            assert got == value, path


def test_reference_example_covers_documented_sections():
    raw = yaml.safe_load(EXAMPLE.read_text())
    for section in SECTIONS:
        assert section in raw
    pos = raw["model"]["embedding_meta"]["pos"]
    from dreem.config.model import PosEmbedding
    from dreem.config.tracker import TrackerConfig

    def documented(section):  # the reference's keys, not our EXTENSIONs
        return {
            k
            for k, f in section.model_fields.items()
            if not (f.description or "").startswith("EXTENSION")
        }

    assert set(pos) == documented(PosEmbedding)
    assert set(raw["tracker"]) == documented(TrackerConfig)


def test_yaml_scientific_strings_become_floats(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("loss:\n  epsilon: 1e-8\noptimizer:\n  lr: 1e-4\n  eps: 1e-8\n")
    assert yaml.safe_load(p.read_text())["loss"]["epsilon"] == "1e-8"  # the YAML 1.1 trap
    cfg = load_dreem_config(p)
    assert cfg.loss.epsilon == 1e-8 and isinstance(cfg.loss.epsilon, float)
    assert cfg.optimizer.lr == 1e-4


# ----------------------------------------------------------------------------- errors
def test_unknown_key_with_suggestion():
    errs = _errors({"model": {"embedding_meta": {"pos": {"temprature": 5}}}})
    assert errs == ["model.embedding_meta.pos.temprature: unknown key; did you mean 'temperature'?"]
    errs = _errors({"trainer": {"max_epoch": 3}, "modle": {}})
    assert "trainer.max_epoch: unknown key; did you mean 'max_epochs'?" in errs
    assert "modle: unknown key; did you mean 'model'?" in errs


def test_wrong_types():
    errs = _errors(
        {
            "model": {"d_model": True, "nhead": "2"},
            "loss": {"epsilon": "tiny"},
            "trainer": {"max_epochs": 2.5},
        }
    )
    assert "model.d_model: expected int, got bool True" in errs
    assert "model.nhead: expected int, got str '2'" in errs
    assert "loss.epsilon: expected float, got str 'tiny'" in errs
    assert "trainer.max_epochs: expected int or null, got float 2.5" in errs


def test_int_accepted_for_float_but_int_kept_where_allowed():
    cfg = load_dreem_config({"loss": {"asso_weight": 2}, "trainer": {"limit_train_batches": 3}})
    assert cfg.loss.asso_weight == 2.0 and isinstance(cfg.loss.asso_weight, float)
    assert cfg.trainer.limit_train_batches == 3
    assert isinstance(cfg.trainer.limit_train_batches, int)  # count, not fraction


def test_bad_enum_message():
    errs = _errors({"model": {"embedding_meta": {"pos": {"mode": "fixd"}}}})
    assert errs == [
        "model.embedding_meta.pos.mode: 'fixd' is not one of fixed, learned, off, None; "
        "did you mean 'fixed'?"
    ]
    errs = _errors({"dataset": {"train_dataset": {"handle_missing": "Drop"}}})
    assert errs[0].endswith("did you mean 'drop'?")
    assert errs[0].startswith("dataset.train_dataset.handle_missing: 'Drop' is not one of")


def test_range_and_list_items():
    errs = _errors({"model": {"dropout": 1.5}, "dataset": {"train_dataset": {"anchors": []}}})
    assert "model.dropout: 1.5 is above the maximum 1" in errs
    assert any(e.startswith("dataset.train_dataset.anchors:") for e in errs)
    errs = _errors({"checkpointing": {"monitor": ["val_loss", 3]}})
    assert errs == ["checkpointing.monitor[1]: expected str, got int 3"]


def test_missing_mlp_cfg_when_n_points_gt_1():
    errs = _errors({"model": {"embedding_meta": {"pos": {"n_points": 3}}}})
    assert errs == ["model.embedding_meta.pos.mlp_cfg: required when n_points > 1 (n_points is 3)"]
    cfg = load_dreem_config(
        {"model": {"embedding_meta": {"pos": {"n_points": 3, "mlp_cfg": {"num_layers": 2}}}}}
    )
    assert cfg.model.embedding_meta.pos.mlp_cfg.to_dict() == {
        "hidden_dims": None,
        "num_layers": 2,
        "dropout": 0.0,
    }
    load_dreem_config({"model": {"embedding_meta": {"pos": {"n_points": 3, "mode": "off"}}}})


def test_every_error_on_its_own_line_naming_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  nhed: 2\n  activation: tanh\nloss:\n  epsilon: x\n")
    with pytest.raises(ConfigError) as info:
        load_dreem_config(p)
    lines = str(info.value).splitlines()
    assert len(lines) == 3 and len(info.value.errors) == 3
    assert all(line.startswith(f"{p}: ") for line in lines)
    assert f"{p}: model.nhed: unknown key; did you mean 'nhead'?" in lines
    assert any(line.startswith(f"{p}: model.activation: 'tanh'") for line in lines)


def test_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_dreem_config(missing)
    bad = tmp_path / "broken.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: invalid YAML"):
        load_dreem_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping"):
        load_dreem_config(lst)
    binary = tmp_path / "weights.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(ConfigError, match="weights.yaml: not a text file"):
        load_dreem_config(binary)
    with pytest.raises(ConfigError, match="is a directory"):
        load_dreem_config(tmp_path)
    with pytest.raises(ConfigError, match="model: expected a mapping, got int 3"):
        load_dreem_config({"model": 3})


def test_duplicate_yaml_keys_are_rejected(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("trainer:\n  max_epochs: 3\n  max_epochs: 5\nmodel:\n  d_model: 64\n")
    with pytest.raises(ConfigError) as info:
        load_dreem_config(p)
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{p}: line 3: trainer.max_epochs: duplicate key")


# ----------------------------------------------------------------------------- aliases, nulls
def test_legacy_aliases():
    with pytest.warns(ConfigWarning, match="mlp_cfg.hidden_dim: legacy key"):
        cfg = load_dreem_config(
            {
                "model": {
                    "embedding_meta": {"pos": {"n_points": 2, "mlp_cfg": {"hidden_dim": 64}}},
                    "encoder_cfg": {"backend": "torch"},
                },
                "runner": {"metrics": {"val": ["sw_cnt"], "test": "all"}},
                "tracker": {"iou": "", "max_gap": None, "front_nodes": "head"},
            }
        )
    assert cfg.model.embedding_meta.pos.mlp_cfg.hidden_dims == 64
    assert cfg.model.encoder_cfg.backend == "torchvision"
    assert cfg.runner.metrics.val == ["num_switches"]
    assert cfg.runner.metrics.test == ["all"]
    assert cfg.tracker.iou is None
    assert cfg.tracker.max_gap == math.inf
    assert cfg.tracker.front_nodes == ["head"]
    errs = _errors(
        {"model": {"embedding_meta": {"pos": {"mlp_cfg": {"hidden_dim": 1, "hidden_dims": 2}}}}}
    )
    assert errs == [
        "model.embedding_meta.pos.mlp_cfg.hidden_dim: give either 'hidden_dim' (legacy) or "
        "'hidden_dims', not both"
    ]


def test_legacy_persistent_tracking_mapping_warns():
    with pytest.warns(ConfigWarning, match="tracker.persistent_tracking"):
        cfg = load_dreem_config({"tracker": {"persistent_tracking": {"train": 1, "test": False}}})
    assert cfg.tracker.persistent_tracking is False


def test_unknown_metric_with_suggestion():
    errs = _errors({"runner": {"metrics": {"test": ["mota", "idf1x"]}}})
    assert errs[0].startswith("runner.metrics.test[1]: unknown metric 'idf1x'; did you mean")


def test_static_metric_list_matches_motmetrics():
    mm = pytest.importorskip("motmetrics")
    assert set(MOTMETRICS_NAMES) <= set(mm.metrics.create().names)


def test_null_sections_mean_off():
    cfg = load_dreem_config(
        {
            "logging": None,
            "early_stopping": None,
            "model": {"embedding_meta": {"pos": None, "temp": {"mode": "None"}}},
        }
    )
    assert cfg.logging.logger_type is None and cfg.logging.name == "dreem_train"
    assert cfg.early_stopping is None
    assert cfg.model.embedding_meta.pos.mode == "off"
    assert cfg.model.embedding_meta.pos.n_points == 1  # shape kept stable
    assert cfg.model.embedding_meta.temp.mode == "off"
    cfg = load_dreem_config({"model": {"embedding_meta": None}})
    assert cfg.model.embedding_meta.pos.mode == "off"
    assert cfg.model.embedding_meta.temp.mode == "off"
    cfg = load_dreem_config({"early_stopping": {"patience": 3}})
    assert cfg.early_stopping.patience == 3
    assert cfg.early_stopping.monitor == "val_loss"


def test_null_scheduler_means_constant_learning_rate():
    import torch

    from dreem.training.factories import build_optimizer, build_scheduler

    cfg = load_dreem_config({"scheduler": None})
    assert cfg.scheduler is None
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(2))], cfg.optimizer)
    assert build_scheduler(opt, cfg.scheduler) is None
    default = load_dreem_config({})
    sched = build_scheduler(opt, default.scheduler)["scheduler"]
    assert type(sched).__name__ == "ReduceLROnPlateau" and sched.patience == 5


def test_blank_means_default_but_null_needs_a_meaning(tmp_path):
    p = tmp_path / "blank.yaml"
    p.write_text("model:\n  d_model:\n  nhead: 2\ntrainer:\n")
    cfg = load_dreem_config(p)
    default = default_dreem_config()
    assert cfg.model.d_model == default.model.d_model
    assert cfg.model.nhead == 2
    assert cfg.trainer == default.trainer
    p.write_text("loss:\n  epsilon: null\n")
    with pytest.raises(ConfigError) as info:
        load_dreem_config(p)
    assert str(info.value).startswith(f"{p}: loss.epsilon: expected float, got null; null has")
    # where null means something it is kept
    cfg = load_dreem_config({"tracker": {"max_center_dist": None, "decay_time": None}})
    assert cfg.tracker.max_center_dist is None and cfg.tracker.decay_time is None
    assert load_dreem_config({}, ["model.d_model="]).model.d_model == default.model.d_model


def test_open_sections_pass_extra_kwargs():
    cfg = load_dreem_config(
        {
            "optimizer": {"name": "SGD", "lr": 0.1, "momentum": 0.9},
            "model": {"encoder_cfg": {"drop_rate": 0.2}},
            "dataloader": {
                "train_dataloader": {"num_workers": 1, "multiprocessing_context": "fork"}
            },
        }
    )
    # Adam-only defaults are not forced onto another optimizer
    assert cfg.optimizer.to_dict() == {"name": "SGD", "lr": 0.1, "momentum": 0.9}
    assert cfg.optimizer.kwargs() == {"lr": 0.1, "momentum": 0.9}
    assert cfg.model.encoder_cfg.extras() == {"drop_rate": 0.2}
    assert cfg.dataloader.train_dataloader.kwargs()["multiprocessing_context"] == "fork"
    errs = _errors({"dataloader": {"val_dataloader": {"batch_size": 4, "prefetch_factor": 2}}})
    assert (
        "dataloader.val_dataloader.batch_size: set by dreem (one clip per batch); remove it" in errs
    )
    assert "dataloader.val_dataloader.prefetch_factor: needs num_workers > 0" in errs


def test_scheduler_list_and_milestones():
    cfg = load_dreem_config(
        {"scheduler": {"name": ["LinearLR", "CosineAnnealingLR"], "milestones": [5], "0": {}}}
    )
    assert cfg.scheduler.name == ["LinearLR", "CosineAnnealingLR"]
    assert "factor" not in cfg.scheduler.to_dict()  # ReduceLROnPlateau-only defaults dropped
    errs = _errors({"scheduler": {"name": ["LinearLR", "CosineAnnealingLR"]}})
    assert errs[0].startswith("scheduler.milestones:")


def test_augmentations_replace_defaults():
    cfg = load_dreem_config({"dataset": {"train_dataset": {"augmentations": {"Rotate": {"p": 1}}}}})
    assert cfg.dataset.train_dataset.augmentations == {"Rotate": {"p": 1}}


def test_names_checked_before_any_job():
    errs = _errors(
        {
            "optimizer": {"name": "Adamm"},
            "scheduler": {"name": "StepLRR"},
            "dataset": {"train_dataset": {"augmentations": {"Rotat": {}}}},
            "model": {"encoder_cfg": {"model_name": "resnet19"}},
        },
        check_names=True,
    )
    assert errs[0] == (
        "optimizer.name: unknown name 'Adamm'; did you mean 'Adam'? (names are case-sensitive)"
    )
    assert errs[1].startswith("scheduler.name: unknown name 'StepLRR'; did you mean 'StepLR'?")
    assert errs[2].startswith("dataset.train_dataset.augmentations.Rotat: unknown augmentation")
    assert errs[3].startswith("model.encoder_cfg.model_name: unknown name 'resnet19'")
    # the same config loads without the (import-heavy) name check
    load_dreem_config({"optimizer": {"name": "Adamm"}})


def test_unsupported_values_warn_naming_the_key():
    with pytest.warns(ConfigWarning, match="model.embedding_meta.embedding_agg_method: 'stack'"):
        load_dreem_config({"model": {"embedding_meta": {"embedding_agg_method": "stack"}}})
    errs = _errors({"model": {"embedding_meta": {"use_fourier": True}}})
    assert errs[0].startswith("model.embedding_meta.use_fourier: the Fourier-feature path")


# ----------------------------------------------------------------------------- merging
def test_override_precedence(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("model:\n  num_encoder_layers: 2\n  nhead: 4\n")
    base = tmp_path / "base.yaml"
    base.write_text(
        "params_config: params.yaml\nmodel:\n  d_model: 64\n  nhead: 2\n"
        "  num_encoder_layers: 3\n  num_decoder_layers: 3\n"
    )
    cfg = load_dreem_config(base, ["model.nhead=8", "trainer.max_epochs=3", "loss.epsilon=1e-6"])
    assert cfg.model.d_model == 64  # file over defaults
    assert cfg.model.num_decoder_layers == 3
    assert cfg.model.num_encoder_layers == 2  # params_config over file
    assert cfg.model.nhead == 8  # overrides over everything
    assert cfg.trainer.max_epochs == 3
    assert cfg.loss.epsilon == 1e-6
    assert cfg.params_config == str(tmp_path / "params.yaml")
    cfg = load_dreem_config(base, {"model": {"d_model": 32}})
    assert cfg.model.d_model == 32 and cfg.model.nhead == 4


def test_override_errors_name_the_key():
    with pytest.raises(ConfigError, match="override 'model.d_model'"):
        parse_overrides(["model.d_model"])
    errs = _errors({}, ["model.dmodel=3"])
    assert errs == ["model.dmodel: unknown key; did you mean 'd_model'?"]
    assert parse_overrides(["+a.b=[1, 2]", "a.c=x"]) == {"a": {"b": [1, 2], "c": "x"}}


def test_cross_checks():
    errs = _errors({"model": {"d_model": 30, "nhead": 4}, "trainer": {"max_epochs": 2}})
    assert "model.nhead: d_model 30 is not divisible by nhead 4" in errs
    assert not any("min_epochs" in e for e in errs)
    errs = _errors({"trainer": {"max_epochs": 2, "min_epochs": 5}})
    assert errs == ["trainer.min_epochs: 5 exceeds max_epochs 2"]


def test_describe_config():
    text = describe_config("model.embedding_meta.pos")
    assert "mode (" in text and "= 'learned'" in text and "mlp_cfg:" in text
    assert "temperature" in describe_config()


def test_programmatic_values_become_plain():
    np = pytest.importorskip("numpy")
    cfg = load_dreem_config(
        {
            "model": {"d_model": np.int64(64), "ckpt_path": Path("/x/y.ckpt")},
            "loss": {"epsilon": np.float32(1e-3)},
            "optimizer": {"betas": (0.8, 0.9)},
        }
    )
    assert type(cfg.model.d_model) is int and cfg.model.d_model == 64
    assert cfg.model.ckpt_path == "/x/y.ckpt"
    assert type(cfg.loss.epsilon) is float
    assert cfg.optimizer.betas == [0.8, 0.9]


def test_load_is_idempotent():
    with pytest.warns(ConfigWarning):
        cfg = load_dreem_config(EXAMPLE)
        assert load_dreem_config(cfg) == cfg
        assert load_dreem_config(cfg.to_dict()) == cfg


def test_json_schema_accepts_a_loaded_config():
    jsonschema = pytest.importorskip("jsonschema")
    schema = DreemConfig.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.warns(ConfigWarning):
        loaded = load_dreem_config(EXAMPLE).to_dict()
    jsonschema.validate(loaded, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"model": {"nhed": 1}}, schema)


def _sections(model: type[BaseModel]):
    """Every section class reachable from ``model``."""
    from dreem.config.errors import _unwrap

    seen = [model]
    for field in model.model_fields.values():
        for t in _unwrap(field.annotation):
            if isinstance(t, type) and issubclass(t, BaseModel) and t not in seen:
                seen += [s for s in _sections(t) if s not in seen]
    return seen


def test_every_key_documented():
    for section in _sections(DreemConfig):
        assert section.__doc__, section
        for name, field in section.model_fields.items():
            assert field.description, f"{section.__name__}.{name} has no description"
