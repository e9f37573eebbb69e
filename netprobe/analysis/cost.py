"""Analytic costs: params, MACs and activations of every layer, read from the spec alone.

Each formula is the pycls one (``conv2d_cx``, ``linear_cx``, ...) under the convention in
``netprobe.counts``. No torch: ``netprobe list`` runs on this module only.
"""

from __future__ import annotations

import math

from netprobe.analysis.conventions import pack
from netprobe.analysis.layers import Layer
from netprobe.counts import Counts, total
from netprobe.errors import NetprobeError
from netprobe.spec import SE, Act, ConvBN, Dropout, GlobalPool, Linear, MaxPool, Net, Unit


def conv_out(h: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output size of a convolution or pooling window (floor mode)."""
    return (h + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# What other counters see in the modules ``build`` makes (analysis.conventions): nn.ReLU is
# hooked by ptflops and calls F.relu, which ptflops patches too; nn.ReLU6 is hooked but calls
# F.hardtanh; nn.SiLU is not hooked but calls F.silu; nn.Sigmoid calls torch.sigmoid (neither).
ACTIVATION_FACTS = {
    "relu":    ("module.activation", "call.activation"),
    "relu6":   ("module.activation",),
    "silu":    ("call.activation",),
    "sigmoid": (),
}


def _conv(name, stage, w_in, w_out, k, s, g, hw, bias=False) -> tuple[Layer, tuple[int, int]]:
    h, w = (conv_out(x, k, s, k // 2) for x in hw)
    if h < 1 or w < 1:
        raise NetprobeError(f"resolution too small: {name} would get a {hw[0]}x{hw[1]} input; use a larger --resolution")
    params = k * k * (w_in // g) * w_out + (w_out if bias else 0)
    weights = k * k * (w_in // g) * w_out * h * w
    adds = w_out * h * w if bias else 0
    facts = {"op.conv": weights, "module.conv": weights, "op.conv_bias": adds, "module.conv_bias": adds}
    layer = Layer(name, stage, "conv", (w_out, h, w), Counts(params, weights + adds, w_out * h * w),
                  kernel=k, stride=s, groups=g, w_in=w_in, facts=pack(facts))
    return layer, (h, w)


def _free(name, stage, op, shape, params=0, act="", facts=None) -> Layer:
    return Layer(name, stage, op, shape, Counts(params=params), act=act, facts=pack(facts or {}))


def _numel(shape) -> int:
    return math.prod(shape)


def _act(name, stage, shape, kind) -> Layer:
    return _free(name, stage, "act", shape, act=kind, facts=dict.fromkeys(ACTIVATION_FACTS[kind], _numel(shape)))


def _bn(name, stage, shape, w) -> Layer:
    """nn.BatchNorm2d (affine): its op reads every element, and so does ptflops' hook, twice."""
    return _free(name, stage, "bn", shape, 2 * w, facts={"op.batch_norm": _numel(shape), "module.norm": 2 * _numel(shape)})


def unit_layers(name: str, stage: str, unit: Unit, c: int, hw: tuple[int, int]):
    """Leaf layers of one unit, given its input channels and size; returns (layers, c, hw)."""
    p = f"{name}."
    if isinstance(unit, ConvBN):
        conv, hw = _conv(p + "conv", stage, unit.w_in, unit.w_out, unit.kernel, unit.stride, unit.groups, hw)
        shape = conv.out_shape
        out = [conv, _bn(p + "bn", stage, shape, unit.w_out)]
        if unit.act:
            out.append(_act(p + "act", stage, shape, unit.act))
        return out, unit.w_out, hw
    if isinstance(unit, SE):
        one = (1, 1)
        read = dict.fromkeys(("op.adaptive_avg_pool2d", "module.pooling", "call.pooling"), unit.w * _numel(hw))
        out = [_free(p + "pool", stage, "avgpool", (unit.w, 1, 1), facts=read)]
        fc1, _ = _conv(p + "fc1", stage, unit.w, unit.w_se, 1, 1, 1, one, bias=True)
        out.append(fc1)
        if unit.bn:
            out.append(_bn(p + "bn", stage, fc1.out_shape, unit.w_se))
        out.append(_act(p + "act", stage, fc1.out_shape, unit.act))
        fc2, _ = _conv(p + "fc2", stage, unit.w_se, unit.w, 1, 1, 1, one, bias=True)
        out += [fc2, _act(p + "gate", stage, fc2.out_shape, "sigmoid")]
        return out, c, hw
    if isinstance(unit, Act):
        return [_act(name, stage, (c, *hw), unit.kind)], c, hw
    if isinstance(unit, MaxPool):
        read = dict.fromkeys(("module.pooling", "call.pooling"), c * _numel(hw))  # nn.MaxPool2d calls F.max_pool2d
        hw = tuple(conv_out(x, unit.kernel, unit.stride, unit.padding) for x in hw)
        return [Layer(name, stage, "maxpool", (c, *hw), Counts(acts=c * hw[0] * hw[1]),
                      kernel=unit.kernel, stride=unit.stride, facts=pack(read))], c, hw
    if isinstance(unit, GlobalPool):
        return [_free(name, stage, "avgpool", (c,))], c, (1, 1)
    if isinstance(unit, Dropout):
        return [_free(name, stage, "dropout", (c,))], c, hw
    if isinstance(unit, Linear):
        n = unit.w_in * unit.w_out + unit.w_out
        facts = {"op.linear": n - unit.w_out, "module.linear": n - unit.w_out,
                 "op.linear_bias": unit.w_out, "module.linear_bias": unit.w_out}
        return [Layer(name, stage, "linear", (unit.w_out,), Counts(n, n, unit.w_out), w_in=unit.w_in,
                      facts=pack(facts))], unit.w_out, hw
    raise TypeError(f"no cost formula for {unit!r}")


def _units_layers(prefix, stage, units, c, hw):
    layers = []
    for name, unit in units:
        more, c, hw = unit_layers(f"{prefix}.{name}", stage, unit, c, hw)
        layers += more
    return layers, c, hw


def net_layers(net: Net, resolution: int | tuple[int, int] | None = None) -> list[Layer]:
    """Every leaf layer of the network at the given input size (default: its native one)."""
    res = resolution or net.resolution
    hw = (res, res) if isinstance(res, int) else tuple(res)
    layers, c, hw = _units_layers("stem", "stem", net.stem, net.w_in, hw)
    for si, stage in enumerate(net.stages, 1):
        for bi, block in enumerate(stage.blocks, 1):
            prefix = f"s{si}.b{bi}"
            c_in, hw_in = c, hw
            more, c, hw = _units_layers(prefix, f"s{si}", block.units, c, hw)
            layers += more
            if block.proj is not None:
                layers += unit_layers(f"{prefix}.proj", f"s{si}", block.proj, c_in, hw_in)[0]
            if block.post_act:
                layers.append(_act(f"{prefix}.out_act", f"s{si}", (c, *hw), block.post_act))
    layers += _units_layers("head", "head", net.head, c, hw)[0]
    return layers


def net_totals(net: Net, resolution: int | tuple[int, int] | None = None) -> Counts:
    """Params, MACs and activations of the whole network (default: at its native resolution)."""
    return total(layer.counts for layer in net_layers(net, resolution))
