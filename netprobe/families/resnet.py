"""ResNet, ResNeXt and Wide ResNet, torchvision-style (stride on the 3x3 conv, "ResNet v1.5").

A bottleneck stage of base width ``w`` has inner width ``int(w * base_width / 64) * groups``
and output width ``4 w``; the basic block (ResNet-18/34) keeps ``w`` throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from netprobe.families.blocks import basic, bottleneck

from netprobe.spec import Block, Conv, GlobalPool, Linear, MaxPool, Net, Stage

STAGE_W = (64, 128, 256, 512)
STEM_W = 64
STEM = (("conv", Conv(w_in=3, w_out=STEM_W, kernel=7, stride=2, bn=True, act="relu")),
        ("pool", MaxPool(kernel=3, stride=2, padding=1)))


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
    def block(w_in: int, w: int, stride: int) -> Block:
        if cfg.bottleneck:
            return bottleneck(w_in, int(w * cfg.base_width / 64) * cfg.groups, 4 * w, stride, cfg.groups)
        return basic(w_in, w, stride)

    stages, w_in = body(STEM_W, cfg.depths, block, stage_w)
    head = (("pool", GlobalPool()), ("fc", Linear(w_in=w_in, w_out=num_classes)))
    return Net(name, family_of(cfg), resolution, STEM, stages, head,
               design={"depths": cfg.depths, "groups": cfg.groups, "base_width": cfg.base_width})


def body(w_in: int, depths, block: Callable[[int, int, int], Block],
         stage_w: tuple[int, ...] = STAGE_W) -> tuple[tuple[Stage, ...], int]:
    """The four stages (the first block of stages 2-4 strides 2) and their output width.

    ``block(w_in, w, stride)`` makes one block of stage width ``w``.
    """
    stages = []
    for si, (w, depth) in enumerate(zip(stage_w, depths)):
        blocks = []
        for i in range(depth):
            blocks.append(block(w_in, w, 2 if i == 0 and si > 0 else 1))
            w_in = blocks[-1].w_out
        stages.append(Stage(tuple(blocks)))
    return tuple(stages), w_in
