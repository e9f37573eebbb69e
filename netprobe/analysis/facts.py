"""The facts of ``analysis.counters`` for any ``nn.Module``, read in the op-level counter's one pass.

``op_facts`` reads an aten op as the dispatcher sees it; ``module_facts`` a module of the
exact classes ptflops hooks; ``CallFacts`` (a function mode) the Python functions ptflops
patches. Each returns plain counts; ``analysis.measure`` charges them to the module running.
Which op, class and function gives which fact is ``analysis.counters``' tables (the same
ones ``analysis.cost`` reads for the zoo); the formulas of ptflops' own are here.
"""

from __future__ import annotations

import dis
import math
import sys
import weakref

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from netprobe.analysis import rnn
from netprobe.analysis.counters import (CALL_ELEMENTWISE, CALL_MATMUL, CALL_MATMUL_BIAS, CALL_UPSAMPLE, ELEMENT_OPS,
                                        MODULE_ATTENTION, MODULE_NORM, MODULE_RNN, MODULE_TIMM_ATTENTION, OP_ATTENTION,
                                        OP_BATCH_NORM, OP_BATCH_NORM_PLAIN, OP_EINSUM, OP_EINSUM_FVCORE,
                                        OP_FUSED_ATTENTION, OP_LINEAR, OP_LINEAR_BIAS, OP_MATMUL, OP_MATMUL_BIAS,
                                        OP_NORM, OP_NORM_PLAIN, OP_RNN, OP_RNN_BIAS, OP_RNN_CELL, OP_RNN_FUSED, PRICED, PT_CALLS, PT_HOOKS)
from netprobe.analysis.ops import OpCost, _first, _numel

FUSED_ATTENTION_OPS = ("_native_multi_head_attention", "_transformer_encoder_layer_fwd")
# aten norm op -> index of its weight argument (fvcore's norm_flop_counter reads the same one).
NORM_WEIGHT = {"layer_norm": 2, "group_norm": 2, "instance_norm": 1}
BATCH_NORM_OPS = ("batch_norm", "native_batch_norm", "_native_batch_norm_legit_no_training")


def op_facts(name: str, args, kwargs, out, cost: OpCost | None) -> dict[str, int]:
    """Facts of one aten op; ``cost`` is netprobe's price of it (None for a free op)."""
    if name in rnn.READERS:
        return _recurrent(name, args)
    if cost is not None and cost.kind in PRICED:
        if name in FUSED_ATTENTION_OPS:
            return {OP_FUSED_ATTENTION: cost.macs}
        if name == "einsum":
            return {OP_EINSUM: cost.macs, OP_EINSUM_FVCORE: _fvcore_einsum(args[0], cost.macs)}
        weights, bias = PRICED[cost.kind]
        return {weights: cost.macs - cost.bias, bias: cost.bias}
    if name in BATCH_NORM_OPS:
        return {OP_BATCH_NORM if _has_arg(args, kwargs, 1, "weight") else OP_BATCH_NORM_PLAIN: _numel(args[0])}
    if name in NORM_WEIGHT:
        return {OP_NORM if _has_arg(args, kwargs, NORM_WEIGHT[name], "weight") else OP_NORM_PLAIN: _numel(args[0])}
    if name in ELEMENT_OPS:
        fact, side = ELEMENT_OPS[name]
        return {fact: _numel(args[0] if side == "in" else _first(out))}
    return {}


def _recurrent(name: str, args) -> dict[str, int]:
    """A recurrent op's products by the path a real CPU run takes (torch's oneDNN LSTM kernel has no
    FlopCounterMode formula; cells decompose to addmm, which fvcore prices), and its bias adds."""
    r = rnn.read(name, args)
    if name in rnn.CELL_OPS:
        fact = OP_RNN_CELL
    elif name in rnn.LAYER_OPS and not rnn.oneDNN_on_cpu(name, args, _mkldnn()):
        fact = OP_RNN
    else:
        fact = OP_RNN_FUSED  # oneDNN, cuDNN and the fused CUDA cells: one kernel FlopCounterMode cannot read
    return {fact: r.macs, OP_RNN_BIAS: r.bias}


