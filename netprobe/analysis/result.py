"""The summary as data: leaf layers, stage subtotals, and rows at any depth (the table, CSV and JSON schema)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from netprobe.analysis import blocks
from netprobe.analysis.conventions import CONVENTIONS
from netprobe.analysis.layers import Layer
from netprobe.counts import CONVENTION, Counts, total
from netprobe.dtypes import DTYPE_BYTES
from netprobe.models.inputs import DEFAULT_RESOLUTION, text

# Leaves that hand back their input or a view of it write no new tensor.
NO_NEW_TENSOR = {"dropout", "identity", "flatten"}
# The one definition of output_bytes, for spec-counted and hooked models alike.
OUTPUT_BYTES_RULE = (
    "layer output bytes: the output tensors of every leaf layer, summed (conv, linear, norm, act, pool, "
    "SE sub-layers; in-place activations included; residual adds and the SE multiply are not layers and "
    "not included, nor dropout, identity, flatten). Not a peak, and not what training keeps for backward."
)
ROWS = ["name", "stage", "kind", "params", "macs", "acts", "output_shape", "output_bytes"]


@dataclass(frozen=True)
class Row:
    """One table row: a leaf layer, or consecutive leaves grouped at a ``depth``."""

    name: str
    stage: str
    kind: str
    w_in: int
    w_out: int
    output_shape: tuple[int, ...]
    counts: Counts
    output_bytes: int
    unit: str = ""  # the attention unit a leaf belongs to (analysis.layers.UNIT_KINDS); a block's rows read it


@dataclass(frozen=True)
class StageRow:
    """A stage's subtotals, its output, and the bytes its layers output (see ``OUTPUT_BYTES_RULE``)."""

    name: str
    counts: Counts
    output_shape: tuple[int, ...]
    output_stride: int | None
    output_bytes: int
    largest_output_bytes: int
    largest_output_layer: str
    modules: str  # the module the stage's layers share, e.g. 'layer2' (for detected stages)
    grid: str = ""  # its output's grid: '28x28' (a map), '14x14 tokens', 'tokens' (class tokens only)


