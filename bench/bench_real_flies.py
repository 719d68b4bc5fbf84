"""Accuracy and speed on the real DREEM fly clips: trained GTR vs the nearest-centroid linker.

Trains ``config/dreem_train.yaml`` with the reference's budget (3 epochs) but the reference's
crop size (128 px around the thorax) on ``two_flies`` and tracks:

* ``two_flies[100:]``  - held-apart: the model trained on frames 0-99 only (``m100``),
  tracked on frames 100-127 as a separate sequence;
* ``two_flies``        - the whole clip (seen in training by ``mfull``: a fit check);
* ``noisy``            - ``two_flies_noisy_detections`` (same video, jittered/extra
  detections), whole clip.

Both models and the baseline track every test set; identity-only py-motmetrics (IDF1, MOTA,
switches). Also reports extraction and training time, training instances/s (end to end and
inside steps) and tracking frames/s (``track_shard``: load, encode, associate, write).

Run: ``.venv/bin/python bench/bench_real_flies.py [--epochs 3] [--precision 32-true]``;
writes ``bench/results/real_flies.md`` (and ``.json``). Needs /work/shared/data/sleap.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, peak_rss_mb, sleap_data

DATA = sleap_data()
SPLIT = 100  # first held-apart frame of two_flies


def _slp_subset(src: Path, dst: Path, lo: int, hi: int) -> Path:
    """Write the labelled frames ``lo <= frame_idx < hi`` of ``src`` to ``dst``."""
    import sleap_io as sio

    labels = sio.load_slp(str(src))
    labels.labeled_frames = [lf for lf in labels.labeled_frames if lo <= lf.frame_idx < hi]
    dst.parent.mkdir(parents=True, exist_ok=True)
    sio.save_slp(labels, str(dst))
    return dst


def _prepare(name: str, slp: Path, video: Path, work: Path, section: dict) -> tuple[Path, float]:
    from dreem.stages import prepare_dataset

    spec = {"slp_files": [str(slp)], "video_files": [str(video)]}
    t0 = time.perf_counter()
    (shard,) = prepare_dataset(name, spec, work, section)
    return shard, time.perf_counter() - t0


def _config(epochs: int, precision: str):
    from dreem.config import load_dreem_config

    return load_dreem_config(
        ROOT / "config" / "dreem_train.yaml",
        [
            "dataset.train_dataset.crop_size=128",
            "dataset.train_dataset.anchors=thorax",
            f"trainer.max_epochs={epochs}",
            f"trainer.precision={precision}",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
        ],
    )


def _n_instances(shard: Path) -> int:
    from dreem.io.shards import read_shard

    return len(read_shard(shard, with_crops=False))


def _track_eval(model, shard: Path, out: Path, tracker: dict | None = None, repeat: int = 2):
    """Track (best wall time of ``repeat`` runs) and evaluate identity-only."""
    from dreem.evaluation.evaluate import evaluate_tracks
    from dreem.inference.track import track_shard

    secs = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        table = track_shard(model, shard, tracker, out, progress=False)
        secs = min(secs, time.perf_counter() - t0)
    summary, _ = evaluate_tracks(table)
    vals = dict(zip(summary["metric"], summary["value"], strict=True))
    n_frames = int(table["frame_idx"].nunique())
    return {
        "frames": n_frames,
        "idf1": float(vals["idf1"]),
        "mota": float(vals["mota"]),
        "switches": int(vals["num_switches"]),
        "track_s": secs,
        "fps": n_frames / secs,
    }


def run(epochs: int, precision: str, work: Path) -> dict:
    cfg = _config(epochs, precision)
    from dreem.config.data import CROP_KEYS

    full = cfg.dataset.train_dataset.to_dict()
    section = {k: full[k] for k in CROP_KEYS}
    video = DATA / "two_flies.mp4"
    slp = DATA / "two_flies.slp"
    head = _slp_subset(slp, work / "labels" / "two_flies_head.slp", 0, SPLIT)
    tail = _slp_subset(slp, work / "labels" / "two_flies_tail.slp", SPLIT, 10**9)

    shards, extract_s = {}, {}
    for name, labels, vid in [
        ("train_head", head, video),
        ("two_flies_tail", tail, video),
        ("two_flies", slp, video),
        ("noisy", DATA / "two_flies_noisy_detections.slp", DATA / "two_flies_noisy_detections.mp4"),
    ]:
        shards[name], extract_s[name] = _prepare(name, labels, vid, work, section)

    from dreem.training.train import train_model

    train = {}
    for model, shard in (("m100", shards["train_head"]), ("mfull", shards["two_flies"])):
        n = _n_instances(shard)
        res = train_model(cfg, [shard], [], work / "models" / model, seed=int(cfg.seed))
        train[model] = {
            "instances": n,
            "epochs": res["epochs"],
            "train_total_s": res["seconds"],
            "extract_s": extract_s["train_head" if model == "m100" else "two_flies"],
            "instances_per_s_steps": res["instances_per_s"],
            "ckpt": str(res["last_ckpt"]),
        }
        t = train[model]
        t["instances_per_s_e2e"] = n * res["epochs"] / (t["train_total_s"] + t["extract_s"])

    tests = {"two_flies[100:]": "two_flies_tail", "two_flies": "two_flies", "noisy": "noisy"}
    results = {}
    for model in ("baseline", "m100", "mfull"):
        spec = "baseline" if model == "baseline" else train[model]["ckpt"]
        for test, shard_name in tests.items():
            out = work / "tracks" / model / shard_name
            results[f"{model}|{test}"] = _track_eval(spec, shards[shard_name], out)
    # The noisy clip's 3 spurious detections (frames 0-2) start a third track that never
    # ends (max_gap: inf); a finite max_gap retires it before the model can confuse the two.
    from dreem.models.checkpoint import read_checkpoint_config

    for model in ("m100", "mfull"):
        mcfg = read_checkpoint_config(train[model]["ckpt"])
        tracker = mcfg.tracker.model_copy(update={"max_gap": 5})
        out = work / "tracks" / f"{model}_gap5" / "noisy"
        key = f"{model} (tracker.max_gap=5)|noisy"
        results[key] = _track_eval(train[model]["ckpt"], shards["noisy"], out, tracker)
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_before": os.getloadavg(),
        "epochs": epochs,
        "precision": precision,
        "extract_s": extract_s,
        "train": train,
        "results": results,
        "peak_rss_mb": peak_rss_mb(),
    }


def to_markdown(r: dict) -> str:
    lines = [
        "# Real fly clips: trained GTR vs nearest-centroid linker",
        "",
        f"Generated by `bench/bench_real_flies.py` on {r['date_utc']} UTC, {r['machine']}, "
        f"load average before the run {r['load_before'][0]:.2f} / {r['load_before'][1]:.2f} "
        f"(1 / 5 min), load after {r['load_after'][0]:.2f}. Config: `config/dreem_train.yaml` "
        f"with crops 128 px around the thorax, {r['epochs']} epochs, precision "
        f"`{r['precision']}`, no validation set (last checkpoint used).",
        "",
        "Models: `m100` trained on two_flies frames 0-99 only; `mfull` trained on the whole "
        "clip (the reference's setting). `two_flies[100:]` is held apart from `m100` and "
        "tracked as its own sequence; for `mfull` it is training data.",
        "",
        "| model | test | frames | IDF1 | MOTA | switches | track s | frames/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, v in r["results"].items():
        model, test = key.split("|")
        lines.append(
            f"| {model} | {test} | {v['frames']} | {v['idf1']:.3f} | {v['mota']:.3f} | "
            f"{v['switches']} | {v['track_s']:.2f} | {v['fps']:.1f} |"
        )
    lines += [
        "",
        "Tracking frames/s = frames / wall time of `track_shard` (checkpoint load, encoder, "
        "association, writing .parquet/.csv/.slp; excludes extraction, which is cached).",
        "",
        "| model | train instances | epochs | extract s | train s (total) | instances/s in "
        "steps | instances/s end to end |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, t in r["train"].items():
        lines.append(
            f"| {model} | {t['instances']} | {t['epochs']} | {t['extract_s']:.1f} | "
            f"{t['train_total_s']:.1f} | {t['instances_per_s_steps']:.1f} | "
            f"{t['instances_per_s_e2e']:.1f} |"
        )
    lines += [
        "",
        "End to end = instances × epochs / (extraction + `train_model` wall time, which "
        "includes dataset set-up, checkpoint writing and Lightning start-up). Reference "
        "(TARGETS.md): 19 instances/s end to end, 44-45 inside steps, 48 s wall for 3 epochs.",
        f"Peak RSS of the whole benchmark process: {r['peak_rss_mb']:.0f} MB.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--precision", default="32-true")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: temporary)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "real_flies.md")
    args = ap.parse_args()
    if not (DATA / "two_flies.slp").is_file():
        raise SystemExit(f"{DATA}: real fly data not found")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        r = run(args.epochs, args.precision, work)
    r["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_markdown(r))
    args.out.with_suffix(".json").write_text(json.dumps(r, indent=2, default=str))
    print(to_markdown(r))


if __name__ == "__main__":
    main()
