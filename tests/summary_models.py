"""Small models for the summary tests, importable as ``summary_models:NAME``."""

import torch
from torch import nn


def tiny() -> nn.Module:
    """conv /2, conv /2, global pool, fc: every count can be worked out by hand."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )


class Doubler(nn.Module):
    """A leaf module netprobe has no formula for."""

    def forward(self, x):
        return x * 2


class MatmulHead(nn.Module):
    """A classifier that multiplies by a parameter outside any nn.Linear."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(16, 10))

    def forward(self, x):
        return torch.matmul(x, self.w)


def uncountable() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), Doubler(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), MatmulHead())


class MyBN(nn.BatchNorm2d):
    """A BatchNorm2d subclass, as model code often defines."""


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's fused norm + act: a BatchNorm2d that is not a leaf (it holds drop and act modules)."""

    def __init__(self, w):
        super().__init__(w)
        self.drop = nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False)
        return self.act(self.drop(x))


class MyReLU(nn.ReLU):
    """An activation subclass."""


def subclassed_norms() -> nn.Module:
    """``tiny`` with its norms and an activation replaced by subclasses: the same counts."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1, bias=False), MyBN(8), MyReLU(),
        nn.Conv2d(8, 16, 3, 2, 1, bias=False), BatchNormAct2d(16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )


class SE(nn.Module):
    """Squeeze-and-excitation: pool, 1x1 reduce, relu, 1x1 expand, sigmoid, multiply."""

    def __init__(self, w, w_se):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(w, w_se, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(w_se, w, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class ResidualSE(nn.Module):
    """conv, bn, in-place relu, SE, residual add, 1x1 conv, then pool, flatten, fc: every kind of output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU(inplace=True)
        self.se = SE(8, 2)
        self.out = nn.Conv2d(8, 8, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        x = self.out(x + self.se(x))
        return self.fc(self.flatten(self.pool(x)))


def factorized() -> nn.Module:
    """Inception-style 1x7 and 7x1 convs, and a 3x3 conv strided along the width only."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.Conv2d(8, 8, (1, 7), padding=(0, 3)), nn.Conv2d(8, 8, (7, 1), padding=(3, 0)),
        nn.Conv2d(8, 8, 3, (1, 2), 1, groups=8), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    )


def conv1d_factory() -> nn.Module:
    """A conv over the flattened pixels: Conv1d with a bias, 1-D pools."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.Flatten(2), nn.Conv1d(8, 16, 3, padding=1), nn.MaxPool1d(2),
        nn.Conv1d(16, 16, 3, 2, 1, groups=16, bias=False), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, 10),
    )


class Block(nn.Module):
    """torchvision-style basic block: the 3x3 conv inside it downsamples, the shortcut joins after."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(w_in, w_out, 1, bias=False)
        self.conv2 = nn.Conv2d(w_out, w_out, 3, stride, 1, bias=False)
        self.downsample = nn.Conv2d(w_in, w_out, 1, stride, bias=False)

    def forward(self, x):
        return self.conv2(self.conv1(x)) + self.downsample(x)


class TorchvisionStyle(nn.Module):
    """conv1 + maxpool as loose top-level leaves, then layer1..layer3 of blocks, avgpool, fc."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Block(8, 8, 1), Block(8, 8, 1))
        self.layer2 = nn.Sequential(Block(8, 16, 2), Block(16, 16, 1))
        self.layer3 = nn.Sequential(Block(16, 32, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 5)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def unpadded() -> nn.Module:
    """An unpadded 5x5 conv: PyTorch itself refuses inputs smaller than 5 px."""
    return nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU())


def broken() -> nn.Module:
    raise RuntimeError("weights file missing")


def not_a_module():
    return 42


NOT_CALLABLE = 3


class SEBlock(nn.Module):
    """3x3 conv, SE, residual add: the block's last layer is the SE gate at 1x1."""

    def __init__(self, w):
        super().__init__()
        self.conv = nn.Conv2d(w, w, 3, 1, 1, bias=False)
        self.se = SE(w, 2)

    def forward(self, x):
        return x + self.se(self.conv(x))


def se_stages() -> nn.Module:
    """Two stages, each ending in an SE block whose output is an add."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1, bias=False), SEBlock(8),
        nn.Conv2d(8, 16, 3, 2, 1, bias=False), SEBlock(16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth's name and eval-mode behaviour."""

    def forward(self, x):
        return x


def with_stochastic_depth() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), StochasticDepth(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


class Attention(nn.Module):
    """A transformer block as model code writes one: norms, sdpa, '@', softmax, GELU, adds spelled both ways."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v)
        scores = nn.functional.softmax(q @ k.transpose(-2, -1), dim=-1)
        a = a + torch.matmul(scores, v)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, c))
        return x.add(self.mlp(x))


class TinyViT(nn.Module):
    """Patch conv, two attention blocks, an upsampled side output, group norm, mean pool, head."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 32, 4, 4)
        self.gn = nn.GroupNorm(4, 32)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.blocks = nn.Sequential(Attention(), Attention())
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = self.gn(self.patch(x))
        side = nn.functional.interpolate(self.up(x), size=(4, 4)).mean()
        x = self.blocks(x.flatten(2).transpose(1, 2))
        return self.head(x.mean(1)) + side


def tiny_vit() -> nn.Module:
    return TinyViT()


class SelfAttention(nn.Module):
    """nn.MultiheadAttention as torchvision's ViT calls it: fused on a real device in inference, not on meta."""

    def __init__(self, batch_first=True):
        super().__init__()
        self.patch = nn.Conv2d(3, 32, 8, 8)
        self.mha = nn.MultiheadAttention(32, 4, batch_first=batch_first)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        return self.mha(x, x, x, need_weights=False)[0].mean(1)


def mha() -> nn.Module:
    return SelfAttention()


def mha_seq_first() -> nn.Module:
    """Sequence-first: no fused path, the same ops everywhere."""
    return SelfAttention(batch_first=False)


class Inception(nn.Module):
    """A branch pooled by F.avg_pool2d in a container's own forward (timm's Inception blocks)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)

    def forward(self, x):
        x = self.conv(x)
        return torch.cat([x, nn.functional.avg_pool2d(x, 3, 1, 1)], 1).mean((2, 3))


def inception() -> nn.Module:
    return Inception()


class SharedPosEnc(nn.Module):
    """A conv shared by the model and each of its blocks (CoaT's shared_cpe): ptflops sums it once per parent."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, 4)
        self.cpe = nn.Conv2d(8, 8, 3, 1, 1, groups=8)
        self.blocks = nn.ModuleList(nn.Sequential(nn.BatchNorm2d(8)) for _ in range(2))
        for block in self.blocks:
            block.cpe = self.cpe

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(block.cpe(x))
        return x.mean((2, 3))


def shared() -> nn.Module:
    return SharedPosEnc()


class Einsum(nn.Module):
    """Attention by einsum (torchvision's MaxViT): fvcore rounds its estimate, the others count exactly."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 24, 4, 4)

    def forward(self, x):
        t = self.patch(x).flatten(2).reshape(1, 2, 3, 4, -1).transpose(-1, -2)  # B G H I D
        a = torch.einsum("B G H I D, B G H J D -> B G H I J", t, t)
        return torch.einsum("bghij,bghjd->bghid", a, t).mean() + torch.einsum("abc,abd->acd", t[0, 0], t[0, 0]).mean()


def einsum() -> nn.Module:
    return Einsum()
