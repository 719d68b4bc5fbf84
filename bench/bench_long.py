"""Long videos: extraction and tracking time and peak memory at 5k / 20k / 54k frames.

A 30-minute video (54,000 frames at 30 fps) of 6 animals on small frames (128², bodies 14
px) is generated once into ``--work`` (``dreem.synth`` motion and rendering, streamed frame
by frame into H.264, labels as a ``.slp``); the 5k and 20k videos are its first frames
(same seed). Each length is then, in a fresh process:

1. extracted (``dreem.data.extract.extract_video``: decode, crop 32 px around the thorax,
   write the shard), and
2. tracked (``dreem.inference.track.track_shard``: a randomly initialised GTR, d_model 128,
   with timm's tiny ``test_resnet`` backbone by default (``--encoder resnet18`` for the
   default model; 10x slower), window 8, ``max_tracks`` 6; writes the tracks table and the
   ``.slp``),

each reporting its wall time, frames/s and peak RSS (``VmHWM`` of that process, measured
after the libraries are imported so the figure is data, not code). Flat memory: peak RSS
does not grow with the video; linear time: frames/s does not fall.

Run: ``python bench/bench_long.py [--lengths 5000,20000,54000] [--work DIR]``; writes
``bench/results/long_video.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from benchlib import ROOT, peak_rss_mb, random_model, reset_peak_rss, wait_quiet

FPS = 30
SIZE = (128, 128)
N_ANIMALS = 6
BODY = 14.0
CROP = 32
SEED = 30


# ------------------------------------------------------------------ generation
def _frames(n_frames: int, seed: int):
    """Trajectories and a generator of rendered frames (one at a time)."""
    from dreem.synth.motion import MotionParams, simulate
    from dreem.synth.render import BACKGROUND, draw_frame, make_appearances, pose_points

    motion_rng, look_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    traj = simulate(motion_rng, N_ANIMALS, n_frames, SIZE, MotionParams(body_length=BODY))
    looks = make_appearances(look_rng, N_ANIMALS)
    scales = np.array([a.scale for a in looks])
    poses = np.stack(
        [pose_points(traj.xy[t], traj.heading[t], BODY, scales) for t in range(n_frames)]
    ).astype(np.float32)

    def frames():
        background = np.full(SIZE, BACKGROUND, np.float32)
        for t in range(n_frames):
            canvas = background.copy()
            draw_frame(canvas, traj.xy[t], traj.heading[t], looks, BODY)
            canvas += noise_rng.standard_normal(SIZE, dtype=np.float32) * 3.0
            yield np.rint(np.clip(canvas, 0, 255)).astype(np.uint8)

    return poses, frames()


def make_video(work: Path, n_frames: int) -> tuple[Path, Path]:
    """``long_{n}.mp4`` + ``long_{n}.slp`` in ``work`` (generated once, then reused)."""
    import imageio_ffmpeg

    from dreem.synth.animals import write_pose_slp

    mp4, slp = work / f"long_{n_frames}.mp4", work / f"long_{n_frames}.slp"
    if mp4.is_file() and slp.is_file():
        return slp, mp4
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    poses, frames = _frames(n_frames, SEED)
    tmp = mp4.with_suffix(".tmp.mp4")
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        size=(SIZE[1], SIZE[0]),
        fps=FPS,
        codec="libx264",
        pix_fmt_in="gray",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=["-crf", "20", "-preset", "ultrafast"],
    )
    writer.send(None)
    for frame in frames:
        writer.send(frame)
    writer.close()
    write_pose_slp(poses, slp, video_name=mp4.name, shape=(n_frames, *SIZE), fps=FPS)
    tmp.rename(mp4)
    print(f"generated {n_frames} frames in {time.perf_counter() - t0:.0f} s", flush=True)
    return slp, mp4


# ------------------------------------------------------------------ children
def _row(slp: Path, mp4: Path) -> dict:
    return {
        "dataset": "long",
        "video_id": slp.stem,
        "format": "slp",
        "labels_path": str(slp),
        "video_path": str(mp4),
        "slp_video_index": 0,
        "extra": "{}",
    }


def child_extract(slp: str, mp4: str, shard: str) -> dict:
    import cv2  # noqa: F401 - libraries first: the measured growth is data, not code
    import pyarrow.parquet  # noqa: F401
    import sleap_io  # noqa: F401

    from dreem.data.extract import extract_video

    base = reset_peak_rss()
    t0 = time.perf_counter()
    params = {"crop_size": CROP, "anchors": "thorax"}
    stats = extract_video(_row(Path(slp), Path(mp4)), params, Path(shard), progress=False)
    dt = time.perf_counter() - t0
    return {
        "seconds": dt,
        "fps": stats["n_frames_read"] / dt,
        "base_mb": base,
        "peak_rss_mb": peak_rss_mb(),
        "instances": stats["n_instances"],
    }


def child_track(shard: str, out: str, encoder: str) -> dict:
    import sleap_io  # noqa: F401
    import torch

    from dreem.inference.track import track_shard

    model, cfg = random_model([f"model.encoder_cfg.model_name={encoder}"])
    # max_tracks = the number of animals: a random model would otherwise start a new track
    # on most frames, and every track stays a candidate (max_gap: inf)
    tracker = cfg.tracker.model_copy(update={"window_size": 8, "max_tracks": N_ANIMALS})
    with torch.inference_mode():  # warm the encoder once (first-call set-up is not data)
        model.encode(torch.zeros(2, 3, CROP, CROP))
    base = reset_peak_rss()
    t0 = time.perf_counter()
    table = track_shard((model, cfg), Path(shard), tracker, Path(out), progress=False)
    dt = time.perf_counter() - t0
    n = int(table.frame_idx.nunique())
    ids = int(table.track_id[table.track_id >= 0].nunique())
    return {
        "seconds": dt,
        "fps": n / dt,
        "base_mb": base,
        "peak_rss_mb": peak_rss_mb(),
        "frames": n,
        "track_ids": ids,
    }


def _child(kind: str, *args: str) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def to_markdown(r: dict) -> str:
    lines = [
        "# Long videos: time and peak memory vs video length",
        "",
        f"{r['date_utc']} UTC, {os.cpu_count()} cores. Generated clip: {N_ANIMALS} animals, "
        f"{SIZE[0]}×{SIZE[1]} px, {FPS} fps, crops {CROP} px; 54,000 frames = 30 minutes. "
        f"Tracking: random GTR (d_model 128, encoder {r['encoder']}), window 8, max_tracks 6, "
        "on the CPU. "
        "Each figure is one fresh process; RSS growth = peak minus RSS after imports.",
        "",
        "| frames | stage | seconds | frames/s | peak RSS MB | growth MB | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, v in r["lengths"].items():
        for stage in ("extract", "track"):
            s = v[stage]
            lines.append(
                f"| {int(n):,} | {stage} | {s['seconds']:.1f} | {s['fps']:.0f} | "
                f"{s['peak_rss_mb']:.0f} | {s['peak_rss_mb'] - s['base_mb']:.0f} | "
                f"{s['load_before']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="5000,20000,54000")
    ap.add_argument("--work", type=Path, default=Path("/tmp/dreem_bench_long"))
    ap.add_argument("--max-load", type=float, default=1.3, help="wait for this 1-min load")
    ap.add_argument("--quiet-timeout", type=float, default=300, help="wait at most (s)")
    ap.add_argument(
        "--encoder",
        default="test_resnet",
        help="timm backbone of the tracking model (default: timm's tiny test_resnet, so the "
        "54k-frame run takes minutes; resnet18 is the default model's)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "long_video")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = {"extract": child_extract, "track": child_track}[args.child[0]]
        print(json.dumps(fn(*args.child[1:])), flush=True)
        return
    lengths = [int(x) for x in args.lengths.split(",")]
    result = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "encoder": args.encoder,
        "lengths": {},
    }
    for n in lengths:
        slp, mp4 = make_video(args.work, n)
        shard = args.work / f"long_{n}.parquet"
        if shard.exists():
            shard.unlink()
        res = {}
        for stage, child_args in (
            ("extract", (str(slp), str(mp4), str(shard))),
            ("track", (str(shard), str(args.work / f"tracks_{n}"), args.encoder)),
        ):
            before = wait_quiet(args.max_load, timeout_s=args.quiet_timeout)
            res[stage] = {**_child(stage, *child_args), "load_before": round(before, 2)}
            print(f"{n} frames, {stage}: {json.dumps(res[stage])}", flush=True)
        result["lengths"][str(n)] = res
    md = to_markdown(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(result, indent=1))
    Path(f"{args.out}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
