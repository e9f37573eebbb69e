"""RegNetX / RegNetY: the quantized-linear design space (Radosavovic et al., 2020).

Block widths grow linearly, ``u_j = w_0 + w_a * j`` for ``0 <= j < d``, and are snapped to
a geometric grid: ``w_j = w_0 * w_m ** round(log(u_j / w_0) / log(w_m))``, quantized to
multiples of 8. Runs of equal width form the stages. RegNetY adds SE (ratio 0.25 of the
block input width). Design parameters are those of pycls' model zoo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from netprobe.families.blocks import bottleneck
from netprobe.families.rounding import compatible_widths, quantize
from netprobe.spec import Conv, GlobalPool, Linear, Net, Stage

STEM_W = 32
SE_RATIO = 0.25  # SE width: this fraction of the block input width (pycls se_r)


@dataclass(frozen=True)
class RegNetCfg:
    """Design parameters: depth d, initial width w_0, slope w_a, multiplier w_m, group width."""

    d: int
    w_0: int
    w_a: float
    w_m: float
    group_w: int
    se: bool = False


# pycls model zoo (RegNetX/Y rows of Designing Network Design Spaces, Table in App. C).
REGNETS = {
    "regnetx_002": RegNetCfg(d=13, w_0=24,  w_a=36.44,  w_m=2.49, group_w=8),
    "regnetx_004": RegNetCfg(d=22, w_0=24,  w_a=24.48,  w_m=2.54, group_w=16),
    "regnetx_006": RegNetCfg(d=16, w_0=48,  w_a=36.97,  w_m=2.24, group_w=24),
    "regnetx_008": RegNetCfg(d=16, w_0=56,  w_a=35.73,  w_m=2.28, group_w=16),
    "regnetx_016": RegNetCfg(d=18, w_0=80,  w_a=34.01,  w_m=2.25, group_w=24),
    "regnetx_032": RegNetCfg(d=25, w_0=88,  w_a=26.31,  w_m=2.25, group_w=48),
    "regnetx_040": RegNetCfg(d=23, w_0=96,  w_a=38.65,  w_m=2.43, group_w=40),
    "regnetx_064": RegNetCfg(d=17, w_0=184, w_a=60.83,  w_m=2.07, group_w=56),
    "regnetx_080": RegNetCfg(d=23, w_0=80,  w_a=49.56,  w_m=2.88, group_w=120),
    "regnetx_120": RegNetCfg(d=19, w_0=168, w_a=73.36,  w_m=2.37, group_w=112),
    "regnetx_160": RegNetCfg(d=22, w_0=216, w_a=55.59,  w_m=2.10, group_w=128),
    "regnetx_320": RegNetCfg(d=23, w_0=320, w_a=69.86,  w_m=2.00, group_w=168),
    "regnety_002": RegNetCfg(d=13, w_0=24,  w_a=36.44,  w_m=2.49, group_w=8,   se=True),
    "regnety_004": RegNetCfg(d=16, w_0=48,  w_a=27.89,  w_m=2.09, group_w=8,   se=True),
    "regnety_006": RegNetCfg(d=15, w_0=48,  w_a=32.54,  w_m=2.32, group_w=16,  se=True),
    "regnety_008": RegNetCfg(d=14, w_0=56,  w_a=38.84,  w_m=2.40, group_w=16,  se=True),
    "regnety_016": RegNetCfg(d=27, w_0=48,  w_a=20.71,  w_m=2.65, group_w=24,  se=True),
    "regnety_032": RegNetCfg(d=21, w_0=80,  w_a=42.63,  w_m=2.66, group_w=24,  se=True),
    "regnety_040": RegNetCfg(d=22, w_0=96,  w_a=31.41,  w_m=2.24, group_w=64,  se=True),
    "regnety_064": RegNetCfg(d=25, w_0=112, w_a=33.22,  w_m=2.27, group_w=72,  se=True),
    "regnety_080": RegNetCfg(d=17, w_0=192, w_a=76.82,  w_m=2.19, group_w=56,  se=True),
    "regnety_120": RegNetCfg(d=19, w_0=168, w_a=73.36,  w_m=2.37, group_w=112, se=True),
    "regnety_160": RegNetCfg(d=18, w_0=200, w_a=106.23, w_m=2.48, group_w=112, se=True),
    "regnety_320": RegNetCfg(d=20, w_0=232, w_a=115.89, w_m=2.53, group_w=232, se=True),
}


def stage_widths_depths(w_a: float, w_0: int, w_m: float, d: int, q: int = 8) -> list[tuple[int, int]]:
    """(width, depth) per stage from the quantized linear rule (pycls ``generate_regnet``)."""
    ks = [round(math.log((w_0 + w_a * j) / w_0) / math.log(w_m)) for j in range(d)]
    widths = [quantize(w_0 * math.pow(w_m, k), q) for k in ks]
    stages: list[tuple[int, int]] = []
    for w in widths:
        if stages and stages[-1][0] == w:
            stages[-1] = (w, stages[-1][1] + 1)
        else:
            stages.append((w, 1))
    return stages


def regnet(name: str, cfg: RegNetCfg, resolution: int = 224, num_classes: int = 1000) -> Net:
    """A RegNet: 3x3 stem of width 32, bottleneck stages (bot_mul 1, stride 2 each), pool, fc."""
    stages = []
    w_in = STEM_W
    for w, depth in stage_widths_depths(cfg.w_a, cfg.w_0, cfg.w_m, cfg.d):
        w, group_w = compatible_widths(w, cfg.group_w)
        blocks = []
        for i in range(depth):
            w_se = int(round(w_in * SE_RATIO)) if cfg.se else 0
            blocks.append(bottleneck(w_in, w, w, 2 if i == 0 else 1, w // group_w, w_se))
            w_in = w
        stages.append(Stage(tuple(blocks)))
    return Net(
        name=name,
        family="regnety" if cfg.se else "regnetx",
        resolution=resolution,
        stem=(("conv", Conv(w_in=3, w_out=STEM_W, kernel=3, stride=2, bn=True, act="relu")),),
        stages=tuple(stages),
        head=(("pool", GlobalPool()), ("fc", Linear(w_in=w_in, w_out=num_classes))),
        design={"d": cfg.d, "w_0": cfg.w_0, "w_a": cfg.w_a, "w_m": cfg.w_m, "group_w": cfg.group_w},
    )