@dataclass(frozen=True, repr=False)  # the generated repr prints every layer: tens of thousands of characters
class Summary:
    """Everything ``netprobe summary`` shows; ``layers`` are the leaf layers at batch 1."""

    model: str
    family: str | None
    resolution: int
    batch: int
    dtype: str
    layers: tuple[Layer, ...]
    stages: tuple[StageRow, ...]
    totals: Counts
    unsupported: dict[str, int] = field(default_factory=dict)  # ops with no formula -> calls
    kinds: dict[str, str] = field(default_factory=dict)  # labels of layers whose module netprobe does not know
    input_size: tuple[int, ...] = (3, DEFAULT_RESOLUTION, DEFAULT_RESOLUTION)  # the main input without the batch
    notes: tuple[str, ...] = ()  # how the model had to be built or run, for the user
    convention: str = "netprobe"  # whose MACs ``macs`` are (analysis.conventions)
    frozen_params: int = 0  # parameters with requires_grad off (a zoo member is built trainable)
    module_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # measured: each module's own output
    inputs: object = field(default=None, compare=False)  # the description it ran on (models.inputs): tensors too

    @property
    def output_bytes(self) -> int:
        return sum(s.output_bytes for s in self.stages)

    def rows(self, depth: int | None = None) -> list[Row]:
        """Rows at a depth: None or 0 every leaf, 1 one per stage, 2 one per block, N leaves grouped by N
        name parts (``analysis.blocks``, which ``profile --depth 2`` uses too)."""
        leaves = [self._row(layer) for layer in self.layers]
        if not depth:
            return leaves
        if depth == 1:
            return [Row(s.name, s.name, "stage", 0, 0, s.output_shape, s.counts, s.output_bytes) for s in self.stages]
        containers = {s.name: s.modules for s in self.stages}
        beside = blocks.interleaved(self.layers)
        return [self._group(rows, name) for name, _, rows in blocks.group(leaves, depth, containers, beside)]

    def to_dict(self, depth: int | None = None) -> dict:
        """The JSON object: totals, stages and rows, counts as plain integers."""
        return {
            "model": self.model, "family": self.family, "resolution": self.resolution,
            "input_size": list(self.input_size), "inputs": text(self.inputs) if self.inputs is not None else None,
            "batch": self.batch, "dtype": self.dtype,
            "params": self.totals.params, "macs": self.totals.macs, "acts": self.totals.acts,
            "output_bytes": self.output_bytes,
            "stages": [{"name": s.name, "params": s.counts.params, "macs": s.counts.macs, "acts": s.counts.acts,
                        "output_shape": list(s.output_shape), "output_stride": s.output_stride,
                        "output_bytes": s.output_bytes, "largest_output_bytes": s.largest_output_bytes,
                        "largest_output_layer": s.largest_output_layer, "modules": s.modules, "grid": s.grid}
                       for s in self.stages],
            "layers": self.records(depth),
            "unsupported": dict(self.unsupported),
            "notes": list(self.notes),
            "convention": self.convention,
            "macs_unit": CONVENTIONS[self.convention].unit,
            "convention_rule": CONVENTION if self.convention == "netprobe" else CONVENTIONS[self.convention].tool,
        }

    def records(self, depth: int | None = None) -> list[dict]:
        """Rows as flat dicts (the CSV and JSON schema)."""
        return [{"name": r.name, "stage": r.stage, "kind": r.kind, "params": r.counts.params,
                 "macs": r.counts.macs, "acts": r.counts.acts, "output_shape": list(r.output_shape),
                 "output_bytes": r.output_bytes} for r in self.rows(depth)]

    def to_frame(self, depth: int | None = None):
        """``records(depth)`` as a pandas DataFrame (every layer by default; 1 stages, 2 blocks)."""
        import pandas as pd

        return pd.DataFrame(self.records(depth))

    def __repr__(self) -> str:
        t = self.totals
        at = text(self.inputs) if self.inputs is not None else "x".join(map(str, self.input_size))
        return (f"<Summary {self.model} at {at}, batch {self.batch}: params={t.params:,} macs={t.macs:,} "
                f"acts={t.acts:,}, {_count(len(self.stages), 'stage')}, {_count(len(self.layers), 'layer')}; "
                ".to_frame() for the rows>")

    def _row(self, layer: Layer) -> Row:
        w_out = {"conv": layer.out_shape[:1], "linear": layer.out_shape[-1:]}.get(layer.op, (0,))[0]
        return Row(layer.name, layer.stage, self.kinds.get(layer.name) or layer.kind, layer.w_in, w_out,
                   layer.out_shape, _scaled(layer.counts, self.batch), self._bytes(layer), layer.unit)

    def _bytes(self, layer: Layer) -> int:
        if layer.op in NO_NEW_TENSOR or not layer.out_shape:
            return 0
        return math.prod(layer.out_shape) * self.batch * DTYPE_BYTES[self.dtype]


    def _group(self, rows: list[Row], name: str) -> Row:
        """A block's row: its layers summed; its output is the block module's own (an SE block ends in a
        multiply, an attention block in a residual add, after its last layer), else its last layer's."""
        if len(rows) == 1:
            return rows[0]
        w_in = next((r.w_in for r in rows if r.w_out), 0)
        w_out = next((r.w_out for r in reversed(rows) if r.w_out), 0)
        shape = self.module_shapes.get(name) or next((r.output_shape for r in reversed(rows) if r.output_shape), ())
        return Row(name, rows[0].stage, blocks.block_kind(rows), w_in, w_out, shape,
                   total(r.counts for r in rows), sum(r.output_bytes for r in rows))


def _scaled(c: Counts, batch: int) -> Counts:
    return Counts(c.params, c.macs * batch, c.acts * batch)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
