"""The zoo: each family is a pure function from design parameters to a spec."""

from __future__ import annotations

from functools import partial

from netprobe.families.densenet import CONDENSENETS, DENSENETS, condensenet, densenet
from netprobe.families.efficientnet import EFFICIENTNETS, efficientnet
from netprobe.families.mobilenet import MOBILENETV1S, MOBILENETV2S, mobilenetv1, mobilenetv2
from netprobe.families.shufflenet import SHUFFLENETV1S, SHUFFLENETV2S, shufflenetv1, shufflenetv2
from netprobe.families.xception import xception
from netprobe.families.regnet import REGNETS, regnet
from netprobe.families.resnet import RESNETS, family_of, resnet
from netprobe.families.rexnet import REXNETS, rexnet

# pycls names RegNets by MF: regnetx_004 is RegNetX-400MF.
_REGNET_MF = {"002": "200mf", "004": "400mf", "006": "600mf", "008": "800mf", "016": "1.6gf",
              "032": "3.2gf", "040": "4.0gf", "064": "6.4gf", "080": "8.0gf", "120": "12gf",
              "160": "16gf", "320": "32gf"}


def register_all() -> None:
    """Register every named member and every family's budget generator."""
    from netprobe import registry

    for name, cfg in REGNETS.items():
        prefix, code = name.split("_")
        registry.register(name, prefix, partial(regnet, name, cfg), aliases=(f"{prefix}_{_REGNET_MF[code]}",))
    for name, cfg in EFFICIENTNETS.items():
        registry.register(name, "efficientnet", partial(efficientnet, name, cfg))
    for name, cfg in RESNETS.items():
        registry.register(name, family_of(cfg), partial(resnet, name, cfg))
    for name, cfg in REXNETS.items():
        timm_name = f"rexnet_{round(cfg.width * 100)}"  # timm: rexnet_100 is 1.0x
        registry.register(name, "rexnet", partial(rexnet, name, cfg), aliases=(timm_name,))
    _register_resnet_variants(registry)
    from netprobe.families.scaling import GENERATORS

    for family, generate in GENERATORS.items():
        registry.register_generator(family, generate)
    register_mobile_dense()


def _register_resnet_variants(registry) -> None:
    """SE/SK/CBAM ResNets, ResNeSt and WRN on CIFAR."""
    from netprobe.families.attention_resnet import ALIASES, ATTN_RESNETS, attn_resnet
    from netprobe.families.attention_resnet import family_of as attn_family
    from netprobe.families.resnest import RESNESTS, resnest
    from netprobe.families.wrn import WRNS, wrn

    for name, cfg in ATTN_RESNETS.items():
        registry.register(name, attn_family(cfg), partial(attn_resnet, name, cfg), aliases=ALIASES.get(name, ()))
    for name, cfg in RESNESTS.items():
        registry.register(name, "resnest", partial(resnest, name, cfg))
    for name, cfg in WRNS.items():
        registry.register(name, "wrn_cifar", partial(wrn, name, cfg))


def register_mobile_dense() -> None:
    """Register the mobile and dense families (depthwise-separable, shuffle and concatenating designs)."""
    from netprobe import registry

    for name, width in MOBILENETV1S.items():
        registry.register(name, "mobilenetv1", partial(mobilenetv1, name, width))
    for name, width in MOBILENETV2S.items():
        # torchvision's mobilenet_v2 is timm's mobilenetv2_100 to the parameter
        aliases = ("mobilenet_v2",) if width == 1.0 else ()
        registry.register(name, "mobilenetv2", partial(mobilenetv2, name, width), aliases=aliases)
    for name, cfg in SHUFFLENETV1S.items():
        registry.register(name, "shufflenetv1", partial(shufflenetv1, name, cfg))
    for name, widths in SHUFFLENETV2S.items():
        registry.register(name, "shufflenetv2", partial(shufflenetv2, name, widths))
    registry.register("xception", "xception", partial(xception, "xception"), aliases=("legacy_xception",))
    for name, cfg in DENSENETS.items():
        registry.register(name, "densenet", partial(densenet, name, cfg))
    for name, cfg in CONDENSENETS.items():
        registry.register(name, "condensenet", partial(condensenet, name, cfg))
    from netprobe.families.scaling_mobile import MOBILE_GENERATORS

    for family, generate in MOBILE_GENERATORS.items():
        registry.register_generator(family, generate)
