"""What MODEL names: a zoo member (a spec), or a factory for any ``nn.Module``.

``regnetx_004``, ``RegNetX-400MF``, ``regnety@1.6GF``: the zoo (no torch needed).
``package.module:factory`` (a callable returning a module, or a module class),
``timm:NAME`` (pretrained tags too: ``timm:resnet50.a1_in1k``) and ``torchvision:NAME``:
built by calling the factory on a device (``models.materialize`` says which, and when).
A factory takes literal keyword arguments: ``mymodels:SE(channels=64)`` (``refs``). Hub models are
built with no weights (``hub``), and their own inputs are the default (``models.inputs``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from netprobe import hub, refs, registry
from netprobe.errors import NetprobeError, first_line
from netprobe.spec import Net


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
    prefix, sep, rest = model.partition(":")
    if sep and prefix in hub.HUBS:
        return Source(model, None, factory=hub.factory(prefix, rest))
    if sep:
        return Source(model, None, factory=_import_factory(model))
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


def _import_factory(text: str) -> Callable:
    """The callable ``package.module:factory`` names, bound to its literal keyword arguments
    (``mymodels:SE(channels=64)``)."""
    ref = refs.parse_ref(text)
    make = refs.resolve(ref)
    return functools.partial(make, **dict(ref.kwargs)) if ref.kwargs else make
