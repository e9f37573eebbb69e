"""ResNeSt: split-attention ResNets (Zhang et al. 2020), as timm builds ``resnest*d`` / ``resnest*e``.

Every bottleneck's 3x3 conv is a split-attention unit of radix 2. The stem is three 3x3
convs (widths s, s, 2s; s = 32 for "d", 64 for "e"); a downsampling block strides with a
3x3 average pool after the split attention ("avd"), and its shortcut average-pools before
the 1x1 conv ("avg_down"). Each member runs at its native resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.families.resnet import body
from netprobe.families.rounding import make_divisible
from netprobe.spec import AvgDown, AvgPool, Block, Conv, GlobalPool, Linear, MaxPool, Named, Net, SplitAttn

RADIX = 2
ATTN_RATIO = 0.25  # attention width: this fraction of radix x block width, a multiple of 8, at least 32
ATTN_MIN = 32


@dataclass(frozen=True)
class ResNeStCfg:
    """Blocks per stage, stem width, and native resolution."""

    depths: tuple[int, int, int, int]
    stem_w: int
    resolution: int


RESNESTS = {
    "resnest14d":  ResNeStCfg((1, 1, 1, 1),   stem_w=32, resolution=224),
    "resnest26d":  ResNeStCfg((2, 2, 2, 2),   stem_w=32, resolution=224),
    "resnest50d":  ResNeStCfg((3, 4, 6, 3),   stem_w=32, resolution=224),
    "resnest101e": ResNeStCfg((3, 4, 23, 3),  stem_w=64, resolution=256),
    "resnest200e": ResNeStCfg((3, 24, 36, 3), stem_w=64, resolution=320),
    "resnest269e": ResNeStCfg((3, 30, 48, 8), stem_w=64, resolution=416),
}


def resnest_block(w_in: int, w: int, stride: int) -> Block:
    """1x1, split attention (3x3, radix 2), [3x3 avg pool /2], 1x1 to 4w; avg-down projection."""
    w_out = 4 * w
    w_attn = make_divisible(w * RADIX * ATTN_RATIO, 8, min_value=ATTN_MIN)
    units: Named = (("a", Conv(w_in=w_in, w_out=w, bn=True, act="relu")),
                    ("splat", SplitAttn(w=w, w_attn=w_attn, radix=RADIX)))
    if stride > 1:
        units += (("avd", AvgPool(kernel=3, stride=stride, padding=1)),)
    units += (("c", Conv(w_in=w, w_out=w_out, bn=True)),)
    if w_in == w_out and stride == 1:
        return Block(units, "identity", post_act="relu")
    return Block(units, "proj", AvgDown(w_in=w_in, w_out=w_out, stride=stride), post_act="relu")


def resnest(name: str, cfg: ResNeStCfg, resolution: int | None = None, num_classes: int = 1000) -> Net:
    """A ResNeSt: deep 3x3 stem and max-pool, four split-attention stages, pool, fc."""
    s = cfg.stem_w
    stem = (("conv1", Conv(w_in=3, w_out=s, kernel=3, stride=2, bn=True, act="relu")),
            ("conv2", Conv(w_in=s, w_out=s, kernel=3, bn=True, act="relu")),
            ("conv3", Conv(w_in=s, w_out=2 * s, kernel=3, bn=True, act="relu")),
            ("pool", MaxPool(kernel=3, stride=2, padding=1)))
    stages, w_in = body(2 * s, cfg.depths, resnest_block)
    head = (("pool", GlobalPool()), ("fc", Linear(w_in=w_in, w_out=num_classes)))
    return Net(name, "resnest", resolution or cfg.resolution, stem, stages, head,
               design={"depths": cfg.depths, "stem_w": s, "radix": RADIX})
