"""Small modules written the way timm and torchvision write theirs, importable as ``hub_patterns:NAME``.

Each reproduces a pattern that hooks on leaf modules alone count wrong or stage wrong:
windows folded into the batch, attention by functional calls and fused kernels, SE that
squeezes with ``x.mean``, a conv or a norm after the global pool, stage containers, a
constructor that cannot run on ``meta``, ops with no formula.
"""

import torch
from torch import nn
from torch.nn import functional as F


class WindowAttention(nn.Module):
    """Swin: windows folded into the batch, qkv and proj Linear on them, q @ k^T and attn @ v."""

    def __init__(self, dim, heads, window):
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # (B, H, W, C)
        b, h, w, c = x.shape
        s = self.window
        x = x.view(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, s * s, c)
        n = x.shape[1]
        q, k, v = self.qkv(x).reshape(-1, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * 0.5 @ k.transpose(-2, -1)).softmax(-1)
        x = self.proj((attn @ v).transpose(1, 2).reshape(-1, n, c))
        return x.view(b, h // s, w // s, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


class GELU(nn.Module):
    """A library's own activation class (not an nn.GELU subclass)."""

    def forward(self, x):
        return F.gelu(x)


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, window):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2x2 neighbours concatenated, LayerNorm, Linear 4C -> 2C (NHWC)."""

    def __init__(self, dim):
        super().__init__()
        self.norm, self.reduction = nn.LayerNorm(4 * dim), nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """timm's stage: an optional downsample, then a run of blocks."""

    def __init__(self, dim, depth, heads, window, downsample):
        super().__init__()
        self.downsample = PatchMerging(dim // 2) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[SwinBlock(dim, heads, window) for _ in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class TinySwin(nn.Module):
    """Patch embedding (4x4 conv), two stages (C=16, then 32 after merging), norm, mean, head."""

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, 16, 4, 4)
        self.layers = nn.Sequential(SwinStage(16, 2, 2, 4, False), SwinStage(32, 2, 4, 4, True))
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = self.layers(self.patch_embed(x).permute(0, 2, 3, 1))
        return self.head(self.norm(x).mean((1, 2)))


class EncoderBlock(nn.Module):
    """torchvision's ViT block: nn.MultiheadAttention (in/out projections by F.linear), MLP."""

    def __init__(self, dim, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.self_attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, tokens, dim, depth, heads):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.zeros(1, tokens, dim))
        self.layers = nn.Sequential(*[EncoderBlock(dim, heads) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)

    def forward(self, x):
        return self.ln(self.layers(x + self.pos_embedding))


class TinyViT(nn.Module):
    """16 px patches of a 64 px image: 16 tokens + a class token, 32 wide, 2 blocks."""

    def __init__(self):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, 32, 16, 16)
        self.class_token = nn.Parameter(torch.zeros(1, 1, 32))
        self.encoder = Encoder(17, 32, 2, 4)
        self.heads = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


class MeanSE(nn.Module):
    """timm's SqueezeExcite: squeezes with x.mean, not a pooling module."""

    def __init__(self, w, w_se):
        super().__init__()
        self.conv_reduce, self.act = nn.Conv2d(w, w_se, 1), nn.ReLU()
        self.conv_expand, self.gate = nn.Conv2d(w_se, w, 1), nn.Sigmoid()

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.conv_expand(self.act(self.conv_reduce(s))))


class MBBlock(nn.Module):
    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.conv_dw = nn.Conv2d(w_in, w_in, 3, stride, 1, groups=w_in, bias=False)
        self.bn1 = nn.BatchNorm2d(w_in)
        self.se = MeanSE(w_in, 4)
        self.conv_pw = nn.Conv2d(w_in, w_out, 1, bias=False)

    def forward(self, x):
        return self.conv_pw(self.se(self.bn1(self.conv_dw(x))))


