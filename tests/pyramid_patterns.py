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


class TableBlock(nn.Module):
    """A Swin V2 block on an NHWC map: its attention's bias is an MLP over a buffer of window offsets."""

    def __init__(self, dim, window):
        super().__init__()
        offsets = torch.arange(1 - window, window, dtype=torch.float32)
        self.register_buffer("table", torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), -1)[None])
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))  # 1 x (2w-1) x (2w-1) x heads
        self.norm, self.fc = nn.LayerNorm(dim), nn.Linear(dim, dim)

    def forward(self, x):
        bias = self.cpb_mlp(self.table).mean()  # before the attention it biases, as Swin V2's
        return x + self.fc(self.norm(x)) * bias


class Merge(nn.Module):
    """Swin's patch merging: 2x2 neighbours into channels, then a linear."""

    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim)

    def forward(self, x):
        b, h, w, c = x.shape
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).reshape(b, h // 2, w // 2, 4 * c)
        return self.reduction(x)


class TableStage(nn.Module):
    def __init__(self, dim, merge):
        super().__init__()
        self.downsample = Merge(dim // 2) if merge else nn.Identity()
        self.blocks = nn.Sequential(TableBlock(dim, 4), TableBlock(dim, 4))

    def forward(self, x):
        return self.blocks(self.downsample(x))


class PositionTable(nn.Module):
    """Swin V2: a 7x7 table of offsets (windows of 4) beside a 16x16 map; the table is no level."""

    reductions = (4, 8)

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, 8, 4, 4)
        self.layers = nn.Sequential(TableStage(8, False), TableStage(16, True))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.layers(self.patch_embed(x).permute(0, 2, 3, 1)).mean((1, 2)))


class ReducedAttention(nn.Module):
    """A Twins / PVT block: keys and values from the map taken down by a strided conv, queries on every token."""

    def __init__(self, dim, sr):
        super().__init__()
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        self.sr, self.norm = nn.Conv2d(dim, dim, sr, sr), nn.LayerNorm(dim)

    def forward(self, x, hw):
        q = self.q(x)
        kv = self.kv(self.norm(self.sr(x.transpose(1, 2).reshape(x.shape[0], -1, *hw)).flatten(2).transpose(1, 2)))
        k, v = kv.chunk(2, -1)
        return x + self.proj(torch.softmax(q @ k.transpose(1, 2), -1) @ v)


