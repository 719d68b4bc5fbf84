"""The standard ResNets (18/34/50/101/152) built from torch alone.

timm and torchvision build these five networks with the same layers, the same state-dict
keys and the same function (``fc`` removed). Importing either library costs a job about
2.4 s on this project's 2-core machines (timm imports torchvision, which imports
``torch._dynamo``): a quarter of tracking a 128-frame clip end to end, 0.7 s of a short
training (Lightning imports torchvision anyway). Tracking rebuilds the network here and
loads a checkpoint's weights into it; a timm backbone trained from scratch
(``pretrained: false``) is built here with timm's initialisation (:func:`init_like_timm`:
the same random draws in the same order, so the same seed gives the same weights).
``tests/test_plain_resnet.py`` checks keys, shapes, outputs and initial weights against
both libraries.
"""

from __future__ import annotations

from torch import nn

# name -> (block, blocks per stage), as both libraries define them
ARCHITECTURES: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


def _downsample(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        downsample = _downsample(cin, planes, stride)  # made first, as both libraries do
        self.conv1, self.bn1 = _conv(cin, planes, 3, stride), nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv(planes, planes, 3), nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_norm(self) -> nn.BatchNorm2d:
        return self.bn2

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.bn2(self.conv2(x))
        x += shortcut
        return self.act2(x)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        out = planes * self.expansion
        downsample = _downsample(cin, out, stride)  # made first, as both libraries do
        self.conv1, self.bn1 = _conv(cin, planes, 1), nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv(planes, planes, 3, stride), nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3, self.bn3 = _conv(planes, out, 1), nn.BatchNorm2d(out)
        self.act3 = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_norm(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        x += shortcut
        return self.act3(x)


class ResNet(nn.Module):
    """Stem (7×7 convolution, max-pool), four stages, global average pool → ``(B, F)``."""

    def __init__(self, name: str, in_chans: int) -> None:
        super().__init__()
        kind, depths = ARCHITECTURES[name]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.conv1, self.bn1 = _conv(in_chans, 64, 7, 2), nn.BatchNorm2d(64)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for i, (planes, depth) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
            blocks = []
            for j in range(depth):
                blocks.append(block(cin, planes, 2 if i and not j else 1))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.num_features = cin

    def forward(self, x):
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.global_pool(x)


def plain_resnet(name: str, in_chans: int, extra: dict) -> ResNet | None:
    """The network timm/torchvision would build for ``name`` (no classifier), or None when
    ``name`` is not one of :data:`ARCHITECTURES` or constructor arguments are given."""
    if name not in ARCHITECTURES or extra:
        return None
    return ResNet(name, in_chans)


def init_like_timm(net: ResNet) -> ResNet:
    """timm's ``ResNet.init_weights``: He-normal convolutions (fan-out, ReLU) in module
    order, then each block's last BatchNorm scale zeroed (``zero_init_last``)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    for m in net.modules():
        if isinstance(m, BasicBlock | Bottleneck):
            nn.init.zeros_(m.last_norm().weight)
    return net
