"""Block recipes shared by the families, in the papers' vocabulary."""

from __future__ import annotations

from netprobe.spec import SE, Act, Block, Conv


def _shortcut(w_in: int, w_out: int, stride: int) -> tuple[str, Conv | None]:
    if w_in == w_out and stride == 1:
        return "identity", None
    return "proj", Conv(w_in=w_in, w_out=w_out, stride=stride, bn=True)


def basic(w_in: int, w_out: int, stride: int) -> Block:
    """ResNet basic block: 3x3, 3x3, add, ReLU."""
    units = (
        ("a", Conv(w_in=w_in, w_out=w_out, kernel=3, stride=stride, bn=True, act="relu")),
        ("b", Conv(w_in=w_out, w_out=w_out, kernel=3, bn=True)),
    )
    return Block(units, *_shortcut(w_in, w_out, stride), post_act="relu")


def bottleneck(w_in: int, w_b: int, w_out: int, stride: int, groups: int, w_se: int = 0) -> Block:
    """Bottleneck transformation: 1x1, 3x3 (grouped, strided) [+SE], 1x1, add, ReLU."""
    units = [
        ("a", Conv(w_in=w_in, w_out=w_b, bn=True, act="relu")),
        ("b", Conv(w_in=w_b, w_out=w_b, kernel=3, stride=stride, groups=groups, bn=True, act="relu")),
    ]
    if w_se:
        units.append(("se", SE(w=w_b, w_se=w_se, act="relu")))
    units.append(("c", Conv(w_in=w_b, w_out=w_out, bn=True)))
    return Block(tuple(units), *_shortcut(w_in, w_out, stride), post_act="relu")


def mbconv(w_in: int, w_out: int, exp_ratio: int, kernel: int, stride: int, w_se: int) -> Block:
    """Inverted residual: 1x1 expand, kxk depthwise, SE, 1x1 linear project (MobileNetV2/EfficientNet)."""
    w_exp = w_in * exp_ratio
    units = []
    if exp_ratio != 1:
        units.append(("expand", Conv(w_in=w_in, w_out=w_exp, bn=True, act="silu")))
    units += [
        ("dw", Conv(w_in=w_exp, w_out=w_exp, kernel=kernel, stride=stride, groups=w_exp, bn=True, act="silu")),
        ("se", SE(w=w_exp, w_se=w_se, act="silu")),
        ("project", Conv(w_in=w_exp, w_out=w_out, bn=True)),
    ]
    shortcut = "identity" if stride == 1 and w_in == w_out else "none"
    return Block(tuple(units), shortcut)


def rexnet_block(w_in: int, w_out: int, exp_ratio: int, stride: int, w_se: int) -> Block:
    """ReXNet linear bottleneck: 1x1 expand (SiLU), 3x3 depthwise, [SE with BN], ReLU6, 1x1 project."""
    w_exp = w_in * exp_ratio
    units = []
    if exp_ratio != 1:
        units.append(("expand", Conv(w_in=w_in, w_out=w_exp, bn=True, act="silu")))
    units.append(("dw", Conv(w_in=w_exp, w_out=w_exp, kernel=3, stride=stride, groups=w_exp, bn=True)))
    if w_se:
        units.append(("se", SE(w=w_exp, w_se=w_se, act="relu", bn=True)))
    units += [("act", Act(kind="relu6")), ("project", Conv(w_in=w_exp, w_out=w_out, bn=True))]
    # ReXNet adds the input to the first w_in channels whenever it does not shrink the width.
    shortcut = "partial" if stride == 1 and w_in <= w_out else "none"
    return Block(tuple(units), shortcut)