class InterleavedLists(nn.Module):
    """Twins: lists indexed by stage (patch embeddings, blocks, a position conv) run in turn."""

    reductions = (4, 8, 16)

    def __init__(self):
        super().__init__()
        dims = (8, 16, 32)
        self.patch_embeds = nn.ModuleList([ConvBn(w_in, w, s) for w_in, w, s in zip((3, 8, 16), dims, (4, 2, 2))])
        self.blocks = nn.ModuleList([nn.ModuleList([ReducedAttention(w, 4 // 2 ** k) for _ in range(2)])
                                     for k, w in enumerate(dims)])
        self.pos_block = nn.ModuleList([ConvBn(w, w, 1) for w in dims])
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        for embed, blocks, pos in zip(self.patch_embeds, self.blocks, self.pos_block):
            x = embed(x)
            hw = x.shape[2:]
            x = x.flatten(2).transpose(1, 2)
            for k, block in enumerate(blocks):
                x = block(x, hw)
                if k == 0:
                    x = pos(x.transpose(1, 2).reshape(x.shape[0], -1, *hw)).flatten(2).transpose(1, 2)
            x = x.transpose(1, 2).reshape(x.shape[0], -1, *hw)
        return self.head(x.mean((2, 3)))


class XceptionBlock(nn.Module):
    """An Xception block: a strided 1x1 shortcut and a ``rep`` Sequential of layers, no blocks inside."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.skip = nn.Conv2d(w_in, w_out, 1, stride) if stride > 1 or w_in != w_out else None
        self.rep = nn.Sequential(nn.ReLU(), nn.Conv2d(w_in, w_out, 3, 1, 1), nn.BatchNorm2d(w_out),
                                 nn.MaxPool2d(3, stride, 1) if stride > 1 else nn.Identity())

    def forward(self, x):
        return self.rep(x) + (self.skip(x) if self.skip is not None else x)


class NumberedBlocks(nn.Module):
    """Xception: ``block1``..``block12`` are blocks, not stages; the middle flow's eight at one stride are one."""

    reductions = (2, 4, 8, 16, 32)

    def __init__(self):
        super().__init__()
        self.conv1 = conv(3, 8, 2)
        widths = [(8, 8, 2), (8, 16, 2), (16, 32, 2)] + [(32, 32, 1)] * 8 + [(32, 64, 2)]
        for k, (w_in, w_out, stride) in enumerate(widths, 1):
            setattr(self, f"block{k}", XceptionBlock(w_in, w_out, stride))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        for k in range(1, 13):
            x = getattr(self, f"block{k}")(x)
        return self.fc(x.mean((2, 3)))


def bn_act_conv(w_in, w_out, kernel, stride):
    """DPN's pre-activated conv: a norm and an activation on the input map first."""
    return nn.Sequential(nn.BatchNorm2d(w_in), nn.ReLU(), nn.Conv2d(w_in, w_out, kernel, stride, kernel // 2))


class DualPath(nn.Module):
    """A DPN block: its strided projection first, then its main path from the input map again."""

    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.proj = bn_act_conv(w_in, w_out, 1, stride) if stride > 1 or w_in != w_out else None
        self.a, self.b = bn_act_conv(w_in, w_out, 1, 1), bn_act_conv(w_out, w_out, 3, stride)

    def forward(self, x):
        shortcut = self.proj(x) if self.proj is not None else x
        return shortcut + self.b(self.a(x))


class BlocksOnTwoMaps(nn.Module):
    """DPN, NASNet: no stage containers, and a reducing block runs on the map before it and the one after."""

    reductions = (4, 8, 16, 32)

    def __init__(self):
        super().__init__()
        self.conv1 = conv(3, 8, 2)
        widths = [(8, 8, 2), (8, 16, 2), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1)]
        for k, (w_in, w_out, stride) in enumerate(widths):
            setattr(self, f"dual{k}", DualPath(w_in, w_out, stride))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        for k in range(7):
            x = getattr(self, f"dual{k}")(x)
        return self.fc(x.mean((2, 3)))


class SeparableModule(nn.Module):
    """An aligned-Xception module: a ``stack`` of layers (not a run of blocks), a strided shortcut."""

    def __init__(self, w_in, w_out, stride, run=False):
        super().__init__()
        self.stack = (nn.Sequential(ConvBn(w_in, w_out, 1), ConvBn(w_out, w_out, stride)) if run else
                      nn.Sequential(nn.ReLU(), nn.Conv2d(w_in, w_out, 3, 1, 1), nn.ReLU(),
                                    nn.Conv2d(w_out, w_out, 3, stride, 1)))
        self.shortcut = nn.Conv2d(w_in, w_out, 1, stride)

    def forward(self, x):
        return self.stack(x) + self.shortcut(x)


class BlocksBetweenContainers(nn.Module):
    """Aligned Xception: a stem and the last module are containers; the modules between them are none."""

    reductions = (2, 4, 8, 16, 32)

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(ConvBn(3, 8, 2), ConvBn(8, 8, 1))
        widths = [(8, 8, 2), (8, 16, 2), (16, 16, 1), (16, 32, 2), (32, 32, 1)]
        self.blocks = nn.Sequential(*[SeparableModule(*w) for w in widths], SeparableModule(32, 64, 2, run=True))
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


class StagesOfLayers(nn.Module):
    """StarNet: no containers (each stage opens with a Sequential of layers), then a norm on the last map."""

    reductions = (2, 4, 8, 16, 32)

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 2)
        self.stages = nn.Sequential(*[nn.Sequential(conv(w_in, w, 2), Residual(w), Residual(w))
                                      for w_in, w in ((8, 8), (8, 16), (16, 32), (32, 64))])
        self.norm = nn.BatchNorm2d(64)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.norm(self.stages(self.stem(x))).mean((2, 3)))


class LevelsInTheHead(nn.Module):
    """SelecSLS: strided convs after the last container, declared as levels in its feature_info."""

    reductions = (2, 4, 8, 16, 32)

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 2)
        self.features = nn.Sequential(ConvBn(8, 32, 2), Residual(32), ConvBn(32, 32, 2), Residual(32))
        self.head = nn.Sequential(conv(32, 16, 2), conv(16, 16), conv(16, 16, 2), conv(16, 16))  # its lesser part
        self.fc = nn.Linear(16, 10)
        self.feature_info = [dict(module="stem", reduction=2), dict(module="features.1", reduction=4),
                             dict(module="features.3", reduction=8), dict(module="head.1", reduction=16),
                             dict(module="head.3", reduction=32)]

    def forward(self, x):
        return self.fc(self.head(self.features(self.stem(x))).mean((2, 3)))


class Outlooker(nn.Module):
    """A VOLO outlooker on an NHWC map: its attention weights come from the map pooled by 2."""

    def __init__(self, dim):
        super().__init__()
        self.v, self.attn, self.proj = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x):
        v = self.v(x)
        weights = self.attn(self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)).mean((1, 2), keepdim=True)
        return x + self.proj(v * weights)


