"""``build(spec)``: the ``nn.Module`` a spec describes, named like the paper.

Modules: ``stem``, ``s1``..``sN`` (stages), ``b1``..``bN`` (blocks), ``head``; inside a
block the unit names of the spec (``a``, ``b``, ``se``, ``c``, ``proj``...). ``MODULES``
is the one table from unit type to module.
"""

from __future__ import annotations

import torch
from torch import nn

from netprobe.spec import (CBAM, SE, Act, AvgDown, AvgPool, Block, Concat, CondensedConv, CondensedLinear, Conv,
                           Dropout, GlobalPool, Linear, MaxPool, Named, Net, Norm, SelectiveKernel, SplitAttn, Unit,
                           with_classes)

ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "sigmoid": nn.Sigmoid}


def activation(kind: str) -> nn.Module:
    return ACTIVATIONS[kind](inplace=True) if kind != "sigmoid" else nn.Sigmoid()


def conv2d(u: Conv) -> nn.Conv2d:
    return nn.Conv2d(u.w_in, u.w_out, u.kernel, u.stride, u.padding, u.dilation, u.groups, bias=u.bias)


class ConvBNAct(nn.Sequential):
    """conv [, bn] [, act]."""

    def __init__(self, u: Conv):
        super().__init__()
        self.conv = conv2d(u)
        if u.bn:
            self.bn = nn.BatchNorm2d(u.w_out)
        if u.act:
            self.act = activation(u.act)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: (N, g*c, H, W) viewed as (N, g, c, H, W), transposed, flattened."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffledConvBNAct(ConvBNAct):
    """conv [, bn] [, act], channel shuffle (a reshape: the leaves a counter sees stay conv, bn, act)."""

    def __init__(self, u: Conv):
        super().__init__(u)
        self.groups = u.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(super().forward(x), self.groups)


def conv_module(u: Conv) -> nn.Module:
    """A bare conv is the nn.Conv2d itself; with a norm, act or shuffle, a container of them."""
    if u.bare:
        return conv2d(u)
    return ShuffledConvBNAct(u) if u.shuffle else ConvBNAct(u)


class NormAct(nn.Sequential):
    """bn, act (pre-activation)."""

    def __init__(self, u: Norm):
        super().__init__()
        self.bn = nn.BatchNorm2d(u.w)
        self.act = activation(u.act)


def norm_module(u: Norm) -> nn.Module:
    """A norm alone is the nn.BatchNorm2d itself; with an act, a container of both."""
    return NormAct(u) if u.act else nn.BatchNorm2d(u.w)


