"""The CLI's stages: each builds a pipeline config for what was asked, plans it with
:class:`dreem.pipeline.plan.Plan` and runs it in this process (:mod:`dreem.pipeline.run`).

A ``dreem train``/``track``/``eval`` call therefore makes the same decisions (crop
settings, tracker, checkpoint choice) and writes the same files as a Snakemake run of the
equivalent pipeline config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dreem.config.data import DatasetSection
from dreem.config.pipeline import PipelineConfig, load_pipeline_config
from dreem.utils.errors import ConfigError, InputDataError

LABEL_SUFFIXES = (".slp", ".csv", ".xml")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".tif", ".tiff")


def parse_anchors(text: str) -> str | list[str] | int:
    """``"thorax"`` → str, ``"head,thorax"`` → list, ``"3"`` → int."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


def guess_dir_spec(
    path: Path,
    labels_suffix: str | None = None,
    vid_suffix: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """A DREEM ``dir`` dataset spec for ``path``, guessing suffixes from the files present."""
    path = Path(path)
    if not path.is_dir():
        raise InputDataError(f"{path}: not a directory")
    if labels_suffix is None:
        if any(p.is_dir() and (path / f"{p.name}_GT").is_dir() for p in path.iterdir()):
            labels_suffix = ".tif"
        else:
            found = [s for s in LABEL_SUFFIXES if any(path.glob(f"*{s}"))]
            if not found:
                raise InputDataError(
                    f"{path}: no labels found (looked for {', '.join(LABEL_SUFFIXES)} files "
                    "or CTC 'X' + 'X_GT/TRA' folders)"
                )
            labels_suffix = found[0]
    if vid_suffix is None:
        found = [s for s in VIDEO_SUFFIXES if s != labels_suffix and any(path.glob(f"*{s}"))]
        vid_suffix = found[0] if found else ".tif"
    spec: dict[str, Any] = {
        "dir": {"path": str(path), "labels_suffix": labels_suffix, "vid_suffix": vid_suffix}
    }
    if source:
        spec["source"] = source
    return spec


def _override_list(overrides: Sequence[str] | Mapping | None) -> Any:
    return list(overrides) if isinstance(overrides, list | tuple) else overrides or []


def _plan(data: dict):
    from dreem.pipeline.plan import Plan

    return Plan(load_pipeline_config(data))


def extract_manifest(
    manifest: Path,
    given: Mapping[str, Any],
    out_dir: Path,
    config: Path | None = None,
    seed: int = 0,
) -> list[Path]:
    """``dreem extract``: every video of a manifest into ``out_dir/{video_id}.parquet``,
    with crop keys ``given`` on the command line, else ``config``'s train_dataset, else
    the defaults (the same resolution as the pipeline)."""
    from dreem.config.data import crop_params
    from dreem.data.extract import extract_video
    from dreem.io.discover import read_manifest

    model_section = None
    if config is not None:
        from dreem.config.load import load_dreem_config

        model_section = load_dreem_config(config).dataset.train_dataset
    spec = DatasetSection.model_validate(dict(given))
    crop = crop_params(spec, model_section, seed=seed)
    paths = []
    rows = read_manifest(manifest).to_dict("records")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: --out must be a folder (the shards go there), not a file")
    for row in rows:
        out = Path(out_dir) / f"{row['video_id']}.parquet"
        extract_video(row, crop, out)
        paths.append(out)
    return paths


def prepare_dataset(
    name: str, spec: Mapping, work_dir: Path, defaults: Mapping | None = None
) -> list[Path]:
    """Discover and extract one dataset (no model) into ``work_dir``; return its shards.

    Crop keys: those ``spec`` gives, else ``defaults`` (a dataset section, e.g. a model
    config's ``train_dataset``), else the section defaults — planned like a pipeline run.
    """
    from dreem.config.data import CROP_KEYS
    from dreem.pipeline import run

    fallback = {k: v for k, v in dict(defaults or {}).items() if k in CROP_KEYS}
    cfg = {
        "output_dir": str(work_dir),
        "datasets": {name: {**fallback, **dict(spec)}},
        "models": {"m": {"baseline": "centroid"}},
        "track": {"datasets": [name], "models": ["m"]},
    }
    return [Path(p) for p in run.prepare(_plan(cfg), progress=False)]


# ----------------------------------------------------------------------------- train
def train_plan_config(config: Path, out_dir: Path, overrides: Any = None, name: str | None = None):
    """The pipeline config of ``dreem train CONFIG``: its dataset sections as datasets."""
    from dreem.config.load import load_dreem_config

    cfg = load_dreem_config(config, _override_list(overrides), check_names=True)
    train = cfg.dataset.train_dataset
    if not train.has_source():
        raise ConfigError(
            f"{config}: dataset.train_dataset names no data (set dir.path, slp_files/"
            "video_files, raw_images/gt_images or tracks/videos) — or pass data "
            "directories on the command line"
        )
    datasets = {"train": _given(train)}
    val = cfg.dataset.val_dataset
    if val is not None and val.has_source():
        datasets["val"] = _given(val)
    model = name or Path(config).stem
    return {
        "seed": cfg.seed if cfg.seed is not None else 42,
        "output_dir": str(out_dir),
        "datasets": datasets,
        "models": {
            model: {
                "config": str(Path(config).resolve()),
                "train": ["train"],
                "val": ["val"] if "val" in datasets else [],
                "overrides": _override_list(overrides),
            }
        },
    }


def _given(section: DatasetSection) -> dict:
    """The keys a dataset section gives (a pipeline dataset spec)."""
    data = section.to_dict()
    return {k: data[k] for k in section.given() if k != "mode"}


def train_from_config(
    config: Path, out_dir: Path, overrides: Any = None, name: str | None = None
) -> dict[str, Any]:
    """``dreem train``: discover, extract, train and publish one model."""
    from dreem.pipeline import run

    plan = _plan(train_plan_config(config, out_dir, overrides, name))
    run.prepare(plan)
    (model,) = plan.trained()
    return run.train(plan, model)


# ----------------------------------------------------------------------------- track / eval
def model_name(model: str) -> str:
    """A name for a ``-m`` argument: ``name=path`` → name; a checkpoint ``.../run1/best.ckpt``
    → ``run1``; ``baseline[:kind]`` → ``baseline[-kind]``."""
    if "=" in model:
        return model.split("=", 1)[0]
    if model.split(":")[0] == "baseline":
        kind = model.split(":", 1)[1] if ":" in model else "centroid"
        return "baseline" if kind == "centroid" else f"baseline-{kind}"
    p = Path(model)
    stem = p.stem
    if stem in ("best", "last", "model") and p.parent.name:
        stem = p.parent.name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "model"


def model_specs(models: Sequence[str]) -> dict[str, dict]:
    """``-m`` arguments → named model specs (names made unique with ``-2``, ``-3``, ...)."""
    out: dict[str, dict] = {}
    for m in models:
        target = m.split("=", 1)[1] if "=" in m else m
        name = base = model_name(m)
        k = 2
        while name in out:
            name, k = f"{base}-{k}", k + 1
        if target.split(":")[0] == "baseline":
            kind = target.split(":", 1)[1] if ":" in target else "centroid"
            out[name] = {"baseline": kind}
        else:
            if not Path(target).is_file():
                raise InputDataError(f"checkpoint not found: {target}")
            from dreem.models.checkpoint import load_model_from_checkpoint

            load_model_from_checkpoint(target)  # a bad file fails now, before any output
            out[name] = {"checkpoint": str(Path(target).resolve())}
    return out


def _tracker_overrides(config: Path | None, overrides: Any) -> dict:
    """Tracker keys from ``--config`` (its tracker section) and ``--set tracker.x=...``."""
    from dreem.config.yaml_io import deep_merge, parse_overrides, read_yaml

    keys: dict = {}
    if config is not None:
        keys = dict(read_yaml(config).get("tracker") or {})
    over = parse_overrides(_override_list(overrides))
    extra = set(over) - {"tracker"}
    if extra:
        raise ConfigError(
            f"--set: only tracker.* keys apply when tracking (got {', '.join(sorted(extra))})"
        )
    return deep_merge(keys, over.get("tracker") or {})


def track_plan_config(
    models: Sequence[str],
    data: Path,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    dataset_keys: Mapping | None = None,
    evaluate: bool = False,
    gt: Path | None = None,
    match: str = "centroid",
    threshold: float | None = None,
) -> dict:
    """The pipeline config of ``dreem track``/``dreem eval`` on a data directory."""
    data = Path(data)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", data.resolve().name) or "data"
    specs = model_specs(models)
    tracker = _tracker_overrides(config, overrides)
    for spec in specs.values():
        if tracker:
            spec.update(tracker) if "baseline" in spec else spec.update(tracker=tracker)
    datasets = {name: {**guess_dir_spec(data), **dict(dataset_keys or {})}}
    section = {"datasets": [name], "models": list(specs)}
    cfg: dict = {"output_dir": str(out_dir), "datasets": datasets, "models": specs}
    if evaluate:
        cfg["evaluate"] = {**section, "match": match, "threshold": threshold}
        if gt is not None:
            datasets[f"{name}_gt"] = guess_dir_spec(Path(gt))
            cfg["evaluate"]["ground_truth"] = {name: f"{name}_gt"}
    else:
        cfg["track"] = section
    return cfg


def track_data(
    model: str,
    data: Path,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    dataset_keys: Mapping | None = None,
) -> list[Path]:
    """``dreem track``: track a shard, or every video of a directory; return the tables."""
    from dreem.pipeline import jobs, run

    data = Path(data)
    if data.suffix == ".parquet":  # a crop shard: no discovery or extraction
        spec = model_specs([model])
        name = next(iter(spec))
        out = Path(out_dir) / "tracks" / name / data.parent.name / f"{data.stem}.parquet"
        tracker = _shard_tracker(spec[name], config, overrides)
        target = spec[name].get("checkpoint") or f"baseline:{spec[name]['baseline']}"
        jobs.track_job(target, data, tracker, out)
        return [out]
    plan = _plan(track_plan_config([model], data, out_dir, config, overrides, dataset_keys))
    for note in plan.notes:
        import logging

        logging.getLogger(__name__).warning(note)
    run.prepare(plan)
    return run.track(plan)


def _shard_tracker(spec: dict, config: Path | None, overrides: Any) -> dict:
    from dreem.config.tracker import TrackerConfig

    keys = _tracker_overrides(config, overrides)
    if "checkpoint" in spec:
        from dreem.models.checkpoint import read_checkpoint_config

        stored = read_checkpoint_config(spec["checkpoint"]).tracker.to_dict()
        return TrackerConfig.model_validate(stored | keys).to_dict()
    return TrackerConfig.model_validate(keys).to_dict()


def eval_directory(
    models: Sequence[str],
    data: Path,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    gt: Path | None = None,
    match: str = "centroid",
    threshold: float | None = None,
    dataset_keys: Mapping | None = None,
):
    """``dreem eval``: track ``data`` with each model, evaluate, aggregate into
    ``out_dir/summary``; return the summary table."""
    import pandas as pd

    from dreem.pipeline import run

    cfg = track_plan_config(
        models, data, out_dir, config, overrides, dataset_keys, True, gt, match, threshold
    )
    plan = _plan(cfg)
    _require_tracks(plan)
    run.run_all(plan)
    return pd.read_csv(Path(out_dir) / "summary" / "metrics.csv")


def _require_tracks(plan) -> None:
    """Evaluation needs ground-truth tracks: say so before tracking (not NaN metrics)."""
    from dreem.io.discover import discover_dataset

    for d in plan.cfg.evaluate.datasets:
        if (plan.cfg.evaluate.ground_truth or {}).get(d):
            continue
        df = discover_dataset(d, plan.spec(d).discovery())
        untracked = df.video_id[df.n_tracks == 0].tolist()
        if untracked:
            raise InputDataError(
                f"{plan.spec(d).dir.path[0] if plan.spec(d).dir else d}: no ground-truth "
                f"tracks in {', '.join(untracked)}; evaluation needs tracked labels (use "
                "`dreem track` for untracked data, or --gt for separate ground truth)"
            )


def validate_any_config(path: Path, overrides: Any = None) -> str:
    """Validate ``path`` as a pipeline config (has ``datasets``/``models``) or a DREEM
    config, including names only checkable against installed libraries."""
    from dreem.config.yaml_io import read_yaml

    data = read_yaml(path)
    if not data:
        raise ConfigError(f"{path}: the config file is empty")
    if "datasets" in data or "models" in data:
        from dreem.config.checks import pipeline_name_errors
        from dreem.config.errors import raise_errors

        cfg: PipelineConfig = load_pipeline_config(path)
        raise_errors(pipeline_name_errors(cfg), str(path))
        from dreem.pipeline.plan import Plan

        Plan(cfg)  # crop settings and videos resolve (files paired by stem)
        return "pipeline"
    from dreem.config.load import load_dreem_config

    load_dreem_config(path, _override_list(overrides), check_names=True)
    return "DREEM"
