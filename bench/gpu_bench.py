"""The GPU path in one run (called by bench/gpu.sh): data, encoder limit, training with mixed
precision, tracking, and one table of figures.

Steps (each timed; figures also in ``WORK/gpu_bench.json``):

1. data: ``two_flies`` (the real clip, if found) and generated 2-animal clips (512², bodies
   ~45 px, in a 128 px crop): ``--train-clips`` × ``--train-frames`` frames for training,
   one ``--track-frames`` clip for tracking;
2. the encoder's raw limit on the device (bench/encoder_limit.py: resnet18 fwd+bwd+Adam, 64
   crops of 128², in the training precision);
3. ``dreem train`` of the benchmark config (bench/configs/reference_default.yaml: resnet18,
   d_model 128, 1+1 layers, crop 128, clip 32) with ``trainer.precision`` = ``--precision``
   for ``--epochs`` epochs on the generated clips (``--workers`` loader processes), through
   bench/probe.py: instances/s end to end and inside epochs/steps;
4. ``dreem track`` with that model on the tracking clip and on two_flies: frames/s end to
   end, with decoding (discover + extract + track + write) and without (encode + associate).

``--cpu-smoke`` runs the same steps tiny on the CPU (crop 64, an encoder limit of 16-crop
batches, one epoch of 64 instances: seconds, not minutes, also on CPUs whose bf16 kernels
are slow): it checks the script, not the speed; tests/test_gpu_script.py runs it.
Targets (TARGETS.md, on an H200): training ≥ 2,000 instances/s at crop 128, tracking ≥ 500
frames/s for 2 animals.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from benchlib import OUR_NO_DECODING, sleap_data  # noqa: E402

STEPS: dict[str, float] = {}


def step(name: str):
    class _T:
        def __enter__(self):
            self.t0 = time.perf_counter()
            print(f"== {name}", flush=True)

        def __exit__(self, *exc):
            STEPS[name] = time.perf_counter() - self.t0
            print(f"   {name}: {STEPS[name]:.1f} s", flush=True)

    return _T()


def run(cmd: list, log: Path, env: dict | None = None) -> float:
    """Run ``cmd`` (output to ``log``); its wall time; exit on failure with the log's tail."""
    t0 = time.perf_counter()
    with open(log, "w") as out:
        rc = subprocess.call(
            [str(c) for c in cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    if rc != 0:
        raise SystemExit(f"failed (rc {rc}): {' '.join(map(str, cmd))}\n" + log.read_text()[-4000:])
    return time.perf_counter() - t0


def _clip(args: tuple) -> None:
    from dreem.synth import generate_animals

    folder, name, seed, n, size, body = args
    if not (folder / f"{name}.slp").is_file():
        generate_animals(
            folder,
            name,
            seed=seed,
            n_animals=2,
            n_frames=n,
            size=(size, size),
            body_length=body,
            speed=0.1,
        )


def make_data(work: Path, a) -> dict[str, Path]:
    """Generated clips (in parallel) and a link to two_flies when it is found."""
    from concurrent.futures import ProcessPoolExecutor

    train, track = work / "data" / "train", work / "data" / "track"
    jobs = [
        (train, f"clip_{i}", 100 + i, a.train_frames, a.size, a.body) for i in range(a.train_clips)
    ]
    jobs.append((track, "track_2", 7, a.track_frames, a.size, a.body))
    with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        list(pool.map(_clip, jobs))
    out = {"train": train, "track_2": track}
    flies = sleap_data()
    if (flies / "two_flies.slp").is_file():
        d = work / "data" / "two_flies"
        d.mkdir(parents=True, exist_ok=True)
        for ext in (".slp", ".mp4"):
            if not (d / f"two_flies{ext}").exists():
                (d / f"two_flies{ext}").symlink_to(flies / f"two_flies{ext}")
        out["two_flies"] = d
    return out


def n_frames(folder: Path) -> int:
    import sleap_io as sio

    return sum(
        len(sio.load_slp(str(p), open_videos=False, lazy=True).labeled_frames)
        for p in folder.glob("*.slp")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/dreem_gpu"))
    ap.add_argument("--cpu-smoke", action="store_true")
    ap.add_argument("--precision", default="bf16-mixed")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--train-clips", type=int, default=8)
    ap.add_argument("--train-frames", type=int, default=512)
    ap.add_argument("--track-frames", type=int, default=2048)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--body", type=float, default=45.0)
    ap.add_argument("--crop", type=int, default=128, help="training crop and encoder limit's")
    a = ap.parse_args()
    limit_batch, limit_steps, limit_warmup = 64, 20, 5
    if a.cpu_smoke:  # tiny: on CPUs without bf16 units bf16 kernels run ~20x slower
        a.epochs, a.workers, a.train_clips, a.train_frames, a.track_frames = 1, 0, 1, 32, 32
        a.size, a.body, a.crop = 256, 45.0, 64
        limit_batch, limit_steps, limit_warmup = 16, 2, 1
    device = "cpu" if a.cpu_smoke else "cuda"
    work = a.work
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    env = {"PYTHONPATH": str(ROOT), "NO_ALBUMENTATIONS_UPDATE": "1"}
    result: dict = {
        "device": device,
        "precision": a.precision,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }

    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch (use --cpu-smoke to dry-run on a CPU)")
    result["gpu"] = torch.cuda.get_device_name(0) if device == "cuda" else None
    result["torch"] = torch.__version__

    with step("data"):
        data = make_data(work, a)
    with step("encoder limit"):
        log = work / "encoder_limit.log"
        prec = a.precision if a.precision in ("bf16-mixed", "16-mixed") else "32"
        run(
            [
                py,
                HERE / "encoder_limit.py",
                "--device",
                device,
                "--precision",
                prec,
                "--crop",
                str(a.crop),
                "--batch",
                str(limit_batch),
                "--steps",
                str(limit_steps),
                "--warmup",
                str(limit_warmup),
            ],
            log,
            env,
        )
        result["encoder_limit"] = json.loads(log.read_text().strip().splitlines()[-1])

    with step("train"):
        cfg = yaml.safe_load((HERE / "configs" / "reference_default.yaml").read_text())
        spec = {"path": str(data["train"]), "labels_suffix": ".slp", "vid_suffix": ".mp4"}
        cfg["dataset"]["train_dataset"]["dir"] = spec
        cfg["dataset"]["train_dataset"]["crop_size"] = a.crop
        cfg["dataset"].pop("val_dataset", None)
        cfg["early_stopping"] = None
        cfg["trainer"].update(
            accelerator="cpu" if a.cpu_smoke else "gpu",
            devices=1,
            precision=a.precision,
            max_epochs=a.epochs,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        cfg["dataloader"]["train_dataloader"].update(
            num_workers=a.workers, persistent_workers=a.workers > 0
        )
        cfg_path = work / "gpu_train.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        out = work / "train_out"
        stats = work / "train_probe.json"
        wall = run(
            [
                py,
                HERE / "probe.py",
                "--out",
                stats,
                "--lightning",
                "lightning.pytorch",
                "--",
                "dreem.cli:main",
                "train",
                cfg_path,
                "-o",
                out,
            ],
            work / "train.log",
            env,
        )
        tr = json.loads(stats.read_text())["train"]
        result["train"] = {
            "instances": tr["instances"],
            "epochs": tr["epochs"],
            "wall_s": wall,
            "e2e_ips": tr["instances"] / wall,
            "epoch_ips": tr["instances"] / tr["epoch_s"],
            "step_ips": tr["instances"] / tr["step_s"],
        }
        ckpt = out / "models" / "gpu_train" / "best.ckpt"

    result["track"] = {}
    for clip, folder in data.items():
        if clip == "train":
            continue
        with step(f"track {clip}"):
            stats = work / f"track_{clip}_probe.json"
            timed = ["dreem.stages:track_data", *OUR_NO_DECODING]
            cmd = [py, HERE / "probe.py", "--out", stats]
            for t in timed:
                cmd += ["--time", t]
            cmd += ["--", "dreem.cli:main", "track", ckpt, folder, "-o", work / f"track_{clip}"]
            wall = run(cmd, work / f"track_{clip}.log", env)
            t = {k: v["seconds"] for k, v in json.loads(stats.read_text())["timed"].items()}
            n = n_frames(folder)
            no_dec = sum(t[k] for k in OUR_NO_DECODING)
            result["track"][clip] = {
                "frames": n,
                "wall_s": wall,
                "e2e_fps": n / wall,
                "decode_fps": n / t[timed[0]],
                "nodecode_fps": n / no_dec,
            }
    result["steps_s"] = STEPS
    (work / "gpu_bench.json").write_text(json.dumps(result, indent=1))
    print_table(result)


def print_table(r: dict) -> None:
    lim, tr = r["encoder_limit"], r["train"]
    print(
        f"\n# GPU path: {r['gpu'] or 'CPU smoke run'} · torch {r['torch']} · "
        f"{r['precision']} · {r['date_utc']} UTC\n"
    )
    print("| measure | value |\n|---|---|")
    print(
        f"| encoder limit (resnet18 fwd+bwd+Adam, {lim['batch']}×{lim['crop']}²) | "
        f"{lim['train_crops_per_s']:.0f} crops/s (forward only {lim['forward_crops_per_s']:.0f}) |"
    )
    print(
        f"| training: {tr['instances']} instances, {tr['epochs']} epochs, wall | "
        f"{tr['wall_s']:.1f} s |"
    )
    for key, label in (
        ("e2e_ips", "end to end"),
        ("epoch_ips", "inside epochs"),
        ("step_ips", "inside steps"),
    ):
        print(
            f"| … instances/s {label} | {tr[key]:.0f} "
            f"({tr[key] / lim['train_crops_per_s']:.2f}× the limit) |"
        )
    for clip, t in r["track"].items():
        print(
            f"| tracking {clip} ({t['frames']} frames): frames/s end to end / with decoding "
            f"/ without | {t['e2e_fps']:.0f} / {t['decode_fps']:.0f} / {t['nodecode_fps']:.0f} |"
        )
    total = sum(r["steps_s"].values())
    print(
        f"| steps | {', '.join(f'{k} {v:.0f} s' for k, v in r['steps_s'].items())}; "
        f"total {total:.0f} s |"
    )


if __name__ == "__main__":
    main()
