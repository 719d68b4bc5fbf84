"""Identity tables for trackers that re-label the ground-truth detections themselves.

A peer tracker (e.g. sleap-nn's) is given the ground-truth detections as untracked
predictions and writes a tracked ``.slp``. Its instances are the ground-truth instances
moved to tracks, with the same coordinates, so each output instance is matched to the
ground-truth instance of the same frame with identical points (within ``atol`` pixels).
The result is a tracks table (``frame_idx, track_id, gt_track_id`` + centroids) that
:func:`dreem.evaluation.evaluate.evaluate_tracks` scores identity-only; ground-truth
detections the tracker dropped or left untracked get ``track_id = -1`` (misses).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dreem.utils.errors import InputDataError


def _frames(labels) -> dict[int, list[tuple[np.ndarray, int]]]:
    """frame_idx -> [(points (n_nodes, 2), track index or -1)] of the first video."""
    video = labels.videos[0]
    track_index = {id(t): i for i, t in enumerate(labels.tracks)}
    out: dict[int, list] = {}
    for lf in labels.labeled_frames:
        if lf.video is not video:
            continue
        items = out.setdefault(int(lf.frame_idx), [])
        for inst in lf.instances:
            tid = track_index.get(id(inst.track), -1) if inst.track is not None else -1
            items.append((np.asarray(inst.numpy(), np.float64), tid))
    return out


def match_tracked_slp(tracked_slp: Path, gt_slp: Path, atol: float = 1e-3) -> pd.DataFrame:
    """Tracks table of ``tracked_slp`` against the ground truth ``gt_slp`` (module doc).

    Raises ``InputDataError`` when an output instance matches no ground-truth instance (the
    tracker moved or invented points, so matching by coordinates does not apply).
    """
    import sleap_io as sio

    gt = _frames(sio.load_slp(str(gt_slp), open_videos=False))
    pred = _frames(sio.load_slp(str(tracked_slp), open_videos=False))
    rows = []
    for frame, gt_items in sorted(gt.items()):
        cands = pred.get(frame, [])
        used: set[int] = set()
        for gt_pts, gt_tid in gt_items:
            tid = -1
            for j, (pts, p_tid) in enumerate(cands):
                if j in used or pts.shape != gt_pts.shape:
                    continue
                if np.allclose(pts, gt_pts, atol=atol, equal_nan=True):
                    used.add(j)
                    tid = p_tid
                    break
            c = np.nanmean(gt_pts, axis=0)
            rows.append((frame, tid, gt_tid, c[0], c[1]))
        extra = [j for j in range(len(cands)) if j not in used]
        if extra:
            raise InputDataError(
                f"{tracked_slp}: frame {frame} has {len(extra)} instance(s) that match no "
                f"ground-truth instance of {gt_slp} by coordinates"
            )
    table = pd.DataFrame(
        rows, columns=["frame_idx", "track_id", "gt_track_id", "centroid_x", "centroid_y"]
    )
    return table.astype({"frame_idx": np.int64, "track_id": np.int64, "gt_track_id": np.int64})