class Downsample(nn.Module):
    """VOLO's downsampling between its NHWC stages: a strided conv."""

    def __init__(self, w_in, w_out):
        super().__init__()
        self.proj = nn.Conv2d(w_in, w_out, 2, 2)

    def forward(self, x):
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class PooledAttention(nn.Module):
    """VOLO: outlookers at 1/8, whose pooled attention is no level, then transformer blocks at 1/16."""

    reductions = (8, 16)

    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, 8, 8, 8)
        self.network = nn.Sequential(nn.Sequential(Outlooker(8), Outlooker(8)), Downsample(8, 16),
                                     nn.Sequential(Block(16), Block(16)))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.network(self.patch_embed(x).permute(0, 2, 3, 1)).mean((1, 2)))


def valid(w_in, w_out, stride=1):
    """An unpadded 3x3 conv, as Inception's: it loses 2 px of its map."""
    return nn.Sequential(nn.Conv2d(w_in, w_out, 3, stride), nn.ReLU())


def unpadded():
    """Inception's maps at 128 px: 63, 61 (stem), 30, 28 (1/4), 13 (1/8), 6 (1/16), 2 (1/32)."""
    return nn.Sequential(valid(3, 8, 2), valid(8, 8), nn.MaxPool2d(3, 2), valid(8, 8), nn.MaxPool2d(3, 2),
                         valid(8, 16, 2), valid(16, 32, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


unpadded.reductions = (2, 4, 8, 16, 32)


class Scales(nn.Module):
    """CoaT's parallel block: each layer on its three scales in turn (the coarsest after another one)."""

    def __init__(self, dim):
        super().__init__()
        self.cpe = nn.Conv2d(dim, dim, 3, 1, 1)
        self.norm1, self.fc, self.norm2 = nn.LayerNorm(dim), nn.Linear(dim, dim), nn.LayerNorm(dim)

    def forward(self, maps):
        fine, mid, coarse = maps
        tokens = [self.norm1(m.flatten(2).transpose(1, 2)) for m in (self.cpe(mid), coarse, fine)]
        tokens = [t + self.fc(t) for t in tokens]
        return [self.norm2(t) for t in tokens]


class ParallelScales(nn.Module):
    """CoaT: serial stages at 1/4, 1/8 and 1/16, then a stage on all three at once; its head reads the coarsest."""

    reductions = (4, 8, 16)

    def __init__(self):
        super().__init__()
        self.patch_embeds = nn.ModuleList([nn.Conv2d(3, 8, 4, 4), nn.Conv2d(8, 8, 2, 2), nn.Conv2d(8, 8, 2, 2)])
        self.serial_blocks = nn.ModuleList([nn.Sequential(Residual(8), Residual(8)) for _ in range(3)])
        self.parallel_blocks = nn.Sequential(Scales(8))
        self.norms = nn.ModuleList([nn.LayerNorm(8) for _ in range(3)])  # one per scale, finest first
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        maps = []
        for embed, blocks in zip(self.patch_embeds, self.serial_blocks):
            x = blocks(embed(x))
            maps.append(x)
        mid, coarse, fine = self.parallel_blocks(maps)
        fine, mid, coarse = (norm(t) for norm, t in zip(self.norms, (fine, mid, coarse)))
        return self.head(coarse.mean(1))


class CutPatches(nn.Module):
    """NaFlexViT, TNT: the image unfolded into 8x8 patches that a linear embeds (no conv reads it), a class
    token and register tokens beside them, then blocks of tokens; ``reshape`` cuts them by reshaping instead."""

    reductions = (8,)

    def __init__(self, reshape=False):
        super().__init__()
        self.reshape = reshape
        self.unfold = nn.Unfold(8, stride=8)
        self.proj = nn.Linear(3 * 8 * 8, 16)
        self.extra_tokens = nn.Parameter(torch.zeros(1, 5, 16))
        self.blocks = nn.Sequential(*[Block(16) for _ in range(3)])
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        b, c, h, w = x.shape
        if self.reshape:  # (B, C, H/8, 8, W/8, 8) -> (B, N, 8*8*C)
            patches = x.reshape(b, c, h // 8, 8, w // 8, 8).permute(0, 2, 4, 3, 5, 1).reshape(b, -1, 64 * c)
        else:
            patches = self.unfold(x).transpose(1, 2)
        x = self.proj(patches)
        x = self.blocks(torch.cat([self.extra_tokens.expand(b, -1, -1), x], 1))
        return self.head(x[:, 0])


def reshaped_patches():
    return CutPatches(reshape=True)


reshaped_patches.reductions = (8,)


class DenseLayer(nn.Module):
    """A dense block: a few channels computed from the map, concatenated to it."""

    def __init__(self, w_in, growth):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(w_in, w_in, 3, 1, 1, groups=w_in), nn.Conv2d(w_in, growth, 1))

    def forward(self, x):
        return torch.cat([x, self.layers(x)], 1)


class SubStages(nn.Module):
    """RDNet: ``dense_stages.N`` are sub-stages (a norm, a transition conv, ``dense_block0``..), eleven of them
    on four strides, seven at 1/16; its feature_info declares one level per stride."""

    reductions = (4, 8, 16, 32)

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 4, 4), nn.BatchNorm2d(8))
        strides = [None, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1]
        self.dense_stages = nn.Sequential(*[sub_stage(stride) for stride in strides])
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.dense_stages(self.stem(x)).mean((2, 3)))


