"""The per-layer record both counters produce, and what it is called in the papers."""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.counts import Counts


@dataclass(frozen=True)
class Layer:
    """One leaf layer: where it is, what it does, its output shape (C, H, W) and its counts."""

    name: str
    stage: str
    op: str  # conv | linear | bn | act | maxpool | avgpool | dropout | other
    out_shape: tuple[int, ...]
    counts: Counts
    kernel: int = 0
    stride: int = 1
    groups: int = 1
    dilation: int = 1
    w_in: int = 0
    act: str = ""

    @property
    def kind(self) -> str:
        """The label a reader of the papers would use: conv3x3, dwconv5x5 (depthwise), ..."""
        return kind_label(self)


def kind_label(layer: Layer) -> str:
    if layer.op == "conv":
        k = f"{layer.kernel}x{layer.kernel}"
        w_out = layer.out_shape[0]
        if layer.groups == 1:
            label = f"conv{k}" + (" (pointwise)" if layer.kernel == 1 else "")
        elif layer.groups == layer.w_in == w_out:
            label = f"dwconv{k} (depthwise)"
        else:
            label = f"gconv{k} g={layer.groups}"
        if ".se." in f".{layer.name}.":
            label += " SE"
        if layer.stride > 1:
            label += f" /{layer.stride}"
        if layer.dilation > 1:
            label += f" d={layer.dilation}"
        return label
    if layer.op == "act":
        return layer.act or "act"
    return layer.op
