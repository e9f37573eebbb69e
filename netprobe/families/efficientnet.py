"""EfficientNet B0-B7: the B0 stage table under compound scaling (Tan & Le, 2019).

Width and depth multipliers scale every stage of B0: channels by ``make_divisible(c * width)``,
repeats by ``ceil(n * depth)``; each member also has its own native resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.families.blocks import mbconv
from netprobe.families.rounding import make_divisible, scale_depth
from netprobe.spec import Conv, Dropout, GlobalPool, Linear, Net, Stage

SE_RATIO = 0.25  # of the block input width


@dataclass(frozen=True)
class MBStage:
    """One row of the B0 table."""

    exp_ratio: int
    kernel: int
    stride: int
    w_out: int
    depth: int


# EfficientNet paper, Table 1 (stage 1 is the stem conv, stage 9 the head).
B0_STAGES = (
    MBStage(exp_ratio=1, kernel=3, stride=1, w_out=16,  depth=1),
    MBStage(exp_ratio=6, kernel=3, stride=2, w_out=24,  depth=2),
    MBStage(exp_ratio=6, kernel=5, stride=2, w_out=40,  depth=2),
    MBStage(exp_ratio=6, kernel=3, stride=2, w_out=80,  depth=3),
    MBStage(exp_ratio=6, kernel=5, stride=1, w_out=112, depth=3),
    MBStage(exp_ratio=6, kernel=5, stride=2, w_out=192, depth=4),
    MBStage(exp_ratio=6, kernel=3, stride=1, w_out=320, depth=1),
)
STEM_W = 32


@dataclass(frozen=True)
class EfficientNetCfg:
    """Compound-scaling coefficients of one member."""

    width: float
    depth: float
    resolution: int
    dropout: float


# EfficientNet paper / reference code: (width, depth, resolution, dropout) per member.
EFFICIENTNETS = {
    "efficientnet_b0": EfficientNetCfg(width=1.0, depth=1.0, resolution=224, dropout=0.2),
    "efficientnet_b1": EfficientNetCfg(width=1.0, depth=1.1, resolution=240, dropout=0.2),
    "efficientnet_b2": EfficientNetCfg(width=1.1, depth=1.2, resolution=260, dropout=0.3),
    "efficientnet_b3": EfficientNetCfg(width=1.2, depth=1.4, resolution=300, dropout=0.3),
    "efficientnet_b4": EfficientNetCfg(width=1.4, depth=1.8, resolution=380, dropout=0.4),
    "efficientnet_b5": EfficientNetCfg(width=1.6, depth=2.2, resolution=456, dropout=0.4),
    "efficientnet_b6": EfficientNetCfg(width=1.8, depth=2.6, resolution=528, dropout=0.5),
    "efficientnet_b7": EfficientNetCfg(width=2.0, depth=3.1, resolution=600, dropout=0.5),
}


def efficientnet(name: str, cfg: EfficientNetCfg, num_classes: int = 1000) -> Net:
    """An EfficientNet: 3x3 stem, seven MBConv stages, 1x1 conv to 4x the last width, pool, fc."""
    w_in = make_divisible(STEM_W * cfg.width)
    stem = (("conv", Conv(w_in=3, w_out=w_in, kernel=3, stride=2, bn=True, act="silu")),)
    stages = []
    for row in B0_STAGES:
        w_out = make_divisible(row.w_out * cfg.width)
        blocks = []
        for i in range(scale_depth(row.depth, cfg.depth)):
            w_se = max(1, int(w_in * SE_RATIO))
            blocks.append(mbconv(w_in, w_out, row.exp_ratio, row.kernel, row.stride if i == 0 else 1, w_se))
            w_in = w_out
        stages.append(Stage(tuple(blocks)))
    w_head = 4 * w_in
    head = (
        ("conv", Conv(w_in=w_in, w_out=w_head, bn=True, act="silu")),
        ("pool", GlobalPool()),
        ("dropout", Dropout(p=cfg.dropout)),
        ("fc", Linear(w_in=w_head, w_out=num_classes)),
    )
    return Net(name, "efficientnet", cfg.resolution, stem, tuple(stages), head,
               design={"width": cfg.width, "depth": cfg.depth})
