"""What each counter counts: the facts, and which leaf module, aten op and patched function gives which.

A fact is a plain quantity one pass over a network records per layer (``analysis.conventions``
weighs them into each counter's number). Three looks at a network give facts:
- ``op.*``: aten ops as they run (netprobe, fvcore's JIT trace, torch's ``FlopCounterMode``);
- ``module.*``: ptflops' hook on a module of one of its exact classes;
- ``call.*``: the Python functions ptflops patches while it runs, wherever they are called.

The tables below are read twice: by the op-level pass (``analysis.facts``), which sees the
ops, modules and calls of any network as they run, and by ``analysis.cost``, which gives a
zoo member's leaves the same facts from the spec (``leaf_facts``). No torch here.
"""

from __future__ import annotations

# Fact names: every module that records or weighs a fact uses these.
OP_CONV = "op.conv"
OP_CONV_BIAS = "op.conv_bias"
OP_LINEAR = "op.linear"
OP_LINEAR_BIAS = "op.linear_bias"
OP_MATMUL = "op.matmul"
OP_MATMUL_BIAS = "op.matmul_bias"
OP_EINSUM = "op.einsum"
OP_EINSUM_FVCORE = "op.einsum_fvcore"
OP_ATTENTION = "op.attention"
OP_FUSED_ATTENTION = "op.fused_attention"
OP_BATCH_NORM = "op.batch_norm"
OP_BATCH_NORM_PLAIN = "op.batch_norm_plain"
OP_NORM = "op.norm"
OP_NORM_PLAIN = "op.norm_plain"
OP_ADAPTIVE_AVG_POOL2D = "op.adaptive_avg_pool2d"
OP_UPSAMPLE_NEAREST2D = "op.upsample_nearest2d"
OP_UPSAMPLE_BILINEAR2D = "op.upsample_bilinear2d"
OP_GRID_SAMPLER = "op.grid_sampler"
OP_RNN = "op.rnn"
OP_RNN_FUSED = "op.rnn_fused"
OP_RNN_CELL = "op.rnn_cell"
OP_RNN_BIAS = "op.rnn_bias"
MODULE_CONV = "module.conv"
MODULE_CONV_BIAS = "module.conv_bias"
MODULE_LINEAR = "module.linear"
MODULE_LINEAR_BIAS = "module.linear_bias"
MODULE_NORM = "module.norm"
MODULE_ACTIVATION = "module.activation"
MODULE_POOLING = "module.pooling"
MODULE_UPSAMPLE = "module.upsample"
MODULE_ATTENTION = "module.attention"
MODULE_TIMM_ATTENTION = "module.timm_attention"
MODULE_RNN = "module.rnn"
CALL_ACTIVATION = "call.activation"
CALL_SOFTMAX = "call.softmax"
CALL_POOLING = "call.pooling"
CALL_UPSAMPLE = "call.upsample"
CALL_MATMUL = "call.matmul"
CALL_MATMUL_BIAS = "call.matmul_bias"
CALL_ELEMENTWISE = "call.elementwise"

