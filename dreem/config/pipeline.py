"""The Snakemake pipeline config: schema, validation with cross-references, JSON Schema export.

Shape (see docs/architecture.md, "Configs")::

    seed: 42
    output_dir: results
    demo: {enabled: true, out_dir: demo_data, animals: {...}, cells: {...}}
    datasets: {name: <DREEM dataset section keys>}
    models:
      gtr: {config: config/dreem_train.yaml, train: [a], val: [b], overrides: {...}}
      baseline: {baseline: centroid, max_center_dist: 50}
    evaluate: {datasets: [...], models: [...], metrics: [...]}

Dataset specs are validated but not defaulted: a missing extraction key falls back to the
model config's ``dataset.train_dataset`` (then to the DREEM defaults) downstream.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dreem.config.jsonschema import node_schema
from dreem.config.nodes import Key, MapOf, Section
from dreem.config.schema import TRACKER, dataset_section
from dreem.config.validate import (
    _INVALID,
    check,
    check_dataset_spec,
    fill_defaults,
    join,
    normalise_metrics,
    raise_errors,
    suggest,
)
from dreem.utils.errors import ConfigError

NAME_PATTERN = r"[A-Za-z0-9_.-]+"
BASELINES = ("centroid",)

DATASET_SPEC = Section(
    dataset_section("train", augment=False, default_null=False).keys,
    doc="a dataset: DREEM dataset-section keys (dir / slp_files / raw_images / videos ...)",
)

TRAINED_MODEL = Section(
    {
        "config": Key(("str",), None, "path of the DREEM training config (required)"),
        "train": Key(("list", "str"), [], "dataset names to train on (required)", items=("str",)),
        "val": Key(("list", "str"), [], "dataset names to validate on", items=("str",)),
        "overrides": Key(
            ("dict", "list", "null"), {}, "overrides of the DREEM config (nested or a.b=c)"
        ),
    },
    doc="a trained GTR model",
)

BASELINE_MODEL = Section(
    {
        "baseline": Key(("str",), "centroid", "baseline linker", choices=BASELINES),
        **{k: v for k, v in TRACKER.keys.items()},
    },
    doc="a baseline tracker (no training); other keys are tracker settings",
)

DEMO = Section(
    {
        "enabled": Key(("bool",), False, "generate the synthetic demo data"),
        "out_dir": Key(("str",), "demo_data", "where demo data is written"),
        "animals": Key(("dict", "null"), {}, "animal demo generator settings"),
        "cells": Key(("dict", "null"), {}, "cell demo generator settings"),
    },
    doc="synthetic demo data",
)

EVALUATE = Section(
    {
        "datasets": Key(("list",), [], "dataset names to track and evaluate", items=("str",)),
        "models": Key(("list",), [], "model names to evaluate", items=("str",)),
        "metrics": Key(
            ("list", "null"), None, "metric names; null = the evaluation default", items=("str",)
        ),
        "render": Key(
            ("bool",), False, "render one video per evaluated dataset (first trained model)"
        ),
        "ground_truth": Key(
            ("dict", "null"),
            None,
            "detection-level evaluation: evaluated dataset -> dataset holding its ground "
            "truth (same video ids); null = identity-only on the dataset's own labels",
        ),
        "match": Key(
            ("str",),
            "centroid",
            "detection matching for ground_truth datasets: centroid distance or box iou",
            choices=("centroid", "iou"),
        ),
        "threshold": Key(
            ("int", "float", "null"),
            None,
            "match threshold: pixels for centroid (default 10), IoU for iou (default 0.5)",
        ),
    },
    doc="what to evaluate",
)

PIPELINE_SCHEMA = Section(
    {
        "seed": Key(("int",), 42, "seed for every stage"),
        "output_dir": Key(("str",), "results", "root of all pipeline outputs"),
        "demo": DEMO,
        "datasets": MapOf(
            DATASET_SPEC, doc="name → dataset", default={}, name_pattern=NAME_PATTERN
        ),
        "models": MapOf(Key(("dict",)), doc="name → model", default={}, name_pattern=NAME_PATTERN),
        "evaluate": EVALUATE,
    },
    doc="dreem-pipeline config",
)

_SOURCES = ("dir", "slp_files", "raw_images", "videos")


def _check_model(
    name: str, spec: dict, datasets: Mapping, base_dir: Path | None, errors: list[str]
) -> dict | None:
    path = f"models.{name}"
    if "baseline" in spec:
        extra = [k for k in ("config", "train", "val", "overrides") if k in spec]
        if extra:
            errors.append(f"{path}: a baseline takes no {', '.join(extra)}")
            return None
        out = check(BASELINE_MODEL, spec, path, errors)
        return None if out is _INVALID else out
    if "config" not in spec:
        errors.append(f"{path}: needs 'config' (a DREEM config) or 'baseline: centroid'")
        return None
    out = check(TRAINED_MODEL, spec, path, errors)
    if out is _INVALID:
        return None
    out = fill_defaults(TRAINED_MODEL, out)
    for split in ("train", "val"):
        names = [out[split]] if isinstance(out[split], str) else out[split]
        out[split] = names
        for i, ds in enumerate(names):
            if ds not in datasets:
                errors.append(f"{path}.{split}[{i}]: unknown dataset {ds!r}{suggest(ds, datasets)}")
    if not out["train"]:
        errors.append(f"{path}.train: list at least one dataset to train on")
    if "config" in out:
        cfg_path = _find(out["config"], base_dir)
        if not cfg_path.is_file():
            errors.append(f"{path}.config: file not found: {out['config']}")
        else:
            out["config"] = str(cfg_path)
            _check_model_config(cfg_path, out["overrides"], errors)
    return out


def _find(p: str, base_dir: Path | None) -> Path:
    path = Path(p).expanduser()
    if not path.is_absolute() and not path.exists() and base_dir is not None:
        alt = base_dir / path
        if alt.exists():
            return alt
    return path


def _check_model_config(cfg_path: Path, overrides: Any, errors: list[str]) -> None:
    from dreem.config import load_dreem_config

    try:
        load_dreem_config(cfg_path, overrides)
    except ConfigError as err:
        sub = getattr(err, "errors", None) or [str(err)]
        errors.extend(e if e.startswith(str(cfg_path)) else f"{cfg_path}: {e}" for e in sub)


def _check_refs(key: str, names: list, known: Mapping, errors: list[str], what: str) -> None:
    for i, name in enumerate(names):
        if name not in known:
            errors.append(f"{key}[{i}]: unknown {what} {name!r}{suggest(name, known)}")


def load_pipeline_config(source: str | Path | Mapping) -> dict:
    """Validate a pipeline config (YAML path or dict) and return it with defaults filled.

    Raises one ``ConfigError`` listing every problem with its key path; problems inside a
    model's DREEM config are prefixed with that file's name.
    """
    from dreem.config import read_yaml

    if isinstance(source, Mapping):
        data, label, base_dir = copy.deepcopy(dict(source)), None, None
    else:
        data, label, base_dir = read_yaml(source), str(source), Path(source).parent
    errors: list[str] = []
    checked = check(PIPELINE_SCHEMA, data, "", errors)
    if checked is _INVALID:
        raise_errors(errors, label)
    cfg = fill_defaults(PIPELINE_SCHEMA, checked)
    cfg["datasets"] = datasets = checked.get("datasets") or {}  # specs stay un-defaulted
    for name, spec in datasets.items():
        p = join("datasets", name)
        has_dir = bool((spec.get("dir") or {}).get("path"))
        if not has_dir and not any(spec.get(k) for k in _SOURCES[1:]):
            errors.append(
                f"{p}: no data source; set dir.path, slp_files/video_files, "
                "raw_images/gt_images or videos/tracks"
            )
        check_dataset_spec(spec, p, errors)
    models = {}
    for name, spec in (cfg["models"] or {}).items():
        models[name] = _check_model(name, spec, datasets, base_dir, errors)
    cfg["models"] = {k: v for k, v in models.items() if v is not None}
    ev = cfg["evaluate"]
    _check_refs("evaluate.datasets", ev["datasets"], datasets, errors, "dataset")
    _check_refs("evaluate.models", ev["models"], models, errors, "model")
    if ev["metrics"] is not None:
        ev["metrics"] = normalise_metrics(ev["metrics"], "evaluate.metrics", errors)
    for pred, gt in (ev.get("ground_truth") or {}).items():
        for key, name in (("evaluate.ground_truth", pred), (f"evaluate.ground_truth.{pred}", gt)):
            if name not in datasets:
                errors.append(f"{key}: unknown dataset {name!r}{suggest(str(name), datasets)}")
    raise_errors(errors, label)
    return cfg


def pipeline_json_schema() -> dict:
    """JSON Schema of the pipeline config (for ``workflow/schemas/config.schema.yaml``).

    Dataset specs carry no defaults (so Snakemake's ``validate`` does not fill them in);
    cross-references and model config files are checked only by ``load_pipeline_config``.
    """
    out = node_schema(PIPELINE_SCHEMA)
    out["properties"]["datasets"]["additionalProperties"] = node_schema(DATASET_SPEC, False)
    trained = node_schema(TRAINED_MODEL)
    trained["required"] = ["config", "train"]
    baseline = node_schema(BASELINE_MODEL, False)
    baseline["required"] = ["baseline"]
    out["properties"]["models"]["additionalProperties"] = {"oneOf": [trained, baseline]}
    out["required"] = ["datasets", "models"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **out}
