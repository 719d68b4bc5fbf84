"""CPU inference of a ResNet encoder on oneDNN's blocked tensors.

In eager PyTorch every convolution of a ResNet converts its input from NCHW into oneDNN's
blocked layout and its output back. ``torch.utils.mkldnn.to_mkldnn`` gives the same layers
over blocked tensors, so the data stays blocked from the first convolution to the pooling.
Measured on this project's 2-core machines (resnet18, BatchNorms folded, 64 grey crops of
128²; ``bench/encoder_inference.py``): 160 → 222 crops/s
with AVX-512 kernels, 123 → 149 with AVX2 kernels. Features agree with the eager encoder to
~1e-7.

Used only for tracking on the CPU (eval mode, after
:func:`dreem.models.encoder.fuse_batchnorm`). A backbone the conversion does not support,
or whose converted output differs from the eager one on a test batch, stays eager.
"""

from __future__ import annotations

import copy
import logging
import warnings

import torch
from torch import nn

from dreem.models.encoder import VisualEncoder, _GreyFoldConv2d, _is_resnet

log = logging.getLogger(__name__)

TOLERANCE = 1e-4  # max |difference| of converted vs eager backbone outputs on a test batch
TEST_HW = (64, 64)  # the test batch's crop size


def _plain_first_conv(backbone: nn.Module, fold: bool) -> nn.Module:
    """A copy of ``backbone`` whose grey-fold first convolution is a plain ``nn.Conv2d``:
    over one channel per anchor (weights summed over each anchor's 3) when ``fold``."""
    net = copy.deepcopy(backbone)
    for name, mod in net.named_modules():
        if type(mod) is _GreyFoldConv2d:
            w = (mod.folded_weight() if fold else mod.weight).detach()
            conv = nn.Conv2d(
                w.shape[1],
                mod.out_channels,
                mod.kernel_size,
                mod.stride,
                mod.padding,
                mod.dilation,
                bias=mod.bias is not None,
                padding_mode=mod.padding_mode,
            )
            conv.weight.data.copy_(w)
            if mod.bias is not None:
                conv.bias.data.copy_(mod.bias.detach())
            parent_name, _, child = name.rpartition(".")
            setattr(net.get_submodule(parent_name) if parent_name else net, child, conv.eval())
    return net


class MkldnnBackbone(nn.Module):
    """A backbone's inference twin on blocked tensors: dense NCHW in, dense features out.
    Grey crops (one channel per anchor) run a copy with the first convolution folded;
    each copy is converted when first needed (a grey video never converts the colour one)."""

    def __init__(self, backbone: nn.Module, in_chans: int, grey_fold: bool) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.grey_fold = grey_fold
        self._eager = [backbone]  # converted on first use of each input kind (not a child)
        self._nets: dict[bool, nn.Module] = {}

    def _net(self, grey: bool) -> nn.Module | None:
        """The converted copy for grey or colour crops; None (run eager) when the
        conversion fails or its output differs from the eager one on a test batch."""
        if grey not in self._nets:
            self._nets[grey] = self._convert(grey)
        return self._nets[grey]

    def _convert(self, grey: bool) -> nn.Module | None:
        eager = self._eager[0]
        chans = self.in_chans // 3 if grey else self.in_chans
        x = torch.rand(2, chans, *TEST_HW, generator=torch.Generator().manual_seed(0))
        try:
            from torch.utils import mkldnn as mkldnn_utils

            with warnings.catch_warnings():  # its modules are TorchScript classes (deprecated)
                warnings.simplefilter("ignore")
                net = mkldnn_utils.to_mkldnn(_plain_first_conv(eager, fold=grey))
            with torch.inference_mode():
                diff = (self._run(net, x) - eager(x)).abs().max().item()
        except (ImportError, RuntimeError, NotImplementedError, AttributeError, TypeError) as exc:
            log.info("oneDNN backbone not available (%s): eager", exc)
            return None
        if not diff <= TOLERANCE:
            log.info("oneDNN backbone differs by %.2g on a test batch: eager", diff)
            return None
        return net

    @staticmethod
    def _run(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = net(x.contiguous().to_mkldnn())
        return out.to_dense() if out.is_mkldnn else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grey = self.grey_fold and x.shape[1] * 3 == self.in_chans
        net = self._net(grey)
        return self._eager[0](x) if net is None else self._run(net, x)


def use_mkldnn(encoder: VisualEncoder) -> bool:
    """Replace the (eval-mode, CPU, float32) encoder's ResNet backbone by a
    :class:`MkldnnBackbone` when oneDNN is available and converts it (checked on a test
    batch of the crops the encoder folds for); return whether it did."""
    backbone = encoder.backbone
    if (
        encoder.training
        or not _is_resnet(backbone)
        or not torch.backends.mkldnn.is_available()
        or any(p.device.type != "cpu" or p.dtype != torch.float32 for p in backbone.parameters())
    ):
        return False
    fast = MkldnnBackbone(backbone, encoder.in_chans, encoder.grey_fold)
    if fast._net(encoder.grey_fold) is None:
        return False
    encoder.backbone = fast
    return True
