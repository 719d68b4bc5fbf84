"""Frames from a multi-page TIFF stack or from a folder / list of per-frame TIFF files.

Frames are read one at a time (TIFF pages are cheap to address), so memory stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from dreem.utils.errors import InputDataError

TIFF_SUFFIXES = (".tif", ".tiff")
_NUM = re.compile(r"(\d+)")


def natural_key(s: str | Path) -> list:
    """Sort key that orders ``t2`` before ``t10`` (digit runs compare as numbers)."""
    text = s.name if isinstance(s, Path) else str(s)
    return [int(p) if p.isdigit() else p.lower() for p in _NUM.split(text)]


def natural_sorted(items) -> list:
    return sorted(items, key=natural_key)


def list_tiffs(folder: Path) -> list[Path]:
    """Per-frame TIFF files of a folder, naturally sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputDataError(f"frame folder not found: {folder}")
    return natural_sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES
    )


def trailing_number(path: Path) -> int | None:
    """The last digit run of a file stem (``t012`` -> 12), or None."""
    nums = _NUM.findall(Path(path).stem)
    return int(nums[-1]) if nums else None


def _as_hwc(arr: np.ndarray, path: Path) -> np.ndarray:
    """A single frame as (H, W, C) with C = 1 or 3."""
    if arr.ndim == 2:
        return arr[:, :, None]
    if arr.ndim == 3:
        if arr.shape[2] in (1, 3):
            return arr
        if arr.shape[2] == 4:
            return arr[:, :, :3]
        if arr.shape[0] in (1, 3, 4):
            return np.moveaxis(arr, 0, -1)[:, :, :3]
    raise InputDataError(f"{path}: unsupported TIFF frame shape {arr.shape} (expected H x W [x C])")


class TiffFrames:
    """Random-access frames of a TIFF stack (one file) or of per-frame TIFF files.

    A folder (or list) holding a single TIFF file is read as a stack, so a folder may hold
    either one file per frame or one multi-page stack.
    """

    def __init__(self, source: Path | Sequence[Path]):
        import tifffile

        self._tifffile = tifffile
        if isinstance(source, (str, Path)) and Path(source).is_dir():
            files = list_tiffs(Path(source))
            if not files:
                raise InputDataError(f"no .tif/.tiff frames in folder {source}")
            self.files: list[Path] | None = files
            self.path = Path(source)
        elif isinstance(source, (str, Path)):
            self.files = None
            self.path = Path(source)
            if not self.path.exists():
                raise InputDataError(f"TIFF file not found: {self.path}")
        else:
            self.files = [Path(p) for p in source]
            if not self.files:
                raise InputDataError("empty list of TIFF frames")
            for f in self.files:
                if not f.exists():
                    raise InputDataError(f"TIFF frame not found: {f}")
            self.path = self.files[0].parent
        if self.files is not None and len(self.files) == 1:
            self.path, self.files = self.files[0], None  # one file: a stack (or one frame)
        self._stack = None
        if self.files is None:
            try:
                self._stack = tifffile.TiffFile(self.path)
                series = self._stack.series[0]
            except Exception as e:
                raise InputDataError(f"cannot read TIFF {self.path}: {e}") from e
            shape = tuple(series.shape)
            axes = str(getattr(series, "axes", ""))
            self._n_pages = len(self._stack.pages)
            if self._n_pages > 1:
                if shape[0] != self._n_pages:
                    raise InputDataError(
                        f"{self.path}: TIFF with shape {shape} (axes {axes}) over "
                        f"{self._n_pages} pages; expected one page per frame (T x H x W [x C])"
                    )
                self.n_frames = self._n_pages
            elif len(shape) >= 3 and "S" not in axes and shape[-1] not in (3, 4):
                self.n_frames = shape[0]  # one page holding a T x H x W array
            else:
                self.n_frames = 1
            first = self.read(0)
        else:
            self.n_frames = len(self.files)
            first = self.read(0)
        self.height, self.width, self.channels = (int(x) for x in first.shape)
        self.dtype = first.dtype

    def read(self, i: int) -> np.ndarray:
        """Frame ``i`` as (H, W, C)."""
        if not 0 <= i < self.n_frames:
            raise InputDataError(f"frame {i} out of range: {self.path} has {self.n_frames} frames")
        try:
            if self.files is not None:
                arr = self._tifffile.imread(self.files[i])
                where = self.files[i]
            elif self._n_pages > 1:
                arr = self._stack.pages[i].asarray()
                where = self.path
            else:
                arr = self._stack.asarray()
                arr = arr[i] if self.n_frames > 1 else arr
                where = self.path
        except InputDataError:
            raise
        except Exception as e:
            raise InputDataError(f"cannot read frame {i} of {self.path}: {e}") from e
        return _as_hwc(np.asarray(arr), where)

    def __len__(self) -> int:
        return self.n_frames

    def iter_indices(self, indices) -> Iterator[tuple[int, np.ndarray]]:
        for i in indices:
            yield int(i), self.read(int(i))

    def sample(self, k: int = 8) -> list[np.ndarray]:
        """Up to ``k`` evenly spaced frames (for intensity ranges)."""
        idx = np.unique(np.linspace(0, self.n_frames - 1, num=min(k, self.n_frames)).astype(int))
        return [self.read(int(i)) for i in idx]

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None
