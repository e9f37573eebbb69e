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
from netprobe.inputs import Input
from netprobe.models.inputs import example_inputs, main_shape, parse, shapes_of, text
from netprobe.models.resolve import dilated, resolve

__all__ = ["summary", "Summary", "Row", "StageRow", "ROWS", "NO_NEW_TENSOR", "OUTPUT_BYTES_RULE",
           "output_stride", "dilated"]


def summary(model, resolution: int | None = None, batch: int = 1, dtype: str = "fp32",
            input_size=None, output_stride: int | None = None, convention: str = "netprobe",
            inputs=None) -> Summary:
    """Summary of a registered name, alias, ``FAMILY@BUDGET``, ``package.module:factory``,
    ``timm:NAME``, ``torchvision:NAME``, a spec, a module class or factory, or an ``nn.Module``.

    ``input_size``: shapes without the batch, ``"3x16x112x112"``, ``"3x64x64,int64:12"`` or (C, H, W), instead
    of a square ``resolution``; ``inputs``: ``"package.module:make_inputs"``, a callable or ready tensors
    (``models.inputs``); by default the model's own (a zoo member's, timm's config, torchvision's weights).
    ``output_stride`` (8, 16) dilates a ResNet-like zoo model (netprobe.families.dilation).
    ``convention``: whose MACs to report: netprobe, fvcore, ptflops or torch (``analysis.conventions``);
    every layer carries what each convention counts (its facts), from the spec or the op-level pass.
    """
    conventions.convention(convention)
    _check(resolution, batch)
    given = parse(input_size, inputs)
    if given is not None and resolution:
        raise NetprobeError("give --resolution or --input-size, not both")
    dtype = parse_dtype(dtype)
    source = resolve(model, output_stride)
    out = _analyze(source, given, resolution, batch, dtype)
    if _final_height(out) == 1 and len(out.input_size) == 3:
        stride = _final_stride(_analyze(source, None, None, 1, dtype))
        if stride and min(out.input_size[1:]) < stride:
            raise NetprobeError(f"resolution too small: {out.model} downsamples {stride}x, so its input must be "
                                f"at least {stride} px; got {_size_text(out.input_size)}, use a larger --resolution")
    return conventions.in_convention(out, convention)


def _size_text(size: tuple[int, ...]) -> str:
    return f"{size[1]}x{size[2]}" + (f" with {size[0]} channels" if size[0] != 3 else "")


def _analyze(source: loaders.Source, given, resolution: int | None, batch: int, dtype: str) -> Summary:
    """``given``: the user's input description (``models.inputs``), None for the model's own at ``resolution``."""
    if source.net is not None:
        c, h, w = _zoo_size(source.net, given, resolution)
        return assemble(source, (c, h, w), batch, dtype, net_layers(source.net, (h, w)), {}, {}, (),
                        inputs=given if given is not None else (Input((c, h, w)),))
    return assemble(source, *measured(source, given, resolution, batch, dtype))


def _zoo_size(net, given, resolution: int | None) -> tuple[int, int, int]:
    """(C, H, W) of a zoo member's one image: its own, at ``resolution``, or the one ``given`` describes."""
    if given is None:
        return net.w_in, resolution or net.resolution, resolution or net.resolution
    shapes = shapes_of(given)
    if shapes is None:  # a factory or ready tensors: their first tensor is the image
        shape = main_shape(*example_inputs(None, given, 1, "cpu"))
    else:
        shape = shapes[0].shape if len(shapes) == 1 and shapes[0].kind == "float" else ()
    if len(shape) != 3:
        raise NetprobeError(f"bad input size '{text(given)}' for {net.name}: a zoo member takes one image, "
                            f"CxHxW such as {net.w_in}x{net.resolution}x{net.resolution}")
    c, h, w = shape
    if c != net.w_in:
        raise NetprobeError(f"{net.name} takes {net.w_in} input channels, got {c}; "
                            f"use --input-size {net.w_in}x{h}x{w}")
    return c, h, w


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
