"""The per-layer record both counters produce, and what it is called in the papers."""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.counts import Counts

SE_GATES = ("sigmoid", "hardsigmoid")
# The attention units whose layers are labelled as parts of the unit, by their paper names.
SE_LABEL, SK_LABEL, SPLIT_ATTN_LABEL, CBAM_LABEL = "SE", "sk", "split-attn", "CBAM"
UNIT_KINDS = (SE_LABEL, SK_LABEL, SPLIT_ATTN_LABEL, CBAM_LABEL)


@dataclass(frozen=True)
class Layer:
    """One leaf layer: where it is, what it does, its output shape (C, H, W) and its counts."""

    name: str
    stage: str
    op: str  # conv | linear | matmul | attention | bn | norm | act | maxpool | avgpool | dropout | identity | flatten | other | unused
    out_shape: tuple[int, ...]
    counts: Counts
    kernel: int | tuple[int, ...] = 0  # an int for a square 2-D window, else per axis: (1, 7), (3,) for 1-D
    stride: int | tuple[int, ...] = 1  # an int when the same along every axis
    groups: int = 1
    dilation: int | tuple[int, ...] = 1  # as stride
    w_in: int = 0
    act: str = ""
    note: str = ""  # what the layer does beyond its op: "+ shuffle" (ShuffleNet), "(condensed)" (CondenseNet)
    hw: tuple[int, ...] | None = None  # measured: (H, W) of the output map, () for none; None: read out_shape
    facts: tuple[tuple[str, int], ...] = ()  # what other counters' conventions read (analysis.conventions)
    unit: str = ""  # the attention unit it belongs to (one of UNIT_KINDS), "" for none
    image: tuple[int, ...] | None = None  # measured, for a conv reading the input or an interpolate of it: its size

    @property
    def map_hw(self) -> tuple[int, ...] | None:
        """(H, W) of the output feature map; None for tokens and flat outputs."""
        if self.hw is not None:
            return self.hw or None
        return self.out_shape[1:] if len(self.out_shape) == 3 else None

    @property
    def window(self) -> tuple[int, ...]:
        """Kernel size along each axis: (3, 3), (1, 7), (3,)."""
        return (self.kernel, self.kernel) if isinstance(self.kernel, int) else self.kernel

    @property
    def kind(self) -> str:
        """The label a reader of the papers would use: conv3x3, dwconv5x5 (depthwise), SE gate (sigmoid)..."""
        return kind_label(self)


def kind_label(layer: Layer) -> str:
    if layer.unit == SE_LABEL:
        return _se_label(layer)
    if layer.unit:
        return _unit_label(layer.unit, layer)
    return f"{_plain_label(layer)} {layer.note}" if layer.note else _plain_label(layer)


def _unit_label(unit: str, layer: Layer) -> str:
    """Layers inside an SK, split-attention or CBAM unit: 'sk gconv3x3 g=32 d=2', 'split-attn conv3x3 r=2'."""
    if layer.op in ("conv", "linear") and set(layer.window) <= {0, 1}:
        role = "reduce" if layer.out_shape[0] < layer.w_in else "expand"
        return f"{unit} {role} {'conv1x1' if layer.op == 'conv' else 'linear'}"
    if layer.op == "conv" and unit == SPLIT_ATTN_LABEL:  # w in, w x radix out
        return f"{unit} {_conv_label(layer)} r={layer.out_shape[0] // layer.w_in}"
    if layer.op == "act" and layer.act in ("softmax", "sigmoid"):
        return f"{unit} select ({layer.act})" if unit != CBAM_LABEL else f"{unit} gate ({layer.act})"
    return f"{unit} {_plain_label(layer)}"


def _plain_label(layer: Layer) -> str:
    if layer.op == "conv":
        return _conv_label(layer)
    if layer.op == "act":
        return f"act {layer.act}" if layer.act else "act"
    if layer.op == "avgpool":
        return "avgpool (global)" if _is_global(layer) else "avgpool"
    if layer.op == "maxpool":
        if not layer.kernel:  # adaptive
            return "maxpool"
        return f"maxpool{_window_label(layer)}{_notes(_dims_note(layer))}{_steps(layer)}"
    return layer.op


def _se_label(layer: Layer) -> str:
    """Layers inside a squeeze-and-excitation module."""
    if layer.op == "conv":
        role = "reduce" if layer.out_shape[0] < layer.w_in else "expand"
        return f"SE {role} conv{_window_label(layer)}"
    if layer.op == "act" and layer.act in SE_GATES:
        return f"SE gate ({layer.act})"
    if layer.op == "avgpool":
        return "SE squeeze (avgpool)"
    return "SE " + _plain_label(layer)


def _conv_label(layer: Layer) -> str:
    """conv3x3, conv1x1 (pointwise), dwconv5x5 (depthwise), gconv3x3 g=16, conv3 (1-D); then /2, d=2."""
    if layer.groups == 1:
        name, role, groups = "conv", "pointwise" if set(layer.window) == {1} else "", ""
    elif layer.groups == layer.w_in == layer.out_shape[0]:
        name, role, groups = "dwconv", "depthwise", ""
    else:
        name, role, groups = "gconv", "", f" g={layer.groups}"
    return f"{name}{_window_label(layer)}{_notes(_dims_note(layer), role)}{groups}{_steps(layer)}"


def _window_label(layer: Layer) -> str:
    """'3x3', '1x7', '3' (1-D)."""
    return "x".join(map(str, layer.window))


def _dims_note(layer: Layer) -> str:
    """'1-D' or '3-D' for a window that is not 2-D."""
    n = len(layer.window)
    return "" if n == 2 else f"{n}-D"


def _notes(*notes: str) -> str:
    text = ", ".join(n for n in notes if n)
    return f" ({text})" if text else ""


def _steps(layer: Layer) -> str:
    """' /2' when strided (' /1x2' along one axis only), ' d=2' when dilated."""
    out = ""
    for sep, v in ((" /", layer.stride), (" d=", layer.dilation)):
        if isinstance(v, tuple):
            out += sep + "x".join(map(str, v))
        elif v > 1:
            out += f"{sep}{v}"
    return out


def _is_global(layer: Layer) -> bool:
    return all(n == 1 for n in layer.out_shape[1:])
