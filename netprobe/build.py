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
from netprobe.unit_modules import (AvgDownModule, CBAMModule, CondensedConvModule, CondensedLinearModule,
                                   GlobalAvgPool, SelectiveKernelModule, SplitAttnModule, SqueezeExcite, activation,
                                   channel_shuffle, conv_module, norm_module)

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
