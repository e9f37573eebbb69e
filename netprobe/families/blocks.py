"""Block recipes shared by the families, in the papers' vocabulary."""

from __future__ import annotations

from netprobe.spec import SE, Act, Block, ConvBN


def _shortcut(w_in: int, w_out: int, stride: int) -> tuple[str, ConvBN | None]:
    if w_in == w_out and stride == 1:
        return "identity", None
    return "proj", ConvBN(w_in, w_out, 1, stride)


def basic(w_in: int, w_out: int, stride: int) -> Block:
    """ResNet basic block: 3x3, 3x3, add, ReLU."""
    units = (
        ("a", ConvBN(w_in, w_out, 3, stride, act="relu")),
        ("b", ConvBN(w_out, w_out, 3)),
    )
    return Block(units, *_shortcut(w_in, w_out, stride), post_act="relu")


def bottleneck(w_in: int, w_b: int, w_out: int, stride: int, groups: int, w_se: int = 0) -> Block:
    """Bottleneck transformation: 1x1, 3x3 (grouped, strided) [+SE], 1x1, add, ReLU."""
    units = [
        ("a", ConvBN(w_in, w_b, 1, act="relu")),
        ("b", ConvBN(w_b, w_b, 3, stride, groups, act="relu")),
    ]
    if w_se:
        units.append(("se", SE(w_b, w_se, act="relu")))
    units.append(("c", ConvBN(w_b, w_out, 1)))
    return Block(tuple(units), *_shortcut(w_in, w_out, stride), post_act="relu")


def mbconv(w_in: int, w_out: int, exp_ratio: int, kernel: int, stride: int, w_se: int) -> Block:
    """Inverted residual: 1x1 expand, kxk depthwise, SE, 1x1 linear project (MobileNetV2/EfficientNet)."""
    w_exp = w_in * exp_ratio
    units = []
    if exp_ratio != 1:
        units.append(("expand", ConvBN(w_in, w_exp, 1, act="silu")))
    units += [
        ("dw", ConvBN(w_exp, w_exp, kernel, stride, groups=w_exp, act="silu")),
        ("se", SE(w_exp, w_se, act="silu")),
        ("project", ConvBN(w_exp, w_out, 1)),
    ]
    shortcut = "identity" if stride == 1 and w_in == w_out else "none"
    return Block(tuple(units), shortcut)


def rexnet_block(w_in: int, w_out: int, exp_ratio: int, stride: int, w_se: int) -> Block:
    """ReXNet linear bottleneck: 1x1 expand (SiLU), 3x3 depthwise, [SE with BN], ReLU6, 1x1 project."""
    w_exp = w_in * exp_ratio
    units = []
    if exp_ratio != 1:
        units.append(("expand", ConvBN(w_in, w_exp, 1, act="silu")))
    units.append(("dw", ConvBN(w_exp, w_exp, 3, stride, groups=w_exp)))
    if w_se:
        units.append(("se", SE(w_exp, w_se, act="relu", bn=True)))
    units += [("act", Act("relu6")), ("project", ConvBN(w_exp, w_out, 1))]
    # ReXNet adds the input to the first w_in channels whenever it does not shrink the width.
    shortcut = "partial" if stride == 1 and w_in <= w_out else "none"
    return Block(tuple(units), shortcut)
