"""bench/gpu.sh, the GPU path's one prepared script: no session has had a GPU to run it
on, so its CPU smoke run (every step, tiny) is what keeps it from rotting between loans."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _run(*args: str, work: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), "--python", sys.executable, "--work", str(work), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_cpu_smoke_runs_every_step_and_writes_the_figures(tmp_path):
    proc = _run("--cpu-smoke", work=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert report["device"] == "cpu" and report["gpu"] is None
    assert report["precision"] == "bf16-mixed"  # the script's default: the GPU's setting
    assert report["encoder_limit"]["train_crops_per_s"] > 0
    train = report["train"]
    assert train["epochs"] == 1 and train["instances"] > 0
    assert 0 < train["e2e_ips"] <= train["epoch_ips"] <= train["step_ips"]
    assert "track_2" in report["track"]  # the generated clip; two_flies only with ../shared
    for clip, figures in report["track"].items():
        assert figures["frames"] > 0, clip
        assert 0 < figures["e2e_fps"] <= figures["decode_fps"] <= figures["nodecode_fps"], clip
    assert set(report["steps_s"]) >= {"data", "encoder limit", "train", "track track_2"}
    # the table is printed, and the trained model is the one tracking used
    assert "CPU smoke run" in proc.stdout and "instances/s end to end" in proc.stdout
    assert list((tmp_path / "train_out").rglob("best.ckpt"))


def test_without_cuda_it_stops_at_once_and_says_what_to_do(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible: the script would run the real benchmark")
    proc = _run("--no-install", work=tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "no CUDA device visible" in proc.stderr and "--cpu-smoke" in proc.stderr
    assert not (tmp_path / "gpu_bench.json").exists()


def test_an_unknown_option_is_refused(tmp_path):
    proc = _run("--cpu-smok", work=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "unknown option --cpu-smok" in proc.stderr
