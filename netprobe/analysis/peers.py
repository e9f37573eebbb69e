"""netprobe's counts beside fvcore's and ptflops' for the same model, split by kind of op.

Each tool runs a real forward pass (CPU, batch 1, random weights) and is read through
its own reporting: fvcore's ``by_operator()`` and ``unsupported_ops()``, ptflops' module
hooks and its patched functionals, each wrapped to record what it adds. Nothing about
what a tool counts is assumed here; the notes are computed from the numbers.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field

from netprobe.analysis.layers import Layer
from netprobe.analysis.summary import Summary
from netprobe.errors import first_line

KINDS = ("conv", "linear", "norm", "pooling", "activations", "mul", "add", "other")
KIND_LABELS = {"conv": "conv", "linear": "linear / matmul", "norm": "batch norm / norm", "pooling": "pooling",
               "activations": "activations", "mul": "elementwise mul", "add": "elementwise add", "other": "other"}
ACT_OPS = {"relu", "relu6", "silu", "sigmoid", "hardswish", "hardsigmoid", "gelu", "tanh", "elu", "leaky_relu",
           "leakyrelu", "softmax", "hardtanh", "prelu", "mish", "selu", "celu", "softplus", "swish"}
MATMUL_OPS = {"linear", "addmm", "matmul", "mm", "bmm", "baddbmm", "einsum"}


@dataclass(frozen=True)
class Tool:
    """One counter's totals at batch 1, its count per kind of op, and what it saw but skipped."""

    name: str
    params: int | None
    macs: int | None
    by_kind: dict[str, int] = field(default_factory=dict)
    sources: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> {'modules': n, 'functionals': n}
    skipped: dict[str, Counter] = field(default_factory=dict)  # kind -> {op: times seen}
    error: str = ""


@dataclass(frozen=True)
class Comparison:
    """netprobe, fvcore and ptflops on one model, and why their totals differ, kind by kind."""

    tools: tuple[Tool, ...]
    notes: dict[str, list[str]]  # kind -> notes
    bias_macs: dict[str, int]  # netprobe's bias adds inside 'conv' and 'linear'


def op_kind(name: str) -> str:
    """Kind of an op or module name: 'aten::silu', 'add_', 'Conv2d', 'adaptive_avg_pool2d'..."""
    base = name.removeprefix("aten::").lower().rstrip("_")
    if base in ("mul", "add"):
        return base
    if base.startswith("conv"):
        return "conv"
    if base in MATMUL_OPS:
        return "linear"
    if "norm" in base:
        return "norm"
    if "pool" in base or base == "mean":
        return "pooling"
    if base in ACT_OPS:
        return "activations"
    return "other"


