"""SLEAP ``.slp`` labels + video (mp4/avi) as a :class:`~dreem.io.sources.LabelSource`.

Labels are read with sleap-io (without opening its video backends); pixels are decoded
sequentially with OpenCV (see :mod:`dreem.io.video`).

Per frame (matching the reference's useful behaviour):

* instances whose points are all NaN are skipped and counted in ``n_dropped_nan``;
* one instance per track: a ``PredictedInstance`` sharing its track with a user
  ``Instance`` is dropped (the user one is kept, counted in ``n_dropped_predicted``); any
  other repeated track in one frame is an :class:`InputDataError`;
* untracked instances are all kept with ``track_id = -1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreem.io.slp_arrays import SlpArrays, read_slp_arrays
from dreem.io.source_types import SourceFrame, SourceInstance, progress_bar, require_file
from dreem.io.video import is_grey, probe_video, read_frames_sequential
from dreem.utils.errors import InputDataError


def slp_video_filenames(path: str | Path) -> list[str]:
    """Video file names stored in a ``.slp`` (cheap: reads only HDF5 metadata)."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "videos_json" not in f:
                return []
            names = []
            for raw in f["videos_json"][()]:
                info = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
                backend = info.get("backend", {}) or {}
                names.append(str(backend.get("filename", info.get("filename", ""))))
            return names
    except (OSError, ValueError, KeyError) as e:
        raise InputDataError(f"cannot read SLEAP labels file {path}: {e}") from e


def resolve_slp_video(slp_path: Path, filename: str) -> Path | None:
    """Locate a video named inside a ``.slp``: as stored, relative to the .slp, or by basename
    next to it. ``None`` if not found."""
    if not filename:
        return None
    p = Path(filename)
    candidates = [p] if p.is_absolute() else [slp_path.parent / p, p]
    candidates.append(slp_path.parent / Path(filename.replace("\\", "/")).name)
    for c in candidates:
        if c.exists():
            return c
    return None


@dataclass
class _FrameLabels:
    frame_idx: int
    instances: list[SourceInstance]

    def release(self) -> None:
        """Nothing to free: the instances are kept for the next iteration."""


class _ArrayFrame:
    """One labelled frame of :class:`_ArrayFrames`; its instances are built on access."""

    __slots__ = ("frame_idx", "_owner", "_rows", "_cache")

    def __init__(self, frame_idx: int, owner: _ArrayFrames, rows: np.ndarray):
        self.frame_idx = frame_idx
        self._owner, self._rows, self._cache = owner, rows, None

    @property
    def instances(self) -> list[SourceInstance]:
        if self._cache is None:
            self._cache = self._owner.instances(self._rows)
        return self._cache

    def release(self) -> None:
        self._cache = None


class _ArrayFrames:
    """The kept labelled frames of a video over :class:`SlpArrays`, sorted by frame index
    (a sequence of frames, each with ``frame_idx`` and ``instances``)."""

    def __init__(self, a: SlpArrays, keep: np.ndarray, order: np.ndarray, track_names):
        self.a, self.track_names = a, list(track_names)
        self._frames = []
        for pos in order:
            lo, hi = a.frame_start[pos], a.frame_start[pos + 1]
            rows = lo + np.flatnonzero(keep[lo:hi])
            if len(rows):
                self._frames.append(_ArrayFrame(int(a.frame_idx[pos]), self, rows))
        tids = a.track_id[keep]
        self.n_instances = int(keep.sum())
        self.n_tracks = len(np.unique(tids[tids >= 0]))

    def __iter__(self):
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i):
        return self._frames[i]

    def instances(self, rows: np.ndarray) -> list[SourceInstance]:
        a = self.a
        out = []
        for r in rows:
            tid = int(a.track_id[r])
            out.append(
                SourceInstance(
                    instance_idx=int(a.instance_idx[r]),
                    track_id=tid,
                    track_name=self.track_names[tid] if tid >= 0 else None,
                    score=float(a.score[r]),
                    points=a.points[r].copy(),
                    mask=None,
                    is_predicted=bool(a.predicted[r]),
                )
            )
        return out