def _mkldnn() -> bool:
    return torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled


def _fvcore_einsum(equation: str, macs: int) -> int:
    """fvcore's einsum count: exact for its two special-cased equations, else numpy's einsum_path
    FLOP estimate (2 per MAC when an index is summed away), which it parses from a report that
    prints it to 4 significant digits, halved and floored."""
    equation = equation.replace(" ", "")
    letters = list(dict.fromkeys(c for c in equation if c.isalpha()))
    remapped = equation.translate({ord(c): 97 + i for i, c in enumerate(letters)})
    if remapped in ("abc,abd->acd", "abc,adc->adb"):
        return macs
    inputs, arrow, output = equation.partition("->")
    if not arrow:  # implicit output: the letters that appear once
        output = "".join(c for c in letters if inputs.count(c) == 1)
    summed = any(c not in output for c in inputs if c.isalpha())
    return int(float(f"{macs * (2 if summed else 1):.3e}") // 2)


def _has_arg(args, kwargs, i: int, key: str) -> bool:
    return (args[i] if len(args) > i else kwargs.get(key)) is not None


# ptflops' hooked classes: torch.nn's classes of the names in PT_HOOKS (exact classes: a subclass is not hooked).
PT_HOOKED = {getattr(nn, name): name for name in PT_HOOKS}
PT_RNNS = {nn.RNN: "RNN", nn.GRU: "GRU", nn.LSTM: "LSTM", nn.RNNCell: "RNN", nn.GRUCell: "GRU", nn.LSTMCell: "LSTM"}


def _is_timm_attention(t: type) -> bool:
    """ptflops hooks ``timm.models.vision_transformer.Attention`` when timm is installed (a model of
    that class has imported timm, so it is found without importing timm here)."""
    module = sys.modules.get("timm.models.vision_transformer")
    return t.__name__ == "Attention" and module is not None and getattr(module, "Attention", None) is t


def pt_hooked(m: nn.Module) -> bool:
    """Whether ptflops hooks this module (and so does not sum what its children count)."""
    t = type(m)
    return t in PT_HOOKED or _is_timm_attention(t)


def pt_paths(model: nn.Module) -> dict[int, int]:
    """How many times ptflops sums each hooked module: once per path to it from the root through
    ``children()`` (a module shared by two parents counts for each), never below a hooked one."""
    paths: dict[int, int] = {}

    def walk(m: nn.Module) -> None:
        if pt_hooked(m):
            paths[id(m)] = paths.get(id(m), 0) + 1
            return
        for child in m.children():
            walk(child)

    walk(model)
    return paths


def module_facts(m: nn.Module, inputs, out) -> dict[str, int]:
    """What ptflops' hook on a module of one of its exact classes adds, as facts."""
    t, x, y = type(m), inputs[0] if inputs else None, _first(out)
    if t is nn.MultiheadAttention:
        return {MODULE_ATTENTION: _pt_mha(m, *inputs[:3])}
    if t in PT_RNNS:
        return {MODULE_RNN: _pt_rnn(m, x)}
    if _is_timm_attention(t):
        b, n, _ = x.shape
        heads, dim = m.num_heads, m.head_dim
        return {MODULE_TIMM_ATTENTION: b * heads * (n * dim + n * n * dim + n * n + n * n * dim)}

    def side(s: str) -> int:
        return _numel(x) if s == "in" else _numel(y) if s == "out" else _pt_products(m, x, y)[s]

    facts = {fact: side(s) for fact, s in PT_HOOKS.get(PT_HOOKED.get(t), ())}
    if MODULE_NORM in facts and getattr(m, "affine", False):  # ptflops: the scale and the shift, one each
        facts[MODULE_NORM] *= 2
    return facts


def _pt_products(m: nn.Module, x, y) -> dict[str, int]:
    """ptflops' multiply-accumulates and bias adds of a conv (transposed: per input position) or linear module."""
    if isinstance(m, nn.Linear):
        rows = math.prod(x.shape[:-1])
        return {"macs": rows * x.shape[-1] * y.shape[-1], "bias": rows * y.shape[-1] if m.bias is not None else 0}
    positions = x.shape[0] * math.prod((x if m.transposed else y).shape[2:])
    weights = math.prod(m.kernel_size) * m.in_channels * (m.out_channels // m.groups) * positions
    return {"macs": weights, "bias": _numel(y) if m.bias is not None else 0}


# Facts of nn.MultiheadAttention's own ops that its fused inference kernel replaces.
MHA_FUSED = (OP_LINEAR, OP_LINEAR_BIAS, OP_ATTENTION, OP_MATMUL, OP_MATMUL_BIAS)


def fused_mha(m: nn.Module, args) -> bool:
    """Whether nn.MultiheadAttention would take its fused inference path on a CPU or CUDA device.

    netprobe counts on ``meta``, where it never does; the real tools run where it does, and
    see one ``_native_multi_head_attention`` op. The conditions are those of torch's
    ``MultiheadAttention.forward`` (eval, batched self-attention, batch_first, even heads...).
    """
    if type(m) is not nn.MultiheadAttention or len(args) < 3:
        return False
    q, k, v = args[:3]
    return (not m.training and q.dim() == 3 and q is k is v and m.batch_first and m.num_heads % 2 == 0
            and m.in_proj_weight is not None and m._qkv_same_embed_dim and m.bias_k is None
            and m.bias_v is None and not m.add_zero_attn and torch.backends.mha.get_fastpath_enabled())


def _pt_mha(m: nn.MultiheadAttention, q, k, v) -> int:
    """ptflops' formula for nn.MultiheadAttention: scaling, projections, heads, out-projection."""
    first = getattr(m, "batch_first", False)
    batch, at = (q.shape[0], 1) if first else (q.shape[1], 0)
    lq, lk, lv = q.shape[at], k.shape[at], v.shape[at]
    e, ek, ev = q.shape[2], k.shape[2], v.shape[2]
    flops = lq * e + lq * e * e + lk * ek * ek + lv * ev * ev
    if m.in_proj_bias is not None:
        flops += (lq + lk + lv) * e
    flops += m.num_heads * (lq * lk * (e // m.num_heads) + lq * lk + lq * lk * (ev // m.num_heads))
    return batch * (flops + lq * ev * (ev + 1))


def _pt_rnn(m: nn.Module, x) -> int:
    """ptflops' formula for its recurrent hooks: rows are the input's first two dimensions (batch and
    sequence, whichever order), a cell's its first; the forward direction's weights, x2 if bidirectional."""
    if not isinstance(x, torch.Tensor):  # a PackedSequence: ptflops' hook fails on it
        return 0
    if isinstance(m, nn.RNNCellBase):
        weights = [(m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh)]
        return rnn.ptflops(PT_RNNS[type(m)], m.hidden_size, weights, x.shape[0])
    weights = [tuple(getattr(m, f"{w}_l{i}", None) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
               for i in range(m.num_layers)]
    return rnn.ptflops(PT_RNNS[type(m)], m.hidden_size, weights, x.shape[0] * x.shape[1], 2 if m.bidirectional else 1)


def _input(args, kwargs):
    return args[0] if args else kwargs.get("input")


def _elements(args, kwargs) -> int:
    return _numel(_input(args, kwargs))


def _interpolated(args, kwargs) -> int:
    """ptflops' formula for F.interpolate: from the size asked for, else input elements x scale."""
    x = _input(args, kwargs)
    size = kwargs.get("size", args[1] if len(args) > 1 else None)
    if size is not None:
        spatial = math.prod(size) if isinstance(size, (tuple, list)) else size ** (x.dim() - 2)
        return int(spatial * math.prod(x.shape[:2]))
    scale = kwargs.get("scale_factor", args[2] if len(args) > 2 else None)
    if isinstance(scale, (tuple, list)) and len(scale) == x.dim() - 2:
        return _numel(x) * int(math.prod(scale))
    return int(_numel(x) * scale ** (x.dim() - 2))


def _product(args, kwargs) -> dict[str, int]:
    a, b = args[0], args[1]
    return {CALL_MATMUL: _numel(a) * b.shape[-1]}


def _added_product(args, kwargs) -> dict[str, int]:
    c, a, b = args[0], args[1], args[2]
    return {CALL_MATMUL: _numel(a) * b.shape[-1], CALL_MATMUL_BIAS: _numel(c) if kwargs.get("beta", 1) else 0}


def _broadcast(args, kwargs) -> dict[str, int]:
    """ptflops' count for add/mul: elements of the broadcast shape (one operand may be a number)."""
    shapes = [tuple(a.shape) for a in args[:2] if isinstance(a, torch.Tensor)]
    if len(shapes) < 2:
        return {CALL_ELEMENTWISE: math.prod(shapes[0]) if shapes else 1}
    n = max(len(s) for s in shapes)
    padded = [(1,) * (n - len(s)) + s for s in shapes]
    return {CALL_ELEMENTWISE: math.prod(max(d) for d in zip(*padded))}


def _input_elements(fact: str):
    """A call rule: the fact counts the call's input elements."""
    return lambda args, kwargs: {fact: _elements(args, kwargs)}


# The functions ptflops patches while it runs (its FUNCTIONAL_MAPPING and TENSOR_OPS_MAPPING;
# F.linear it leaves alone). Tensor methods are in METHODS: see CallFacts.
CALLS = {
    **{getattr(F, name): _input_elements(fact) for name, fact in PT_CALLS.items()},
    F.interpolate: lambda args, kwargs: {CALL_UPSAMPLE: _interpolated(args, kwargs)},
    F.upsample: lambda args, kwargs: {CALL_UPSAMPLE: _interpolated(args, kwargs)},
    **dict.fromkeys((torch.matmul, torch.mm, torch.bmm), _product),
    **dict.fromkeys((torch.addmm, torch.baddbmm), _added_product),
    **dict.fromkeys((torch.add, torch.mul), _broadcast),
}
RESIZES = (F.interpolate, F.upsample)
METHODS = {
    **dict.fromkeys((torch.Tensor.matmul, torch.Tensor.mm, torch.Tensor.bmm), _product),
    torch.Tensor.addmm: _added_product,
    **dict.fromkeys((torch.Tensor.add, torch.Tensor.mul), _broadcast),
}


class CallFacts(TorchFunctionMode):
    """Records the calls ptflops would count, charged to ``charge(facts)`` (the innermost module).

    ``a + b`` reaches a function mode as ``Tensor.add``, ``a @ b`` as ``Tensor.matmul``; ptflops
    patches the methods, not the operators, so the calling instruction tells them apart.
    """

    def __init__(self, charge):
        super().__init__()
        self.charge = charge
        self._images: dict[int, weakref.ref] = {}  # the model's inputs and the interpolates of them, by id

    def inputs(self, values) -> None:
        """The tensors the model is called with: the images its convs may read (``image``)."""
        for t in values:
            if isinstance(t, torch.Tensor):
                self._images[id(t)] = weakref.ref(t)

    def image(self, t) -> bool:
        """Whether tensor ``t`` is one of the model's inputs or an interpolate of one (CrossViT's image resized
        for each branch); an id alone may be a freed tensor's, reused."""
        known = self._images.get(id(t))
        return known is not None and known() is t

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        rule = CALLS.get(func)
        if rule is None and func in METHODS and not _operator_call():
            rule = METHODS[func]
        if rule is not None:
            self.charge(rule(args, kwargs))
        out = func(*args, **kwargs)
        if func in RESIZES and isinstance(out, torch.Tensor) and args and self.image(args[0]):
            self._images[id(out)] = weakref.ref(out)
        return out


def _operator_call() -> bool:
    """Whether the Python code that reached the mode wrote an operator (``a + b``), not a call."""
    frame = sys._getframe(2)  # 0: here, 1: __torch_function__, 2: the code that made the call
    op = dis.opname[frame.f_code.co_code[frame.f_lasti]]
    return op.startswith(("BINARY_", "INPLACE_"))