# fact -> (kind, what one unit of it is)
FACTS = {
    OP_CONV:                ("conv",        "conv multiply-accumulates, bias excluded"),
    OP_CONV_BIAS:           ("bias",        "conv bias adds (one per output element)"),
    OP_LINEAR:              ("linear",      "linear multiply-accumulates, bias excluded"),
    OP_LINEAR_BIAS:         ("bias",        "linear bias adds (one per output element)"),
    OP_MATMUL:              ("matmul",      "mm/bmm/matmul/einsum multiply-accumulates"),
    OP_MATMUL_BIAS:         ("bias",        "the added term of baddbmm/addbmm/addmv"),
    OP_EINSUM:              ("matmul",      "einsum (two operands) multiply-accumulates"),
    OP_EINSUM_FVCORE:       ("matmul",      "fvcore's einsum estimate (numpy's einsum_path, 4 significant digits)"),
    OP_ATTENTION:           ("matmul",      "scaled_dot_product_attention: Q K^T and A V"),
    OP_FUSED_ATTENTION:     ("matmul",      "fused MultiheadAttention / encoder-layer kernels"),
    OP_RNN:                 ("rnn",         "LSTM/GRU/RNN layer gate products (torch decomposes them to mm/addmm on the CPU)"),
    OP_RNN_FUSED:           ("rnn",         "LSTM layer gate products in one kernel (oneDNN on the CPU; cuDNN)"),
    OP_RNN_CELL:            ("rnn",         "LSTMCell/GRUCell/RNNCell gate products (addmm)"),
    OP_RNN_BIAS:            ("bias",        "recurrent bias adds: b_ih and b_hh, per gate element per step"),
    OP_BATCH_NORM:          ("norm",        "batch norm input elements, with weight"),
    OP_BATCH_NORM_PLAIN:    ("norm",        "batch norm input elements, no weight"),
    OP_NORM:                ("norm",        "layer/group/instance norm input elements, with weight"),
    OP_NORM_PLAIN:          ("norm",        "layer/group/instance norm input elements, no weight"),
    OP_ADAPTIVE_AVG_POOL2D: ("pooling",     "adaptive_avg_pool2d input elements"),
    OP_UPSAMPLE_NEAREST2D:  ("upsample",    "upsample_nearest2d output elements"),
    OP_UPSAMPLE_BILINEAR2D: ("upsample",    "upsample_bilinear2d output elements"),
    OP_GRID_SAMPLER:        ("upsample",    "grid_sampler output elements"),
    MODULE_CONV:            ("conv",        "conv multiply-accumulates of exact nn.Conv*d / ConvTranspose*d"),
    MODULE_CONV_BIAS:       ("bias",        "their bias adds"),
    MODULE_LINEAR:          ("linear",      "multiply-accumulates of exact nn.Linear"),
    MODULE_LINEAR_BIAS:     ("bias",        "its bias adds"),
    MODULE_NORM:            ("norm",        "exact BatchNorm/InstanceNorm/GroupNorm/LayerNorm: input elements, x2 if .affine"),
    MODULE_ACTIVATION:      ("activation",  "exact nn.ReLU/ReLU6/PReLU/ELU/LeakyReLU/GELU output elements"),
    MODULE_POOLING:         ("pooling",     "exact nn.*Pool*d input elements"),
    MODULE_UPSAMPLE:        ("upsample",    "exact nn.Upsample output elements"),
    MODULE_ATTENTION:       ("matmul",      "exact nn.MultiheadAttention (ptflops' formula, projections included)"),
    MODULE_RNN:             ("rnn",         "exact nn.LSTM/GRU/RNN and cells (ptflops' formula: weights, biases, gate terms)"),
    MODULE_TIMM_ATTENTION:  ("matmul",      "timm's Attention (ptflops' formula; its qkv/proj linears are dropped)"),
    CALL_ACTIVATION:        ("activation",  "F.relu/relu6/prelu/elu/gelu/silu input elements"),
    CALL_SOFTMAX:           ("activation",  "F.softmax input elements"),
    CALL_POOLING:           ("pooling",     "F.*pool* input elements"),
    CALL_UPSAMPLE:          ("upsample",    "F.interpolate/upsample output elements (ptflops' formula)"),
    CALL_MATMUL:            ("matmul",      "torch.matmul/mm/bmm, '@', addmm/baddbmm products: a.numel() x b.shape[-1]"),
    CALL_MATMUL_BIAS:       ("bias",        "addmm/baddbmm added term (when beta != 0)"),
    CALL_ELEMENTWISE:       ("elementwise", "torch.add/mul, Tensor.add/mul (not '+' or '*'): broadcast elements"),
}


# The tables below name the element count a fact reads as a side: the leaf's input ('in'), its
# output ('out'), its multiply-accumulates without bias ('macs'), or its bias adds ('bias').

# aten op kind (analysis.ops) -> (fact of its multiply-accumulates, fact of its bias adds).
PRICED = {
    "conv":      (OP_CONV, OP_CONV_BIAS),
    "linear":    (OP_LINEAR, OP_LINEAR_BIAS),
    "matmul":    (OP_MATMUL, OP_MATMUL_BIAS),
    "attention": (OP_ATTENTION, OP_MATMUL_BIAS),  # scaled_dot_product_attention adds no bias
}

# Free aten ops fvcore prices anyway, by their input or output elements (its handles).
ELEMENT_OPS = {
    "adaptive_avg_pool2d": (OP_ADAPTIVE_AVG_POOL2D, "in"),
    "upsample_nearest2d":  (OP_UPSAMPLE_NEAREST2D, "out"),
    "upsample_bilinear2d": (OP_UPSAMPLE_BILINEAR2D, "out"),
    "grid_sampler":        (OP_GRID_SAMPLER, "out"),
}

