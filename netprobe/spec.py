"""A network as plain data: frozen dataclasses that ``build`` and ``cost`` both read.

A ``Net`` is a stem, stages of blocks, and a head. Each of them is a tuple of named
units; a unit is one of the few layer recipes below, built from keyword arguments and
declaring its own input and output widths (None: it keeps its input's). ``build`` and
``analysis.cost`` each hold one table from unit type to module / layers. Nothing here
imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Union


class _NoWidth:
    """A unit that keeps its input's channels and declares no width of its own (pools, acts, dropout)."""

    w_in = None
    w_out = None


class _OneWidth:
    """A unit whose output has its input's ``w`` channels."""

    @property
    def w_in(self) -> int:
        return self.w

    @property
    def w_out(self) -> int:
        return self.w


@dataclass(frozen=True, kw_only=True)
class Conv:
    """A convolution [+ bias] [, BatchNorm] [, act] [, then a channel shuffle across its groups (ShuffleNet)].

    A bare one (no ``bn``, ``act`` or ``shuffle``) is the convolution module itself; otherwise
    the unit is a container of ``conv``, ``bn``, ``act``.
    """

    w_in: int
    w_out: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    dilation: int = 1
    pad: int | None = None  # None: "same" at stride 1; Xception's stem pads 0
    bias: bool = False
    bn: bool = False
    act: str | None = None
    shuffle: bool = False

    @property
    def padding(self) -> int:
        return self.dilation * (self.kernel // 2) if self.pad is None else self.pad

    @property
    def bare(self) -> bool:
        """No norm, act or shuffle: the unit is the convolution module itself."""
        return not (self.bn or self.act or self.shuffle)


@dataclass(frozen=True, kw_only=True)
class Norm(_OneWidth):
    """BatchNorm [, then an activation]: the norm module itself, or a container of ``bn``, ``act``."""

    w: int
    act: str | None = None


@dataclass(frozen=True, kw_only=True)
class Act(_NoWidth):
    """A stand-alone activation."""

    kind: str


@dataclass(frozen=True, kw_only=True)
class MaxPool(_NoWidth):
    """Max pooling (ResNet's stem)."""

    kernel: int = 3
    stride: int = 2
    padding: int = 1


@dataclass(frozen=True, kw_only=True)
class AvgPool(_NoWidth):
    """Average pooling over a window (DenseNet's transitions, ShuffleNet's strided shortcut, ResNeSt's avd)."""

    kernel: int = 3
    stride: int = 2
    padding: int = 1


@dataclass(frozen=True, kw_only=True)
class GlobalPool(_NoWidth):
    """Global average pooling to 1x1, then flatten."""


@dataclass(frozen=True, kw_only=True)
class Dropout(_NoWidth):
    """Dropout before the classifier (identity in eval mode, kept for fidelity)."""

    p: float


@dataclass(frozen=True, kw_only=True)
class Linear:
    """Fully connected layer with bias."""

    w_in: int
    w_out: int


@dataclass(frozen=True, kw_only=True)
class SE(_OneWidth):
    """Squeeze-and-excitation: global pool, 1x1 conv reduce (+BN), act, 1x1 conv expand, gate."""

    w: int
    w_se: int
    act: str = "relu"
    bn: bool = False  # ReXNet puts a BatchNorm after the reduce conv


@dataclass(frozen=True, kw_only=True)
class AvgDown:
    """A shortcut that average-pools (2x2, ceil, padding not counted) before its 1x1 conv + BN ("ResNet-D")."""

    w_in: int
    w_out: int
    stride: int = 2


@dataclass(frozen=True, kw_only=True)
class SelectiveKernel:
    """SKNet's unit: kernel paths (3x3 at dilations d, 2d, ...) fused by a softmax select over paths.

    ``split_input`` gives each path an equal slice of the input channels (timm's SK-ResNets).
    """

    w_in: int
    w_out: int
    w_attn: int
    stride: int = 1
    groups: int = 1
    paths: int = 2
    split_input: bool = True
    dilation: int = 1

    @property
    def path_dilations(self) -> tuple[int, ...]:
        return tuple(self.dilation * (i + 1) for i in range(self.paths))


@dataclass(frozen=True, kw_only=True)
class SplitAttn(_OneWidth):
    """ResNeSt's split attention: a kxk conv into ``radix`` splits per group, softmax-weighted over the splits."""

    w: int
    w_attn: int
    radix: int = 2
    groups: int = 1
    stride: int = 1
    kernel: int = 3
    dilation: int = 1

    @property
    def padding(self) -> int:
        return self.dilation * (self.kernel // 2)


@dataclass(frozen=True, kw_only=True)
class CBAM(_OneWidth):
    """Channel gate (shared MLP on avg- and max-pooled features), then spatial gate (kxk conv on max/mean maps)."""

    w: int
    w_mid: int
    kernel: int = 7


@dataclass(frozen=True, kw_only=True)
class CondensedConv:
    """Index-select of the input channels, BN, ReLU, 1x1 group conv, channel shuffle (CondenseNet).

    A learned group convolution after condensing: each of the ``groups`` groups reads the
    ``w_in / groups`` input channels it learned to keep, gathered by one index-select
    (``w_in`` = input width * G / C: the whole input width when C = G, as in the paper).
    """

    w_in: int
    w_out: int
    groups: int


@dataclass(frozen=True, kw_only=True)
class CondensedLinear:
    """Index-select of ``w_keep`` of the ``w_in`` features, then a fully connected layer (CondenseNet's classifier)."""

    w_in: int
    w_keep: int
    w_out: int


Unit = Union[Conv, Norm, Act, MaxPool, AvgPool, GlobalPool, Dropout, Linear, SE, AvgDown, SelectiveKernel, SplitAttn,
             CBAM, CondensedConv, CondensedLinear]
Named = tuple[tuple[str, Unit], ...]


@dataclass(frozen=True)
class Block:
    """A residual unit: named units in sequence, then a shortcut joins the input back.

    ``shortcut``: "none", "identity", "proj" (the ``proj`` unit maps the input) or
    "partial" (ReXNet: the input is added to the first ``w_in`` output channels).
    ``pre``: pre-activation units run before ``units``; a projection reads their output.
    """

    units: Named
    shortcut: str = "none"
    proj: Conv | AvgDown | None = None
    post_act: str | None = None
    pre: Named = ()

    @property
    def w_in(self) -> int:
        return _width(u.w_in for _, u in self.pre + self.units)

    @property
    def w_out(self) -> int:
        return _width(u.w_out for _, u in reversed(self.units))


def _width(widths) -> int:
    """The first width a unit declares."""
    w = next((w for w in widths if w is not None), None)
    if w is None:
        raise ValueError("units have no width")
    return w


@dataclass(frozen=True)
class Stage:
    """Blocks at one resolution (the first block may downsample)."""

    blocks: tuple[Block | Concat, ...]


@dataclass(frozen=True)
class Net:
    """A whole network at its native input resolution."""

    name: str
    family: str
    resolution: int
    stem: Named
    stages: tuple[Stage, ...]
    head: Named
    w_in: int = 3
    design: dict = field(default_factory=dict, compare=False, hash=False)  # design parameters, for display


def with_classes(net: Net, num_classes: int) -> Net:
    """The same network with a classifier of ``num_classes`` outputs."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    classifiers = (Linear, CondensedLinear)
    head = tuple((n, replace(u, w_out=num_classes) if isinstance(u, classifiers) else u) for n, u in net.head)
    return replace(net, head=head)


@dataclass(frozen=True)
class Concat:
    """Branches whose outputs are concatenated along channels [, then shuffled across groups, then act].

    Each branch reads the whole input, or with ``split`` its own equal share of the input's
    channels; a branch with no units passes its input on (DenseNet's ``x`` in ``cat(x, f(x))``).
    """

    branches: tuple[tuple[str, Named], ...]
    split: bool = False
    shuffle: int = 0
    post_act: str | None = None
