"""Visual encoder: a CNN backbone (timm or torchvision) + linear projection + L2 norm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from dreem.config.model import EncoderConfig
from dreem.models.plain_resnet import ARCHITECTURES, init_like_timm, plain_resnet
from dreem.utils.errors import ConfigError

_TORCHVISION_RESNETS = tuple(ARCHITECTURES)  # torchvision builds exactly these five


def _timm_backbone(name: str, in_chans: int, pretrained: bool, extra: dict[str, Any]) -> nn.Module:
    import timm

    if name not in timm.list_models(pretrained=False) and name not in timm.list_models(
        pretrained=True
    ):
        import difflib

        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        raise ConfigError(
            f"model.encoder_cfg.model_name: unknown timm model {name!r}; did you mean {close}?"
        )
    if pretrained:
        # Never download: load the weights from a local cache file or fail clearly.
        path = _cached_timm_weights(name)
        if path is None:
            raise ConfigError(
                f"model.encoder_cfg.pretrained: true, but pretrained weights for timm model "
                f"{name!r} are not in the local Hugging Face / torch hub cache and downloads "
                "are disabled. Set pretrained: false or put the weights in the cache."
            )
        return timm.create_model(
            name,
            in_chans=in_chans,
            num_classes=0,
            pretrained=True,
            pretrained_cfg_overlay={"file": str(path)},
            **extra,
        )
    return timm.create_model(name, in_chans=in_chans, num_classes=0, pretrained=False, **extra)


def _cached_timm_weights(name: str) -> Path | None:
    """Local file holding the pretrained weights of timm model ``name``, if cached."""
    from timm.models import get_pretrained_cfg

    pcfg = get_pretrained_cfg(name)
    if pcfg is None:
        return None
    if pcfg.file and Path(pcfg.file).is_file():
        return Path(pcfg.file)
    if pcfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        names = [pcfg.hf_hub_filename] if pcfg.hf_hub_filename else []
        for fname in names + [
            "model.safetensors",
            "pytorch_model.bin",
            "open_clip_pytorch_model.bin",
        ]:
            hit = try_to_load_from_cache(pcfg.hf_hub_id, fname)
            if isinstance(hit, str) and Path(hit).is_file():
                return Path(hit)
    if pcfg.url:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(pcfg.url).name
        if cached.is_file():
            return cached
    return None


def _torchvision_backbone(
    name: str, in_chans: int, pretrained: bool, extra: dict[str, Any]
) -> nn.Module:
    import torchvision

    if name not in _TORCHVISION_RESNETS:
        raise ConfigError(
            f"model.encoder_cfg.model_name: torchvision backend supports {_TORCHVISION_RESNETS}, "
            f"got {name!r}"
        )
    weights = None
    if pretrained:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if not cached.is_file():
            raise ConfigError(
                f"model.encoder_cfg.pretrained: true, but torchvision weights for {name!r} are "
                f"not cached at {cached} and downloads are disabled. Set pretrained: false or "
                "copy the weights there."
            )
    net = getattr(torchvision.models, name)(weights=weights, **extra)
    if in_chans != 3:
        old = net.conv1
        net.conv1 = nn.Conv2d(
            in_chans,
            old.out_channels,
            kernel_size=old.kernel_size,
            stride=old.stride,
            padding=old.padding,
            bias=old.bias is not None,
        )
    net.num_features = net.fc.in_features
    net.fc = nn.Identity()
    return net


class _GreyFoldConv2d(nn.Conv2d):
    """A backbone's first convolution that also takes one channel per 3 it was built for.

    Grey crops reach the encoder tiled to 3 identical channels per anchor. A convolution of 3
    identical channels equals a convolution of one of them with the kernel summed over the
    3, at a third of the cost (and of its weight gradient): given ``in_channels / 3``
    channels, this layer computes exactly that. Same parameters, same function.
    """

    def folded_weight(self) -> torch.Tensor:
        """The kernel over one channel per anchor: summed over each anchor's 3 channels.

        In the weight's memory format, strides included: a one-channel kernel is "contiguous"
        in both formats, and only its strides tell the convolution to produce channels-last
        output (see :func:`use_channels_last`)."""
        w = self.weight
        folded = w.view(w.shape[0], w.shape[1] // 3, 3, *w.shape[2:]).sum(2)
        if w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous():
            return folded.clone(memory_format=torch.channels_last)
        return folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] * 3 == self.in_channels:
            return self._conv_forward(x, self.folded_weight(), self.bias)
        return super().forward(x)


def _install_grey_fold(backbone: nn.Module, in_chans: int) -> bool:
    """Make the backbone's first convolution a :class:`_GreyFoldConv2d` when it is a plain
    ``nn.Conv2d`` over ``in_chans`` channels (state-dict keys and parameters unchanged)."""
    cfg = getattr(backbone, "pretrained_cfg", None) or {}
    name = cfg.get("first_conv", "conv1") if isinstance(cfg, dict) else "conv1"
    if not isinstance(name, str) or in_chans % 3:
        return False
    try:
        conv = backbone.get_submodule(name)
    except AttributeError:
        return False
    if type(conv) is not nn.Conv2d or conv.in_channels != in_chans or conv.groups != 1:
        return False
    conv.__class__ = _GreyFoldConv2d
    return True


def use_channels_last(backbone: nn.Module) -> None:
    """Store the backbone's convolution kernels channels-last (NHWC), so its activations are too.

    Same parameters and function; only the layout changes. On this project's CPUs oneDNN's
    NHWC kernels are the faster ones, and the stem's max-pool far more so (on a resnet18
    training step at crop 128, 4 ms against 66 ms): the comparison training's steps run 12-15 %
    faster (bench/README.md). GPUs with mixed precision prefer the same layout. Checkpoints
    keep the same keys and shapes; loading copies values into these parameters.
    """
    backbone.to(memory_format=torch.channels_last)


def _identical_triples(img: torch.Tensor) -> torch.Tensor | None:
    """``(B, 3A, H, W)`` whose 3 channels per anchor are equal → ``(B, A, H, W)``, else None."""
    b, c, h, w = img.shape
    v = img.reshape(b, c // 3, 3, h, w)
    first = v[:, :, 0]
    if torch.equal(first, v[:, :, 1]) and torch.equal(first, v[:, :, 2]):
        return first.contiguous()
    return None


class VisualEncoder(nn.Module):
    """Crops ``(B, in_chans, H, W)`` → L2-normalised features ``(B, d_model)``.

    ``plain``: for weights loaded afterwards (tracking), a standard ResNet is built from
    torch alone (:mod:`dreem.models.plain_resnet`: the same network and state-dict keys,
    without importing timm or torchvision); ``pretrained`` is then ignored. A standard
    ResNet of the timm backend without pretrained weights is built there too, with timm's
    initialisation (the same weights for the same seed).

    Grey crops may also come with one channel per anchor (``in_chans / 3``). On the CPU,
    tiled grey crops (3 equal channels per anchor) are recognised and run through the first
    convolution folded to one channel (:class:`_GreyFoldConv2d`): same features, and about
    1.4x the training throughput of resnet18 at 128 px on this project's CPUs.
    """

    def __init__(
        self,
        d_model: int,
        model_name: str,
        backend: str,
        in_chans: int,
        pretrained: bool,
        extra: dict[str, Any] | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__()
        if in_chans == 1:
            in_chans = 3  # grey crops are tiled to 3 channels
        self.in_chans = int(in_chans)
        extra = dict(extra or {})
        loaded_later = plain and backend in ("timm", "torchvision")
        timm_from_scratch = backend == "timm" and not pretrained
        net = None
        if loaded_later or timm_from_scratch:
            net = plain_resnet(model_name, self.in_chans, extra)
            if net is not None and not loaded_later:
                init_like_timm(net)  # timm's initialisation: the same weights for a seed
        if net is not None:
            self.backbone = net
        elif backend == "torchvision":
            self.backbone = _torchvision_backbone(model_name, self.in_chans, pretrained, extra)
        elif backend == "timm":
            self.backbone = _timm_backbone(model_name, self.in_chans, pretrained, extra)
        else:
            raise ConfigError(
                f"model.encoder_cfg.backend: must be 'timm' or 'torchvision', got {backend!r}"
            )
        self.out_dim = int(self.backbone.num_features)
        self.proj = nn.Linear(self.out_dim, d_model)
        self.grey_fold = _install_grey_fold(self.backbone, self.in_chans)
        use_channels_last(self.backbone)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        grey = img.shape[1] * 3 == self.in_chans  # one channel per anchor
        if not grey and img.shape[1] != self.in_chans:
            raise ValueError(
                f"crops have {img.shape[1]} channels but the encoder expects {self.in_chans}; "
                "set model.encoder_cfg.in_chans = 3 * number of anchors"
            )
        if grey and not self.grey_fold:
            img = img.repeat_interleave(3, dim=1)
        elif not grey and self.grey_fold and img.device.type == "cpu":
            folded = _identical_triples(img)  # a GPU would wait for this check: CPU only
            if folded is not None:
                img = folded
        feats = self.backbone(img).flatten(1)
        return F.normalize(self.proj(feats), dim=1)


def _is_resnet(module: nn.Module) -> bool:
    """timm's, torchvision's or dreem's plain ResNet (every BatchNorm directly follows its
    convolution)."""
    cls = type(module)
    return cls.__name__ == "ResNet" and cls.__module__ in (
        "timm.models.resnet",
        "torchvision.models.resnet",
        "dreem.models.plain_resnet",
    )


def fuse_batchnorm(encoder: VisualEncoder) -> int:
    """Fold each BatchNorm of a ResNet backbone into the convolution before it, in place, for
    inference (eval mode: the same function, ~15% faster on this project's CPUs). The
    encoder cannot be trained afterwards. Returns the number of folded pairs (0 for other
    backbones, which are left as they are)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if encoder.training or not _is_resnet(encoder.backbone):
        return 0
    n = 0

    def fuse(mod: nn.Module) -> None:
        nonlocal n
        for child in mod.children():
            fuse(child)
        children = dict(mod.named_children())
        for name, conv in children.items():
            bn_name = name.replace("conv", "bn")
            bn = children.get(bn_name)
            if bn_name != name and isinstance(conv, nn.Conv2d) and type(bn) is nn.BatchNorm2d:
                setattr(mod, name, fuse_conv_bn_eval(conv, bn))
                setattr(mod, bn_name, nn.Identity())
                n += 1
        if (
            isinstance(mod, nn.Sequential)
            and len(mod) == 2
            and isinstance(mod[0], nn.Conv2d)
            and type(mod[1]) is nn.BatchNorm2d
        ):  # downsample: conv, bn
            mod[0] = fuse_conv_bn_eval(mod[0], mod[1])
            mod[1] = nn.Identity()
            n += 1

    fuse(encoder.backbone)
    return n


def create_visual_encoder(d_model: int, cfg: EncoderConfig, plain: bool = False) -> VisualEncoder:
    """Build the encoder from the validated ``model.encoder_cfg`` section.

    Keys the section does not declare are kwargs of the backbone constructor; with
    ``encoder_type: resnet`` and ``encoder_type_args`` those args replace them. ``plain``:
    see :class:`VisualEncoder` (for weights loaded afterwards).
    """
    if cfg.encoder_type not in (None, "resnet"):
        raise ConfigError(
            f"model.encoder_cfg.encoder_type: only 'resnet' (CNN backbones) is supported, "
            f"got {cfg.encoder_type!r}"
        )
    extra = cfg.extras()
    if cfg.encoder_type is not None and cfg.encoder_type_args:
        extra = dict(cfg.encoder_type_args)
    return VisualEncoder(
        d_model, cfg.model_name, cfg.backend, cfg.in_chans, cfg.pretrained, extra=extra, plain=plain
    )
