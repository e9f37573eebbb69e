"""The torch modules of a spec's units: conv [, bn] [, act] [, shuffle], norm [, act], pools, and the attention
(SE, SK, split attention, CBAM) and condensed (CondenseNet) units, each a container of ordinary leaves.

``build`` assembles them into blocks and a network (``build.MODULES`` maps each unit type to one of them).
"""

from __future__ import annotations

import torch
from torch import nn

from netprobe.spec import CBAM, SE, AvgDown, CondensedConv, CondensedLinear, Conv, Norm, SelectiveKernel, SplitAttn

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
