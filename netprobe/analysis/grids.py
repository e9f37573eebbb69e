"""The grid each layer's output lies on: its map, or for a token sequence the map its tokens come from.

A ViT's tokens lie on its patch grid (196 tokens and a class token on 14x14), Hiera's pooled
tokens on that grid taken down by a power of two; tokens cut out of the image as patches before
any map (NaFlexViT's, TNT's: a reshape, then a linear) lie on the grid of patches they tile the
input with (64 tokens of a 128x128 image on 8x8); class-attention tokens (CaiT) lie on none. A
4-D output that is attention's heads x tokens x dim is no map: its op says so (dropout, identity,
the attention itself), or its aspect is not the first map's, or an op that never upsamples would
have grown it (softmax over tokens x tokens, CaiT's talking heads). A gate pooled to a coarser map
inside a block and scaled back up to the map it gates (CSATv2's 7x7 spatial attention) lies on no grid.
"""

from __future__ import annotations

from netprobe.analysis.counters import FACTS
from netprobe.analysis.layers import Layer

LEVEL = 1.5  # grids closer than this ratio are one stride; a stride of 2 halves them
EXTRA_TOKENS = 8  # class, distillation and register tokens a sequence may carry beside its grid's
NOT_MAPS = {"dropout", "identity", "attention", "matmul"}  # their 4-D outputs are attention's heads x tokens
GROWS = {"conv", "other"}  # ops that may grow a map (a transposed conv, an upsample)
DOWNSAMPLES = {"conv", "maxpool", "avgpool", "other"}  # ops that may take a map down (a strided conv, a pool)
ASPECT_SLACK = 0.25  # a map's H/W stays within this share of the first map's (odd sizes of valid convs)
POOLS = {"avgpool", "maxpool"}


def grids(layers: list[Layer], image: tuple[int, int] | None = None) -> list[tuple[int, ...] | None]:
    """Grid of each layer's output: its map, the grid its tokens lie on (patches, pooled tokens), or
    None (flat outputs, class tokens, attention's heads x tokens); ``image``: the input's (H, W), for
    tokens that come before any map."""
    return walk(layers, image)[0]


def walk(layers: list[Layer], image: tuple[int, int] | None = None) -> tuple[list, frozenset[tuple[int, int]]]:
    """Each layer's grid (``grids``), and the grids of token branches that run side by side (CrossViT's two,
    ``_branch``): none for a model of one path."""
    out, grid, first, side_by_side = [], None, None, []
    reads_image = next((layer.w_in for layer in layers if layer.op == "conv"), None)  # the image's channels
    for i, (layer, gate) in enumerate(zip(layers, pooled_gates(layers))):
        if gate:
            out.append(None)
            continue
        g = _map(layer, first)
        if g is None and grid is None and image and len(layer.out_shape) == 2 and layer.op != "conv":
            g = _patch_grid(layer.out_shape[0], image)
        if g and grid and layer.op not in GROWS and finer(g, grid):
            g = None  # only a conv or an upsample grows a map: that was attention's tokens x tokens
        if g is None and grid and len(layer.out_shape) == 2:
            g = _token_grid(layer.out_shape[0], grid) or next(
                (t for b in side_by_side if b != grid and (t := _token_grid(layer.out_shape[0], b)) == b), None)
        branch = _branch(layers, i, grid, first) if g and grid and layer.op == "conv" and layer.w_in == reads_image \
            else None
        if branch:
            side_by_side = list(dict.fromkeys([*side_by_side, tuple(grid[-2:]), branch]))
        elif g and grid and tuple(g[-2:]) not in side_by_side and _detour(layers, i, g, grid, first):
            g = None
        if g is not None:
            grid, first = g, first or g
        out.append(g)
    return out, frozenset(side_by_side)


def _branch(layers: list[Layer], i: int, grid: tuple[int, ...], first) -> tuple[int, int] | None:
    """The grid of the token branch that layer i, a conv that reads the image (as the model's first conv does),
    starts beside the one on ``grid``, else None: the last map of the patch embedding it opens, where tokens on
    it run on after tokens on ``grid`` have run again, with no map made in between (CrossViT's second branch, on
    patches of the image resized). Keys and values from a map taken down afresh in every block (Twins') are no
    branch: a map is made before their tokens come back."""
    j, g = i + 1, layers[i].map_hw
    while j < len(layers) and _map(layers[j], first) is not None and layers[j].op != "identity":
        g, j = layers[j].map_hw, j + 1  # the patch embedding's convs, norms and activations (CrossViT's dagger)
    g = tuple(g[-2:])
    if max(g) == 1 or g == tuple(grid[-2:]):
        return None
    back_on_grid = False
    for layer in layers[j:]:
        if _map(layer, first) is not None and layer.op != "identity":
            return None
        if len(layer.out_shape) != 2 or layer.op == "conv":
            continue
        tokens = layer.out_shape[0]
        on_grid, on_g = _token_grid(tokens, grid) == tuple(grid[-2:]), _token_grid(tokens, g) == g
        if on_g and not on_grid and back_on_grid:
            return g
        back_on_grid = back_on_grid or on_grid and not on_g
    return None