class SleapSource:
    """Labels of one video of a ``.slp`` file plus sequential access to its pixels."""

    format = "slp"

    def __init__(
        self,
        labels_path: Path,
        video_path: Path,
        slp_video_index: int = 0,
        extra: dict[str, Any] | None = None,
    ):
        import sleap_io as sio

        self.labels_path = require_file(Path(labels_path), "SLEAP labels file")
        self.video_path = require_file(Path(video_path), "video file")
        self.slp_video_index = int(slp_video_index)
        self.extra = dict(extra or {})
        try:  # lazily: the frame/instance/point tables stay flat arrays (slp_arrays)
            labels = sio.load_slp(str(self.labels_path), open_videos=False, lazy=True)
        except Exception as e:  # sleap-io raises many types for corrupt files
            raise InputDataError(f"cannot read SLEAP labels file {self.labels_path}: {e}") from e
        if not labels.videos:
            raise InputDataError(f"{self.labels_path}: the .slp file references no video")
        if not 0 <= self.slp_video_index < len(labels.videos):
            raise InputDataError(
                f"{self.labels_path}: slp_video_index {self.slp_video_index} out of range "
                f"(file has {len(labels.videos)} videos)"
            )
        video = labels.videos[self.slp_video_index]
        skeleton = labels.skeletons[-1] if labels.skeletons else None
        self.node_names: list[str] = list(skeleton.node_names) if skeleton else []
        self.edges: list[tuple[int, int]] = (
            [(int(a), int(b)) for a, b in skeleton.edge_inds] if skeleton else []
        )
        self.track_names: list[str] = [t.name for t in labels.tracks]
        self.n_dropped_nan = 0
        self.n_dropped_predicted = 0
        arrays = read_slp_arrays(labels, self.slp_video_index, self.node_names)
        if arrays is not None:
            self._frames: _ArrayFrames | list[_FrameLabels] = self._array_frames(arrays)
        else:  # eager labels: one object per instance
            labels = sio.load_slp(str(self.labels_path), open_videos=False)
            video = labels.videos[self.slp_video_index]
            skeleton = labels.skeletons[-1] if labels.skeletons else None
            self._frames = self._object_frames(labels, video, skeleton)
        frame_ids = [fl.frame_idx for fl in self._frames]
        seen: set[int] = set()
        for f in frame_ids:
            if f in seen:
                raise InputDataError(
                    f"{self.labels_path}: frame {f} is labelled twice for video "
                    f"{self.slp_video_index}"
                )
            seen.add(f)
        if not frame_ids:
            raise InputDataError(
                f"{self.labels_path}: no labelled instances for video {self.slp_video_index} "
                f"({video.filename}) after skipping {self.n_dropped_nan} all-NaN instances"
            )
        self.n_labeled_frames = len(frame_ids)
        if isinstance(self._frames, _ArrayFrames):
            self.n_instances = self._frames.n_instances
            self.n_tracks = self._frames.n_tracks
        else:
            self.n_instances = sum(len(f.instances) for f in self._frames)
            self.n_tracks = len(
                {i.track_id for f in self._frames for i in f.instances if i.track_id >= 0}
            )

        meta = getattr(video, "backend_metadata", {}) or {}
        probe = probe_video(self.video_path)
        first = probe["first_frame"]
        # grey when the .slp says so or the frames are grey (up to codec noise); frames whose
        # channels are not exactly equal are converted by luminance
        self.grayscale = bool(meta.get("grayscale")) or is_grey(first, tol=2)
        self.luma = self.grayscale and not is_grey(first)
        self.n_frames = int(probe["n_frames"])
        self.height = int(probe["height"])
        self.width = int(probe["width"])
        self.channels = 1 if self.grayscale else 3
        self.dtype = np.dtype(probe["dtype"])
        self.intensity_range = (0.0, 255.0)
        last = self._frames[-1].frame_idx
        if self.n_frames and last >= self.n_frames:
            raise InputDataError(
                f"labels reference frame {last} but video {self.video_path} has "
                f"{self.n_frames} frames ({self.labels_path})"
            )

    def _object_frames(self, labels, video, skeleton) -> list[_FrameLabels]:
        """The labelled frames of ``video`` from sleap-io objects, sorted by frame index."""
        track_index = {id(t): i for i, t in enumerate(labels.tracks)}
        frames = []
        lfs = sorted(
            (lf for lf in labels.labeled_frames if lf.video is video), key=lambda lf: lf.frame_idx
        )
        for lf in lfs:
            insts = self._frame_instances(lf, skeleton, track_index)
            if insts:
                frames.append(_FrameLabels(int(lf.frame_idx), insts))
        return frames

    def _array_frames(self, a: SlpArrays) -> _ArrayFrames:
        """The same selection as :meth:`_object_frames`, on flat arrays: all-NaN instances
        dropped, one instance per track per frame, frames sorted by frame index."""
        keep = np.isfinite(a.points).any(axis=(1, 2))
        self.n_dropped_nan = int((~keep).sum())
        n_frames = len(a.frame_idx)
        frame_of = np.repeat(np.arange(n_frames), np.diff(a.frame_start))
        order = np.argsort(a.frame_idx, kind="stable")  # frame rows by frame index
        rank = np.empty(n_frames, np.int64)
        rank[order] = np.arange(n_frames)
        tracked = np.flatnonzero(keep & (a.track_id >= 0))
        key = frame_of[tracked] * (int(a.track_id.max(initial=0)) + 1) + a.track_id[tracked]
        _, first, inverse, counts = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
        for g in sorted(
            np.flatnonzero(counts > 1), key=lambda g: (rank[frame_of[tracked[first[g]]]], first[g])
        ):
            members = tracked[inverse == g]
            users = members[~a.predicted[members]]
            if len(users) == 1:
                preds = members[a.predicted[members]]
                keep[preds] = False
                self.n_dropped_predicted += len(preds)
                continue
            tid = int(a.track_id[members[0]])
            raise InputDataError(
                f"{self.labels_path}: frame {int(a.frame_idx[frame_of[members[0]]])} has "
                f"{len(members)} instances of track {self.track_names[tid]!r} (track id {tid}, "
                f"instance indices {[int(a.instance_idx[m]) for m in members]}); one instance "
                "per track per frame is required"
            )
        return _ArrayFrames(a, keep, order, self.track_names)

    def _frame_instances(self, lf, skeleton, track_index: dict[int, int]) -> list[SourceInstance]:
        import sleap_io as sio

        kept: list[SourceInstance] = []
        for idx, inst in enumerate(lf.instances):
            pts = _instance_points(inst, skeleton, self.node_names)
            if not np.isfinite(pts).any():
                self.n_dropped_nan += 1
                continue
            predicted = isinstance(inst, sio.PredictedInstance)
            track = inst.track
            tid = track_index.get(id(track), -1) if track is not None else -1
            if track is not None and tid < 0:  # track object not in labels.tracks: match by name
                tid = self.track_names.index(track.name) if track.name in self.track_names else -1
            score = float(inst.score) if predicted and inst.score is not None else 1.0
            kept.append(
                SourceInstance(
                    instance_idx=idx,
                    track_id=tid,
                    track_name=track.name if track is not None else None,
                    score=score,
                    points=pts,
                    mask=None,
                    is_predicted=predicted,
                )
            )
        return self._dedup_tracks(kept, int(lf.frame_idx))

    def _dedup_tracks(self, insts: list[SourceInstance], frame_idx: int) -> list[SourceInstance]:
        by_track: dict[int, list[SourceInstance]] = {}
        for s in insts:
            if s.track_id >= 0:
                by_track.setdefault(s.track_id, []).append(s)
        drop: set[int] = set()
        for tid, group in by_track.items():
            if len(group) == 1:
                continue
            users = [s for s in group if not s.is_predicted]
            if len(users) == 1:
                preds = [s for s in group if s.is_predicted]
                drop.update(id(s) for s in preds)
                self.n_dropped_predicted += len(preds)
                continue
            name = group[0].track_name
            raise InputDataError(
                f"{self.labels_path}: frame {frame_idx} has {len(group)} instances of track "
                f"{name!r} (track id {tid}, instance indices "
                f"{[s.instance_idx for s in group]}); one instance per track per frame is required"
            )
        return [s for s in insts if id(s) not in drop]

    def iter_frames(self, progress: bool = False) -> Iterator[SourceFrame]:
        """Labelled frames in increasing order; the video is decoded once, sequentially."""
        frames = {f.frame_idx: f for f in self._frames}
        it = read_frames_sequential(self.video_path, frames.keys(), self.grayscale, self.luma)
        for frame_idx, image in progress_bar(
            it, len(frames), f"decode {self.video_path.name}", progress
        ):
            yield SourceFrame(frame_idx, image, frames[frame_idx].instances)
            frames[frame_idx].release()

    def close(self) -> None:
        """Nothing is held open between iterations."""


def _instance_points(inst, skeleton, node_names: list[str]) -> np.ndarray:
    pts = np.asarray(inst.numpy(), dtype=np.float32).reshape(-1, 2)
    if (
        skeleton is None
        or inst.skeleton is skeleton
        or list(inst.skeleton.node_names) == node_names
    ):
        return pts
    out = np.full((len(node_names), 2), np.nan, np.float32)
    names = list(inst.skeleton.node_names)
    for j, n in enumerate(node_names):
        if n in names:
            out[j] = pts[names.index(n)]
    return out
