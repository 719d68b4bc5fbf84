"""Devices: where tracking runs the model, and what a job asks a cluster for."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dreem.utils.device import accelerator, resolve_device
from dreem.utils.errors import ConfigError

NO_CUDA = not torch.cuda.is_available()


def test_resolve_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want
    assert resolve_device(None).type == want
    with pytest.raises(ConfigError, match=r"--device: 'tpu' is not one of auto, cpu, gpu"):
        resolve_device("tpu", key="--device")
    assert accelerator("cuda:1") == "gpu" and accelerator("cpu") == "cpu"


@pytest.mark.skipif(not NO_CUDA, reason="needs a machine without a CUDA GPU")
def test_gpu_without_one_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"device: 'gpu' asks for a CUDA GPU but torch sees none"):
        resolve_device("gpu")


@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
def test_checkpoint_tracks_on_the_gpu(tmp_path: Path) -> None:
    from dreem.inference.track import track_shard

    ckpt = _tiny_checkpoint(tmp_path)
    shard = _shard(tmp_path)
    table = track_shard(ckpt, shard, None, tmp_path / "gpu", progress=False, device="gpu")
    cpu = track_shard(ckpt, shard, None, tmp_path / "cpu", progress=False, device="cpu")
    assert (table.track_id >= 0).all()
    assert (table.track_id == cpu.track_id).mean() > 0.9


def _shard(tmp_path: Path) -> Path:
    from fakes import write_synthetic_shard

    return write_synthetic_shard(tmp_path / "s.parquet", n_frames=10, n_animals=2, crop=16)


def _tiny_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint in the training format (config + weights), without training."""
    from dreem.config.load import load_dreem_config
    from dreem.models.gtr import GlobalTrackingTransformer

    cfg = load_dreem_config(
        {
            "model": {
                "d_model": 16,
                "nhead": 1,
                "num_encoder_layers": 1,
                "num_decoder_layers": 1,
                "encoder_cfg": {"model_name": "test_resnet", "backend": "timm", "in_chans": 3},
            },
            "tracker": {"window_size": 4},
        }
    )
    model = GlobalTrackingTransformer(cfg.model)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    path = tmp_path / "tiny.ckpt"
    torch.save({"hyper_parameters": cfg.to_dict(), "state_dict": state}, path)
    return path


def test_checkpoint_tracks_on_the_cpu(tmp_path: Path) -> None:
    from dreem.inference.track import track_shard

    ckpt = _tiny_checkpoint(tmp_path)
    table = track_shard(ckpt, _shard(tmp_path), None, tmp_path / "o", progress=False, device="cpu")
    assert len(table) == 20 and (table.track_id >= 0).all()
    if NO_CUDA:  # asked for a GPU that is not there: an error before any work
        with pytest.raises(ConfigError, match="CUDA GPU"):
            track_shard(ckpt, _shard(tmp_path), None, tmp_path / "g", progress=False, device="gpu")
        assert not (tmp_path / "g.parquet").exists()


def test_pipeline_device_key_and_cluster_gpus(tmp_path: Path) -> None:
    from dreem.config.pipeline import load_pipeline_config
    from dreem.pipeline.plan import Plan

    ckpt = _tiny_checkpoint(tmp_path)
    from dreem.synth import generate_animals

    data = tmp_path / "data"
    generate_animals(data, "clip", seed=0, n_animals=2, n_frames=4, size=(32, 32))
    cfg = {
        "datasets": {
            "d": {"dir": {"path": str(data), "labels_suffix": ".slp", "vid_suffix": ".mp4"}}
        },
        "models": {"m": {"checkpoint": str(ckpt)}, "b": {"baseline": "centroid"}},
        "track": {"datasets": ["d"], "models": ["m", "b"]},
    }
    plan = Plan(load_pipeline_config(cfg))
    assert plan.track_device("m") == "auto" and plan.track_gpus("m") == 0
    plan = Plan(load_pipeline_config({**cfg, "device": "gpu"}))
    assert plan.track_gpus("m") == 1
    assert plan.track_device("b") == "cpu" and plan.track_gpus("b") == 0
    with pytest.raises(ConfigError, match=r"device: expected one of auto, cpu, gpu, cuda"):
        load_pipeline_config({**cfg, "device": "GPU0"})
