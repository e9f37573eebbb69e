"""``build(spec)``: the ``nn.Module`` a spec describes, named like the paper.

Modules: ``stem``, ``s1``..``sN`` (stages), ``b1``..``bN`` (blocks), ``head``; inside a
block the unit names of the spec (``a``, ``b``, ``se``, ``c``, ``proj``...).
"""

from __future__ import annotations

import torch
from torch import nn

from netprobe.spec import SE, Act, Block, ConvBN, Dropout, GlobalPool, Linear, MaxPool, Named, Net, Unit, with_classes
from netprobe.spec import BN, MOBILE_UNITS, AvgPool, Concat, CondensedConv, CondensedLinear, Conv, ShuffleConvBN

ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "sigmoid": nn.Sigmoid}


def activation(kind: str) -> nn.Module:
    return ACTIVATIONS[kind](inplace=True) if kind != "sigmoid" else nn.Sigmoid()


class ConvBNAct(nn.Sequential):
    """conv, bn [, act]."""

    def __init__(self, u: ConvBN):
        super().__init__()
        self.conv = nn.Conv2d(u.w_in, u.w_out, u.kernel, u.stride, u.padding, groups=u.groups, bias=False)
        self.bn = nn.BatchNorm2d(u.w_out)
        if u.act:
            self.act = activation(u.act)


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


def unit_module(u: Unit) -> nn.Module:
    if isinstance(u, ConvBN):
        return ConvBNAct(u)
    if isinstance(u, SE):
        return SqueezeExcite(u)
    if isinstance(u, Act):
        return activation(u.kind)
    if isinstance(u, MaxPool):
        return nn.MaxPool2d(u.kernel, u.stride, u.padding)
    if isinstance(u, GlobalPool):
        return GlobalAvgPool()
    if isinstance(u, Dropout):
        return nn.Dropout(u.p)
    if isinstance(u, Linear):
        return nn.Linear(u.w_in, u.w_out)
    if isinstance(u, MOBILE_UNITS):
        return mobile_unit_module(u)
    raise TypeError(f"no module for {u!r}")


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
        for name, u in block.units:
            self.add_module(name, unit_module(u))
        self.unit_names = [name for name, _ in block.units]
        if block.proj is not None:
            self.proj = ConvBNAct(block.proj)
        if block.post_act:
            self.out_act = activation(block.post_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for name in self.unit_names:
            y = getattr(self, name)(y)
        if self.shortcut == "identity":
            y = y + x
        elif self.shortcut == "proj":
            y = y + self.proj(x)
        elif self.shortcut == "partial":
            y = torch.cat([y[:, : self.w_in] + x, y[:, self.w_in :]], dim=1)
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


# Modules of the mobile and dense families. Shuffle, index-select and concatenation cost
# nothing by the convention. Shuffle and index-select are reshapes inside container modules,
# so the leaves a counter sees stay ordinary convs, norms, acts and pools; a concatenation
# ends in a free identity leaf, so that counters see the joined tensor.


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: (N, g*c, H, W) viewed as (N, g, c, H, W), transposed, flattened."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffledConvBNAct(ConvBNAct):
    """conv, bn [, act], channel shuffle."""

    def __init__(self, u: ShuffleConvBN):
        super().__init__(ConvBN(u.w_in, u.w_out, 1, groups=u.groups, act=u.act))
        self.groups = u.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(super().forward(x), self.groups)


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


def mobile_unit_module(u) -> nn.Module:
    """The module of a mobile-family unit."""
    if isinstance(u, Conv):
        return nn.Conv2d(u.w_in, u.w_out, u.kernel, u.stride, u.padding, u.dilation, u.groups, bias=u.bias)
    if isinstance(u, BN):
        return nn.BatchNorm2d(u.w)
    if isinstance(u, AvgPool):
        return nn.AvgPool2d(u.kernel, u.stride, u.padding)
    if isinstance(u, ShuffleConvBN):
        return ShuffledConvBNAct(u)
    if isinstance(u, CondensedConv):
        return CondensedConvModule(u)
    assert isinstance(u, CondensedLinear), u  # MOBILE_UNITS lists no other
    return CondensedLinearModule(u)


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
