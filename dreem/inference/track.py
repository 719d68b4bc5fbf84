"""Track one crop shard with a checkpoint or the centroid baseline and write the outputs.

Model path: the shard is streamed row group by row group; every crop is normalised, tiled
to 3 channels per anchor when grey, and encoded exactly once in batches of 64 across frames
(:mod:`dreem.inference.features`), just ahead of the tracker, which reuses the features for
every window; features of rows no track's queue holds any more are forgotten, so memory
holds only the small per-instance arrays and a window of features (plus, with
``tracker.swap_repair``, one normalised copy of every feature for the repair). With
``tracker.use_vis_feats: false`` the encoder is never run and all features are zero
(association from position and time alone).

Device: the checkpoint is loaded onto ``device`` (:func:`dreem.utils.device.resolve_device`:
``auto`` = a CUDA GPU when visible), and both the encoding and every association run there;
only the small logit matrices come back to the CPU for the assignment.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from dreem.config.dreem import DreemConfig
from dreem.config.tracker import TrackerConfig
from dreem.inference.features import StreamedFeatures, ZeroFeatures
from dreem.inference.features import _tile_grey as _tile_grey  # noqa: F401 - re-exported
from dreem.inference.features import autocast as _autocast
from dreem.inference.features import encode_shard as encode_shard  # noqa: F401 - re-exported
from dreem.inference.features import model_device as _model_device
from dreem.inference.tracker import TrackResult
from dreem.io.shards import ShardData, read_shard
from dreem.utils.errors import InputDataError

log = logging.getLogger(__name__)

TABLE_COLUMNS = [
    "video_id",
    "frame_idx",
    "instance_idx",
    "track_id",
    "confidence",
    "gt_track_id",
    "centroid_x",
    "centroid_y",
    "bbox_y1",
    "bbox_x1",
    "bbox_y2",
    "bbox_x2",
    "score",
]


BASELINES = ("centroid", "motion")


def is_baseline(model_spec) -> bool:
    """True for ``"baseline"`` / ``"baseline:centroid"`` / ``"baseline:motion"``."""
    return isinstance(model_spec, str) and model_spec.split(":")[0] == "baseline"


def baseline_tracker(model_spec: str, cfg: TrackerConfig):
    """The baseline linker named by ``baseline[:kind]`` (centroid when no kind)."""
    kind = model_spec.split(":", 1)[1] if ":" in model_spec else "centroid"
    if kind == "centroid":
        from dreem.inference.baseline import CentroidTracker

        return CentroidTracker(cfg)
    if kind == "motion":
        from dreem.inference.motion import MotionTracker

        return MotionTracker(cfg)
    raise InputDataError(
        f"unknown baseline {model_spec!r}; use baseline:{' or baseline:'.join(BASELINES)}"
    )


@contextlib.contextmanager
def torch_threads(n: int):
    """Temporarily use ``n`` intra-op threads. The per-frame association works on a few dozen
    tokens, where OpenMP synchronisation costs more than it saves: one thread ran the
    two_flies tracking loop 8-20x faster than two on a loaded 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def inference_model(model, copy: bool):
    """The model to track with: eval mode and, for a GTR with a ResNet encoder, BatchNorms
    folded into the convolutions and, on the CPU, the backbone run on oneDNN's blocked
    tensors (the same features to ~1e-7, faster; see
    :func:`dreem.models.encoder.fuse_batchnorm`, :mod:`dreem.models.cpu_inference`).
    ``copy``: convert a copy, not ``model``."""
    encoder = getattr(model, "visual_encoder", None)
    if encoder is None:
        return model.eval() if hasattr(model, "eval") else model
    from dreem.models.cpu_inference import use_mkldnn
    from dreem.models.encoder import _is_resnet, fuse_batchnorm

    if copy and _is_resnet(encoder.backbone):
        import copy as copy_mod

        model = copy_mod.deepcopy(model)
    model.eval()
    fuse_batchnorm(model.visual_encoder)
    use_mkldnn(model.visual_encoder)
    return model


def uses_bf16(model_cfg: DreemConfig) -> bool:
    """True when the checkpoint was trained with ``trainer.precision: bf16*``."""
    return str(model_cfg.trainer.precision or "").startswith("bf16")


