"""Side by side with the reference (dreem-track 0.5.1): same machine, same run, same clips.

Both sides train the reference's default config (resnet18, d_model 128, 1 + 1 layers, crop
128 around the centroid, clip 32, its augmentations; ours: bench/configs/
reference_default.yaml) for 3 epochs on ``two_flies`` with one validation clip per epoch
(``two_flies`` again: the reference's CLI needs a ``--val-dir`` and its scheduler needs
``val_loss``; no sanity pass), then each side's model tracks ``two_flies`` and a generated
6-animal clip (512², 128 frames). Runs alternate (reference, ours, then ours, reference, ...)
and each waits for a quiet machine; the raw encoder limit (bench/encoder_limit.py: resnet18
forward + backward + Adam, 64 crops of 128², 2 threads) is measured in the same run, before
and after.

Figures (best of ``--repeat`` runs; every run is kept in the JSON):

* CLI start-up: ``dreem --help`` wall time;
* training: wall time of the whole CLI run (start-up, data preparation, 3 epochs, checkpoint
  writing); instances/s end to end (instances × epochs / wall) and inside training epochs
  (validation excluded, data loading included) and inside steps (data loading excluded);
  peak RSS; the fraction of the encoder limit;
* tracking (``dreem track``): frames/s end to end (CLI wall), with decoding (the in-process
  tracking call: model load, decode/extract, track, write) and without decoding (ours:
  encode + associate from the crop shard; the reference: its ``predict_step`` on decoded
  clips); peak RSS.

The reference runs from its own virtualenv with ``--no-gpu``; without one this script
prints how to make one and exits 0.

Run: ``python bench/compare_reference.py --ref-venv /work/venvs/ref [--repeat 2]
[--train-repeat N]`` (training runs per side, default ``--repeat``: its run-to-run spread is
the widest);
writes ``bench/results/compare_reference.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from benchlib import OUR_NO_DECODING, ROOT, load, sleap_data, wait_quiet

PROBE = ROOT / "bench" / "probe.py"
OUR_CONFIG = ROOT / "bench" / "configs" / "reference_default.yaml"
REF_VERSION = "0.5.1"
HOW_TO = f"""\
The reference's virtualenv was not found. Make one (about 2 minutes, 6.6 GB) outside the
project tree:
    PYENV_VERSION=3.12.1 python3.12 -m venv /work/venvs/ref
    /work/venvs/ref/bin/pip install dreem-track=={REF_VERSION}
