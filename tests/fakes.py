"""Tiny synthetic crop shards and a fake association model (tests and benchmarks).

Animals move on parallel horizontal lines, bouncing between the frame edges; animal ``k``
has a constant grey level, so appearance alone identifies it. :class:`FakeModel` mimics
the model API (``encode``/``associate``) with features = mean crop intensity and logits =
negative feature distance, and counts its calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dreem.io.shards import InstanceRecord, ShardMeta, ShardWriter


def synthetic_positions(n_frames: int, n_animals: int, hw=(128, 128), speed: float = 2.0):
    """``(n_frames, n_animals, 2)`` centroids (x, y) in pixels."""
    h, w = hw
    t = np.arange(n_frames, dtype=np.float64)[:, None]
    span = max(w - 40.0, 1.0)
    phase = (t * speed + np.arange(n_animals)[None] * 7.0) % (2 * span)
    x = 20.0 + np.where(phase < span, phase, 2 * span - phase)
    y = np.broadcast_to((np.arange(n_animals) + 1) * h / (n_animals + 1), x.shape)
    return np.stack([x, y], axis=-1)


def write_synthetic_shard(
    path: Path,
    n_frames: int = 20,
    n_animals: int = 2,
    hw: tuple[int, int] = (128, 128),
    crop: int = 8,
    speed: float = 2.0,
    gt_offset: int = 0,
    source_format: str = "synthetic",
    extra: dict[int, list[tuple[float, float]]] | None = None,
    drop: set[tuple[int, int]] = frozenset(),
    video_id: str = "synth",
    labels_path: str = "",
    video_path: str = "",
    seed: int = 0,
    rows_per_group: int = 2048,
) -> Path:
    """Write a shard; ``extra`` adds spurious detections (frame → [(x, y)], gt id -1),
    ``drop`` removes ``(frame, animal)`` pairs; gt ids are ``animal + gt_offset``."""
    rng = np.random.default_rng(seed)
    pos = synthetic_positions(n_frames, n_animals, hw, speed)
    meta = ShardMeta(
        video_id=video_id,
        source_format=source_format,
        labels_path=labels_path,
        video_path=video_path,
        params={"crop_size": crop, "padding": 0, "anchors": "centroid"},
        sources={},
        frame_height=hw[0],
        frame_width=hw[1],
        n_frames=n_frames,
        channels=1,
        dtype="uint8",
        crop_hw=(crop, crop),
        anchor_names=["centroid"],
        node_names=["centroid"],
    )
    half = crop / 2
    levels = np.linspace(40, 220, n_animals) if n_animals > 1 else np.array([128.0])
    with ShardWriter(path, meta, rows_per_group=rows_per_group) as w:
        for f in range(n_frames):
            items = [(k, pos[f, k]) for k in range(n_animals) if (f, k) not in drop]
            items += [(-1, np.array(p)) for p in (extra or {}).get(f, [])]
            recs = []
            for i, (k, (x, y)) in enumerate(items):
                level = levels[k] if k >= 0 else 130.0
                img = np.clip(rng.normal(level, 3.0, (1, 1, crop, crop)), 0, 255).astype(np.uint8)
                recs.append(
                    InstanceRecord(
                        frame_idx=f,
                        instance_idx=i,
                        gt_track_id=k + gt_offset if k >= 0 else -1,
                        gt_track_name=None,
                        score=1.0,
                        centroid=(float(x), float(y)),
                        bbox=np.array([[y - half, x - half, y + half, x + half]], np.float32),
                        pose=np.array([[x, y]], np.float32),
                        crop=img,
                    )
                )
            w.add_frame(recs)
    return Path(path)


class FakeModel:
    """Model stand-in: features = mean intensity; logits = -sharpness * |feature difference|."""

    d_model = 4

    def __init__(self, sharpness: float = 50.0):
        self.sharpness = sharpness
        self.encode_calls = 0
        self.encoded_rows = 0
        self.associate_calls = 0

    def eval(self):
        return self

    def parameters(self):
        return iter(())

    def encode(self, crops):
        import torch

        self.encode_calls += 1
        self.encoded_rows += int(crops.shape[0])
        assert crops.ndim == 4 and crops.shape[1] % 3 == 0
        m = crops.mean(dim=(1, 2, 3))
        return torch.stack([m] * self.d_model, dim=1)

    def associate(self, ref_feats, ref_boxes, ref_times, query_feats, query_boxes, query_times):
        self.associate_calls += 1
        d = (query_feats[:, None, 0] - ref_feats[None, :, 0]).abs()
        return [-self.sharpness * d]
