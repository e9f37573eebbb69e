"""ResNets with an attention unit in every block: SE-ResNet/ResNeXt, SK-ResNet/ResNeXt, CBAM-ResNet.

The body is torchvision's / timm's ResNet (stride on the 3x3 conv, 1x1 projection
shortcut); only the block differs:

- SE (Hu et al. 2018, timm ``seresnet*``): squeeze-and-excitation after the last BN,
  width ``C/16`` rounded to a multiple of 8 and never up (timm ``SEModule``), 1x1 convs with bias.
- SK (Li et al. 2019, timm ``skresnet*``): the 3x3 conv becomes two 3x3 paths at dilation 1
  and 2, fused by a softmax select over the paths.
- CBAM (Woo et al. 2018): channel gate then spatial gate after the last BN, MLP width ``C/16``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from netprobe.families.blocks import _shortcut
from netprobe.families.resnet import STEM, STEM_W, body
from netprobe.families.rounding import make_divisible
from netprobe.spec import CBAM, SE, Block, Conv, GlobalPool, Linear, Named, Net, SelectiveKernel

SE_RATIO = 1 / 16
CBAM_RATIO = 16


@dataclass(frozen=True)
class AttnResNetCfg:
    """Blocks per stage, block type, cardinality, width per group, and the attention unit."""

    depths: tuple[int, int, int, int]
    attn: str  # se | cbam | sk
    bottleneck: bool = True
    groups: int = 1
    base_width: int = 64
    sk_ratio: float = 1 / 16  # SK attention width: this fraction of the block width, rounded to sk_divisor
    sk_divisor: int = 8
    sk_split: bool = True  # each SK path sees half the input channels (timm's SK-ResNets; not SKNet-50)


_R18, _R34, _R50, _R101, _R152 = (2, 2, 2, 2), (3, 4, 6, 3), (3, 4, 6, 3), (3, 4, 23, 3), (3, 8, 36, 3)
_SK_BASIC = {"sk_ratio": 1 / 8, "sk_divisor": 16}

ATTN_RESNETS = {
    "seresnet18":         AttnResNetCfg(_R18,  "se", bottleneck=False),
    "seresnet34":         AttnResNetCfg(_R34,  "se", bottleneck=False),
    "seresnet50":         AttnResNetCfg(_R50,  "se"),
    "seresnet101":        AttnResNetCfg(_R101, "se"),
    "seresnet152":        AttnResNetCfg(_R152, "se"),
    "seresnext50_32x4d":  AttnResNetCfg(_R50,  "se", groups=32, base_width=4),
    "seresnext101_32x4d": AttnResNetCfg(_R101, "se", groups=32, base_width=4),
    "skresnet18":         AttnResNetCfg(_R18,  "sk", bottleneck=False, **_SK_BASIC),
    "skresnet34":         AttnResNetCfg(_R34,  "sk", bottleneck=False, **_SK_BASIC),
    "skresnet50":         AttnResNetCfg(_R50,  "sk"),
    "skresnext50_32x4d":  AttnResNetCfg(_R50,  "sk", groups=32, base_width=4, sk_divisor=32, sk_split=False),
    "cbam_resnet18":      AttnResNetCfg(_R18,  "cbam", bottleneck=False),
    "cbam_resnet34":      AttnResNetCfg(_R34,  "cbam", bottleneck=False),
    "cbam_resnet50":      AttnResNetCfg(_R50,  "cbam"),
    "cbam_resnet101":     AttnResNetCfg(_R101, "cbam"),
}
ALIASES = {"skresnext50_32x4d": ("sknet50",)}


def family_of(cfg: AttnResNetCfg) -> str:
    """seresnet, seresnext, skresnet, skresnext or cbam_resnet."""
    if cfg.attn == "cbam":
        return "cbam_resnet"
    return f"{cfg.attn}resnext" if cfg.groups > 1 else f"{cfg.attn}resnet"


def _gate(cfg: AttnResNetCfg, w: int) -> tuple[str, SE | CBAM]:
    if cfg.attn == "se":
        return "se", SE(w=w, w_se=make_divisible(w * SE_RATIO, 8, round_limit=0.0))
    return "cbam", CBAM(w=w, w_mid=w // CBAM_RATIO)


def _sk(cfg: AttnResNetCfg, w_in: int, w: int, stride: int) -> SelectiveKernel:
    w_attn = make_divisible(w * cfg.sk_ratio, cfg.sk_divisor)
    return SelectiveKernel(w_in=w_in, w_out=w, w_attn=w_attn, stride=stride, groups=cfg.groups,
                           split_input=cfg.sk_split)


def attn_block(cfg: AttnResNetCfg, w_in: int, w: int, stride: int) -> Block:
    """One block of stage width ``w``: basic (w out) or bottleneck (4w out), with the attention unit."""
    if cfg.bottleneck:
        w_b, w_out = int(w * cfg.base_width / 64) * cfg.groups, 4 * w
        units: Named = (("a", Conv(w_in=w_in, w_out=w_b, bn=True, act="relu")),)
        if cfg.attn == "sk":
            units += (("sk", _sk(cfg, w_b, w_b, stride)),)
        else:
            b = Conv(w_in=w_b, w_out=w_b, kernel=3, stride=stride, groups=cfg.groups, bn=True, act="relu")
            units += (("b", b),)
        units += (("c", Conv(w_in=w_b, w_out=w_out, bn=True)),)
    else:
        w_out = w
        if cfg.attn == "sk":
            first = ("sk", _sk(cfg, w_in, w, stride))
        else:
            first = ("a", Conv(w_in=w_in, w_out=w, kernel=3, stride=stride, bn=True, act="relu"))
        units = (first, ("b", Conv(w_in=w, w_out=w, kernel=3, bn=True)))
    if cfg.attn != "sk":
        units += (_gate(cfg, w_out),)
    return Block(units, *_shortcut(w_in, w_out, stride), post_act="relu")


def attn_resnet(name: str, cfg: AttnResNetCfg, resolution: int = 224, num_classes: int = 1000) -> Net:
    """A ResNet whose blocks carry SE, SK or CBAM: 7x7 stem and max-pool, four stages, pool, fc."""
    stages, w_in = body(STEM_W, cfg.depths, partial(attn_block, cfg))
    head = (("pool", GlobalPool()), ("fc", Linear(w_in=w_in, w_out=num_classes)))
    return Net(name, family_of(cfg), resolution, STEM, stages, head,
               design={"depths": cfg.depths, "groups": cfg.groups, "base_width": cfg.base_width, "attn": cfg.attn})