# ptflops' module hooks by exact class name (its MODULES_MAPPING): the facts each adds.
# A norm reads 'in' twice when it is affine; nn.MultiheadAttention and timm's Attention
# have ptflops' own formulas (analysis.facts).
PT_HOOKS = {
    **dict.fromkeys(("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"),
                    ((MODULE_CONV, "macs"), (MODULE_CONV_BIAS, "bias"))),
    "Linear": ((MODULE_LINEAR, "macs"), (MODULE_LINEAR_BIAS, "bias")),
    **dict.fromkeys(("ReLU", "PReLU", "ELU", "LeakyReLU", "ReLU6", "GELU"), ((MODULE_ACTIVATION, "out"),)),
    **dict.fromkeys((f"{kind}{d}d" for kind in ("MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool")
                     for d in (1, 2, 3)), ((MODULE_POOLING, "in"),)),
    **dict.fromkeys(("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
                     "GroupNorm", "LayerNorm"), ((MODULE_NORM, "in"),)),
    "Upsample": ((MODULE_UPSAMPLE, "out"),),
    **dict.fromkeys(("MultiheadAttention", "RNN", "GRU", "LSTM", "RNNCell", "LSTMCell", "GRUCell"), ()),
}

# Functions ptflops patches that it prices by their input elements (torch.nn.functional names;
# interpolate and the matrix products have formulas of their own in analysis.facts).
PT_CALLS = {
    **dict.fromkeys(("relu", "prelu", "elu", "relu6", "gelu", "silu"), CALL_ACTIVATION),
    **dict.fromkeys((f"{kind}_pool{d}d" for kind in ("avg", "max", "adaptive_avg", "adaptive_max") for d in (1, 2, 3)),
                    CALL_POOLING),
    "softmax": CALL_SOFTMAX,
}

# The leaf modules ``build`` makes: the aten op each runs (by its PRICED kind where netprobe
# prices it) and the function its forward calls (ptflops sees the call only where PT_CALLS has it).
LEAVES = {
    "Conv2d":            ("conv", None),
    "Linear":            ("linear", None),  # F.linear, which ptflops leaves alone
    "BatchNorm2d":       ("batch_norm", None),  # affine, in eval mode
    "ReLU":              (None, "relu"),
    "ReLU6":             (None, "hardtanh"),  # F.relu6 is a hardtanh, not the patched F.relu6
    "SiLU":              (None, "silu"),
    "Sigmoid":           (None, "sigmoid"),  # torch.sigmoid: no counter but netprobe's sees it (free)
    "Softmax":           (None, "softmax"),
    "MaxPool2d":         (None, "max_pool2d"),
    "AvgPool2d":         (None, "avg_pool2d"),
    "AdaptiveAvgPool2d": ("adaptive_avg_pool2d", "adaptive_avg_pool2d"),
    "AdaptiveMaxPool2d": (None, "adaptive_max_pool2d"),
}
ACTIVATION_CLASSES = {"relu": "ReLU", "relu6": "ReLU6", "silu": "SiLU", "sigmoid": "Sigmoid", "softmax": "Softmax"}


def leaf_facts(leaf: str, read: int = 0, wrote: int = 0, macs: int = 0, bias: int = 0) -> dict[str, int]:
    """The facts one call of a ``build`` leaf gives every counter, from its element counts."""
    sides = {"in": read, "out": wrote, "macs": macs, "bias": bias}
    op, call = LEAVES[leaf]
    out: dict[str, int] = {}
    if op in PRICED:
        out.update(zip(PRICED[op], (macs, bias)))
    elif op == "batch_norm":
        out[OP_BATCH_NORM] = read
    elif op in ELEMENT_OPS:
        fact, side = ELEMENT_OPS[op]
        out[fact] = sides[side]
    for fact, side in PT_HOOKS.get(leaf, ()):
        out[fact] = sides[side] * (2 if fact == MODULE_NORM else 1)  # build's norms are affine
    if call in PT_CALLS:
        out[PT_CALLS[call]] = read
    return out


def pack(facts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """Facts as the sorted, hashable pairs a Layer holds (zeros dropped)."""
    return tuple(sorted((f, n) for f, n in facts.items() if n))
