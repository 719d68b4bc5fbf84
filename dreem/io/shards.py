"""The crop shard format: one Parquet file per video, one row per instance.

Extraction decodes a video once and writes its crops here; training and tracking read
shards and never touch the video again.

Columns (one row per kept instance, rows ordered by ``frame_idx`` then ``instance_idx``):

=============== ============================ ===============================================
column          type                         meaning
=============== ============================ ===============================================
frame_idx       int64                        frame index in the source video
instance_idx    int32                        index of the instance in its source frame
                                             (SLEAP labeled-frame order; CTC mask label
                                             order; table row order) — used to write back
gt_track_id     int64                        ground-truth identity, -1 when untracked
gt_track_name   string (nullable)            track name in the source file
score           float32                      detection score (1.0 for user labels)
centroid_x/_y   float32                      instance centroid in pixels (nan-mean of
                                             visible nodes; centre of mass for masks)
bbox            fixed_size_list<float32>     per anchor ``[y1, x1, y2, x2]`` pixel box of the
                [4 * n_anchors]              crop window (padding included); NaN = missing
pose            list<float32>                ``n_nodes * 2`` values ``x0, y0, x1, y1, ...``
                                             (NaN for invisible nodes)
crop            binary                       ``(n_anchors, channels, H, W)`` array in the
                                             video's native dtype (``meta.dtype``), C order
=============== ============================ ===============================================

File-level metadata (Parquet schema metadata key ``b"dreem"``) is a JSON ``ShardMeta``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dreem.utils.atomic import atomic_path

FORMAT_VERSION = 1
META_KEY = b"dreem"


@dataclass
class ShardMeta:
    """Everything a reader needs to interpret a shard, and to decide whether it is stale."""

    video_id: str
    source_format: str  # slp | ctc | trackmate | isbi | icy
    labels_path: str
    video_path: str
    params: dict[str, Any]  # extraction params: crop_size, padding, anchors, handle_missing...
    sources: dict[str, dict[str, float]]  # path -> {"size": bytes, "mtime": seconds}
    frame_height: int
    frame_width: int
    n_frames: int  # frames in the video (not only labelled ones)
    channels: int  # native channels per anchor (1 grey, 3 colour)
    dtype: str  # native pixel dtype, e.g. "uint8", "uint16"
    crop_hw: tuple[int, int]  # crop_size + 2 * padding
    anchor_names: list[str]  # resolved anchor names; ["random:3"] style for int anchors
    node_names: list[str] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    intensity_range: tuple[float, float] = (0.0, 255.0)  # for normalisation at load time
    slp_video_index: int = 0  # which video of a multi-video .slp this shard covers
    dataset: str = ""
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_anchors(self) -> int:
        return int(self.params.get("n_anchors", len(self.anchor_names)))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ShardMeta:
        data = json.loads(text)
        data["crop_hw"] = tuple(data["crop_hw"])
        data["intensity_range"] = tuple(data["intensity_range"])
        data["edges"] = [tuple(e) for e in data.get("edges", [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def file_signature(path: str | os.PathLike) -> dict[str, float]:
    """Size and mtime of a file (or the newest file in a directory)."""
    p = Path(path)
    if p.is_dir():
        files = [f for f in p.rglob("*") if f.is_file()]
        return {
            "size": float(sum(f.stat().st_size for f in files)),
            "mtime": max((f.stat().st_mtime for f in files), default=0.0),
        }
    st = p.stat()
    return {"size": float(st.st_size), "mtime": st.st_mtime}


def shard_schema(n_anchors: int, meta: ShardMeta) -> pa.Schema:
    return pa.schema(
        [
            ("frame_idx", pa.int64()),
            ("instance_idx", pa.int32()),
            ("gt_track_id", pa.int64()),
            ("gt_track_name", pa.string()),
            ("score", pa.float32()),
            ("centroid_x", pa.float32()),
            ("centroid_y", pa.float32()),
            ("bbox", pa.list_(pa.float32(), 4 * n_anchors)),
            ("pose", pa.list_(pa.float32())),
            ("crop", pa.binary()),
        ],
        metadata={META_KEY: meta.to_json().encode()},
    )


@dataclass
class InstanceRecord:
    """One instance as written by extraction."""

    frame_idx: int
    instance_idx: int
    gt_track_id: int
    gt_track_name: str | None
    score: float
    centroid: tuple[float, float]  # (x, y)
    bbox: np.ndarray  # (n_anchors, 4) y1, x1, y2, x2
    pose: np.ndarray  # (n_nodes, 2) x, y
    crop: np.ndarray  # (n_anchors, C, H, W) native dtype


class ShardWriter:
    """Stream instances into a shard, frame by frame, with bounded memory.

    Use as a context manager; the file appears at ``path`` only when the block exits
    without error, every write (footer included) succeeded and the written file's footer
    reads back with the expected row count (:func:`dreem.utils.atomic.atomic_path`).
    """

    def __init__(self, path: str | os.PathLike, meta: ShardMeta, rows_per_group: int = 2048):
        self.path = Path(path)
        self.meta = meta
        self.rows_per_group = rows_per_group
        self._buffer: list[InstanceRecord] = []
        self._stack: contextlib.ExitStack | None = None
        self._writer: pq.ParquetWriter | None = None
        self.n_rows = 0
        self._schema = shard_schema(meta.n_anchors, meta)

    def __enter__(self) -> ShardWriter:
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path, verify=self._verify))
            self._writer = pq.ParquetWriter(tmp, self._schema, compression="zstd")
            # runs first on exit; an error while flushing or closing (a full disk) reaches
            # atomic_path as the block's error, so the file is never renamed into place
            stack.push(self._close)
            self._stack = stack.pop_all()
        return self

    def add_frame(self, records: list[InstanceRecord]) -> None:
        """Add all instances of one frame (row groups never split a frame)."""
        self._buffer.extend(records)
        if len(self._buffer) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        recs = self._buffer
        n_anchor_vals = 4 * self.meta.n_anchors
        table = pa.Table.from_pydict(
            {
                "frame_idx": [r.frame_idx for r in recs],
                "instance_idx": [r.instance_idx for r in recs],
                "gt_track_id": [r.gt_track_id for r in recs],
                "gt_track_name": [r.gt_track_name for r in recs],
                "score": [r.score for r in recs],
                "centroid_x": [r.centroid[0] for r in recs],
                "centroid_y": [r.centroid[1] for r in recs],
                "bbox": [np.asarray(r.bbox, np.float32).reshape(n_anchor_vals) for r in recs],
                "pose": [np.asarray(r.pose, np.float32).reshape(-1) for r in recs],
                "crop": [
                    np.ascontiguousarray(r.crop, dtype=self.meta.dtype).tobytes() for r in recs
                ],
            },
            schema=self._schema,
        )
        assert self._writer is not None
        self._writer.write_table(table)
        self.n_rows += len(recs)
        self._buffer = []

    def _close(self, exc_type, exc, tb) -> None:
        assert self._writer is not None
        try:
            if exc_type is None:
                self._flush()
        finally:
            self._writer.close()

    def _verify(self, tmp: Path) -> None:
        """The written file is a complete shard: its footer reads and counts every row."""
        md = pq.read_metadata(tmp)
        if md.num_rows != self.n_rows:
            raise ValueError(f"footer counts {md.num_rows} rows, {self.n_rows} were written")

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self._stack is not None
        return self._stack.__exit__(exc_type, exc, tb)


@dataclass
class ShardData:
    """Columns of (part of) a shard as NumPy arrays."""

    meta: ShardMeta
    frame_idx: np.ndarray  # (N,) int64
    instance_idx: np.ndarray  # (N,) int32
    gt_track_id: np.ndarray  # (N,) int64
    gt_track_name: list[str | None]
    score: np.ndarray  # (N,) float32
    centroid: np.ndarray  # (N, 2) float32 x, y
    bbox: np.ndarray  # (N, n_anchors, 4) float32 y1, x1, y2, x2
    pose: np.ndarray  # (N, n_nodes, 2) float32 (n_nodes may be 0)
    crops: np.ndarray | None  # (N, n_anchors, C, H, W) native dtype, None if not loaded

    def __len__(self) -> int:
        return len(self.frame_idx)

    def normalized_crops(self, idx: np.ndarray | slice | None = None) -> np.ndarray:
        """Crops as float32 in [0, 1] (by ``meta.intensity_range``), shape (n, A*C, H, W)."""
        assert self.crops is not None, "shard read without crops"
        c = self.crops if idx is None else self.crops[idx]
        lo, hi = self.meta.intensity_range
        out = (c.astype(np.float32) - np.float32(lo)) / np.float32(max(hi - lo, 1e-6))
        n, a, ch, h, w = out.shape
        return out.reshape(n, a * ch, h, w)


def read_meta(path: str | os.PathLike) -> ShardMeta:
    """Read only the metadata of a shard."""
    return _meta_of(pq.read_schema(path), path)


def _meta_of(schema: pa.Schema, path: str | os.PathLike) -> ShardMeta:
    if schema.metadata is None or META_KEY not in schema.metadata:
        raise ValueError(f"{path}: not a dreem crop shard (no '{META_KEY.decode()}' metadata)")
    return ShardMeta.from_json(schema.metadata[META_KEY])


def _columns(pf: pq.ParquetFile, with_crops: bool) -> list[str] | None:
    return None if with_crops else [f for f in pf.schema_arrow.names if f != "crop"]


def _table_to_data(table: pa.Table, meta: ShardMeta, with_crops: bool) -> ShardData:
    n = table.num_rows
    a = meta.n_anchors
    bbox = (
        table.column("bbox").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        if n
        else np.zeros(0, np.float32)
    )
    pose_col = table.column("pose").combine_chunks() if n else None
    if pose_col is not None and len(pose_col.flatten()):
        pose = pose_col.flatten().to_numpy(zero_copy_only=False).reshape(n, -1, 2)
    else:
        pose = np.zeros((n, 0, 2), np.float32)
    crops = None
    if with_crops:
        h, w = meta.crop_hw
        shape = (n, a, meta.channels, h, w)
        if n:
            col = table.column("crop").combine_chunks()
            data = col.buffers()[2]
            offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)[
                col.offset : col.offset + n + 1
            ]
            raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
            crops = raw.view(meta.dtype).reshape(shape).copy()
        else:
            crops = np.zeros(shape, dtype=meta.dtype)
    return ShardData(
        meta=meta,
        frame_idx=table.column("frame_idx").to_numpy().astype(np.int64),
        instance_idx=table.column("instance_idx").to_numpy().astype(np.int32),
        gt_track_id=table.column("gt_track_id").to_numpy().astype(np.int64),
        gt_track_name=table.column("gt_track_name").to_pylist(),
        score=table.column("score").to_numpy().astype(np.float32),
        centroid=np.stack(
            [table.column("centroid_x").to_numpy(), table.column("centroid_y").to_numpy()], axis=1
        ).astype(np.float32)
        if n
        else np.zeros((0, 2), np.float32),
        bbox=np.asarray(bbox, np.float32).reshape(n, a, 4),
        pose=np.asarray(pose, np.float32),
        crops=crops,
    )


def read_shard(path: str | os.PathLike, with_crops: bool = True) -> ShardData:
    """Read a whole shard into memory."""
    # ParquetFile, not pq.read_table: that one imports pyarrow.dataset (0.2-0.4 s per process)
    with pq.ParquetFile(path) as pf:
        meta = _meta_of(pf.schema_arrow, path)
        table = pf.read(columns=_columns(pf, with_crops))
    return _table_to_data(table, meta, with_crops)


def iter_shard(path: str | os.PathLike, with_crops: bool = True) -> Iterator[ShardData]:
    """Stream a shard row group by row group (each group holds whole frames)."""
    with pq.ParquetFile(path) as pf:
        meta = _meta_of(pf.schema_arrow, path)
        columns = _columns(pf, with_crops)
        for i in range(pf.num_row_groups):
            yield _table_to_data(pf.read_row_group(i, columns=columns), meta, with_crops)


def is_shard_current(path: str | os.PathLike, params: dict[str, Any], sources: list[str]) -> bool:
    """True if ``path`` is a shard written with exactly ``params`` from unchanged ``sources``."""
    try:
        meta = read_meta(path)
    except (OSError, ValueError):
        return False
    if meta.format_version != FORMAT_VERSION:
        return False
    if json.dumps(meta.params, sort_keys=True) != json.dumps(params, sort_keys=True):
        return False
    try:
        return all(meta.sources.get(str(s)) == file_signature(s) for s in sources)
    except OSError:
        return False