def sub_stage(stride):
    """An RDNet sub-stage: a transition from 16 channels to 8 (strided where the stage is; none in the first),
    then two dense blocks back to 16."""
    blocks = nn.Sequential()
    for k in range(2):
        blocks.add_module(f"dense_block{k}", DenseLayer(8 + 4 * k, 4))
    if stride is None:
        return nn.Sequential(blocks)
    return nn.Sequential(nn.BatchNorm2d(16), nn.Conv2d(16, 8, stride, stride), blocks)


class GatedBlock(nn.Module):
    """CSATv2's block: a conv, then a spatial gate from the channels' mean and max pooled to 7x7, scaled
    back up to the block's map and multiplied in."""

    def __init__(self, w):
        super().__init__()
        self.conv = nn.Conv2d(w, w, 3, 1, 1, groups=w)
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.gate = nn.Conv2d(2, 1, 3, 1, 1)

    def forward(self, x):
        x = self.conv(x)
        stats = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        gate = torch.sigmoid(self.gate(self.pool(stats)))
        return x * nn.functional.interpolate(gate, size=x.shape[2:], mode="bilinear")


class PooledGate(nn.Module):
    """CSATv2: ``stages.N`` (blocks and a norm, no run of blocks) whose blocks gate their map from 7x7; at 64 px
    the first stage's 16x16 pools to 7x7, one level with the next stage's 8x8; the stem and the first stage
    are declared levels at one stride."""

    reductions = (4, 4, 8, 16)

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, 4)
        self.stages = nn.Sequential(nn.Sequential(GatedBlock(8), GatedBlock(8), nn.BatchNorm2d(8)),
                                    nn.Sequential(nn.Conv2d(8, 16, 2, 2), GatedBlock(16), GatedBlock(16)),
                                    nn.Sequential(nn.Conv2d(16, 32, 2, 2), GatedBlock(32)))
        self.head = nn.Linear(32, 10)
        self.feature_info = [dict(module="stem", reduction=4), dict(module="stages.0", reduction=4),
                             dict(module="stages.1", reduction=8), dict(module="stages.2", reduction=16)]

    def forward(self, x):
        return self.head(self.stages(self.stem(x)).mean((2, 3)))


