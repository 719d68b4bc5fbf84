"""Standard ResNets built from torch alone (dreem.models.plain_resnet): the same state-dict
keys, shapes and function as timm's and torchvision's; a checkpoint loads for tracking
without importing either library; a timm ResNet trained from scratch gets timm's initial
weights without importing timm."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dreem.config.load import load_dreem_config
from dreem.models.encoder import (
    VisualEncoder,
    _timm_backbone,
    _torchvision_backbone,
    fuse_batchnorm,
)
from dreem.models.gtr import GlobalTrackingTransformer
from dreem.models.plain_resnet import ARCHITECTURES, ResNet, init_like_timm, plain_resnet

ROOT = Path(__file__).resolve().parents[1]


def _library_backbone(name: str, backend: str, in_chans: int) -> torch.nn.Module:
    build = _timm_backbone if backend == "timm" else _torchvision_backbone
    net = build(name, in_chans, False, {})
    assert type(net).__module__.startswith(backend)
    return net


def _randomise_batchnorms(net: torch.nn.Module, seed: int) -> None:
    """Non-trivial running statistics and affine parameters (fresh ones are 0/1)."""
    g = torch.Generator().manual_seed(seed)
    for mod in net.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            n = mod.num_features
            mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


@pytest.mark.parametrize("backend", ["timm", "torchvision"])
@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_same_keys_and_shapes_as_the_libraries(name: str, backend: str) -> None:
    with torch.device("meta"):
        lib = _library_backbone(name, backend, 3)
        plain = ResNet(name, 3)
    want = {k: tuple(v.shape) for k, v in lib.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in plain.state_dict().items()} == want
    assert plain.num_features == lib.num_features


@pytest.mark.parametrize(
    ("name", "backend", "in_chans"),
    [("resnet18", "timm", 3), ("resnet18", "torchvision", 6), ("resnet50", "timm", 3)],
)
def test_same_function_as_the_libraries(name: str, backend: str, in_chans: int) -> None:
    torch.manual_seed(0)
    lib = _library_backbone(name, backend, in_chans).double()
    _randomise_batchnorms(lib, 1)
    plain = ResNet(name, in_chans).double()
    plain.load_state_dict(lib.state_dict())
    lib.eval(), plain.eval()
    x = torch.rand(
        3, in_chans, 64, 48, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    with torch.no_grad():
        want = lib(x)
        torch.testing.assert_close(plain(x), want, rtol=1e-10, atol=1e-12)
        plain.train()  # training-mode BatchNorms too (batch statistics)
        lib.train()
        torch.testing.assert_close(plain(x), lib(x), rtol=1e-10, atol=1e-12)


@pytest.fixture
def library_only(monkeypatch):
    """Encoders built meanwhile use timm/torchvision even where dreem would not."""
    import dreem.models.encoder as encoder

    monkeypatch.setattr(encoder, "plain_resnet", lambda *args: None)


def test_plain_encoder_folds_grey_crops_and_batchnorms_like_the_library_one(
    monkeypatch, library_only
) -> None:
    torch.manual_seed(0)
    lib = VisualEncoder(16, "resnet18", "timm", 3, pretrained=False).double()
    assert type(lib.backbone).__module__ == "timm.models.resnet"
    monkeypatch.undo()
    _randomise_batchnorms(lib, 3)
    plain = VisualEncoder(16, "resnet18", "timm", 3, pretrained=True, plain=True).double()
    assert type(plain.backbone) is ResNet and plain.grey_fold
    plain.load_state_dict(lib.state_dict())
    lib.eval(), plain.eval()
    grey = torch.rand(4, 1, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        want = lib(grey)
        assert fuse_batchnorm(plain) == fuse_batchnorm(lib) == 20  # 17 convs + 3 shortcuts
        torch.testing.assert_close(plain(grey), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "extra"),
    [("resnet18d", {}), ("resnet18", {"drop_path_rate": 0.1}), ("test_resnet", {})],
)
def test_other_backbones_stay_with_the_library(name: str, extra: dict) -> None:
    enc = VisualEncoder(16, name, "timm", 3, pretrained=False, extra=extra, plain=True)
    assert type(enc.backbone).__module__ == "timm.models.resnet"


def _write_checkpoint(path: Path, pretrained: bool) -> GlobalTrackingTransformer:
    """A dreem checkpoint (the two fields tracking reads) of a randomly initialised GTR."""
    cfg = load_dreem_config(
        {"model": {"d_model": 32, "nhead": 1, "encoder_cfg": {"model_name": "resnet18"}}}
    )
    torch.manual_seed(0)
    model = GlobalTrackingTransformer(cfg.model)
    _randomise_batchnorms(model, 4)
    stored = cfg.to_dict()
    stored["model"]["encoder_cfg"]["pretrained"] = pretrained
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": stored}, path)
    return model.eval()


LOAD_AND_ENCODE = """
import json, sys, torch
HEAVY = ("timm", "torchvision", "lightning", "torch._dynamo")
from dreem.inference.track import inference_model
from dreem.models.checkpoint import check_checkpoint, load_model_from_checkpoint
check_checkpoint(sys.argv[1])
model, cfg = load_model_from_checkpoint(sys.argv[1])
crops = torch.rand(5, 1, 64, 64, generator=torch.Generator().manual_seed(5))
with torch.inference_mode():
    feats = inference_model(model, copy=False).encode(crops)
