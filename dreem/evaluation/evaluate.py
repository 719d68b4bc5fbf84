"""Evaluate a tracks table and write tidy metric CSVs (stage ``evaluate``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dreem.config.metrics import resolve_metrics
from dreem.evaluation import motmetrics_eval as mme
from dreem.utils.atomic import atomic_group
from dreem.utils.errors import ConfigError

MODES = ("identity", "detection")


def evaluate_tracks(
    tracks: pd.DataFrame,
    metrics: list[str] | None = None,
    mode: str = "identity",
    gt: pd.DataFrame | None = None,
    match: str = "centroid",
    threshold: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(summary, events)`` for a tracks table.

    ``summary``: rows ``metric, value`` for ``metrics`` (names and groups of
    :mod:`dreem.config.metrics`; ``None`` = the default set). ``events``: per-frame MOT
    events (``type`` MATCH / SWITCH / MISS / FP / …) with the source frame index.
    ``mode="identity"``: ground-truth detections carry both ids (see
    :mod:`dreem.evaluation.motmetrics_eval`); ``mode="detection"``: ``gt`` is a separate
    table (``frame_idx, gt_track_id, centroid_x, centroid_y`` and/or ``bbox_*``) matched per
    frame by ``match`` (``centroid`` distance in pixels or box ``iou``) with ``threshold``.
    """
    names = resolve_metrics(metrics, "evaluate.metrics")
    if mode == "identity":
        acc = mme.identity_accumulator(tracks)
    elif mode == "detection":
        if gt is None:
            raise ConfigError("evaluate.mode: 'detection' needs a ground-truth table (gt=...)")
        acc = mme.detection_accumulator(tracks, gt, match, threshold)
    else:
        raise ConfigError(f"evaluate.mode: {mode!r} is not one of {list(MODES)}")
    summary = mme.summarize(acc, names)
    if "global_tracking_accuracy" in names:
        src = tracks if mode == "identity" else None
        value = mme.global_tracking_accuracy(src) if src is not None else float("nan")
        extra = pd.DataFrame({"metric": ["global_tracking_accuracy"], "value": [value]})
        summary = pd.concat([summary, extra], ignore_index=True)
    order = {m: i for i, m in enumerate(names)}
    summary = summary.sort_values("metric", key=lambda s: s.map(order)).reset_index(drop=True)
    return summary, mme.events_table(acc)


def evaluate_ctc(res_dir: Path, gt_tra_dir: Path) -> pd.DataFrame:
    """CTC DET/TRA/LNK (+ division F1) rows ``metric, value`` for a ``_RES`` folder against
    the ``TRA`` folder it was made from (concatenate with ``evaluate_tracks``' summary before
    :func:`write_metrics`)."""
    from dreem.evaluation.ctc_metrics import ctc_summary

    return ctc_summary(gt_tra_dir, res_dir)


def evaluate_tracks_file(
    tracks_path: Path,
    metrics: list[str] | None = None,
    gt_shard: Path | None = None,
    match: str = "centroid",
    threshold: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate a tracks table written by ``track_shard``.

    Without ``gt_shard``: identity-only on the table's own ground-truth ids. With it
    (a crop shard of the same video holding ground-truth labels): detection-level, the
    predictions matched per frame to that ground truth by ``match``/``threshold``. For cell
    data (a CTC ``_RES`` folder beside the table) CTC DET/TRA/LNK rows are added.
    """
    from dreem.utils.errors import InputDataError

    tracks_path = Path(tracks_path)
    tracks = pd.read_parquet(tracks_path)
    if gt_shard is None:
        if len(tracks) and (tracks.gt_track_id < 0).all():  # not all-NaN metrics
            video = tracks.video_id.iloc[0]
            raise InputDataError(
                f"{tracks_path}: no ground-truth track ids (the labels of video {video!r} are "
                "untracked); evaluation needs tracked labels: track such data without "
                "evaluating it (the pipeline's track: section, `dreem track`), or give "
                "separate ground truth (evaluate.ground_truth, `dreem eval --gt`)"
            )
        summary, events = evaluate_tracks(tracks, metrics=metrics)
    else:
        gt = ground_truth_table(gt_shard)
        summary, events = evaluate_tracks(
            tracks, metrics, mode="detection", gt=gt, match=match, threshold=threshold
        )
    res_dir = tracks_path.with_name(f"{tracks_path.stem}_RES")
    gt_dir = _ctc_gt_dir(res_dir)
    if gt_dir is not None:
        summary = pd.concat([summary, evaluate_ctc(res_dir, gt_dir)], ignore_index=True)
    return summary, events


def ground_truth_table(shard_path: Path) -> pd.DataFrame:
    """``frame_idx, gt_track_id, centroid_x/_y, bbox_*`` of a ground-truth crop shard
    (bbox = the first anchor's box)."""
    from dreem.io.shards import read_shard
    from dreem.utils.errors import InputDataError

    data = read_shard(shard_path, with_crops=False)
    if len(data) and (data.gt_track_id < 0).all():
        raise InputDataError(f"{shard_path}: ground-truth labels have no tracks")
    box = data.bbox[:, 0, :] if len(data) else data.bbox.reshape(0, 4)
    return pd.DataFrame(
        {
            "frame_idx": data.frame_idx,
            "gt_track_id": data.gt_track_id,
            "centroid_x": data.centroid[:, 0],
            "centroid_y": data.centroid[:, 1],
            "bbox_y1": box[:, 0],
            "bbox_x1": box[:, 1],
            "bbox_y2": box[:, 2],
            "bbox_x2": box[:, 3],
        }
    )


def _ctc_gt_dir(res_dir: Path) -> Path | None:
    """The ``TRA`` folder a ``_RES`` folder was made from (recorded by the CTC writer)."""
    import json

    meta = Path(f"{res_dir}.json")
    if not meta.is_file():
        return None
    gt = Path(json.loads(meta.read_text())["gt_tra_dir"])
    return gt if gt.is_dir() else None


def switch_frames(events: pd.DataFrame) -> list[int]:
    """Frames with at least one identity switch."""
    return sorted({int(f) for f in events.frame_idx[events.type == "SWITCH"]})


def write_metrics(
    summary: pd.DataFrame,
    events: pd.DataFrame,
    out_csv: Path,
    model: str,
    dataset: str,
    video_id: str,
) -> Path:
    """Write the tidy ``model, dataset, video_id, metric, value`` CSV and ``{stem}.events.csv``."""
    out_csv = Path(out_csv)
    tidy = pd.DataFrame(
        {
            "model": model,
            "dataset": dataset,
            "video_id": video_id,
            "metric": summary.metric.to_numpy(),
            "value": summary.value.to_numpy(),
        },
        columns=["model", "dataset", "video_id", "metric", "value"],
    )
    ev_path = out_csv.with_name(f"{out_csv.stem}.events.csv")
    with atomic_group() as stage:  # both or neither; the metrics CSV (the rule's output) last
        events.to_csv(stage(ev_path), index=False)
        tidy.to_csv(stage(out_csv), index=False)
    return out_csv