def resolve_tracker(tracker_cfg: TrackerConfig | None, model_cfg: DreemConfig) -> TrackerConfig:
    """The tracker section to use with a checkpoint: ``tracker_cfg`` or the checkpoint's
    own, with ``clip_length: null`` resolved to the model's dataset clip length."""
    cfg = tracker_cfg if tracker_cfg is not None else model_cfg.tracker
    if cfg.clip_length is None:
        ds = model_cfg.dataset
        section = ds.test_dataset or ds.val_dataset or ds.train_dataset
        cfg = cfg.model_copy(update={"clip_length": section.clip_length})
    return cfg


def model_associate(model, feats, boxes_norm: np.ndarray, times: np.ndarray, bf16: bool = False):
    """``associate(ref_rows, query_rows) -> (n_q, n_ref)`` logits from encoded features:
    a ``(N, D)`` tensor, or a source with ``gather(ref, query)`` (:class:`StreamedFeatures`).
    """
    import torch

    device = _model_device(model)
    if isinstance(feats, torch.Tensor):
        feats = feats.to(device)
    boxes_t = torch.from_numpy(np.nan_to_num(boxes_norm).astype(np.float32)).to(device)
    times_t = torch.from_numpy(np.asarray(times, np.int64)).to(device)

    def associate(ref: np.ndarray, query: np.ndarray) -> np.ndarray:
        r = torch.from_numpy(np.asarray(ref, np.int64)).to(device)
        q = torch.from_numpy(np.asarray(query, np.int64)).to(device)
        if isinstance(feats, torch.Tensor):
            f_ref, f_q = feats[r], feats[q]
        else:
            f_ref, f_q = (x.to(device) for x in feats.gather(ref, query))
        with torch.inference_mode(), _autocast(device, bf16):
            out = model.associate(f_ref, boxes_t[r], times_t[r], f_q, boxes_t[q], times_t[q])
        return out[-1].float().cpu().numpy()

    return associate


def _feature_dim(model, cfg: DreemConfig) -> int:
    d = getattr(model, "d_model", None)
    return int(cfg.model.d_model if d is None else d)