class Down(nn.Module):
    """A U-Net encoder level: a max-pool, then a conv."""

    def __init__(self, w_in, w_out):
        super().__init__()
        self.pool, self.conv = nn.MaxPool2d(2), conv(w_in, w_out)

    def forward(self, x):
        return self.conv(self.pool(x))


class Up(nn.Module):
    """A U-Net decoder level: the coarser map scaled up, concatenated with the skip, then a conv."""

    def __init__(self, w_in, w_out):
        super().__init__()
        self.conv = conv(w_in, w_out)

    def forward(self, x, skip):
        return self.conv(torch.cat([nn.functional.interpolate(x, scale_factor=2), skip], 1))


class Decoder(nn.Module):
    """A U-Net with one level down: pooled in one module, scaled back up in another, so a level of its own."""

    def __init__(self):
        super().__init__()
        self.inc, self.down, self.up = conv(3, 8), Down(8, 16), Up(24, 8)
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        skip = self.inc(x)
        return self.out(self.up(self.down(skip), skip))


class ConvBackbone(nn.Module):
    """A hybrid ViT's conv stages: a stem to 1/2, then ``stages.0`` at 1/4 and ``stages.1`` at 1/8."""

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 2)
        self.stages = nn.Sequential(nn.Sequential(ConvBn(8, 8, 2), Residual(8)),
                                    nn.Sequential(ConvBn(8, 16, 2), Residual(16)))

    def forward(self, x):
        return self.stages(self.stem(x))


class ConvPatchEmbed(nn.Module):
    """ViTamin's patch embedding: the conv stages, then a strided conv to 1/16 tokens."""

    def __init__(self):
        super().__init__()
        self.backbone = ConvBackbone()
        self.proj = nn.Conv2d(16, 16, 2, 2)

    def forward(self, x):
        return self.proj(self.backbone(x)).flatten(2).transpose(1, 2)


class StagesInThePatchEmbed(nn.Module):
    """ViTamin, the hybrid ViTs: conv stages inside the patch embedding, then blocks of tokens at 1/16, the
    only level its feature_info declares (one tap per block)."""

    reductions = (16, 16, 16)

    def __init__(self):
        super().__init__()
        self.patch_embed = ConvPatchEmbed()
        self.blocks = nn.Sequential(*[Block(16) for _ in range(3)])
        self.head = nn.Linear(16, 10)
        self.feature_info = [dict(module=f"blocks.{k}", reduction=16) for k in range(3)]

    def forward(self, x):
        return self.head(self.blocks(self.patch_embed(x)).mean(1))


def unresolved_finest_tap():
    """HRNet's taps: its finest level declared by a name it has no module of (``stem``), so the first tap it
    runs is no finest level and its stages before it stay."""
    model = StagesInThePatchEmbed()
    model.feature_info = [dict(module="stem", reduction=4)] + model.feature_info
    return model


class CrossAttention(nn.Module):
    """CrossViT's fusion: a class token (first) attends to the other branch's patch tokens; only it comes out."""

    def __init__(self, dim):
        super().__init__()
        self.norm, self.q, self.kv, self.proj = nn.LayerNorm(dim), nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), \
            nn.Linear(dim, dim)

    def forward(self, x):
        x = self.norm(x)
        k, v = self.kv(x).chunk(2, -1)
        q = self.q(x[:, :1])
        return x[:, :1] + self.proj(torch.softmax(q @ k.transpose(1, 2), -1) @ v)


class CrossBlock(nn.Module):
    """CrossViT's multi-scale block: each branch's transformer blocks in turn, then each branch's class token,
    projected to the other's width, attends to the other branch's patch tokens and is projected back."""

    def __init__(self, dims):
        super().__init__()
        others = dims[1:] + dims[:1]
        self.blocks = nn.ModuleList([nn.Sequential(Block(d), Block(d)) for d in dims])
        self.projs = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims, others)])
        self.fusion = nn.ModuleList([CrossAttention(b) for b in others])
        self.revert_projs = nn.ModuleList([nn.Linear(b, a) for a, b in zip(dims, others)])

    def forward(self, xs):
        xs = [blocks(x) for blocks, x in zip(self.blocks, xs)]
        cls = [proj(x[:, :1]) for proj, x in zip(self.projs, xs)]
        out = []
        for i, x in enumerate(xs):
            fused = self.fusion[i](torch.cat([cls[i], xs[(i + 1) % len(xs)][:, 1:]], 1))
            out.append(torch.cat([self.revert_projs[i](fused), x[:, 1:]], 1))
        return out


