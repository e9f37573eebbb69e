"""Regenerate tests/data/reference_mobile.csv: counts of the reference implementations themselves.

Each member with a reference implementation (timm or torchvision) is built there on the
``meta`` device and measured by netprobe's own hooks, so the zoo's specs are checked
against the real modules, not against a copy of their tables. Needs timm and torchvision:

    python scripts/reference_counts.py > tests/data/reference_mobile.csv
"""

from __future__ import annotations

import csv
import sys

import timm
import torch
import torchvision

from netprobe.analysis.measure import measure
from netprobe.counts import total

# zoo member -> reference model ("timm:NAME" or "torchvision:NAME") and its input size
REFERENCES = {
    **{f"mobilenetv1_{w}": (f"timm:mobilenetv1_{w}", 224) for w in ("100", "125")},
    **{f"mobilenetv2_{w}": (f"timm:mobilenetv2_{w}", 224) for w in ("035", "050", "075", "100", "140")},
    **{f"shufflenet_v2_{w}": (f"torchvision:shufflenet_v2_{w}", 224) for w in ("x0_5", "x1_0", "x1_5", "x2_0")},
    **{f"densenet{d}": (f"torchvision:densenet{d}", 224) for d in (121, 161, 169, 201)},
    "xception": ("timm:legacy_xception", 299),
}


def reference_model(source: str) -> torch.nn.Module:
    lib, _, name = source.partition(":")
    with torch.device("meta"):
        return timm.create_model(name) if lib == "timm" else getattr(torchvision.models, name)()


def main() -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["model", "resolution", "params", "macs", "acts", "source"])
    for name, (source, res) in REFERENCES.items():
        model = reference_model(source)
        measured = measure(model, (res, res))
        if measured.unsupported:
            sys.exit(f"{source}: ops without a formula {dict(measured.unsupported)}; its counts would be short")
        t = total(layer.counts for layer in measured.layers)
        params = sum(p.numel() for p in model.parameters())
        version = (timm.__version__ if source.startswith("timm") else torchvision.__version__).split("+")[0]
        out.writerow([name, res, params, t.macs, t.acts, f"{source} {version}"])


if __name__ == "__main__":
    main()
