"""Model: embeddings (incl. the reference's bugs, fixed), encoder, transformer, GTR paths."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from dreem.config.model import EncoderConfig, ModelConfig, PosEmbedding, TempEmbedding
from dreem.models.attention_head import AttentionHead
from dreem.models.encoder import create_visual_encoder
from dreem.models.gtr import GlobalTrackingTransformer, _embedding
from dreem.utils.errors import ConfigError

D = 32


def Embedding(kind, mode, d, **keys):  # noqa: N802 - reads like the module it builds
    """The embedding module built from a validated config section, as the model builds it."""
    section = PosEmbedding if kind == "pos" else TempEmbedding
    return _embedding(kind, section.model_validate({"mode": mode, **keys}), d)


def VisualEncoder(d, model_name, **keys):  # noqa: N802
    return create_visual_encoder(
        d, EncoderConfig.model_validate({"model_name": model_name, **keys})
    )


def tiny_cfg(**over):
    cfg = {
        "d_model": D,
        "nhead": 2,
        "num_encoder_layers": 1,
        "num_decoder_layers": 2,
        "return_intermediate_dec": True,
        "decoder_self_attn": True,
        "embedding_meta": {
            "pos": {"mode": "fixed", "normalize": True},
            "temp": {"mode": "learned"},
        },
        "encoder_cfg": {"model_name": "resnet18", "backend": "timm", "in_chans": 3},
    }
    cfg.update(over)
    return ModelConfig.model_validate(cfg)


def random_clip(n_frames=4, n_per=3, hw=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = n_frames * n_per
    yx = torch.rand(n, 2, generator=g) * 0.8
    boxes = torch.cat([yx, yx + 0.2], dim=1).unsqueeze(1)
    return SimpleNamespace(
        crops=torch.rand(n, 3, hw, hw, generator=g),
        boxes=boxes,
        frame_idx=torch.arange(n_frames).repeat_interleave(n_per) + 10,
        gt_ids=torch.arange(n_per).repeat(n_frames),
    )


def test_fixed_pos_normalize_distinguishes_boxes():
    # The reference divided each coordinate by itself (one anchor) → constant embedding.
    emb = Embedding("pos", "fixed", D, normalize=True)
    a = emb(torch.tensor([[[0.1, 0.2, 0.3, 0.4]]]))
    b = emb(torch.tensor([[[0.5, 0.6, 0.7, 0.9]]]))
    assert emb.scale == pytest.approx(2 * math.pi)
    assert (a - b).abs().max() > 0.1


def test_learned_temporal_distinct_offsets():
    # The reference mapped every integer offset >= 1 to the last table row.
    emb = Embedding("temp", "learned", D, emb_num=16)
    out = emb(torch.arange(8).float())
    dist = torch.cdist(out, out)
    off_diag = dist + torch.eye(8) * 1e9
    assert off_diag.min() > 1e-4


def test_learned_pos_and_centre_size():
    boxes = torch.tensor([[[0.1, 0.1, 0.3, 0.3]], [[0.6, 0.6, 0.9, 0.9]]])
    for over in (True, False):
        emb = Embedding("pos", "learned", D, emb_num=8, over_boxes=over)
        out = emb(boxes)
        assert out.shape == (2, D)
        assert not torch.allclose(out[0], out[1])


def test_embedding_errors_and_off():
    from dreem.config import load_dreem_config

    with pytest.raises(ConfigError, match="model.embedding_meta.pos.mode: 'fixd'"):
        load_dreem_config({"model": {"embedding_meta": {"pos": {"mode": "fixd"}}}})
    with pytest.raises(ConfigError):
        Embedding("pos", "fixed", D, normalize=False, scale=3.0)  # scale without normalize
    with pytest.raises(ConfigError):
        Embedding("pos", "fixed", D, n_points=3)  # 3 anchors need an MLP
    emb = Embedding("pos", "fixed", D, n_points=3, mlp_cfg={"hidden_dims": 16, "num_layers": 2})
    assert emb(torch.rand(5, 3, 4)).shape == (5, D)
    assert torch.count_nonzero(Embedding("temp", "off", D)(torch.arange(3).float())) == 0


def test_box_normalisation_non_square_is_model_agnostic():
    # Boxes reach the model normalised y/H and x/W. On a 100 (H) x 400 (W) image, a box at
    # the bottom-left and one at the top-right have different, in-range coordinates.
    h, w = 100, 400
    px = torch.tensor([[[80.0, 0.0, 100.0, 40.0]], [[0.0, 360.0, 20.0, 400.0]]])
    norm = px / torch.tensor([h, w, h, w])
    assert norm.min() >= 0 and norm.max() <= 1
    assert norm[0, 0, 0] == pytest.approx(0.8) and norm[1, 0, 1] == pytest.approx(0.9)
    emb = Embedding("pos", "fixed", D, normalize=True)
    e = emb(norm)
    assert not torch.allclose(e[0], e[1])


@pytest.mark.parametrize("backend,chans", [("timm", 3), ("timm", 6), ("torchvision", 6)])
def test_encoder_shapes_and_norm(backend, chans):
    enc = VisualEncoder(D, "resnet18", backend=backend, in_chans=chans)
    out = enc(torch.rand(2, chans, 24, 24))
    assert out.shape == (2, D)
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)
    with pytest.raises(ValueError, match="in_chans"):
        enc(torch.rand(2, chans + 3, 24, 24))


def _nhwc(t: torch.Tensor) -> bool:
    """Channels-last strides, not merely a layout both formats accept."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