def run_tracking(
    model_spec,
    data: ShardData,
    shard_path: Path,
    tracker_cfg: TrackerConfig | None,
    progress: bool = False,
    device: str | None = "auto",
) -> TrackResult:
    """Track the instances of ``data`` (read without crops) with a model or a baseline.

    ``tracker_cfg`` None: the checkpoint's own tracker section (defaults for a baseline).
    ``device``: where a checkpoint is loaded and run (an already loaded model stays put).
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm

        def bar(it):
            return tqdm(it, desc=f"track {data.meta.video_id}", unit="frame")

    if is_baseline(model_spec):
        cfg = tracker_cfg if tracker_cfg is not None else TrackerConfig()
        tracker = baseline_tracker(model_spec, cfg)
        return tracker.track_video(data.frame_idx, data.bbox, data.centroid, progress=bar)

    from dreem.inference.tracker import Tracker

    if isinstance(model_spec, (str, Path)):
        from dreem.models import checkpoint_code
        from dreem.utils.device import resolve_device

        load_model_from_checkpoint = checkpoint_code().load_model_from_checkpoint
        target = resolve_device(device)
        if target.type == "cpu":
            from dreem.utils.process import reuse_freed_memory

            reuse_freed_memory()  # encoder batches reuse their pages (+14% crops/s here)
        model, model_cfg = load_model_from_checkpoint(model_spec, map_location=target)
        log.info("tracking on %s", target)
        model = inference_model(model, copy=False)
    else:  # an already loaded (model, cfg) pair: the caller's model is left as it is
        model, model_cfg = model_spec
        model = inference_model(model, copy=True)
    tracker = Tracker(resolve_tracker(tracker_cfg, model_cfg))
    bf16 = uses_bf16(model_cfg)
    import torch

    if tracker.use_vis_feats:  # encoded just ahead of the tracker (all threads); flat memory
        feats = StreamedFeatures(
            model,
            shard_path,
            data.frame_idx,
            bf16=bf16,
            threads=torch.get_num_threads(),
            keep_normalized=tracker.cfg.swap_repair is not None,
        )
    else:
        feats = ZeroFeatures(_feature_dim(model, model_cfg))
    feats.live_rows = tracker.queued_rows
    h, w = data.meta.frame_height, data.meta.frame_width
    boxes_norm = data.bbox / np.array([h, w, h, w], np.float32)
    assoc = model_associate(model, feats, boxes_norm, data.frame_idx, bf16=bf16)
    on_cpu = _model_device(model).type == "cpu"
    with torch_threads(1) if on_cpu else contextlib.nullcontext():
        result = tracker.track_video(
            assoc,
            data.frame_idx,
            boxes_norm,
            data.centroid,
            progress=bar,
            poses=data.pose,
            node_names=data.meta.node_names,
            px_to_box=(1.0 / h, 1.0 / w),
        )
    crop_px = float(np.nanmedian(data.bbox[..., 2] - data.bbox[..., 0])) if len(data) else None
    return repaired(result, tracker.cfg, data.frame_idx, data.centroid, feats, crop_px, data.pose)


def repaired(
    result: TrackResult,
    cfg: TrackerConfig,
    frame_idx,
    centroids,
    feats,
    crop_px: float | None = None,
    poses: np.ndarray | None = None,
) -> TrackResult:
    """``result`` with swaps undone when ``tracker.swap_repair`` is set; the looks of a
    detection with another animal closer than half the crop size ``crop_px`` do not count.
    ``poses (N, K, 2)`` (keypoints, NaN where unseen) or None: with
    ``swap_repair.fit_poses`` the short repairs fit them instead of the centroids."""
    if cfg.swap_repair is None:
        return result
    from dreem.inference.move_repair import repair_moves
    from dreem.inference.smoothing import crowded_rows, repair_swaps, repair_tail_swaps

    normed = feats.normalized() if isinstance(feats, StreamedFeatures) else None
    track_id = result.track_id
    repair = cfg.swap_repair
    crowded = crowded_rows(frame_idx, centroids, None if crop_px is None else crop_px / 2)
    if repair.tail_window is not None and normed is not None and cfg.use_vis_feats:
        track_id, n_tail = repair_tail_swaps(
            frame_idx,
            centroids,
            track_id,
            normed,
            repair.tail_window,
            repair.tail_margin,
            crowded=crowded,
        )
        if n_tail:
            log.info("swap repair: %d lasting swaps undone", n_tail)
    looks = normed if cfg.use_vis_feats else None
    points = poses if repair.fit_poses else None
    ids, n = repair_swaps(
        frame_idx,
        centroids,
        track_id,
        repair.max_len,
        repair.ratio,
        looks,
        crowded,
        points,
        gap=repair.move_gap,
    )
    if n:
        log.info("swap repair: %d short swaps undone", n)
    ids, n = repair_moves(
        frame_idx,
        centroids,
        ids,
        repair.max_len,
        repair.ratio,
        repair.move_gap,
        looks,
        crowded,
        points,
    )
    if n:
        log.info("swap repair: %d detections given back", n)
    if repair.impossible_links:
        ids, n = repair_tail_swaps(
            frame_idx,
            centroids,
            ids,
            looks,
            repair.tail_window or 10,
            impossible_links=True,
            crowded=crowded,
        )
        if n:
            log.info("swap repair: %d impossible links undone", n)
    return TrackResult(ids, result.confidence, result.uncertain_frames)


def tracks_table(data: ShardData, result: TrackResult) -> pd.DataFrame:
    """The tracks table (architecture.md): one row per shard row, sorted by frame, instance."""
    b = data.bbox
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            y1, x1 = np.nanmin(b[..., 0], 1), np.nanmin(b[..., 1], 1)
            y2, x2 = np.nanmax(b[..., 2], 1), np.nanmax(b[..., 3], 1)
    df = pd.DataFrame(
        {
            "video_id": data.meta.video_id,
            "frame_idx": data.frame_idx.astype(np.int64),
            "instance_idx": data.instance_idx.astype(np.int64),
            "track_id": result.track_id.astype(np.int64),
            "confidence": result.confidence.astype(np.float64),
            "gt_track_id": data.gt_track_id.astype(np.int64),
            "centroid_x": data.centroid[:, 0].astype(np.float64),
            "centroid_y": data.centroid[:, 1].astype(np.float64),
            "bbox_y1": y1,
            "bbox_x1": x1,
            "bbox_y2": y2,
            "bbox_x2": x2,
            "score": data.score.astype(np.float64),
        },
        columns=TABLE_COLUMNS,
    )
    return df.sort_values(["frame_idx", "instance_idx"], kind="stable").reset_index(drop=True)


def _tracker_used(model_spec, tracker_cfg: TrackerConfig | None) -> TrackerConfig:
    if is_baseline(model_spec):
        return tracker_cfg if tracker_cfg is not None else TrackerConfig()
    return resolve_tracker(tracker_cfg, model_spec[1])


def track_shard(
    model_spec: str | Path,
    shard_path: Path,
    tracker_cfg: TrackerConfig | None,
    out_prefix: Path,
    progress: bool = True,
    device: str | None = "auto",
) -> pd.DataFrame:
    """Track one shard and write ``{out_prefix}.parquet/.csv`` plus the native output.

    ``model_spec``: a checkpoint path, ``"baseline"`` / ``"baseline:centroid"``, or a loaded
    ``(model, cfg)`` pair. ``tracker_cfg`` None → the checkpoint's own tracker section.
    ``device``: ``auto``/``cpu``/``gpu``/``cuda:N`` for a checkpoint (see module docstring).
    Native output: ``{out_prefix}.slp`` for SLEAP shards, ``{out_prefix}_RES/`` for CTC.

    The result passes :func:`dreem.inference.checks.check_tracks` before anything is
    written, and all outputs of the video are published together or not at all. A warning
    names the shard and both values when its crops differ from the model's training crops.
    """
    from dreem.inference.checks import check_tracks, warn_crop_mismatch
    from dreem.inference.writers import write_ctc_res, write_slp, write_table
    from dreem.utils.atomic import atomic_group

    shard_path = Path(shard_path)
    if not shard_path.is_file():
        raise InputDataError(f"shard not found: {shard_path}")
    model_name = model_spec
    if is_baseline(model_spec):
        baseline_tracker(model_spec, TrackerConfig())  # an unknown kind fails before reading
    elif isinstance(model_spec, (str, Path)):
        if not Path(model_spec).is_file():
            raise InputDataError(f"checkpoint not found: {model_spec}")
        from dreem.models import checkpoint_code
        from dreem.utils.device import resolve_device

        load_model_from_checkpoint = checkpoint_code().load_model_from_checkpoint
        target = resolve_device(device)  # a GPU asked for but absent fails before reading
        model_spec = load_model_from_checkpoint(model_spec, map_location=target)
        log.info("tracking on %s", target)
    else:
        model_name = "(given)"
    data = read_shard_checked(shard_path)
    if not is_baseline(model_spec):
        warn_crop_mismatch(model_spec[1], data.meta, shard_path, model_name)
    result = run_tracking(model_spec, data, shard_path, tracker_cfg, progress, device)
    table = tracks_table(data, result)
    check_tracks(data, table, _tracker_used(model_spec, tracker_cfg).max_tracks, shard_path)
    out_prefix = Path(out_prefix)
    fmt = data.meta.source_format
    with atomic_group() as stage:  # native output first, the Parquet table last
        if fmt == "slp":
            write_slp(table, data, Path(f"{out_prefix}.slp"), result.uncertain_frames, stage)
        elif fmt == "ctc":
            write_ctc_res(table, data.meta, Path(f"{out_prefix}_RES"), stage)
        write_table(table, out_prefix, stage)
    n_ids = len(set(table.track_id[table.track_id >= 0]))
    log.info("%s: %d instances, %d tracks", data.meta.video_id, len(table), n_ids)
    return table


def read_shard_checked(path: Path) -> ShardData:
    """:func:`read_shard` without crops; an unreadable or foreign file is an error naming it."""
    try:
        return read_shard(path, with_crops=False)
    except InputDataError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise InputDataError(f"{path}: not a readable dreem crop shard ({exc})") from exc
