"""The units ``profile`` times: a summary's stages (or blocks), their counts, and in training their backward MACs."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from netprobe.analysis import blocks
from netprobe.analysis.train import stage_lookup, train_counts
from netprobe.errors import NetprobeError


@dataclass(frozen=True)
class Unit:
    """A stage (or block): its counts at the batch, the bytes one pass moves, and its time samples."""

    name: str
    stage: str
    macs: int
    acts: int
    bytes: int
    samples_ms: tuple[float, ...]  # in training each sample's forward and backward together
    forward_samples_ms: tuple[float, ...] = ()  # training only, as the next two
    backward_samples_ms: tuple[float, ...] = ()
    backward_macs: int | None = None  # None in inference, or for inputs the count cannot observe (backward_macs)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else 0.0

    @property
    def forward_ms(self) -> float | None:
        return statistics.median(self.forward_samples_ms) if self.forward_samples_ms else None

    @property
    def backward_ms(self) -> float | None:
        return statistics.median(self.backward_samples_ms) if self.backward_samples_ms else None


def units_of(s, depth: int) -> dict[tuple[str, str], list]:
    """Leaf layers grouped into units, in the summary's order: (name, stage) -> layers; at depth 2 the
    blocks of ``summary --depth 2`` (``analysis.blocks``)."""
    if depth == 1:
        groups = [(layer.stage, layer.stage, [layer]) for layer in s.layers]
    else:
        groups = blocks.group(s.layers, 2, {st.name: st.modules for st in s.stages})
    units: dict[tuple[str, str], list] = {}
    for name, stage, layers in groups:
        units.setdefault((name, stage), []).extend(layers)
    return units


def backward_macs(source, s, groups) -> dict[str, int] | None:
    """Each unit's backward MACs at the batch (``analysis.train``), netprobe's convention as the forward's; a
    container's own ops go to the unit of its first layer (``stage_lookup``), as the summary's stages have them.

    None where the model's pass on ``meta`` refuses it (or its inputs: ready tensors hold one batch); the timing
    stands without it."""
    try:
        counts = train_counts(source, None, None, s.batch, s.inputs)
    except NetprobeError:
        return None
    unit_of = {layer.name: name for (name, _), layers in groups.items() for layer in layers}
    lookup = stage_lookup([replace(layer, stage=unit_of[layer.name]) for layer in s.layers])
    out = dict.fromkeys((name for name, _ in groups), 0)
    current = next(iter(out), "")
    for t in counts.layers:
        current = lookup(t.name, current)
        out[current] = out.get(current, 0) + counts.batch * t.backward
    return out
