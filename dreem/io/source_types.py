"""What every label-source reader provides and uses: the frame/instance records, the
:class:`LabelSource` protocol and small shared helpers. Readers import only this module;
:mod:`dreem.io.sources` maps formats to readers (so there is no import cycle)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dreem.utils.errors import InputDataError

TABLE_FORMATS = ("trackmate", "isbi", "icy")


@dataclass
class SourceInstance:
    """One labelled instance in one frame."""

    instance_idx: int  # index in the source frame (SLEAP lf.instances; CTC label rank; table row)
    track_id: int  # ground-truth identity, -1 if untracked
    track_name: str | None
    score: float  # PredictedInstance.score, else 1.0
    points: np.ndarray  # (n_nodes, 2) float32 x, y; NaN = invisible
    mask: np.ndarray | None = None  # (H, W) bool for mask formats (CTC), else None
    is_predicted: bool = False


@dataclass
class SourceFrame:
    """A labelled frame: its pixels and its instances."""

    frame_idx: int
    image: np.ndarray  # (H, W, C) native dtype, C = 1 or 3
    instances: list[SourceInstance] = field(default_factory=list)


@runtime_checkable
class LabelSource(Protocol):
    """What every format reader provides (see module docstring)."""

    labels_path: Path
    video_path: Path
    format: str
    node_names: list[str]
    edges: list[tuple[int, int]]
    n_frames: int
    height: int
    width: int
    channels: int
    dtype: np.dtype
    intensity_range: tuple[float, float]
    n_labeled_frames: int
    n_instances: int
    track_names: list[str]

    def iter_frames(self, progress: bool = False) -> Iterator[SourceFrame]: ...

    def close(self) -> None: ...


def parse_extra(value: Any) -> dict[str, Any]:
    """The ``extra`` manifest field as a dict (it is stored as a JSON string)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, float) and np.isnan(value):
        return {}
    text = str(value).strip()
    return json.loads(text) if text else {}


def require_file(path: Path, what: str = "file") -> Path:
    """Raise :class:`InputDataError` if ``path`` does not exist."""
    if not Path(path).exists():
        raise InputDataError(f"{what} not found: {path}")
    return Path(path)


def progress_bar(iterable, total: int | None, desc: str, enabled: bool):
    """Wrap ``iterable`` in a tqdm bar when ``enabled``."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame")


def intensity_range_for(
    dtype: np.dtype, sample: list[np.ndarray] | None = None
) -> tuple[float, float]:
    """(0, 255) for uint8; otherwise min/max over ``sample`` frames (robust to an empty one)."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return (0.0, 255.0)
    if sample:
        lo = float(min(np.min(s) for s in sample))
        hi = float(max(np.max(s) for s in sample))
        if hi > lo:
            return (lo, hi)
        return (lo, lo + 1.0)
    if np.issubdtype(dtype, np.integer):
        return (0.0, float(np.iinfo(dtype).max))
    return (0.0, 1.0)
