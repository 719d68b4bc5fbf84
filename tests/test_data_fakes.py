"""A tiny in-memory LabelSource for the extraction and dataset tests (no tests here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dreem.io.sources import SourceFrame, SourceInstance

NODES = ["head", "thorax", "tail"]


def coded_image(h: int, w: int, frame: int, channels: int = 1, dtype=np.uint16) -> np.ndarray:
    """Pixel value ``1 + y * w + x`` (+ a frame offset): unique, so crops are checkable."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 1 + yy * w + xx + frame * 7
    img = np.stack([base + 3 * c for c in range(channels)], axis=-1)
    return img.astype(dtype)


class FakeSource:
    """Implements the ``LabelSource`` protocol over generated frames.

    ``frames``: {frame_idx: [(track_id, points (n_nodes, 2)), ...]}.
    """

    format = "slp"

    def __init__(
        self,
        labels_path,
        video_path,
        frames,
        h=40,
        w=50,
        channels=1,
        dtype=np.uint16,
        fail_at: int | None = None,
        node_names=None,
        bad_shape_at: int | None = None,
    ):
        self.labels_path = Path(labels_path)
        self.video_path = Path(video_path)
        self.node_names = list(node_names or NODES)
        self.edges = [(0, 1), (1, 2)][: max(len(self.node_names) - 1, 0)]
        self.height, self.width, self.channels = h, w, channels
        self.dtype = np.dtype(dtype)
        self.n_frames = max(frames) + 1 if frames else 0
        self.intensity_range = (0.0, float(h * w + 100 + 7 * self.n_frames))
        self.frames = frames
        self.n_labeled_frames = len(frames)
        self.n_instances = sum(len(v) for v in frames.values())
        self.track_names = sorted({f"track_{t}" for v in frames.values() for t, _ in v if t >= 0})
        self.n_dropped_nan = 2
        self.fail_at = fail_at
        self.bad_shape_at = bad_shape_at
        self.closed = False

    def iter_frames(self, progress: bool = False):
        for f in sorted(self.frames):
            if self.fail_at is not None and f >= self.fail_at:
                raise RuntimeError("decoder died")
            insts = [
                SourceInstance(
                    instance_idx=i,
                    track_id=t,
                    track_name=f"track_{t}" if t >= 0 else None,
                    score=1.0,
                    points=np.asarray(p, np.float32),
                )
                for i, (t, p) in enumerate(self.frames[f])
            ]
            img = coded_image(self.height, self.width, f, self.channels, self.dtype)
            if f == self.bad_shape_at:
                img = img[:-1]
            yield SourceFrame(f, img, insts)

    def close(self) -> None:
        self.closed = True


def walking_frames(n_frames=20, n_tracks=2, gaps=(), w=50, h=40, seed=0, tracked=True):
    """Instances moving across the frame (some near borders); ``gaps``: frames left unlabelled."""
    rng = np.random.default_rng(seed)
    frames = {}
    for f in range(n_frames):
        if f in gaps:
            continue
        insts = []
        for t in range(n_tracks):
            c = np.array([(3 + 11 * t + 2 * f) % w, (2 + 7 * t + f) % h], np.float32)
            pts = c + rng.uniform(-2, 2, (3, 2)).astype(np.float32)
            insts.append((t if tracked else -1, pts))
        frames[f] = insts
    return frames


def install(monkeypatch, tmp_path: Path, frames, **kw) -> tuple[dict, FakeSource]:
    """Create input files, patch ``open_source`` to return a FakeSource, return (row, source)."""
    labels = tmp_path / "v.slp"
    video = tmp_path / "v.mp4"
    if not labels.exists():
        labels.write_bytes(b"labels")
        video.write_bytes(b"video")
    src = FakeSource(labels, video, frames, **kw)
    import dreem.io.sources as sources

    monkeypatch.setattr(sources, "open_source", lambda row: src)
    row = {
        "dataset": "fake",
        "video_id": "v",
        "format": "slp",
        "labels_path": str(labels),
        "video_path": str(video),
        "slp_video_index": 0,
        "extra": "{}",
    }
    return row, src
