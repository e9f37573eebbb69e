"""What ``bench`` times: each model resolved, counted and given its input before anything is built.

A ``Target`` carries a model's source (``models.resolve``) and its input description to the timer (here or
on a Ray worker). Targets that are the same network at the same input (``regnetx_016`` and ``regnetx@1.6GF``)
are twins: the first is timed and the others' rows copy its timing under their own names.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe import registry
from netprobe.analysis.summary import summary
from netprobe.errors import NetprobeError
from netprobe.loaders import Source
from netprobe.models.inputs import DEFAULT_INPUTS, at_resolution, parse, resolution_of, shapes_of
from netprobe.models.resolve import resolve


@dataclass(frozen=True)
class Target:
    """A model to time: its source (``models.resolve``: a spec, a factory, or a module given as is; what Ray
    ships to a worker) and the input it is timed at."""

    name: str
    family: str
    input_size: object  # the input description (``models.inputs``): shapes, a factory or tensors, picklable
    macs: int | None  # per image; None where some op has no formula (achieved FLOP/s would be wrong)
    source: Source
    shape: tuple[int, ...] = ()  # the main input's shape without the batch (``models.inputs.main_shape``)

    @property
    def resolution(self) -> int:
        return resolution_of(self.shape)


def resolve_targets(models, resolution: int | None, input_size=None, output_stride: int | None = None,
                    inputs=None) -> list[Target]:
    """Targets for names, aliases, patterns, families, ``FAMILY@BUDGET``, factories or modules.

    Zoo members are counted from their spec; any other model op by op (``analysis.summary``),
    on its own inputs unless ``resolution``, ``input_size`` or ``inputs`` (``models.inputs``) says otherwise;
    zoo members dilated to ``output_stride`` on request.
    """
    from torch import nn

    size = parse(input_size, inputs)
    if size is not None and resolution:
        raise NetprobeError("give --resolution or --input-size, not both")
    if isinstance(models, str):
        models = models.split(",")
    items = [models] if isinstance(models, nn.Module) else [m.strip() if isinstance(m, str) else m
                                                             for m in models or [] if not isinstance(m, str) or m.strip()]
    targets: list[Target] = []
    for item in items:
        for name in [item] if not isinstance(item, str) or ":" in item else registry.resolve(item):
            given = isinstance(name, nn.Module)  # a module as is: no spec, no size of its own
            if given and output_stride is not None:
                raise NetprobeError(f"output_stride applies to zoo models only, not to a {type(name).__name__} module")
            source = resolve(name, output_stride)
            if given and size is None and not resolution:
                raise NetprobeError(f"a resolution is needed to time a {source.name} module; pass resolution=224")
            try:
                counted = summary(source, resolution, inputs=size)
            except NetprobeError:
                if not given:
                    raise
                counted = None  # a module given as is that fails fails again, in its row, when timed
            macs = counted.totals.macs if counted and not counted.unsupported else None
            described, shape = (counted.inputs, counted.input_size) if counted else _uncounted(size, resolution)
            label = getattr(name, "spec_name", source.name) if given else source.name
            targets.append(Target(label, source.family or "custom", described, macs, source, shape))
    if not targets:
        raise NetprobeError("no models given; name some, e.g. resnet18,regnetx_004 (see 'netprobe list')")
    return targets


def _uncounted(size, resolution: int | None) -> tuple[object, tuple[int, ...]]:
    """The description and main input shape of a module given as is that could not be counted."""
    described = size if size is not None else at_resolution(DEFAULT_INPUTS, resolution)
    return described, (shapes_of(described) or DEFAULT_INPUTS)[0].shape


def twins(targets) -> list[Target | None]:
    """Per target, the earlier target with the same network and input, timed in its place (None: timed itself)."""
    first: list[tuple[tuple, Target]] = []  # compared with ==: a spec's parts need not be hashable
    out: list[Target | None] = []
    for target in targets:
        key = _network(target)
        twin = next((t for k, t in first if key is not None and k == key), None)
        if twin is None and key is not None:
            first.append((key, target))
        out.append(twin)
    return out


def same_as(row: dict, target: Target, twin: Target) -> dict:
    """The row of ``target``, copied from its twin's (``twins``): the twin's timing under its own name."""
    return {**row, "model": target.name, "family": target.family, "same_as": twin.name}


def _network(target: Target) -> tuple | None:
    """What makes two zoo targets the same network to time: the layers of the spec and the input, not its name."""
    net = target.source.net
    return None if net is None else (net.stem, net.stages, net.head, net.w_in, target.input_size)
