"""ShuffleNetV1 (Zhang et al., 2018) and ShuffleNetV2 (Ma et al., 2018).

Both: 3x3 stem and max pool (output stride 4), three stages of 4, 8 and 4 units, each
stage opened by a stride-2 unit. Stages are the papers' Stage2..Stage4.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.families.rounding import quantize
from netprobe.spec import AvgPool, Block, Concat, Conv, GlobalPool, Linear, MaxPool, Net, Stage

DEPTHS = (4, 8, 4)
STEM_W = 24

# ShuffleNetV1 paper, Table 1: output widths of Stage2..4 (1x) for each group count g.
V1_WIDTHS = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
V1_SCALES = (0.5, 1.0, 1.5, 2.0)  # "ShuffleNet s x": every width of 1x times s
V1_BOTTLENECK = 4                 # the bottleneck is a quarter of the unit's output width


@dataclass(frozen=True)
class ShuffleNetV1Cfg:
    """Group count g of the pointwise convolutions, and the width scale s."""

    groups: int
    scale: float


SHUFFLENETV1S = {f"shufflenetv1_g{g}_x{str(s).replace('.', '_')}": ShuffleNetV1Cfg(g, s)
                 for g in V1_WIDTHS for s in V1_SCALES}

# torchvision's shufflenet_v2_x*: output widths of Stage2..4 and of the final 1x1 conv.
SHUFFLENETV2S = {
    "shufflenet_v2_x0_5": (48, 96, 192, 1024),
    "shufflenet_v2_x1_0": (116, 232, 464, 1024),
    "shufflenet_v2_x1_5": (176, 352, 704, 1024),
    "shufflenet_v2_x2_0": (244, 488, 976, 2048),
}


def _stem(w: int) -> tuple:
    return (("conv", Conv(w_in=3, w_out=w, kernel=3, stride=2, bn=True, act="relu")),
            ("pool", MaxPool(kernel=3, stride=2, padding=1)))


def _head(w: int, num_classes: int) -> tuple:
    return (("pool", GlobalPool()), ("fc", Linear(w_in=w, w_out=num_classes)))


def v1_widths(cfg: ShuffleNetV1Cfg) -> tuple[int, tuple[int, ...]]:
    """Stem and stage widths of a ShuffleNetV1: Table 1's times s, the stem a multiple of g."""
    stage_w = tuple(shufflenet_width(w * cfg.scale, cfg.groups) for w in V1_WIDTHS[cfg.groups])
    return max(cfg.groups, quantize(STEM_W * cfg.scale, cfg.groups)), stage_w


def shufflenet_width(w: float, groups: int) -> int:
    """A ShuffleNetV1 unit width: a multiple of 4 g, so that its bottleneck (w / 4) splits into g groups.

    The paper's 1x widths are all such multiples; scaled ones are rounded to the nearest.
    """
    return max(V1_BOTTLENECK * groups, quantize(w, V1_BOTTLENECK * groups))


def shuffle_v1_unit(w_in: int, w_out: int, w_b: int, stride: int, groups: int, group_first: bool) -> Block | Concat:
    """ShuffleNet unit: 1x1 gconv, shuffle, 3x3 depthwise, 1x1 gconv; add (or, at stride 2, concat a 3x3 avg pool)."""
    w_branch = w_out - w_in if stride == 2 else w_out
    g1 = groups if group_first else 1  # Stage2's first 1x1 conv has too few inputs to group
    units = (
        ("gconv1", Conv(w_in=w_in, w_out=w_b, groups=g1, bn=True, act="relu", shuffle=g1 > 1)),
        ("dw", Conv(w_in=w_b, w_out=w_b, kernel=3, stride=stride, groups=w_b, bn=True)),
        ("gconv2", Conv(w_in=w_b, w_out=w_branch, groups=groups, bn=True)),
    )
    if stride == 1:
        return Block(units, "identity", post_act="relu")
    shortcut = (("pool", AvgPool(kernel=3, stride=2, padding=1)),)
    return Concat((("shortcut", shortcut), ("branch", units)), post_act="relu")


def shufflenetv1(name: str, cfg: ShuffleNetV1Cfg, num_classes: int = 1000) -> Net:
    """ShuffleNetV1 with g groups at width scale s: stem, three stages of ShuffleNet units, pool, fc."""
    w_in, stage_w = v1_widths(cfg)
    stem, stages = _stem(w_in), []
    for si, (w_out, depth) in enumerate(zip(stage_w, DEPTHS)):
        blocks = []
        for i in range(depth):
            blocks.append(shuffle_v1_unit(w_in, w_out, w_out // V1_BOTTLENECK, 2 if i == 0 else 1, cfg.groups,
                                          group_first=si > 0 or i > 0))
            w_in = w_out
        stages.append(Stage(tuple(blocks)))
    return Net(name, "shufflenetv1", 224, stem, tuple(stages), _head(w_in, num_classes),
               design={"groups": cfg.groups, "scale": cfg.scale, "stage_w": stage_w})


def shuffle_v2_unit(w_in: int, w_out: int, stride: int) -> Concat:
    """ShuffleNetV2 unit: split (or, at stride 2, a depthwise branch), 1x1, 3x3 depthwise, 1x1, concat, shuffle."""
    w_b = w_out // 2
    branch2 = (
        ("pw1", Conv(w_in=w_in if stride == 2 else w_b, w_out=w_b, bn=True, act="relu")),
        ("dw", Conv(w_in=w_b, w_out=w_b, kernel=3, stride=stride, groups=w_b, bn=True)),
        ("pw2", Conv(w_in=w_b, w_out=w_b, bn=True, act="relu")),
    )
    if stride == 1:
        return Concat((("x", ()), ("branch2", branch2)), split=True, shuffle=2)
    branch1 = (
        ("dw", Conv(w_in=w_in, w_out=w_in, kernel=3, stride=stride, groups=w_in, bn=True)),
        ("pw", Conv(w_in=w_in, w_out=w_b, bn=True, act="relu")),
    )
    return Concat((("branch1", branch1), ("branch2", branch2)), shuffle=2)


def shufflenetv2(name: str, widths: tuple[int, ...], num_classes: int = 1000) -> Net:
    """ShuffleNetV2: stem, three stages of units, 1x1 conv, pool, fc."""
    w_in, stages = STEM_W, []
    for w_out, depth in zip(widths[:3], DEPTHS):
        stages.append(Stage(tuple(shuffle_v2_unit(w_in if i == 0 else w_out, w_out, 2 if i == 0 else 1)
                                  for i in range(depth))))
        w_in = w_out
    head = (("conv", Conv(w_in=w_in, w_out=widths[3], bn=True, act="relu")), *_head(widths[3], num_classes))
    return Net(name, "shufflenetv2", 224, _stem(STEM_W), tuple(stages), head, design={"widths": widths})
