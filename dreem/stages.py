"""Stages composed for use without Snakemake (the ``dreem`` CLI and the Python API).

Each function chains the same library calls the Snakemake rules make, writing the same
file layout under one output folder, so a CLI run and a pipeline run agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

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
                    "or CTC 'X' + 'X_GT/TRA' folders); pass --labels-suffix"
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
    return list(overrides) if isinstance(overrides, (list, tuple)) else overrides


def extract_manifest(manifest: Path, params: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Extract every video of a manifest into ``out_dir/{video_id}.parquet``."""
    import pandas as pd

    from dreem.data.extract import extract_video

    rows = pd.read_parquet(manifest).to_dict("records")
    paths = []
    for row in rows:
        out = Path(out_dir) / f"{row['video_id']}.parquet"
        extract_video(row, dict(params), out)
        paths.append(out)
    return paths


def prepare_dataset(
    name: str, spec: Mapping[str, Any], work_dir: Path, defaults: Mapping[str, Any] | None = None
) -> list[Path]:
    """Discover, then extract one dataset into ``work_dir/datasets/{name}/``; return shards."""
    from dreem.data.extract import extraction_params
    from dreem.io.discover import discover_dataset, write_manifest

    ds_dir = Path(work_dir) / "datasets" / name
    df = discover_dataset(name, spec)
    write_manifest(df, ds_dir / "manifest.parquet")
    params = extraction_params(spec, defaults or {})
    return extract_manifest(ds_dir / "manifest.parquet", params, ds_dir / "crops")


def train_from_config(
    config: Path, out_dir: Path, overrides: Sequence[str] | Mapping | None = None
) -> dict[str, Any]:
    """Train from a DREEM config's ``dataset.train_dataset``/``val_dataset`` sections."""
    from dreem import __version__
    from dreem.config import load_dreem_config
    from dreem.training.resume import prepare_resume, run_fingerprint
    from dreem.training.train import train_model

    cfg = load_dreem_config(config, _override_list(overrides))
    sections = cfg.get("dataset") or {}
    train_spec = sections.get("train_dataset")
    if not train_spec:
        raise ConfigError(f"{config}: dataset.train_dataset is required for training")
    out_dir = Path(out_dir)
    train_shards = prepare_dataset("train", train_spec, out_dir, train_spec)
    val_spec = sections.get("val_dataset")
    val_shards = prepare_dataset("val", val_spec, out_dir, train_spec) if val_spec else []
    # a rerun after a kill resumes from checkpoints/last.ckpt; after an edit it starts over
    record = {"cfg": cfg, "version": __version__}
    prepare_resume(out_dir, run_fingerprint(record, [*train_shards, *val_shards]))
    return train_model(cfg, train_shards, val_shards, out_dir, seed=cfg.get("seed"))


def _tracker_cfg(model: str, config: Path | None, overrides: Any) -> dict | None:
    """Tracker section: from ``config`` if given, else the checkpoint's (None = its own)."""
    from dreem.config import load_dreem_config

    if config is None and not overrides:
        return None
    if config is None:
        if model.startswith("baseline"):
            cfg = load_dreem_config({}, _override_list(overrides))
        else:
            from dreem.models.checkpoint import load_model_from_checkpoint

            _, ckpt_cfg = load_model_from_checkpoint(model)
            cfg = load_dreem_config(ckpt_cfg, _override_list(overrides))
    else:
        cfg = load_dreem_config(config, _override_list(overrides))
    return cfg["tracker"]


def _shards_for(data: Path, work_dir: Path, config: Path | None) -> dict[str, list[Path]]:
    """Shards for ``data``: the shard itself, or a directory discovered and extracted."""
    data = Path(data)
    if data.suffix == ".parquet":
        return {data.parent.name: [data]}
    defaults: dict[str, Any] = {}
    if config is not None:
        from dreem.config import load_dreem_config

        ds = load_dreem_config(config)["dataset"]
        defaults = ds.get("test_dataset") or ds.get("train_dataset") or {}
    spec = {**{k: v for k, v in defaults.items() if k != "dir"}, **guess_dir_spec(data)}
    name = data.name or "data"
    return {name: prepare_dataset(name, spec, work_dir, defaults)}


def track_data(
    model: str, data: Path, out_dir: Path, config: Path | None = None, overrides: Any = None
) -> list[Path]:
    """Track a shard or every video of a directory; return the output table paths."""
    from dreem.inference.track import track_shard

    out_dir = Path(out_dir)
    tracker_cfg = _tracker_cfg(model, config, overrides)
    outputs = []
    for dataset, shards in _shards_for(data, out_dir, config).items():
        for shard in shards:
            prefix = out_dir / "tracks" / _model_name(model) / dataset / shard.stem
            track_shard(model, shard, tracker_cfg, prefix)
            outputs.append(Path(f"{prefix}.parquet"))
    return outputs


def _model_name(model: str) -> str:
    return "baseline" if model.startswith("baseline") else Path(model).stem


def eval_directory(
    models: Sequence[str],
    data: Path,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    gt: Path | None = None,
    match: str = "centroid",
    threshold: float | None = None,
):
    """Track ``data`` with each model, evaluate, and aggregate into ``out_dir/summary``.

    With ``gt`` (a directory with ground-truth labels for the same videos, matched by file
    stem) the evaluation is detection-level; otherwise identity-only on ``data``'s labels.
    """
    import pandas as pd

    from dreem.evaluation.aggregate import aggregate
    from dreem.evaluation.evaluate import evaluate_tracks_file, write_metrics

    out_dir = Path(out_dir)
    gt_shards: dict[str, Path] = {}
    if gt is not None:
        for shards in _shards_for(Path(gt), out_dir / "ground_truth", config).values():
            gt_shards.update({s.stem: s for s in shards})
    metric_csvs = []
    for model in models:
        for table_path in track_data(model, data, out_dir, config, overrides):
            gt_shard = None
            if gt is not None:
                gt_shard = gt_shards.get(table_path.stem)
                if gt_shard is None:
                    raise InputDataError(
                        f"{gt}: no ground truth for video {table_path.stem!r} "
                        f"(have: {', '.join(sorted(gt_shards)) or 'none'})"
                    )
            summary, events = evaluate_tracks_file(
                table_path, gt_shard=gt_shard, match=match, threshold=threshold
            )
            dataset = table_path.parent.name
            out_csv = out_dir / "metrics" / _model_name(model) / dataset / f"{table_path.stem}.csv"
            write_metrics(summary, events, out_csv, _model_name(model), dataset, table_path.stem)
            metric_csvs.append(out_csv)
    aggregate(metric_csvs, out_dir / "summary")
    return pd.read_csv(out_dir / "summary" / "metrics.csv")


def validate_any_config(path: Path, overrides: Any = None) -> str:
    """Validate ``path`` as a pipeline config (has ``datasets``) or a DREEM config."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read YAML: {err}") from err
    if isinstance(data, dict) and "datasets" in data:
        from dreem.config.pipeline import load_pipeline_config

        load_pipeline_config(path)
        return "pipeline"
    from dreem.config import load_dreem_config

    load_dreem_config(path, _override_list(overrides))
    return "DREEM"
