"""Stage rows from leaf layers: subtotals, each stage's output, its output stride and grid, and the module it was found from.

A token stage's stride is its patch grid's against the input (a ViT at 1/16 has 14x14 tokens at 224);
a stage whose tokens lie on no grid (CaiT's class attention) has no stride and reads 'tokens'.
"""

from __future__ import annotations

from dataclasses import replace

from netprobe.analysis.blocks import interleaved
from netprobe.analysis.layers import Layer
from netprobe.analysis.result import Summary, StageRow, _scaled
from netprobe.analysis.taps import is_body
from netprobe.analysis.grids import EXTRA_TOKENS, finer, grids
from netprobe.counts import Counts, total
from netprobe.models.inputs import SPATIAL_RANK, resolution_of

UNPADDED_LOSS = 2  # px an unpadded network loses at a level beyond in / stride (Inception: 299 px to 35 at 8)
# px it loses over all its levels: each loses its own at its own scale, 2 + 1 + 1/2 + ... of a level's px
# (Inception at 128 px: 28x28 at 1/4, where 32 would be padded)
UNPADDED_NET_LOSS = 4


def assemble(source, size, batch, dtype, layers, unsupported, kinds, notes, containers=(), frozen=0,
             module_shapes=None, inputs=None) -> Summary:
    """The summary of leaf layers already given their stages; ``size``: the main input's shape without the
    batch; ``module_shapes``: each module's own output; ``inputs``: the description it ran on (``models.inputs``)."""
    draft = Summary(source.name, source.family, resolution_of(size), batch, dtype, tuple(layers), (), Counts(),
                    unsupported, kinds, tuple(size), notes, inputs=inputs)
    order = list(dict.fromkeys(layer.stage for layer in layers))
    detected = source.net is None
    image = tuple(size[-2:]) if len(size) >= SPATIAL_RANK else None
    grid_of = dict(zip(map(id, layers), grids(list(layers), image)))
    levels: list = []  # (stride, grid) of each stage read so far, in order: a stride reads past the one before
    beside, seen = interleaved(layers), _resized(layers, size)
    if seen:
        notes = (*notes, f"strides are read against the {seen[0]}x{seen[1]} image the model resizes its input to")
        draft = replace(draft, notes=notes)
    stages = tuple(_stage(draft, name, [layer for layer in layers if layer.stage == name], detected, containers,
                          grid_of, levels, name in beside and is_body(name), seen) for name in order)
    totals = total(s.counts for s in stages)
    return replace(draft, stages=stages, totals=totals, frozen_params=frozen, module_shapes=dict(module_shapes or {}))


def _resized(layers: list[Layer], size) -> tuple[int, int] | None:
    """The (H, W) of the largest image the model's convs read, where that is not its input but an interpolate of
    it (CrossViT at any size but its own 240 px), else None: the strides of its maps are against that image. A
    smaller copy beside the input (an image pyramid) and maps scaled up later (a decoder's) are no such image."""
    read = [tuple(layer.image[-2:]) for layer in layers if layer.op == "conv" and layer.image and len(layer.image) >= 2]
    if len(size) < SPATIAL_RANK or not read:
        return None
    largest = max(read, key=lambda hw: hw[0] * hw[1])
    return None if largest == tuple(size[-2:]) else largest


def _stage(draft: Summary, name: str, layers: list[Layer], detected: bool, containers=(), grid_of=None,
           levels=None, beside: bool = False, seen=None) -> StageRow:
    """A stage's row; ``levels``: (stride, grid) of the stages before it, this one's appended; ``beside``: it runs
    beside another stage, so its last layer is no output of it (a branch's class token, made for the next block);
    ``seen``: the (H, W) the model resizes its input to, where it does."""
    grid_of, levels = grid_of or {}, [] if levels is None else levels
    shaped = [layer for layer in layers if layer.out_shape]
    gridded = [layer for layer in shaped if grid_of.get(id(layer)) and max(grid_of[id(layer)][-2:]) > 1]
    output = shaped[-1] if name == "head" and shaped else (gridded or [_stage_output(shaped)])[-1]
    if beside and gridded:  # its tokens at its width on its grid, not the keys another branch's class token reads
        on = [layer for layer in gridded if grid_of[id(layer)] == grid_of[id(gridded[-1])]]
        width = _width(next((layer for layer in on if len(layer.out_shape) == 2), on[0]))  # its first tokens'
        output = [layer for layer in on if _width(layer) == width][-1]
    last = shaped[-1] if shaped else None
    of_tokens = not gridded or len(gridded[-1].out_shape) == 2  # not a map's: ECA's gate over channels is (1, C)
    if name != "head" and not beside and of_tokens and last and len(last.out_shape) == 2 \
            and last.out_shape[0] <= EXTRA_TOKENS:
        output = last  # class tokens (CaiT's class attention), the last of a stage of tokens
    grid = grid_of.get(id(output)) if output and name != "head" else None
    hw = grid if name != "head" else output.map_hw if output else None
    # H and W: the last two axes of a map or a clip (T x H x W), of the input and of the stage's output
    spatial = hw and len(hw) >= 2 and len(draft.input_size) >= SPATIAL_RANK
    stride = _read_stride(seen or draft.input_size[-2:], tuple(hw[-2:]), levels) if spatial else None
    sizes = [(draft._bytes(layer), layer.name) for layer in layers]
    largest = max(sizes, key=lambda s: s[0], default=(0, ""))
    modules = _common_prefix([layer.name for layer in shaped], containers) if detected else ""
    return StageRow(name, _scaled(total(layer.counts for layer in layers), draft.batch),
                    output.out_shape if output else (), stride, sum(b for b, _ in sizes), largest[0], largest[1],
                    modules, _grid_text(output, grid, name))


