"""``summary()``: per-layer and per-stage counts and layer output bytes of a network, as data.

Zoo members are counted from their spec (no torch, no forward pass); any other
``nn.Module`` is counted op by op on the ``meta`` device (``analysis.measure``) and its
stages are its own stage containers, or runs of one output stride (``analysis.stages``).
``macs`` and ``acts`` are at the summary's batch, ``params`` once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from netprobe import loaders
from netprobe.analysis import conventions
from netprobe.analysis.conventions import CONVENTIONS
from netprobe.analysis.cost import net_layers
from netprobe.analysis.layers import UNIT_KINDS, Layer
from netprobe.counts import CONVENTION, Counts, total
from netprobe.dtypes import DTYPE_BYTES, parse_dtype
from netprobe.errors import NetprobeError, first_line
from netprobe.spec import Net

# Leaves that hand back their input or a view of it write no new tensor.
NO_NEW_TENSOR = {"dropout", "identity", "flatten"}
# The one definition of output_bytes, for spec-counted and hooked models alike.
OUTPUT_BYTES_RULE = (
    "layer output bytes: the output tensors of every leaf layer, summed (conv, linear, norm, act, pool, "
    "SE sub-layers; in-place activations included; residual adds and the SE multiply are not layers and "
    "not included, nor dropout, identity, flatten). Not a peak, and not what training keeps for backward."
)
DEFAULT_RESOLUTION = 224


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


@dataclass(frozen=True)
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
    input_size: tuple[int, int, int] = (3, DEFAULT_RESOLUTION, DEFAULT_RESOLUTION)  # C, H, W
    notes: tuple[str, ...] = ()  # how the model had to be built or run, for the user
    convention: str = "netprobe"  # whose MACs ``macs`` are (analysis.conventions)
    frozen_params: int = 0  # parameters with requires_grad off (a zoo member is built trainable)

    @property
    def output_bytes(self) -> int:
        return sum(s.output_bytes for s in self.stages)

    def rows(self, depth: int | None = None) -> list[Row]:
        """Rows at a depth: None or 0 every leaf, 1 one per stage, 2 one per block (a child of the stage's
        own container, ``encoder.layers.3``, where the stage was found from one), N leaves grouped by N
        name parts."""
        leaves = [self._row(layer) for layer in self.layers]
        if not depth:
            return leaves
        if depth == 1:
            return [Row(s.name, s.name, "stage", 0, 0, s.output_shape, s.counts, s.output_bytes) for s in self.stages]
        containers = {s.name: s.modules for s in self.stages}
        groups: list[tuple[tuple[str, str], list[Row]]] = []
        for row in leaves:
            key = (row.stage, _group_name(row.name, depth, containers.get(row.stage, "")))
            if groups and groups[-1][0] == key:
                groups[-1][1].append(row)
            else:
                groups.append((key, [row]))
        return [_group(g, name) for (_, name), g in groups]

    def to_dict(self, depth: int | None = None) -> dict:
        """The JSON object: totals, stages and rows, counts as plain integers."""
        return {
            "model": self.model, "family": self.family, "resolution": self.resolution,
            "input_size": list(self.input_size), "batch": self.batch, "dtype": self.dtype,
            "params": self.totals.params, "macs": self.totals.macs, "acts": self.totals.acts,
            "output_bytes": self.output_bytes,
            "stages": [{"name": s.name, "params": s.counts.params, "macs": s.counts.macs, "acts": s.counts.acts,
                        "output_shape": list(s.output_shape), "output_stride": s.output_stride,
                        "output_bytes": s.output_bytes, "largest_output_bytes": s.largest_output_bytes,
                        "largest_output_layer": s.largest_output_layer, "modules": s.modules} for s in self.stages],
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

    def _row(self, layer: Layer) -> Row:
        w_out = {"conv": layer.out_shape[:1], "linear": layer.out_shape[-1:]}.get(layer.op, (0,))[0]
        return Row(layer.name, layer.stage, self.kinds.get(layer.name) or layer.kind, layer.w_in, w_out,
                   layer.out_shape, _scaled(layer.counts, self.batch), self._bytes(layer))

    def _bytes(self, layer: Layer) -> int:
        if layer.op in NO_NEW_TENSOR or not layer.out_shape:
            return 0
        return math.prod(layer.out_shape) * self.batch * DTYPE_BYTES[self.dtype]


ROWS = ["name", "stage", "kind", "params", "macs", "acts", "output_shape", "output_bytes"]


def summary(model, resolution: int | None = None, batch: int = 1, dtype: str = "fp32",
            input_size=None, output_stride: int | None = None, convention: str = "netprobe") -> Summary:
    """Summary of a registered name, alias, ``FAMILY@BUDGET``, ``package.module:factory``,
    ``timm:NAME``, ``torchvision:NAME``, a spec, a module class or factory, or an ``nn.Module``.

    ``input_size``: (C, H, W) or ``"CxHxW"`` (``"1x224x320"``), instead of a square ``resolution``;
    by default the model's own (a zoo member's, timm's config, torchvision's weights).
    ``output_stride`` (8, 16) dilates a ResNet-like zoo model (netprobe.families.dilation).
    ``convention``: whose MACs to report: netprobe, fvcore, ptflops or torch (``analysis.conventions``);
    every layer carries what each convention counts (its facts), from the spec or the op-level pass.
    """
    conventions.convention(convention)
    _check(resolution, batch)
    size = parse_input_size(input_size)
    if size and resolution:
        raise NetprobeError("give --resolution or --input-size, not both")
    dtype = parse_dtype(dtype)
    source = dilated(_source(model), output_stride)
    out = _analyze(source, size or (resolution and (None, resolution, resolution)), batch, dtype)
    if _final_height(out) == 1:
        stride = _final_stride(_analyze(source, None, 1, dtype))
        if stride and min(out.input_size[1:]) < stride:
            raise NetprobeError(f"resolution too small: {out.model} downsamples {stride}x, so its input must be "
                                f"at least {stride} px; got {_size_text(out.input_size)}, use a larger --resolution")
    return conventions.in_convention(out, convention)


def parse_input_size(value) -> tuple[int, int, int] | None:
    """(C, H, W) from ``"1x224x320"``, ``"224x320"`` (3 channels) or a tuple of ints; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.strip().lower().replace("×", "x").split("x")
        dims = [int(p) for p in parts if p.strip().isdigit()]
        if len(dims) != len(parts):
            dims = []
    else:
        dims = list(value) if isinstance(value, (tuple, list)) else []
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            dims = []
    if len(dims) == 2:
        dims = [3, *dims]
    if len(dims) != 3 or min(dims) < 1:
        raise NetprobeError(f"bad input size '{value}'; use CxHxW such as 3x224x224 or 1x224x320 (or HxW)")
    return tuple(dims)


