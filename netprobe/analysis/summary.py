"""``summary()``: per-layer and per-stage counts and layer output bytes of a network, as data.

Zoo members are counted from their spec (no torch, no forward pass); any other
``nn.Module`` is counted op by op on the ``meta`` device (``analysis.counted``) and its
stages are its own stage containers, or runs of one output stride (``analysis.stages``).
``macs`` and ``acts`` are at the summary's batch, ``params`` once. The result model is
``analysis.result``, stage assembly ``analysis.assemble``, blocks ``analysis.blocks``.
"""

from __future__ import annotations

from netprobe import loaders
from netprobe.analysis import conventions
from netprobe.analysis.assemble import assemble, output_stride
from netprobe.analysis.cost import net_layers
from netprobe.analysis.counted import measured
from netprobe.analysis.result import NO_NEW_TENSOR, OUTPUT_BYTES_RULE, ROWS, Row, StageRow, Summary
from netprobe.dtypes import parse_dtype
from netprobe.errors import NetprobeError
from netprobe.models.inputs import parse_input_size
from netprobe.models.resolve import dilated, resolve

__all__ = ["summary", "Summary", "Row", "StageRow", "ROWS", "NO_NEW_TENSOR", "OUTPUT_BYTES_RULE",
           "output_stride", "parse_input_size", "dilated"]


def summary(model, resolution: int | None = None, batch: int = 1, dtype: str = "fp32",
            input_size=None, output_stride: int | None = None, convention: str = "netprobe") -> Summary:
    """Summary of a registered name, alias, ``FAMILY@BUDGET``, ``package.module:factory``,
    ``timm:NAME``, ``torchvision:NAME``, a spec, a module class or factory, or an ``nn.Module``.

    ``input_size``: (C, H, W) or ``"CxHxW"`` (``"1x224x320"``), instead of a square ``resolution``;
    by default the model's own (a zoo member's, timm's config, torchvision's weights).
    ``output_stride`` (8, 16) dilates a ResNet-like zoo model (netprobe.families.dilation).
    ``convention``: whose MACs to report: netprobe, fvcore, ptflops or torch (``analysis.conventions``);
    every layer carries what each convention counts (its facts), from the spec or the op-level pass.
    """
    conventions.convention(convention)
    _check(resolution, batch)
    size = parse_input_size(input_size)
    if size and resolution:
        raise NetprobeError("give --resolution or --input-size, not both")
    dtype = parse_dtype(dtype)
    source = resolve(model, output_stride)
    out = _analyze(source, size or (resolution and (None, resolution, resolution)), batch, dtype)
    if _final_height(out) == 1:
        stride = _final_stride(_analyze(source, None, 1, dtype))
        if stride and min(out.input_size[1:]) < stride:
            raise NetprobeError(f"resolution too small: {out.model} downsamples {stride}x, so its input must be "
                                f"at least {stride} px; got {_size_text(out.input_size)}, use a larger --resolution")
    return conventions.in_convention(out, convention)


def _size_text(size: tuple[int, int, int]) -> str:
    return f"{size[1]}x{size[2]}" + (f" with {size[0]} channels" if size[0] != 3 else "")


def _analyze(source: loaders.Source, size, batch: int, dtype: str) -> Summary:
    """``size``: (C, H, W), with C None for the model's own; None for the model's own size."""
    if source.net is not None:
        net = source.net
        c, h, w = size or (None, net.resolution, net.resolution)
        if c not in (None, net.w_in):
            raise NetprobeError(f"{net.name} takes {net.w_in} input channels, got {c}; "
                                f"use --input-size {net.w_in}x{h}x{w}")
        return assemble(source, (net.w_in, h, w), batch, dtype, net_layers(net, (h, w)), {}, {}, ())
    return assemble(source, *measured(source, size, batch, dtype))


def _body(s: Summary) -> list[StageRow]:
    return [st for st in s.stages if st.name != "head" and len(st.output_shape) == 3]


def _final_height(s: Summary) -> int:
    """Height of the last stage that still has a spatial output (0 if none)."""
    body = _body(s)
    return body[-1].output_shape[1] if body else 0


def _final_stride(s: Summary) -> int | None:
    body = _body(s)
    return body[-1].output_stride if body else None


def _check(resolution, batch) -> None:
    if resolution is not None and resolution <= 0:
        raise NetprobeError(f"--resolution must be a positive number of pixels, got {resolution}")
    if batch <= 0:
        raise NetprobeError(f"--batch must be a positive integer, got {batch}")
