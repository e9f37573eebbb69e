"""``resolve()``: any MODEL form to one ``loaders.Source``, the value every command and Ray worker carries."""

from __future__ import annotations

from dataclasses import replace

from netprobe import loaders
from netprobe.errors import NetprobeError
from netprobe.spec import Net


def resolve(model, output_stride: int | None = None) -> loaders.Source:
    """The source of a registered name or alias, ``FAMILY@BUDGET``, ``package.module:factory``, ``timm:NAME[.tag]``,
    ``torchvision:NAME``, a spec, an ``nn.Module``, a module class or factory, or a source; dilated to ``output_stride``.

    Patterns (``regnetx_*``) name several models: callers expand them with ``registry.resolve`` first.
    """
    return dilated(_source(model), output_stride)


def _source(model) -> loaders.Source:
    if isinstance(model, loaders.Source):
        return model
    if isinstance(model, str):
        return loaders.load(model)
    if isinstance(model, Net):
        return loaders.Source(model.name, model.family, net=model)
    from torch import nn

    if isinstance(model, nn.Module):
        return loaders.Source(type(model).__name__, None, factory=_Given(model), instance=True)
    if callable(model):
        return loaders.Source(getattr(model, "__name__", repr(model)), None, factory=model)
    raise NetprobeError(f"cannot summarize a {type(model).__name__}; give a model name, a spec, "
                        "an nn.Module, or a callable that returns one")


class _Given:
    """The factory of a module given as is: hands it back (picklable, unlike a lambda, so Ray can ship it)."""

    def __init__(self, module):
        self.module = module

    def __call__(self):
        return self.module


def dilated(source: loaders.Source, output_stride: int | None) -> loaders.Source:
    """The zoo model of ``source`` at another output stride (dilated ResNets)."""
    if output_stride is None:
        return source
    if source.net is None:
        raise NetprobeError(f"--output-stride applies to zoo models, not to {source.name}; "
                            "build that model dilated and pass it as package.module:factory")
    from netprobe.families.dilation import with_output_stride

    net = with_output_stride(source.net, output_stride)
    return replace(source, name=net.name, net=net)
