"""Write tracks into a copy of a one-video ``.slp`` from sleap-io's flat arrays.

The same output as :func:`dreem.inference.writers.write_slp` builds from objects (every
labelled frame and instance of the input once, points and scores unchanged; tracks
``track_{id}`` from the predictions only, sorted by id; ``tracking_score`` = the assignment
confidence, 0 for unassigned predicted and NaN for unassigned user instances; uncertain
frames as the only suggestions; the video named as the caller's ``point_video`` sets it),
but only two columns of the ``instances`` table are rewritten, so memory and time stay a
small fraction of one Python object per instance.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import pandas as pd

from dreem.io.slp_arrays import PREDICTED, lazy_store


def write_slp_flat(
    labels,
    table: pd.DataFrame,
    uncertain_frames,
    provenance: dict,
    point_video: Callable[[object], None],
    output: Callable[[], AbstractContextManager[Path]],
) -> bool:
    """Write lazily loaded ``labels`` with the table's tracks to the temporary path that
    ``output()`` yields (the caller's atomic write); ``point_video`` sets the video's path.
    False (nothing written) when the file is not a one-video file of a current format (the
    caller uses objects then)."""
    import sleap_io as sio

    store = lazy_store(labels)
    if store is None or len(labels.videos) != 1 or float(store.format_id) < 1.2:
        return False
    inst = store.instances_data.copy()
    names = inst.dtype.names
    if "tracking_score" not in names or "track" not in names:
        return False
    frames = store.frames_data
    fn = frames.dtype.names
    starts = np.asarray(frames[fn[3]], np.int64)
    counts = np.asarray(frames[fn[4]], np.int64) - starts
    rows = np.repeat(starts, counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    if len(rows) != len(inst) or not np.array_equal(np.sort(rows), np.arange(len(inst))):
        return False  # instances not covered exactly once by the frames table
    frame_of = np.empty(len(inst), np.int64)
    local = np.empty(len(inst), np.int64)
    frame_of[rows] = np.repeat(np.asarray(frames[fn[2]], np.int64), counts)
    local[rows] = rows - np.repeat(starts, counts)

    # prediction per (frame, instance): binary search in the table's keys
    width = int(max(local.max(initial=0), table.instance_idx.max() if len(table) else 0)) + 1
    t_key = table.frame_idx.to_numpy(np.int64) * width + table.instance_idx.to_numpy(np.int64)
    order = np.argsort(t_key, kind="stable")
    t_key = t_key[order]
    key = frame_of * width + local
    pos = np.clip(np.searchsorted(t_key, key), 0, max(len(t_key) - 1, 0))
    hit = (t_key[pos] == key) if len(t_key) else np.zeros(len(key), bool)
    tid = np.where(hit, table.track_id.to_numpy(np.int64)[order][pos] if len(t_key) else -1, -1)
    conf = table.confidence.to_numpy(np.float64)[order][pos] if len(t_key) else np.zeros(len(key))
    assigned = hit & (tid >= 0)

    ids = np.unique(tid[assigned])
    tracks = [sio.Track(name=f"track_{int(t)}") for t in ids]
    inst["track"] = np.where(assigned, np.searchsorted(ids, tid), -1)
    predicted = np.asarray(inst[names[1]]) == PREDICTED
    inst["tracking_score"] = np.where(assigned, conf, np.where(predicted, 0.0, np.nan))

    video = labels.videos[0]
    point_video(video)
    store.instances_data = inst
    store.tracks = tracks
    labels.tracks = tracks
    labels.suggestions = [
        sio.SuggestionFrame(video=video, frame_idx=int(f)) for f in uncertain_frames
    ]
    labels.provenance = dict(provenance)
    with output() as tmp:
        sio.save_slp(labels, str(tmp), verbose=False)
    return True