and pass --ref-venv /work/venvs/ref."""


# ------------------------------------------------------------------ processes
def _env(ours: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OMP_NUM_THREADS")}
    env.update(PYTHONUNBUFFERED="1", NO_ALBUMENTATIONS_UPDATE="1", WANDB_MODE="disabled")
    if ours:
        env["PYTHONPATH"] = str(ROOT)
    return env


def run_process(cmd: list[str], env: dict, cwd: Path, log: Path) -> dict:
    """Run ``cmd``; wall time, peak RSS (MB) of the process and its exit code."""
    cwd.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "rc": proc.returncode}


class Side:
    """How to run one implementation."""

    def __init__(self, name: str, python: Path, cli: str, lightning: str, ours: bool):
        self.name, self.python, self.cli, self.lightning, self.ours = (
            name,
            python,
            cli,
            lightning,
            ours,
        )

    def probe(self, out: Path, args: list[str], timed=(), trainer=False, preimport="") -> list[str]:
        cmd = [str(self.python), str(PROBE), "--out", str(out)]
        if preimport:
            cmd += ["--preimport", preimport]
        if trainer:
            cmd += ["--lightning", self.lightning]
        for t in timed:
            cmd += ["--time", t]
        return [*cmd, "--", self.cli, *map(str, args)]

    def run(self, cmd: list[str], cwd: Path, log: Path) -> dict:
        res = run_process(cmd, _env(self.ours), cwd, log)
        if res["rc"] != 0:
            tail = log.read_text()[-3000:]
            raise SystemExit(f"{self.name}: command failed (rc {res['rc']}): {cmd}\n{tail}")
        return res


def ours_side() -> Side:
    return Side("ours", Path(sys.executable), "dreem.cli:main", "lightning.pytorch", True)


def ref_side(venv: Path) -> Side:
    return Side("reference", venv / "bin" / "python", "dreem.cli:app", "pytorch_lightning", False)


def ref_version(venv: Path) -> str | None:
    py = venv / "bin" / "python"
    if not py.is_file():
        return None
    code = "import importlib.metadata as m; print(m.version('dreem-track'))"
    res = subprocess.run([str(py), "-c", code], capture_output=True, text=True, env=_env(False))
    return res.stdout.strip() if res.returncode == 0 else None


# ------------------------------------------------------------------ data
def make_data(work: Path) -> dict[str, Path]:
    """``two_flies/`` (links to the real clip) and ``six_animals/`` (generated once)."""
    src = sleap_data()
    flies = work / "data" / "two_flies"
    flies.mkdir(parents=True, exist_ok=True)
    for ext in (".slp", ".mp4"):
        link = flies / f"two_flies{ext}"
        if not link.exists():
            link.symlink_to(src / f"two_flies{ext}")
    six = work / "data" / "six_animals"
    if not (six / "six_animals.slp").is_file():
        from dreem.synth import generate_animals

        generate_animals(
            six,
            "six_animals",
            seed=6,
            n_animals=6,
            n_frames=128,
            size=(512, 512),
            body_length=40.0,
            speed=0.3,
        )
    return {"two_flies": flies, "six_animals": six}


N_FRAMES = {"two_flies": 128, "six_animals": 128}
# What our tracking imports (no timm/torchvision: dreem.models.plain_resnet); nothing more,
# since these imports count in our end-to-end time.
OUR_TRACK_IMPORTS = (
    "torch,sleap_io,cv2,pandas,pyarrow.parquet,scipy.optimize,dreem.stages,"
    "dreem.inference.track,dreem.data.extract,dreem.io.slp,dreem.models.gtr"
)
# One validation clip per epoch on both sides: the reference's CLI needs a validation set and
# its plateau scheduler fails without val_loss; no sanity pass.
VAL_PASS = {"limit_val_batches": 1, "num_sanity_val_steps": 0}


# ------------------------------------------------------------------ steps
def startup(side: Side, work: Path) -> dict:
    """``dreem --help`` through the side's console script, as a user runs it."""
    exe = side.python.with_name("dreem")
    cmd = [str(exe), "--help"] if exe.is_file() else [str(side.python), "-m", "dreem.cli", "--help"]
    return side.run(cmd, work, work / f"help_{side.name}.log")


def encoder_limit(work: Path) -> dict:
    """crops/s of resnet18 fwd+bwd+Adam (3 input channels: the limit), and with a 1-channel
    stem (what training computes on grey crops, see dreem.models.encoder)."""
    out = {}
    for chans in (3, 1):
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "encoder_limit.py"),
            "--crop",
            "128",
            "--batch",
            "64",
            "--threads",
            "2",
            "--steps",
            "4",
            "--in-chans",
            str(chans),
        ]
        log = work / f"encoder_limit_{chans}.log"
        run_process(cmd, _env(True), work, log)
        res = json.loads(log.read_text().strip().splitlines()[-1])
        if chans == 3:
            out.update(res)
        else:
            out["train_crops_per_s_1ch"] = res["train_crops_per_s"]
    return {**out, "load": load(), "date_utc": _now()}