class SqueezeExcite(nn.Module):
    """Global pool, 1x1 reduce [+bn], act, 1x1 expand, sigmoid gate, multiply."""

    def __init__(self, u: SE):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(u.w, u.w_se, 1, bias=True)
        if u.bn:
            self.bn = nn.BatchNorm2d(u.w_se)
        self.act = activation(u.act)
        self.fc2 = nn.Conv2d(u.w_se, u.w, 1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc1(self.pool(x))
        if hasattr(self, "bn"):
            y = self.bn(y)
        return x * self.gate(self.fc2(self.act(y)))


class GlobalAvgPool(nn.Module):
    """Average over H and W, flattened to (N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))


class AvgDownModule(nn.Sequential):
    """[2x2 average pool, ceil mode,] 1x1 conv, bn: the "ResNet-D" shortcut."""

    def __init__(self, u: AvgDown):
        super().__init__()
        if u.stride > 1:
            self.pool = nn.AvgPool2d(2, u.stride, ceil_mode=True, count_include_pad=False)
        self.conv = nn.Conv2d(u.w_in, u.w_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(u.w_out)


class SelectiveKernelModule(nn.Module):
    """Kernel paths (on input slices when split), summed and pooled, reduce, select: softmax over paths."""

    def __init__(self, u: SelectiveKernel):
        super().__init__()
        self.u = u
        w_path = u.w_in // u.paths if u.split_input else u.w_in
        groups = min(u.w_out, u.groups)
        self.paths = nn.ModuleList(ConvBNAct(Conv(w_in=w_path, w_out=u.w_out, kernel=3, stride=u.stride,
                                                  groups=groups, dilation=d, bn=True, act="relu"))
                                   for d in u.path_dilations)
        self.attn = nn.Module()
        self.attn.fc_reduce = nn.Conv2d(u.w_out, u.w_attn, 1, bias=False)
        self.attn.bn = nn.BatchNorm2d(u.w_attn)
        self.attn.act = activation("relu")
        self.attn.fc_select = nn.Conv2d(u.w_attn, u.w_out * u.paths, 1, bias=False)
        self.attn.softmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.u
        xs = torch.split(x, u.w_in // u.paths, 1) if u.split_input else [x] * u.paths
        y = torch.stack([path(xi) for path, xi in zip(self.paths, xs)], dim=1)  # N, paths, C, H, W
        a = self.attn.fc_select(self.attn.act(self.attn.bn(self.attn.fc_reduce(y.sum(1).mean((2, 3), keepdim=True)))))
        a = self.attn.softmax(a.reshape(a.shape[0], u.paths, u.w_out, 1, 1))
        return (y * a).sum(1)


class SplitAttnModule(nn.Module):
    """Conv into radix x groups splits, bn, act; pooled sum of splits, fc1, bn, act, fc2; softmax over splits."""

    def __init__(self, u: SplitAttn):
        super().__init__()
        self.u = u
        w_mid = u.w * u.radix
        self.conv = nn.Conv2d(u.w, w_mid, u.kernel, u.stride, u.padding, u.dilation, u.groups * u.radix, bias=False)
        self.bn0 = nn.BatchNorm2d(w_mid)
        self.act0 = activation("relu")
        self.fc1 = nn.Conv2d(u.w, u.w_attn, 1, groups=u.groups)
        self.bn1 = nn.BatchNorm2d(u.w_attn)
        self.act1 = activation("relu")
        self.fc2 = nn.Conv2d(u.w_attn, w_mid, 1, groups=u.groups)
        self.rsoftmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.u
        y = self.act0(self.bn0(self.conv(x)))
        n, _, h, w = y.shape
        y = y.reshape(n, u.radix, u.w, h, w)
        a = self.fc2(self.act1(self.bn1(self.fc1(y.sum(1).mean((2, 3), keepdim=True)))))
        # the attention vector is laid out (group, split, channel); softmax over the splits of each group
        a = a.reshape(n, u.groups, u.radix, -1).transpose(1, 2)
        a = self.rsoftmax(a).reshape(n, u.radix, u.w, 1, 1)
        return (y * a).sum(1)


class CBAMModule(nn.Module):
    """Channel gate (one MLP on the avg- and the max-pooled vector, summed), then spatial gate (kxk conv on max/mean)."""

    def __init__(self, u: CBAM):
        super().__init__()
        self.channel = nn.Module()
        self.channel.avg = nn.AdaptiveAvgPool2d(1)
        self.channel.max = nn.AdaptiveMaxPool2d(1)
        self.channel.fc1 = nn.Linear(u.w, u.w_mid)
        self.channel.act = activation("relu")
        self.channel.fc2 = nn.Linear(u.w_mid, u.w)
        self.channel.gate = nn.Sigmoid()
        self.spatial = nn.Module()
        self.spatial.conv = nn.Conv2d(2, 1, u.kernel, padding=u.kernel // 2, bias=False)
        self.spatial.bn = nn.BatchNorm2d(1)
        self.spatial.gate = nn.Sigmoid()

    def _mlp(self, v: torch.Tensor) -> torch.Tensor:
        ch = self.channel
        return ch.fc2(ch.act(ch.fc1(v.flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ch, sp = self.channel, self.spatial
        a = ch.gate(self._mlp(ch.avg(x)) + self._mlp(ch.max(x)))
        x = x * a[:, :, None, None]
        m = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], dim=1)
        return x * sp.gate(sp.bn(sp.conv(m)))


class CondensedConvModule(nn.Module):
    """index-select, norm, relu, 1x1 group conv, channel shuffle."""

    def __init__(self, u: CondensedConv):
        super().__init__()
        self.groups = u.groups
        # The kept channels are learned; an untrained network keeps them in order.
        self.register_buffer("index", torch.arange(u.w_in))
        self.norm = nn.BatchNorm2d(u.w_in)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(u.w_in, u.w_out, 1, groups=u.groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.norm(torch.index_select(x, 1, self.index)))
        return channel_shuffle(self.conv(x), self.groups)


class CondensedLinearModule(nn.Module):
    """index-select of the kept features, fully connected."""

    def __init__(self, u: CondensedLinear):
        super().__init__()
        self.register_buffer("index", torch.arange(u.w_keep))
        self.fc = nn.Linear(u.w_keep, u.w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.index_select(x, 1, self.index))


# unit type -> its module (shuffle, index-select and concatenation are reshapes inside
# container modules, so the leaves a counter sees stay ordinary convs, norms, acts and pools).
MODULES = {
    Conv:            conv_module,  # the conv, or conv [, bn] [, act] [, shuffle]
    Norm:            norm_module,  # the norm, or norm, act
    Act:             lambda u: activation(u.kind),
    MaxPool:         lambda u: nn.MaxPool2d(u.kernel, u.stride, u.padding),
    AvgPool:         lambda u: nn.AvgPool2d(u.kernel, u.stride, u.padding),
    GlobalPool:      lambda u: GlobalAvgPool(),
    Dropout:         lambda u: nn.Dropout(u.p),
    Linear:          lambda u: nn.Linear(u.w_in, u.w_out),
    SE:              SqueezeExcite,
    AvgDown:         AvgDownModule,  # [2x2 avg pool,] 1x1 conv, bn
    SelectiveKernel: SelectiveKernelModule,
    SplitAttn:       SplitAttnModule,
    CBAM:            CBAMModule,
    CondensedConv:   CondensedConvModule,  # index-select, bn, relu, 1x1 gconv, shuffle
    CondensedLinear: CondensedLinearModule,  # index-select, fc
}


def unit_module(u: Unit) -> nn.Module:
    return MODULES[type(u)](u)


def units_module(units: Named) -> nn.Sequential:
    seq = nn.Sequential()
    for name, u in units:
        seq.add_module(name, unit_module(u))
    return seq


class ResidualBlock(nn.Module):
    """Units in sequence; the shortcut (identity, projection or ReXNet's partial add) joins after."""

    def __init__(self, block: Block):
        super().__init__()
        self.shortcut = block.shortcut
        self.w_in = block.w_in if block.shortcut == "partial" else 0  # a pooling-only block has no width
        for name, u in block.pre + block.units:
            self.add_module(name, unit_module(u))
        self.pre_names = [name for name, _ in block.pre]
        self.unit_names = [name for name, _ in block.units]
        if block.proj is not None:
            self.proj = unit_module(block.proj)
        if block.post_act:
            self.out_act = activation(block.post_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for name in self.pre_names:
            h = getattr(self, name)(h)
        y = h
        for name in self.unit_names:
            y = getattr(self, name)(y)
        if self.shortcut == "identity":
            y = y + x
        elif self.shortcut == "proj":
            y = y + self.proj(h)
        elif self.shortcut == "partial":
            y = torch.cat([y[:, : self.w_in] + x, y[:, self.w_in :]], dim=1)
        if hasattr(self, "out_act"):
            y = self.out_act(y)
        return y


class Joined(nn.Identity):
    """The output of a concatenation: a free leaf, so that counters see the joined tensor's shape."""


class ConcatBlock(nn.Module):
    """Branches on the input (or on its split channels), concatenated [, shuffled] [, act]."""

    def __init__(self, block: Concat):
        super().__init__()
        self.split, self.shuffle = block.split, block.shuffle
        self.paths = [(name, bool(units)) for name, units in block.branches]
        for name, units in block.branches:
            if units:
                self.add_module(name, units_module(units))
        self.cat = Joined()
        if block.post_act:
            self.out_act = activation(block.post_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = x.chunk(len(self.paths), dim=1) if self.split else [x] * len(self.paths)
        y = torch.cat([getattr(self, name)(xi) if has else xi for (name, has), xi in zip(self.paths, xs)], dim=1)
        if self.shuffle:
            y = channel_shuffle(y, self.shuffle)
        y = self.cat(y)
        if hasattr(self, "out_act"):
            y = self.out_act(y)
        return y


class Network(nn.Module):
    """stem, s1..sN, head."""

    def __init__(self, net: Net):
        super().__init__()
        self.spec_name = net.name
        self.stem = units_module(net.stem)
        for si, stage in enumerate(net.stages, 1):
            seq = nn.Sequential()
            for bi, block in enumerate(stage.blocks, 1):
                seq.add_module(f"b{bi}", ConcatBlock(block) if isinstance(block, Concat) else ResidualBlock(block))
            self.add_module(f"s{si}", seq)
        self.head = units_module(net.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x


def init_weights(model: nn.Module) -> None:
    """He init for convs, unit BN, small normal for the classifier (pycls ``init_weights``)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


def build(net: Net, device: str | torch.device | None = None, num_classes: int | None = None) -> nn.Module:
    """The module for a spec, with initialized weights (none are initialized on ``meta``).

    The module takes any input size; ``cost(spec, resolution)`` counts it at one.
    """
    if num_classes is not None:
        net = with_classes(net, num_classes)
    with torch.device(device or "cpu"):
        model = Network(net)
    if torch.device(device or "cpu").type != "meta":
        init_weights(model)
    return model
