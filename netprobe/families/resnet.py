"""ResNet, ResNeXt and Wide ResNet, torchvision-style (stride on the 3x3 conv, "ResNet v1.5").

A bottleneck stage of base width ``w`` has inner width ``int(w * base_width / 64) * groups``
and output width ``4 w``; the basic block (ResNet-18/34) keeps ``w`` throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.families.blocks import basic, bottleneck
from netprobe.spec import ConvBN, GlobalPool, Linear, MaxPool, Net, Stage

STAGE_W = (64, 128, 256, 512)
STEM_W = 64


@dataclass(frozen=True)
class ResNetCfg:
    """Blocks per stage, block type, cardinality and width per group."""

    depths: tuple[int, int, int, int]
    bottleneck: bool = True
    groups: int = 1
    base_width: int = 64


# He et al. 2016 (Table 1), Xie et al. 2017 (ResNeXt), Zagoruyko & Komodakis 2016 (WRN-50-2).
RESNETS = {
    "resnet18":          ResNetCfg(depths=(2, 2, 2, 2), bottleneck=False),
    "resnet34":          ResNetCfg(depths=(3, 4, 6, 3), bottleneck=False),
    "resnet50":          ResNetCfg(depths=(3, 4, 6, 3)),
    "resnet101":         ResNetCfg(depths=(3, 4, 23, 3)),
    "resnet152":         ResNetCfg(depths=(3, 8, 36, 3)),
    "resnext50_32x4d":   ResNetCfg(depths=(3, 4, 6, 3),  groups=32, base_width=4),
    "resnext101_32x4d":  ResNetCfg(depths=(3, 4, 23, 3), groups=32, base_width=4),
    "resnext101_32x8d":  ResNetCfg(depths=(3, 4, 23, 3), groups=32, base_width=8),
    "resnext101_64x4d":  ResNetCfg(depths=(3, 4, 23, 3), groups=64, base_width=4),
    "wide_resnet50_2":   ResNetCfg(depths=(3, 4, 6, 3),  base_width=128),
    "wide_resnet101_2":  ResNetCfg(depths=(3, 4, 23, 3), base_width=128),
}


def family_of(cfg: ResNetCfg) -> str:
    """ResNeXt has groups, Wide ResNet a wider bottleneck, ResNet neither."""
    if cfg.groups > 1:
        return "resnext"
    return "wide_resnet" if cfg.base_width > 64 else "resnet"


def resnet(name: str, cfg: ResNetCfg, resolution: int = 224, num_classes: int = 1000,
           stage_w: tuple[int, ...] = STAGE_W) -> Net:
    """A ResNet: 7x7 stem and 3x3 max-pool, four stages, pool, fc."""
    stem = (("conv", ConvBN(3, STEM_W, 7, 2, act="relu")), ("pool", MaxPool(3, 2, 1)))
    stages = []
    w_in = STEM_W
    for si, (w, depth) in enumerate(zip(stage_w, cfg.depths)):
        blocks = []
        for i in range(depth):
            stride = 2 if i == 0 and si > 0 else 1
            if cfg.bottleneck:
                w_b = int(w * cfg.base_width / 64) * cfg.groups
                blocks.append(bottleneck(w_in, w_b, 4 * w, stride, cfg.groups))
                w_in = 4 * w
            else:
                blocks.append(basic(w_in, w, stride))
                w_in = w
        stages.append(Stage(tuple(blocks)))
    head = (("pool", GlobalPool()), ("fc", Linear(w_in, num_classes)))
    return Net(name, family_of(cfg), resolution, stem, tuple(stages), head,
               design={"depths": cfg.depths, "groups": cfg.groups, "base_width": cfg.base_width})
