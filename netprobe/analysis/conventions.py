"""Other counters' conventions as data: what fvcore, ptflops and torch's FlopCounterMode count, per op.

One pass over a network records *facts* per layer: plain quantities such as the
multiply-accumulates of its convolutions without bias, or the elements an exact
``nn.BatchNorm2d`` module reads. A convention is a table of weights over those facts,
so every counter's number is a sum netprobe computes itself, exactly, and the
difference between two counters is the facts one of them weighs differently.

Facts come from three places, because the tools look at a network in three ways:
- ``op.*``: aten ops as they run (netprobe's own counter, fvcore's JIT trace, torch's
  ``FlopCounterMode`` all price ops);
- ``module.*``: modules of the exact classes ptflops hooks (a subclass is not hooked, and
  modules inside a hooked module are not summed);
- ``call.*``: the Python functions ptflops patches while it runs (``F.relu``,
  ``F.max_pool2d``, ``torch.matmul``, ``Tensor.add``...), wherever they are called from, so
  an ``nn.ReLU`` counts once by its hook and once more by the ``F.relu`` it calls.

What each fact is, and which fact each leaf module, aten op and patched function gives,
is in ``analysis.counters``. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.analysis.counters import (CALL_ACTIVATION, CALL_POOLING, FACTS, MODULE_ATTENTION, MODULE_TIMM_ATTENTION,
                                        OP_ADAPTIVE_AVG_POOL2D, OP_ATTENTION, OP_BATCH_NORM, OP_BATCH_NORM_PLAIN,
                                        OP_CONV, OP_CONV_BIAS, OP_EINSUM, OP_EINSUM_FVCORE, OP_FUSED_ATTENTION,
                                        OP_GRID_SAMPLER, OP_LINEAR, OP_LINEAR_BIAS, OP_MATMUL, OP_MATMUL_BIAS, OP_NORM,
                                        OP_NORM_PLAIN, OP_RNN, OP_RNN_BIAS, OP_RNN_CELL, OP_RNN_FUSED,
                                        OP_UPSAMPLE_BILINEAR2D, OP_UPSAMPLE_NEAREST2D)
from netprobe.errors import NetprobeError

# Kinds of op, in the order the explanation table lists them (FACTS gives each fact's).
KINDS = ("conv", "linear", "matmul", "rnn", "norm", "pooling", "activation", "bias", "upsample", "elementwise")
KIND_LABELS = {"conv": "conv", "linear": "linear", "matmul": "matmul / attention", "rnn": "recurrent", "norm": "norm",
               "pooling": "pooling", "activation": "activation", "bias": "bias adds", "upsample": "upsample",
               "elementwise": "elementwise (add, mul)"}

NETPROBE_FACTS = (OP_CONV, OP_CONV_BIAS, OP_LINEAR, OP_LINEAR_BIAS, OP_MATMUL, OP_MATMUL_BIAS, OP_EINSUM, OP_ATTENTION,
                  OP_FUSED_ATTENTION, OP_RNN, OP_RNN_FUSED, OP_RNN_CELL, OP_RNN_BIAS)


@dataclass(frozen=True)
class Convention:
    """A counter's rule: fact -> count per unit of it, what its number is called and its unit."""

    name: str
    header: str  # its column's name in tables
    tool: str  # the call whose number this reproduces
    unit: str  # what one of its counts is
    weights: dict

    @property
    def legend(self) -> str:
        """The line under a table that says what its column counts."""
        return f"{self.header}: {self.unit}, as {self.tool} counts them"


CONVENTIONS = {
    "netprobe": Convention(
        "netprobe", "MACs", "netprobe summary (the RegNet paper / pycls convention)", "MACs",
        dict.fromkeys(NETPROBE_FACTS, 1)),
    "fvcore": Convention(
        "fvcore", "fvcore MACs", "fvcore.nn.FlopCountAnalysis(model, x).total()", "MACs (fvcore calls them flops)",
        {OP_CONV: 1, OP_LINEAR: 1, OP_MATMUL: 1, OP_EINSUM_FVCORE: 1,  # no bias adds; no sdpa formula
         OP_RNN_CELL: 1,  # cells trace as addmm; layers as aten::lstm/gru, which it has no formula for
         OP_BATCH_NORM: 2, OP_BATCH_NORM_PLAIN: 1,  # eval mode: 2 per element with an affine weight
         OP_NORM: 5, OP_NORM_PLAIN: 4,  # its norm_flop_counter: 'a rough estimate'
         OP_ADAPTIVE_AVG_POOL2D: 1, OP_UPSAMPLE_NEAREST2D: 1, OP_UPSAMPLE_BILINEAR2D: 4, OP_GRID_SAMPLER: 4}),
    "ptflops": Convention(
        "ptflops", "ptflops MACs", "ptflops.get_model_complexity_info(model, res, backend='pytorch')", "MACs",
        {fact: 1 for fact in FACTS if fact.startswith(("module.", "call."))}),
    "torch": Convention(
        "torch", "torch FLOPs", "torch.utils.flop_counter.FlopCounterMode", "FLOPs (2 per MAC)",
        {OP_CONV: 2, OP_LINEAR: 2, OP_MATMUL: 2, OP_EINSUM: 2, OP_ATTENTION: 2,  # no bias adds; no fused MHA
         OP_RNN: 2, OP_RNN_CELL: 2}),  # the decomposed mm/addmm; no formula for oneDNN's LSTM kernel
}