@pytest.mark.parametrize("backend", ["timm", "torchvision"])
def test_activations_are_channels_last_from_the_stem_on(backend):
    """Grey crops (one channel), tiled grey and colour crops all leave the first convolution
    channels-last, and stay so to the last stage: the layout oneDNN's CPU kernels run fastest
    in (the NCHW stem max-pool alone cost a training step more than all of BatchNorm). It
    holds after loading weights saved contiguous (checkpoints from before the change)."""
    torch.manual_seed(0)
    enc = VisualEncoder(D, "resnet18", backend=backend, in_chans=3)
    seen: dict[str, torch.Tensor] = {}
    for name in ("conv1", "maxpool", "layer4"):
        enc.backbone.get_submodule(name).register_forward_hook(
            lambda mod, args, out, name=name: seen.__setitem__(name, out)
        )
    old = {k: v.contiguous() for k, v in enc.state_dict().items()}
    assert not any(_nhwc(v) for v in old.values())
    enc.load_state_dict(old)
    grey = torch.rand(2, 1, 64, 64)
    for crops in (grey, grey.repeat(1, 3, 1, 1), torch.rand(2, 3, 64, 64)):
        seen.clear()
        enc(crops).sum().backward()
        assert all(_nhwc(out) for out in seen.values()), {k: v.stride() for k, v in seen.items()}
    assert _nhwc(enc.backbone.conv1.weight.grad)


