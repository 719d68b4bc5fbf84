"""Identity benchmark with held-apart individuals: GTR vs centroid, motion and sleap-nn.

Data (:mod:`dreem.synth.identity_bench`, cached by spec hash under ``--work-dir``): a
training pool of many short clips (hundreds of individuals), a validation pool and three
fixed hard test clips (512², 300 frames: N=3; N=6; N=5 with occluders and 1-3-frame
detection gaps) whose individuals never appear in the pools. Crop shards are extracted
with the library (discover + ``extract_video``) using the crop settings of the DREEM
config's ``dataset.train_dataset``.

Trackers, each scored identity-only on the ground-truth detections (py-motmetrics via
``dreem.evaluation``), every one told the number of animals (``max_tracks = N``; with
``--unknown-n`` none is, as when a user tracks new videos without giving a count, and
sleap-nn, whose variants are told N, is skipped):

* ``centroid``  - nearest-centroid Hungarian linker (``dreem.inference.baseline``);
* ``motion``    - Kalman-predicted Hungarian linker (``dreem.inference.motion``);
* ``sleap-nn*`` - SLEAP's tracker on the untracked detections, when ``--sleap-nn-venv``
  holds an install (``sleap-nn track``; variants in :data:`SLEAP_NN_VARIANTS`);
* ``gtr``       - the DREEM config trained on the pool with each seed (best checkpoint by
  the config's monitor on the val pool), tracked with the config's tracker section.

Run (from the repository root)::

    .venv/bin/python bench/bench_identity.py --skip-train            # baselines + peers
    .venv/bin/python bench/bench_identity.py --quick                 # smoke run incl. GTR
    .venv/bin/python bench/bench_identity.py --seeds 3               # the full benchmark

Writes ``--out`` (default ``bench/results/identity``) ``.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

DEFAULT_CONFIG = ROOT / "bench" / "configs" / "identity.yaml"
DEFAULT_WORK = Path("/tmp/dreem_identity")
DEFAULT_VENV = Path("/work/venvs/sleapnn")
DEFAULT_OUT = ROOT / "bench" / "results" / "identity"
SLEAP_NN_VARIANTS: dict[str, list[str]] = {
    # every variant: --tracking --candidates_method local_queues --max_tracks N
    "sleap-nn": [],  # defaults: keypoints + OKS, Hungarian
    "sleap-nn-centroid": ["--features", "centroids", "--scoring_method", "euclidean_dist"],
    "sleap-nn-centroid-w1": [
        *("--features", "centroids", "--scoring_method", "euclidean_dist"),
        *("--tracking_window_size", "1"),
    ],
    "sleap-nn-kalman": ["--use_kalman", "--tracking_target_instance_count", "{n}"],
}
QUICK_SPEC = {
    "train": {"n_clips": 12, "n_frames": [30, 40]},
    "val": {"n_clips": 2, "n_frames": [60, 60]},
}
QUICK_SETS = ["trainer.max_epochs=1"]


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def ensure_data(work: Path, spec: dict, seed: int) -> tuple[Path, dict]:
    """The benchmark folder for ``spec``/``seed`` under ``work/data``, generated if needed."""
    from dreem.synth.identity_bench import (
        generate_identity_benchmark,
        load_done,
        resolve_identity_spec,
        spec_hash,
    )

    key = spec_hash(resolve_identity_spec(spec), seed)
    folder = work / "data" / key
    done = load_done(folder)
    if done is not None and done.get("spec_hash") == key:
        _log(f"data: cached {folder}")
        return folder, {**done, "cached": True}
    _log(f"data: generating {folder}")
    done = generate_identity_benchmark(folder, spec, seed, progress=False)
    secs = done["seconds"]
    _log(
        "data: done in {total:.1f} s (test {test:.1f}, train {train:.1f}, val {val:.1f})".format(
            **secs
        )
    )
    return folder, done


def extract_split(name: str, folder: Path, section, out_dir: Path) -> list[Path]:
    """Discover ``folder``'s .slp/.mp4 pairs and extract one crop shard per clip, with the
    crop settings of the training config's ``train_dataset`` section (as the pipeline)."""
    from dreem.config.data import crop_params
    from dreem.data.extract import extract_video
    from dreem.io.discover import discover_dataset, write_manifest

    slps = sorted(folder.glob("*.slp"))
    spec = {
        "slp_files": [str(p) for p in slps],
        "video_files": [str(p.with_suffix(".mp4")) for p in slps],
    }
    df = discover_dataset(name, spec)
    write_manifest(df, out_dir / "manifest.parquet")
    params = crop_params(None, section)
    shards = []
    for row in df.to_dict("records"):
        out = out_dir / "crops" / f"{row['video_id']}.parquet"
        extract_video(row, params, out, progress=False)
        shards.append(out)
    return shards


