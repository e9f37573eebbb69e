"""Measured costs of any ``nn.Module``: the aten ops that actually run, charged to the innermost module.

The model runs once on a batch-1 input (on the ``meta`` device when it lives there, so
nothing is computed) under a dispatch mode that prices every op with ``analysis.ops``.
Forward hooks keep the stack of module calls, so each op is charged to the module running
it: functional calls, batches folded into windows and fused attention paths count right by
construction. Hooks only name the layers and read their shapes. A parameter counts once,
for the layer whose op first reads it; parameters no op reads are listed as unused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from netprobe.analysis import facts, ops
from netprobe.analysis.counters import OP_FUSED_ATTENTION, pack
from netprobe.analysis.lazy_dynamo import without_dynamo
from netprobe.analysis.layers import CBAM_LABEL, SE_LABEL, SK_LABEL, SPLIT_ATTN_LABEL, Layer
from netprobe.unit_modules import GlobalAvgPool
from netprobe.counts import Counts
from netprobe.models.inputs import example_inputs
from netprobe.outputs import main_tensor

NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)  # _NormBase: batch and instance norms
ACTIVATIONS = (nn.ReLU, nn.Hardtanh, nn.SiLU, nn.Sigmoid, nn.Hardswish, nn.Hardsigmoid, nn.GELU, nn.Tanh,
               nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.Mish, nn.Softplus, nn.PReLU, nn.Softmax)  # ReLU6 is a Hardtanh
MAXPOOLS = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)
# Module classes -> the op their layer is reported as (matched by base class, subclasses too).
MODULE_OPS = (
    (nn.modules.conv._ConvNd, "conv"),
    (nn.Linear, "linear"),
    (MAXPOOLS, "maxpool"),
    (nn.modules.batchnorm._BatchNorm, "bn"),  # SyncBatchNorm too
    (NORMS, "norm"),
    (ACTIVATIONS, "act"),
    ((nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd, GlobalAvgPool), "avgpool"),
    (nn.modules.dropout._DropoutNd, "dropout"),
    (nn.Identity, "identity"),
    (nn.Flatten, "flatten"),
)
# Regularizers of other libraries that are identities in eval mode, known by class name
# so that netprobe need not import them (torchvision's StochasticDepth, timm's DropPath).
MODULE_OPS_BY_NAME = {"StochasticDepth": "dropout", "DropPath": "dropout", "DropBlock2d": "dropout"}
# A module's own ops make it the layer of this op; the first kind present wins.
KIND_ORDER = ("attention", "conv", "linear", "matmul", "rnn", "maxpool")
# Ops over the last dimension: their 4-D outputs are channels-last maps (N, H, W, C).
LAST_DIM_OPS = ("linear",)
# Attention units, by the module name that holds their layers (the zoo's names; timm's ``se``
# too): a layer inside one is labelled as a part of it. ``se`` wins over an enclosing unit.
UNIT_NAMES = {"se": SE_LABEL, "sk": SK_LABEL, "splat": SPLIT_ATTN_LABEL, "cbam": CBAM_LABEL}


@dataclass
class Measured:
    """Layers in execution order, and the ops with no formula (name -> calls)."""

    layers: list[Layer]
    unsupported: Counter = field(default_factory=Counter)
    labels: dict[str, str] = field(default_factory=dict)  # kinds of layers whose module netprobe does not know
    frozen: int = 0  # parameters with requires_grad off


@dataclass
class _Call:
    """One module call, as it runs: what its own ops cost and what they output."""

    name: str
    module: nn.Module
    listed: bool  # has a row (leaves and norms from the start, other modules once their own ops cost)
    macs: int = 0
    acts: int = 0
    params: int = 0
    kinds: Counter = field(default_factory=Counter)
    facts: Counter = field(default_factory=Counter)  # what other conventions read (analysis.conventions)
    out: object = None  # the module's output, or its last costed op's output
    image: tuple[int, ...] | None = None  # a conv's: the size of the map it reads, where that is an image


def module_op(m: nn.Module) -> str | None:
    """The op a module's layer is reported as, or None for a class netprobe does not know."""
    return next((op for base, op in MODULE_OPS if isinstance(m, base)), MODULE_OPS_BY_NAME.get(type(m).__name__))