def train(side: Side, data: Path, epochs: int, run_dir: Path) -> dict:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    stats = run_dir / "probe.json"
    if side.ours:
        cfg = yaml.safe_load(OUR_CONFIG.read_text())
        spec = {"path": str(data), "labels_suffix": ".slp", "vid_suffix": ".mp4"}
        cfg["dataset"]["train_dataset"]["dir"] = spec
        cfg["dataset"]["val_dataset"]["dir"] = spec
        cfg["trainer"].update(max_epochs=epochs, **VAL_PASS)
        cfg_path = run_dir / "reference_default.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        args = ["train", cfg_path, "-o", run_dir / "out"]
    else:
        args = [
            "train",
            data,
            "--val-dir",
            data,
            "--crop-size",
            128,
            "--epochs",
            epochs,
            "--no-gpu",
            *(x for k, v in VAL_PASS.items() for x in ("--set", f"trainer.{k}={v}")),
        ]
    res = side.run(side.probe(stats, args, trainer=True), run_dir, run_dir / "log.txt")
    probe = json.loads(stats.read_text())["train"]
    n = probe["instances"]
    res.update(
        instances=n,
        epochs=probe["epochs"],
        e2e_ips=n / res["wall_s"],
        epoch_ips=n / max(probe["epoch_s"], 1e-9),
        step_ips=n / max(probe["step_s"], 1e-9),
        checkpoint=str(_checkpoint(side, run_dir)),
    )
    return res


def _checkpoint(side: Side, run_dir: Path) -> Path:
    if side.ours:
        return run_dir / "out" / "models" / "reference_default" / "best.ckpt"
    ckpts = sorted((run_dir / "models").rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not ckpts:
        raise SystemExit(f"reference: no checkpoint under {run_dir / 'models'}")
    return ckpts[-1]


def track(side: Side, ckpt: str, data: Path, clip: str, run_dir: Path) -> dict:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    stats = run_dir / "probe.json"
    if side.ours:
        timed = ["dreem.stages:track_data", *OUR_NO_DECODING]
        args = ["track", ckpt, data, "-o", run_dir / "out"]
    else:
        timed = ["dreem.inference.track:run", "dreem.models.gtr_runner:GTRRunner.predict_step"]
        args = [
            "track",
            data,
            "--checkpoint",
            ckpt,
            "--output",
            run_dir / "out",
            "--crop-size",
            128,
            "--no-gpu",
            "--quiet",
        ]
    # ours imports the heavy libraries lazily, inside the timed calls; the reference at
    # start-up: import them first so "with decoding" compares the same work
    pre = OUR_TRACK_IMPORTS if side.ours else ""
    res = side.run(
        side.probe(stats, args, timed=timed, preimport=pre), run_dir, run_dir / "log.txt"
    )
    t = {k: v["seconds"] for k, v in json.loads(stats.read_text())["timed"].items()}
    if side.ours:
        with_dec = t["dreem.stages:track_data"]
        no_dec = sum(t[k] for k in OUR_NO_DECODING)
    else:
        with_dec = t["dreem.inference.track:run"]
        no_dec = t["dreem.models.gtr_runner:GTRRunner.predict_step"]
    n = N_FRAMES[clip]
    res.update(
        frames=n,
        e2e_fps=n / res["wall_s"],
        decode_fps=n / with_dec,
        nodecode_fps=n / no_dec,
        with_decoding_s=with_dec,
        without_decoding_s=no_dec,
    )
    return res


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime())


QUIET_TIMEOUT = [300.0]


def _measure(fn, max_load: float, *args) -> dict:
    before = wait_quiet(max_load, timeout_s=QUIET_TIMEOUT[0])
    res = fn(*args)
    res.update(load_before=round(before, 2), load_after=round(load(), 2), date_utc=_now())
    return res


# ------------------------------------------------------------------ report
def _best(runs: list[dict], key: str, larger: bool = True) -> dict:
    return (max if larger else min)(runs, key=lambda r: r[key])


