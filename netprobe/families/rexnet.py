"""ReXNet-v1 (Han et al., 2021): MobileNetV2-style blocks whose widths ramp up linearly.

Sixteen blocks (depths 1, 2, 2, 3, 3, 5) take the width from 16 to 16 + 180 in equal
steps, every block an expansion; the stem is 32 wide and the penultimate layer
``1280 * width``. Rounding and layer order follow the authors' code (clovaai/rexnet).
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.families.blocks import rexnet_block
from netprobe.families.rounding import scale_depth
from netprobe.spec import Conv, Dropout, GlobalPool, Linear, Net, Stage

DEPTHS = (1, 2, 2, 3, 3, 5)
STRIDES = (1, 2, 2, 2, 1, 2)
USE_SE = (False, False, True, True, True, True)
STEM_W = 32
W_FIRST = 16     # width after the first block, before the ramp
W_RAMP = 180     # total width added by the ramp ("final_ch")
W_PEN = 1280
SE_DIVISOR = 12  # SE width: the expanded width // 12 (a divisor, where RegNet's 0.25 is a ratio)


@dataclass(frozen=True)
class ReXNetCfg:
    """Width (and depth) multiplier of the ReXNet-v1 design."""

    width: float
    depth: float = 1.0
    dropout: float = 0.2


REXNETS = {
    "rexnet_1.0x": ReXNetCfg(width=1.0),
    "rexnet_1.3x": ReXNetCfg(width=1.3),
    "rexnet_1.5x": ReXNetCfg(width=1.5),
    "rexnet_2.0x": ReXNetCfg(width=2.0),
}


def rexnet(name: str, cfg: ReXNetCfg, resolution: int = 224, num_classes: int = 1000) -> Net:
    """A ReXNet: 3x3 stem, linear-ramp bottlenecks in six stages, 1x1 conv, pool, fc."""
    depths = [scale_depth(d, cfg.depth) for d in DEPTHS]
    n = sum(depths)
    # Below 1.0x the reference code widens stem and first block so that they stay 32 and 16.
    stem_w = STEM_W / cfg.width if cfg.width < 1.0 else STEM_W
    w = W_FIRST / cfg.width if cfg.width < 1.0 else W_FIRST
    w_in = int(round(stem_w * cfg.width))
    stem = (("conv", Conv(w_in=3, w_out=w_in, kernel=3, stride=2, bn=True, act="silu")),)
    stages = []
    j = 0
    for depth, stride, se in zip(depths, STRIDES, USE_SE):
        blocks = []
        for i in range(depth):
            if j > 0:
                w += W_RAMP / n
            w_out = int(round(w * cfg.width))
            exp_ratio = 1 if j == 0 else 6
            w_se = w_in * exp_ratio // SE_DIVISOR if se else 0
            blocks.append(rexnet_block(w_in, w_out, exp_ratio, stride if i == 0 else 1, w_se))
            w_in = w_out
            j += 1
        stages.append(Stage(tuple(blocks)))
    w_pen = int(W_PEN * cfg.width)
    head = (
        ("conv", Conv(w_in=w_in, w_out=w_pen, bn=True, act="silu")),
        ("pool", GlobalPool()),
        ("dropout", Dropout(p=cfg.dropout)),
        ("fc", Linear(w_in=w_pen, w_out=num_classes)),
    )
    return Net(name, "rexnet", resolution, stem, tuple(stages), head,
               design={"width": cfg.width, "depth": cfg.depth})
