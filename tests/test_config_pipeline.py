"""Pipeline config: shape, cross-references, model-config validation, JSON Schema export."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from dreem.config.pipeline import load_pipeline_config, pipeline_json_schema
from dreem.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def pipeline(tmp_path) -> dict:
    """A valid pipeline config (as a dict) whose model config lives in tmp_path."""
    (tmp_path / "dreem_train.yaml").write_text("model:\n  d_model: 32\n  nhead: 2\n")
    return {
        "seed": 1,
        "output_dir": str(tmp_path / "results"),
        "demo": {"enabled": True, "out_dir": "demo_data", "animals": {"train": {"n_clips": 2}}},
        "datasets": {
            "flies_train": {"dir": {"path": "demo/train", "labels_suffix": ".slp"}},
            "flies_val": {"slp_files": ["a.slp"], "video_files": ["a.mp4"], "crop_size": 64},
            "flies_test": {"dir": {"path": "demo/test"}, "anchors": "thorax"},
            "cells_test": {"dir": {"path": "demo/cells", "labels_suffix": ".tif"}},
        },
        "models": {
            "gtr": {
                "config": str(tmp_path / "dreem_train.yaml"),
                "train": ["flies_train"],
                "val": ["flies_val"],
                "overrides": {"trainer": {"max_epochs": 1}},
            },
            "baseline": {"baseline": "centroid", "max_center_dist": 50},
        },
        "evaluate": {"datasets": ["flies_test", "cells_test"], "models": ["gtr", "baseline"]},
    }


def _errors(cfg) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_pipeline_config(cfg)
    return info.value.errors


def test_valid_pipeline_config(pipeline):
    cfg = load_pipeline_config(pipeline)
    assert cfg.seed == 1
    assert cfg.demo.cells == {}  # defaulted
    assert cfg.models["gtr"].train == ["flies_train"]
    assert cfg.models["gtr"].dreem.trainer.max_epochs == 1  # overrides applied
    assert cfg.models["baseline"].max_center_dist == 50.0
    assert cfg.evaluate.metrics is None and cfg.evaluate.render is False
    # dataset specs record what was given (crop settings fall back to the model's)
    assert cfg.datasets["flies_test"].given() == {"dir", "anchors"}
    assert cfg.datasets["flies_test"].dir.path == ["demo/test"]


def test_from_yaml_file_and_relative_model_config(tmp_path, pipeline):
    pipeline["models"]["gtr"]["config"] = "dreem_train.yaml"  # relative to the config file
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    cfg = load_pipeline_config(path)
    assert Path(cfg.models["gtr"].config) == tmp_path / "dreem_train.yaml"


def test_bad_dataset_reference(pipeline):
    pipeline["evaluate"]["datasets"] = ["flies_test", "cells_test", "flies_tst"]
    errs = _errors(pipeline)
    assert errs == ["evaluate.datasets[2]: unknown dataset 'flies_tst'; did you mean 'flies_test'?"]


def test_ground_truth_references(pipeline):
    pipeline["evaluate"]["ground_truth"] = {"flies_test": "flies_trian"}
    pipeline["evaluate"]["match"] = "iuo"
    errs = _errors(pipeline)
    assert (
        "evaluate.ground_truth.flies_test: unknown dataset 'flies_trian'; "
        "did you mean 'flies_train'?"
    ) in errs
    assert any(e.startswith("evaluate.match: 'iuo'") for e in errs)
    pipeline["evaluate"]["ground_truth"] = {"flies_test": "flies_train"}
    pipeline["evaluate"]["match"] = "iou"
    assert load_pipeline_config(pipeline).evaluate.ground_truth == {"flies_test": "flies_train"}


def test_bad_model_and_training_references(pipeline):
    pipeline["models"]["gtr"]["train"] = ["flies_trian"]
    pipeline["evaluate"]["models"] = ["gtr", "basline"]
    errs = _errors(pipeline)
    assert "models.gtr.train[0]: unknown dataset 'flies_trian'; did you mean 'flies_train'?" in errs
    assert "evaluate.models[1]: unknown model 'basline'; did you mean 'baseline'?" in errs


def test_model_config_errors_prefixed_with_file(tmp_path, pipeline):
    bad = tmp_path / "bad_model.yaml"
    bad.write_text("model:\n  d_modle: 32\n")
    pipeline["models"]["gtr"]["config"] = str(bad)
    errs = _errors(pipeline)
    assert errs == [f"{bad}: model.d_modle: unknown key; did you mean 'd_model'?"]
    pipeline["models"]["gtr"]["config"] = str(tmp_path / "missing.yaml")
    errs = _errors(pipeline)
    assert errs[0].startswith("models.gtr.config: file not found")


def test_model_overrides_are_validated(pipeline):
    pipeline["models"]["gtr"]["overrides"] = ["trainer.max_epocs=1"]
    errs = _errors(pipeline)
    assert errs[0].endswith("trainer.max_epocs: unknown key; did you mean 'max_epochs'?")


def test_model_spec_shapes(pipeline):
    bad = copy.deepcopy(pipeline)
    bad["models"]["baseline"] = {"baseline": "centroid", "train": ["flies_train"]}
    assert _errors(bad) == ["models.baseline: a baseline model takes no train"]
    bad = copy.deepcopy(pipeline)
    bad["models"]["baseline"] = {"baseline": "centriod"}
    assert _errors(bad)[0].endswith("did you mean 'centroid'?")
    bad = copy.deepcopy(pipeline)
    bad["models"]["gtr"] = {"train": ["flies_train"]}
    assert _errors(bad)[0].startswith("models.gtr: give exactly one of 'config'")
    bad = copy.deepcopy(pipeline)
    bad["models"]["baseline"]["max_centre_dist"] = 3
    assert _errors(bad) == [
        "models.baseline.max_centre_dist: unknown key; did you mean 'max_center_dist'?"
    ]


def test_dataset_specs_checked(pipeline):
    pipeline["datasets"]["flies_test"]["crop_sise"] = 64
    pipeline["datasets"]["bad name"] = {"dir": {"path": "x"}}
    pipeline["datasets"]["empty"] = {"crop_size": 32}
    errs = _errors(pipeline)
    assert "datasets.flies_test.crop_sise: unknown key; did you mean 'crop_size'?" in errs
    assert any(e.startswith("datasets.bad name: name must match") for e in errs)
    assert any(e.startswith("datasets.empty: no data source") for e in errs)


def test_unknown_top_level_key(pipeline):
    pipeline["evalute"] = {}
    assert _errors(pipeline) == ["evalute: unknown key; did you mean 'evaluate'?"]


def test_json_schema_matches_validator(pipeline):
    jsonschema = pytest.importorskip("jsonschema")
    schema = pipeline_json_schema()
    json.dumps(schema)  # serialisable
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(pipeline, schema)
    bad = copy.deepcopy(pipeline)
    bad["datasets"]["flies_test"]["crop_sise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = copy.deepcopy(pipeline)
    bad["models"]["gtr"].pop("train")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_null_for_a_number_names_the_key(pipeline):
    pipeline["datasets"]["flies_test"]["crop_size"] = None
    errs = _errors(pipeline)
    assert errs[0].startswith("datasets.flies_test.crop_size: expected an int or a list")


def test_empty_and_duplicate_configs_rejected(tmp_path, pipeline):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty.yaml: config: the pipeline config is empty"):
        load_pipeline_config(empty)
    dup = tmp_path / "dup.yaml"
    text = yaml.safe_dump(pipeline)
    dup.write_text(text.replace("datasets:\n", "datasets:\n  flies_val:\n    crop_size: 3\n", 1))
    with pytest.raises(ConfigError, match=r"datasets\.flies_val: duplicate key"):
        load_pipeline_config(dup)


def test_checkpoint_models_and_track_only(tmp_path, pipeline):
    ckpt = tmp_path / "run1.ckpt"
    ckpt.write_bytes(b"not read at validation")
    pipeline["models"]["old"] = {"checkpoint": str(ckpt), "tracker": {"window_size": 4}}
    pipeline["track"] = {"datasets": ["flies_test"], "models": ["old", "baseline"]}
    cfg = load_pipeline_config(pipeline)
    assert cfg.models["old"].checkpoint == str(ckpt)
    assert cfg.track.models == ["old", "baseline"]
    pipeline["models"]["old"]["tracker"] = {"window_sise": 4}
    pipeline["models"]["gone"] = {"checkpoint": str(tmp_path / "missing.ckpt")}
    pipeline["track"]["models"].append("gon")
    errs = _errors(pipeline)
    assert "models.old.tracker.window_sise: unknown key; did you mean 'window_size'?" in errs
    assert any(e.startswith("models.gone.checkpoint: file not found") for e in errs)
    assert "track.models[2]: unknown model 'gon'; did you mean 'gone'?" in errs


def test_validate_checks_names_of_model_configs(tmp_path, pipeline):
    from dreem.stages import validate_any_config

    (tmp_path / "dreem_train.yaml").write_text("optimizer:\n  name: adam\n")
    pipeline["demo"]["enabled"] = False
    for name in ("flies_train", "flies_test", "cells_test"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.slp").write_bytes(b"")
        pipeline["datasets"][name] = {"dir": {"path": str(tmp_path / name)}}
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    with pytest.raises(
        ConfigError, match="optimizer.name: unknown name 'adam'; did you mean 'Adam'"
    ):
        validate_any_config(path)


def test_repo_pipeline_config(monkeypatch):
    path = REPO / "config" / "config.yaml"
    if not path.exists():
        pytest.skip("no config/config.yaml")
    raw = yaml.safe_load(path.read_text())
    missing = [
        m["config"]
        for m in raw.get("models", {}).values()
        if "config" in m and not (REPO / m["config"]).exists()
    ]
    if missing:
        pytest.skip(f"model configs not written yet: {missing}")
    monkeypatch.chdir(REPO)
    cfg = load_pipeline_config("config/config.yaml")
    assert cfg.evaluate.models
