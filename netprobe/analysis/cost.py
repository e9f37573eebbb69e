"""Analytic costs: params, MACs and activations of every layer, read from the spec alone.

Each formula is the pycls one (``conv2d_cx``, ``linear_cx``, ...) under the convention in
``netprobe.counts``; what the other counters see of each leaf comes from the one table in
``analysis.counters``. ``LAYERS`` is the one table from unit type to its layers. No torch:
``netprobe list`` runs on this module only.
"""

from __future__ import annotations

import math
from dataclasses import replace

from netprobe.analysis.counters import ACTIVATION_CLASSES, leaf_facts, pack
from netprobe.analysis.layers import CBAM_LABEL, SE_LABEL, SK_LABEL, SPLIT_ATTN_LABEL, Layer
from netprobe.counts import Counts, total
from netprobe.errors import NetprobeError
from netprobe.spec import (CBAM, SE, Act, AvgDown, AvgPool, Concat, CondensedConv, CondensedLinear, Conv, Dropout,
                           GlobalPool, Linear, MaxPool, Net, Norm, SelectiveKernel, SplitAttn, Unit)

ONE = (1, 1)


def conv_out(h: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output size of a convolution or pooling window (floor mode)."""
    return (h + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _numel(shape) -> int:
    return math.prod(shape)


# --- leaves: one pycls formula each, with the facts the table gives them ---


def _conv(name, stage, w_in, w_out, k, s, g, hw, bias=False, dilation=1, pad=None) -> tuple[Layer, tuple[int, int]]:
    """nn.Conv2d: k*k*(w_in/g)*w_out weights, each used at every output position [+ one bias add each]."""
    h, w = (conv_out(x, k, s, dilation * (k // 2) if pad is None else pad, dilation) for x in hw)
    if h < 1 or w < 1:
        raise NetprobeError(f"resolution too small: {name} would get a {hw[0]}x{hw[1]} input; use a larger --resolution")
    params = k * k * (w_in // g) * w_out + (w_out if bias else 0)
    macs = k * k * (w_in // g) * w_out * h * w
    adds = w_out * h * w if bias else 0
    layer = Layer(name, stage, "conv", (w_out, h, w), Counts(params, macs + adds, w_out * h * w),
                  kernel=k, stride=s, groups=g, dilation=dilation, w_in=w_in,
                  facts=pack(leaf_facts("Conv2d", macs=macs, bias=adds)))
    return layer, (h, w)


def _free(name, stage, op, shape, leaf=None, read=0, params=0, act="") -> Layer:
    """A leaf that costs nothing by the convention (other counters may count what it reads)."""
    facts = leaf_facts(leaf, read=read, wrote=_numel(shape)) if leaf else {}
    return Layer(name, stage, op, shape, Counts(params=params), act=act, facts=pack(facts))


def _act(name, stage, shape, kind) -> Layer:
    return _free(name, stage, "act", shape, ACTIVATION_CLASSES[kind], _numel(shape), act=kind)


def _bn(name, stage, shape, w) -> Layer:
    """nn.BatchNorm2d (affine): a scale and a shift per channel."""
    return _free(name, stage, "bn", shape, "BatchNorm2d", _numel(shape), params=2 * w)


def _avgpool(name, stage, shape, read: int, leaf="AvgPool2d") -> Layer:
    return _free(name, stage, "avgpool", shape, leaf, read)


def _maxpool(name, stage, shape, read: int, leaf="MaxPool2d", kernel=0, stride=1) -> Layer:
    """A max-pool's outputs are activations."""
    return Layer(name, stage, "maxpool", shape, Counts(acts=_numel(shape)), kernel=kernel, stride=stride,
                 facts=pack(leaf_facts(leaf, read=read)))


def _linear(name, stage, w_in, w_out, params=True, note="") -> Layer:
    """nn.Linear with bias; ``params`` False for a second call of a shared one (its params count once)."""
    n = w_in * w_out + w_out
    facts = pack(leaf_facts("Linear", macs=w_in * w_out, bias=w_out))
    return Layer(name, stage, "linear", (w_out,), Counts(n if params else 0, n, w_out), w_in=w_in, note=note,
                 facts=facts)


def _in_unit(layers: list[Layer], unit: str) -> list[Layer]:
    """Layers that belong to one attention unit, which names their kind (analysis.layers)."""
    return [replace(layer, unit=unit) for layer in layers]


# --- units: leaf layers in the order the built module runs them; each returns (layers, c, hw) ---


def conv_layers(name: str, stage: str, u: Conv, c: int, hw: tuple[int, int]):
    """A bare conv is one layer; with a norm, act or shuffle, the layers ``conv``, ``bn``, ``act``."""
    p = name if u.bare else f"{name}.conv"
    conv, hw = _conv(p, stage, u.w_in, u.w_out, u.kernel, u.stride, u.groups, hw, bias=u.bias, dilation=u.dilation,
                     pad=u.pad)
    out = [replace(conv, note="+ shuffle") if u.shuffle else conv]
    if u.bn:
        out.append(_bn(f"{name}.bn", stage, conv.out_shape, u.w_out))
    if u.act:
        out.append(_act(f"{name}.act", stage, conv.out_shape, u.act))
    return out, u.w_out, hw


def norm_layers(name: str, stage: str, u: Norm, c: int, hw: tuple[int, int]):
    shape = (u.w, *hw)
    if not u.act:
        return [_bn(name, stage, shape, u.w)], c, hw
    return [_bn(f"{name}.bn", stage, shape, u.w), _act(f"{name}.act", stage, shape, u.act)], c, hw


def maxpool_layers(name: str, stage: str, u: MaxPool, c: int, hw: tuple[int, int]):
    read = c * _numel(hw)
    hw = tuple(conv_out(x, u.kernel, u.stride, u.padding) for x in hw)
    return [_maxpool(name, stage, (c, *hw), read, kernel=u.kernel, stride=u.stride)], c, hw


def avgpool_layers(name: str, stage: str, u: AvgPool, c: int, hw: tuple[int, int]):
    read = c * _numel(hw)
    hw = tuple(conv_out(x, u.kernel, u.stride, u.padding) for x in hw)
    return [_avgpool(name, stage, (c, *hw), read)], c, hw


def se_layers(name: str, stage: str, u: SE, c: int, hw: tuple[int, int]):
    """Squeeze-and-excitation: global pool, 1x1 conv reduce [+bn], act, 1x1 conv expand, sigmoid gate."""
    p = f"{name}."
    out = [_avgpool(p + "pool", stage, (u.w, 1, 1), u.w * _numel(hw), "AdaptiveAvgPool2d")]
    fc1, _ = _conv(p + "fc1", stage, u.w, u.w_se, 1, 1, 1, ONE, bias=True)
    out.append(fc1)
    if u.bn:
        out.append(_bn(p + "bn", stage, fc1.out_shape, u.w_se))
    out.append(_act(p + "act", stage, fc1.out_shape, u.act))
    fc2, _ = _conv(p + "fc2", stage, u.w_se, u.w, 1, 1, 1, ONE, bias=True)
    out += [fc2, _act(p + "gate", stage, fc2.out_shape, "sigmoid")]
    return _in_unit(out, SE_LABEL), c, hw


def avg_down_layers(name: str, stage: str, u: AvgDown, c: int, hw: tuple[int, int]):
    """[2x2 average pool in ceil mode (a ragged edge still gets a window),] 1x1 conv, bn."""
    out = []
    if u.stride > 1:
        read = c * _numel(hw)
        hw = tuple(-(-x // u.stride) for x in hw)
        out.append(_avgpool(f"{name}.pool", stage, (c, *hw), read))
    more, c, hw = conv_layers(name, stage, Conv(w_in=u.w_in, w_out=u.w_out, bn=True), c, hw)
    return out + more, c, hw


def sk_layers(name: str, stage: str, u: SelectiveKernel, c: int, hw: tuple[int, int]):
    """Selective kernel: 3x3 conv-bn-relu paths, pooled sum, 1x1 reduce, bn, relu, 1x1 select, softmax."""
    p, out = f"{name}.", []
    w_path = u.w_in // u.paths if u.split_input else u.w_in
    for i, d in enumerate(u.path_dilations):
        path = Conv(w_in=w_path, w_out=u.w_out, kernel=3, stride=u.stride, groups=min(u.w_out, u.groups), dilation=d,
                    bn=True, act="relu")
        more, _, out_hw = conv_layers(f"{p}paths.{i}", stage, path, w_path, hw)
        out += more
    fc1, _ = _conv(p + "attn.fc_reduce", stage, u.w_out, u.w_attn, 1, 1, 1, ONE)
    fc2, _ = _conv(p + "attn.fc_select", stage, u.w_attn, u.w_out * u.paths, 1, 1, 1, ONE)
    out += [fc1, _bn(p + "attn.bn", stage, fc1.out_shape, u.w_attn), _act(p + "attn.act", stage, fc1.out_shape, "relu"),
            fc2, _act(p + "attn.softmax", stage, (u.paths, u.w_out, 1, 1), "softmax")]
    return _in_unit(out, SK_LABEL), u.w_out, out_hw


def split_attn_layers(name: str, stage: str, u: SplitAttn, c: int, hw: tuple[int, int]):
    """Split attention: kxk conv to radix splits, bn, relu; pooled sum, 1x1 fc1, bn, relu, 1x1 fc2, softmax."""
    p, w_mid = f"{name}.", u.w * u.radix
    conv, hw = _conv(p + "conv", stage, u.w, w_mid, u.kernel, u.stride, u.groups * u.radix, hw, dilation=u.dilation)
    fc1, _ = _conv(p + "fc1", stage, u.w, u.w_attn, 1, 1, u.groups, ONE, bias=True)
    fc2, _ = _conv(p + "fc2", stage, u.w_attn, w_mid, 1, 1, u.groups, ONE, bias=True)
    out = [conv, _bn(p + "bn0", stage, conv.out_shape, w_mid), _act(p + "act0", stage, conv.out_shape, "relu"),
           fc1, _bn(p + "bn1", stage, fc1.out_shape, u.w_attn), _act(p + "act1", stage, fc1.out_shape, "relu"),
           fc2, _act(p + "rsoftmax", stage, (u.radix, u.groups, u.w // u.groups), "softmax")]
    return _in_unit(out, SPLIT_ATTN_LABEL), u.w, hw


def cbam_layers(name: str, stage: str, u: CBAM, c: int, hw: tuple[int, int]):
    """CBAM: the shared MLP runs on the average- and on the max-pooled vector (its params count once)."""
    p, w, mid, read = f"{name}.", u.w, u.w_mid, u.w * _numel(hw)

    def mlp(params: bool) -> list[Layer]:
        return [_linear(p + "channel.fc1", stage, w, mid, params), _act(p + "channel.act", stage, (mid,), "relu"),
                _linear(p + "channel.fc2", stage, mid, w, params)]

    out = [_avgpool(p + "channel.avg", stage, (w, 1, 1), read, "AdaptiveAvgPool2d"), *mlp(True),
           _maxpool(p + "channel.max", stage, (w, 1, 1), read, "AdaptiveMaxPool2d"), *mlp(False),
           _act(p + "channel.gate", stage, (w,), "sigmoid")]
    conv, _ = _conv(p + "spatial.conv", stage, 2, 1, u.kernel, 1, 1, hw)
    out += [conv, _bn(p + "spatial.bn", stage, conv.out_shape, 1),
            _act(p + "spatial.gate", stage, conv.out_shape, "sigmoid")]
    return _in_unit(out, CBAM_LABEL), c, hw


def condensed_conv_layers(name: str, stage: str, u: CondensedConv, c: int, hw: tuple[int, int]):
    """Index-select (free), bn, relu, 1x1 group conv, shuffle (free: a note on the conv)."""
    shape = (u.w_in, *hw)
    out = [_bn(f"{name}.norm", stage, shape, u.w_in), _act(f"{name}.relu", stage, shape, "relu")]
    conv, hw = _conv(f"{name}.conv", stage, u.w_in, u.w_out, 1, 1, u.groups, hw)
    return [*out, replace(conv, note="(condensed) + shuffle")], u.w_out, hw


# unit type -> its leaf layers, given its name, stage, input channels and size.
LAYERS = {
    Conv:            conv_layers,
    Norm:            norm_layers,
    Act:             lambda name, stage, u, c, hw: ([_act(name, stage, (c, *hw), u.kind)], c, hw),
    MaxPool:         maxpool_layers,
    AvgPool:         avgpool_layers,
    GlobalPool:      lambda name, stage, u, c, hw: ([_free(name, stage, "avgpool", (c,))], c, ONE),  # x.mean(): free
    Dropout:         lambda name, stage, u, c, hw: ([_free(name, stage, "dropout", (c,))], c, hw),
    Linear:          lambda name, stage, u, c, hw: ([_linear(name, stage, u.w_in, u.w_out)], u.w_out, hw),
    SE:              se_layers,
    AvgDown:         avg_down_layers,
    SelectiveKernel: sk_layers,
    SplitAttn:       split_attn_layers,
    CBAM:            cbam_layers,
    CondensedConv:   condensed_conv_layers,
    CondensedLinear: lambda name, stage, u, c, hw: (  # index-select (free), fc
        [_linear(f"{name}.fc", stage, u.w_keep, u.w_out, note="(condensed)")], u.w_out, hw),
}


def unit_layers(name: str, stage: str, unit: Unit, c: int, hw: tuple[int, int]):
    """Leaf layers of one unit, given its input channels and size; returns (layers, c, hw)."""
    return LAYERS[type(unit)](name, stage, unit, c, hw)


def _units_layers(prefix, stage, units, c, hw):
    layers = []
    for name, unit in units:
        more, c, hw = unit_layers(f"{prefix}.{name}", stage, unit, c, hw)
        layers += more
    return layers, c, hw


# A concatenation moves data without arithmetic: a free layer, so that a block's output has its shape.


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


def net_totals(net: Net, resolution: int | tuple[int, int] | None = None) -> Counts:
    """Params, MACs and activations of the whole network (default: at its native resolution)."""
    return total(layer.counts for layer in net_layers(net, resolution))