def _width(layer: Layer) -> int:
    """Channels of a map, the width of tokens."""
    return layer.out_shape[0] if layer.map_hw == tuple(layer.out_shape[1:]) else layer.out_shape[-1]


def _grid_text(output: Layer | None, grid, name: str) -> str:
    """'28x28' for a map, '14x14 tokens' for tokens on a grid, 'tokens' for tokens on none (class tokens)."""
    if grid:
        return "x".join(map(str, grid)) + ("" if output.map_hw == grid else " tokens")
    return "tokens" if output and len(output.out_shape) >= 2 and name != "head" else ""


def _stage_output(shaped: list[Layer]) -> Layer | None:
    """A body stage's last layer on its main path: the last with a map larger than 1x1 (a block
    may end in an SE multiply and an add, which are no layers, after its 1x1 gate), else the last."""
    big = [layer for layer in shaped if layer.map_hw and max(layer.map_hw) > 1]
    return (big or shaped or [None])[-1]


def _read_stride(resolution, hw: tuple[int, int], levels: list) -> int:
    """A stage's stride, read as ``output_stride`` does, in an unpadded network (its first map fits no padded
    stride but an unpadded one: Inception's) as unpadded, and past the stride of the stage before it where
    that stage's grid is a finer level; the (stride, grid) read is appended to ``levels``."""
    first = levels[0][1] if levels else hw
    padded = bool(_fits(resolution, first, 0, exact=True))
    unpadded = bool(_fits(resolution, first, UNPADDED_NET_LOSS)) and not padded
    above = levels[-1][0] if levels and finer(levels[-1][1], hw) else 0
    stride = output_stride(resolution, *hw, unpadded=unpadded, above=above, powers=padded or unpadded)
    levels.append((stride, hw))
    return stride


def _fits(resolution, sizes, loss: int, exact: bool = False, above: int = 0) -> int | None:
    """The smallest power of two past ``above`` that takes ``resolution`` to ``sizes``: padded (``exact``:
    ceil(in / s)), else unpadded (in // s exceeds every size by at most ``loss``)."""
    inputs = (resolution,) * len(sizes) if isinstance(resolution, int) else tuple(resolution)
    powers = [2 ** k for k in range(max(inputs).bit_length() + 1) if 2 ** k > above]
    if exact:
        return next((s for s in powers if all(-(-r // s) == n for r, n in zip(inputs, sizes))), None)
    return next((s for s in powers if all(0 <= r // s - n <= loss for r, n in zip(inputs, sizes))), None)


def output_stride(resolution: int | tuple[int, int], *sizes: int, unpadded: bool = False, above: int = 0,
                  powers: bool = True) -> int:
    """Product of the strides that take the input (``resolution`` px, or (H, W)) down to ``sizes``.

    A padded conv or pool of stride 2 gives ceil(in / 2) (ResNet's 3x3/2 max-pool with
    padding 1 too), so the stride is the smallest power of two s with ceil(in / s) equal
    to every output size, axis by axis; else the smallest whose in // s exceeds every output size
    by at most UNPADDED_LOSS (unpadded convs); a network that fits no power of two gets
    round(in / out) (a ViT's patches of 14, a stride-3 stem). In an ``unpadded`` network the unpadded
    reading comes first, with the loss of all its levels before (at 128 px Inception's 2x2 map is 1/32,
    though ceil(128 / 64) is 2 too); ``above``: a stride the map lies past (the stage before's). In a network
    whose first map lies at no power of two (not ``powers``: CrossViT's 12 px patches), a map that no power of
    two gives exactly is read as round(in / out), not as an unpadded power (its 14x14 of 240 px is 1/17, not 1/16).
    """
    inputs = (resolution,) * len(sizes) if isinstance(resolution, int) else tuple(resolution)
    if unpadded and (stride := _fits(inputs, sizes, UNPADDED_NET_LOSS, above=above)):
        return stride
    return (_fits(inputs, sizes, 0, exact=True, above=above)
            or powers and _fits(inputs, sizes, UNPADDED_LOSS, above=above) or round(inputs[0] / sizes[0]))


def _common_prefix(names: list[str], containers=()) -> str:
    """The stage container or module all names share ('layer2'), else their top-level modules ('stem+s1')."""
    if not names:
        return ""
    tops = list(dict.fromkeys(n.split(".")[0] for n in names))
    if len(tops) > 1:
        return "+".join(tops) if len(tops) <= 3 else f"{tops[0]}+...+{tops[-1]}"
    split = [n.split(".") for n in names]
    out = []
    for parts in zip(*split):
        if len(set(parts)) > 1:
            break
        out.append(parts[0])
    shared = ".".join(out)
    return next((c for c in containers if shared == c or shared.startswith(c + ".")), shared)
