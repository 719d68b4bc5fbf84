"""Make the input of ``bench_train.py``: demo animals → ``OUT/train/*.parquet``, ``OUT/val/``.

Generates the synthetic demo (``dreem.synth.generate_demo``, seed 42) and extracts its
animal train/val clips with the crop settings of a DREEM config (default: the demo config).

Run: ``.venv/bin/python bench/make_demo_shards.py /tmp/bench_shards``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "dreem_train.yaml")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    from dreem.config import load_dreem_config
    from dreem.config.data import CROP_KEYS
    from dreem.stages import prepare_dataset
    from dreem.synth import generate_demo

    full = load_dreem_config(args.config).dataset.train_dataset.to_dict()
    section = {k: full[k] for k in CROP_KEYS}
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        generate_demo(demo, seed=args.seed)
        for split in ("train", "val"):
            path = demo / "animals" / split
            spec = {"dir": {"path": str(path), "labels_suffix": ".slp", "vid_suffix": ".mp4"}}
            dst = args.out / split
            dst.mkdir(parents=True, exist_ok=True)
            for shard in prepare_dataset(split, spec, Path(tmp) / "work", section):
                shutil.copyfile(shard, dst / shard.name)
            print(f"{split}: {sorted(p.name for p in dst.glob('*.parquet'))}")


if __name__ == "__main__":
    main()
