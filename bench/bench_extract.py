"""Benchmark: extraction speed vs plain sequential OpenCV decode, and memory vs video length.

Usage: ``python bench/bench_extract.py [--workdir DIR] [--crop 128] [--long 5000]``

* two_flies (``/work/shared/data/sleap``, if present): 1024² grey mp4 + .slp;
* synthetic videos (generated once into ``--workdir``): 256² frames, a few moving blobs,
  a matching .slp written with sleap-io; 1,000 and ``--long`` frames.

Speed = frames/s of ``extract_video`` (end to end: labels, decode, crop, shard write) vs a
plain ``cv2.VideoCapture.read()`` loop over the same frames, and vs the input layer alone
(``open_source`` + ``iter_frames``: labels + decode + grey conversion, no crops). Best of
``--repeat`` runs each. Memory = peak RSS of a fresh
process extracting the 1,000- vs the long video (flat ⇒ streaming works). Prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleap"
NODES = ["head", "thorax", "tail"]


def make_synthetic(workdir: Path, n_frames: int, n_animals: int = 3, size: int = 256) -> dict:
    """Write ``synth_{n}.mp4`` + ``synth_{n}.slp`` (cached) and return a manifest row."""
    import cv2
    import sleap_io as sio

    video = workdir / f"synth_{n_frames}.mp4"
    labels = workdir / f"synth_{n_frames}.slp"
    row = {
        "dataset": "bench",
        "video_id": video.stem,
        "format": "slp",
        "labels_path": str(labels),
        "video_path": str(video),
        "slp_video_index": 0,
        "extra": "{}",
    }
    if video.exists() and labels.exists():
        return row
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pos = rng.uniform(30, size - 30, (n_animals, 2))
    vel = rng.normal(0, 2, (n_animals, 2))
    skeleton = sio.Skeleton(NODES)
    tracks = [sio.Track(f"animal_{k}") for k in range(n_animals)]
    sio_video = sio.Video(str(video), open_backend=False)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (size, size), True)
    yy, xx = np.mgrid[0:size, 0:size]
    lfs = []
    for f in range(n_frames):
        vel = 0.9 * vel + rng.normal(0, 0.7, vel.shape)
        pos = np.clip(pos + vel, 10, size - 10)
        img = np.full((size, size), 40, np.float32)
        insts = []
        for k in range(n_animals):
            x, y = pos[k]
            img += 180 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * (6 + 2 * k) ** 2))
            heading = np.arctan2(vel[k, 1], vel[k, 0])
            d = np.array([np.cos(heading), np.sin(heading)]) * 6
            pts = np.stack([pos[k] + d, pos[k], pos[k] - d])
            insts.append(sio.Instance.from_numpy(pts, skeleton=skeleton, track=tracks[k]))
        frame = np.clip(img, 0, 255).astype(np.uint8)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        lfs.append(sio.LabeledFrame(video=sio_video, frame_idx=f, instances=insts))
    writer.release()
    sio_labels = sio.Labels(
        labeled_frames=lfs, videos=[sio_video], skeletons=[skeleton], tracks=tracks
    )
    sio.save_slp(sio_labels, str(labels))
    return row


def plain_decode_fps(video: str) -> tuple[int, float]:
    """Frames and frames/s of a bare sequential ``cap.read()`` loop."""
    import cv2

    cap = cv2.VideoCapture(video)
    t0 = time.perf_counter()
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n, n / (time.perf_counter() - t0)


def source_fps(row: dict) -> float:
    """Frames/s of the input layer alone: open the source and iterate its frames (no crops)."""
    from dreem.io.sources import open_source

    t0 = time.perf_counter()
    src = open_source(row)
    n = sum(1 for _ in src.iter_frames())
    src.close()
    return n / (time.perf_counter() - t0)


def extract_fps(row: dict, params: dict, out: Path) -> dict:
    from dreem.data.extract import extract_video

    if out.exists():
        out.unlink()
    return extract_video(row, params, out, progress=False)


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_memory(row_json: str, params_json: str, out: str) -> None:
    """Run in a fresh process: extract and print RSS before and peak RSS during (MiB)."""
    # import the libraries first so that the measured growth is data, not code
    import cv2  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import sleap_io  # noqa: F401

    import dreem.data.extract  # noqa: F401
    import dreem.io.slp  # noqa: F401

    try:  # reset the peak-RSS watermark (Linux), so the peak is that of the extraction
        Path("/proc/self/clear_refs").write_text("5")
        base = _status_mib("VmRSS")
    except OSError:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = extract_fps(json.loads(row_json), json.loads(params_json), Path(out))
    peak = max(_status_mib("VmHWM"), 0.0)
    print(json.dumps({"peak_mib": peak, "base_mib": base, "fps": stats["fps"]}))


def measure_memory(row: dict, params: dict, out: Path) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        json.dumps(row),
        json.dumps(params),
        str(out),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dreem_bench_extract"))
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--long", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_memory(*args.child)
        return
    params = {"crop_size": args.crop, "padding": 5, "anchors": "thorax", "seed": 0}
    rows = []
    if (SHARED / "two_flies.slp").exists():
        rows.append(
            (
                "two_flies (1024², 2 flies)",
                {
                    "dataset": "bench",
                    "video_id": "two_flies",
                    "format": "slp",
                    "labels_path": str(SHARED / "two_flies.slp"),
                    "video_path": str(SHARED / "two_flies.mp4"),
                    "slp_video_index": 0,
                    "extra": "{}",
                },
            )
        )
    short = make_synthetic(args.workdir, 1000)
    long = make_synthetic(args.workdir, args.long)
    rows.append((f"synthetic {args.long} (256², 3 blobs)", long))

    print(f"crop {args.crop} + 2·5 padding, anchor thorax\n")
    print("| video | frames | plain decode fps | source iter fps | extract fps | extract/decode |")
    print("|---|---|---|---|---|---|")
    for name, row in rows:
        n, dec = max(
            (plain_decode_fps(row["video_path"]) for _ in range(args.repeat)), key=lambda t: t[1]
        )
        out = args.workdir / f"{row['video_id']}.parquet"
        src = max(source_fps(row) for _ in range(args.repeat))
        ext = max(extract_fps(row, params, out)["fps"] for _ in range(args.repeat))
        print(f"| {name} | {n} | {dec:.0f} | {src:.0f} | {ext:.0f} | {ext / dec:.2f}× |")

    print("\n| video | frames | RSS before MiB | peak RSS MiB | growth MiB |")
    print("|---|---|---|---|---|")
    for row in (short, long):
        out = args.workdir / f"{row['video_id']}.mem.parquet"
        m = measure_memory(row, params, out)
        n = int(row["video_id"].split("_")[1])
        growth = m["peak_mib"] - m["base_mib"]
        cells = [
            row["video_id"],
            n,
            f"{m['base_mib']:.0f}",
            f"{m['peak_mib']:.0f}",
            f"{growth:.0f}",
        ]
        print("| " + " | ".join(map(str, cells)) + " |")


if __name__ == "__main__":
    main()
