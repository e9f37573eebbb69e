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

No torch here: zoo members get their facts from the spec (``analysis.cost``), any other
model from the op-level counter (``analysis.facts``).
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.errors import NetprobeError

# Kinds of op, in the order the explanation table lists them.
KINDS = ("conv", "linear", "matmul", "rnn", "norm", "pooling", "activation", "bias", "upsample", "elementwise")
KIND_LABELS = {"conv": "conv", "linear": "linear", "matmul": "matmul / attention", "rnn": "recurrent", "norm": "norm",
               "pooling": "pooling", "activation": "activation", "bias": "bias adds", "upsample": "upsample",
               "elementwise": "elementwise (add, mul)"}

# fact -> (kind, what one unit of it is)
FACTS = {
    "op.conv":               ("conv",        "conv multiply-accumulates, bias excluded"),
    "op.conv_bias":          ("bias",        "conv bias adds (one per output element)"),
    "op.linear":             ("linear",      "linear multiply-accumulates, bias excluded"),
    "op.linear_bias":        ("bias",        "linear bias adds (one per output element)"),
    "op.matmul":             ("matmul",      "mm/bmm/matmul/einsum multiply-accumulates"),
    "op.matmul_bias":        ("bias",        "the added term of baddbmm/addbmm/addmv"),
    "op.einsum":             ("matmul",      "einsum (two operands) multiply-accumulates"),
    "op.einsum_fvcore":      ("matmul",      "fvcore's einsum estimate (numpy's einsum_path, 4 significant digits)"),
    "op.attention":          ("matmul",      "scaled_dot_product_attention: Q K^T and A V"),
    "op.fused_attention":    ("matmul",      "fused MultiheadAttention / encoder-layer kernels"),
    "op.rnn":                ("rnn",         "LSTM/GRU/RNN layer gate products (torch decomposes them to mm/addmm on the CPU)"),
    "op.rnn_fused":          ("rnn",         "LSTM layer gate products in one kernel (oneDNN on the CPU; cuDNN)"),
    "op.rnn_cell":           ("rnn",         "LSTMCell/GRUCell/RNNCell gate products (addmm)"),
    "op.rnn_bias":           ("bias",        "recurrent bias adds: b_ih and b_hh, per gate element per step"),
    "op.batch_norm":         ("norm",        "batch norm input elements, with weight"),
    "op.batch_norm_plain":   ("norm",        "batch norm input elements, no weight"),
    "op.norm":               ("norm",        "layer/group/instance norm input elements, with weight"),
    "op.norm_plain":         ("norm",        "layer/group/instance norm input elements, no weight"),
    "op.adaptive_avg_pool2d": ("pooling",    "adaptive_avg_pool2d input elements"),
    "op.upsample_nearest2d": ("upsample",    "upsample_nearest2d output elements"),
    "op.upsample_bilinear2d": ("upsample",   "upsample_bilinear2d output elements"),
    "op.grid_sampler":       ("upsample",    "grid_sampler output elements"),
    "module.conv":           ("conv",        "conv multiply-accumulates of exact nn.Conv*d / ConvTranspose*d"),
    "module.conv_bias":      ("bias",        "their bias adds"),
    "module.linear":         ("linear",      "multiply-accumulates of exact nn.Linear"),
    "module.linear_bias":    ("bias",        "its bias adds"),
    "module.norm":           ("norm",        "exact BatchNorm/InstanceNorm/GroupNorm/LayerNorm: input elements, x2 if .affine"),
    "module.activation":     ("activation",  "exact nn.ReLU/ReLU6/PReLU/ELU/LeakyReLU/GELU output elements"),
    "module.pooling":        ("pooling",     "exact nn.*Pool*d input elements"),
    "module.upsample":       ("upsample",    "exact nn.Upsample output elements"),
    "module.attention":      ("matmul",      "exact nn.MultiheadAttention (ptflops' formula, projections included)"),
    "module.rnn":            ("rnn",         "exact nn.LSTM/GRU/RNN and cells (ptflops' formula: weights, biases, gate terms)"),
    "module.timm_attention": ("matmul",      "timm's Attention (ptflops' formula; its qkv/proj linears are dropped)"),
    "call.activation":       ("activation",  "F.relu/relu6/prelu/elu/gelu/silu input elements"),
    "call.softmax":          ("activation",  "F.softmax input elements"),
    "call.pooling":          ("pooling",     "F.*pool* input elements"),
    "call.upsample":         ("upsample",    "F.interpolate/upsample output elements (ptflops' formula)"),
    "call.matmul":           ("matmul",      "torch.matmul/mm/bmm, '@', addmm/baddbmm products: a.numel() x b.shape[-1]"),
    "call.matmul_bias":      ("bias",        "addmm/baddbmm added term (when beta != 0)"),
    "call.elementwise":      ("elementwise", "torch.add/mul, Tensor.add/mul (not '+' or '*'): broadcast elements"),
}