print(json.dumps({
    "pretrained": cfg.model.encoder_cfg.pretrained,
    "backbone": type(model.visual_encoder.backbone).__name__,
    "imported": sorted(m for m in HEAVY if m in sys.modules),
    "feats": feats.tolist(),
}))
"""


def test_tracking_loads_a_checkpoint_without_timm_or_pretrained_weights(
    tmp_path, library_only
) -> None:
    """The checkpoint says ``pretrained: true`` and no weights are cached: tracking needs
    none (the checkpoint holds the trained ones), and imports neither timm nor torchvision
    (nor torch._dynamo, which they import: 2.4 s of a tracking job here)."""
    ckpt = tmp_path / "model.ckpt"
    model = _write_checkpoint(ckpt, pretrained=True)
    assert type(model.visual_encoder.backbone).__module__ == "timm.models.resnet"
    env = {
        "PYTHONPATH": str(ROOT),
        "PATH": "/usr/bin:/bin",
        "TORCH_HOME": str(tmp_path / "hub"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
    }
    run = subprocess.run(
        [sys.executable, "-c", LOAD_AND_ENCODE, str(ckpt)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["pretrained"] is True and out["backbone"] == "MkldnnBackbone"
    assert out["imported"] == []
    crops = torch.rand(5, 1, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        want = model.encode(crops)  # timm's backbone, BatchNorms unfolded, eager
    torch.testing.assert_close(torch.tensor(out["feats"]), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_from_scratch_weights_are_timms_for_the_same_seed(name: str) -> None:
    """A timm ResNet trained from scratch starts from the weights timm would draw: the
    same random draws in the same order (then the same He-normal convolutions and zeroed
    last BatchNorm of each block), so a seed trains the same model with or without timm."""
    torch.manual_seed(11)
    want = _library_backbone(name, "timm", 3).state_dict()
    torch.manual_seed(11)
    got = init_like_timm(plain_resnet(name, 3, {})).state_dict()
    assert list(got) == list(want)
    for key, value in want.items():
        assert torch.equal(got[key], value), key
    assert (
        torch.count_nonzero(
            got[
                "layer1.0.bn2.weight" if name in ("resnet18", "resnet34") else "layer1.0.bn3.weight"
            ]
        )
        == 0
    )


def test_encoder_from_scratch_continues_the_random_stream_like_timm(
    monkeypatch, library_only
) -> None:
    """The projection after the backbone gets the same weights too (the backbone used up
    as many random numbers as timm's)."""
    torch.manual_seed(3)
    lib = VisualEncoder(16, "resnet18", "timm", 6, pretrained=False)
    monkeypatch.undo()
    torch.manual_seed(3)
    ours = VisualEncoder(16, "resnet18", "timm", 6, pretrained=False)
    assert type(lib.backbone).__module__ == "timm.models.resnet"
    assert type(ours.backbone) is ResNet
    for (k, a), (k2, b) in zip(lib.state_dict().items(), ours.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b), k


@pytest.mark.parametrize(
    ("backend", "pretrained", "extra", "module"),
    [
        ("torchvision", False, {}, "torchvision.models.resnet"),
        ("timm", False, {"drop_path_rate": 0.1}, "timm.models.resnet"),
    ],
)
def test_training_builds_with_the_library_otherwise(backend, pretrained, extra, module) -> None:
    enc = VisualEncoder(16, "resnet18", backend, 3, pretrained=pretrained, extra=extra)
    assert type(enc.backbone).__module__ == module


TRAIN_BUILD = """
import json, sys, torch
from dreem.config.checks import name_errors
from dreem.config.load import load_dreem_config
from dreem.models.gtr import GlobalTrackingTransformer
cfg = load_dreem_config({"model": {"d_model": 32, "nhead": 1,
                         "encoder_cfg": {"model_name": sys.argv[1], "pretrained": False}}})
errors = name_errors(cfg)
GlobalTrackingTransformer(cfg.model)
print(json.dumps({"errors": errors, "timm": "timm" in sys.modules}))
"""


@pytest.mark.parametrize(("name", "uses_timm"), [("resnet34", False), ("resnet18d", True)])
def test_a_from_scratch_standard_resnet_is_checked_and_built_without_timm(name, uses_timm):
    """0.7 s of every short training was timm's import; other backbones still need it."""
    run = subprocess.run(
        [sys.executable, "-c", TRAIN_BUILD, name],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out == {"errors": [], "timm": uses_timm}
