"""Track one crop shard with a checkpoint or the centroid baseline and write the outputs.

Model path: the shard is streamed row group by row group; every crop is normalised, tiled
to 3 channels per anchor when grey, and encoded exactly once in batches of
``encode_batch_size`` across frames (crops are dropped after encoding, so memory holds only
the ``(N, d_model)`` features and the small per-instance arrays). The tracker then reuses
the cached features for every window. With ``tracker.use_vis_feats: false`` the encoder is
never run and all features are zero (association from position and time alone).

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
from dreem.inference.tracker import TrackResult
from dreem.io.shards import ShardData, iter_shard, read_shard
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


def _tile_grey(x: np.ndarray, channels: int) -> np.ndarray:
    """``(n, A*C, H, W)`` → ``(n, 3*A, H, W)``; grey (C=1) repeated 3× per anchor."""
    if channels == 3:
        return x
    if channels != 1:
        raise InputDataError(f"crops with {channels} channels per anchor are not supported")
    return np.repeat(x, 3, axis=1)


def _model_device(model):
    """The device of the model's parameters (CPU for parameter-less stand-ins)."""
    import torch

    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _autocast(device, bf16: bool):
    """``torch.autocast`` to bfloat16 when ``bf16``, else a no-op context."""
    import torch

    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


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


def encode_shard(
    model, shard_path: Path, batch_size: int = 64, progress: bool = False, bf16: bool = False
):
    """Encode every crop of a shard once; return a ``(N, D)`` float32 CPU tensor.

    Crops are streamed row group by row group and batched across frames; only the features
    stay in memory.
    """
    import torch

    device = _model_device(model)
    feats: list = []
    pending: list[np.ndarray] = []
    n_pending = 0

    def flush() -> None:
        nonlocal pending, n_pending
        if not pending:
            return
        x = torch.from_numpy(np.concatenate(pending)).to(device)
        with torch.inference_mode(), _autocast(device, bf16):
            feats.append(model.encode(x).float().cpu())
        pending, n_pending = [], 0

    groups = iter_shard(shard_path, with_crops=True)
    if progress:
        from tqdm.auto import tqdm

        groups = tqdm(groups, desc=f"encode {Path(shard_path).name}", unit="group")
    for data in groups:
        ch = data.meta.channels
        pos = 0
        while pos < len(data):
            hi = min(pos + batch_size - n_pending, len(data))
            pending.append(_tile_grey(data.normalized_crops(slice(pos, hi)), ch))
            n_pending += hi - pos
            pos = hi
            if n_pending >= batch_size:
                flush()
        data.crops = None
    flush()
    if not feats:
        return torch.zeros((0, 0))
    return torch.cat(feats)


def model_associate(model, feats, boxes_norm: np.ndarray, times: np.ndarray, bf16: bool = False):
    """``associate(ref_rows, query_rows) -> (n_q, n_ref)`` logits from cached features."""
    import torch

    device = _model_device(model)
    feats = feats.to(device)
    boxes_t = torch.from_numpy(np.nan_to_num(boxes_norm).astype(np.float32)).to(device)
    times_t = torch.from_numpy(np.asarray(times, np.int64)).to(device)

    def associate(ref: np.ndarray, query: np.ndarray) -> np.ndarray:
        r = torch.from_numpy(np.asarray(ref, np.int64)).to(device)
        q = torch.from_numpy(np.asarray(query, np.int64)).to(device)
        with torch.inference_mode(), _autocast(device, bf16):
            out = model.associate(
                feats[r], boxes_t[r], times_t[r], feats[q], boxes_t[q], times_t[q]
            )
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
        from dreem.models.checkpoint import load_model_from_checkpoint
        from dreem.utils.device import resolve_device

        target = resolve_device(device)
        model, model_cfg = load_model_from_checkpoint(model_spec, map_location=target)
        log.info("tracking on %s", target)
    else:  # an already loaded (model, cfg) pair
        model, model_cfg = model_spec
    tracker = Tracker(resolve_tracker(tracker_cfg, model_cfg))
    bf16 = uses_bf16(model_cfg)
    if hasattr(model, "eval"):
        model.eval()
    import torch

    if tracker.use_vis_feats:
        feats = encode_shard(model, shard_path, progress=progress, bf16=bf16)
    else:
        feats = torch.zeros((len(data), _feature_dim(model, model_cfg)))
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
    return repaired(result, tracker.cfg, data.frame_idx, data.centroid, feats)


def repaired(result: TrackResult, cfg: TrackerConfig, frame_idx, centroids, feats) -> TrackResult:
    """``result`` with short swaps undone when ``tracker.swap_repair`` is set."""
    if cfg.swap_repair is None:
        return result
    import torch

    from dreem.inference.smoothing import repair_swaps

    normed = (
        torch.nn.functional.normalize(feats.float().cpu(), dim=1).numpy() if len(feats) else None
    )
    ids, n = repair_swaps(
        frame_idx,
        centroids,
        result.track_id,
        cfg.swap_repair.max_len,
        cfg.swap_repair.ratio,
        normed if cfg.use_vis_feats else None,
    )
    if n:
        log.info("swap repair: %d short swaps undone", n)
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
        from dreem.models.checkpoint import load_model_from_checkpoint
        from dreem.utils.device import resolve_device

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
