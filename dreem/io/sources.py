"""Open any label source from one manifest row: the format → reader registry.

Every input format (SLEAP ``.slp`` + video, Cell Tracking Challenge masks, TrackMate / ISBI /
ICY centroid tables + TIFF frames) is opened with :func:`open_source` and exposes the same
:class:`~dreem.io.source_types.LabelSource` protocol: metadata attributes plus
``iter_frames()``, which yields the labelled frames in increasing order while decoding the
video sequentially exactly once and holding at most one frame in memory. Readers are
imported only when their format is opened (as sleap-io's ``io/main.py`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dreem.io.source_types import (  # noqa: F401 - the public names of the interface
    TABLE_FORMATS,
    LabelSource,
    SourceFrame,
    SourceInstance,
    parse_extra,
)
from dreem.utils.errors import InputDataError

FORMATS = ("slp", "ctc", *TABLE_FORMATS)


def _open_slp(labels: Path, video: Path, fmt: str, row: Mapping, extra: dict) -> LabelSource:
    from dreem.io.slp import SleapSource

    idx = row.get("slp_video_index", 0)
    idx = 0 if idx is None or (isinstance(idx, float) and np.isnan(idx)) else int(idx)
    return SleapSource(labels, video, slp_video_index=idx, extra=extra)


def _open_ctc(labels: Path, video: Path, fmt: str, row: Mapping, extra: dict) -> LabelSource:
    from dreem.io.ctc import CtcSource

    return CtcSource(labels, video, extra=extra)


def _open_table(labels: Path, video: Path, fmt: str, row: Mapping, extra: dict) -> LabelSource:
    from dreem.io.table_source import TableSource

    return TableSource(labels, video, fmt, extra=extra)


READERS = {"slp": _open_slp, "ctc": _open_ctc, **dict.fromkeys(TABLE_FORMATS, _open_table)}


def open_source(row: Mapping) -> LabelSource:
    """Open the label source described by one manifest row.

    Uses ``format``, ``labels_path``, ``video_path``, ``slp_video_index`` and ``extra``.
    """
    fmt = str(row.get("format", ""))
    labels_path = Path(str(row["labels_path"]))
    reader = READERS.get(fmt)
    if reader is None:
        raise InputDataError(
            f"{labels_path}: unknown label format {fmt!r}; valid formats are {', '.join(FORMATS)}"
        )
    video_path = Path(str(row["video_path"]))
    return reader(labels_path, video_path, fmt, row, parse_extra(row.get("extra")))
