"""Clips of instances over crop shards, for training and validation.

Shards are read once, in the constructor (crops are small); items are cut from the arrays
held in memory, so DataLoader workers (forked) share them and never re-read files.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dreem.config.data import DatasetSection
from dreem.data.augment import build_augmentations
from dreem.data.clips import ChunkRef, make_chunks
from dreem.utils.errors import ConfigError, InputDataError


@dataclass
class Clip:
    """A flat set of instances over a few frames (see docs/architecture.md)."""

    crops: torch.Tensor  # (N, 3*A, H, W) float32 in [0, 1]
    boxes: torch.Tensor  # (N, A, 4) float32 [y1/H, x1/W, y2/H, x2/W]; NaN = missing anchor
    frame_idx: torch.Tensor  # (N,) int64 source frame indices, non-decreasing
    gt_ids: torch.Tensor  # (N,) int64, -1 unknown
    video_id: str
    img_hw: tuple[int, int]
    instance_idx: torch.Tensor  # (N,) int32
    # (N, K, 2) float32 keypoints x, y in frame pixels as extracted (NaN = unseen; K may be
    # 0), for validation tracking's repairs; None in training clips (augmentations move
    # crops and boxes, not these)
    poses: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.frame_idx.shape[0])


def collate_single(batch: list[Clip]) -> Clip:
    """Collate for ``DataLoader(batch_size=1)``: the clip itself."""
    if len(batch) != 1:
        raise ValueError(f"collate_single expects batch_size=1, got a batch of {len(batch)}")
    return batch[0]


@dataclass
class _Shard:
    path: Path
    video_id: str
    img_hw: tuple[int, int]
    intensity_range: tuple[float, float]
    frame_idx: np.ndarray
    instance_idx: np.ndarray
    gt_ids: np.ndarray
    bbox: np.ndarray  # (N, A, 4) pixels
    crops: np.ndarray  # (N, A, C, H, W) native dtype
    pose: np.ndarray  # (N, K, 2) pixels


def _load_shard(path: Path, require_tracks: bool) -> _Shard:
    from dreem.io.shards import read_shard

    try:
        data = read_shard(path, with_crops=True)
    except (OSError, ValueError) as e:
        raise InputDataError(f"cannot read crop shard {path}: {e}") from e
    meta = data.meta
    if require_tracks and len(data) and not (data.gt_track_id >= 0).any():
        raise InputDataError(
            f"{meta.labels_path} has no tracks: fine for tracking, but training needs "
            f"ground-truth tracks (shard {path})"
        )
    order = np.lexsort((data.instance_idx, data.frame_idx))
    if not np.array_equal(order, np.arange(len(order))):
        raise InputDataError(f"crop shard {path}: rows are not sorted by frame and instance")
    assert data.crops is not None
    return _Shard(
        path=Path(path),
        video_id=meta.video_id,
        img_hw=(int(meta.frame_height), int(meta.frame_width)),
        intensity_range=tuple(float(v) for v in meta.intensity_range),
        frame_idx=data.frame_idx,
        instance_idx=data.instance_idx,
        gt_ids=data.gt_track_id,
        bbox=data.bbox,
        crops=data.crops,
        pose=data.pose,
    )


class ClipDataset(torch.utils.data.Dataset):
    """Clips of ``clip_length`` labelled frames over crop shards (one item = one clip).

    Chunking follows :mod:`dreem.data.clips`. In ``train`` mode instances are shuffled within
    each frame and augmentations (:func:`dreem.data.augment.build_augmentations`) apply,
    seeded by ``seed``, the epoch (:meth:`set_epoch`) and the item index.
    """

    def __init__(
        self,
        shard_paths: Sequence[Path],
        section: DatasetSection,
        seed: int,
        require_tracks: bool = True,
    ):
        """``section``: the validated dataset section (clip_length, chunk, n_chunks, mode,
        augmentations, max_batching_gap; its ``seed`` wins over ``seed`` when set)."""
        mode = section.mode
        if not shard_paths:
            raise ConfigError(f"no crop shards given for the {mode} dataset")
        self.mode = mode
        seed = section.seed if section.seed is not None else seed
        self.seed = int(seed) % 2**63  # numpy seeds must be non-negative
        self.epoch = 0
        self.shards = [_load_shard(Path(p), require_tracks) for p in shard_paths]
        self.augmenter = (
            build_augmentations(section.augmentations, f"dataset.{mode}_dataset.augmentations")
            if mode == "train"
            else None
        )
        self.chunks: list[ChunkRef] = make_chunks(
            [np.unique(s.frame_idx) for s in self.shards],
            clip_length=section.clip_length,
            chunk=section.chunk,
            n_chunks=section.n_chunks,
            seed=self.seed,
            max_batching_gap=section.max_batching_gap,
        )
        if not self.chunks:
            raise InputDataError(
                f"no clips for the {mode} dataset: the shards hold no instances "
                f"({', '.join(str(s.path) for s in self.shards)})"
            )
        self._rows = [self._chunk_rows(c) for c in self.chunks]

    def _chunk_rows(self, c: ChunkRef) -> np.ndarray:
        fi = self.shards[c.shard].frame_idx
        lo = np.searchsorted(fi, c.frames, "left")
        hi = np.searchsorted(fi, c.frames, "right")
        return np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])

    def set_epoch(self, epoch: int) -> None:
        """Vary shuffling and augmentation per epoch (call at the start of each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.chunks)

    def _rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch % 2**63, int(i), zlib.crc32(b"clip")])

    def __getitem__(self, i: int) -> Clip:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i = i % len(self)
        shard = self.shards[self.chunks[i].shard]
        rows = self._rows[i]
        rng = self._rng(i)
        if self.mode == "train":
            rows = _shuffle_within_frames(rows, shard.frame_idx[rows], rng)
        frame_idx = shard.frame_idx[rows]
        boxes = shard.bbox[rows]
        crops = _to_unit_rgb(shard.crops[rows], shard.intensity_range)
        if self.augmenter is not None:
            crops, boxes, keep = self.augmenter(crops, boxes, frame_idx, rng)
            rows, frame_idx, crops, boxes = rows[keep], frame_idx[keep], crops[keep], boxes[keep]
        h, w = shard.img_hw
        scale = np.array([h, w, h, w], np.float32)
        n, a, c, ch, cw = crops.shape
        return Clip(
            crops=torch.from_numpy(np.ascontiguousarray(crops.reshape(n, a * c, ch, cw))),
            boxes=torch.from_numpy((boxes / scale).astype(np.float32)),
            frame_idx=torch.from_numpy(frame_idx.astype(np.int64)),
            gt_ids=torch.from_numpy(shard.gt_ids[rows].astype(np.int64)),
            video_id=shard.video_id,
            img_hw=(h, w),
            instance_idx=torch.from_numpy(shard.instance_idx[rows].astype(np.int32)),
            poses=None if self.mode == "train" else torch.from_numpy(shard.pose[rows]),
        )


def _shuffle_within_frames(
    rows: np.ndarray, frames: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Permute rows randomly inside each frame, keeping frames in order."""
    return rows[np.lexsort((rng.random(len(rows)), frames))]


def _to_unit_rgb(crops: np.ndarray, intensity_range: tuple[float, float]) -> np.ndarray:
    """Native crops ``(N, A, C, H, W)`` → float32 in [0, 1] with 3 channels (grey tiled)."""
    lo, hi = intensity_range
    out = (crops.astype(np.float32) - np.float32(lo)) / np.float32(max(hi - lo, 1e-6))
    np.clip(out, 0.0, 1.0, out=out)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return out