def _bias(layer: Layer) -> int:
    """Bias adds inside a conv or linear layer's MACs (its bias size times its output positions)."""
    if layer.op == "conv":
        weights = math.prod(layer.window) * (layer.w_in // layer.groups) * layer.out_shape[0]
        return (layer.counts.params - weights) * math.prod(layer.out_shape[1:])
    if layer.op == "linear":
        return layer.counts.params - layer.w_in * layer.out_shape[0]
    return 0


def netprobe_tool(s: Summary) -> Tool:
    by_kind = Counter({k: 0 for k in KINDS})
    for layer in s.layers:
        by_kind[op_kind(layer.op) if layer.counts.macs else "other"] += layer.counts.macs
    params = sum(layer.counts.params for layer in s.layers)
    return Tool("netprobe", params, sum(by_kind.values()), dict(by_kind))


def fvcore_tool(model, x) -> Tool:
    from fvcore.nn import FlopCountAnalysis, parameter_count

    flops = FlopCountAnalysis(model, x)
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    by_kind = Counter({k: 0 for k in KINDS})
    for op, n in flops.by_operator().items():
        by_kind[op_kind(op)] += int(n)
    skipped: dict[str, Counter] = {}
    for op, times in flops.unsupported_ops().items():
        skipped.setdefault(op_kind(op), Counter())[op] += times
    return Tool("fvcore", parameter_count(model)[""], int(flops.total()), dict(by_kind), skipped=skipped)


def ptflops_tool(model, input_size: tuple[int, int, int]) -> Tool:
    from ptflops import get_model_complexity_info, pytorch_ops

    sources = {k: Counter() for k in KINDS}

    def module_hook(original, kind):
        def hook(m, inputs, output):
            before = m.__flops__
            original(m, inputs, output)
            sources[kind]["modules"] += m.__flops__ - before
        return hook

    def functional(original, kind):
        def handler(*args, **kwargs):
            n = original(*args, **kwargs)
            sources[kind]["functionals"] += int(n)
            return n
        return handler

    types = {type(m) for m in model.modules()} & set(pytorch_ops.MODULES_MAPPING)
    hooks = {t: module_hook(pytorch_ops.MODULES_MAPPING[t], op_kind(t.__name__)) for t in types}
    tables = (pytorch_ops.FUNCTIONAL_MAPPING, pytorch_ops.TENSOR_OPS_MAPPING)
    saved = [dict(t) for t in tables]
    try:
        for table in tables:
            for op, handler in list(table.items()):
                table[op] = functional(handler, op_kind(getattr(op, "__name__", str(op))))
        with contextlib.redirect_stdout(io.StringIO()) as out:
            macs, params = get_model_complexity_info(model, tuple(input_size), as_strings=False,
                                                     print_per_layer_stat=False, backend="pytorch",
                                                     custom_modules_hooks=hooks)
    finally:
        for table, old in zip(tables, saved):
            table.clear()
            table.update(old)
    if macs is None:
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        return Tool("ptflops", None, None, error=lines[-1] if lines else "ptflops failed")
    by_kind = {k: sum(v.values()) for k, v in sources.items()}
    # Anything ptflops added that neither wrapper saw is kept, not dropped.
    by_kind["other"] += macs - sum(by_kind.values())
    return Tool("ptflops", params, macs, by_kind, sources={k: dict(v) for k, v in sources.items() if v})


def compare(model, s: Summary) -> Comparison:
    """Run fvcore and ptflops on a real copy of the model ``s`` describes (a failing tool is recorded)."""
    import torch

    real = _real_model(model, s)
    x = torch.randn(1, *s.input_size)
    tools = [netprobe_tool(s)]
    for name, run in (("fvcore", lambda: fvcore_tool(real, x)), ("ptflops", lambda: ptflops_tool(real, s.input_size))):
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # both tools use torch.jit
                tools.append(run())
        except Exception as e:  # noqa: BLE001 - another tool's failure is a result, not a crash
            tools.append(Tool(name, None, None, error=f"{type(e).__name__}: {first_line(e, 120)}"))
    bias = {k: sum(_bias(layer) for layer in s.layers if layer.op == k) for k in ("conv", "linear")}
    return Comparison(tuple(tools), {k: _notes(k, tools, bias, bool(s.unsupported)) for k in KINDS}, bias)


def _real_model(model, s: Summary):
    from netprobe import loaders
    from netprobe.analysis.summary import _source

    source = _source(model)
    if source.net is not None:
        from netprobe.build import build

        built = build(source.net)
    else:
        built = loaders.instantiate(source, device="cpu")
    if any(p.is_meta for p in built.parameters()):
        from netprobe.errors import NetprobeError

        raise NetprobeError(f"--counter all runs {s.model} for real; give a factory or a model with real weights, "
                            "not one on the meta device")
    return built.eval()


def _notes(kind: str, tools: list[Tool], bias: dict[str, int], uncounted: bool) -> list[str]:
    ours = tools[0].by_kind.get(kind, 0)
    notes = []
    for t in (t for t in tools[1:] if not t.error):
        theirs = t.by_kind.get(kind, 0)
        if theirs != ours and kind not in bias:
            notes.append("netprobe: 0 by convention" if not ours else f"{t.name}: differs")
        elif theirs != ours and ours - theirs == bias[kind]:
            notes.append(f"{t.name}: no bias adds")
        elif theirs > ours and uncounted:
            notes.append("netprobe: some ops have no formula (listed under the table)")
        elif theirs != ours:
            notes.append(f"{t.name}: differs")
        if t.skipped.get(kind):
            seen = ", ".join(f"{op} x{n}" for op, n in t.skipped[kind].most_common(3))
            notes.append(f"{t.name} skips {seen}")
        src = t.sources.get(kind, {})
        if src.get("modules") and src.get("functionals"):
            same = " (equal amounts)" if src["modules"] == src["functionals"] else ""
            notes.append(f"{t.name}: module hooks and patched functionals both count{same}")
    return sorted(dict.fromkeys(notes), key=lambda n: not n.startswith("netprobe"))  # ours first