def to_markdown(r: dict) -> str:
    ref, our = r["runs"]["reference"], r["runs"]["ours"]
    lim = max(e["train_crops_per_s"] for e in r["encoder_limit"])

    def row(label, key, fmt, larger=True, runs=None, unit=""):
        a = _best(runs[0], key, larger)
        b = _best(runs[1], key, larger)
        ratio = b[key] / a[key] if larger else a[key] / b[key]
        loads = f"{a['load_before']:.2f} / {b['load_before']:.2f}"
        return (
            f"| {label} | {format(a[key], fmt)}{unit} | {format(b[key], fmt)}{unit} | "
            f"**{ratio:.2f}×** | {loads} |"
        )

    lines = [
        "# Side by side with the reference (dreem-track "
        f"{r['reference_version']}) — one run, this machine",
        "",
        f"{r['date_utc']} UTC, {r['machine']}; reference: its own venv, `--no-gpu`; ours: "
        f"Python {r['python']}. Best of {r['repeat']} alternating runs "
        f"({r.get('train_repeat', r['repeat'])} for training; all runs in the JSON). "
        "Ratio: ours / reference for rates, reference / ours for times and memory. "
        "Load: 1-minute load average before the reference's / our best run.",
        "",
        "| measure | reference | ours | ratio | load |",
        "|---|---|---|---|---|",
        row(
            "CLI start-up `dreem --help` (s)",
            "wall_s",
            ".2f",
            False,
            (ref["startup"], our["startup"]),
        ),
        row(
            "training 3 epochs two_flies: wall (s)",
            "wall_s",
            ".1f",
            False,
            (ref["train"], our["train"]),
        ),
        row("… instances/s end to end", "e2e_ips", ".1f", True, (ref["train"], our["train"])),
        row(
            "… instances/s inside epochs (loading incl.)",
            "epoch_ips",
            ".1f",
            True,
            (ref["train"], our["train"]),
        ),
        row(
            "… instances/s inside steps (loading excl.)",
            "step_ips",
            ".1f",
            True,
            (ref["train"], our["train"]),
        ),
        row("… peak RSS (MB)", "peak_rss_mb", ".0f", False, (ref["train"], our["train"])),
    ]
    for clip in N_FRAMES:
        a, b = ref[f"track_{clip}"], our[f"track_{clip}"]
        lines += [
            row(f"tracking {clip}: frames/s end to end (CLI)", "e2e_fps", ".1f", True, (a, b)),
            row("… frames/s with decoding (in process)", "decode_fps", ".1f", True, (a, b)),
            row("… frames/s without decoding", "nodecode_fps", ".1f", True, (a, b)),
            row("… peak RSS (MB)", "peak_rss_mb", ".0f", False, (a, b)),
        ]
    bt_ref, bt_our = _best(ref["train"], "e2e_ips"), _best(our["train"], "e2e_ips")
    walls = {
        name: [t["wall_s"] for t in side["train"]] for name, side in (("ref", ref), ("our", our))
    }
    med = {name: statistics.median(w) for name, w in walls.items()}
    lines += [
        "",
        f"Training wall times, every run in order (alternating, {len(walls['our'])} per side): "
        f"reference {', '.join(f'{w:.1f}' for w in walls['ref'])} s; ours "
        f"{', '.join(f'{w:.1f}' for w in walls['our'])} s. Medians {med['ref']:.1f} / "
        f"{med['our']:.1f} s: **{med['ref'] / med['our']:.2f}×** end to end.",
        "",
        "Encoder raw limit (bench/encoder_limit.py, timm resnet18 fwd+bwd+fused Adam, 64 crops "
        "of 128², 2 threads), measured before and after the runs: "
        + ", ".join(
            f"{e['train_crops_per_s']:.1f} crops/s (load {e['load']:.2f}, {e['date_utc']}; "
            f"with a 1-channel stem {e['train_crops_per_s_1ch']:.1f})"
            for e in r["encoder_limit"]
        )
        + f". Against the best 3-channel figure ({lim:.1f}):",
        "",
        "| side | end to end | inside epochs | inside steps |",
        "|---|---|---|---|",
    ]
    for name, b in (("reference", bt_ref), ("ours", bt_our)):
        lines.append(
            f"| {name} | {b['e2e_ips'] / lim:.2f}× | {b['epoch_ips'] / lim:.2f}× | "
            f"{b['step_ips'] / lim:.2f}× |"
        )
    lines += [
        "",
        "Definitions: training instances = crops through the encoder in training steps "
        "(256 per epoch). End to end = the whole CLI process (`dreem train`: start-up, "
        "extraction, training, checkpoints, publishing; the reference: start-up, training "
        "with its per-epoch video decoding, checkpoints). Tracking with decoding: ours "
        "`dreem.stages.track_data` (discover, extract, load, track, write; the libraries "
        "it imports lazily are imported before the clock starts, as the reference's CLI "
        "imports its own at start-up); the reference "
        "`dreem.inference.track.run` (load, dataset, decode, predict, write .slp). Without "
        "decoding: ours `Tracker.track_video` + the swap repairs (encode, just ahead of the "
        "tracker, and associate; checkpoint loading excluded); the reference "
        "`GTRRunner.predict_step` (encode + track decoded clips).",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-venv", type=Path, default=Path("/work/venvs/ref"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--train-repeat", type=int, default=None, help="training runs per side (--repeat)"
    )
    ap.add_argument("--max-load", type=float, default=1.3, help="wait for this 1-min load")
    ap.add_argument("--quiet-timeout", type=float, default=300, help="wait at most (s)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/dreem_compare_reference"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "compare_reference")
    args = ap.parse_args()

    QUIET_TIMEOUT[0] = args.quiet_timeout
    version = ref_version(args.ref_venv)
    if version is None:
        print(HOW_TO)
        return
    if version != REF_VERSION:
        print(f"warning: the reference venv has dreem-track {version}, not {REF_VERSION}")
    if not (sleap_data() / "two_flies.slp").is_file():
        print(f"skipping: the real fly clips are not at {sleap_data()} (set DREEM_SLEAP_DATA)")
        return
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    data = make_data(work)
    sides = [ref_side(args.ref_venv), ours_side()]
    runs: dict = {s.name: {"startup": [], "train": []} for s in sides}
    limits = [_measure(encoder_limit, args.max_load, work)]
    print("encoder limit:", limits[-1]["train_crops_per_s"], "crops/s", flush=True)

    def pairs(rep: int) -> list[Side]:
        return sides if rep % 2 == 0 else sides[::-1]

    for rep in range(3):
        for s in pairs(rep):
            runs[s.name]["startup"].append(_measure(startup, args.max_load, s, work))
    train_repeat = args.train_repeat or args.repeat
    for rep in range(train_repeat):
        for s in pairs(rep):
            res = _measure(
                train,
                args.max_load,
                s,
                data["two_flies"],
                args.epochs,
                work / f"train_{s.name}_{rep}",
            )
            runs[s.name]["train"].append(res)
            print(
                f"train {s.name} #{rep}: {res['wall_s']:.1f} s, {res['e2e_ips']:.1f} inst/s "
                f"(load {res['load_before']})",
                flush=True,
            )
    ckpts = {s.name: runs[s.name]["train"][-1]["checkpoint"] for s in sides}
    for clip, path in data.items():
        for rep in range(args.repeat):
            for s in pairs(rep):
                res = _measure(
                    track,
                    args.max_load,
                    s,
                    ckpts[s.name],
                    path,
                    clip,
                    work / f"track_{clip}_{s.name}_{rep}",
                )
                runs[s.name].setdefault(f"track_{clip}", []).append(res)
                print(
                    f"track {clip} {s.name} #{rep}: {res['e2e_fps']:.1f} fps e2e, "
                    f"{res['nodecode_fps']:.1f} without decoding "
                    f"(load {res['load_before']})",
                    flush=True,
                )
    limits.append(_measure(encoder_limit, args.max_load, work))
    result = {
        "date_utc": _now(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "reference_version": version,
        "repeat": args.repeat,
        "train_repeat": train_repeat,
        "epochs": args.epochs,
        "encoder_limit": limits,
        "runs": runs,
    }
    md = to_markdown(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps(result, indent=1))
    Path(f"{args.out}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
