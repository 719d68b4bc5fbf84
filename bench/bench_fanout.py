"""Many videos: extraction and tracking fan out as one job per video, with nothing shared.

1. Plan level (``--plan-videos``, default 500): a pipeline config over that many videos
   (links to one small generated clip, each under its own name) tracked by a checkpoint
   and a baseline. ``snakemake -n`` lists the jobs per rule and ``snakemake --dag`` the
   dependencies: every extract job reads only its own video's files (no manifest or other
   job upstream), every track job reads only its own shard (and the model), so with
   ``--cores N`` (or N SLURM array tasks, profiles/slurm: ``slurm-array-jobs:
   extract,track,evaluate``) N of them run at once; the only joins are training (which
   reads the training shards) and the final aggregate.
2. Measured (``--run-videos``, default 8; baseline tracker, so no training): the same
   pipeline with ``--cores 1`` and ``--cores 2``; wall time and how many extract/track
   jobs ran at the same time (from Snakemake's own job start/finish times).

Run: ``python bench/bench_fanout.py [--plan-videos 500] [--run-videos 8]``; writes
``bench/results/fanout.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import yaml
from benchlib import ROOT, load

SMK = [sys.executable, "-m", "snakemake"]


def make_videos(folder: Path, n: int) -> Path:
    """``n`` videos ``clip_0000.slp/.mp4`` … linking to one generated 2-animal clip."""
    from dreem.synth import generate_animals

    base = folder.parent / "base"
    if not (base / "base.slp").is_file():
        generate_animals(
            base, "base", seed=0, n_animals=2, n_frames=16, size=(64, 64), body_length=12.0
        )
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        for ext in (".slp", ".mp4"):
            link = folder / f"clip_{i:04d}{ext}"
            if not link.exists():
                link.symlink_to((base / f"base{ext}").resolve())
    return folder


def write_config(work: Path, videos: Path, checkpoint: Path | None) -> Path:
    models: dict = {"centroid": {"baseline": "centroid"}}
    if checkpoint is not None:
        models["gtr"] = {"checkpoint": str(checkpoint)}
    cfg = {
        "seed": 0,
        "output_dir": str(work / "out"),
        "demo": {"enabled": False},
        "datasets": {
            "many": {
                "dir": {"path": str(videos), "labels_suffix": ".slp", "vid_suffix": ".mp4"},
                "crop_size": 16,
                "anchors": "thorax",
            }
        },
        "models": models,
        "track": {"datasets": ["many"], "models": list(models)},
    }
    path = work / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def smk(work: Path, cfg: Path, *args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        *SMK,
        "-s",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(cfg),
        "-d",
        str(work),
        "--profile",
        str(ROOT / "profiles" / "default"),
        *args,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work)
    if log is not None:
        log.write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        raise SystemExit(f"snakemake failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return res


def job_counts(text: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    counts = {}
    block = text[text.find("Job stats") :]
    for line in block.splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
        elif counts and not parts:
            break
    return counts


def dag_inputs(dot: str) -> dict[str, dict[str, str]]:
    """Rule -> {upstream rule: upstream jobs per job (``"1"`` or ``"min-max"``)}, from
    ``snakemake --dag``."""
    label = dict(re.findall(r'^\s*(\d+)\[label = "([^\\"]+)', dot, re.M))
    per_job: dict[str, Counter] = {job: Counter() for job in label}
    for src, dst in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M):
        per_job[dst][label[src]] += 1
    out: dict[str, dict[str, list[int]]] = {}
    for job, rule in label.items():
        ups = out.setdefault(rule, {})
        for up in {label[j] for j in per_job} | set(per_job[job]):
            if up in per_job[job]:
                ups.setdefault(up, []).append(per_job[job][up])
    return {
        rule: {
            up: f"{min(v)}" if min(v) == max(v) else f"{min(v)}-{max(v)}" for up, v in ups.items()
        }
        for rule, ups in out.items()
    }


def concurrency(text: str, rules=("extract", "track")) -> dict[str, int]:
    """Most jobs of each rule running at the same time, from Snakemake's log timestamps."""
    events = []
    stamp = None
    current: dict[str, str] = {}
    rule = None
    for line in text.splitlines():
        m = re.match(r"^\[(\w{3} \w{3}\s+\d+ [\d:]+ \d{4})\]", line.strip())
        if m:
            stamp = datetime.strptime(re.sub(r"\s+", " ", m.group(1)), "%a %b %d %H:%M:%S %Y")
            continue
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            rule = m.group(1)
            continue
        m = re.match(r"^jobid: (\d+)", line.strip())
        if m and rule:
            current[m.group(1)] = rule
            events.append((stamp, 1, rule))
            rule = None
            continue
        m = re.match(r"^Finished job(?:id:)? (\d+)", line.strip())
        if m and m.group(1) in current:
            events.append((stamp, -1, current.pop(m.group(1))))
    peak: dict[str, int] = {}
    running: Counter = Counter()
    for _, d, r in sorted(events, key=lambda e: (e[0], e[1])):
        running[r] += d
        peak[r] = max(peak.get(r, 0), running[r])
    return {r: peak.get(r, 0) for r in rules}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan-videos", type=int, default=500)
    ap.add_argument("--run-videos", type=int, default=8)
    ap.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="a trained model for the plan (default: a tiny one trained here)",
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/dreem_bench_fanout"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fanout")
    a = ap.parse_args()
    work = a.work
    result: dict = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}

    # 1. plan level -----------------------------------------------------------------------
    plan = work / "plan"
    plan.mkdir(parents=True, exist_ok=True)
    ckpt = a.checkpoint or tiny_checkpoint(work)
    cfg = write_config(plan, make_videos(plan / "videos", a.plan_videos), ckpt)
    t0 = time.perf_counter()
    dry = smk(plan, cfg, "-n", "--cores", "8", log=plan / "dry_run.log")
    result["plan"] = {
        "videos": a.plan_videos,
        "dry_run_s": round(time.perf_counter() - t0, 1),
        "jobs": job_counts(dry.stdout + dry.stderr),
    }
    dot = smk(plan, cfg, "--dag", log=None).stdout
    result["plan"]["depends_on"] = dag_inputs(dot)
    print(json.dumps(result["plan"], indent=1), flush=True)

    # 2. measured -------------------------------------------------------------------------
    result["runs"] = []
    for cores in (1, 2):
        run = work / f"run_{cores}"
        if run.exists():
            shutil.rmtree(run)
        run.mkdir(parents=True)
        cfg = write_config(run, make_videos(run / "videos", a.run_videos), None)
        before = load()
        t0 = time.perf_counter()
        res = smk(run, cfg, "--cores", str(cores), log=run / "run.log")
        wall = time.perf_counter() - t0
        entry = {
            "cores": cores,
            "videos": a.run_videos,
            "wall_s": round(wall, 1),
            "load_before": round(before, 2),
            "max_concurrent": concurrency(res.stdout + res.stderr),
        }
        result["runs"].append(entry)
        print(json.dumps(entry), flush=True)
    md = to_markdown(result)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{a.out}.json").write_text(json.dumps(result, indent=1))
    Path(f"{a.out}.md").write_text(md)
    print(md)