def _size_text(size: tuple[int, int, int]) -> str:
    return f"{size[1]}x{size[2]}" + (f" with {size[0]} channels" if size[0] != 3 else "")


def _analyze(source: loaders.Source, size, batch: int, dtype: str) -> Summary:
    """``size``: (C, H, W), with C None for the model's own; None for the model's own size."""
    if source.net is not None:
        net = source.net
        c, h, w = size or (None, net.resolution, net.resolution)
        if c not in (None, net.w_in):
            raise NetprobeError(f"{net.name} takes {net.w_in} input channels, got {c}; "
                                f"use --input-size {net.w_in}x{h}x{w}")
        return _assemble(source, (net.w_in, h, w), batch, dtype, net_layers(net, (h, w)), {}, {}, ())
    return _assemble(source, *_measured(source, size, batch, dtype))


def _body(s: Summary) -> list[StageRow]:
    return [st for st in s.stages if st.name != "head" and len(st.output_shape) == 3]


def _final_height(s: Summary) -> int:
    """Height of the last stage that still has a spatial output (0 if none)."""
    body = _body(s)
    return body[-1].output_shape[1] if body else 0


def _final_stride(s: Summary) -> int | None:
    body = _body(s)
    return body[-1].output_stride if body else None


def output_stride(resolution: int | tuple[int, int], *sizes: int) -> int:
    """Product of the strides that take the input (``resolution`` px, or (H, W)) down to ``sizes``.

    A padded conv or pool of stride 2 gives ceil(in / 2) (ResNet's 3x3/2 max-pool with
    padding 1 too), so the stride is the smallest power of two s with ceil(in / s) equal
    to every output size, axis by axis; a network that fits no power of two gets round(in / out).
    """
    inputs = (resolution,) * len(sizes) if isinstance(resolution, int) else tuple(resolution)
    s = 1
    while True:
        if all(-(-r // s) == n for r, n in zip(inputs, sizes)):
            return s
        if s >= max(inputs):
            return round(inputs[0] / sizes[0])
        s *= 2


def _check(resolution, batch) -> None:
    if resolution is not None and resolution <= 0:
        raise NetprobeError(f"--resolution must be a positive number of pixels, got {resolution}")
    if batch <= 0:
        raise NetprobeError(f"--batch must be a positive integer, got {batch}")


def _source(model) -> loaders.Source:
    if isinstance(model, str):
        return loaders.load(model)
    if isinstance(model, Net):
        return loaders.Source(model.name, model.family, net=model)
    from torch import nn

    if isinstance(model, nn.Module):
        return loaders.Source(type(model).__name__, None, factory=lambda: model, instance=True)
    if callable(model):
        return loaders.Source(getattr(model, "__name__", repr(model)), None, factory=model)
    raise NetprobeError(f"cannot summarize a {type(model).__name__}; give a model name, a spec, "
                        "an nn.Module, or a callable that returns one")


def _measured(source: loaders.Source, size, batch: int, dtype: str):
    """Arguments of ``_assemble`` for a model counted op by op."""
    from netprobe.analysis.stages import find_stages, stage_modules

    model, note = loaders.instantiate_for_counting(source)
    notes = [note] if note else []
    own = loaders.default_input_size(source, model) or (3, DEFAULT_RESOLUTION, DEFAULT_RESOLUTION)
    c, h, w = size or own
    c = c or own[0]
    try:
        measured = _run_counted(source, model, (h, w), c, notes)
    except NetprobeError:
        raise
    except Exception as e:  # noqa: BLE001 - arbitrary user models fail in arbitrary ways
        text = first_line(e)
        if any(s in text.lower() for s in ("too small", "output size", "kernel size can't be greater")):
            raise NetprobeError(f"resolution too small: {source.name} fails at {h}x{w} ({text}); "
                                "use a larger --resolution") from e
        raise NetprobeError(f"{source.name}: forward pass at {c}x{h}x{w} failed: {type(e).__name__}: {text}; "
                            "check --input-size") from e
    containers = stage_modules(model)
    names = find_stages(measured.layers, containers)
    layers = [replace(layer, stage=stage) for layer, stage in zip(measured.layers, names)]
    return ((c, h, w), batch, dtype, layers, dict(measured.unsupported), measured.labels, tuple(notes), containers,
            measured.frozen)


def _run_counted(source, model, hw, channels, notes: list[str]):
    """Count on ``meta``; a model whose forward cannot run there (data-dependent ops) runs on the CPU."""
    from netprobe.analysis.measure import measure

    if not source.instance and any(not p.is_meta for p in model.parameters()):
        try:
            model = model.to("meta")
        except Exception:  # noqa: BLE001 - a module that cannot move is counted where it is
            pass
    try:
        return measure(model, hw, channels)
    except Exception as e:  # noqa: BLE001 - retried below, for real
        if source.instance or not any(p.is_meta for p in model.parameters()):
            raise
        meta_error = e
    try:
        counted = measure(loaders.instantiate(source, "cpu"), hw, channels)
    except Exception:  # noqa: BLE001 - the model fails for real too: report the first failure
        raise meta_error from None
    notes.append(f"{source.name} cannot run on the meta device ({first_line(meta_error, 80)}); "
                 "counted with a forward pass on cpu")
    return counted


def _assemble(source, size, batch, dtype, layers, unsupported, kinds, notes, containers=(), frozen=0) -> Summary:
    draft = Summary(source.name, source.family, size[1], batch, dtype, tuple(layers), (), Counts(), unsupported,
                    kinds, tuple(size), notes)
    order = list(dict.fromkeys(layer.stage for layer in layers))
    detected = source.net is None
    stages = tuple(_stage(draft, name, [layer for layer in layers if layer.stage == name], detected, containers)
                   for name in order)
    totals = total(s.counts for s in stages)
    return replace(draft, stages=stages, totals=totals, frozen_params=frozen)


def _stage(draft: Summary, name: str, layers: list[Layer], detected: bool, containers=()) -> StageRow:
    shaped = [layer for layer in layers if layer.out_shape]
    output = shaped[-1] if name == "head" and shaped else _stage_output(shaped)
    hw = output.map_hw if output else None
    stride = output_stride(draft.input_size[1:], *hw) if hw else None
    sizes = [(draft._bytes(layer), layer.name) for layer in layers]
    largest = max(sizes, key=lambda s: s[0], default=(0, ""))
    modules = _common_prefix([layer.name for layer in shaped], containers) if detected else ""
    return StageRow(name, _scaled(total(layer.counts for layer in layers), draft.batch),
                    output.out_shape if output else (), stride, sum(b for b, _ in sizes), largest[0], largest[1],
                    modules)


def _stage_output(shaped: list[Layer]) -> Layer | None:
    """A body stage's last layer on its main path: the last with a map larger than 1x1 (a block
    may end in an SE multiply and an add, which are no layers, after its 1x1 gate), else the last."""
    big = [layer for layer in shaped if layer.map_hw and max(layer.map_hw) > 1]
    return (big or shaped or [None])[-1]


def _scaled(c: Counts, batch: int) -> Counts:
    return Counts(c.params, c.macs * batch, c.acts * batch)


def _group_name(name: str, depth: int, container: str) -> str:
    """The module a layer is grouped under: its first ``depth`` name parts, or at depth 2 the block
    of its stage's container: the child below it (``layer2.0``), or the numbered child of the run of
    blocks it holds (``encoder.layers.3``, ``stages.1.blocks.0``)."""
    if depth == 2 and container and name.startswith(container + "."):
        rest = name[len(container) + 1:].split(".")
        run = len(rest) > 2 and not rest[0].isdigit() and rest[1].isdigit()
        return ".".join([container, *rest[:2 if run else 1]])
    return ".".join(name.split(".")[:depth])


GROUP_LABEL_CHARS = 30  # a block's label stays this short, so that the kind column fits an 80-column table


def _group_kind(rows: list[Row]) -> str:
    """What a block does, from the kinds of its layers that compute or join: 'conv1x1 + gconv3x3 g=16 /2 +
    SE + conv1x1', 'conv1x1 + conv3x3 + concat (dense, k=32)'; 'N layers' when none does."""
    runs: list[list] = []  # [kind, times in a row]
    for r in rows:
        if not (r.counts.macs or r.kind.startswith("concat")):
            continue
        kind = next((u for u in UNIT_KINDS if r.kind.startswith(u + " ")), r.kind)
        kind = kind.replace(" (pointwise)", "").replace(" (depthwise)", "")  # dwconv and 1x1 say it already
        if runs and runs[-1][0] == kind:
            runs[-1][1] += kind not in UNIT_KINDS  # a unit's own layers are one unit
        else:
            runs.append([kind, 1])
    if not runs:
        return f"{len(rows)} layers"
    kinds = [f"{kind} x{n}" if n > 1 else kind for kind, n in runs]
    label = kinds[0]
    for kind in kinds[1:]:
        if len(label) + len(kind) + 3 > GROUP_LABEL_CHARS:
            return label + " + ..."
        label += " + " + kind
    return label


def _group(rows: list[Row], name: str) -> Row:
    if len(rows) == 1:
        return rows[0]
    w_in = next((r.w_in for r in rows if r.w_out), 0)
    w_out = next((r.w_out for r in reversed(rows) if r.w_out), 0)
    shape = next((r.output_shape for r in reversed(rows) if r.output_shape), ())
    return Row(name, rows[0].stage, _group_kind(rows), w_in, w_out, shape,
               total(r.counts for r in rows), sum(r.output_bytes for r in rows))


def _common_prefix(names: list[str], containers=()) -> str:
    """The stage container or module all names share ('layer2'), else their top-level modules ('stem+s1')."""
    if not names:
        return ""
    tops = list(dict.fromkeys(n.split(".")[0] for n in names))
    if len(tops) > 1:
        return "+".join(tops) if len(tops) <= 3 else f"{tops[0]}+...+{tops[-1]}"
    split = [n.split(".") for n in names]
    out = []
    for parts in zip(*split):
        if len(set(parts)) > 1:
            break
        out.append(parts[0])
    shared = ".".join(out)
    return next((c for c in containers if shared == c or shared.startswith(c + ".")), shared)


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
