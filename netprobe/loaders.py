"""What MODEL names: a zoo member (a spec), or a factory for any ``nn.Module``.

``regnetx_004``, ``RegNetX-400MF``, ``regnety@1.6GF``: the zoo (no torch needed).
``package.module:factory`` (a callable returning a module, or a module class),
``timm:NAME`` (pretrained tags too: ``timm:resnet50.a1_in1k``) and ``torchvision:NAME``:
built by calling the factory on a device (``models.materialize`` says which, and when).
A hub model's own input size is its default.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Callable

from netprobe import registry
from netprobe.errors import NetprobeError, first_line
from netprobe.spec import Net

HUBS = ("timm", "torchvision")


@dataclass(frozen=True)
class Source:
    """A resolved MODEL: the zoo spec, or a factory and where it came from."""

    name: str
    family: str | None
    net: Net | None = None
    factory: Callable | None = None
    instance: bool = False  # the factory hands back a module the caller owns: never moved or changed


def load(model: str) -> Source:
    """Resolve a MODEL argument; raises NetprobeError saying what would be right."""
    model = model.strip()
    hub, sep, rest = model.partition(":")
    if sep and hub in HUBS:
        return Source(model, None, factory=_hub_factory(hub, rest))
    if sep:
        return Source(model, None, factory=_import_factory(hub, rest))
    try:
        net = registry.spec(model)
    except NetprobeError as e:
        if "." in model and "@" not in model:
            raise NetprobeError(f"{e}; for any nn.Module give package.module:factory") from None
        raise
    return Source(net.name, net.family, net=net)


def instantiate(source: Source, device: str = "meta"):
    """Call the factory under ``device``; the result must be an ``nn.Module``."""
    import torch
    from torch import nn

    try:
        with torch.device(device):
            model = source.factory()
    except NetprobeError:
        raise
    except (Exception, SystemExit) as e:  # noqa: BLE001 - user code: any failure, an exit too, becomes one line
        raise NetprobeError(f"{source.name}: the factory raised {type(e).__name__}: {first_line(e)}; "
                            "it must build a model when called with no arguments") from e
    if not isinstance(model, nn.Module):
        raise NetprobeError(f"{source.name} returned {type(model).__name__}, not an nn.Module; "
                            "give a module class or a function that returns a module")
    return model


def default_input_size(source: Source, model) -> tuple[int, int, int] | None:
    """(C, H, W) the model was designed for: timm's pretrained config, torchvision's image size or
    its default weights' crop; None when it does not say."""
    hub = source.name.partition(":")[0] if source.factory is not None else ""
    if hub == "timm":
        size = (getattr(model, "pretrained_cfg", None) or {}).get("input_size")
        return tuple(size) if size else None
    if hub == "torchvision":
        if isinstance(getattr(model, "image_size", None), int):  # ViT: fixed by its position embedding
            return (3, model.image_size, model.image_size)
        try:
            import torchvision.models

            crop = torchvision.models.get_model_weights(source.name.partition(":")[2]).DEFAULT.transforms().crop_size
            return (3, crop[0], crop[-1])
        except Exception:  # noqa: BLE001 - no weights enum or no crop size: no default
            return None
    return None


def _import_factory(module_name: str, attr: str) -> Callable:
    spec_text = f"{module_name}:{attr}"
    if not module_name or not attr:
        raise NetprobeError(f"'{spec_text}' is not an import path; use package.module:factory")
    # Like uvicorn's app loader: a module in the working directory is importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise NetprobeError(f"cannot import '{module_name}' ({e}); check the import path "
                            "package.module:factory") from e
    except Exception as e:  # noqa: BLE001 - user code
        raise NetprobeError(f"importing '{module_name}' failed: {type(e).__name__}: {first_line(e)}") from e
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NetprobeError(f"'{module_name}' has no attribute '{attr}'{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise NetprobeError(f"{spec_text} is a {type(obj).__name__}, not callable; "
                            "give a module class or a function that returns a module")
    return obj


def _hub_factory(hub: str, name: str) -> Callable:
    if not name:
        raise NetprobeError(f"'{hub}:' needs a model name, e.g. {hub}:resnet50")
    try:
        lib = importlib.import_module(hub)
    except ImportError:
        raise NetprobeError(f"{hub} is not installed; pip install {hub}, or use a registered name "
                            "(see 'netprobe list')") from None
    if hub == "timm":
        available = lib.list_models()
        make = lambda: lib.create_model(name, pretrained=False)  # noqa: E731
        arch = name.partition(".")[0]  # a pretrained tag (resnet50.a1_in1k) names the same network
    else:
        import torchvision.models

        available = torchvision.models.list_models()
        make = lambda: torchvision.models.get_model(name, weights=None)  # noqa: E731
        arch = name
    if arch not in available:
        close = difflib.get_close_matches(name, available, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise NetprobeError(f"{hub} has no model '{name}'{hint}")
    return make


