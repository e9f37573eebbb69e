"""The op -> cost table: MACs (and activations) of every aten op that multiplies and accumulates.

netprobe's convention (``netprobe.counts``) extended once to any network: convolutions of
any dimension (grouped, depthwise, dilated, transposed, deformable), linear layers, matrix
products and attention count their multiply-accumulates, bias adds included; activations
are the output elements of convolutions, linear layers and max-pools. Every other op is
free by the convention, except those in ``NO_FORMULA``: they do arithmetic netprobe has
no formula for (an fft, a solver, a custom C++ op), and are reported by name, never as 0.

Ops are seen as they reach the dispatcher under ``inference_mode`` (``aten.linear``,
``aten.conv2d``, ``aten.scaled_dot_product_attention`` before they decompose); the lower
level forms (``addmm``, ``convolution``, the fused attention kernels) are in the table too.
"""

from __future__ import annotations

import math
from functools import partial
from dataclasses import dataclass
from typing import Callable

from netprobe.analysis import free_ops, rnn

# An op's cost: multiply-accumulates, activations (output elements of conv, linear and
# max-pool ops), what kind of work it is (the label summary rows and peers read), and how
# many of its MACs are bias adds (the counters that leave them out read that).


@dataclass(frozen=True)
class OpCost:
    """What one call of an op costs under netprobe's convention."""

    kind: str  # conv | linear | matmul | attention | rnn | maxpool
    macs: int = 0  # bias adds included
    acts: int = 0
    bias: int = 0  # of ``macs``: one add per output element where a bias or added term is given


def _numel(t) -> int:
    return math.prod(t.shape)


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _has(args, i: int) -> bool:
    return len(args) > i and args[i] is not None


def _conv(args, kwargs, out, bias_at: int | None = 2) -> OpCost:
    """Each output element: (C_in / groups) * window MACs, + 1 for the bias (argument ``bias_at``)."""
    weight, out = args[1], _first(out)
    per_out = _numel(weight) // weight.shape[0]
    adds = _numel(out) if bias_at is not None and _bias_arg(args, kwargs, bias_at) is not None else 0
    return OpCost("conv", _numel(out) * per_out + adds, _numel(out), adds)


def _conv_transposed(args, kwargs, out, bias_at: int | None = 2) -> OpCost:
    """Each input element meets (C_out / groups) * window weights; + 1 per output for the bias."""
    x, weight, out = args[0], args[1], _first(out)
    per_in = _numel(weight) // weight.shape[0]
    adds = _numel(out) if bias_at is not None and _bias_arg(args, kwargs, bias_at) is not None else 0
    return OpCost("conv", _numel(x) * per_in + adds, _numel(out), adds)


def _convolution(args, kwargs, out) -> OpCost:
    """``aten.convolution`` / ``_convolution``: argument 6 says whether it is transposed."""
    transposed = args[6] if len(args) > 6 else kwargs.get("transposed", False)
    return (_conv_transposed if transposed else _conv)(args, kwargs, out)


def _bias_arg(args, kwargs, i: int):
    return args[i] if _has(args, i) else kwargs.get("bias")


def _linear(args, kwargs, out) -> OpCost:
    """``F.linear``: in_features MACs per output element, + 1 for the bias."""
    out = _first(out)
    adds = _numel(out) if _bias_arg(args, kwargs, 2) is not None else 0
    return OpCost("linear", _numel(out) * args[1].shape[-1] + adds, _numel(out), adds)


def _addmm(args, kwargs, out) -> OpCost:
    """``bias + a @ b`` (a decomposed linear): k MACs and one bias add per output element."""
    return OpCost("linear", _numel(out) * args[1].shape[-1] + _numel(out), _numel(out), _numel(out))


def _matmul(args, kwargs, out) -> OpCost:
    """``a @ b``, any broadcasting: k MACs per output element (k: a's last dimension)."""
    return OpCost("matmul", _numel(_first(out)) * args[0].shape[-1])


def _baddbmm(args, kwargs, out) -> OpCost:
    """``bias + a @ b`` batched: as bmm, plus the add per output element."""
    return OpCost("matmul", _numel(out) * args[1].shape[-1] + _numel(out), bias=_numel(out))


