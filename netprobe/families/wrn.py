"""Wide ResNets on CIFAR (Zagoruyko & Komodakis 2016): WRN-d-k, 32 px, 10 classes.

A 3x3 conv of width 16, then three groups of (d - 4) / 6 pre-activation basic blocks
B(3,3) of widths 16k, 32k, 64k (the second and third stride 2), then BN, ReLU, pool, fc.
A block is BN-ReLU-conv3x3-BN-ReLU-conv3x3; where the width or stride changes, a 1x1
conv projects the pre-activated input, otherwise the input is added as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.spec import Block, Conv, GlobalPool, Linear, Named, Net, Norm, Stage

STEM_W = 16
GROUP_W = (16, 32, 64)
RESOLUTION = 32
CLASSES = 10


@dataclass(frozen=True)
class WRNCfg:
    """Depth d (6n + 4) and widening factor k."""

    depth: int
    k: int


WRNS = {
    "wrn_28_10": WRNCfg(28, 10),
    "wrn_40_4":  WRNCfg(40, 4),
    "wrn_16_8":  WRNCfg(16, 8),
    "wrn_22_8":  WRNCfg(22, 8),
}


def preact_basic(w_in: int, w: int, stride: int) -> Block:
    """BN-ReLU, conv3x3 (strided), BN-ReLU, conv3x3; a 1x1 projection of the pre-activated input."""
    units: Named = (("a", Conv(w_in=w_in, w_out=w, kernel=3, stride=stride)), ("bn_b", Norm(w=w, act="relu")),
                    ("b", Conv(w_in=w, w_out=w, kernel=3)))
    pre: Named = (("bn_a", Norm(w=w_in, act="relu")),)
    if w_in == w and stride == 1:
        return Block(units, "identity", pre=pre)
    return Block(units, "proj", Conv(w_in=w_in, w_out=w, stride=stride), pre=pre)


def wrn(name: str, cfg: WRNCfg, resolution: int = RESOLUTION, num_classes: int = CLASSES) -> Net:
    """WRN-d-k: conv3x3, three groups of pre-activation blocks, BN-ReLU, pool, fc."""
    if (cfg.depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n + 4, got {cfg.depth}")
    n = (cfg.depth - 4) // 6
    stages = []
    w_in = STEM_W
    for gi, w in enumerate(GROUP_W):
        blocks = []
        for i in range(n):
            blocks.append(preact_basic(w_in, w * cfg.k, 2 if i == 0 and gi > 0 else 1))
            w_in = w * cfg.k
        stages.append(Stage(tuple(blocks)))
    head = (("final", Norm(w=w_in, act="relu")), ("pool", GlobalPool()), ("fc", Linear(w_in=w_in, w_out=num_classes)))
    stem = (("conv", Conv(w_in=3, w_out=STEM_W, kernel=3)),)
    return Net(name, "wrn_cifar", resolution, stem, tuple(stages), head,
               design={"depth": cfg.depth, "k": cfg.k})
