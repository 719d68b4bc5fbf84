"""Cell Tracking Challenge layout as a :class:`~dreem.io.sources.LabelSource`.

``X/`` holds raw frames (``t000.tif`` or ``frame_0000.tif``, natural sort, or one multi-page
TIFF stack, any integer or float dtype), ``X_GT/TRA/`` the integer label masks (label value =
track id; per-frame files or one stack; float masks are rejected, naming the file) and
optionally ``man_track.txt`` (lines ``L B E P``: label, begin frame, end frame, parent; a
label may have several lines when it disappears and reappears; labels missing from it or
listed without a mask are warned about, naming the file and the labels). Each non-zero label
of a mask is one instance: ``points`` is its centre of mass (one node, ``centroid``), ``mask``
its pixels.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dreem.io.source_types import (
    SourceFrame,
    SourceInstance,
    intensity_range_for,
    progress_bar,
)
from dreem.io.tiff_frames import TiffFrames, list_tiffs, trailing_number
from dreem.utils.errors import InputDataError

MAN_TRACK = "man_track.txt"
log = logging.getLogger(__name__)
_WARNED: set[tuple] = set()  # (file, size, mtime) already warned about in this process


def parse_man_track(path: Path) -> dict[int, list[tuple[int, int, int]]]:
    """``man_track.txt`` -> label -> list of (begin, end, parent) segments, in file order."""
    path = Path(path)
    out: dict[int, list[tuple[int, int, int]]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise InputDataError(f"cannot read {path}: {e}") from e
    for n, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise InputDataError(f"{path}:{n}: expected 4 integers 'L B E P', got {line!r}")
        try:
            lab, b, e, p = (int(x) for x in parts)
        except ValueError as err:
            raise InputDataError(
                f"{path}:{n}: expected 4 integers 'L B E P', got {line!r}"
            ) from err
        if e < b:
            raise InputDataError(f"{path}:{n}: end frame {e} before begin frame {b}")
        out.setdefault(lab, []).append((b, e, p))
    return out


def centres_of_mass(mask: np.ndarray, ids: np.ndarray) -> list[tuple[float, float]]:
    """(y, x) centre of mass of each label in ``ids`` of a 2-D label image."""
    yy, xx = np.nonzero(mask)
    lab = mask[yy, xx].astype(np.int64)
    n = int(lab.max()) + 1 if len(lab) else 1
    count = np.bincount(lab, minlength=n).astype(np.float64)
    ys = np.bincount(lab, weights=yy.astype(np.float64), minlength=n)
    xs = np.bincount(lab, weights=xx.astype(np.float64), minlength=n)
    return [(ys[i] / count[i], xs[i] / count[i]) for i in ids]


def mask_files(tra_dir: Path) -> list[Path]:
    """Mask TIFFs of a ``TRA`` folder (natural sort)."""
    return list_tiffs(tra_dir)


def open_masks(labels_path: Path, gt_files: Sequence[str] | None = None) -> TiffFrames:
    """The label masks of a sequence: an explicit file list, a ``TRA`` folder (per-frame files
    or one stack) or one stack file."""
    if gt_files:
        return TiffFrames([Path(p) for p in gt_files])
    return TiffFrames(Path(labels_path))


def read_mask(masks: TiffFrames, i: int) -> np.ndarray:
    """Mask frame ``i`` as a 2-D integer label image; float (or bool) masks are an error
    naming the file (their labels cannot be trusted to be whole numbers)."""
    m = masks.read(i)[:, :, 0]
    if not np.issubdtype(m.dtype, np.integer):
        where = masks.files[i] if masks.files is not None else masks.path
        raise InputDataError(
            f"{where}: CTC label masks must hold integer labels (uint8/uint16/int32), not "
            f"{m.dtype}; save them as integers, e.g. tifffile.imwrite(path, mask.astype('uint16'))"
        )
    return m


def check_man_track(path: Path, lineage: dict, mask_labels: set[int]) -> None:
    """Warn (naming the file and the labels) when ``man_track.txt`` and the masks disagree:
    labels that appear in masks but have no line, and lines whose label is in no mask."""
    missing = sorted(mask_labels - set(lineage))
    extra = sorted(set(lineage) - mask_labels)
    try:
        st = Path(path).stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
    except OSError:
        key = (str(path),)
    if (missing or extra) and key in _WARNED:
        return
    _WARNED.add(key)

    def shown(labels: list[int]) -> str:
        return ", ".join(map(str, labels[:10])) + (
            f" (+{len(labels) - 10} more)" if len(labels) > 10 else ""
        )

    if missing:
        log.warning(
            "%s: label(s) %s appear in the masks but not in %s (no lineage for them)",
            path,
            shown(missing),
            MAN_TRACK,
        )
    if extra:
        log.warning("%s: label(s) %s are listed but appear in no mask", path, shown(extra))


class CtcSource:
    """Raw frames + TRA label masks of one CTC sequence."""

    format = "ctc"

    def __init__(self, labels_path: Path, video_path: Path, extra: dict[str, Any] | None = None):
        self.extra = dict(extra or {})
        self.labels_path = Path(labels_path)
        self.video_path = Path(video_path)
        gt_files = self.extra.get("gt_files")
        raw_files = self.extra.get("raw_files")
        if gt_files:
            self._mask_files = [Path(p) for p in gt_files]
        else:
            if not self.labels_path.exists():
                raise InputDataError(f"CTC mask folder not found: {self.labels_path}")
            self._mask_files = (
                mask_files(self.labels_path) if self.labels_path.is_dir() else [self.labels_path]
            )
        for f in self._mask_files:
            if not f.exists():
                raise InputDataError(f"CTC mask file not found: {f}")
        if not self._mask_files:
            raise InputDataError(f"no mask .tif files in {self.labels_path}")
        if not raw_files and not self.video_path.exists():
            raise InputDataError(f"CTC raw image folder not found: {self.video_path}")
        self._raw = TiffFrames([Path(p) for p in raw_files] if raw_files else self.video_path)
        self._masks = open_masks(self.labels_path, gt_files)
        if len(self._masks) != len(self._raw):
            raise InputDataError(
                f"{self.labels_path} has {len(self._masks)} mask frames but {self.video_path} "
                f"has {len(self._raw)} raw frames; they must match one to one"
            )
        self._check_names()
        if (self._masks.height, self._masks.width) != (self._raw.height, self._raw.width):
            raise InputDataError(
                f"mask size {self._masks.height}x{self._masks.width} in {self.labels_path} differs "
                f"from raw frame size {self._raw.height}x{self._raw.width} in {self.video_path}"
            )
        man = self.extra.get("man_track")
        if man is None and self.labels_path.is_dir() and (self.labels_path / MAN_TRACK).exists():
            man = str(self.labels_path / MAN_TRACK)
        self.man_track_path = Path(man) if man else None
        self.lineage_segments: dict[int, list[tuple[int, int, int]]] = (
            parse_man_track(self.man_track_path) if self.man_track_path else {}
        )
        self.lineage: dict[int, tuple[int, int, int]] = {
            lab: (min(s[0] for s in segs), max(s[1] for s in segs), segs[0][2])
            for lab, segs in self.lineage_segments.items()
        }
        self.node_names = ["centroid"]
        self.edges: list[tuple[int, int]] = []
        self.n_frames = len(self._raw)
        self.height, self.width, self.channels = (
            self._raw.height,
            self._raw.width,
            self._raw.channels,
        )
        self.dtype = np.dtype(self._raw.dtype)
        self.intensity_range = intensity_range_for(
            self.dtype, None if self.dtype == np.uint8 else self._raw.sample()
        )
        self.n_dropped_nan = 0
        # one cheap pass over the masks: the label ids of every frame
        self._labels_per_frame: list[np.ndarray] = []
        for i in range(len(self._masks)):
            ids = np.unique(read_mask(self._masks, i))
            self._labels_per_frame.append(ids[ids != 0].astype(np.int64))
        all_ids = sorted({int(x) for ids in self._labels_per_frame for x in ids})
        if self.man_track_path is not None:
            check_man_track(self.man_track_path, self.lineage_segments, set(all_ids))
        self.track_names = [str(x) for x in all_ids]
        self.n_tracks = len(all_ids)
        self.n_labeled_frames = sum(1 for ids in self._labels_per_frame if len(ids))
        self.n_instances = int(sum(len(ids) for ids in self._labels_per_frame))
        if self.n_instances == 0:
            raise InputDataError(f"{self.labels_path}: all label masks are empty (no instances)")

    def _check_names(self) -> None:
        """If both raw and mask files carry frame numbers, they must agree position by position."""
        if self._raw.files is None or self._masks.files is None:
            return
        for r, m in zip(self._raw.files, self._masks.files, strict=True):
            nr, nm = trailing_number(r), trailing_number(m)
            if nr is not None and nm is not None and nr != nm:
                raise InputDataError(
                    f"CTC frame mismatch: raw frame {r} pairs with mask {m} "
                    "(different frame numbers)"
                )

    def labels_in_frame(self, frame_idx: int) -> np.ndarray:
        """Sorted non-zero label ids present in the mask of ``frame_idx``."""
        return self._labels_per_frame[frame_idx]

    def iter_frames(self, progress: bool = False) -> Iterator[SourceFrame]:
        """Frames whose mask has at least one label, in order."""
        frames = [i for i, ids in enumerate(self._labels_per_frame) if len(ids)]
        for i in progress_bar(frames, len(frames), f"read {self.video_path.name}", progress):
            image = self._raw.read(i)
            m = read_mask(self._masks, i)
            ids = self._labels_per_frame[i]
            coms = centres_of_mass(m, ids)
            insts = []
            for rank, (lab, (cy, cx)) in enumerate(zip(ids, coms, strict=True)):
                insts.append(
                    SourceInstance(
                        instance_idx=rank,
                        track_id=int(lab),
                        track_name=str(int(lab)),
                        score=1.0,
                        points=np.array([[cx, cy]], np.float32),
                        mask=m == lab,
                        is_predicted=False,
                    )
                )
            yield SourceFrame(i, image, insts)

    def close(self) -> None:
        self._raw.close()
        self._masks.close()