def _addbmm(args, kwargs, out) -> OpCost:
    """``bias + sum_b a_b @ b_b``: b * m * n * k, plus the add per output element."""
    a = args[1]
    return OpCost("matmul", a.shape[0] * _numel(out) * a.shape[-1] + _numel(out), bias=_numel(out))


def _addmv(args, kwargs, out) -> OpCost:
    return OpCost("matmul", _numel(out) * args[1].shape[-1] + _numel(out), bias=_numel(out))


def _einsum(args, kwargs, out) -> OpCost | None:
    """Two operands: each output element sums over the contracted indices (any batch or ellipsis).

    More operands are contracted in an order torch picks (opt_einsum's, when installed), so
    their cost has no one formula: None, and the op is reported as not counted.
    """
    equation = args[0].replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) == 1:
        return OpCost("matmul")  # a transpose, trace or sum: no product
    if len(terms) > 2:
        return None
    letters = [c for c in inputs if c.isalpha()]
    if not arrow:
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes = {}
    for term, t in zip(terms, args[1]):
        pre, _, post = term.partition("...")
        sizes.update(zip(pre, t.shape[:len(pre)]))
        sizes.update(zip(post, t.shape[len(t.shape) - len(post):]))
    contracted = math.prod(sizes[c] for c in set(letters) if c not in output)
    return OpCost("matmul", _numel(_first(out)) * contracted)


def _sdpa(args, kwargs, out) -> OpCost:
    """softmax(Q K^T) V: per query, S * E MACs for the scores and S * E_v for the values."""
    q, k, v = args[0], args[1], args[2]
    heads = math.prod(_first(out).shape[:-2])
    return OpCost("attention", heads * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1]))


def _native_mha(args, kwargs, out) -> OpCost:
    """``nn.MultiheadAttention``'s fused eval path: in-projections, attention, out-projection."""
    q, k, e = args[0], args[1], args[3]  # value has the shape of key
    batch, lq, lk = q.shape[0], q.shape[-2], k.shape[-2]
    proj = batch * (lq + 2 * lk) * e * (e + 1) + batch * lq * e * (e + 1)  # weights and bias adds
    attention = 2 * batch * lq * lk * e  # scores and values, all heads together
    adds = batch * (lq + 2 * lk) * e + batch * lq * e  # one per projected element
    return OpCost("attention", proj + attention, adds, adds)


def _encoder_layer(args, kwargs, out) -> OpCost:
    """``nn.TransformerEncoderLayer``'s fused eval path: self-attention, then the 2-layer MLP."""
    x, e, ffn_w1 = args[0], args[1], args[14]
    tokens = _numel(x) // e
    mha = _native_mha((x, x, x, e), {}, out)
    hidden = ffn_w1.shape[0]
    ffn = tokens * hidden * (e + 1) + tokens * e * (hidden + 1)
    return OpCost("attention", mha.macs + ffn, mha.acts + tokens * (hidden + e), mha.bias + tokens * (hidden + e))


def _deform_conv(args, kwargs, out) -> OpCost:
    """torchvision's deformable conv: a conv's MACs (sampling is interpolation, free); its bias
    argument is always a tensor (zeros when the module has none), so it counts only as a Parameter."""
    from torch import nn

    weight, bias, out = args[1], args[4], _first(out)
    per_out = _numel(weight) // weight.shape[0]
    adds = _numel(out) if isinstance(bias, nn.Parameter) else 0
    return OpCost("conv", _numel(out) * per_out + adds, _numel(out), adds)


def _recurrent(name: str) -> Callable:
    """LSTM, GRU and RNN layers, cells and kernels (``analysis.rnn``): gate products and both bias adds."""
    def price(args, kwargs, out) -> OpCost:
        r = rnn.read(name, args)
        return OpCost("rnn", r.macs + r.bias, r.acts, r.bias)
    return price


def _maxpool(args, kwargs, out) -> OpCost:
    return OpCost("maxpool", acts=_numel(_first(out)))


