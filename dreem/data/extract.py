"""Extraction: decode a video once, crop every instance, write a crop shard.

``extract_video(row, params, out_path)`` streams the labelled frames of one manifest row
(:func:`dreem.io.sources.open_source`), cuts one square crop per instance and anchor (see
:mod:`dreem.data.geometry`) in the video's native dtype and writes them with
:class:`dreem.io.shards.ShardWriter` (atomic; bounded memory: one frame plus one row group).
A shard already written with the same normalised params from unchanged inputs is reused.

Per frame, after ``handle_missing``: ``max_detection_overlap`` (non-max suppression) then
``max_tracks`` (lowest-score predicted instances dropped) filter the instances;
``use_tight_bbox`` records tight boxes; ``apply_mask_to_crop`` and ``dilation_radius_px``
zero crop pixels (see :mod:`dreem.data.filters`). Those keys enter ``meta.params`` only when
they differ from their defaults (so shards extracted without them stay current).
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from dreem.config.data import CropParams
from dreem.data.filters import (
    cap_predicted,
    dilate_crops,
    mask_crops,
    overlap_suppression,
    tight_boxes,
)
from dreem.data.geometry import (
    anchor_points,
    check_handle_missing,
    crop_windows,
    keep_mask,
    midpoints,
    n_anchors_of,
    normalize_anchors,
    resolve_anchors,
    square_boxes,
)
from dreem.data.orientation import aligned_crops, instance_axes
from dreem.utils.atomic import write_text_atomic
from dreem.utils.errors import InputDataError

log = logging.getLogger(__name__)

EXTRACT_VERSION = 2  # bump when the crop computation changes (invalidates old shards)
ROW_GROUP_BYTES = 8 * 2**20  # crop bytes per Parquet row group (bigger: more RSS, no faster)
PREFETCH_FRAMES = 4  # frames buffered between pipeline stages (bounds memory)


def as_crop_params(params: CropParams | Mapping) -> CropParams:
    """``params`` as validated :class:`CropParams` (a mapping's errors name its keys)."""
    if isinstance(params, CropParams):
        return params
    from pydantic import ValidationError

    from dreem.config.errors import messages, raise_errors

    try:
        return CropParams.model_validate(dict(params))
    except ValidationError as err:
        raise_errors(messages(err, CropParams))
        raise  # unreachable


def normalize_params(params: CropParams | Mapping) -> dict[str, Any]:
    """The canonical extraction params recorded in ``meta.params`` (compared for staleness).

    ``seed`` is kept only for random (int) anchors, so changing the pipeline seed does not
    re-extract; ``max_tracks`` is ``None`` for no limit (JSON has no infinity).
    """
    params = as_crop_params(params)
    anchors = normalize_anchors(params.anchors)
    out = params.to_dict()
    radius = float(out["dilation_radius_px"])
    out.update(
        anchors=anchors,
        handle_missing=check_handle_missing(params.handle_missing),
        seed=int(params.seed or 0) if isinstance(anchors, int) else None,
        max_tracks=None if math.isinf(params.max_tracks) else int(params.max_tracks),
        dilation_radius_px=int(radius) if radius.is_integer() else radius,
        n_anchors=n_anchors_of(anchors),
        extract_version=EXTRACT_VERSION,
    )
    return out


def stats_path(out_path: Path) -> Path:
    """Where the stats JSON of a shard lives: ``{video_id}.stats.json``."""
    return Path(out_path).with_suffix(".stats.json")


def _source_paths(row: Mapping) -> list[str]:
    from dreem.io.sources import parse_extra

    paths = [str(row["labels_path"]), str(row["video_path"])]
    for value in parse_extra(row.get("extra")).values():
        if isinstance(value, str) and value and Path(value).exists() and value not in paths:
            paths.append(value)
    return paths


def _row_int(row: Mapping, key: str, default: int = 0) -> int:
    value = row.get(key, default)
    try:
        return default if value is None or np.isnan(float(value)) else int(value)
    except (TypeError, ValueError):
        return default


def _row_str(row: Mapping, key: str, default: str = "") -> str:
    value = row.get(key, default)
    return default if value is None else str(value)


def extract_video(
    row: Mapping,
    params: CropParams | Mapping,
    out_path: Path,
    progress: bool = True,
    verbose: bool = False,
) -> dict[str, Any]:
    """Write the crop shard of one manifest row to ``out_path``; return its stats.

    Stats: ``n_frames_read, n_instances, n_dropped_nan, n_dropped_missing,
    n_dropped_overlap, n_dropped_max_tracks, seconds, fps``
    (plus ``video_id``, ``skipped``). Also written to ``out_path.with_suffix('.stats.json')``.
    """
    from dreem.io.shards import ShardMeta, ShardWriter, file_signature, is_shard_current
    from dreem.io.sources import open_source, parse_extra

    out_path = Path(out_path)
    norm = normalize_params(params)
    sources = _source_paths(row)
    if is_shard_current(out_path, norm, sources):
        return _existing_stats(out_path)
    for p in sources:
        if not Path(p).exists():
            raise InputDataError(f"input not found: {p} (manifest row {row.get('video_id')!r})")
    signatures = {p: file_signature(p) for p in sources}

    t0 = time.perf_counter()
    source = open_source(row)
    try:
        spec = resolve_anchors(norm["anchors"], list(source.node_names), str(source.labels_path))
        side = norm["crop_size"] + 2 * norm["padding"]
        video_id = _row_str(row, "video_id", out_path.stem)
        meta = ShardMeta(
            video_id=video_id,
            source_format=str(source.format),
            labels_path=str(row["labels_path"]),
            video_path=str(row["video_path"]),
            params=norm,
            sources=signatures,
            frame_height=int(source.height),
            frame_width=int(source.width),
            n_frames=int(source.n_frames),
            channels=int(source.channels),
            dtype=str(np.dtype(source.dtype)),
            crop_hw=(side, side),
            anchor_names=list(spec.names),
            node_names=list(source.node_names),
            edges=[(int(a), int(b)) for a, b in source.edges],
            intensity_range=tuple(float(v) for v in source.intensity_range),
            slp_video_index=_row_int(row, "slp_video_index"),
            dataset=_row_str(row, "dataset"),
            extra=parse_extra(row.get("extra")),
        )
        crop_bytes = spec.n_anchors * meta.channels * side * side * np.dtype(meta.dtype).itemsize
        warn_crop_larger_than_frame(meta, norm, crop_bytes)
        rows_per_group = int(np.clip(ROW_GROUP_BYTES // max(crop_bytes, 1), 16, 4096))
        rng = np.random.default_rng([int(norm["seed"] or 0) % 2**63, zlib.crc32(video_id.encode())])
        n_frames_read = n_instances = 0
        n_dropped = {"missing": 0, "overlap": 0, "max_tracks": 0}
        # three overlapping stages, one thread each: decode | crop | write (Parquet encoding);
        # closing() stops the stage threads before the source is closed, also on errors
        with (
            ShardWriter(out_path, meta, rows_per_group=rows_per_group) as writer,
            closing(prefetch(source.iter_frames(progress=progress), PREFETCH_FRAMES)) as frames,
            closing(
                prefetch(
                    (_frame_records(f, meta, spec, norm, side, rng, source) for f in frames),
                    PREFETCH_FRAMES,
                )
            ) as cropped,
        ):
            for records, dropped in cropped:
                n_frames_read += 1
                for key, value in dropped.items():
                    n_dropped[key] += value
                n_instances += len(records)
                if records:
                    writer.add_frame(records)
        seconds = time.perf_counter() - t0
        n_dropped_nan = int(getattr(source, "n_dropped_nan", 0))
    finally:
        source.close()
    stats = {
        "video_id": meta.video_id,
        "n_frames_read": n_frames_read,
        "n_instances": n_instances,
        "n_dropped_nan": n_dropped_nan,
        "n_dropped_missing": n_dropped["missing"],
        "n_dropped_overlap": n_dropped["overlap"],
        "n_dropped_max_tracks": n_dropped["max_tracks"],
        "seconds": round(seconds, 4),
        "fps": round(n_frames_read / seconds, 2) if seconds > 0 else 0.0,
        "skipped": False,
    }
    write_text_atomic(stats_path(out_path), json.dumps(stats, indent=2) + "\n")
    if verbose:
        log.info("extracted %s: %s", out_path, stats)
    return stats


def warn_crop_larger_than_frame(meta, norm: Mapping[str, Any], crop_bytes: int) -> bool:
    """Warn (naming the video and both sizes) when a crop is larger than the whole frame:
    every crop is then mostly zero padding, the shard grows with the crop's area and the
    model sees the animal tiny. Returns True if it warned."""
    side = int(meta.crop_hw[0])
    if side <= max(meta.frame_height, meta.frame_width):
        return False
    log.warning(
        "%s: crop_size %d (+ 2 x padding %d = %d px) is larger than the %dx%d frame; each "
        "crop is mostly padding (%.1f MB per instance) — use a crop_size about the size of "
        "one animal or cell",
        meta.video_path,
        norm["crop_size"],
        norm["padding"],
        side,
        meta.frame_width,
        meta.frame_height,
        crop_bytes / 2**20,
    )
    return True


def prefetch(it: Iterator, maxsize: int) -> Iterator:
    """Run ``it`` in a background thread, at most ``maxsize`` items ahead.

    Decoding (OpenCV releases the GIL) then overlaps with cropping and Parquet writing.
    Exceptions of ``it`` re-raise in the consumer; if the consumer stops early the producer
    stops too and ``it`` is closed in its own thread (so video handles are released).
    """
    if maxsize <= 0:
        yield from it
        return
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in it:
                if not put((None, item)):
                    break
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            put((e, None))
            return
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        put((None, done))

    thread = threading.Thread(target=produce, name="dreem-decode", daemon=True)
    thread.start()
    try:
        while True:
            err, item = q.get()
            if err is not None:
                raise err
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _frame_records(frame, meta, spec, norm, side, rng, source) -> tuple[list, dict[str, int]]:
    """The shard records of one source frame and the numbers of instances dropped (by cause:
    ``missing``, ``overlap``, ``max_tracks``)."""
    from dreem.io.shards import InstanceRecord

    insts = frame.instances
    dropped = {"missing": 0, "overlap": 0, "max_tracks": 0}
    if not insts:
        return [], dropped
    image = np.asarray(frame.image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[:2] != (meta.frame_height, meta.frame_width):
        raise InputDataError(
            f"frame {frame.frame_idx} of {source.video_path} is {image.shape[1]}x{image.shape[0]} "
            f"but the video was probed as {meta.frame_width}x{meta.frame_height}"
        )
    if image.dtype != np.dtype(meta.dtype):
        image = image.astype(meta.dtype)
    points = np.stack([np.asarray(s.points, np.float32).reshape(-1, 2) for s in insts])
    cents = midpoints(points)
    anchors_xy = anchor_points(points, spec, norm["handle_missing"], rng, mid=cents)
    keep = keep_mask(anchors_xy, norm["handle_missing"])
    dropped["missing"] = int((~keep).sum())
    windows = square_boxes(anchors_xy, norm["crop_size"], norm["padding"])
    opt = norm
    masks = [s.mask for s in insts]
    boxes = windows
    if opt["use_tight_bbox"]:
        boxes = tight_boxes(points, masks, norm["padding"], windows)
        boxes[~np.isfinite(windows).all(-1)] = np.nan  # a missing anchor stays missing
    if opt["max_detection_overlap"] > 0 and keep.sum() > 1:
        idx = np.flatnonzero(keep)
        n_vis = np.isfinite(points[idx]).all(-1).sum(-1)
        ok = overlap_suppression(boxes[idx], n_vis, opt["max_detection_overlap"])
        keep[idx[~ok]] = False
        dropped["overlap"] = int((~ok).sum())
    if opt["max_tracks"] is not None and keep.sum() > opt["max_tracks"]:
        scores = np.array([s.score for s in insts], np.float64)
        predicted = np.array([s.is_predicted for s in insts], bool)
        capped = cap_predicted(scores, predicted, keep, opt["max_tracks"])
        dropped["max_tracks"] = int(keep.sum() - capped.sum())
        keep = capped
    kept = np.flatnonzero(keep)
    if opt["align_crops"]:
        front, back = opt["align_crops"]
        axes = instance_axes(points[kept], meta.node_names, [front], [back])
        crops = aligned_crops(image, anchors_xy[kept], axes, side)
    else:
        crops = crop_windows(image, windows[kept], side)
    if opt["apply_mask_to_crop"]:
        mask_crops(crops, windows[kept], [masks[i] for i in kept])
    if opt["dilation_radius_px"] > 0:
        dilate_crops(crops, windows[kept], points[kept], opt["dilation_radius_px"])
    records = []
    for j, i in enumerate(kept):
        s = insts[i]
        records.append(
            InstanceRecord(
                frame_idx=int(frame.frame_idx),
                instance_idx=int(s.instance_idx),
                gt_track_id=int(s.track_id),
                gt_track_name=s.track_name,
                score=float(s.score),
                centroid=(float(cents[i, 0]), float(cents[i, 1])),
                bbox=boxes[i],
                pose=points[i],
                crop=crops[j],
            )
        )
    records.sort(key=lambda r: r.instance_idx)
    return records, dropped


def _existing_stats(out_path: Path) -> dict[str, Any]:
    """Stats of a shard that is reused; rebuilt from the shard if the JSON is missing."""
    sp = stats_path(out_path)
    try:
        stats = json.loads(sp.read_text())
    except (OSError, ValueError):
        from dreem.io.shards import read_shard

        data = read_shard(out_path, with_crops=False)
        stats = {
            "video_id": data.meta.video_id,
            "n_frames_read": int(len(np.unique(data.frame_idx))),
            "n_instances": len(data),
            "n_dropped_nan": None,
            "n_dropped_missing": None,
            "seconds": 0.0,
            "fps": 0.0,
        }
        write_text_atomic(sp, json.dumps({**stats, "skipped": False}, indent=2) + "\n")
    stats["skipped"] = True
    return stats
