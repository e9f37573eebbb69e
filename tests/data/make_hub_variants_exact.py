"""Regenerates hub_variants_exact.csv: timm's and torchvision's ResNet variants, counted by netprobe.

Needs timm 1.0.31 and torchvision 0.29.1. Every model is built on the ``meta`` device and
counted by netprobe's hook counter (``netprobe.analysis.measure``), so the rows follow
netprobe's convention but come from the hubs' own modules, not from netprobe's specs.

    python tests/data/make_hub_variants_exact.py > tests/data/hub_variants_exact.csv
"""

import csv
import sys

import timm
import torch
import torchvision

from netprobe import registry
from netprobe.analysis.measure import measure
from netprobe.counts import total

TIMM_FAMILIES = ("seresnet", "seresnext", "skresnet", "skresnext", "resnest")
TORCHVISION = ("resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2")
DILATE = {16: [False, False, True], 8: [False, True, True]}  # replace_stride_with_dilation


def row(model: str, output_stride: int | None, res: int, module, source: str) -> list:
    c = total(layer.counts for layer in measure(module, (res, res)).layers)
    return [model, output_stride or "", res, c.params, c.macs, c.acts, source]


def rows() -> list[list]:
    out = []
    for name in registry.resolve(",".join(TIMM_FAMILIES)):
        res = registry.spec(name).resolution
        for os_ in (None, 16, 8):
            kwargs = {"output_stride": os_} if os_ else {}
            with torch.device("meta"):
                module = timm.create_model(name, **kwargs)
            args = "".join(f", output_stride={v}" for v in kwargs.values())
            out.append(row(name, os_, res, module, f"timm {timm.__version__} create_model('{name}'{args})"))
    for name in TORCHVISION:
        for os_, rep in DILATE.items():
            with torch.device("meta"):
                module = getattr(torchvision.models, name)(replace_stride_with_dilation=rep)
            out.append(row(name, os_, 224, module, f"torchvision {torchvision.__version__.split('+')[0]} "
                                                   f"{name}(replace_stride_with_dilation={rep})"))
    return out


if __name__ == "__main__":
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["model", "output_stride", "resolution", "params", "macs", "acts", "source"])
    w.writerows(rows())
