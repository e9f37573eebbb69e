"""Xception (Chollet, 2017): residual blocks of depthwise-separable convolutions, at 299 px.

A separable conv here is a 3x3 depthwise conv straight into a 1x1 conv, with BatchNorm
only after the pair (the paper's network, timm's ``legacy_xception``). Stages by output
stride: the entry flow's three downsampling blocks, the middle flow joins the third.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.spec import Act, Block, Conv, GlobalPool, Linear, MaxPool, Named, Net, Norm, Stage

RESOLUTION = 299


@dataclass(frozen=True)
class XBlock:
    """A residual block: separable convs to these widths [, 3x3 max pool /2 and a 1x1 /2 projection]."""

    widths: tuple[int, ...]
    downsample: bool
    relu_first: bool = True


# Xception paper, Figure 5: entry flow (blocks 1-3), middle flow (8 x 728), exit flow (block 12).
STAGES = (
    (XBlock(widths=(128, 128), downsample=True, relu_first=False),),
    (XBlock(widths=(256, 256), downsample=True),),
    (XBlock(widths=(728, 728), downsample=True),) + (XBlock(widths=(728, 728, 728), downsample=False),) * 8,
    (XBlock(widths=(728, 1024), downsample=True),),
)
STEM_W = (32, 64)
EXIT_W = (1536, 2048)


def separable(i: int, w_in: int, w_out: int) -> Named:
    """Separable conv ``i``: 3x3 depthwise, 1x1 pointwise, BatchNorm."""
    return ((f"dw{i}", Conv(w_in=w_in, w_out=w_in, kernel=3, groups=w_in)), (f"pw{i}", Conv(w_in=w_in, w_out=w_out)),
            (f"bn{i}", Norm(w=w_out)))


def xception_block(w_in: int, row: XBlock) -> Block:
    """ReLU, separable conv, BN, repeated [, max pool]; the input joins through identity or a 1x1 /2 conv."""
    units: Named = ()
    w_block = w_in
    for i, w_out in enumerate(row.widths, 1):
        if i > 1 or row.relu_first:
            units += ((f"act{i}", Act(kind="relu")),)
        units += separable(i, w_in, w_out)
        w_in = w_out
    if not row.downsample:
        return Block(units, "identity")
    proj = Conv(w_in=w_block, w_out=w_out, stride=2, bn=True)
    return Block(units + (("pool", MaxPool(kernel=3, stride=2, padding=1)),), "proj", proj)


def xception(name: str, num_classes: int = 1000) -> Net:
    """Xception: two 3x3 convs (unpadded), twelve separable blocks, two separable convs, pool, fc."""
    stem = (
        ("conv1", Conv(w_in=3, w_out=STEM_W[0], kernel=3, stride=2, pad=0)), ("bn1", Norm(w=STEM_W[0])),
        ("act1", Act(kind="relu")),
        ("conv2", Conv(w_in=STEM_W[0], w_out=STEM_W[1], kernel=3, pad=0)), ("bn2", Norm(w=STEM_W[1])),
        ("act2", Act(kind="relu")),
    )
    w_in, stages = STEM_W[1], []
    for rows in STAGES:
        blocks = []
        for row in rows:
            blocks.append(xception_block(w_in, row))
            w_in = row.widths[-1]
        stages.append(Stage(tuple(blocks)))
    head = (*separable(1, w_in, EXIT_W[0]), ("act1", Act(kind="relu")), *separable(2, EXIT_W[0], EXIT_W[1]),
            ("act2", Act(kind="relu")), ("pool", GlobalPool()), ("fc", Linear(w_in=EXIT_W[1], w_out=num_classes)))
    return Net(name, "xception", RESOLUTION, stem, tuple(stages), head)
