"""One forward pass in train mode on ``meta``: what each module's ops cost forward and backward, and what
autograd saves for the backward.

Nothing is computed or allocated. A dispatch mode prices every op with ``analysis.ops`` and
reads which of its operands need a gradient (``requires_grad`` as autograd set it: the
network input has none, a frozen parameter none, and nothing computed only from those);
``analysis.train`` turns that into backward facts. ``saved_tensors_hooks`` see every tensor
autograd keeps for the backward, as it really is (in-place ops, views, recomputation), and
each storage counts once, for the module that saved it first; parameters, buffers and the
input are not activations and count elsewhere. Forward hooks keep the stack of module
calls, so everything is charged to the innermost module running.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from netprobe.analysis import facts, ops, rnn
from netprobe.analysis.counters import (OP_LINEAR, OP_LINEAR_BIAS, OP_MATMUL, OP_MATMUL_BIAS, OP_RNN, OP_RNN_BIAS,
                                        OP_RNN_CELL, OP_RNN_FUSED)
from netprobe.analysis.measure import _tensors as _flat
from netprobe.analysis.measure import module_op
from netprobe.analysis.gradients import BIASES, gradient_facts
from netprobe.models.inputs import at_any_batch

# op name -> (indices of its product operands, index of its bias or added term, or None).
OPERANDS = {
    "convolution": ((0,), 1, 2), "_convolution": ((0,), 1, 2),
    "addmm": ((1,), 2, 0), "_addmm_activation": ((1,), 2, 0), "linear": ((0,), 1, 2),
    "baddbmm": ((1, 2), None, 0), "addbmm": ((1, 2), None, 0), "addmv": ((1, 2), None, 0),
}
# Any other priced op (mm, bmm, matmul...): two operands, neither of them known to be a weight.
TWO_OPERANDS = ((0, 1), None, None)
# With autograd on, a recurrent layer reaches the dispatcher as its decomposed mm/addmm; inside one,
# those facts become the recurrent ones its forward has without autograd, so every convention reads
# the step as it reads the layer (FlopCounterMode sees nothing of oneDNN's LSTM kernel, forward or back).
RECURRENT_BIAS = {OP_LINEAR_BIAS: OP_RNN_BIAS, OP_MATMUL_BIAS: OP_RNN_BIAS}


@dataclass
class Module:
    """One module call: its ops' forward and backward facts, what it saved, its trainable parameter bytes."""

    name: str
    op: str
    forward: Counter = field(default_factory=Counter)
    backward: Counter = field(default_factory=Counter)
    saved_bytes: int = 0
    grad_bytes: int = 0  # bytes of the trainable parameters its ops read first (their gradients)
    params_bytes: int = 0  # bytes of all the parameters its ops read first
    in_bytes: int = 0
    out_bytes: int = 0
    bias_grad: bool = False  # whether a bias or added term of its ops needs a gradient
    recurrent: str | None = None  # the product fact of a recurrent layer's decomposed ops


@dataclass(frozen=True)
class Observed:
    """Module calls in execution order, and what lives outside them."""

    layers: tuple[Module, ...]
    params_bytes: int
    buffers_bytes: int
    trainable_bytes: int
    trainable_tensors: int
    input_bytes: int
    batch: int


def _nbytes(t) -> int:
    return t.untyped_storage().nbytes() if isinstance(t, torch.Tensor) else 0


def _grad(t) -> bool:
    return isinstance(t, torch.Tensor) and t.requires_grad


class _Pass(TorchDispatchMode):
    """Prices each op forward and backward and charges it to the innermost module call."""

    def __init__(self, params: dict[int, torch.Tensor]):
        super().__init__()
        self.params = params  # id -> parameter not yet read
        self.stack: list[Module] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not self.stack:
            return out
        call, name = self.stack[-1], ops.op_name(func)
        for t in _flat((*args, *kwargs.values())):
            p = self.params.pop(id(t), None)
            if p is not None:
                call.params_bytes += _nbytes(p)
                call.grad_bytes += _nbytes(p) if p.requires_grad else 0
        rule = ops.formula(name)
        cost = rule(args, kwargs, out) if rule else None
        if cost is None and name in ("add", "add_") and call.op == "linear":
            self._bias_add(call, args, out)
        if cost is None or cost.kind == "maxpool":
            return out
        fwd = facts.op_facts(name, args, kwargs, out, cost)
        bwd = _backward(name, args, kwargs, fwd)
        call.forward.update(_relabel(fwd, call.recurrent))
        call.backward.update(_relabel(bwd, call.recurrent))
        call.bias_grad = call.bias_grad or any(f in BIASES and n for f, n in call.backward.items())
        return out

    def _bias_add(self, call: Module, args, out) -> None:
        """A linear's bias added after its product: with autograd on, a linear over a non-contiguous
        input runs as matmul then add, and the add is the bias adds inference counts in ``linear``."""
        bias = [t for t in args[:2] if isinstance(t, nn.Parameter) and t.dim() == 1]
        if bias:
            n = out.numel()
            call.forward[OP_MATMUL_BIAS] += n
            call.backward[OP_MATMUL_BIAS] += n if bias[0].requires_grad else 0
            call.bias_grad = call.bias_grad or bias[0].requires_grad


def _backward(name: str, args, kwargs, fwd: dict[str, int]) -> dict[str, int]:
    """Backward facts of one priced op, from which of its operands need a gradient."""
    if name in ops._SDPA:
        return _sdpa_backward(args, fwd)
    if name == "einsum":
        return gradient_facts(fwd, sum(_grad(t) for t in args[1]), False, False)
    inputs, weight, bias = OPERANDS.get(name, TWO_OPERANDS)
    arg = (lambda i: args[i] if i is not None and len(args) > i else None)
    groups = args[8] if name in ("convolution", "_convolution") and len(args) > 8 else 1
    return gradient_facts(fwd, sum(_grad(arg(i)) for i in inputs), _grad(arg(weight)),
                          _grad(arg(bias) if bias is not None else kwargs.get("bias")), groups)


