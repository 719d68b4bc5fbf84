"""Chunking labelled frames of shards into clips (training / validation items).

Semantics (after the reference's SLEAP chunking, with its quirks fixed where noted):

* A shard's labelled frames (frames with at least one kept instance) form contiguous runs.
  With ``chunk=True`` runs are stitched together while the gap from the previous run's end
  to the next run's start is ``< max_batching_gap`` frames; each stitched group (its
  labelled frames only) is split into pieces of ``clip_length`` frames. With ``chunk=False``
  a shard is one clip.
* Tiny pieces (``len <= min(int(clip_length / 10), 5)`` frames) are removed — unless the piece
  is the only one of its shard, so a short video still yields a clip (reference: dropped).
* ``n_chunks`` subsamples the clips without replacement, *after* tiny-piece removal:
  a float in ``(0, 1]`` keeps that fraction (at least one clip), a number ``> 1`` keeps that
  many (all if fewer exist); ``1`` means all. ``<= 0`` is a :class:`ConfigError` (the
  reference silently kept everything).
* Deterministic given ``seed`` (a local ``numpy.random.Generator``; no global state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dreem.utils.errors import ConfigError


@dataclass(frozen=True)
class ChunkRef:
    """One clip: which shard, and which of its frames (sorted source frame indices)."""

    shard: int
    frames: np.ndarray


def frame_runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``(start, end)`` (inclusive) of sorted unique frame indices."""
    f = np.unique(np.asarray(frames, np.int64))
    if f.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(f) != 1)
    starts = np.concatenate([[f[0]], f[breaks + 1]])
    ends = np.concatenate([f[breaks], [f[-1]]])
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def tiny_limit(clip_length: int) -> int:
    """Pieces with at most this many frames are removed."""
    return min(int(clip_length / 10), 5)


def chunk_frames(
    frames: np.ndarray, clip_length: int, chunk: bool = True, max_batching_gap: int = 15
) -> list[np.ndarray]:
    """Split one shard's labelled frames into clips (see module docstring)."""
    f = np.unique(np.asarray(frames, np.int64))
    if f.size == 0:
        return []
    if not chunk:
        return [f]
    if clip_length < 1:
        raise ConfigError(f"clip_length: must be >= 1, got {clip_length}")
    groups: list[np.ndarray] = []
    runs = frame_runs(f)
    group_start = runs[0][0]
    prev_end = runs[0][1]
    for start, end in runs[1:]:
        if start - prev_end >= max_batching_gap:
            groups.append(f[(f >= group_start) & (f <= prev_end)])
            group_start = start
        prev_end = end
    groups.append(f[(f >= group_start) & (f <= prev_end)])
    pieces = [g[i : i + clip_length] for g in groups for i in range(0, len(g), clip_length)]
    limit = tiny_limit(clip_length)
    kept = [p for p in pieces if len(p) > limit]
    return kept if kept else pieces[:1]


def n_to_keep(total: int, n_chunks: float | int) -> int:
    """How many of ``total`` clips ``n_chunks`` keeps."""
    if isinstance(n_chunks, bool) or not isinstance(n_chunks, int | float | np.number):
        raise ConfigError(f"n_chunks: expected a fraction in (0, 1] or a count, got {n_chunks!r}")
    if n_chunks <= 0:
        raise ConfigError(
            f"n_chunks: must be > 0 (a fraction in (0, 1] or a count), got {n_chunks}"
        )
    if n_chunks <= 1:
        return min(total, max(1, int(n_chunks * total))) if total else 0
    return min(total, int(n_chunks))


def make_chunks(
    shard_frames: Sequence[np.ndarray],
    clip_length: int = 32,
    chunk: bool = True,
    n_chunks: float | int = 1.0,
    seed: int = 0,
    max_batching_gap: int = 15,
) -> list[ChunkRef]:
    """Clips over several shards (``shard_frames[k]`` = labelled frames of shard ``k``).

    Kept clips stay in shard / time order after subsampling.
    """
    refs = [
        ChunkRef(k, piece)
        for k, frames in enumerate(shard_frames)
        for piece in chunk_frames(frames, clip_length, chunk, max_batching_gap)
    ]
    keep = n_to_keep(len(refs), n_chunks)
    if keep < len(refs):
        rng = np.random.default_rng(int(seed) % 2**63)
        idx = np.sort(rng.choice(len(refs), size=keep, replace=False))
        refs = [refs[i] for i in idx]
    return refs
