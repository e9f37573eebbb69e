"""Hand-written modules with the stage layouts of timm's pyramids, and the reductions each declares (its feature_info)."""

import torch
from torch import nn


def conv(w_in, w_out, stride=1):
    return nn.Sequential(nn.Conv2d(w_in, w_out, 3, stride, 1), nn.BatchNorm2d(w_out), nn.ReLU())


class ConvBn(nn.Module):
    """timm's ConvNormAct: a module of its own, so that a list of them is a run of blocks."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(w_in, w_out, 3, stride, 1), nn.BatchNorm2d(w_out)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Branches(nn.Module):
    """A MobileOne / Inception block: parallel branches in a ModuleList, summed."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.branches = nn.ModuleList([ConvBn(w_in, w_out, stride), ConvBn(w_in, w_out, stride)])

    def forward(self, x):
        return sum(b(x) for b in self.branches)


class OneContainerPerBlock(nn.Module):
    """Every block its own container (``stages.N.M`` holds a run of branches): MobileOne, Inception."""

    reductions = (2, 4, 8, 16)

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 2)
        self.stages = nn.Sequential(*[nn.Sequential(Branches(8, 8, 2), Branches(8, 8, 1), Branches(8, 8, 1))
                                      for _ in range(3)])
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)).mean((2, 3)))


class Stage(nn.Module):
    """A DaViT stage: a downsampling conv, then blocks that are Sequentials of layers."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.downsample = conv(w_in, w_out, stride)
        self.blocks = nn.Sequential(*[nn.Sequential(conv(w_out, w_out), conv(w_out, w_out)) for _ in range(2)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class ContainerAcrossStrides(nn.Module):
    """One ``stages`` container that runs at four strides: DaViT, Hiera, MaxViT."""

    reductions = (4, 8, 16, 32)

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 4)
        self.stages = nn.Sequential(Stage(8, 8, 1), Stage(8, 16, 2), Stage(16, 32, 2), Stage(32, 64, 2))
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)).mean((2, 3)))


class Block(nn.Module):
    """A transformer block reduced to its MLP on tokens."""

    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


class TokenModel(nn.Module):
    """A ViT: 8x8 patches, a class token, then blocks of tokens; ``class_blocks`` adds CaiT's class attention."""

    reductions = (8,)

    def __init__(self, class_blocks=0):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, 16, 8, 8)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 16))
        self.blocks = nn.Sequential(*[Block(16) for _ in range(3)])
        self.blocks_token_only = nn.ModuleList([Block(16) for _ in range(class_blocks)])
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = self.blocks(torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1))
        cls = x[:, :1]
        for block in self.blocks_token_only:
            cls = block(cls + x.mean(1, keepdim=True))
        return self.head(cls[:, 0])


def class_token_model():
    return TokenModel(class_blocks=2)


class Residual(nn.Module):
    """A residual conv block: a module of its own, so that a list of them is a run of blocks."""

    def __init__(self, w):
        super().__init__()
        self.conv = conv(w, w)

    def forward(self, x):
        return x + self.conv(x)


class SwinStage(nn.Module):
    """A Swin / ConvNeXt stage: a downsampling layer and a run of blocks, in a module of its own."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.downsample = conv(w_in, w_out, stride)
        self.blocks = nn.Sequential(Residual(w_out), Residual(w_out))

    def forward(self, x):
        return self.blocks(self.downsample(x))


class StageList(nn.Module):
    """Stages in a list named ``layers``, two of them at one stride: each stays a stage."""

    reductions = (4, 8)

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 4)
        self.layers = nn.Sequential(SwinStage(8, 8, 1), SwinStage(8, 16, 1), SwinStage(16, 32, 2))
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.layers(self.stem(x)).mean((2, 3)))


class TailStage(nn.Module):
    """An EfficientViM stage: its blocks, then the downsampling into the next stage's stride."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.blocks = nn.Sequential(Residual(w_in), Residual(w_in))
        self.downsample = conv(w_in, w_out, stride) if stride > 1 else nn.Identity()

    def forward(self, x):
        return self.downsample(self.blocks(x))


class DownsampleAtTheEnd(nn.Module):
    """Stages that end in the next stage's downsampling (EfficientViM)."""

    reductions = (4, 8, 16)

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 4)
        self.stages = nn.Sequential(TailStage(8, 16, 2), TailStage(16, 32, 2), TailStage(32, 32, 1))
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)).mean((2, 3)))


class LongStem(nn.Module):
    """Inception's stem: plain layers down to 1/8 before the first container, with timm's feature_info."""

    reductions = (2, 4, 8, 16)

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.pool = conv(3, 8, 2), conv(8, 8, 2), nn.MaxPool2d(2)
        self.blocks = nn.Sequential(Residual(8), Residual(8))
        self.down = conv(8, 16, 2)
        self.blocks2 = nn.Sequential(Residual(16), Residual(16))
        self.head = nn.Linear(16, 10)
        self.feature_info = [dict(module="conv1", reduction=2), dict(module="conv2", reduction=4),
                             dict(module="blocks", reduction=8), dict(module="blocks2", reduction=16)]

    def forward(self, x):
        x = self.blocks(self.pool(self.conv2(self.conv1(x))))
        return self.head(self.blocks2(self.down(x)).mean((2, 3)))
