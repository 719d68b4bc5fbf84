"""The encoder's raw limit: timm resnet18 forward + backward + Adam on batches of crops.

No data loading, no transformer, no loss: what training at this crop size cannot beat.
Prints one JSON line: crops/s of forward+backward+Adam (``train_crops_per_s``) and of the
forward pass alone in inference mode (``forward_crops_per_s``).

Run: ``python bench/encoder_limit.py [--crop 128] [--batch 64] [--threads 2]
[--device cpu|cuda] [--precision 32|bf16-mixed|16-mixed] [--in-chans 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time


def measure(
    crop: int = 128,
    batch: int = 64,
    threads: int = 2,
    steps: int = 5,
    warmup: int = 2,
    device: str = "cpu",
    precision: str = "32",
    in_chans: int = 3,
    model_name: str = "resnet18",
) -> dict:
    import timm
    import torch

    if device == "cpu":
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = torch.device(device)
    model = timm.create_model(model_name, pretrained=False, num_classes=0, in_chans=in_chans)
    model = model.to(dev).train()
    try:  # fused Adam, as training uses (dreem.training.factories.build_optimizer)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, in_chans, crop, crop, device=dev)
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)

    def autocast():
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=dev.type, dtype=dtype)

    scaler = torch.amp.GradScaler(enabled=precision == "16-mixed")

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def train_step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = model(x).float().square().mean()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(warmup):
        train_step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step()
    sync()
    train_s = (time.perf_counter() - t0) / steps

    model.eval()
    with torch.inference_mode(), autocast():
        for _ in range(warmup):
            model(x)
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            model(x)
        sync()
    fwd_s = (time.perf_counter() - t0) / steps
    return {
        "model": model_name,
        "crop": crop,
        "batch": batch,
        "in_chans": in_chans,
        "threads": torch.get_num_threads() if dev.type == "cpu" else None,
        "device": str(dev),
        "precision": precision,
        "torch": torch.__version__,
        "train_crops_per_s": round(batch / train_s, 1),
        "forward_crops_per_s": round(batch / fwd_s, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="32", choices=["32", "bf16-mixed", "16-mixed"])
    ap.add_argument("--in-chans", type=int, default=3)
    ap.add_argument("--model", default="resnet18")
    a = ap.parse_args()
    res = measure(
        a.crop, a.batch, a.threads, a.steps, a.warmup, a.device, a.precision, a.in_chans, a.model
    )
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
