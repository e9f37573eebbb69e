"""Analytic costs: params, MACs and activations of every layer, read from the spec alone.

Each formula is the pycls one (``conv2d_cx``, ``linear_cx``, ...) under the convention in
``netprobe.counts``. No torch: ``netprobe list`` runs on this module only.
"""

from __future__ import annotations

import math
from dataclasses import replace

from netprobe.analysis.conventions import pack
from netprobe.analysis.layers import Layer
from netprobe.counts import Counts, total
from netprobe.errors import NetprobeError
from netprobe.spec import (BN, CBAM, MOBILE_UNITS, SE, Act, AvgDown, AvgPool, BNAct, Concat, CondensedConv,
                           CondensedLinear, Conv, ConvBN, Dropout, GlobalPool, Linear, MaxPool, Net, SelectiveKernel,
                           ShuffleConvBN, SplitAttn, Unit)


def conv_out(h: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output size of a convolution or pooling window (floor mode)."""
    return (h + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# What other counters see in the modules ``build`` makes (analysis.conventions): nn.ReLU is
# hooked by ptflops and calls F.relu, which ptflops patches too; nn.ReLU6 is hooked but calls
# F.hardtanh; nn.SiLU is not hooked but calls F.silu; nn.Sigmoid calls torch.sigmoid (neither);
# nn.Softmax is not hooked but calls F.softmax.
ACTIVATION_FACTS = {
    "relu":    ("module.activation", "call.activation"),
    "relu6":   ("module.activation",),
    "silu":    ("call.activation",),
    "sigmoid": (),
    "softmax": ("call.softmax",),
}


def _conv(name, stage, w_in, w_out, k, s, g, hw, bias=False, dilation=1, pad=None) -> tuple[Layer, tuple[int, int]]:
    h, w = (conv_out(x, k, s, dilation * (k // 2) if pad is None else pad, dilation) for x in hw)
    if h < 1 or w < 1:
        raise NetprobeError(f"resolution too small: {name} would get a {hw[0]}x{hw[1]} input; use a larger --resolution")
    params = k * k * (w_in // g) * w_out + (w_out if bias else 0)
    weights = k * k * (w_in // g) * w_out * h * w
    adds = w_out * h * w if bias else 0
    facts = {"op.conv": weights, "module.conv": weights, "op.conv_bias": adds, "module.conv_bias": adds}
    layer = Layer(name, stage, "conv", (w_out, h, w), Counts(params, weights + adds, w_out * h * w),
                  kernel=k, stride=s, groups=g, dilation=dilation, w_in=w_in, facts=pack(facts))
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


def _avgpool(name, stage, shape, read: int) -> Layer:
    """nn.AvgPool2d: ptflops hooks it and patches the F.avg_pool2d it calls; fvcore has no handle for it."""
    return _free(name, stage, "avgpool", shape, facts=dict.fromkeys(("module.pooling", "call.pooling"), read))


def _linear(name, stage, w_in, w_out, params=True, note="") -> Layer:
    """nn.Linear with bias; ``params`` False for a second call of a shared one (its params count once)."""
    n = w_in * w_out + w_out
    facts = {"op.linear": n - w_out, "module.linear": n - w_out, "op.linear_bias": w_out, "module.linear_bias": w_out}
    return Layer(name, stage, "linear", (w_out,), Counts(n if params else 0, n, w_out), w_in=w_in, note=note,
                 facts=pack(facts))


def unit_layers(name: str, stage: str, unit: Unit, c: int, hw: tuple[int, int]):
    """Leaf layers of one unit, given its input channels and size; returns (layers, c, hw)."""
    p = f"{name}."
    if isinstance(unit, ConvBN):
        conv, hw = _conv(p + "conv", stage, unit.w_in, unit.w_out, unit.kernel, unit.stride, unit.groups, hw,
                         dilation=unit.dilation)
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
        return [_linear(name, stage, unit.w_in, unit.w_out)], unit.w_out, hw
    if isinstance(unit, MOBILE_UNITS):
        return mobile_unit_layers(name, stage, unit, c, hw)
    return variant_layers(name, stage, unit, c, hw)


# --- formulas of the ResNet variants' units (SE/SK/ResNeSt/CBAM/WRN/dilated) ---


def variant_layers(name: str, stage: str, unit: Unit, c: int, hw: tuple[int, int]):
    """Leaf layers of the ResNet variants' units, in the order the built module runs them."""
    p = f"{name}."
    one = (1, 1)
    if isinstance(unit, BNAct):
        out = [_bn(p + "bn", stage, (c, *hw), unit.w)]
        if unit.act:
            out.append(_act(p + "act", stage, (c, *hw), unit.act))
        return out, c, hw
    if isinstance(unit, AvgDown):
        out = []
        if unit.stride > 1:  # 2x2 windows in ceil mode: a ragged edge still gets a window
            read = c * _numel(hw)
            hw = tuple(-(-x // unit.stride) for x in hw)
            out.append(_avgpool(p + "pool", stage, (c, *hw), read))
        more, c, hw = unit_layers(name, stage, ConvBN(unit.w_in, unit.w_out), c, hw)
        return out + more, c, hw
    if isinstance(unit, SelectiveKernel):
        out = []
        w_path = unit.w_in // unit.paths if unit.split_input else unit.w_in
        groups = min(unit.w_out, unit.groups)
        for i, d in enumerate(unit.path_dilations):
            path = ConvBN(w_path, unit.w_out, 3, unit.stride, groups, act="relu", dilation=d)
            more, _, out_hw = unit_layers(f"{p}paths.{i}", stage, path, w_path, hw)
            out += more
        fc1, _ = _conv(p + "attn.fc_reduce", stage, unit.w_out, unit.w_attn, 1, 1, 1, one)
        fc2, _ = _conv(p + "attn.fc_select", stage, unit.w_attn, unit.w_out * unit.paths, 1, 1, 1, one)
        out += [fc1, _bn(p + "attn.bn", stage, fc1.out_shape, unit.w_attn),
                _act(p + "attn.act", stage, fc1.out_shape, "relu"),
                fc2, _act(p + "attn.softmax", stage, (unit.paths, unit.w_out, 1, 1), "softmax")]
        return out, unit.w_out, out_hw
    if isinstance(unit, SplitAttn):
        w_mid = unit.w * unit.radix
        conv, hw = _conv(p + "conv", stage, unit.w, w_mid, unit.kernel, unit.stride, unit.groups * unit.radix, hw,
                         dilation=unit.dilation)
        fc1, _ = _conv(p + "fc1", stage, unit.w, unit.w_attn, 1, 1, unit.groups, one, bias=True)
        fc2, _ = _conv(p + "fc2", stage, unit.w_attn, w_mid, 1, 1, unit.groups, one, bias=True)
        out = [conv, _bn(p + "bn0", stage, conv.out_shape, w_mid), _act(p + "act0", stage, conv.out_shape, "relu"),
               fc1, _bn(p + "bn1", stage, fc1.out_shape, unit.w_attn), _act(p + "act1", stage, fc1.out_shape, "relu"),
               fc2, _act(p + "rsoftmax", stage, (unit.radix, unit.groups, unit.w // unit.groups), "softmax")]
        return out, unit.w, hw
    if isinstance(unit, CBAM):
        return _cbam_layers(p, stage, unit, hw), c, hw
    raise TypeError(f"no cost formula for {unit!r}")


def _cbam_layers(p: str, stage: str, unit: CBAM, hw: tuple[int, int]) -> list[Layer]:
    """CBAM: the shared MLP runs on the average- and on the max-pooled vector (its params count once)."""
    w, mid = unit.w, unit.w_mid
    read = w * _numel(hw)  # ptflops hooks both adaptive pools and patches their functionals; fvcore: the avg one
    out = []
    for pool, params in (("avg", True), ("max", False)):
        if pool == "avg":
            facts = dict.fromkeys(("op.adaptive_avg_pool2d", "module.pooling", "call.pooling"), read)
            out.append(_free(p + "channel.avg", stage, "avgpool", (w, 1, 1), facts=facts))
        else:  # a global max pool: a max-pool layer, so its outputs are activations
            facts = pack(dict.fromkeys(("module.pooling", "call.pooling"), read))
            out.append(Layer(p + "channel.max", stage, "maxpool", (w, 1, 1), Counts(acts=w), facts=facts))
        out += [_linear(p + "channel.fc1", stage, w, mid, params), _act(p + "channel.act", stage, (mid,), "relu"),
                _linear(p + "channel.fc2", stage, mid, w, params)]
    out.append(_act(p + "channel.gate", stage, (w,), "sigmoid"))
    conv, _ = _conv(p + "spatial.conv", stage, 2, 1, unit.kernel, 1, 1, hw)
    out += [conv, _bn(p + "spatial.bn", stage, conv.out_shape, 1),
            _act(p + "spatial.gate", stage, conv.out_shape, "sigmoid")]
    return out


def _units_layers(prefix, stage, units, c, hw):
    layers = []
    for name, unit in units:
        more, c, hw = unit_layers(f"{prefix}.{name}", stage, unit, c, hw)
        layers += more
    return layers, c, hw


# Units and blocks of the mobile and dense families. Index-select, shuffle and concatenation
# move data without arithmetic: they cost 0. Shuffle and index-select are notes on the conv
# they belong to; a concatenation is a free layer, so that a block's output has its shape.


def mobile_unit_layers(name: str, stage: str, unit, c: int, hw: tuple[int, int]):
    """Leaf layers of a mobile-family unit; returns (layers, c, hw) as ``unit_layers`` does."""
    p = f"{name}."
    if isinstance(unit, Conv):
        conv, hw = _conv(name, stage, unit.w_in, unit.w_out, unit.kernel, unit.stride, unit.groups, hw,
                         bias=unit.bias, dilation=unit.dilation, pad=unit.pad)
        return [conv], unit.w_out, hw
    if isinstance(unit, BN):
        return [_bn(name, stage, (unit.w, *hw), unit.w)], c, hw
    if isinstance(unit, AvgPool):
        read = c * _numel(hw)
        hw = tuple(conv_out(x, unit.kernel, unit.stride, unit.padding) for x in hw)
        return [_avgpool(name, stage, (c, *hw), read)], c, hw
    if isinstance(unit, ShuffleConvBN):
        out, c, hw = unit_layers(name, stage, ConvBN(unit.w_in, unit.w_out, 1, groups=unit.groups, act=unit.act), c, hw)
        return [replace(out[0], note="+ shuffle"), *out[1:]], c, hw
    if isinstance(unit, CondensedConv):
        shape = (unit.w_in, *hw)
        out = [_bn(p + "norm", stage, shape, unit.w_in), _act(p + "relu", stage, shape, "relu")]
        conv, hw = _conv(p + "conv", stage, unit.w_in, unit.w_out, 1, 1, unit.groups, hw)
        return [*out, replace(conv, note="(condensed) + shuffle")], unit.w_out, hw
    assert isinstance(unit, CondensedLinear), unit  # MOBILE_UNITS lists no other
    return [_linear(p + "fc", stage, unit.w_keep, unit.w_out, note="(condensed)")], unit.w_out, hw


def concat_layers(prefix: str, stage: str, block: Concat, c: int, hw: tuple[int, int]):
    """Leaf layers of every branch of a concatenating block; returns (layers, c, hw) after the concat."""
    layers, widths, sizes = [], [], set()
    c_branch = c // len(block.branches) if block.split else c
    for name, units in block.branches:
        more, c_out, hw_out = _units_layers(f"{prefix}.{name}", stage, units, c_branch, hw)
        layers += more
        widths.append(c_out)
        sizes.add(hw_out)
    if len(sizes) != 1:
        raise NetprobeError(f"{prefix}: branches end at different sizes {sorted(sizes)}; they cannot be concatenated")
    c, hw = sum(widths), sizes.pop()
    grows = not block.split and any(not units for _, units in block.branches)  # cat(x, f(x)): DenseNet's
    note = f"(dense, k={c - c_branch})" if grows else f"+ shuffle g={block.shuffle}" if block.shuffle else ""
    layers.append(Layer(f"{prefix}.cat", stage, "concat", (c, *hw), Counts(), note=note))
    if block.post_act:
        layers.append(_act(f"{prefix}.out_act", stage, (c, *hw), block.post_act))
    return layers, c, hw


def net_layers(net: Net, resolution: int | tuple[int, int] | None = None) -> list[Layer]:
    """Every leaf layer of the network at the given input size (default: its native one)."""
    res = resolution or net.resolution
    hw = (res, res) if isinstance(res, int) else tuple(res)
    layers, c, hw = _units_layers("stem", "stem", net.stem, net.w_in, hw)
    for si, stage in enumerate(net.stages, 1):
        for bi, block in enumerate(stage.blocks, 1):
            prefix = f"s{si}.b{bi}"
            if isinstance(block, Concat):
                more, c, hw = concat_layers(prefix, f"s{si}", block, c, hw)
                layers += more
                continue
            more, c, hw = _units_layers(prefix, f"s{si}", block.pre, c, hw)
            layers += more
            c_in, hw_in = c, hw  # a projection reads the pre-activated input
            more, c, hw = _units_layers(prefix, f"s{si}", block.units, c, hw)
            layers += more
            if block.proj is not None:
                layers += unit_layers(f"{prefix}.proj", f"s{si}", block.proj, c_in, hw_in)[0]
            if block.post_act:
                layers.append(_act(f"{prefix}.out_act", f"s{si}", (c, *hw), block.post_act))
    layers += _units_layers("head", "head", net.head, c, hw)[0]
    return layers


# Units whose layers carry every convention's facts (analysis.conventions) when counted from the spec:
# each formula above sets them beside the layer it describes (tests/test_zoo.py checks them against
# the facts measured on the built module); tests/test_conventions.py holds every registered net to them.
FACT_UNITS = (ConvBN, SE, Act, MaxPool, GlobalPool, Dropout, Linear, BNAct, AvgDown, SelectiveKernel, SplitAttn, CBAM,
              *MOBILE_UNITS)


def analytic_facts(net: Net) -> bool:
    """Whether ``net_layers`` gives every convention's count of this net, not only netprobe's."""
    units = [u for _, u in net.stem + net.head]
    for stage in net.stages:
        for block in stage.blocks:
            if isinstance(block, Concat):
                units += [u for _, branch in block.branches for _, u in branch]
                continue
            units += [u for _, u in block.pre + block.units] + ([block.proj] if block.proj is not None else [])
    return all(type(u) in FACT_UNITS for u in units)


def net_totals(net: Net, resolution: int | tuple[int, int] | None = None) -> Counts:
    """Params, MACs and activations of the whole network (default: at its native resolution)."""
    return total(layer.counts for layer in net_layers(net, resolution))