def score(table) -> dict[str, float]:
    """IDF1, MOTA and switches of a tracks table (identity-only)."""
    from dreem.evaluation.evaluate import evaluate_tracks

    summary, _ = evaluate_tracks(table, metrics=["idf1", "mota", "num_switches"])
    v = dict(zip(summary["metric"], summary["value"], strict=True))
    return {"switches": int(v["num_switches"]), "idf1": float(v["idf1"]), "mota": float(v["mota"])}


def run_baselines(shards: dict[str, Path], max_tracks: dict[str, float]) -> dict[str, dict]:
    """Centroid and motion linkers on every test shard, each clip's ``max_tracks`` given."""
    from dreem.config.tracker import TrackerConfig
    from dreem.inference.baseline import CentroidTracker
    from dreem.inference.motion import MotionTracker
    from dreem.inference.track import tracks_table
    from dreem.io.shards import read_shard

    out: dict[str, dict] = {"centroid": {}, "motion": {}}
    for clip, shard in shards.items():
        data = read_shard(shard, with_crops=False)
        limit = max_tracks[clip]
        trackers = {
            "centroid": CentroidTracker(TrackerConfig(max_tracks=limit)),
            "motion": MotionTracker(TrackerConfig(max_tracks=limit)),
        }
        for name, tracker in trackers.items():
            t0 = time.perf_counter()
            result = tracker.track_video(data.frame_idx, data.bbox, data.centroid)
            secs = time.perf_counter() - t0
            out[name][clip] = {**score(tracks_table(data, result)), "track_s": round(secs, 3)}
    return out