# conv op -> the index of its bias argument: 2 after (input, weight); 3 where kernel_size comes first;
# None for cuDNN's, which add the bias in a separate op.
_CONVS = {"conv1d": 2, "conv2d": 2, "conv3d": 2, "mkldnn_convolution": 2, "_nnpack_spatial_convolution": 2,
          "miopen_convolution": 2, "miopen_depthwise_convolution": 2,
          "thnn_conv2d": 3, "_slow_conv2d_forward": 3, "slow_conv3d": 3, "slow_conv_dilated2d": 3,
          "slow_conv_dilated3d": 3, "_conv_depthwise2d": 3, "conv_depthwise3d": 3,
          "cudnn_convolution": None}
_CONV_TRANSPOSED = {"conv_transpose1d": 2, "conv_transpose2d": 2, "conv_transpose3d": 2,
                    "miopen_convolution_transpose": 2, "slow_conv_transpose2d": 3, "slow_conv_transpose3d": 3,
                    "cudnn_convolution_transpose": None}
_SDPA = ("scaled_dot_product_attention", "_scaled_dot_product_attention_math", "_scaled_dot_product_flash_attention",
         "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention",
         "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_fused_attention_overrideable")
_MAXPOOLS = ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
             "max_pool3d_with_indices", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
             "mkldnn_max_pool2d", "mkldnn_max_pool3d", "quantized_max_pool2d")

# aten op name (overload packet) -> cost formula.
FORMULAS: dict[str, Callable] = {
    **{name: partial(_conv, bias_at=at) for name, at in _CONVS.items()},
    **{name: partial(_conv_transposed, bias_at=at) for name, at in _CONV_TRANSPOSED.items()},
    "convolution": _convolution, "_convolution": _convolution, "convolution_overrideable": _convolution,
    "linear": _linear, "mkldnn_linear": _linear, "addmm": _addmm, "_addmm_activation": _addmm,
    "mm": _matmul, "bmm": _matmul, "matmul": _matmul, "mv": _matmul, "dot": _matmul, "vdot": _matmul,
    "_scaled_mm": _matmul, "baddbmm": _baddbmm, "addbmm": _addbmm, "addmv": _addmv,
    "einsum": _einsum,
    **dict.fromkeys(_SDPA, _sdpa),
    "_native_multi_head_attention": _native_mha, "_transformer_encoder_layer_fwd": _encoder_layer,
    "torchvision::deform_conv2d": _deform_conv,
    **dict.fromkeys(_MAXPOOLS, _maxpool),
    **{name: _recurrent(name) for name in rnn.READERS},
}

# aten ops known to do arithmetic netprobe has no formula for (by name prefix): reported, never 0.
# An aten op neither priced, nor free (analysis.free_ops), nor here is reported the same way.
NO_FORMULA_PREFIXES = ("fft_", "_fft_", "stft", "istft", "linalg_", "_linalg_", "cholesky", "triangular_solve",
                       "lu_", "_cdist", "cdist", "_trilinear", "bilinear", "conv_tbc", "_int_mm", "_weight_int",
                       "tensordot", "addr", "kron", "pdist", "_pdist", "pairwise_distance", "cosine_similarity")
# Ops of other namespaces that are free by the convention (pooling, selection, sorting).
FREE_FOREIGN = {"torchvision::nms", "torchvision::roi_align", "torchvision::roi_pool", "torchvision::ps_roi_align",
                "torchvision::ps_roi_pool", "torchvision::_interpolate_bilinear2d_aa"}
COUNTED_NAMESPACES = ("aten", "prims")


def op_name(func) -> str:
    """``linear``, ``conv2d`` for aten ops; ``namespace::name`` for any other."""
    ns, name = func.namespace, func._opname
    return name if ns == "aten" else f"{ns}::{name}"


def formula(name: str) -> Callable | None:
    return FORMULAS.get(name)


def has_no_formula(name: str) -> bool:
    """Whether an op with no entry in FORMULAS does arithmetic the convention would count."""
    if "::" in name:
        return name not in FREE_FOREIGN and not name.startswith("prims::")
    return name not in FORMULAS and not free_ops.is_free(name)


def classified(name: str) -> bool:
    """Whether an aten op is in one of the three lists: priced, free, or known to have no formula."""
    return name in FORMULAS or free_ops.is_free(name) or name.startswith(NO_FORMULA_PREFIXES)