class PatchEmbed(nn.Module):
    """timm's PatchEmbed: a module of its own, so that a list of them is a run of blocks; ``convs``: CrossViT
    dagger's, 4 px patches, then the rest of the patch size in a second conv (12 = 4 x 3, 16 = 4 x 4)."""

    def __init__(self, w, patch, convs=False):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(3, w // 2, 4, 4), nn.ReLU(), nn.Conv2d(w // 2, w, patch // 4, patch // 4)) \
            if convs else nn.Conv2d(3, w, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class TwoBranches(nn.Module):
    """CrossViT at its 240 px: two token branches run side by side in every block, on 12 px patches of the
    image (20x20) and on 16 px patches of it resized to 224 (14x14, which timm declares round(16 x 240/224) = 17);
    at the end each branch's class token is normed and classified, and the two predictions averaged. An image of
    another size is resized to 240 px for the first branch."""

    reductions = (12, 17)
    size = 240

    def __init__(self, dims=(8, 16), convs=False):
        super().__init__()
        self.patch_embed = nn.ModuleList([PatchEmbed(dims[0], 12, convs), PatchEmbed(dims[1], 16, convs)])
        self.cls_token = nn.ParameterList([nn.Parameter(torch.zeros(1, 1, d)) for d in dims])
        self.blocks = nn.Sequential(*[CrossBlock(list(dims)) for _ in range(3)])
        self.norm = nn.ModuleList([nn.LayerNorm(d) for d in dims])
        self.head = nn.ModuleList([nn.Linear(d, 10) for d in dims])

    def forward(self, x):
        xs = []
        for k, (embed, cls) in enumerate(zip(self.patch_embed, self.cls_token)):
            side = (self.size, 224)[k]  # every other size is resized to 240 px first, as timm's CrossViT does
            t = embed(x if x.shape[-1] == side else nn.functional.interpolate(x, size=(side, side), mode="bicubic"))
            xs.append(torch.cat([cls.expand(t.shape[0], -1, -1), t], 1))
        xs = self.blocks(xs)
        return sum(head(norm(t[:, 0])) for head, norm, t in zip(self.head, self.norm, xs)) / len(xs)


def two_branches_dagger():
    """CrossViT dagger: each branch's patches embedded by two convs."""
    return TwoBranches(convs=True)


class Eca(nn.Module):
    """ECA: a gate over channels from a 1-D conv across them, (1, C) at batch 1, the last layer of its block."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1, bias=False)

    def forward(self, x):
        y = self.conv(x.mean((2, 3)).unsqueeze(1))  # (B, 1, C)
        return x * torch.sigmoid(y).transpose(1, 2).unsqueeze(-1)


class EcaStages(nn.Module):
    """VoVNet with ECA: every stage's blocks end in a channel gate whose output is shaped as one token."""

    reductions = (4, 8, 16)

    def __init__(self):
        super().__init__()
        self.stem = conv(3, 8, 2)
        self.stages = nn.Sequential(*[nn.Sequential(conv(8, 8, 2), Eca()) for _ in range(3)])
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)).mean((2, 3)))


class MergingEncoder(nn.Module):
    """Qwen3-ViT's encoder: its patch embedding, its blocks, then a merger of 2x2 patches into one token each
    (an MLP on the 4 tokens side by side), made for a language model."""

    def __init__(self, dim=16):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 8, 8)
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(3)])
        self.merger = nn.Sequential(nn.Linear(4 * dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, 2 * dim))

    def forward(self, x):
        t = self.blocks(self.patch_embed(x).flatten(2).transpose(1, 2))
        b, n, c = t.shape
        side = int(n ** 0.5)
        t = t.reshape(b, side // 2, 2, side // 2, 2, c).permute(0, 1, 3, 2, 4, 5).reshape(b, n // 4, 4 * c)
        return self.merger(t)


class MergedPatches(nn.Module):
    """Qwen3-ViT with its merger: timm declares the encoder's blocks at 1/8 here (its patch size); the merger's
    tokens at 1/16 are what the model hands on, not a level of its pyramid."""

    reductions = (8,)

    def __init__(self):
        super().__init__()
        self.encoder = MergingEncoder()
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 10)
        self.feature_info = [dict(module=f"encoder.blocks.{k}", reduction=8) for k in range(3)]

    def forward(self, x):
        return self.head(self.norm(self.encoder(x)).mean(1))