def convention(name: str | None) -> Convention:
    """The convention of a name; an unknown one is a NetprobeError listing the known ones."""
    key = "netprobe" if name is None else str(name).strip().lower()
    if key not in CONVENTIONS:
        raise NetprobeError(f"unknown convention '{name}'; choose from {', '.join(CONVENTIONS)}")
    return CONVENTIONS[key]


def count(facts, conv: Convention) -> int:
    """A convention's number for facts given as (fact, n) pairs or a mapping."""
    items = facts.items() if isinstance(facts, dict) else facts
    return sum(n * conv.weights.get(fact, 0) for fact, n in items)


def by_kind(facts, conv: Convention) -> dict[str, int]:
    """A convention's number split by kind of op (every kind, zeros included)."""
    out = dict.fromkeys(KINDS, 0)
    items = facts.items() if isinstance(facts, dict) else facts
    for fact, n in items:
        out[FACTS[fact][0]] += n * conv.weights.get(fact, 0)
    return out


def merged(layers) -> dict[str, int]:
    """All facts of some layers, summed."""
    out: dict[str, int] = {}
    for layer in layers:
        for fact, n in layer.facts:
            out[fact] = out.get(fact, 0) + n
    return out


def in_convention(s, name: str | None):
    """A summary (``analysis.summary.Summary``) whose MACs are those of another convention, layer by layer."""
    from dataclasses import replace

    conv = convention(name)
    if conv.name == s.convention:
        return s
    layers = tuple(replace(layer, counts=replace(layer.counts, macs=count(layer.facts, conv))) for layer in s.layers)
    per_stage: dict[str, int] = {}
    for layer in layers:
        per_stage[layer.stage] = per_stage.get(layer.stage, 0) + layer.counts.macs
    stages = tuple(replace(st, counts=replace(st.counts, macs=s.batch * per_stage.get(st.name, 0))) for st in s.stages)
    totals = replace(s.totals, macs=sum(st.counts.macs for st in stages))
    return replace(s, layers=layers, stages=stages, totals=totals, convention=conv.name)


@dataclass(frozen=True)
class Explanation:
    """Every convention's total and its split by kind of op, from one set of facts (batch 1)."""

    totals: dict  # convention -> number
    by_kind: dict  # convention -> kind -> number
    facts: dict  # fact -> units, the measured quantities behind them
    notes: tuple[str, ...] = ()  # why the columns differ where the table alone does not say


# Why counters differ where the numbers alone do not say: (facts that show it, note).
NOTES = (
    ((OP_CONV_BIAS, OP_LINEAR_BIAS), "bias adds: netprobe and ptflops count them, fvcore and torch do not"),
    ((OP_ATTENTION,), "scaled_dot_product_attention: fvcore has no formula for it and ptflops does not patch it (0)"),
    ((OP_FUSED_ATTENTION,), "fused nn.MultiheadAttention: fvcore and FlopCounterMode see one op with no formula (0)"),
    ((MODULE_ATTENTION,), "ptflops counts nn.MultiheadAttention by its own formula, not by its ops"),
    ((MODULE_TIMM_ATTENTION,), "ptflops counts timm's Attention by its own formula and drops its qkv and proj linears"),
    ((CALL_ACTIVATION,), "ptflops counts F.relu/gelu/silu calls, so nn.ReLU and nn.GELU twice (hook and functional)"),
    ((CALL_POOLING,), "ptflops counts a pooling module twice: its hook and the functional it calls"),
    ((OP_NORM, OP_NORM_PLAIN), "fvcore counts layer/group/instance norms 5 per element (4 without weight)"),
    ((OP_RNN, OP_RNN_FUSED), "LSTM/GRU/RNN layers: fvcore has no formula (0); FlopCounterMode counts torch's "
                             "decomposed CPU path, not the oneDNN LSTM kernel (0); ptflops uses its own formula"),
    ((OP_EINSUM,), "fvcore estimates einsum with numpy's einsum_path, to 4 significant digits; ptflops does not patch it (0)"),
)


def explain(layers) -> Explanation:
    """Every convention's number for some layers, by kind of op, with the notes that apply."""
    facts = merged(layers)
    notes = tuple(text for shown_by, text in NOTES if any(facts.get(f) for f in shown_by))
    return Explanation({n: count(facts, c) for n, c in CONVENTIONS.items()},
                       {n: by_kind(facts, c) for n, c in CONVENTIONS.items()}, facts, notes)
