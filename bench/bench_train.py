"""Training throughput of the demo DREEM config on CPU: fp32 vs bf16-mixed, peak memory.

Usage: python bench/bench_train.py SHARD_DIR [--epochs 1] [--config config/dreem_train.yaml]
SHARD_DIR holds ``train/*.parquet`` and ``val/*.parquet`` crop shards (e.g. from the demo
pipeline: results/datasets/animals_train/crops). Prints one JSON line per precision.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from benchlib import ROOT, peak_rss_mb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shards", type=Path)
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "dreem_train.yaml")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--precision", nargs="+", default=["32-true", "bf16-mixed"])
    args = ap.parse_args()

    from dreem.config import load_dreem_config
    from dreem.training.train import train_model

    train = sorted((args.shards / "train").glob("*.parquet"))
    val = sorted((args.shards / "val").glob("*.parquet"))
    for precision in args.precision:
        cfg = load_dreem_config(
            args.config,
            {
                "trainer": {
                    "max_epochs": args.epochs,
                    "precision": precision,
                    "enable_progress_bar": False,
                    "enable_model_summary": False,
                },
                "runner": {"metrics": {"val": []}},
                "checkpointing": {"monitor": ["val_loss"]},
            },
        )
        out = Path(tempfile.mkdtemp(prefix="bench_train_"))
        try:
            res = train_model(cfg, train, val, out)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        print(
            json.dumps(
                {
                    "precision": precision,
                    "epochs": res["epochs"],
                    "seconds_total": round(res["seconds"], 2),
                    "train_seconds": round(res["train_seconds"], 2),
                    "instances_per_s": round(res["instances_per_s"], 1),
                    "clips_per_s": round(res["clips_per_s"], 3),
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
