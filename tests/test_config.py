"""DREEM config: schema defaults, validation errors with key paths, merging, aliases, saving."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from dreem.config import (
    default_dreem_config,
    describe_config,
    extra_kwargs,
    load_dreem_config,
    parse_overrides,
    save_config,
)
from dreem.config.nodes import Key, Section
from dreem.config.schema import DREEM_SCHEMA, MOTMETRICS_NAMES
from dreem.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "config" / "dreem_reference_example.yaml"


def _errors(cfg, overrides=None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_dreem_config(cfg, overrides)
    return info.value.errors


def _schema_paths(node, prefix=""):
    """Dotted paths of every key the defaulted config must contain."""
    for k, sub in node.keys.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(sub, Key):
            if sub.insert is True:
                yield path
        elif isinstance(sub, Section) and not sub.default_null:
            yield from _schema_paths(sub, path)
        else:
            yield path


def _get(cfg, path):
    for part in path.split("."):
        cfg = cfg[part]
    return cfg


# ----------------------------------------------------------------------------- defaults
def test_defaults_fully_populated():
    cfg = default_dreem_config()
    paths = list(_schema_paths(DREEM_SCHEMA))
    assert len(paths) > 150
    for path in paths:
        _get(cfg, path)  # KeyError if missing
    assert cfg["early_stopping"] is None
    assert cfg["logging"]["logger_type"] is None
    assert cfg["dataset"]["val_dataset"] is None
    assert cfg["model"]["embedding_meta"]["pos"]["mode"] == "learned"
    assert cfg["model"]["embedding_meta"]["temp"]["mode"] == "fixed"
    assert cfg["tracker"]["max_gap"] == math.inf
    assert set(cfg["dataset"]["train_dataset"]["augmentations"]) == {
        "GaussianBlur",
        "MotionBlur",
        "RandomBrightnessContrast",
        "Rotate",
    }


def test_defaults_are_fresh_copies():
    a = default_dreem_config()
    a["optimizer"]["betas"].append(1)
    a["dataset"]["train_dataset"]["augmentations"]["Rotate"]["p"] = 1.0
    b = default_dreem_config()
    assert b["optimizer"]["betas"] == [0.9, 0.999]
    assert b["dataset"]["train_dataset"]["augmentations"]["Rotate"]["p"] == 0.3


def test_every_key_accepted_round_trip(tmp_path):
    """The defaulted config, written and re-read, is accepted and unchanged."""
    cfg = default_dreem_config()
    cfg["early_stopping"] = {}  # fill the default-null sections too
    cfg["dataset"]["val_dataset"] = {}
    cfg["dataset"]["test_dataset"] = {}
    cfg["model"]["embedding_meta"]["pos"]["mlp_cfg"] = {}
    full = load_dreem_config(cfg)
    out = save_config(full, tmp_path / "sub" / "cfg.yaml")
    assert out.exists() and not list(out.parent.glob(".*tmp*"))
    assert load_dreem_config(out) == full


# ----------------------------------------------------------------------------- reference
def _leaves(d, prefix=""):
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            yield from _leaves(v, path)
        else:
            yield path, v


def test_reference_example_loads_unchanged():
    raw = yaml.safe_load(EXAMPLE.read_text())
    cfg = load_dreem_config(EXAMPLE)
    normalised = {
        "runner.metrics.val": ["num_switches"],  # legacy alias sw_cnt
        "metrics.test": ["all"],  # a single name becomes a list
    }
    sections = set(DREEM_SCHEMA.keys)
    assert set(raw) <= sections
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
    for section in ("model", "loss", "optimizer", "scheduler", "tracker", "runner", "dataset"):
        assert section in raw
    for section in ("dataloader", "logging", "early_stopping", "checkpointing", "trainer"):
        assert section in raw
    pos = raw["model"]["embedding_meta"]["pos"]
    assert set(pos) == set(DREEM_SCHEMA.keys["model"].keys["embedding_meta"].keys["pos"].keys)
    assert set(raw["tracker"]) == set(DREEM_SCHEMA.keys["tracker"].keys)


def test_yaml_scientific_strings_become_floats(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("loss:\n  epsilon: 1e-8\noptimizer:\n  lr: 1e-4\n  eps: 1e-8\n")
    assert yaml.safe_load(p.read_text())["loss"]["epsilon"] == "1e-8"  # the YAML 1.1 trap
    cfg = load_dreem_config(p)
    assert cfg["loss"]["epsilon"] == 1e-8 and isinstance(cfg["loss"]["epsilon"], float)
    assert cfg["optimizer"]["lr"] == 1e-4


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
    assert cfg["loss"]["asso_weight"] == 2.0 and isinstance(cfg["loss"]["asso_weight"], float)
    assert cfg["trainer"]["limit_train_batches"] == 3
    assert isinstance(cfg["trainer"]["limit_train_batches"], int)  # count, not fraction


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
    assert cfg["model"]["embedding_meta"]["pos"]["mlp_cfg"] == {
        "hidden_dims": None,
        "num_layers": 2,
        "dropout": 0.0,
    }
    # disabled embedding: no MLP needed
    load_dreem_config({"model": {"embedding_meta": {"pos": {"n_points": 3, "mode": "off"}}}})


def test_all_errors_in_one_exception_one_per_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  nhed: 2\n  activation: tanh\nloss:\n  epsilon: x\n")
    with pytest.raises(ConfigError) as info:
        load_dreem_config(p)
    msg = str(info.value)
    assert msg.splitlines()[0] == f"{p}: invalid config (3 problems):"
    assert "  model.nhed: unknown key; did you mean 'nhead'?" in msg.splitlines()
    assert any(line.strip().startswith("model.activation: 'tanh'") for line in msg.splitlines())
    assert len(info.value.errors) == 3


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
    with pytest.raises(ConfigError, match="model: expected a mapping, got int 3"):
        load_dreem_config({"model": 3})


# ----------------------------------------------------------------------------- aliases, nulls
def test_legacy_aliases():
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
    assert cfg["model"]["embedding_meta"]["pos"]["mlp_cfg"]["hidden_dims"] == 64
    assert "hidden_dim" not in cfg["model"]["embedding_meta"]["pos"]["mlp_cfg"]
    assert cfg["model"]["encoder_cfg"]["backend"] == "torchvision"
    assert cfg["runner"]["metrics"]["val"] == ["num_switches"]
    assert cfg["runner"]["metrics"]["test"] == ["all"]
    assert cfg["tracker"]["iou"] is None
    assert cfg["tracker"]["max_gap"] == math.inf
    assert cfg["tracker"]["front_nodes"] == ["head"]
    errs = _errors(
        {"model": {"embedding_meta": {"pos": {"mlp_cfg": {"hidden_dim": 1, "hidden_dims": 2}}}}}
    )
    assert errs[0].startswith("model.embedding_meta.pos.mlp_cfg.hidden_dim: give either")


def test_unknown_metric_with_suggestion():
    errs = _errors({"runner": {"metrics": {"test": ["mota", "idf"]}}})
    assert errs[0].startswith("runner.metrics.test[1]: unknown metric 'idf'; did you mean")


def test_static_metric_list_matches_motmetrics():
    mm = pytest.importorskip("motmetrics")
    assert set(MOTMETRICS_NAMES) <= set(mm.metrics.create().names)


def test_null_sections():
    cfg = load_dreem_config(
        {
            "logging": None,
            "early_stopping": None,
            "model": {"embedding_meta": {"pos": None, "temp": {"mode": "None"}}},
        }
    )
    assert cfg["logging"]["logger_type"] is None and cfg["logging"]["name"] == "dreem_train"
    assert cfg["early_stopping"] is None
    assert cfg["model"]["embedding_meta"]["pos"]["mode"] == "off"
    assert cfg["model"]["embedding_meta"]["pos"]["n_points"] == 1  # shape kept stable
    assert cfg["model"]["embedding_meta"]["temp"]["mode"] == "off"
    cfg = load_dreem_config({"model": {"embedding_meta": None}})
    assert cfg["model"]["embedding_meta"]["pos"]["mode"] == "off"
    assert cfg["model"]["embedding_meta"]["temp"]["mode"] == "off"
    cfg = load_dreem_config({"early_stopping": {"patience": 3}})
    assert cfg["early_stopping"]["patience"] == 3
    assert cfg["early_stopping"]["monitor"] == "val_loss"


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
    assert cfg["optimizer"] == {"name": "SGD", "lr": 0.1, "momentum": 0.9}
    assert extra_kwargs(cfg["model"]["encoder_cfg"], "model.encoder_cfg") == {"drop_rate": 0.2}
    assert cfg["dataloader"]["train_dataloader"]["multiprocessing_context"] == "fork"
    errs = _errors({"dataloader": {"val_dataloader": {"batch_size": 4, "prefetch_factor": 2}}})
    assert (
        "dataloader.val_dataloader.batch_size: set by dreem (one clip per batch); remove it" in errs
    )
    assert "dataloader.val_dataloader.prefetch_factor: needs num_workers > 0" in errs


def test_scheduler_list_and_null():
    cfg = load_dreem_config(
        {"scheduler": {"name": ["LinearLR", "CosineAnnealingLR"], "milestones": [5], "0": {}}}
    )
    assert cfg["scheduler"]["name"] == ["LinearLR", "CosineAnnealingLR"]
    assert "factor" not in cfg["scheduler"]  # ReduceLROnPlateau-only defaults dropped
    errs = _errors({"scheduler": {"name": ["LinearLR", "CosineAnnealingLR"]}})
    assert errs[0].startswith("scheduler.milestones:")
    assert load_dreem_config({"scheduler": None})["scheduler"] is None


def test_augmentations_replace_defaults():
    cfg = load_dreem_config({"dataset": {"train_dataset": {"augmentations": {"Rotate": {"p": 1}}}}})
    assert cfg["dataset"]["train_dataset"]["augmentations"] == {"Rotate": {"p": 1}}


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
    assert cfg["model"]["d_model"] == 64  # file over defaults
    assert cfg["model"]["num_decoder_layers"] == 3
    assert cfg["model"]["num_encoder_layers"] == 2  # params_config over file
    assert cfg["model"]["nhead"] == 8  # overrides over everything
    assert cfg["trainer"]["max_epochs"] == 3
    assert cfg["loss"]["epsilon"] == 1e-6
    assert cfg["params_config"] == str(tmp_path / "params.yaml")
    cfg = load_dreem_config(base, {"model": {"d_model": 32}})
    assert cfg["model"]["d_model"] == 32 and cfg["model"]["nhead"] == 4


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
    assert "mode (str|null) = 'learned'" in text and "mlp_cfg:" in text
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
    assert type(cfg["model"]["d_model"]) is int and cfg["model"]["d_model"] == 64
    assert cfg["model"]["ckpt_path"] == "/x/y.ckpt"
    assert type(cfg["loss"]["epsilon"]) is float
    assert cfg["optimizer"]["betas"] == [0.8, 0.9]


def test_load_is_idempotent():
    cfg = load_dreem_config(EXAMPLE)
    assert load_dreem_config(cfg) == cfg


def test_dreem_json_schema_accepts_defaults():
    jsonschema = pytest.importorskip("jsonschema")
    from dreem.config.jsonschema import dreem_json_schema

    schema = dreem_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    raw = yaml.safe_load(EXAMPLE.read_text())
    jsonschema.validate(raw, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"model": {"nhed": 1}}, schema)


def test_blank_value_means_default(tmp_path):
    p = tmp_path / "blank.yaml"
    p.write_text("model:\n  d_model:\n  nhead: 2\ntrainer:\nloss:\n  epsilon: null\n")
    cfg = load_dreem_config(p)
    default = default_dreem_config()
    assert cfg["model"]["d_model"] == default["model"]["d_model"]
    assert cfg["model"]["nhead"] == 2
    assert cfg["trainer"] == default["trainer"]
    assert cfg["loss"]["epsilon"] == 1e-4
    # where null is meaningful it is kept
    assert (
        load_dreem_config({"tracker": {"max_center_dist": None}})["tracker"]["max_center_dist"]
        is None
    )
