"""Centroid tables (TrackMate / ISBI / ICY) + frames as a :class:`LabelSource`.

Frames come from a multi-page TIFF stack, a folder of per-frame TIFFs (natural sort), an
explicit frame list (``extra["frames"]``) or a video file (decoded sequentially). Each table
row is one instance with a single node ``centroid``; ``instance_idx`` is the row order
within its frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dreem.io.source_types import (
    TABLE_FORMATS,
    SourceFrame,
    SourceInstance,
    intensity_range_for,
    progress_bar,
)
from dreem.io.tiff_frames import TIFF_SUFFIXES, TiffFrames
from dreem.utils.errors import InputDataError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


def parse_table(path: Path, source: str):
    """Detections table (``frame, track_id, x, y``) of a label file of ``source``."""
    if source == "trackmate":
        from dreem.io.trackmate import parse_trackmate

        return parse_trackmate(path)
    if source in ("isbi", "icy"):
        from dreem.io.isbi_icy import parse_isbi_icy

        return parse_isbi_icy(path, source)
    raise InputDataError(
        f"{path}: unknown label source {source!r}; valid sources are {', '.join(TABLE_FORMATS)}"
    )


class TableSource:
    """A detections table plus its frames."""

    def __init__(
        self, labels_path: Path, video_path: Path, source: str, extra: dict[str, Any] | None = None
    ):
        self.labels_path = Path(labels_path)
        self.video_path = Path(video_path)
        self.format = source
        self.extra = dict(extra or {})
        if not self.labels_path.exists():
            raise InputDataError(f"labels file not found: {self.labels_path}")
        table = parse_table(self.labels_path, source)
        self.n_dropped_nan = 0
        frames = self.extra.get("frames")
        self._video = None
        self._luma = False
        self._tiff: TiffFrames | None = None
        if frames:
            self._tiff = TiffFrames([Path(f) for f in frames])
        elif not self.video_path.exists():
            raise InputDataError(f"video / frames not found: {self.video_path}")
        elif self.video_path.is_file() and self.video_path.suffix.lower() in VIDEO_SUFFIXES:
            from dreem.io.video import is_grey, probe_video

            probe = probe_video(self.video_path)
            self._video = is_grey(probe["first_frame"], tol=2)  # grayscale flag
            self._luma = self._video and not is_grey(probe["first_frame"])
            self.n_frames = probe["n_frames"]
            self.height, self.width = probe["height"], probe["width"]
            self.channels = 1 if self._video else 3
            self.dtype = np.dtype(probe["dtype"])
        elif self.video_path.is_dir() or self.video_path.suffix.lower() in TIFF_SUFFIXES:
            self._tiff = TiffFrames(self.video_path)
        else:
            raise InputDataError(
                f"unsupported frames {self.video_path}: expected a TIFF stack, a folder of "
                f"TIFFs or a video ({', '.join(VIDEO_SUFFIXES)})"
            )
        if self._tiff is not None:
            t = self._tiff
            self.n_frames, self.height, self.width, self.channels = (
                t.n_frames,
                t.height,
                t.width,
                t.channels,
            )
            self.dtype = np.dtype(t.dtype)
        self.intensity_range = intensity_range_for(
            self.dtype,
            self._tiff.sample() if self._tiff is not None and self.dtype != np.uint8 else None,
        )
        last = int(table["frame"].max())
        self.n_dropped_beyond = 0
        if last >= self.n_frames:
            if not self.extra.get("truncate_labels"):
                raise InputDataError(
                    f"labels {self.labels_path} reference frame {last} but {self.video_path} "
                    f"has {self.n_frames} frames (set truncate_labels: true in the dataset spec "
                    "to ignore labels beyond the last frame)"
                )
            beyond = table["frame"] >= self.n_frames
            self.n_dropped_beyond = int(beyond.sum())
            table = table[~beyond]
        self.node_names = ["centroid"]
        self.edges: list[tuple[int, int]] = []
        self._frames: dict[int, list[SourceInstance]] = {}
        for f, grp in table.groupby("frame", sort=True):
            tids = grp["track_id"].to_numpy()
            tracked = tids[tids >= 0]
            if len(np.unique(tracked)) != len(tracked):
                vals, counts = np.unique(tracked, return_counts=True)
                dup = int(vals[counts > 1][0])
                raise InputDataError(
                    f"{self.labels_path}: frame {int(f)} has {int(counts.max())} detections of "
                    f"track {dup}; one detection per track per frame is required"
                )
            insts = []
            for k, (tid, x, y) in enumerate(
                zip(tids, grp["x"].to_numpy(np.float32), grp["y"].to_numpy(np.float32), strict=True)
            ):
                if not (np.isfinite(x) and np.isfinite(y)):
                    self.n_dropped_nan += 1
                    continue
                insts.append(
                    SourceInstance(
                        instance_idx=k,
                        track_id=int(tid),
                        track_name=str(int(tid)) if tid >= 0 else None,
                        score=1.0,
                        points=np.array([[x, y]], np.float32),
                        mask=None,
                    )
                )
            if insts:
                self._frames[int(f)] = insts
        if not self._frames:
            raise InputDataError(f"{self.labels_path}: no detections")
        ids = sorted({i.track_id for v in self._frames.values() for i in v if i.track_id >= 0})
        self.track_names = [str(i) for i in ids]
        self.n_tracks = len(ids)
        self.n_labeled_frames = len(self._frames)
        self.n_instances = sum(len(v) for v in self._frames.values())

    def iter_frames(self, progress: bool = False) -> Iterator[SourceFrame]:
        """Labelled frames in increasing order."""
        order = sorted(self._frames)
        if self._tiff is not None:
            it = self._tiff.iter_indices(order)
        else:
            from dreem.io.video import read_frames_sequential

            it = read_frames_sequential(self.video_path, order, bool(self._video), self._luma)
        for f, image in progress_bar(it, len(order), f"read {self.video_path.name}", progress):
            yield SourceFrame(f, image, self._frames[f])

    def close(self) -> None:
        if self._tiff is not None:
            self._tiff.close()