def sleap_nn_version(venv: Path) -> str | None:
    """The sleap-nn version installed in ``venv`` (None when absent)."""
    py = venv / "bin" / "python"
    if not (venv / "bin" / "sleap-nn").is_file() or not py.is_file():
        return None
    res = subprocess.run(
        [str(py), "-c", "import importlib.metadata as m; print(m.version('sleap-nn'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        return None
    return res.stdout.strip() or None


def run_sleap_nn(venv: Path, data: Path, n_animals: dict[str, int], work: Path) -> dict[str, dict]:
    """Every :data:`SLEAP_NN_VARIANTS` entry on each test clip's untracked detections."""
    from dreem.evaluation.slp_match import match_tracked_slp

    exe = venv / "bin" / "sleap-nn"
    out: dict[str, dict] = {}
    for variant, extra in SLEAP_NN_VARIANTS.items():
        out[variant] = {}
        for clip, n in n_animals.items():
            src = data / "test_untracked" / f"{clip}.slp"
            dst = work / "sleap_nn" / variant / f"{clip}.slp"
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.unlink(missing_ok=True)
            cmd = [
                str(exe), "track", "-i", str(src), "-o", str(dst), "--tracking",
                "--candidates_method", "local_queues", "--max_tracks", str(n),
                *(a.format(n=n) for a in extra),
            ]  # fmt: skip
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            secs = time.perf_counter() - t0
            if res.returncode != 0 or not dst.is_file():
                tail = (res.stderr or res.stdout)[-600:]
                out[variant][clip] = {"error": f"exit {res.returncode}: {tail}"}
                _log(f"sleap-nn {variant} {clip}: failed ({res.returncode})")
                continue
            table = match_tracked_slp(dst, data / "test" / f"{clip}.slp")
            out[variant][clip] = {
                **score(table),
                "track_s": round(secs, 2),
                "cmd": " ".join(cmd[1:]),
            }
    return out


def selected_checkpoint(best_ckpt: str, cfg) -> str:
    """The checkpoint of an earlier run that ``cfg`` selects: the top-1 file of its first
    ``checkpointing.monitor`` in the run's ``checkpoints/`` (an earlier config may have
    listed the monitors in another order; the file found by the default checkpoint name,
    not by the ModelCheckpoint state in ``last.ckpt``, which runs written before
    2026-12-06 20:30 UTC hold stale for a second monitor), else the run's ``best.ckpt``."""
    monitor = cfg.checkpointing.monitor[0]
    found = sorted((Path(best_ckpt).parent / "checkpoints").glob(f"epoch=*-{monitor}=*.ckpt"))
    if len(found) != 1:
        _log(f"no single {monitor} checkpoint beside {best_ckpt}: using it")
        return best_ckpt
    return str(found[0])


def train_and_track(
    cfg,
    seeds: list[int],
    train_shards: list[Path],
    val_shards: list[Path],
    test_shards: dict[str, Path],
    max_tracks: dict[str, float],
    work: Path,
    data_key: str,
    trained: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` once per seed (fresh run folder) and track every test clip; a seed in
    ``trained`` (an earlier report's ``gtr`` entry) is only tracked, with its checkpoint.
    Run folders are named by the data (``data_key``) and the config; each clip is tracked
    with its ``max_tracks``."""
    from dreem.inference.track import track_shard
    from dreem.training.train import train_model

    runs: dict[str, Any] = {}
    for seed in seeds:
        run_dir = work / "train" / f"{data_key}-{_hash(cfg.to_dict())}" / f"seed{seed}"
        if str(seed) in (trained or {}):  # --retrack: the checkpoint of an earlier report
            earlier = trained[str(seed)]["best_ckpt"]
            res = {**trained[str(seed)], "best_ckpt": selected_checkpoint(earlier, cfg)}
            wall = res["train_wall_s"]
            _log(f"gtr seed {seed}: re-tracking {res['best_ckpt']} (trained earlier)")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)  # not when re-tracking: its checkpoints
            _log(f"gtr seed {seed}: training -> {run_dir}")
            t0 = time.perf_counter()
            res = train_model(cfg, train_shards, val_shards, run_dir, seed=seed)
            wall = time.perf_counter() - t0
            res["train_step_s"] = res["train_seconds"]
            _log(f"gtr seed {seed}: trained in {wall:.1f} s ({res['epochs']} epochs)")
        clips = {}
        for clip, shard in test_shards.items():
            tracker = cfg.tracker.model_copy(update={"max_tracks": max_tracks[clip]})
            t1 = time.perf_counter()
            table = track_shard(
                res["best_ckpt"], shard, tracker, run_dir / "tracks" / clip, progress=False
            )
            clips[clip] = {**score(table), "track_s": round(time.perf_counter() - t1, 2)}
            _log(f"gtr seed {seed} {clip}: {clips[clip]}")
        runs[str(seed)] = {
            "train_wall_s": round(wall, 1),
            "train_step_s": round(res["train_step_s"], 1),
            "instances_per_s": round(res["instances_per_s"], 1),
            "epochs": res["epochs"],
            "best_ckpt": str(res["best_ckpt"]),
            "clips": clips,
        }
    return runs


def gtr_summary(runs: dict[str, Any], clips: list[str]) -> dict[str, dict]:
    """Per clip: median and worst (most switches / lowest IDF1) over seeds."""
    out = {}
    for clip in clips:
        sw = [r["clips"][clip]["switches"] for r in runs.values()]
        idf1 = [r["clips"][clip]["idf1"] for r in runs.values()]
        out[clip] = {
            "switches_median": statistics.median(sw),
            "switches_worst": max(sw),
            "idf1_median": statistics.median(idf1),
            "idf1_worst": min(idf1),
        }
    return out


def markdown(report: dict) -> str:
    """The results table as markdown."""
    clips = report["clips"]
    lines = [
        "# Identity benchmark (held-apart individuals)",
        "",
        f"Date: {report['date']} · host: {report['host']} · command: `{report['command']}`",
        "",
        f"Data: `{report['data_dir']}` (spec hash {report['spec_hash']}, seed {report['seed']}); "
        f"generation took {report['generation_s']:.1f} s"
        + (" (cached from an earlier run)" if report.get("data_cached") else "")
        + ". Test clips: "
        + ", ".join(f"{c} (N={report['n_animals'][c]})" for c in clips)
        + ". Identity-only evaluation on ground-truth detections; "
        + (
            "no tracker is told N (`--unknown-n`: `max_tracks` unlimited)."
            if report.get("unknown_n")
            else "every tracker gets `max_tracks = N`."
        ),
        "",
        "| tracker | " + " | ".join(f"{c} switches | {c} IDF1" for c in clips) + " |",
        "|---|" + "---|---|" * len(clips),
    ]

    def row(name: str, per_clip: dict) -> str:
        cells = []
        for c in clips:
            r = per_clip.get(c, {})
            if "switches" in r:
                cells += [str(r["switches"]), f"{r['idf1']:.3f}"]
            else:
                cells += ["error", "-"]
        return f"| {name} | " + " | ".join(cells) + " |"

    for name, per_clip in report["trackers"].items():
        lines.append(row(name, per_clip))
    for seed, run in report.get("gtr", {}).items():
        lines.append(row(f"gtr seed {seed}", run["clips"]))
    if report.get("gtr_summary"):
        s = report["gtr_summary"]
        med = [f"{s[c]['switches_median']:g} | {s[c]['idf1_median']:.3f}" for c in clips]
        worst = [f"{s[c]['switches_worst']} | {s[c]['idf1_worst']:.3f}" for c in clips]
        lines.append("| gtr median | " + " | ".join(med) + " |")
        lines.append("| gtr worst seed | " + " | ".join(worst) + " |")
        lines += [
            "",
            "| gtr seed | train wall (s) | epochs | instances/s in steps |",
            "|---|---|---|---|",
        ]
        for seed, run in report["gtr"].items():
            lines.append(
                f"| {seed} | {run['train_wall_s']} | {run['epochs']} | {run['instances_per_s']} |"
            )
    if report.get("retracked_from"):
        r = report["retracked_from"]
        lines += [
            "",
            f"GTR rows re-tracked with this run's tracker from the checkpoints of "
            f"`{r['report']}` (trained {r['date']}); the training figures are that run's.",
        ]
    if report.get("sleap_nn"):
        lines += ["", f"sleap-nn: {report['sleap_nn']}"]
    lines.append("")
    return "\n".join(lines)


def parse_seeds(text: str, base: int) -> list[int]:
    """``"3"`` → three seeds from ``base``; ``"1,5,9"`` → those seeds."""
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    return [base + i for i in range(int(text))]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="DREEM training config")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="key=value override")
    ap.add_argument("--seeds", default="3", help="number of seeds, or a comma list")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the benchmark data")
    ap.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--skip-train", action="store_true", help="baselines and peers only")
    ap.add_argument("--sleap-nn-venv", type=Path, default=DEFAULT_VENV)
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="writes OUT.json and OUT.md (default: "
        "bench/results/identity, or identity_quick with --quick)",
    )
    ap.add_argument("--quick", action="store_true", help="tiny pool, 1 epoch: a smoke run")
    ap.add_argument(
        "--unknown-n",
        action="store_true",
        help="track without telling the trackers the number of animals (max_tracks unlimited)",
    )
    ap.add_argument(
        "--retrack",
        type=Path,
        default=None,
        help="an earlier report's .json: track with its seeds' checkpoints instead of training "
        "(each run's checkpoint for this config's first checkpointing.monitor; tracker and "
        "selection changes measured without retraining; training figures are the earlier run's)",
    )
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "2")

    from dreem.config import load_dreem_config
    from dreem.synth.identity_bench import hard_clip_spec, resolve_identity_spec

    t_start = time.perf_counter()
    sets = (QUICK_SETS if args.quick else []) + list(args.sets)
    cfg = load_dreem_config(args.config, sets)
    spec = QUICK_SPEC if args.quick else {}
    work = args.work_dir
    data, done = ensure_data(work, spec, args.data_seed)
    resolved = resolve_identity_spec(spec)
    clips = [c["name"] for c in resolved["test"]]
    n_animals = {c: hard_clip_spec(resolved, i).n_animals for i, c in enumerate(clips)}
    limits = {c: math.inf for c in clips} if args.unknown_n else n_animals  # max_tracks

    section = cfg.dataset.train_dataset
    from dreem.config.data import crop_params

    crop_key = crop_params(None, section).key()
    shard_root = work / "shards" / f"{done['spec_hash']}-{crop_key}"
    t0 = time.perf_counter()
    test_shards = {
        p.stem: p for p in extract_split("test", data / "test", section, shard_root / "test")
    }
    extract_s = {"test": time.perf_counter() - t0}
    _log(f"shards: test in {extract_s['test']:.1f} s -> {shard_root}")

    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": f"{platform.node()} ({os.cpu_count()} cpus), python {platform.python_version()}",
        "command": " ".join(
            ["bench/bench_identity.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "config": str(args.config),
        "sets": sets,
        "data_dir": str(data),
        "spec_hash": done["spec_hash"],
        "seed": args.data_seed,
        "generation_s": done["seconds"]["total"],
        "data_cached": bool(done.get("cached")),
        "clips": clips,
        "n_animals": n_animals,
        "n_individuals": {
            s: sum(len(f["individuals"]) for f in done["files"][s]) for s in done["files"]
        },
        "unknown_n": args.unknown_n,
        "trackers": run_baselines(test_shards, limits),
    }
    _log(f"baselines: {json.dumps(report['trackers'])}")

    version = sleap_nn_version(args.sleap_nn_venv)
    if args.unknown_n:  # every variant is run with --max_tracks N
        _log("sleap-nn: skipped (--unknown-n)")
        report["sleap_nn"] = "skipped (--unknown-n: its variants are told N)"
    elif version is None:
        _log(f"sleap-nn: not found in {args.sleap_nn_venv}; skipped")
        report["sleap_nn"] = f"skipped (no sleap-nn in {args.sleap_nn_venv})"
    else:
        report["sleap_nn"] = f"sleap-nn {version} from {args.sleap_nn_venv}"
        report["trackers"].update(run_sleap_nn(args.sleap_nn_venv, data, n_animals, work))
        _log("sleap-nn: done")

    if not args.skip_train:
        seeds = parse_seeds(args.seeds, int(cfg.seed or 0))
        trained = None
        if args.retrack is not None:
            earlier = json.loads(args.retrack.read_text())
            trained = earlier.get("gtr", {})
            report["retracked_from"] = {"report": str(args.retrack), "date": earlier["date"]}
        train_shards: list[Path] = []
        val_shards: list[Path] = []
        if any(str(s) not in (trained or {}) for s in seeds):
            t0 = time.perf_counter()
            train_shards = extract_split("train", data / "train", section, shard_root / "train")
            val_shards = extract_split("val", data / "val", section, shard_root / "val")
            extract_s["pool"] = time.perf_counter() - t0
            _log(f"shards: pool in {extract_s['pool']:.1f} s")
        report["gtr"] = train_and_track(
            cfg,
            seeds,
            train_shards,
            val_shards,
            test_shards,
            limits,
            work,
            done["spec_hash"],
            trained,
        )
        report["gtr_summary"] = gtr_summary(report["gtr"], clips)
    report["extract_s"] = {k: round(v, 1) for k, v in extract_s.items()}
    report["total_s"] = round(time.perf_counter() - t_start, 1)

    from dreem.utils.atomic import write_text_atomic

    out = args.out or DEFAULT_OUT.with_name("identity_quick" if args.quick else "identity")
    write_text_atomic(out.with_suffix(".json"), json.dumps(report, indent=1, default=str) + "\n")
    write_text_atomic(out.with_suffix(".md"), markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
