"""MobileNetV1 (Howard et al., 2017) and MobileNetV2 (Sandler et al., 2018) under a width multiplier.

Widths are ``make_divisible(w * width)`` (multiples of 8), as timm builds both. Stages
group the papers' table rows by output stride (2, 4, 8, 16, 32).
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.families.rounding import make_divisible
from netprobe.spec import Block, Conv, GlobalPool, Linear, Net, Stage

STEM_W = 32
ACT = "relu6"  # timm's MobileNets use ReLU6 in both versions


@dataclass(frozen=True)
class DWStage:
    """MobileNetV1 rows at one output stride: depthwise-separable blocks of these output widths."""

    stride: int
    widths: tuple[int, ...]


# MobileNetV1 paper, Table 1: each row a 3x3 depthwise conv (stride on the first) + 1x1 conv.
V1_STAGES = (
    DWStage(stride=1, widths=(64,)),
    DWStage(stride=2, widths=(128, 128)),
    DWStage(stride=2, widths=(256, 256)),
    DWStage(stride=2, widths=(512,) * 6),
    DWStage(stride=2, widths=(1024, 1024)),
)


@dataclass(frozen=True)
class IRRow:
    """One row of MobileNetV2's Table 2: expansion t, output width c, repeats n, first stride s."""

    exp_ratio: int
    w_out: int
    depth: int
    stride: int


# MobileNetV2 paper, Table 2, rows grouped by output stride (the 1x1 conv to 1280 is the head).
V2_STAGES = (
    (IRRow(exp_ratio=1, w_out=16,  depth=1, stride=1),),
    (IRRow(exp_ratio=6, w_out=24,  depth=2, stride=2),),
    (IRRow(exp_ratio=6, w_out=32,  depth=3, stride=2),),
    (IRRow(exp_ratio=6, w_out=64,  depth=4, stride=2), IRRow(exp_ratio=6, w_out=96,  depth=3, stride=1)),
    (IRRow(exp_ratio=6, w_out=160, depth=3, stride=2), IRRow(exp_ratio=6, w_out=320, depth=1, stride=1)),
)
V2_HEAD_W = 1280  # never narrower than 1280, wider above width 1.0 (timm: max(1280, make_divisible(1280 * m)))

# Width multipliers of the named members (timm's names: mobilenetv2_100 is 1.0x).
MOBILENETV1S = {
    "mobilenetv1_025": 0.25,
    "mobilenetv1_050": 0.5,
    "mobilenetv1_075": 0.75,
    "mobilenetv1_100": 1.0,
    "mobilenetv1_125": 1.25,
}
MOBILENETV2S = {
    "mobilenetv2_035": 0.35,
    "mobilenetv2_050": 0.5,
    "mobilenetv2_075": 0.75,
    "mobilenetv2_100": 1.0,
    "mobilenetv2_140": 1.4,
}


def dw_separable(w_in: int, w_out: int, stride: int, pw_act: str | None = ACT) -> Block:
    """Depthwise-separable conv: 3x3 depthwise (strided), 1x1 pointwise."""
    units = (
        ("dw", Conv(w_in=w_in, w_out=w_in, kernel=3, stride=stride, groups=w_in, bn=True, act=ACT)),
        ("pw", Conv(w_in=w_in, w_out=w_out, bn=True, act=pw_act)),
    )
    return Block(units, "identity" if stride == 1 and w_in == w_out and pw_act is None else "none")


def inverted_residual(w_in: int, w_out: int, exp_ratio: int, stride: int) -> Block:
    """Inverted residual with linear bottleneck: 1x1 expand, 3x3 depthwise, 1x1 linear project."""
    w_exp = make_divisible(w_in * exp_ratio)
    units = (
        ("expand", Conv(w_in=w_in, w_out=w_exp, bn=True, act=ACT)),
        ("dw", Conv(w_in=w_exp, w_out=w_exp, kernel=3, stride=stride, groups=w_exp, bn=True, act=ACT)),
        ("project", Conv(w_in=w_exp, w_out=w_out, bn=True)),
    )
    return Block(units, "identity" if stride == 1 and w_in == w_out else "none")


def _head(w_in: int, num_classes: int) -> tuple:
    return (("pool", GlobalPool()), ("fc", Linear(w_in=w_in, w_out=num_classes)))


def mobilenetv1(name: str, width: float, num_classes: int = 1000, resolution: int = 224) -> Net:
    """MobileNetV1: 3x3 stem, thirteen depthwise-separable blocks, pool, fc."""
    w_in = make_divisible(STEM_W * width)
    stem = (("conv", Conv(w_in=3, w_out=w_in, kernel=3, stride=2, bn=True, act=ACT)),)
    stages = []
    for row in V1_STAGES:
        blocks = []
        for i, w in enumerate(row.widths):
            w_out = make_divisible(w * width)
            blocks.append(dw_separable(w_in, w_out, row.stride if i == 0 else 1))
            w_in = w_out
        stages.append(Stage(tuple(blocks)))
    return Net(name, "mobilenetv1", resolution, stem, tuple(stages), _head(w_in, num_classes),
               design={"width": width, "resolution": resolution})


def mobilenetv2(name: str, width: float, num_classes: int = 1000, resolution: int = 224) -> Net:
    """MobileNetV2: 3x3 stem, seventeen inverted residuals (the first without expansion), 1x1 conv, pool, fc."""
    w_in = make_divisible(STEM_W * width)
    stem = (("conv", Conv(w_in=3, w_out=w_in, kernel=3, stride=2, bn=True, act=ACT)),)
    stages = []
    for rows in V2_STAGES:
        blocks = []
        for row in rows:
            w_out = make_divisible(row.w_out * width)
            for i in range(row.depth):
                stride = row.stride if i == 0 else 1
                if row.exp_ratio == 1:  # no expansion: a depthwise-separable conv with a linear 1x1
                    blocks.append(dw_separable(w_in, w_out, stride, pw_act=None))
                else:
                    blocks.append(inverted_residual(w_in, w_out, row.exp_ratio, stride))
                w_in = w_out
        stages.append(Stage(tuple(blocks)))
    w_head = max(V2_HEAD_W, make_divisible(V2_HEAD_W * width))
    head = (("conv", Conv(w_in=w_in, w_out=w_head, bn=True, act=ACT)), *_head(w_head, num_classes))
    return Net(name, "mobilenetv2", resolution, stem, tuple(stages), head,
               design={"width": width, "resolution": resolution})