@pytest.mark.parametrize("backend,chans", [("timm", 3), ("timm", 6), ("torchvision", 6)])
def test_grey_fold_is_the_same_function(backend, chans):
    """Grey crops (3 equal channels per anchor, or one channel per anchor) go through the
    first convolution folded to one channel: same features and weight gradients as the
    plain convolution; colour crops take the plain path. In float64, so the two paths agree
    to rounding on every CPU (float32 kernels round differently on AVX2 and AVX-512)."""
    torch.manual_seed(0)
    enc = VisualEncoder(D, "resnet18", backend=backend, in_chans=chans).eval().double()
    assert enc.grey_fold
    grey = torch.rand(4, chans // 3, 32, 32, dtype=torch.float64)
    tiled = grey.repeat_interleave(3, dim=1)
    colour = torch.rand(4, chans, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        folded, given = enc(tiled), enc(grey)
        enc.grey_fold = False
        plain, plain_colour = enc(tiled), enc(colour)
        enc.grey_fold = True
        assert torch.equal(enc(colour), plain_colour)  # unequal channels: never folded
    assert torch.equal(folded, given)
    assert torch.allclose(folded, plain, rtol=1e-9, atol=1e-12)

    target = torch.rand(4, D, dtype=torch.float64)

    def conv1_grad(fold: bool) -> torch.Tensor:
        enc.zero_grad()
        enc.grey_fold = fold
        (enc.train()(tiled) * target).sum().backward()
        return enc.backbone.conv1.weight.grad.clone()

    g_fold, g_plain = conv1_grad(True), conv1_grad(False)
    assert torch.allclose(g_fold, g_plain, rtol=1e-9, atol=1e-12 * g_plain.abs().max().item())
    assert "backbone.conv1.weight" in enc.state_dict()  # checkpoints unchanged


@pytest.mark.parametrize("backend", ["timm", "torchvision"])
def test_fused_batchnorm_encoder_is_the_same_function(backend):
    """For tracking, each BatchNorm of a ResNet encoder is folded into its convolution: same
    features in eval mode; a training encoder is never folded."""
    from dreem.models.encoder import fuse_batchnorm

    torch.manual_seed(0)
    enc = VisualEncoder(D, "resnet18", backend=backend, in_chans=3)
    x = torch.rand(8, 3, 32, 32)
    assert fuse_batchnorm(enc) == 0  # training mode: untouched
    enc(x)  # moves the BatchNorm running statistics away from their initial values
    enc.eval()
    with torch.no_grad():
        before = enc(x)
        assert fuse_batchnorm(enc) == 20  # stem + 2 per block x 8 + 3 downsamples
        after = enc(x)
        grey = enc(x[:, :1])  # the folded grey path still applies
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
    assert torch.allclose(after, before, atol=1e-5)
    assert torch.allclose(grey, enc(x[:, :1].repeat_interleave(3, dim=1)), atol=1e-6)


@pytest.mark.parametrize("backend,chans", [("timm", 3), ("timm", 6), ("torchvision", 6)])
def test_onednn_backbone_gives_the_eager_features(backend, chans):
    """Tracking on the CPU runs the folded ResNet on oneDNN's blocked tensors: the same
    features as the eager encoder for grey (one channel per anchor), tiled grey and colour
    crops; training encoders and other backbones are left alone."""
    from dreem.models.cpu_inference import MkldnnBackbone, use_mkldnn
    from dreem.models.encoder import fuse_batchnorm

    torch.manual_seed(0)
    enc = VisualEncoder(D, "resnet18", backend=backend, in_chans=chans)
    assert not use_mkldnn(enc)  # training mode
    enc(torch.rand(4, chans, 32, 32))  # BatchNorm statistics away from their initial values
    enc.eval()
    fuse_batchnorm(enc)
    grey = torch.rand(5, chans // 3, 40, 40)
    inputs = [grey, grey.repeat_interleave(3, dim=1), torch.rand(5, chans, 40, 40)]
    with torch.no_grad():
        eager = [enc(x) for x in inputs]
        assert use_mkldnn(enc) and isinstance(enc.backbone, MkldnnBackbone)
        fast = [enc(x) for x in inputs]
    for a, b in zip(eager, fast, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_onednn_backbone_that_differs_stays_eager(monkeypatch):
    from dreem.models import cpu_inference
    from dreem.models.encoder import fuse_batchnorm

    enc = VisualEncoder(D, "resnet18", backend="timm", in_chans=3).eval()
    fuse_batchnorm(enc)
    backbone = enc.backbone
    monkeypatch.setattr(cpu_inference, "TOLERANCE", -1.0)  # every difference is too large
    assert not cpu_inference.use_mkldnn(enc) and enc.backbone is backbone
    other = VisualEncoder(D, "efficientnet_b0", backend="timm", in_chans=3).eval()
    assert not cpu_inference.use_mkldnn(other)  # not a ResNet


def test_encoder_unknown_name():
    with pytest.raises(ConfigError, match="resnet18"):
        VisualEncoder(D, "resnet_18")


def test_attention_head_scaling():
    q, k = torch.rand(3, D), torch.rand(5, D)
    torch.manual_seed(0)
    a = AttentionHead(D, 1, 0.0, scale=False)
    torch.manual_seed(0)
    b = AttentionHead(D, 1, 0.0, scale=True)
    assert a(q, k).shape == (3, 5)
    assert torch.allclose(a(q, k) / math.sqrt(D), b(q, k), atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "gelu", "glu"])
def test_forward_shapes(activation):
    model = GlobalTrackingTransformer(tiny_cfg(activation=activation, norm=True))
    clip = random_clip()
    out = model(clip)
    assert len(out) == 2 and all(o.shape == (12, 12) for o in out)


def test_encode_associate_equals_forward():
    """Encoding in parts and associating one frame's queries at a time equals the whole
    forward pass (float64: the same to rounding on every CPU)."""
    torch.manual_seed(0)
    model = GlobalTrackingTransformer(tiny_cfg()).eval().double()
    clip = random_clip()
    clip.crops, clip.boxes = clip.crops.double(), clip.boxes.double()
    with torch.no_grad():
        full = model(clip)
        feats = torch.cat([model.encode(clip.crops[:5]), model.encode(clip.crops[5:])])
        for frame in torch.unique(clip.frame_idx):
            q = clip.frame_idx == frame
            part = model.associate(
                feats, clip.boxes, clip.frame_idx, feats[q], clip.boxes[q], clip.frame_idx[q]
            )
            for a, b in zip(full, part, strict=True):
                assert torch.allclose(a[q], b, rtol=1e-9, atol=1e-10)


def test_times_are_relative_to_window():
    torch.manual_seed(0)
    model = GlobalTrackingTransformer(tiny_cfg()).eval()
    clip = random_clip()
    with torch.no_grad():
        f = model.encode(clip.crops)
        a = model.associate(f, clip.boxes, clip.frame_idx, f, clip.boxes, clip.frame_idx)[-1]
        t2 = clip.frame_idx + 1000
        b = model.associate(f, clip.boxes, t2, f, clip.boxes, t2)[-1]
    assert torch.allclose(a, b, atol=1e-5)


def test_pretrained_without_cache_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="pretrained"):
        VisualEncoder(D, "resnet18", backend="torchvision", pretrained=True)
    with pytest.raises(ConfigError, match="pretrained"):
        VisualEncoder(D, "resnet18", backend="timm", pretrained=True)
