"""Tracking speed and memory benchmark (CPU).

* ``two_flies`` (real clip, needs /work/shared/data or ``--data``): a randomly initialised
  default model (resnet18, d_model 128, crops 128), window 8. Reports encode and tracking
  time, frames/s end to end (shard → tracks, excluding extraction), and the per-frame cost of
  the naive scheme that re-encodes every crop of every window (ratio).
* a long synthetic shard (``--long-frames``, default 5000) written with ShardWriter,
  tracked by a small model (d_model 32, crops 32) in a fresh process per length, to show
  peak memory is flat in video length (crops are streamed, only features are kept).

Run: ``.venv/bin/python bench/bench_track.py [--quick] [--bf16]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import peak_rss_mb, random_model, sleap_data, write_synthetic_shard


def _extract(slp: Path, out_dir: Path, crop: int) -> Path:
    from dreem.data.extract import extract_video
    from dreem.io.discover import discover_dataset, manifest_rows

    spec = {"dir": {"path": str(slp.parent), "labels_suffix": ".slp", "vid_suffix": ".mp4"}}
    rows = [r for r in manifest_rows(discover_dataset("bench", spec)) if r["video_id"] == slp.stem]
    shard = out_dir / f"{slp.stem}.parquet"
    extract_video(rows[0], {"crop_size": crop, "anchors": "centroid"}, shard, progress=False)
    return shard


def bench_real(shard: Path, bf16: bool, naive_frames: int) -> dict:
    import torch

    from dreem.inference.track import _tile_grey, encode_shard, model_associate, torch_threads
    from dreem.inference.tracker import Tracker
    from dreem.io.shards import read_shard

    model, cfg = random_model()
    data = read_shard(shard, with_crops=False)
    n_frames = len(np.unique(data.frame_idx))
    hw = np.array([data.meta.frame_height, data.meta.frame_width] * 2, np.float32)
    boxes = data.bbox / hw
    tcfg = cfg.tracker.model_copy(update={"window_size": 8})
    t0 = time.perf_counter()
    feats = encode_shard(model, shard, bf16=bf16)
    t1 = time.perf_counter()
    assoc = model_associate(model, feats, boxes, data.frame_idx, bf16=bf16)
    with torch_threads(1):  # as track_shard does on CPU
        Tracker(tcfg).track_video(assoc, data.frame_idx, boxes, data.centroid)
    t2 = time.perf_counter()
    out = {
        "n_frames": n_frames,
        "n_instances": len(data),
        "encode_s": round(t1 - t0, 2),
        "track_s": round(t2 - t1, 2),
        "fps": round(n_frames / (t2 - t0), 1),
    }
    # naive: re-encode every crop of the window + query at every frame
    full = read_shard(shard, with_crops=True)
    crops = torch.from_numpy(_tile_grey(full.normalized_crops(), full.meta.channels))
    times = torch.from_numpy(data.frame_idx)
    bt = torch.from_numpy(np.nan_to_num(boxes).astype(np.float32))

    def naive(ref, query):
        r, q = torch.from_numpy(ref), torch.from_numpy(query)
        with torch.inference_mode():
            f = model.encode(torch.cat([crops[r], crops[q]]))
            out = model.associate(f[: len(r)], bt[r], times[r], f[len(r) :], bt[q], times[q])
        return out[-1].float().numpy()

    keep = data.frame_idx < np.unique(data.frame_idx)[min(naive_frames, n_frames) - 1] + 1
    t3 = time.perf_counter()
    Tracker(tcfg).track_video(naive, data.frame_idx[keep], boxes[keep], data.centroid[keep])
    naive_per_frame = (time.perf_counter() - t3) / int(np.unique(data.frame_idx[keep]).size)
    cached_per_frame = (t2 - t0) / n_frames
    out["naive_fps"] = round(1 / naive_per_frame, 1)
    out["cached_vs_naive_speedup"] = round(naive_per_frame / cached_per_frame, 2)
    return out


def _long_child(shard: str) -> None:
    """Child process: track ``shard`` with a small model; print time and peak RSS."""
    from dreem.config.tracker import TrackerConfig
    from dreem.inference.track import track_shard

    model, cfg = random_model(["model.d_model=32"])
    t0 = time.perf_counter()
    table = track_shard(
        (model, cfg),
        Path(shard),
        TrackerConfig(window_size=8),
        Path(shard + ".out"),
        progress=False,
    )
    dt = time.perf_counter() - t0
    rss = peak_rss_mb()
    print(
        json.dumps(
            {
                "frames": int(table.frame_idx.nunique()),
                "seconds": round(dt, 1),
                "fps": round(table.frame_idx.nunique() / dt, 1),
                "peak_rss_mb": round(rss, 1),
            }
        )
    )


def bench_long(tmp: Path, lengths: list[int]) -> list[dict]:
    out = []
    for n in lengths:
        shard = write_synthetic_shard(
            tmp / f"long{n}.parquet",
            n_frames=n,
            n_animals=2,
            hw=(256, 256),
            crop=32,
            rows_per_group=512,
        )
        res = subprocess.run(
            [sys.executable, __file__, "--child", str(shard)],
            check=True,
            capture_output=True,
            text=True,
        )
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=sleap_data() / "two_flies.slp")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for encoder/association")
    ap.add_argument("--naive-frames", type=int, default=24)
    ap.add_argument("--long-frames", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="long shard of 1,000 frames only")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--skip-long", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _long_child(args.child)
        return
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.skip_real:
            pass
        elif args.data.is_file():
            shard = _extract(args.data, tmp, crop=128)
            print("two_flies:", json.dumps(bench_real(shard, args.bf16, args.naive_frames)))
        else:
            print(f"skipping real clip: {args.data} not found")
        lengths = [] if args.skip_long else [1000] if args.quick else [1000, args.long_frames]
        for r in bench_long(tmp, lengths):
            print("long synthetic:", json.dumps(r))


if __name__ == "__main__":
    main()
