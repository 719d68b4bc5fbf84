"""The CLI's stages: each builds a pipeline config for what was asked, plans it with
:class:`dreem.pipeline.plan.Plan` and runs it in this process (:mod:`dreem.pipeline.run`).

A ``dreem train``/``track``/``eval`` call therefore makes the same decisions (crop
settings, tracker, checkpoint choice) and writes the same files as a Snakemake run of the
equivalent pipeline config.
"""

from __future__ import annotations

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


def train_plan_config(
    config: Path,
    out_dir: Path,
    overrides: Any = None,
    name: str | None = None,
    mlflow: bool = True,
):
    """The pipeline config of ``dreem train CONFIG``: its dataset sections as datasets."""
    from dreem.config.load import load_dreem_config

    cfg = load_dreem_config(config, _override_list(overrides))  # names: train_from_config
    train = cfg.dataset.train_dataset
    if not train.has_source():
        raise ConfigError(
            f"{config}: no training data: the config sets none of dataset.train_dataset."
            "dir.path, slp_files/video_files, raw_images/gt_images or tracks/videos. Give "
            f"data directories instead: dreem train TRAIN_DIR --val-dir VAL_DIR -c {config}"
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
        "mlflow": {"enabled": mlflow},
    }


def train_dirs_plan_config(
    train_dir: Path,
    val_dir: Path | None,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    name: str | None = None,
    dataset_keys: Mapping | None = None,
    suffixes: Mapping | None = None,
    mlflow: bool = True,
) -> dict:
    """The pipeline config of ``dreem train TRAIN_DIR --val-dir VAL_DIR`` (the reference
    shape): the directories as datasets, ``config`` (or the defaults) as the model's DREEM
    config; flag values are ``overrides`` and ``dataset_keys`` (crop keys)."""
    from dreem.config.load import load_dreem_config, save_config

    cfg = load_dreem_config(config if config is not None else {}, _override_list(overrides))
    model = name or (Path(config).stem if config is not None else "dreem_train")
    keys = dict(dataset_keys or {})
    datasets = {"train": {**guess_dir_spec(Path(train_dir), **dict(suffixes or {})), **keys}}
    if val_dir is not None:
        datasets["val"] = {**guess_dir_spec(Path(val_dir), **dict(suffixes or {})), **keys}
    # the DREEM config this model trains with, saved beside its outputs (a snapshot)
    snapshot = Path(out_dir) / f"config.{model}.yaml"
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    save_config(cfg, snapshot)
    return {
        "seed": cfg.seed if cfg.seed is not None else 42,
        "output_dir": str(out_dir),
        "datasets": datasets,
        "models": {
            model: {
                "config": str(snapshot.resolve()),
                "train": ["train"],
                "val": ["val"] if val_dir is not None else [],
            }
        },
        "mlflow": {"enabled": mlflow},
    }


def _given(section: DatasetSection) -> dict:
    """The keys a dataset section gives (a pipeline dataset spec)."""
    data = section.to_dict()
    return {k: data[k] for k in section.given() if k != "mode"}


def train_from_config(
    config: Path | dict,
    out_dir: Path,
    overrides: Any = None,
    name: str | None = None,
    progress: bool = True,
    record=None,
) -> dict[str, Any]:
    """``dreem train``: discover, extract, train and publish one model; ``config`` is a
    DREEM config file (its dataset sections name the data) or a pipeline config dict
    (:func:`train_dirs_plan_config`). ``out_dir/best.ckpt`` links to the published model.
    ``record``: an MLflow record opened early (:func:`dreem.pipeline.mlflow_log.open_record`
    with the plan's store settings; another store's is closed and replaced)."""
    from dreem.config.checks import pipeline_name_errors
    from dreem.config.errors import raise_errors
    from dreem.pipeline import run
    from dreem.pipeline.mlflow_log import closed_on_error, open_record
    from dreem.pipeline.prepare_worker import preparing
    from dreem.utils.process import paused_collection

    with closed_on_error(record):
        data = (
            config
            if isinstance(config, dict)
            else train_plan_config(config, out_dir, overrides, name)
        )
        plan = _plan(data)
    if record is not None and record.cfg != plan.mlflow():
        record.close()
        record = None
    if record is None:
        record = open_record(plan.mlflow())  # MLflow starts while crops are extracted
    # crops are extracted in a child process while this one imports the training libraries
    with closed_on_error(record), preparing(data, progress) as child, paused_collection():
        raise_errors(pipeline_name_errors(plan.cfg))  # imports torch, albumentations (timm)
        from dreem.training.train import import_training_libraries

        import_training_libraries()
    (model,) = plan.trained()
    result = run.train(plan, model, record=record, code=child.train_code)
    result["link"] = str(_link_checkpoint(Path(plan.checkpoint(model)), Path(out_dir)))
    return result


def _link_checkpoint(ckpt: Path, out_dir: Path) -> Path:
    """``out_dir/best.ckpt`` → the published checkpoint (relative symlink; a copy where
    links are not possible), so ``dreem track out_dir/best.ckpt`` works as documented."""
    import os
    import shutil

    link = out_dir / "best.ckpt"
    if link.resolve() == ckpt.resolve():
        return link
    tmp = out_dir / ".best.ckpt.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    try:
        tmp.symlink_to(os.path.relpath(ckpt.resolve(), out_dir.resolve()))
    except OSError:
        shutil.copyfile(ckpt, tmp)
    os.replace(tmp, link)
    return link


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


# track / eval stages live in dreem.stages_track (re-exported: one import path for callers)
from dreem.stages_track import (  # noqa: E402
    eval_directory,
    model_name,
    model_specs,
    track_data,
    track_plan_config,
)

__all__ = [
    "eval_directory",
    "extract_manifest",
    "guess_dir_spec",
    "model_name",
    "model_specs",
    "parse_anchors",
    "prepare_dataset",
    "track_data",
    "track_plan_config",
    "train_dirs_plan_config",
    "train_from_config",
    "train_plan_config",
    "validate_any_config",
]
