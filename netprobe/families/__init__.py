"""The zoo as data: each family declared once, its members and its budget generator; ``netprobe.registry`` reads it.

Each family is a pure function from design parameters to a spec. Adding one is a row in
``FAMILIES``, its members in ``members()`` and, if it scales, its generator in ``GENERATORS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator

from netprobe.families.attention_resnet import ALIASES, ATTN_RESNETS, attn_resnet
from netprobe.families.attention_resnet import family_of as attn_family
from netprobe.families.densenet import CONDENSENETS, DENSENETS, condensenet, densenet
from netprobe.families.efficientnet import EFFICIENTNETS, efficientnet
from netprobe.families.mobilenet import MOBILENETV1S, MOBILENETV2S, mobilenetv1, mobilenetv2
from netprobe.families.regnet import REGNETS, regnet
from netprobe.families.resnest import RESNESTS, resnest
from netprobe.families.resnet import RESNETS, family_of, resnet
from netprobe.families.rexnet import REXNETS, rexnet
from netprobe.families.scaling import GENERATORS as SCALED
from netprobe.families.scaling_mobile import MOBILE_GENERATORS
from netprobe.families.shufflenet import SHUFFLENETV1S, SHUFFLENETV2S, shufflenetv1, shufflenetv2
from netprobe.families.wrn import WRNS, wrn
from netprobe.families.xception import xception
from netprobe.spec import Net


@dataclass(frozen=True)
class Family:
    """A family of the zoo; ``dilatable``: its body is the four ResNet stages at strides 4-32 (``--output-stride``)."""

    name: str
    dilatable: bool = False


@dataclass(frozen=True)
class Member:
    """A named member: its family, the function that makes its spec, and the other names it answers to."""

    name: str
    family: str
    make: Callable[[], Net]
    aliases: tuple[str, ...] = ()


# In the order listings and comparisons show them.
FAMILIES = (
    Family("regnetx"),
    Family("regnety"),
    Family("efficientnet"),
    Family("resnet", dilatable=True),
    Family("resnext", dilatable=True),
    Family("wide_resnet", dilatable=True),
    Family("rexnet"),
    # the ResNet variants
    Family("seresnet", dilatable=True),
    Family("seresnext", dilatable=True),
    Family("skresnet", dilatable=True),
    Family("skresnext", dilatable=True),
    Family("resnest", dilatable=True),
    Family("cbam_resnet", dilatable=True),
    Family("wrn_cifar"),  # CIFAR's three stages: no stride-32 body to dilate
    # the mobile and dense families
    Family("mobilenetv1"),
    Family("mobilenetv2"),
    Family("shufflenetv1"),
    Family("shufflenetv2"),
    Family("xception"),
    Family("densenet"),
    Family("condensenet"),
)
DILATABLE = tuple(f.name for f in FAMILIES if f.dilatable)

# pycls names RegNets by MF: regnetx_004 is RegNetX-400MF.
_REGNET_MF = {"002": "200mf", "004": "400mf", "006": "600mf", "008": "800mf", "016": "1.6gf",
              "032": "3.2gf", "040": "4.0gf", "064": "6.4gf", "080": "8.0gf", "120": "12gf",
              "160": "16gf", "320": "32gf"}


def members() -> Iterator[Member]:
    """Every named member, family by family."""
    for name, cfg in REGNETS.items():
        prefix, code = name.split("_")
        yield Member(name, prefix, partial(regnet, name, cfg), (f"{prefix}_{_REGNET_MF[code]}",))
    for name, cfg in EFFICIENTNETS.items():
        yield Member(name, "efficientnet", partial(efficientnet, name, cfg))
    for name, cfg in RESNETS.items():
        yield Member(name, family_of(cfg), partial(resnet, name, cfg))
    for name, cfg in REXNETS.items():
        yield Member(name, "rexnet", partial(rexnet, name, cfg), (f"rexnet_{round(cfg.width * 100)}",))  # timm: rexnet_100 is 1.0x
    for name, cfg in ATTN_RESNETS.items():
        yield Member(name, attn_family(cfg), partial(attn_resnet, name, cfg), ALIASES.get(name, ()))
    for name, cfg in RESNESTS.items():
        yield Member(name, "resnest", partial(resnest, name, cfg))
    for name, cfg in WRNS.items():
        yield Member(name, "wrn_cifar", partial(wrn, name, cfg))
    yield from _mobile_dense()


def _mobile_dense() -> Iterator[Member]:
    """The mobile and dense families (depthwise-separable, shuffle and concatenating designs)."""
    for name, width in MOBILENETV1S.items():
        yield Member(name, "mobilenetv1", partial(mobilenetv1, name, width))
    for name, width in MOBILENETV2S.items():
        # torchvision's mobilenet_v2 is timm's mobilenetv2_100 to the parameter
        yield Member(name, "mobilenetv2", partial(mobilenetv2, name, width), ("mobilenet_v2",) if width == 1.0 else ())
    for name, cfg in SHUFFLENETV1S.items():
        yield Member(name, "shufflenetv1", partial(shufflenetv1, name, cfg))
    for name, widths in SHUFFLENETV2S.items():
        yield Member(name, "shufflenetv2", partial(shufflenetv2, name, widths))
    yield Member("xception", "xception", partial(xception, "xception"), ("legacy_xception",))
    for name, cfg in DENSENETS.items():
        yield Member(name, "densenet", partial(densenet, name, cfg))
    for name, cfg in CONDENSENETS.items():
        yield Member(name, "condensenet", partial(condensenet, name, cfg))


# Each scalable family's budget-matched generator (``FAMILY@BUDGET``), by family.
GENERATORS: dict[str, Callable[[str, float], Net]] = {**SCALED, **MOBILE_GENERATORS}
