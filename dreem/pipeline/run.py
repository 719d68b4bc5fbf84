"""Run a :class:`Plan` in this process, job by job (what the CLI does without Snakemake).

The jobs and their parameters are exactly the ones the Snakemake rules run, taken from the
same plan, so ``dreem train``/``dreem track``/``dreem eval`` write the same files with the
same contents as a pipeline run of the equivalent config.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dreem.pipeline import jobs
from dreem.pipeline.code import job_code
from dreem.pipeline.plan import Plan

log = logging.getLogger(__name__)


def _bar(items: list, desc: str, progress: bool):
    if not progress or len(items) < 2:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="job")


def prepare(plan: Plan, progress: bool = True) -> list[str]:
    """Discover every used dataset and extract every planned shard; return shard paths."""
    for d in plan.used_datasets():
        spec, ids, out = plan.spec(d).discovery(), plan.video_ids(d), Path(plan.manifest(d))
        jobs.discover_job(d, spec, ids, out, require_tracks=plan.needs_tracks(d))
    shards = []
    for d, key, v in _bar(plan.extract_jobs(), "extract", progress):
        out = Path(f"{plan.out}/datasets/{d}/crops/{key}/{v}.parquet")
        crop = plan.extract_params(d, key, v).to_dict()
        jobs.extract_job(d, plan.spec(d).discovery(), v, crop, out, progress=progress)
        shards.append(str(out))
    return shards


def train(plan: Plan, model: str, record=None, code: dict[str, str] | None = None) -> dict:
    """Train (or resume) one model and publish its ``best.ckpt``; ``record``: an MLflow
    record opened early (:func:`dreem.pipeline.mlflow_log.open_record`); ``code``: the
    training job's :func:`job_code`, when already computed (by the preparation child)."""
    from dreem.pipeline.mlflow_log import recorded_training

    result = recorded_training(
        plan.mlflow(),
        model,
        plan.train_params(model),
        code if code is not None else job_code("train_job"),
        plan.train_shards(model, "train"),
        plan.train_shards(model, "val"),
        Path(plan.train_dir(model)),
        val_tracker=plan.validation_tracker(model),
        record=record,
    )
    if result.get("rank", 0) != 0:  # DDP: not the main process, which publishes
        return {**result, "checkpoint": plan.checkpoint(model)}
    trained = Path(plan.train_dir(model)) / "best.ckpt"
    jobs.publish_job(trained, plan.publish_config(model), Path(plan.checkpoint(model)))
    return {**result, "checkpoint": plan.checkpoint(model)}


def track(plan: Plan, progress: bool = True) -> list[Path]:
    """Track every planned (model, dataset, video); return the tracks tables."""
    out = []
    for m, d, v in plan.track_jobs():
        path = Path(plan.tracks(m, d, v))
        jobs.track_job(
            plan.model_spec(m),
            Path(plan.shard(d, v, m)),
            plan.tracker(m).to_dict(),
            path,
            progress=progress,
            device=plan.track_device(m),
        )
        out.append(path)
    return out


def render(plan: Plan, progress: bool = True) -> list[Path]:
    """Render every planned video (``evaluate.render``, ``track.render``)."""
    videos = []
    for m, d, v in _bar(plan.render_jobs(), "render", progress):
        video = jobs.video_row(d, plan.spec(d).discovery(), v)["video_path"]
        out = Path(plan.render(m, d, v))
        videos.append(
            jobs.render_job(Path(plan.tracks(m, d, v)), video, out, plan.render_options(m))
        )
    return videos


def evaluate(plan: Plan) -> list[Path]:
    """Evaluate every planned video and write the summary (with the rendered videos)."""
    csvs = []
    for m, d, v in plan.eval_jobs():
        gt = plan.ground_truth(d, v, m)
        out = Path(plan.metrics(m, d, v))
        jobs.evaluate_job(
            Path(plan.tracks(m, d, v)),
            out,
            m,
            d,
            v,
            plan.cfg.evaluate.metrics,
            Path(gt[0]) if gt else None,
            plan.detection(d),
        )
        csvs.append(out)
    if csvs:
        from dreem.pipeline.mlflow_log import record_summary

        curves = [Path(c) for c in plan.report_curves()]
        provenance = plan.provenance()
        summary = jobs.aggregate_job(
            csvs,
            Path(plan.summary_dir()),
            plan.report_title(),
            [Path(p) for p in plan.report_renders() if Path(p).exists()],
            [c for c in curves if c.exists()],
            provenance,
        )
        record_summary(plan.mlflow(), summary, provenance)
    return csvs


def run_all(plan: Plan, progress: bool = True) -> dict:
    """Everything the plan asks for: prepare, train, track, evaluate."""
    for note in plan.notes:
        log.warning(note)
    prepare(plan, progress)
    trained = {m: train(plan, m) for m in plan.trained()}
    tracks = track(plan, progress)
    render(plan, progress)
    metrics = evaluate(plan)
    return {"trained": trained, "tracks": tracks, "metrics": metrics}
