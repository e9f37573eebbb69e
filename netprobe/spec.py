"""A network as plain data: frozen dataclasses that ``build`` and ``cost`` both read.

A ``Net`` is a stem, stages of blocks, and a head. Each of them is a tuple of named
units; a unit is one of the few layer recipes below. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Union


@dataclass(frozen=True)
class ConvBN:
    """Convolution without bias, then BatchNorm, then an optional activation."""

    w_in: int
    w_out: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    act: str | None = None
    dilation: int = 1

    @property
    def padding(self) -> int:
        return self.dilation * (self.kernel // 2)


@dataclass(frozen=True)
class SE:
    """Squeeze-and-excitation: global pool, 1x1 conv reduce (+BN), act, 1x1 conv expand, gate."""

    w: int
    w_se: int
    act: str = "relu"
    bn: bool = False  # ReXNet puts a BatchNorm after the reduce conv


@dataclass(frozen=True)
class Act:
    """A stand-alone activation."""

    kind: str


@dataclass(frozen=True)
class MaxPool:
    """Max pooling (ResNet's stem)."""

    kernel: int = 3
    stride: int = 2
    padding: int = 1


@dataclass(frozen=True)
class GlobalPool:
    """Global average pooling to 1x1, then flatten."""


@dataclass(frozen=True)
class Dropout:
    """Dropout before the classifier (identity in eval mode, kept for fidelity)."""

    p: float


@dataclass(frozen=True)
class Linear:
    """Fully connected layer with bias."""

    w_in: int
    w_out: int


# --- units of the ResNet variants (SE/SK/ResNeSt/CBAM/WRN/dilated) ---


@dataclass(frozen=True)
class BNAct:
    """BatchNorm then an optional activation, without a convolution (pre-activation blocks)."""

    w: int
    act: str | None = "relu"


@dataclass(frozen=True)
class AvgDown:
    """A shortcut that average-pools (2x2, ceil, padding not counted) before its 1x1 conv + BN ("ResNet-D")."""

    w_in: int
    w_out: int
    stride: int = 2


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class SplitAttn:
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


@dataclass(frozen=True)
class CBAM:
    """Channel gate (shared MLP on avg- and max-pooled features), then spatial gate (kxk conv on max/mean maps)."""

    w: int
    w_mid: int
    kernel: int = 7


# Units and a block kind of the mobile and dense families: bare convolutions and norms for
# pre-activation and separable designs, channel shuffle, index-select, concatenation.


@dataclass(frozen=True)
class Conv:
    """A bare convolution: separable (Xception) and pre-activation (DenseNet) designs put BN elsewhere."""

    w_in: int
    w_out: int
    kernel: int = 1
    stride: int = 1
    bias: bool = False
    dilation: int = 1
    groups: int = 1
    pad: int | None = None  # None: "same" at stride 1; Xception's stem pads 0

    @property
    def padding(self) -> int:
        return self.dilation * (self.kernel // 2) if self.pad is None else self.pad


@dataclass(frozen=True)
class BN:
    """A stand-alone BatchNorm."""

    w: int


@dataclass(frozen=True)
class AvgPool:
    """Average pooling over a window (DenseNet's transitions, ShuffleNet's strided shortcut)."""

    kernel: int = 3
    stride: int = 2
    padding: int = 1


@dataclass(frozen=True)
class ShuffleConvBN:
    """1x1 group convolution, BatchNorm [, act], then a channel shuffle across its groups (ShuffleNet)."""

    w_in: int
    w_out: int
    groups: int
    act: str | None = "relu"


@dataclass(frozen=True)
class CondensedConv:
    """Index-select of the input channels, BN, ReLU, 1x1 group conv, channel shuffle (CondenseNet).

    A learned group convolution after condensing: each of the ``groups`` groups reads the
    ``w_in / groups`` input channels it learned to keep, gathered by one index-select
    (``w_in`` = input width * G / C: the whole input width when C = G, as in the paper).
    """

    w_in: int
    w_out: int
    groups: int


@dataclass(frozen=True)
class CondensedLinear:
    """Index-select of ``w_keep`` of the ``w_in`` features, then a fully connected layer (CondenseNet's classifier)."""

    w_in: int
    w_keep: int
    w_out: int


MOBILE_UNITS = (Conv, BN, AvgPool, ShuffleConvBN, CondensedConv, CondensedLinear)


Unit = Union[ConvBN, SE, Act, MaxPool, GlobalPool, Dropout, Linear, BNAct, AvgDown, SelectiveKernel, SplitAttn, CBAM,
             Conv, BN, AvgPool, ShuffleConvBN, CondensedConv, CondensedLinear]
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
    proj: ConvBN | AvgDown | None = None
    post_act: str | None = None
    pre: Named = ()

    @property
    def w_in(self) -> int:
        return _w_in(self.pre + self.units)

    @property
    def w_out(self) -> int:
        return _w_out(self.units)

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


def _w_in(units: Named) -> int:
    for _, u in units:
        if isinstance(u, (ConvBN, Linear, Conv, SelectiveKernel, ShuffleConvBN, CondensedConv)):
            return u.w_in
        if isinstance(u, (SE, BNAct, SplitAttn, CBAM, BN)):
            return u.w
    raise ValueError("units have no width")


def _w_out(units: Named) -> int:
    for _, u in reversed(units):
        if isinstance(u, (ConvBN, Linear, Conv, SelectiveKernel, ShuffleConvBN, CondensedConv)):
            return u.w_out
        if isinstance(u, (SE, BNAct, SplitAttn, CBAM, BN)):
            return u.w
    raise ValueError("units have no width")




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
