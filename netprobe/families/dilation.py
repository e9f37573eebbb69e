"""Dilated ResNets: the same network at output stride 8 or 16, a pure transform of its spec.

torchvision's ``replace_stride_with_dilation`` ([F, T, T] for 8, [F, F, T] for 16): each
replaced stage keeps its resolution (stride 1) and doubles the dilation of its spatial
convs. The first block of such a stage still runs at the previous dilation up to and
including the unit that held the stride (torchvision's and timm's ``first_dilation``); the
units after it, and the later blocks, use the new one. A pooling unit that only strided
(ResNeSt's ``avd``, the average pool of an avg-down shortcut) is dropped: its stride is gone.
"""

from __future__ import annotations

from dataclasses import fields, replace

from netprobe.errors import NetprobeError
from netprobe.families import DILATABLE  # declared with each family
from netprobe.spec import AvgPool, Block, Net, Stage

OUTPUT_STRIDES = (8, 16, 32)
NATIVE = 32


def with_output_stride(net: Net, output_stride: int | None) -> Net:
    """``net`` with its last stages dilated so that it downsamples ``output_stride``x (8, 16; 32 is itself)."""
    if output_stride is None or output_stride == NATIVE and net.family in DILATABLE:
        return net
    if output_stride not in OUTPUT_STRIDES:
        raise NetprobeError(f"--output-stride must be 8, 16 or 32, got {output_stride}")
    if net.family not in DILATABLE or len(net.stages) != 4:
        raise NetprobeError(f"{net.name} has no dilated variant; --output-stride applies to the ResNet-like "
                            f"families ({', '.join(DILATABLE)})")
    first_dilated = {8: 2, 16: 3}[output_stride]  # stage index: [F, T, T] or [F, F, T]
    stages, dilation = [], 1
    for si, stage in enumerate(net.stages):
        if si < first_dilated:
            stages.append(stage)
            continue
        prev, dilation = dilation, dilation * 2
        blocks = tuple(_dilate(b, prev if i == 0 else dilation, dilation) for i, b in enumerate(stage.blocks))
        stages.append(Stage(blocks))
    design = {**net.design, "output_stride": output_stride}
    return replace(net, name=f"{net.name}_os{output_stride}", stages=tuple(stages), design=design)


def _dilate(block: Block, first: int, dilation: int) -> Block:
    """Stride 1; spatial units up to the strided one at ``first``, the rest at ``dilation``."""
    units, d = [], first
    for name, u in block.units:
        strided = getattr(u, "stride", 1) > 1
        if isinstance(u, AvgPool) and strided:
            d = dilation
            continue
        if _spatial(u):
            u = replace(u, dilation=d)
        if strided:
            u = replace(u, stride=1)
            d = dilation
        units.append((name, u))
    proj = block.proj
    if proj is not None:  # the 1x1 projection keeps its dilation of 1; it only loses its stride
        proj = replace(proj, stride=1)
    return replace(block, units=tuple(units), proj=proj)


def _spatial(u) -> bool:
    """A unit with a window wider than 1 that can dilate (selective-kernel paths are 3x3)."""
    return "dilation" in {f.name for f in fields(u)} and getattr(u, "kernel", 3) > 1
