"""Stages of a network without stage containers: runs of one level of the pyramid on its main path.

The main path is the layers with a map larger than 1x1 off any squeezed side branch (an SE gate).
A stage starts where that map moves to a coarser level, or to a finer one it stays on (a decoder);
a block that reads the map before it (DPN's, NASNet's) stays in the level it runs in. Each boundary
then moves to a module's start or end, so that a block is never cut; the head starts after the
last map on the main path, at the global pool.

Stages from containers get a level each too where they are more than two to a level (``one_per_level``).
"""

from __future__ import annotations

from collections.abc import Iterable

from netprobe.analysis.grids import finer, one_level
from netprobe.analysis.layers import Layer
from netprobe.analysis.taps import under

# Containers give at most max(MOST_STAGES, LEVEL_STAGES x levels) stages (EfficientNet's 7 on 5 levels); past
# that they are parts of stages (RDNet's sub-stages between transitions), merged one per level.
MOST_STAGES = 7
LEVEL_STAGES = 2


def by_stride(layers: list[Layer], side: list[bool], big: list[bool]) -> list[str]:
    """Stage name of every layer (stem, s1..sN, head) from the main path's levels; ``side``: whether
    each layer is on a squeezed side branch, ``big``: whether its map is larger than 1x1."""
    n = len(layers)
    main = [i for i in range(n) if big[i] and not side[i]]
    h = main[-1] + 1 if main else n
    bounds = [0] + _level_changes([layers[i].map_hw for i in main], main)
    if 0 < h < n:
        bounds.append(h)
    bounds.append(n)
    for k in range(1, len(bounds) - 1):
        bounds[k] = _adjust(layers, bounds[k - 1], bounds[k], bounds[k + 1])
    if len(bounds) == 3 and bounds[1] == h:
        bounds.insert(1, _first_module_end(layers, h))
    names = [""] * n
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        for i in range(lo, hi):
            names[i] = "stem" if k == 0 else f"s{k}"
    if 0 < h < n:
        names[bounds[-2]:] = ["head"] * (n - bounds[-2])
    return names


def _level_changes(maps: list, at: list[int]) -> list[int]:
    """Indices (``at``) where the main path's ``maps`` move to another level of the pyramid: a coarser
    map, or a finer one it stays on (a decoder); a run on finer maps that comes back (a block's path
    from an earlier map: DPN's, NASNet's cells) stays in the level it runs in."""
    out, level = [], maps[0] if maps else None
    for k in range(1, len(maps)):
        if one_level(maps[k], level) or finer(maps[k], level) and _comes_back(maps[k:], level):
            continue
        out.append(at[k])
        level = maps[k]
    return out


def _comes_back(maps: list, level) -> bool:
    """Whether the main path, on maps finer than ``level``, gets back to ``level`` or coarser."""
    return any(not finer(m, level) for m in maps)


def _first_module_end(layers: list[Layer], h: int) -> int:
    """Where the first top-level module ends, for a body of one map (ConvMixer: its stem, then its blocks);
    ``h`` when that module is a single layer or the whole body."""
    top = layers[0].name.split(".")[0]
    end = next((i for i in range(h) if layers[i].name.split(".")[0] != top), h)
    return end if end > 1 and "." in layers[0].name else h


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _run(layers: list[Layer], prefix: str, i: int) -> tuple[int, int]:
    """[start, end) of the contiguous layers under module ``prefix`` around index i."""
    start, end = i, i + 1
    while start > 0 and under(layers[start - 1].name, prefix):
        start -= 1
    while end < len(layers) and under(layers[end].name, prefix):
        end += 1
    return start, end


def _adjust(layers: list[Layer], a: int, b: int, c: int) -> int:
    """Boundary b between groups [a, b) and [b, c), moved to a module boundary."""
    for prefix in _ancestors(layers[b].name):
        start, end = _run(layers, prefix, b)
        if end > c:
            continue
        if a < start < b:
            return start
        if start == a and end < c:
            return end  # the module opened with the previous group (ResNet's stem conv + max-pool)
    return b


def most_stages(stage_grids: Iterable[tuple]) -> int:
    """The most stages containers may give a pyramid on these grids: MOST_STAGES, or LEVEL_STAGES per level."""
    levels: list[tuple] = []
    for grid in stage_grids:
        if not any(one_level(grid, level) for level in levels):
            levels.append(grid)
    return max(MOST_STAGES, LEVEL_STAGES * len(levels))


def one_per_level(stage_of: dict[int, int], level_of: dict[int, tuple]) -> dict[int, int]:
    """Stage numbers renumbered so that consecutive stages on one level are one (RDNet's sub-stages)."""
    renamed, n, prev = {}, 0, None
    for k in sorted(set(stage_of.values())):
        grid = level_of.get(k)
        if prev is None or grid is None or not one_level(grid, prev):
            n += 1
        renamed[k], prev = n, grid or prev
    return {i: renamed[k] for i, k in stage_of.items()}