NETPROBE_FACTS = ("op.conv", "op.conv_bias", "op.linear", "op.linear_bias", "op.matmul", "op.matmul_bias",
                  "op.einsum", "op.attention", "op.fused_attention", "op.rnn", "op.rnn_fused", "op.rnn_cell",
                  "op.rnn_bias")


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
        {"op.conv": 1, "op.linear": 1, "op.matmul": 1, "op.einsum_fvcore": 1,  # no bias adds; no sdpa formula
         "op.rnn_cell": 1,  # cells trace as addmm; layers as aten::lstm/gru, which it has no formula for
         "op.batch_norm": 2, "op.batch_norm_plain": 1,  # eval mode: 2 per element with an affine weight
         "op.norm": 5, "op.norm_plain": 4,  # its norm_flop_counter: 'a rough estimate'
         "op.adaptive_avg_pool2d": 1, "op.upsample_nearest2d": 1, "op.upsample_bilinear2d": 4,
         "op.grid_sampler": 4}),
    "ptflops": Convention(
        "ptflops", "ptflops MACs", "ptflops.get_model_complexity_info(model, res, backend='pytorch')", "MACs",
        {fact: 1 for fact in FACTS if fact.startswith(("module.", "call."))}),
    "torch": Convention(
        "torch", "torch FLOPs", "torch.utils.flop_counter.FlopCounterMode", "FLOPs (2 per MAC)",
        {"op.conv": 2, "op.linear": 2, "op.matmul": 2, "op.einsum": 2, "op.attention": 2,  # no bias adds; no fused MHA
         "op.rnn": 2, "op.rnn_cell": 2}),  # the decomposed mm/addmm; no formula for oneDNN's LSTM kernel
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


def pack(facts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """Facts as the sorted, hashable pairs a Layer holds (zeros dropped)."""
    return tuple(sorted((f, n) for f, n in facts.items() if n))


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
    (("op.conv_bias", "op.linear_bias"), "bias adds: netprobe and ptflops count them, fvcore and torch do not"),
    (("op.attention",), "scaled_dot_product_attention: fvcore has no formula for it and ptflops does not patch it (0)"),
    (("op.fused_attention",), "fused nn.MultiheadAttention: fvcore and FlopCounterMode see one op with no formula (0)"),
    (("module.attention",), "ptflops counts nn.MultiheadAttention by its own formula, not by its ops"),
    (("module.timm_attention",), "ptflops counts timm's Attention by its own formula and drops its qkv and proj linears"),
    (("call.activation",), "ptflops counts F.relu/gelu/silu calls, so nn.ReLU and nn.GELU twice (hook and functional)"),
    (("call.pooling",), "ptflops counts a pooling module twice: its hook and the functional it calls"),
    (("op.norm", "op.norm_plain"), "fvcore counts layer/group/instance norms 5 per element (4 without weight)"),
    (("op.rnn", "op.rnn_fused"), "LSTM/GRU/RNN layers: fvcore has no formula (0); FlopCounterMode counts torch's "
                                 "decomposed CPU path, not the oneDNN LSTM kernel (0); ptflops uses its own formula"),
    (("op.einsum",), "fvcore estimates einsum with numpy's einsum_path, to 4 significant digits; ptflops does not patch it (0)"),
)


def explain(layers) -> Explanation:
    """Every convention's number for some layers, by kind of op, with the notes that apply."""
    facts = merged(layers)
    notes = tuple(text for shown_by, text in NOTES if any(facts.get(f) for f in shown_by))
    return Explanation({n: count(facts, c) for n, c in CONVENTIONS.items()},
                       {n: by_kind(facts, c) for n, c in CONVENTIONS.items()}, facts, notes)
