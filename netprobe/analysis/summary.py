"""``summary()``: per-layer and per-stage counts and layer output bytes of a network, as data.

Zoo members are counted from their spec (no torch, no forward pass); any other
``nn.Module`` is measured with forward hooks on the ``meta`` device and its stages are
found by output stride. ``macs`` and ``acts`` are at the summary's batch, ``params`` once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from netprobe import loaders
from netprobe.analysis.cost import net_layers
from netprobe.analysis.layers import Layer
from netprobe.analysis.stages import side_branch
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
    unsupported: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # labels for leaves netprobe cannot count

    @property
    def output_bytes(self) -> int:
        return sum(s.output_bytes for s in self.stages)

    def rows(self, depth: int | None = None) -> list[Row]:
        """Rows at a depth: None or 0 every leaf, 1 one per stage, N leaves grouped by N name parts."""
        leaves = [self._row(layer) for layer in self.layers]
        if not depth:
            return leaves
        if depth == 1:
            return [Row(s.name, s.name, "stage", 0, 0, s.output_shape, s.counts, s.output_bytes) for s in self.stages]
        groups: list[list[Row]] = []
        for row in leaves:
            key = (row.stage, ".".join(row.name.split(".")[:depth]))
            if groups and (groups[-1][0].stage, ".".join(groups[-1][0].name.split(".")[:depth])) == key:
                groups[-1].append(row)
            else:
                groups.append([row])
        return [_group(g, depth) for g in groups]

    def to_dict(self, depth: int | None = None) -> dict:
        """The JSON object: totals, stages and rows, counts as plain integers."""
        return {
            "model": self.model, "family": self.family, "resolution": self.resolution,
            "batch": self.batch, "dtype": self.dtype,
            "params": self.totals.params, "macs": self.totals.macs, "acts": self.totals.acts,
            "output_bytes": self.output_bytes,
            "stages": [{"name": s.name, "params": s.counts.params, "macs": s.counts.macs, "acts": s.counts.acts,
                        "output_shape": list(s.output_shape), "output_stride": s.output_stride,
                        "output_bytes": s.output_bytes, "largest_output_bytes": s.largest_output_bytes,
                        "largest_output_layer": s.largest_output_layer, "modules": s.modules} for s in self.stages],
            "layers": self.records(depth),
            "unsupported": dict(self.unsupported),
            "convention": CONVENTION,
        }

    def records(self, depth: int | None = None) -> list[dict]:
        """Rows as flat dicts (the CSV and JSON schema)."""
        return [{"name": r.name, "stage": r.stage, "kind": r.kind, "params": r.counts.params,
                 "macs": r.counts.macs, "acts": r.counts.acts, "output_shape": list(r.output_shape),
                 "output_bytes": r.output_bytes} for r in self.rows(depth)]

    def _row(self, layer: Layer) -> Row:
        w_out = layer.out_shape[0] if layer.op in ("conv", "linear") else 0
        return Row(layer.name, layer.stage, self.kinds.get(layer.name) or layer.kind, layer.w_in, w_out,
                   layer.out_shape, _scaled(layer.counts, self.batch), self._bytes(layer))

    def _bytes(self, layer: Layer) -> int:
        if layer.op in NO_NEW_TENSOR or not layer.out_shape:
            return 0
        return math.prod(layer.out_shape) * self.batch * DTYPE_BYTES[self.dtype]


ROWS = ["name", "stage", "kind", "params", "macs", "acts", "output_shape", "output_bytes"]


def summary(model, resolution: int | None = None, batch: int = 1, dtype: str = "fp32",
            output_stride: int | None = None) -> Summary:
    """Summary of a registered name, alias, ``FAMILY@BUDGET``, ``package.module:factory``,
    ``timm:NAME``, ``torchvision:NAME``, a spec, a module class or factory, or an ``nn.Module``.

    ``output_stride`` (8, 16) dilates a ResNet-like zoo model (netprobe.families.dilation)."""
    _check(resolution, batch)
    dtype = parse_dtype(dtype)
    source = _dilated(_source(model), output_stride)
    out = _analyze(source, resolution, batch, dtype)
    if _final_height(out) == 1:
        stride = _final_stride(_analyze(source, None, 1, dtype))
        if stride and out.resolution < stride:
            raise NetprobeError(f"resolution too small: {out.model} downsamples {stride}x, so its input must be "
                                f"at least {stride} px; got {out.resolution}, use a larger --resolution")
    return out


def _analyze(source: loaders.Source, resolution: int | None, batch: int, dtype: str) -> Summary:
    if source.net is not None:
        res = resolution or source.net.resolution
        return _assemble(source, res, batch, dtype, net_layers(source.net, res), {}, {})
    res = resolution or DEFAULT_RESOLUTION
    return _assemble(source, res, batch, dtype, *_measured(source, res))


def _body(s: Summary) -> list[StageRow]:
    return [st for st in s.stages if st.name != "head" and len(st.output_shape) == 3]


def _final_height(s: Summary) -> int:
    """Height of the last stage that still has a spatial output (0 if none)."""
    body = _body(s)
    return body[-1].output_shape[1] if body else 0


def _final_stride(s: Summary) -> int | None:
    body = _body(s)
    return body[-1].output_stride if body else None


def output_stride(resolution: int, *sizes: int) -> int:
    """Product of the strides that take ``resolution`` px down to ``sizes`` (output H, W).

    A padded conv or pool of stride 2 gives ceil(in / 2) (ResNet's 3x3/2 max-pool with
    padding 1 too), so the stride is the smallest power of two s with ceil(res / s) equal
    to every output size; a network that fits no power of two gets round(res / h).
    """
    s = 1
    while True:
        if all(-(-resolution // s) == n for n in sizes):
            return s
        if s >= resolution:
            return round(resolution / sizes[0])
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
        return loaders.Source(type(model).__name__, None, factory=lambda: model)
    if callable(model):
        return loaders.Source(getattr(model, "__name__", repr(model)), None, factory=model)
    raise NetprobeError(f"cannot summarize a {type(model).__name__}; give a model name, a spec, "
                        "an nn.Module, or a callable that returns one")


def _measured(source: loaders.Source, res: int) -> tuple[list[Layer], dict[str, int], dict[str, str]]:
    from netprobe.analysis.measure import measure
    from netprobe.analysis.stages import find_stages

    model = loaders.instantiate(source)
    try:
        measured = measure(model, (res, res))
    except Exception as e:  # noqa: BLE001 - arbitrary user models fail in arbitrary ways
        text = first_line(e)
        if any(s in text.lower() for s in ("too small", "output size", "kernel size can't be greater")):
            raise NetprobeError(f"resolution too small: {source.name} fails at {res}x{res} ({text}); "
                                "use a larger --resolution") from e
        raise NetprobeError(f"{source.name}: forward pass at {res}x{res} on the meta device failed: "
                            f"{type(e).__name__}: {text}") from e
    names = find_stages(measured.layers)
    layers = [replace(layer, stage=stage) for layer, stage in zip(measured.layers, names)]
    modules = dict(model.named_modules())
    kinds = {layer.name: f"{type(modules[layer.name]).__name__} (not counted)" for layer in layers
             if layer.op == "other" and layer.name in modules}
    return layers, dict(measured.unsupported), kinds


def _assemble(source, res, batch, dtype, layers, unsupported, kinds) -> Summary:
    draft = Summary(source.name, source.family, res, batch, dtype, tuple(layers), (), Counts(), unsupported, kinds)
    order = list(dict.fromkeys(layer.stage for layer in layers))
    detected = source.net is None
    stages = tuple(_stage(draft, name, [layer for layer in layers if layer.stage == name], detected)
                   for name in order)
    totals = total(s.counts for s in stages)
    return replace(draft, stages=stages, totals=totals)


def _stage(draft: Summary, name: str, layers: list[Layer], detected: bool) -> StageRow:
    shaped = [layer for layer in layers if layer.out_shape]
    shape = _stage_output(shaped)
    stride = output_stride(draft.resolution, *shape[1:]) if len(shape) == 3 else None
    sizes = [(draft._bytes(layer), layer.name) for layer in layers]
    largest = max(sizes, key=lambda s: s[0], default=(0, ""))
    modules = _common_prefix([layer.name for layer in shaped]) if detected else ""
    return StageRow(name, _scaled(total(layer.counts for layer in layers), draft.batch), shape, stride,
                    sum(b for b, _ in sizes), largest[0], largest[1], modules)


def _stage_output(shaped: list[Layer]) -> tuple[int, ...]:
    """Shape of the stage's last layer on its main path.

    A block may end in an add or an SE multiply, which are no layers: its last layer is
    then the SE gate at 1x1, a side branch, not the stage's output.
    """
    main = [layer for layer, side in zip(shaped, side_branch(shaped)) if not side]
    return (main or shaped)[-1].out_shape if shaped else ()


def _scaled(c: Counts, batch: int) -> Counts:
    return Counts(c.params, c.macs * batch, c.acts * batch)


def _group(rows: list[Row], depth: int) -> Row:
    if len(rows) == 1:
        return rows[0]
    name = ".".join(rows[0].name.split(".")[:depth])
    w_in = next((r.w_in for r in rows if r.w_out), 0)
    w_out = next((r.w_out for r in reversed(rows) if r.w_out), 0)
    shape = next((r.output_shape for r in reversed(rows) if r.output_shape), ())
    return Row(name, rows[0].stage, f"{len(rows)} layers", w_in, w_out, shape,
               total(r.counts for r in rows), sum(r.output_bytes for r in rows))


def _common_prefix(names: list[str]) -> str:
    """The module all names share ('layer2'), else their top-level modules ('stem+s1')."""
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
    return ".".join(out)


def _dilated(source: loaders.Source, output_stride: int | None) -> loaders.Source:
    """The zoo model of ``source`` at another output stride (dilated ResNets)."""
    if output_stride is None:
        return source
    if source.net is None:
        raise NetprobeError(f"--output-stride applies to zoo models, not to {source.name}; "
                            "build that model dilated and pass it as package.module:factory")
    from netprobe.families.dilation import with_output_stride

    net = with_output_stride(source.net, output_stride)
    return replace(source, name=net.name, net=net)
