"""The CLI's track and eval stages (``dreem track``, ``dreem eval``): a pipeline config
for what was asked, planned and run in this process like every stage of
:mod:`dreem.stages` (which re-exports these names)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dreem.stages import _override_list, _plan, guess_dir_spec
from dreem.utils.errors import ConfigError, InputDataError


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
            from dreem.models import checkpoint_code

            checkpoint_code().check_checkpoint(target)  # a bad file fails now, before output
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
    data: Path | None,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    dataset_keys: Mapping | None = None,
    evaluate: bool = False,
    gt: Path | None = None,
    match: str = "centroid",
    threshold: float | None = None,
    files: Mapping | None = None,
    suffixes: Mapping | None = None,
    device: str = "auto",
    render: bool = False,
    mlflow: bool = True,
) -> dict:
    """The pipeline config of ``dreem track``/``dreem eval`` on a data directory (or on
    explicit ``files``: ``{"slp_files": [...], "video_files": [...]}``)."""
    specs = model_specs(models)
    tracker = _tracker_overrides(config, overrides)
    for spec in specs.values():
        if tracker:
            spec.update(tracker) if "baseline" in spec else spec.update(tracker=tracker)
    if files:
        first = Path(files["slp_files"][0])
        name = first.resolve().parent.name
        source = {k: [str(Path(f)) for f in v] for k, v in files.items() if v}
    elif data is not None:
        name = Path(data).resolve().name
        source = guess_dir_spec(Path(data), **dict(suffixes or {}))
    else:
        raise InputDataError("no data: give a data directory or --slp-file/--video-file")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "data"
    datasets = {name: {**source, **dict(dataset_keys or {})}}
    section = {"datasets": [name], "models": list(specs)}
    cfg: dict = {
        "output_dir": str(out_dir),
        "device": device,
        "datasets": datasets,
        "models": specs,
        "mlflow": {"enabled": mlflow},
    }
    if evaluate:
        cfg["evaluate"] = {**section, "match": match, "threshold": threshold, "render": render}
        if gt is not None:
            datasets[f"{name}_gt"] = guess_dir_spec(Path(gt))
            cfg["evaluate"]["ground_truth"] = {name: f"{name}_gt"}
    else:
        cfg["track"] = {**section, "render": render}
    return cfg


def track_data(
    model: str,
    data: Path | None,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    dataset_keys: Mapping | None = None,
    progress: bool = True,
    **options: Any,
) -> list[Path]:
    """``dreem track``: track a shard, or every video of a directory (or of explicit
    files); return the tables. ``options``: :func:`track_plan_config`'s ``files``,
    ``suffixes``, ``device``, ``render``."""
    from dreem.pipeline import jobs, run

    if data is not None and Path(data).suffix == ".parquet":  # a crop shard: no discovery
        data = Path(data)
        spec = model_specs([model])
        name = next(iter(spec))
        out = Path(out_dir) / "tracks" / name / data.parent.name / f"{data.stem}.parquet"
        tracker = _shard_tracker(spec[name], config, overrides)
        target = spec[name].get("checkpoint") or f"baseline:{spec[name]['baseline']}"
        device = options.get("device", "auto")
        jobs.track_job(target, data, tracker, out, progress=progress, device=device)
        return [out]
    cfg = track_plan_config(
        [model], data, out_dir, config, overrides, dataset_keys, mlflow=False, **options
    )
    plan = _plan(cfg)
    for note in plan.notes:
        import logging

        logging.getLogger(__name__).warning(note)
    run.prepare(plan, progress=progress)
    tables = run.track(plan, progress=progress)
    run.render(plan, progress=progress)
    return tables


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
    data: Path | None,
    out_dir: Path,
    config: Path | None = None,
    overrides: Any = None,
    gt: Path | None = None,
    match: str = "centroid",
    threshold: float | None = None,
    dataset_keys: Mapping | None = None,
    progress: bool = True,
    **options: Any,
):
    """``dreem eval``: track ``data`` with each model, evaluate, aggregate into
    ``out_dir/summary``; return the summary table. ``options``: :func:`track_plan_config`'s
    ``files``, ``suffixes``, ``device``, ``render``, ``mlflow``."""
    import pandas as pd

    from dreem.pipeline import run

    cfg = track_plan_config(
        models,
        data,
        out_dir,
        config,
        overrides,
        dataset_keys,
        True,
        gt,
        match,
        threshold,
        **options,
    )
    plan = _plan(cfg)
    run.run_all(plan, progress=progress)  # discovery fails first on data without tracks
    return pd.read_csv(Path(out_dir) / "summary" / "metrics.csv")