def pooled_gates(layers: list[Layer]) -> list[bool]:
    """Whether each layer is on a gate pooled to a coarser map: from a pool off the main map, on that
    coarser map, up to an upsample back to the very map it left inside the same module (CSATv2's spatial
    attention at 7x7, scaled back up to the block's map). A decoder's upsample lies in another module
    than the pool that began its level, and a branch that reads the finer map again is no upsample."""
    out, grid, i = [False] * len(layers), None, 0
    while i < len(layers):
        hw = layers[i].map_hw
        if hw and grid and layers[i].op in POOLS and max(hw[-2:]) > 1 and finer(grid, hw):
            end = _scaled_back(layers, i, hw, grid)
            if end is not None:
                out[i:end] = [True] * (end - i)
                i = end
                continue
        if hw and max(hw[-2:]) > 1:
            grid = hw
        i += 1
    return out


def _scaled_back(layers: list[Layer], i: int, pooled: tuple[int, ...], grid: tuple[int, ...]) -> int | None:
    """Index of the upsample that takes the map ``pooled`` at layer i back to ``grid`` inside the module
    of both, where the layers in between lie on ``pooled`` or on no map; None where there is none."""
    for j in range(i + 1, len(layers)):
        hw = layers[j].map_hw
        if not hw or max(hw[-2:]) == 1 or one_level(hw, pooled):
            continue
        shared = _common_module(layers[i].name, layers[j].name)
        return j if hw[-2:] == grid[-2:] and _upsample(layers[j]) and shared else None
    return None


def _upsample(layer: Layer) -> bool:
    """Whether the layer scales a map up (interpolate, ``nn.Upsample``): its facts say so."""
    return any(FACTS.get(fact, ("",))[0] == "upsample" for fact, _ in layer.facts)


def _common_module(a: str, b: str) -> str:
    """The innermost module both layer names lie in ('' for the model itself)."""
    shared = []
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        shared.append(x)
    return ".".join(shared)


def _detour(layers: list[Layer], i: int, g: tuple[int, ...], grid: tuple[int, ...], first) -> bool:
    """Whether layer i's coarser grid ``g`` is a side computation the main path does not go on from:
    the next layer off ``g`` is back on ``grid`` itself: tokens that lie on it (the queries after a
    spatial-reduction attention's keys and values: Twins), or, where no conv or pool took the map down
    (Swin V2's position-bias MLP over its 15x15 table of offsets), a map grown by no op. After a
    strided conv or pool, a layer on the earlier map is a branch that reads it (NASNet's cells),
    unless it is a linear: a token model's main path (VOLO's outlooker, attention from a pooled map)."""
    took_down = layers[i].op in DOWNSAMPLES and layers[i].map_hw is not None
    if max(g[-2:]) == 1 or finer(g, grid) or g[-2:] == grid[-2:] or took_down and one_level(g, grid):
        return False  # a 1x1 gate, or no coarser level
    for layer in layers[i + 1:]:
        m = _map(layer, first)
        if m is None and len(layer.out_shape) == 2 and layer.op != "conv":  # a conv's is channels x length
            on_grid, on_g = _token_grid(layer.out_shape[0], grid), _token_grid(layer.out_shape[0], g)
            if on_grid == tuple(grid[-2:]) and on_g is None:
                return True
            if on_g is None:
                return False  # a sequence on neither: several run in turn, each on its own grid (CoaT)
            continue
        if m is None or max(m[-2:]) == 1:
            continue
        if m[-2:] == grid[-2:]:
            return (not took_down or layer.op == "linear") and layer.op not in GROWS
        if not one_level(m, g):
            return False
    return False


def _map(layer: Layer, first) -> tuple[int, ...] | None:
    """A layer's map, unless it is attention's heads x tokens read as one (not the first map's aspect)."""
    hw = layer.map_hw
    if not hw or layer.op in NOT_MAPS:
        return None
    (h, w), (fh, fw) = hw[-2:], (first or hw)[-2:]
    return hw if (h, w) == (1, 1) or abs(h * fw - w * fh) <= ASPECT_SLACK * w * fh else None


def one_level(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether two grids are one level of the pyramid: within LEVEL of each other along each axis
    (an unpadded 3x3 takes Inception's 73x73 to 71x71 at one stride)."""
    return all(max(x, y) < LEVEL * min(x, y) for x, y in zip(a[-2:], b[-2:]))


def _token_grid(tokens: int, grid: tuple[int, ...]) -> tuple[int, int] | None:
    """The grid a sequence of ``tokens`` lies on: the last map's, or that map pooled by a power of two,
    beside at most EXTRA_TOKENS others (a class token); None for anything else."""
    h, w = grid[-2:]
    s = 1
    while -(-h // s) * -(-w // s) > EXTRA_TOKENS:
        gh, gw = -(-h // s), -(-w // s)
        if 0 <= tokens - gh * gw <= EXTRA_TOKENS:
            return gh, gw
        s *= 2
    return None


def _patch_grid(tokens: int, image: tuple[int, int]) -> tuple[int, int] | None:
    """The grid of square patches that ``tokens`` tile the whole ``image`` with: (H/P, W/P) where
    H*W / tokens is P*P and P divides both sides; None where no such P exists."""
    h, w = image
    p = round((h * w / tokens) ** 0.5) if tokens > EXTRA_TOKENS else 0
    return (h // p, w // p) if p > 1 and p * p * tokens == h * w and h % p == 0 == w % p else None


def finer(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether grid a is a finer level than b: a block that ends on an earlier map (a NASNet cell's
    path from the cell before last) belongs to the stage it runs in, and a body never grows its map."""
    return any(x >= LEVEL * y for x, y in zip(a[-2:], b[-2:]))