def tapped_numbered_blocks():
    """Legacy Xception's taps: each level declared at the first layer inside the block after it (``block2.rep.0``),
    one tap inside each of those blocks, which stay blocks."""
    model = NumberedBlocks()
    model.feature_info = [dict(module="conv1", reduction=2), dict(module="block2.rep.0", reduction=4),
                          dict(module="block3.rep.0", reduction=8), dict(module="block12.rep.0", reduction=16),
                          dict(module="block12", reduction=32)]
    return model


class SqueezedTail(nn.Module):
    """FastViT's ``final_conv``: a conv with an SE gate after the last declared stage, at its grid: a stage."""

    def __init__(self):
        super().__init__()
        self.branches = nn.ModuleList([ConvBn(8, 16, 1), ConvBn(8, 16, 1)])  # a MobileOne block: a container
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 16, 1), nn.Sigmoid())

    def forward(self, x):
        y = sum(b(x) for b in self.branches)
        return y * self.se(y)


def squeezed_tail():
    model = OneContainerPerBlock()
    model.feature_info = [dict(module=f"stages.{k}", reduction=4 * 2 ** k) for k in range(3)]
    model.final_conv, model.head = SqueezedTail(), nn.Linear(16, 10)
    model.forward = lambda x: model.head(model.final_conv(model.stages(model.stem(x))).mean((2, 3)))
    return model


class HalfSizeFirst(nn.Module):
    """An image pyramid: a half-size copy of the image runs through its own stem first, then the image itself;
    the two are summed at 1/4."""

    reductions = (4, 8)

    def __init__(self):
        super().__init__()
        self.small, self.large = conv(3, 8, 2), nn.Sequential(conv(3, 8, 2), conv(8, 8, 2))
        self.stages = nn.Sequential(nn.Sequential(Residual(8)), nn.Sequential(conv(8, 8, 2), Residual(8)))
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        half = nn.functional.interpolate(x, scale_factor=0.5, mode="bilinear")
        return self.head(self.stages(self.small(half) + self.large(x)).mean((2, 3)))


class ScaledUpTokens(nn.Module):
    """Patches a linear embeds, then their grid scaled up 4x for a conv decoder: an interpolate, not of the image."""

    def __init__(self):
        super().__init__()
        self.unfold, self.proj = nn.Unfold(8, stride=8), nn.Linear(3 * 8 * 8, 16)
        self.decoder = nn.Sequential(conv(16, 8), conv(8, 8))
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        t = self.proj(self.unfold(x).transpose(1, 2))
        side = int(t.shape[1] ** 0.5)
        m = nn.functional.interpolate(t.transpose(1, 2).reshape(x.shape[0], 16, side, side), scale_factor=4.0)
        return self.head(self.decoder(m).mean((2, 3)))


class UnfusedBranches(TwoBranches):
    """CrossViT without its fusion: each block a list of one run of encoder blocks per branch, so that each
    branch's part of a block is a container of its own (a stage of one branch, beside the other's)."""

    def __init__(self, dims=(8, 16)):
        super().__init__(dims)
        self.blocks = nn.ModuleList([nn.ModuleList([nn.Sequential(Block(d), Block(d)) for d in dims])
                                     for _ in range(3)])

    def forward(self, x):
        xs = [torch.cat([cls.expand(x.shape[0], -1, -1), embed(x if k == 0 else nn.functional.interpolate(
            x, size=(224, 224), mode="bicubic"))], 1) for k, (embed, cls) in enumerate(zip(self.patch_embed,
                                                                                         self.cls_token))]
        for block in self.blocks:
            xs = [encoder(t) for encoder, t in zip(block, xs)]
        return sum(head(norm(t[:, 0])) for head, norm, t in zip(self.head, self.norm, xs)) / len(xs)
