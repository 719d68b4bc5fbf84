"""Shared helpers of the benchmark scripts (never imported by dreem/ or tests/).

* :func:`sleap_data` finds the real DREEM fly clips (``$DREEM_SLEAP_DATA``, else a
  ``shared/data/sleap`` folder next to the repository or one of its parents, so git
  worktrees find it too);
* :func:`load`, :func:`wait_quiet` record and wait for a quiet machine (timings are only
  valid when the 1-minute load average is low);
* :func:`peak_rss_mb`, :func:`reset_peak_rss`: the process's peak resident memory;
* :func:`write_synthetic_shard`: a crop shard of animals moving on lines (no video needed);
* :func:`random_model`: a randomly initialised GTR from the typed config.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# Our tracking "without decoding": encoding (streamed just ahead of the tracker, so inside
# track_video) + association + the swap repairs; checkpoint loading excluded (the CLI also
# loads each checkpoint once up front, to fail early on a bad file).
OUR_NO_DECODING = ("dreem.inference.tracker:Tracker.track_video", "dreem.inference.track:repaired")


def sleap_data() -> Path:
    """The folder holding ``two_flies.slp``/``.mp4`` (may not exist: callers check)."""
    env = os.environ.get("DREEM_SLEAP_DATA")
    if env:
        return Path(env)
    for base in [ROOT, *ROOT.parents]:
        cand = base / "shared" / "data" / "sleap"
        if (cand / "two_flies.slp").is_file():
            return cand
    return ROOT.parent / "shared" / "data" / "sleap"


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def wait_quiet(max_load: float = 1.3, timeout_s: float = 900, poll_s: float = 60) -> float:
    """Wait (up to ``timeout_s``) until the 1-minute load is at most ``max_load``; return
    the load seen last (the caller records it next to the figure)."""
    t0 = time.monotonic()
    while load() > max_load and time.monotonic() - t0 < timeout_s:
        print(f"  load {load():.2f} > {max_load}: waiting {poll_s:.0f} s", flush=True)
        time.sleep(poll_s)
    return load()


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB; since the last :func:`reset_peak_rss`)."""
    try:
        return _status_mb("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> float:
    """Reset the peak-RSS watermark (Linux); return the current RSS in MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mb("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_synthetic_shard(
    path: Path,
    n_frames: int,
    n_animals: int = 2,
    hw: tuple[int, int] = (256, 256),
    crop: int = 32,
    rows_per_group: int = 2048,
    seed: int = 0,
) -> Path:
    """A crop shard of ``n_animals`` bouncing along horizontal lines, each with its own grey
    level (gt ids 0..n-1), written frame by frame (bounded memory)."""
    from dreem.io.shards import InstanceRecord, ShardMeta, ShardWriter

    h, w = hw
    rng = np.random.default_rng(seed)
    meta = ShardMeta(
        video_id=Path(path).stem,
        source_format="synthetic",
        labels_path="",
        video_path="",
        params={"crop_size": crop, "padding": 0, "anchors": "centroid"},
        sources={},
        frame_height=h,
        frame_width=w,
        n_frames=n_frames,
        channels=1,
        dtype="uint8",
        crop_hw=(crop, crop),
        anchor_names=["centroid"],
        node_names=["centroid"],
    )
    levels = np.linspace(40, 220, max(n_animals, 2))[:n_animals]
    span = max(w - 40.0, 1.0)
    ys = (np.arange(n_animals) + 1) * h / (n_animals + 1)
    half = crop / 2
    with ShardWriter(path, meta, rows_per_group=rows_per_group) as writer:
        for f in range(n_frames):
            phase = (f * 2.0 + np.arange(n_animals) * 7.0) % (2 * span)
            xs = 20.0 + np.where(phase < span, phase, 2 * span - phase)
            recs = []
            for k in range(n_animals):
                x, y = float(xs[k]), float(ys[k])
                img = rng.normal(levels[k], 3.0, (1, 1, crop, crop))
                recs.append(
                    InstanceRecord(
                        frame_idx=f,
                        instance_idx=k,
                        gt_track_id=k,
                        gt_track_name=None,
                        score=1.0,
                        centroid=(x, y),
                        bbox=np.array([[y - half, x - half, y + half, x + half]], np.float32),
                        pose=np.array([[x, y]], np.float32),
                        crop=np.clip(img, 0, 255).astype(np.uint8),
                    )
                )
            writer.add_frame(recs)
    return Path(path)


def random_model(overrides: list[str] | None = None, seed: int = 0):
    """``(model, cfg)``: a randomly initialised GTR (eval mode) of the default config with
    ``overrides`` (``"model.d_model=32"`` style)."""
    import torch

    from dreem.config import load_dreem_config
    from dreem.models.gtr import GlobalTrackingTransformer

    cfg = load_dreem_config({}, overrides or [])
    torch.manual_seed(seed)
    return GlobalTrackingTransformer(cfg.model).eval(), cfg
