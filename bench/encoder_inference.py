"""Tracking's encoder on the CPU: eager (BatchNorms folded) vs oneDNN blocked tensors.

Our ``VisualEncoder`` (timm resnet18, d_model 128) on grey crops, as tracking runs it
(:func:`dreem.inference.track.inference_model`): BatchNorms folded into the convolutions,
then either the eager backbone or :class:`dreem.models.cpu_inference.MkldnnBackbone`.
Alternates the two ``--repeat`` times and prints one JSON line per measurement and the
largest feature difference.

Run: ``python bench/encoder_inference.py [--crop 128] [--batch 64] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time


def crops_per_s(encoder, x, steps: int, warmup: int) -> float:
    import torch

    with torch.inference_mode():
        for _ in range(warmup):
            encoder(x)
        t0 = time.perf_counter()
        for _ in range(steps):
            encoder(x)
    return x.shape[0] * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()

    import torch

    from dreem.models.cpu_inference import use_mkldnn
    from dreem.models.encoder import VisualEncoder, fuse_batchnorm

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    eager = VisualEncoder(128, "resnet18", "timm", 3, False).eval()
    fuse_batchnorm(eager)
    fast = copy.deepcopy(eager)
    assert use_mkldnn(fast), "oneDNN conversion refused"
    x = torch.rand(a.batch, 1, a.crop, a.crop)
    with torch.inference_mode():
        diff = (eager(x) - fast(x)).abs().max().item()
    for rep in range(a.repeat):
        for name, enc in (("eager", eager), ("onednn", fast)):
            rate = crops_per_s(enc, x, a.steps, a.warmup)
            row = {"encoder": name, "rep": rep, "crops_per_s": round(rate, 1), "crop": a.crop}
            print(json.dumps({**row, "batch": a.batch, "threads": a.threads}), flush=True)
    print(json.dumps({"max_feature_difference": diff, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
