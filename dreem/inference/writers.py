"""Writers for tracking results: the tracks table, SLEAP ``.slp`` and CTC ``_RES`` folders.

All outputs are written atomically (temporary sibling, then rename).

SLEAP (:func:`write_slp`; one-video files through flat arrays, :mod:`dreem.inference.slp_flat`,
same output): the input ``.slp`` is reloaded and only the shard's video is kept,
with every labelled frame and every instance of the input exactly once (user instances stay
``Instance``, predicted stay ``PredictedInstance``; points and scores unchanged). Tracks
come only from the predictions (``track_0``, ``track_1``, … named by predicted id; the input
file's tracks are discarded) and ``tracking_score`` is the assignment confidence. Instances
that are not in the shard (all-NaN poses, or predicted duplicates dropped at extraction) are
kept untracked. Frames flagged uncertain become SLEAP suggestions. The video path is stored
as the absolute path of the shard's video.

CTC (:func:`write_ctc_res`): ``maskTTT.tif`` for every frame (uint16; each input GT label is
relabelled to its predicted track; unassigned instances are erased) and ``res_track.txt``
(``L B E P``). A track's first continuous segment has label ``track_id + 1``; when a track
disappears and reappears, each later segment gets a fresh label whose parent is the
previous segment (the CTC way to encode a gap); all other parents are 0 (no divisions are
predicted).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from dreem.io.shards import ShardData, ShardMeta
from dreem.utils.atomic import atomic_path, write_text_atomic
from dreem.utils.errors import InputDataError


def write_table(table: pd.DataFrame, out_prefix: Path) -> tuple[Path, Path]:
    """Write ``{out_prefix}.parquet`` and ``{out_prefix}.csv``."""
    pq_path, csv_path = Path(f"{out_prefix}.parquet"), Path(f"{out_prefix}.csv")
    with atomic_path(pq_path) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    return pq_path, csv_path


def _load_labels(path: str, lazy: bool):
    import sleap_io as sio

    try:
        return sio.load_slp(path, open_videos=False, lazy=lazy)
    except Exception as e:
        raise InputDataError(f"cannot read SLEAP labels file {path}: {e}") from e


def write_slp(table: pd.DataFrame, data: ShardData, out_path: Path, uncertain_frames=()) -> Path:
    """Write the predictions of a SLEAP shard as a ``.slp`` (see module docstring).

    A one-video file is rewritten from sleap-io's flat arrays (memory and time a small
    fraction of one object per instance; long videos); other files through the objects.
    """
    from dreem.inference.slp_flat import write_slp_flat

    meta = data.meta
    labels = _load_labels(str(meta.labels_path), lazy=True)
    if not 0 <= meta.slp_video_index < len(labels.videos):
        raise InputDataError(
            f"{meta.labels_path}: slp_video_index {meta.slp_video_index} out of range"
        )
    provenance = {"dreem_pipeline": "track", "source": str(meta.labels_path)}
    video_path = str(Path(meta.video_path).resolve())
    if write_slp_flat(labels, table, out_path, uncertain_frames, video_path, provenance):
        return Path(out_path)
    return _write_slp_objects(table, data, out_path, uncertain_frames)


def _write_slp_objects(table: pd.DataFrame, data: ShardData, out_path: Path, uncertain_frames):
    """:func:`write_slp` through sleap-io objects (any file)."""
    import sleap_io as sio

    meta = data.meta
    labels = _load_labels(str(meta.labels_path), lazy=False)
    if not 0 <= meta.slp_video_index < len(labels.videos):
        raise InputDataError(
            f"{meta.labels_path}: slp_video_index {meta.slp_video_index} out of range"
        )
    video = labels.videos[meta.slp_video_index]
    pred = {
        (int(f), int(i)): (int(t), float(c))
        for f, i, t, c in zip(
            table.frame_idx, table.instance_idx, table.track_id, table.confidence, strict=True
        )
    }
    tracks: dict[int, object] = {}
    frames = []
    for lf in sorted(
        (lf for lf in labels.labeled_frames if lf.video is video), key=lambda x: x.frame_idx
    ):
        for idx, inst in enumerate(lf.instances):
            tid, conf = pred.get((int(lf.frame_idx), idx), (-1, None))
            if tid >= 0:
                if tid not in tracks:
                    tracks[tid] = sio.Track(name=f"track_{tid}")
                inst.track = tracks[tid]
                inst.tracking_score = conf
            else:
                inst.track = None
                inst.tracking_score = 0.0 if isinstance(inst, sio.PredictedInstance) else None
        frames.append(lf)
    try:
        video.replace_filename(str(Path(meta.video_path).resolve()), open=False)
    except Exception:  # older sleap-io: plain attribute
        video.filename = str(Path(meta.video_path).resolve())
    out = sio.Labels(
        labeled_frames=frames,
        videos=[video],
        skeletons=list(labels.skeletons),
        tracks=[tracks[t] for t in sorted(tracks)],
        suggestions=[sio.SuggestionFrame(video=video, frame_idx=int(f)) for f in uncertain_frames],
        provenance={"dreem_pipeline": "track", "source": str(meta.labels_path)},
    )
    with atomic_path(out_path) as tmp:
        sio.save_slp(out, str(tmp), verbose=False)
    return Path(out_path)


def _open_masks(meta: ShardMeta):
    from dreem.io.ctc import mask_files
    from dreem.io.tiff_frames import TiffFrames

    gt_files = (meta.extra or {}).get("gt_files")
    lp = Path(meta.labels_path)
    if gt_files:
        return TiffFrames([Path(p) for p in gt_files])
    if lp.is_dir():
        return TiffFrames(mask_files(lp))
    return TiffFrames(lp)


def track_segments(table: pd.DataFrame) -> pd.DataFrame:
    """CTC segments ``(track_id, label, begin, end, parent)`` from a tracks table.

    A track is split wherever it skips a frame; the first segment is labelled
    ``track_id + 1``, later ones get fresh labels with the previous segment as parent.
    """
    t = table[table.track_id >= 0]
    next_label = int(t.track_id.max()) + 2 if len(t) else 1
    rows = []
    for tid, frames in t.groupby("track_id").frame_idx:
        fr = np.unique(frames.to_numpy())
        cuts = np.flatnonzero(np.diff(fr) > 1) + 1
        parent = 0
        for k, seg in enumerate(np.split(fr, cuts)):
            if k == 0:
                label = int(tid) + 1
            else:
                label, next_label = next_label, next_label + 1
            rows.append((int(tid), label, int(seg[0]), int(seg[-1]), parent))
            parent = label
    return pd.DataFrame(rows, columns=["track_id", "label", "begin", "end", "parent"])


def write_ctc_res(table: pd.DataFrame, meta: ShardMeta, out_dir: Path) -> Path:
    """Write a CTC ``_RES`` folder for a CTC shard (see module docstring)."""
    import tifffile

    segs = track_segments(table)
    if len(segs) and segs.label.max() > np.iinfo(np.uint16).max:
        raise InputDataError(f"{out_dir}: more than 65535 track segments do not fit uint16 masks")
    masks = _open_masks(meta)
    n = len(masks)
    width = max(3, len(str(n - 1)))
    by_frame = {f: g for f, g in table.groupby("frame_idx")}
    with atomic_path(out_dir, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for f in range(n):
            gt = masks.read(f)[:, :, 0]
            out = np.zeros(gt.shape, np.uint16)
            g = by_frame.get(f)
            if g is not None:
                labels = np.unique(gt)
                labels = labels[labels != 0]
                lut = np.zeros(int(labels.max()) + 1 if len(labels) else 1, np.uint16)
                for inst, tid in zip(g.instance_idx, g.track_id, strict=True):
                    if tid < 0 or inst >= len(labels):
                        continue
                    seg = segs[(segs.track_id == tid) & (segs.begin <= f) & (segs.end >= f)]
                    lut[labels[inst]] = int(seg.label.iloc[0])
                out = lut[gt.astype(np.int64)]
            tifffile.imwrite(tmp / f"mask{f:0{width}d}.tif", out)
        lines = [f"{r.label} {r.begin} {r.end} {r.parent}" for r in segs.itertuples()]
        (tmp / "res_track.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    masks.close()
    # beside (not inside) the _RES folder, so CTC tools see only what they expect
    source = {"gt_tra_dir": str(meta.labels_path), "raw_dir": str(meta.video_path)}
    write_text_atomic(Path(f"{out_dir}.json"), json.dumps(source, indent=1))
    return Path(out_dir)
