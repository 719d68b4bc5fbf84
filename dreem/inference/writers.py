"""Writers for tracking results: the tracks table, SLEAP ``.slp`` and CTC ``_RES`` folders.

All outputs are written atomically (temporary sibling, then rename). Each writer takes an
optional ``stage`` (from :func:`dreem.utils.atomic.atomic_group`): the track stage passes
one so that a video's table, CSV and native output are published together or not at all.

SLEAP (:func:`write_slp`; one-video files through flat arrays, :mod:`dreem.inference.slp_flat`,
same output): the input ``.slp`` is reloaded and only the shard's video is kept,
with every labelled frame and every instance of the input exactly once (user instances stay
``Instance``, predicted stay ``PredictedInstance``; points and scores unchanged). Tracks
come only from the predictions (``track_0``, ``track_1``, … named by predicted id; the input
file's tracks are discarded) and ``tracking_score`` is the assignment confidence. Instances
that are not in the shard (all-NaN poses, or predicted duplicates dropped at extraction) are
kept untracked. Frames flagged uncertain become SLEAP suggestions. The video is stored by its
path relative to the output ``.slp`` (absolute only where no relative path exists, e.g.
another drive), so results and data can move together; the input's video metadata (shape,
grayscale) is kept and the frame rate recorded (``fps``, from the video container or the
input). Readers resolve such paths relative to the ``.slp`` (sleap-io itself resolves only
a bare file name next to it; :func:`dreem.io.slp.resolve_slp_video` handles both).

CTC (:func:`write_ctc_res`): ``maskTTT.tif`` for every frame (uint16; each input GT label is
relabelled to its predicted track; unassigned instances are erased) and ``res_track.txt``
(``L B E P``). A track's first continuous segment has label ``track_id + 1``; when a track
disappears and reappears, each later segment gets a fresh label whose parent is the
previous segment (the CTC way to encode a gap); all other parents are 0 (no divisions are
predicted).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from dreem.io.shards import ShardData, ShardMeta
from dreem.utils.atomic import atomic_path
from dreem.utils.errors import InputDataError

Stage = Callable[..., Path]


@contextlib.contextmanager
def _output(path: Path, stage: Stage | None, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path for ``path``: staged in ``stage``'s group, else its own atomic write."""
    if stage is not None:
        yield stage(path, suffix)
        return
    with atomic_path(path, suffix) as tmp:
        yield tmp


def write_table(
    table: pd.DataFrame, out_prefix: Path, stage: Stage | None = None
) -> tuple[Path, Path]:
    """Write ``{out_prefix}.csv`` and ``{out_prefix}.parquet`` (the Parquet table last: it
    marks the set complete)."""
    pq_path, csv_path = Path(f"{out_prefix}.parquet"), Path(f"{out_prefix}.csv")
    with _output(csv_path, stage) as tmp:
        table.to_csv(tmp, index=False)
    with _output(pq_path, stage) as tmp:
        table.to_parquet(tmp, index=False)
    return pq_path, csv_path


def _load_labels(path: str, lazy: bool):
    import sleap_io as sio

    try:
        return sio.load_slp(path, open_videos=False, lazy=lazy)
    except Exception as e:
        raise InputDataError(f"cannot read SLEAP labels file {path}: {e}") from e


def write_slp(
    table: pd.DataFrame,
    data: ShardData,
    out_path: Path,
    uncertain_frames=(),
    stage: Stage | None = None,
) -> Path:
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
    out_path = Path(out_path)
    written = write_slp_flat(
        labels,
        table,
        uncertain_frames,
        _provenance(meta),
        point_video=lambda video: _point_video_at(video, Path(meta.video_path), out_path),
        output=lambda: _output(out_path, stage),
    )
    if written:
        return out_path
    return _write_slp_objects(table, data, out_path, uncertain_frames, stage)


def _provenance(meta: ShardMeta) -> dict:
    return {
        "dreem_pipeline": "track",
        "source": str(meta.labels_path),
        "video_path": str(Path(meta.video_path).resolve()),
    }


def _write_slp_objects(
    table: pd.DataFrame, data: ShardData, out_path: Path, uncertain_frames, stage: Stage | None
) -> Path:
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
    _point_video_at(video, Path(meta.video_path), Path(out_path))
    out = sio.Labels(
        labeled_frames=frames,
        videos=[video],
        skeletons=list(labels.skeletons),
        tracks=[tracks[t] for t in sorted(tracks)],
        suggestions=[sio.SuggestionFrame(video=video, frame_idx=int(f)) for f in uncertain_frames],
        provenance=_provenance(meta),
    )
    with _output(Path(out_path), stage) as tmp:
        sio.save_slp(out, str(tmp), verbose=False)
    return Path(out_path)


def video_reference(video_path: Path, slp_path: Path) -> str:
    """How an output ``.slp`` names its video: relative to the ``.slp``'s folder where a
    relative path exists, else absolute (POSIX separators either way)."""
    video = Path(video_path).resolve()
    try:
        rel = os.path.relpath(video, Path(slp_path).resolve().parent)
    except ValueError:  # another drive (Windows)
        return video.as_posix()
    return Path(rel).as_posix()


def _point_video_at(video, video_path: Path, slp_path: Path) -> None:
    """Store ``video_path`` relative to ``slp_path`` in ``video``, keeping its metadata
    (shape, grayscale) and recording the frame rate."""
    from dreem.io.video import video_fps

    meta = dict(getattr(video, "backend_metadata", None) or {})
    fps = video_fps(video_path) or meta.get("fps")
    name = video_reference(video_path, slp_path)
    try:
        video.replace_filename(name, open=False)
    except Exception:  # older sleap-io: plain attribute
        video.filename = name
    meta.update(filename=name)
    if fps:
        meta["fps"] = float(fps)
    video.backend_metadata = meta


def _open_masks(meta: ShardMeta):
    from dreem.io.ctc import open_masks

    return open_masks(Path(meta.labels_path), (meta.extra or {}).get("gt_files"))


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


def write_ctc_res(
    table: pd.DataFrame, meta: ShardMeta, out_dir: Path, stage: Stage | None = None
) -> Path:
    """Write a CTC ``_RES`` folder for a CTC shard (see module docstring) and, beside it,
    ``{out_dir}.json`` naming the ground truth and raw frames it belongs to."""
    import tifffile

    from dreem.io.ctc import read_mask

    segs = track_segments(table)
    if len(segs) and segs.label.max() > np.iinfo(np.uint16).max:
        raise InputDataError(f"{out_dir}: more than 65535 track segments do not fit uint16 masks")
    masks = _open_masks(meta)
    n = len(masks)
    width = max(3, len(str(n - 1)))
    by_frame = {f: g for f, g in table.groupby("frame_idx")}
    with contextlib.closing(masks), _output(Path(out_dir), stage, suffix="") as tmp:
        tmp.mkdir(parents=True)
        for f in range(n):
            gt = read_mask(masks, f)
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
    # beside (not inside) the _RES folder, so CTC tools see only what they expect
    source = {"gt_tra_dir": str(meta.labels_path), "raw_dir": str(meta.video_path)}
    with _output(Path(f"{out_dir}.json"), stage) as tmp:
        tmp.write_text(json.dumps(source, indent=1))
    return Path(out_dir)
