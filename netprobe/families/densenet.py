"""DenseNet (Huang et al., 2017) and CondenseNet (Huang et al., 2018): dense connectivity.

Every layer of a dense block concatenates its ``growth`` new channels to its input. A
dense layer is pre-activation: BN, ReLU, 1x1 conv to ``bottleneck * growth``, BN, ReLU,
3x3 conv to ``growth``. Stages are the dense blocks; the transition before a block
(which halves the resolution) opens its stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.spec import (Act, AvgPool, Block, Concat, CondensedConv, CondensedLinear, Conv, GlobalPool, Linear,
                           MaxPool, Named, Net, Norm, Stage)

BOTTLENECK = 4  # the 1x1 conv widens to 4 * growth (DenseNet-BC; CondenseNet too)


@dataclass(frozen=True)
class DenseNetCfg:
    """DenseNet-BC: growth rate k, layers per dense block, stem width."""

    growth: int
    depths: tuple[int, ...]
    stem_w: int


# DenseNet paper, Table 1 (torchvision and timm build the same networks); transitions halve the width.
DENSENETS = {
    "densenet121": DenseNetCfg(growth=32, depths=(6, 12, 24, 16), stem_w=64),
    "densenet161": DenseNetCfg(growth=48, depths=(6, 12, 36, 24), stem_w=96),
    "densenet169": DenseNetCfg(growth=32, depths=(6, 12, 32, 32), stem_w=64),
    "densenet201": DenseNetCfg(growth=32, depths=(6, 12, 48, 32), stem_w=64),
}


@dataclass(frozen=True)
class CondenseNetCfg:
    """CondenseNet: layers and growth rate per dense block, group count G = condensation factor C."""

    depths: tuple[int, ...]
    growths: tuple[int, ...]
    groups: int


# CondenseNet paper, ImageNet table (authors' code: --stages 4-6-8-10-8 --growth 8-16-32-64-128).
CONDENSENETS = {
    "condensenet74_c4_g4": CondenseNetCfg(depths=(4, 6, 8, 10, 8), growths=(8, 16, 32, 64, 128), groups=4),
    "condensenet74_c8_g8": CondenseNetCfg(depths=(4, 6, 8, 10, 8), growths=(8, 16, 32, 64, 128), groups=8),
}
CLASSIFIER_KEEP = 0.5  # the condensed classifier reads half of the final features


def dense_layer(w_in: int, growth: int) -> Concat:
    """DenseNet-BC layer: BN, ReLU, 1x1 conv, BN, ReLU, 3x3 conv; its output joins the input."""
    w_b = BOTTLENECK * growth
    units = (
        ("norm1", Norm(w=w_in)), ("relu1", Act(kind="relu")), ("conv1", Conv(w_in=w_in, w_out=w_b)),
        ("norm2", Norm(w=w_b)), ("relu2", Act(kind="relu")), ("conv2", Conv(w_in=w_b, w_out=growth, kernel=3)),
    )
    return Concat((("x", ()), ("layer", units)))


def transition(w_in: int, w_out: int) -> Block:
    """DenseNet transition: BN, ReLU, 1x1 conv (halves the width), 2x2 average pool."""
    units = (("norm", Norm(w=w_in)), ("relu", Act(kind="relu")), ("conv", Conv(w_in=w_in, w_out=w_out)),
             ("pool", AvgPool(kernel=2, stride=2, padding=0)))
    return Block(units)


def _pre_act_head(w: int, num_classes: int) -> Named:
    return (("norm", Norm(w=w)), ("relu", Act(kind="relu")), ("pool", GlobalPool()),
            ("fc", Linear(w_in=w, w_out=num_classes)))


def densenet(name: str, cfg: DenseNetCfg, num_classes: int = 1000) -> Net:
    """DenseNet-BC: 7x7 stem and max pool, four dense blocks with transitions between, BN, ReLU, pool, fc."""
    stem = (("conv", Conv(w_in=3, w_out=cfg.stem_w, kernel=7, stride=2, bn=True, act="relu")),
            ("pool", MaxPool(kernel=3, stride=2, padding=1)))
    w, stages = cfg.stem_w, []
    for i, depth in enumerate(cfg.depths):
        blocks = [transition(w, w // 2)] if i else []
        w = w // 2 if i else w
        for _ in range(depth):
            blocks.append(dense_layer(w, cfg.growth))
            w += cfg.growth
        stages.append(Stage(tuple(blocks)))
    return Net(name, "densenet", 224, stem, tuple(stages), _pre_act_head(w, num_classes),
               design={"growth": cfg.growth, "depths": cfg.depths})


def condensed_layer(w_in: int, growth: int, groups: int) -> Concat:
    """CondenseNet layer: condensed 1x1 learned group conv, BN, ReLU, 3x3 group conv; joins the input."""
    w_b = BOTTLENECK * growth
    units = (
        ("conv1", CondensedConv(w_in=w_in, w_out=w_b, groups=groups)),
        ("norm2", Norm(w=w_b)), ("relu2", Act(kind="relu")),
        ("conv2", Conv(w_in=w_b, w_out=growth, kernel=3, groups=groups)),
    )
    return Concat((("x", ()), ("layer", units)))


def condensenet(name: str, cfg: CondenseNetCfg, num_classes: int = 1000) -> Net:
    """CondenseNet: 3x3 stem, five dense blocks with growing growth rates, 2x2 average pools between."""
    w = 2 * cfg.growths[0]
    stem = (("conv", Conv(w_in=3, w_out=w, kernel=3, stride=2)),)
    stages = []
    for i, (depth, growth) in enumerate(zip(cfg.depths, cfg.growths)):
        # The transition is the pool alone: the growing growth rate keeps widths in check.
        blocks = [Block((("pool", AvgPool(kernel=2, stride=2, padding=0)),))] if i else []
        for _ in range(depth):
            blocks.append(condensed_layer(w, growth, cfg.groups))
            w += growth
        stages.append(Stage(tuple(blocks)))
    head = (("norm", Norm(w=w)), ("relu", Act(kind="relu")), ("pool", GlobalPool()),
            ("fc", CondensedLinear(w_in=w, w_keep=int(w * CLASSIFIER_KEEP), w_out=num_classes)))
    return Net(name, "condensenet", 224, stem, tuple(stages), head,
               design={"groups": cfg.groups, "condense_factor": cfg.groups, "growths": cfg.growths})