def _tensors(values):
    for v in values:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _tensors(v)


class _OpCounter(TorchDispatchMode):
    """Prices every op and charges it, and the parameters it reads, to the innermost module call."""

    def __init__(self, params: dict[int, int]):
        super().__init__()
        self.params = params  # id -> numel of every parameter not yet read
        self.stack: list[_Call] = []
        self.rows: list[_Call] = []
        self.unsupported: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not self.stack:
            return out
        call = self.stack[-1]
        name = ops.op_name(func)
        rule = ops.formula(name)
        cost = rule(args, kwargs, out) if rule else None
        if cost is None and (rule or ops.has_no_formula(name)):
            self.unsupported[name if "::" in name else f"aten.{name}"] += 1
        read = sum(self.params.pop(id(t), 0) for t in _tensors((*args, *kwargs.values())))
        call.params += read
        if cost is not None:
            call.macs, call.acts = call.macs + cost.macs, call.acts + cost.acts
            call.kinds[cost.kind] += 1
        self.charge(facts.op_facts(name, args, kwargs, out, cost))
        if (read or cost is not None) and not call.listed:
            call.listed = True
            self.rows.append(call)
        if cost is not None and not _is_leaf(call.module):
            call.out = out
        return out

    def charge(self, found: dict[str, int]) -> bool:
        """Add facts to the innermost module call; whether there were any."""
        found = {k: n for k, n in found.items() if n}
        if found and self.stack:
            call = self.stack[-1]
            call.facts.update(found)
            if not call.listed:  # a module whose only cost is in another convention (F.avg_pool2d in its forward)
                call.listed = True
                self.rows.append(call)
        return bool(found)


def _is_leaf(m: nn.Module) -> bool:
    """A layer of its own: no children, or a norm that holds some (timm's BatchNormAct2d)."""
    return not next(m.children(), None) or isinstance(m, NORMS)


def _shape(out, batch: int = 1) -> tuple[int, ...]:
    """Shape of the main output (``outputs.main_tensor``: any structure) without the batch; a leading
    dimension that is not the batch (windows folded into it) is kept."""
    t = main_tensor(out)
    if t is None:
        return ()
    shape = tuple(t.shape)
    return shape[1:] if shape and shape[0] == batch else shape


def _window(size, dims: int) -> int | tuple[int, ...]:
    """An int for a square 2-D window (as the specs have it), else its size along each axis."""
    t = (size,) * dims if isinstance(size, int) else tuple(size)
    return t[0] if len(t) == 2 and t[0] == t[1] else t


def _step(size) -> int | tuple[int, ...]:
    """A stride or dilation: an int when the same along every axis."""
    t = (size,) if isinstance(size, int) else tuple(size)
    return t[0] if len(set(t)) == 1 else t


def _hw(op: str, out) -> tuple[int, ...]:
    """(H, W) of a batch-1 4-D output, (T, H, W) of a 5-D one (a clip, NCTHW), () for anything else.

    NCHW or NHWC (Swin, ConvNeXt blocks)? A square map says which; otherwise ops over the
    last dimension (linear) are read as NHWC and everything else as NCHW.
    """
    t = main_tensor(out)
    if t is not None and t.dim() == 5 and t.shape[0] == 1:
        return tuple(t.shape[2:])
    if t is None or t.dim() != 4 or t.shape[0] != 1:
        return ()
    _, a, b, c = t.shape
    if b == c != a:
        return (b, c)
    if a == b != c or op in LAST_DIM_OPS:
        return (a, b)
    return (b, c)


def _layer(call: _Call) -> tuple[Layer, str]:
    """The layer of one module call, and a kind label when netprobe does not know its module."""
    m, shape = call.module, _shape(call.out)
    counts = Counts(call.params, call.macs, call.acts)
    known = module_op(m)
    op = known or next((k for k in KIND_ORDER if call.kinds[k]), "other")
    hw = _hw(op, call.out)
    if isinstance(m, nn.modules.conv._ConvNd):
        dims = len(m.kernel_size)
        return Layer(call.name, "", "conv", shape, counts, kernel=_window(m.kernel_size, dims), stride=_step(m.stride),
                     groups=m.groups, dilation=_step(m.dilation), w_in=m.in_channels, hw=hw,
                     image=call.image), ""
    if isinstance(m, nn.Linear):
        return Layer(call.name, "", "linear", shape, counts, w_in=m.in_features, hw=hw), ""
    if isinstance(m, nn.modules.pooling._MaxPoolNd):
        window = _window(m.kernel_size, max(len(shape) - 1, 1))
        return Layer(call.name, "", "maxpool", shape, counts, kernel=window, stride=_step(m.stride),
                     dilation=_step(m.dilation), hw=hw), ""
    act = type(m).__name__.lower() if op == "act" else ""
    label = "" if known else _label(m, call)
    return Layer(call.name, "", op, shape, counts, act=act, hw=hw), label


