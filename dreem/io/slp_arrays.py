"""The labels of one video of a ``.slp`` file as flat NumPy arrays (compact, vectorised).

sleap-io's lazy loading keeps the file's ``frames``, ``instances`` and ``points`` tables as
structured arrays; reading them here instead of building one Python object per instance
makes memory a few hundred bytes per instance (instead of kilobytes) and long label files
load in a fraction of the time. Interpretation follows sleap-io's own materialisation:
user instances take their points from ``points``, predicted ones from ``pred_points``
(with their instance score); invisible nodes are NaN; files older than format 1.1 have
their coordinates shifted by -0.5 px; points map to nodes by the instance's skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

USER, PREDICTED = 0, 1  # sleap_io.io.slp.InstanceType


@dataclass
class SlpArrays:
    """Instances of one video, in file order within each frame; frames in file order."""

    frame_idx: np.ndarray  # (F,) int64 labelled frame indices (one per labelled frame row)
    frame_start: np.ndarray  # (F + 1,) offsets of each frame's instances in the arrays below
    instance_idx: np.ndarray  # (N,) int32 position in the frame's instance list
    track_id: np.ndarray  # (N,) int64 index into labels.tracks, -1 untracked
    score: np.ndarray  # (N,) float32 instance score (1.0 for user instances)
    predicted: np.ndarray  # (N,) bool
    points: np.ndarray  # (N, n_nodes, 2) float32 x, y in the labels' node order; NaN = missing


def lazy_store(labels):
    """sleap-io's raw-array store of lazily loaded labels, or None (eager labels)."""
    store = getattr(labels, "_lazy_store", None)
    needed = ("frames_data", "instances_data", "points_data", "pred_points_data", "format_id")
    if store is None or not all(hasattr(store, k) for k in needed):
        return None
    return store


def read_slp_arrays(labels, video_index: int, node_names: list[str]) -> SlpArrays | None:
    """Flat arrays of the instances of video ``video_index``, or None when ``labels`` were
    not loaded lazily (then the caller walks ``labels.labeled_frames``)."""
    store = lazy_store(labels)
    if store is None:
        return None
    frames = store.frames_data
    video_col = np.asarray(frames[frames.dtype.names[1]], np.int64)
    rows = frames[video_col == video_index]
    names = rows.dtype.names
    frame_idx = np.asarray(rows[names[2]], np.int64)
    starts = np.asarray(rows[names[3]], np.int64)
    ends = np.asarray(rows[names[4]], np.int64)
    counts = ends - starts
    first = np.cumsum(counts) - counts  # offset of each frame's first instance below
    local = np.arange(int(counts.sum())) - np.repeat(first, counts)
    inst = store.instances_data[np.repeat(starts, counts) + local]
    f = inst.dtype.names
    kind = np.asarray(inst[f[1]], np.int64)
    skel = np.asarray(inst[f[3]], np.int64)
    track = np.asarray(inst[f[4]], np.int64)
    score = np.asarray(inst[f[6]], np.float32)
    p_start = np.asarray(inst[f[7]], np.int64)
    p_end = np.asarray(inst[f[8]], np.int64)

    n = len(inst)
    points = np.full((n, len(node_names), 2), np.nan, np.float32)
    skeletons = list(store.skeletons)
    for s in np.unique(skel):
        s_names = list(skeletons[int(s)].node_names)
        cols = [s_names.index(name) if name in s_names else -1 for name in node_names]
        for k, table in ((USER, store.points_data), (PREDICTED, store.pred_points_data)):
            sel = np.flatnonzero((skel == s) & ((kind == PREDICTED) == (k == PREDICTED)))
            if not len(sel):
                continue
            width = p_end[sel] - p_start[sel]
            if np.any(width != len(s_names)):
                return None  # unexpected layout: let sleap-io materialise it
            idx = p_start[sel][:, None] + np.arange(len(s_names))[None, :]
            pts = table[idx]
            xy = np.stack([pts["x"], pts["y"]], axis=-1).astype(np.float64)
            if store.format_id < 1.1:
                xy -= 0.5
            xy[~np.asarray(pts["visible"], bool)] = np.nan
            for j, c in enumerate(cols):
                if c >= 0:
                    points[sel, j] = xy[:, c]
    return SlpArrays(
        frame_idx=frame_idx,
        frame_start=np.r_[0, np.cumsum(counts)].astype(np.int64),
        instance_idx=local.astype(np.int32),
        track_id=np.where(track >= 0, track, -1),
        score=np.where(kind == PREDICTED, score, np.float32(1.0)).astype(np.float32),
        predicted=kind == PREDICTED,
        points=points,
    )
