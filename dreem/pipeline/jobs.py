"""One function per pipeline job, with plain parameters: what a Snakemake rule's script
calls and what the CLI's in-process runner (:mod:`dreem.pipeline.run`) calls, with the same
parameters taken from the same :class:`~dreem.pipeline.plan.Plan`.

Parameters are plain dicts (Snakemake compares them to decide reruns); each job validates
them back into the typed config sections before doing any work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def demo_job(out_dir: Path, seed: int, animals: dict | None, cells: dict | None) -> dict:
    """Generate the synthetic demo datasets (``DONE.json`` written last)."""
    from dreem.synth.demo import generate_demo

    return generate_demo(Path(out_dir), seed=seed, animals=animals, cells=cells)


def discover_job(
    name: str,
    spec: dict,
    expected: Sequence[str] | None,
    out: Path,
    require_tracks: bool = False,
):
    """Pair and open every file of a dataset; write its manifest (Parquet). With
    ``require_tracks`` (an evaluated dataset) labels without tracks are an error naming the
    videos, before anything is tracked (not NaN metrics later)."""
    from dreem.io.discover import discover_dataset, write_manifest
    from dreem.utils.errors import InputDataError

    df = discover_dataset(name, spec)
    untracked = sorted(df.video_id[df.n_tracks == 0]) if require_tracks else []
    if untracked:
        where = ", ".join(sorted({str(Path(p).parent) for p in df.labels_path}))
        raise InputDataError(
            f"datasets.{name} ({where}): no ground-truth tracks in {', '.join(untracked)}; "
            "evaluation needs tracked labels. Track it without evaluating (pipeline: "
            "track.datasets; CLI: dreem track), or evaluate against separate ground truth "
            "(evaluate.ground_truth; dreem eval --gt)"
        )
    if expected is not None:
        found = sorted(df["video_id"])
        if found != sorted(expected):
            raise RuntimeError(
                f"datasets.{name}: discovered videos {found} differ from the ones planned "
                f"when the workflow started {sorted(expected)}; rerun snakemake"
            )
    write_manifest(df, out)
    return df


def video_row(dataset: str, spec: dict, video_id: str) -> dict[str, Any]:
    """The manifest-style row of one video (paired now, cheaply, from the dataset spec)."""
    from dreem.io.discover import pair_files

    rows = [p.as_row() for p in pair_files(spec) if p.video_id == video_id]
    if len(rows) != 1:
        raise RuntimeError(f"datasets.{dataset}: expected 1 video {video_id!r}, found {len(rows)}")
    return {"dataset": dataset, **rows[0]}


def extract_job(
    dataset: str, spec: dict, video_id: str, crop: dict, out: Path, progress: bool = False
) -> dict:
    """Decode one video once and write its crop shard."""
    from dreem.config.data import CropParams
    from dreem.data.extract import extract_video

    row = video_row(dataset, spec, video_id)
    return extract_video(row, CropParams.model_validate(crop), Path(out), progress=progress)


def train_job(
    params: dict,
    code: dict,
    train: Sequence[Path],
    val: Sequence[Path],
    out_dir: Path,
    model: str | None = None,
    callbacks: Sequence[Any] = (),
    val_tracker: dict | None = None,
) -> dict:
    """Train one model (resuming an interrupted run of the same params and inputs) and plot
    its training curves. ``params`` is :meth:`Plan.train_params`; ``model`` names the
    curves (default: the model folder's name); ``callbacks`` are extra Lightning callbacks
    (the MLflow record: :func:`dreem.pipeline.mlflow_log.recorded_training`);
    ``val_tracker`` (:meth:`Plan.validation_tracker`) is the tracker validation tracking
    uses where ``params`` leave the tracker out."""
    from dreem.config.load import validate_dreem
    from dreem.training.curves import plot_training_curves
    from dreem.training.resume import train_resumable

    out_dir = Path(out_dir)
    model = model or out_dir.parent.name
    cfg_dict = dict(params["cfg"])
    if "tracker" not in cfg_dict and val_tracker is not None:
        cfg_dict["tracker"] = val_tracker
    cfg = validate_dreem(cfg_dict, source=f"{out_dir} (train params)")
    result = train_resumable(
        cfg,
        [Path(p) for p in train],
        [Path(p) for p in val],
        out_dir,
        seed=cfg.seed,
        record={"params": params, "code": code},
        callbacks=callbacks,
    )
    if result.get("rank", 0) != 0:  # DDP: not the main process, which writes the outputs
        return result
    title = f"{model}: training curves"
    plot_training_curves(out_dir / "metrics.csv", out_dir / "curves.png", title=title)
    return result


def publish_job(trained: Path, model_cfg: dict, out: Path) -> Path:
    """Write the model's checkpoint (``best.ckpt``) with its full current config.

    Training stores the config it trained with; the tracker section may have been edited
    since without changing the weights, so the published checkpoint records the config the
    pipeline now tracks with (``dreem track best.ckpt`` then reproduces the pipeline).
    """
    from dreem.models.checkpoint import republish

    return republish(Path(trained), model_cfg, Path(out))


def track_job(
    model: str,
    shard: Path,
    tracker: dict,
    out: Path,
    progress: bool = False,
    device: str = "auto",
):
    """Track one shard with a checkpoint or ``baseline:<kind>`` on ``device`` (auto|cpu|
    gpu|cuda:N); write the tracks table (``.parquet`` + ``.csv``) and the native output
    (``.slp`` or CTC ``_RES``)."""
    from dreem.config.tracker import TrackerConfig
    from dreem.inference.track import track_shard

    cfg = TrackerConfig.model_validate(tracker)
    out_prefix = Path(out).with_suffix("")
    return track_shard(model, Path(shard), cfg, out_prefix, progress=progress, device=device)


def evaluate_job(
    tracks: Path,
    out: Path,
    model: str,
    dataset: str,
    video_id: str,
    metrics: list[str] | None,
    gt_shard: Path | None = None,
    detection: dict | None = None,
):
    """Evaluate one tracked video; write the tidy metrics CSV (+ events CSV)."""
    from dreem.evaluation.evaluate import evaluate_tracks_file, write_metrics

    det = detection or {}
    if gt_shard:
        log.info("detection-level evaluation against %s (%s)", gt_shard, det)
    summary, events = evaluate_tracks_file(
        Path(tracks),
        metrics=metrics,
        gt_shard=Path(gt_shard) if gt_shard else None,
        match=det.get("match", "centroid"),
        threshold=det.get("threshold"),
    )
    write_metrics(summary, events, Path(out), model, dataset, video_id)
    return summary


def render_job(tracks: Path, video: Path, out: Path, options: dict) -> Path:
    """Draw one video's tracks into an MP4."""
    import pandas as pd

    from dreem.evaluation.render import render_tracks

    render_tracks(pd.read_parquet(tracks), Path(video), Path(out), **options)
    return Path(out)


def aggregate_job(
    metrics: Sequence[Path],
    out_dir: Path,
    title: str,
    videos: Sequence[Path] = (),
    figures: Sequence[Path] = (),
    provenance: dict | None = None,
):
    """All metric CSVs → the summary table, figure and HTML report. ``provenance`` is
    :meth:`Plan.provenance` (completed here with counts, dates and the code version)."""
    from dreem.evaluation.aggregate import aggregate
    from dreem.evaluation.provenance import collect

    return aggregate(
        [Path(p) for p in metrics],
        Path(out_dir),
        title=title,
        videos=tuple(Path(p) for p in videos),
        extra_figures=tuple(Path(p) for p in figures),
        provenance=collect(provenance),
    )