def tiny_checkpoint(work: Path) -> Path:
    """A one-epoch tiny GTR (``dreem train``) so the plan has a trained model to track with."""
    ckpt = work / "tiny" / "models" / "tiny" / "best.ckpt"
    if ckpt.is_file():
        return ckpt
    data = make_videos(work / "tiny" / "videos", 2)
    cfg = {
        "model": {"d_model": 16, "encoder_cfg": {"model_name": "test_resnet"}},
        "dataset": {
            "train_dataset": {
                "dir": {"path": str(data), "labels_suffix": ".slp", "vid_suffix": ".mp4"},
                "crop_size": 16,
                "anchors": "thorax",
                "clip_length": 8,
            }
        },
        "trainer": {"max_epochs": 1, "enable_progress_bar": False},
    }
    path = work / "tiny" / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "dreem.cli", "train", str(path), "-o", str(work / "tiny")],
        check=True,
        capture_output=True,
        env=env,
    )
    return ckpt


def to_markdown(r: dict) -> str:
    p = r["plan"]
    lines = [
        "# Many videos: one job per video",
        "",
        f"{r['date_utc']} UTC. Plan: {p['videos']} videos, a checkpoint and a baseline "
        f"(`snakemake -n`, {p['dry_run_s']} s including parsing and planning).",
        "",
        "| rule | jobs | each job depends on |",
        "|---|---|---|",
    ]
    for rule, n in p["jobs"].items():
        if rule == "total":
            continue
        deps = p["depends_on"].get(rule, {})
        dep = ", ".join(f"{v} {k} job(s)" for k, v in deps.items()) or "only its input files"
        lines.append(f"| {rule} | {n} | {dep} |")
    lines += [
        "",
        "Measured (baseline tracker, no training): wall time of the whole `snakemake` run and "
        "the most jobs of a rule running at once.",
        "",
        "| --cores | videos | wall s | extract at once | track at once | load before |",
        "|---|---|---|---|---|---|",
    ]
    for e in r["runs"]:
        c = e["max_concurrent"]
        lines.append(
            f"| {e['cores']} | {e['videos']} | {e['wall_s']} | {c['extract']} | {c['track']} | "
            f"{e['load_before']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