def _relabel(facts_: dict[str, int], product: str | None) -> dict[str, int]:
    """A recurrent layer's product and bias facts under their recurrent names (unchanged outside one)."""
    if product is None:
        return facts_
    names = {OP_LINEAR: product, OP_MATMUL: product, **RECURRENT_BIAS}
    out: dict[str, int] = {}
    for fact, n in facts_.items():
        name = names.get(fact, fact)
        out[name] = out.get(name, 0) + n
    return out


def recurrent_fact(m: nn.Module, inputs) -> str | None:
    """The product fact of a recurrent layer as a real CPU run computes it: a cell as addmm, an LSTM
    through oneDNN's kernel where torch takes it, any other layer as its decomposed products."""
    if isinstance(m, nn.RNNCellBase):
        return OP_RNN_CELL
    if not isinstance(m, nn.RNNBase):
        return None
    x = inputs[0] if inputs else None
    packed = isinstance(x, nn.utils.rnn.PackedSequence)
    data = x.data if packed else x
    if isinstance(m, nn.LSTM) and isinstance(data, torch.Tensor) and rnn.takes_oneDNN(
            packed and rnn.ragged(x.batch_sizes), m.proj_size > 0, str(data.dtype), data.numel(), facts._mkldnn()):
        return OP_RNN_FUSED
    return OP_RNN


def _sdpa_backward(args, fwd: dict[str, int]) -> dict[str, int]:
    """softmax(Q K^T) V: the scores' product has Q and K as operands, the values' the scores and V."""
    q, k, v = args[:3]
    total = sum(fwd.values())
    scores = total * q.shape[-1] // (q.shape[-1] + v.shape[-1])
    passes = scores * (_grad(q) + _grad(k)) + (total - scores) * ((_grad(q) or _grad(k)) + _grad(v))
    return {fact: passes for fact in fwd} if passes else {}


def module_of(model) -> nn.Module:
    """The module to observe: the caller's own, or one built from a name or spec (on ``meta`` where it can)."""
    if isinstance(model, nn.Module):
        return model
    from netprobe.models.materialize import materialize
    from netprobe.models.resolve import resolve

    return materialize(resolve(model), "meta", "count").module  # the one resolver and materializer


def _meta_inputs(model: nn.Module, inputs, batch: int) -> tuple[tuple, dict]:
    """The forward's (args, kwargs) on ``meta`` at a batch: from a description (``models.inputs``: several
    inputs, token ids, a factory), or one float tensor of a shape without the batch."""
    if isinstance(inputs, tuple) and all(isinstance(n, int) for n in inputs):
        return (torch.empty(batch, *inputs, device="meta"),), {}
    from netprobe.models.inputs import example_inputs

    return example_inputs(model, inputs, batch, "meta")


def pass_inputs(s):
    """What ``observe`` runs a summary's model on: the inputs it was summarized on where netprobe makes
    them at any batch (shapes, a factory), else its main input's shape (ready tensors hold one batch)."""
    if at_any_batch(s.inputs):
        return s.inputs
    return tuple(s.input_size)


def observe(model: nn.Module, inputs, batch: int = 1) -> Observed:
    """Run one forward in train mode on a ``meta`` copy of the model at a batch, recording every module call;
    ``inputs``: a shape without the batch, or an input description as ``summary`` took it."""
    model = model if all(p.is_meta for p in model.parameters()) else copy.deepcopy(model).to("meta")
    params = {id(p): p for p in model.parameters()}
    own = {t.untyped_storage()._cdata for t in (*model.parameters(), *model.buffers())}
    args, kwargs = _meta_inputs(model, inputs, batch)
    given = [*_flat(args), *_flat(tuple(kwargs.values()))]
    own.update(t.untyped_storage()._cdata for t in given)
    mode = _Pass(params)
    calls: list[Module] = []
    seen: set[int] = set()

    def pre(name):
        def hook(m, inp):
            call = Module(name or "(root)", module_op(m) or type(m).__name__, recurrent=recurrent_fact(m, inp))
            calls.append(call)  # a container too: its own ops (a residual add, a functional conv) are its
            mode.stack.append(call)
        return hook

    def post(m, inp, out):
        call = mode.stack.pop()
        call.in_bytes = sum(_nbytes(t) for t in _flat(inp))
        call.out_bytes = sum(_nbytes(t) for t in _flat([out]))

    def pack(t):
        key = t.untyped_storage()._cdata
        if key not in own and key not in seen and mode.stack:
            seen.add(key)
            mode.stack[-1].saved_bytes += _nbytes(t)
        return t

    handles = []
    for name, m in model.named_modules():
        handles += [m.register_forward_pre_hook(pre(name)), m.register_forward_hook(post)]
    training = {m: m.training for m in model.modules()}
    try:
        model.train()
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), mode:
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        for m, was in training.items():
            m.training = was
    layers = tuple(c for c in calls if c.forward or c.saved_bytes or c.params_bytes)
    trainable = [p for p in model.parameters() if p.requires_grad]
    return Observed(layers, sum(_nbytes(p) for p in model.parameters()), sum(_nbytes(b) for b in model.buffers()),
                    sum(_nbytes(p) for p in trainable), len(trainable), sum(_nbytes(t) for t in given), batch)

