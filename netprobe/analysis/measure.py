"""Measured costs: forward hooks on a model on the ``meta`` device (nothing is computed).

Works for any ``nn.Module``. Counts follow ``netprobe.counts``; leaf modules netprobe has
no formula for, and matrix ops called outside counted modules (``F.conv2d``, ``x @ w``),
are reported in ``unsupported``, never silently counted as zero.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from netprobe.analysis.layers import Layer
from netprobe.build import GlobalAvgPool
from netprobe.counts import Counts

NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)  # _NormBase: batch and instance norms
ACTIVATIONS = (nn.ReLU, nn.Hardtanh, nn.SiLU, nn.Sigmoid, nn.Hardswish, nn.Hardsigmoid, nn.GELU, nn.Tanh,
               nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.Mish, nn.Softplus, nn.PReLU, nn.Softmax)  # ReLU6 is a Hardtanh
MAXPOOLS = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)
FREE = (  # zero-MAC modules by convention, matched by base class (subclasses too), and the op they are reported as
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
FREE_BY_NAME = {"StochasticDepth": "dropout", "DropPath": "dropout", "DropBlock2d": "dropout"}
# aten ops that multiply-accumulate; seen outside a Conv/Linear module they are uncounted work.
MATMUL_OPS = {"convolution", "_convolution", "conv2d", "mm", "addmm", "bmm", "baddbmm", "matmul",
              "linear", "einsum", "_scaled_dot_product_attention_math", "scaled_dot_product_attention",
              "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention",
              "_scaled_dot_product_flash_attention", "_scaled_dot_product_cudnn_attention",
              "conv_transpose2d"}


@dataclass
class Measured:
    """Layers in execution order, and what could not be counted (name -> times seen)."""

    layers: list[Layer]
    unsupported: Counter = field(default_factory=Counter)


class _OpWatch(TorchDispatchMode):
    """Notes matrix ops that run while no counted module is active."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.seen: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if self.depth == 0 and name in MATMUL_OPS:
            self.seen[f"aten.{name}"] += 1
        return func(*args, **(kwargs or {}))


def _shape(out) -> tuple[int, ...]:
    return tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()


def _window(size, dims: int) -> int | tuple[int, ...]:
    """An int for a square 2-D window (as the specs have it), else its size along each axis."""
    t = (size,) * dims if isinstance(size, int) else tuple(size)
    return t[0] if len(t) == 2 and t[0] == t[1] else t


def _step(size) -> int | tuple[int, ...]:
    """A stride or dilation: an int when the same along every axis."""
    t = (size,) if isinstance(size, int) else tuple(size)
    return t[0] if len(set(t)) == 1 else t


def _record(name: str, m: nn.Module, out, own_params: int) -> tuple[Layer, bool]:
    """The layer for one module call; the flag says whether netprobe knows the module."""
    shape = _shape(out)
    n_out = math.prod(shape) if shape else 0
    if isinstance(m, nn.modules.conv._ConvNd) and not isinstance(m, nn.modules.conv._ConvTransposeNd):
        per_out = (m.in_channels // m.groups) * math.prod(m.kernel_size) + (1 if m.bias is not None else 0)
        return Layer(name, "", "conv", shape, Counts(own_params, n_out * per_out, n_out),
                     kernel=_window(m.kernel_size, len(m.kernel_size)), stride=_step(m.stride), groups=m.groups,
                     dilation=_step(m.dilation), w_in=m.in_channels), True
    if isinstance(m, nn.Linear):
        per_out = m.in_features + (1 if m.bias is not None else 0)
        return Layer(name, "", "linear", shape, Counts(own_params, n_out * per_out, n_out), w_in=m.in_features), True
    if isinstance(m, MAXPOOLS):
        if isinstance(m, nn.modules.pooling._AdaptiveMaxPoolNd):
            return Layer(name, "", "maxpool", shape, Counts(own_params, 0, n_out)), True
        window = _window(m.kernel_size, max(len(shape) - 1, 1))
        return Layer(name, "", "maxpool", shape, Counts(own_params, 0, n_out), kernel=window,
                     stride=_step(m.stride), dilation=_step(m.dilation)), True
    op = next((op for base, op in FREE if isinstance(m, base)), FREE_BY_NAME.get(type(m).__name__))
    act = type(m).__name__.lower() if op == "act" else ""
    return Layer(name, "", op or "other", shape, Counts(params=own_params), act=act), op is not None


def measure(model: nn.Module, input_size: tuple[int, int], in_channels: int = 3) -> Measured:
    """Run the model once on a meta input of batch 1 and record every leaf module call.

    A norm that holds other modules (timm's BatchNormAct2d keeps its act inside) is
    recorded too, as the norm it is, before the modules it calls.
    """
    records: list[list] = []  # [name, module, output], in the order the calls start
    open_calls: list[int] = []
    watch = _OpWatch()
    counted = (nn.modules.conv._ConvNd, nn.Linear)

    def pre_for(name):
        def pre(m, _inp):
            if isinstance(m, counted):
                watch.depth += 1
            open_calls.append(len(records))
            records.append([name, m, None])
        return pre

    def post(m, _inp, out):
        if isinstance(m, counted):
            watch.depth -= 1
        records[open_calls.pop()][2] = out

    handles = []
    for name, m in model.named_modules():
        if not list(m.children()) or isinstance(m, NORMS):
            handles.append(m.register_forward_pre_hook(pre_for(name)))
            handles.append(m.register_forward_hook(post))
    seen_params: set[int] = set()

    def own_params(m: nn.Module) -> int:
        n = 0
        for p in m.parameters(recurse=False):
            if id(p) not in seen_params:
                seen_params.add(id(p))
                n += p.numel()
        return n

    try:
        device = next(iter(model.parameters()), torch.empty(0, device="meta")).device
        x = torch.empty(1, in_channels, *input_size, device=device)
        with torch.inference_mode(), watch:
            model.eval()(x)
    finally:
        for h in handles:
            h.remove()
    layers, unsupported = [], Counter(watch.seen)
    for name, m, out in records:
        layer, known = _record(name, m, out, own_params(m))
        layers.append(layer)
        if not known:
            unsupported[type(m).__name__] += 1
    # Parameters held by non-leaf modules (or never called) still count, as 'other'.
    for name, m in model.named_modules():
        n = own_params(m)
        if n:
            layers.append(Layer(name or "(root)", "", "other", (), Counts(params=n)))
            unsupported[f"parameters of {type(m).__name__}"] += 1
    return Measured(layers, unsupported)