class TimmEfficientNetLike(nn.Module):
    """conv_stem, blocks = three stages (Sequentials of blocks, one at stride 1), conv_head before the pool."""

    def __init__(self):
        super().__init__()
        self.conv_stem = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.blocks = nn.Sequential(nn.Sequential(MBBlock(8, 8, 1)),
                                    nn.Sequential(MBBlock(8, 16, 2), MBBlock(16, 16, 1)),
                                    nn.Sequential(MBBlock(16, 24, 1)))
        self.conv_head = nn.Conv2d(24, 64, 1, bias=False)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv_head(self.blocks(self.conv_stem(x)))
        return self.classifier(self.global_pool(x).flatten(1))


def flat_mean_se() -> nn.Module:
    """No containers: stages by stride, the x.mean SE of every block inside its stage."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), MBBlock(8, 8, 1), MBBlock(8, 16, 2), MBBlock(16, 16, 1),
                         MBBlock(16, 24, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10))


class MobileNetV3Head(nn.Module):
    """timm's MobileNetV3 ending: global pool, then a 1x1 conv with bias, act, flatten, classifier."""

    def __init__(self):
        super().__init__()
        self.conv_stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 2, 1)
        self.conv3 = nn.Conv2d(16, 16, 3, 2, 1)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_head = nn.Conv2d(16, 32, 1)
        self.act = nn.Hardswish()
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv3(self.conv2(self.conv_stem(x)))
        return self.classifier(self.flatten(self.act(self.conv_head(self.global_pool(x)))))


class LayerNorm2d(nn.LayerNorm):
    """torchvision's and timm's channels-first LayerNorm."""

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias).permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class CNBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(dim, dim, 7, padding=3, groups=dim), Permute((0, 2, 3, 1)),
                                   nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim),
                                   Permute((0, 3, 1, 2)))

    def forward(self, x):
        return x + self.block(x)


class TorchvisionConvNeXtLike(nn.Module):
    """features = stem, then stages and downsampling layers alternating; LayerNorm after the pool."""

    def __init__(self, dims=(8, 16, 32, 64)):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0]))]
        for i, d in enumerate(dims):
            if i:
                layers.append(nn.Sequential(LayerNorm2d(dims[i - 1]), nn.Conv2d(dims[i - 1], d, 2, 2)))
            layers.append(nn.Sequential(CNBlock(d), CNBlock(d)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(dims[-1]), nn.Flatten(1), nn.Linear(dims[-1], 10))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


class ListyConstructor(nn.Module):
    """torchvision's RegNet calls .tolist() in its constructor, which a meta tensor cannot do."""

    def __init__(self):
        super().__init__()
        widths = torch.tensor([8, 16]).tolist()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 2, 1)
        self.conv2 = nn.Conv2d(widths[0], widths[1], 3, 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[1], 10)

    def forward(self, x):
        return self.fc(self.pool(self.conv2(self.conv1(x))).flatten(1))


class DataDependent(nn.Module):
    """A forward that reads a value (``.item()``), which the meta device cannot give."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.conv(x)
        if x.abs().sum().item() >= 0:
            x = x.relu()
        return self.fc(x.mean((2, 3)))


@torch.library.custom_op("netprobe_tests::scale", mutates_args=())
def scale(x: torch.Tensor) -> torch.Tensor:
    """A custom C++-style op netprobe has no formula for."""
    return x * 2


@scale.register_fake
def _(x):
    return torch.empty_like(x)


class SpectralMix(nn.Module):
    """An fft and a custom op between convs: arithmetic with no formula."""

    def forward(self, x):
        return scale(torch.fft.fft2(x).real)


class AuxHead(nn.Module):
    """Inception's auxiliary classifier: parameters, but never run in eval mode."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(x.mean((2, 3)))


class Uncountable(nn.Module):
    """conv, an fft and a custom op, a free multiply, a matmul by a parameter, and an aux head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.mix = SpectralMix()
        self.w = nn.Parameter(torch.zeros(8, 10))
        self.aux = AuxHead()
        self.act = GELU()

    def forward(self, x):
        x = self.act(self.mix(self.conv(x)) * 2)
        if self.training:
            self.aux(x)
        return torch.matmul(x.mean((2, 3)), self.w)