def _unit(name: str) -> str:
    """The attention unit a layer of this name is a part of ("" for none)."""
    parts = name.split(".")[:-1]
    if "se" in parts:
        return UNIT_NAMES["se"]
    return next((UNIT_NAMES[p] for p in parts if p in UNIT_NAMES), "")


def _label(m: nn.Module, call: _Call) -> str:
    """'MultiheadAttention: linear x2 + attention', or the class name for a module that costs nothing."""
    done = [f"{k} x{n}" if n > 1 else k for k, n in call.kinds.items()]
    return f"{type(m).__name__}: {' + '.join(done)}" if done else type(m).__name__


def measure(model: nn.Module, input_size: tuple[int, int] | None = None, in_channels: int = 3,
            inputs: tuple[tuple, dict] | None = None) -> Measured:
    """Run the model once on a batch-1 input on the device of its parameters and count every op;
    ``inputs``: the (args, kwargs) of that forward (``models.inputs.example_inputs``), else a
    ``in_channels`` x ``input_size`` image."""
    params = {}
    for p in model.parameters():
        params[id(p)] = p.numel()
    counter = _OpCounter(params)
    calls = facts.CallFacts(counter.charge)
    pt_paths = facts.pt_paths(model)
    handles = []

    def pre(name):
        def hook(m, inp):
            call = _Call(name or "(root)", m, listed=_is_leaf(m))
            if isinstance(m, nn.modules.conv._ConvNd) and inp and isinstance(inp[0], torch.Tensor) \
                    and calls.image(inp[0]):  # the model's input or an interpolate of it
                call.image = tuple(inp[0].shape[2:])
            if call.listed:
                counter.rows.append(call)
            counter.stack.append(call)
        return hook

    def post(m, inp, out):
        call = counter.stack.pop()
        if _is_leaf(m) or call.out is None:
            call.out = out
        if facts.fused_mha(m, inp):
            fused = sum(call.facts.pop(k, 0) for k in facts.MHA_FUSED)
            call.facts[OP_FUSED_ATTENTION] += fused
        if id(m) in pt_paths:
            call.facts.update({k: n * pt_paths[id(m)] for k, n in facts.module_facts(m, inp, out).items() if n})
            if call.facts and not call.listed:
                call.listed = True
                counter.rows.append(call)

    for name, m in model.named_modules():
        handles += [m.register_forward_pre_hook(pre(name)), m.register_forward_hook(post)]
    modes = {m: m.training for m in model.modules()}  # a caller's module is handed back as it came
    try:
        if inputs is None:
            device = next(iter(model.parameters()), torch.empty(0, device="meta")).device
            inputs = example_inputs(model, (in_channels, *input_size), 1, device)
        args, kwargs = inputs
        calls.inputs([*args, *kwargs.values()])
        with torch.inference_mode(), without_dynamo(), calls, counter:
            model.eval()(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    layers, labels = [], {}
    for call in counter.rows:
        layer, label = _layer(call)
        layers.append(replace(layer, facts=pack(call.facts)))
        if label:
            labels[layer.name] = label
    unused = {id(p) for p in model.parameters() if id(p) in counter.params}
    for name, m in model.named_modules():
        n = sum(p.numel() for p in m.parameters(recurse=False) if id(p) in unused and not unused.discard(id(p)))
        if n:
            layers.append(Layer(name or "(root)", "", "unused", (), Counts(params=n)))
            labels[name or "(root)"] = f"{type(m).__name__} (parameters no op reads)"
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    layers = [replace(layer, unit=_unit(layer.name)) for layer in layers]
    return Measured(layers, counter.unsupported, labels, frozen)

