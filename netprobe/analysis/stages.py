"""Stages of an arbitrary network, found from where its output stride changes.

Layers come in execution order (from ``measure``). A global pool inside the body opens a
side branch (the SE squeeze) whose 1x1 layers keep the resolution of the map they came
from, so that they stay in the stage around them. Runs of equal resolution are stages; a boundary
moves back to the start of the outermost module that straddles it (the block whose 3x3
conv downsamples starts the stage, not the conv). The trailing layers with no spatial
output, with the global pooling before them, are the head; the first run is the stem.
"""

from __future__ import annotations

from netprobe.analysis.layers import Layer

POOLISH = {"avgpool", "maxpool", "flatten", "identity", "dropout"}


def _spatial(layer: Layer) -> bool:
    return len(layer.out_shape) == 3


def head_start(layers: list[Layer]) -> int:
    """Index of the first head layer (``len(layers)`` when the network ends in a feature map)."""
    i = len(layers)
    flat_seen = False
    while i > 0:
        layer = layers[i - 1]
        if not layer.out_shape:
            i -= 1
        elif not _spatial(layer):
            flat_seen = True
            i -= 1
        elif layer.out_shape[1:] == (1, 1) and layer.op in POOLISH and flat_seen:
            i -= 1
        else:
            break
    return i if flat_seen else len(layers)


def side_branch(layers: list[Layer]) -> list[bool]:
    """Whether each layer is on a 1x1 side branch: a global pool inside the body (the SE
    squeeze) and the 1x1 layers after it, until the next larger feature map."""
    out: list[bool] = []
    branch, last = False, None
    for layer in layers:
        if _spatial(layer):
            if layer.out_shape[1:] != (1, 1):
                branch, last = False, layer.out_shape[1]
            elif layer.op == "avgpool" and last not in (None, 1):
                branch = True
        out.append(branch)
    return out


def _heights(layers: list[Layer]) -> list[int]:
    """Output height of each layer; side-branch layers and layers without a spatial output
    take the height of the feature map before them."""
    out: list[int | None] = []
    last = None
    for layer, side in zip(layers, side_branch(layers)):
        if _spatial(layer) and not side:
            last = layer.out_shape[1]
        out.append(last)
    first = next((h for h in out if h is not None), 0)
    return [first if h is None else h for h in out]


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _run(layers: list[Layer], prefix: str, i: int) -> tuple[int, int]:
    """[start, end) of the contiguous layers under module ``prefix`` around index i."""
    inside = lambda j: layers[j].name.startswith(prefix + ".")  # noqa: E731
    start, end = i, i + 1
    while start > 0 and inside(start - 1):
        start -= 1
    while end < len(layers) and inside(end):
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
        if start <= a and end < c:
            return end  # the module opened with the previous group (ResNet's stem conv + max-pool)
    return b


def find_stages(layers: list[Layer]) -> list[str]:
    """Stage name of every layer: stem, s1..sN, head."""
    n = len(layers)
    h = head_start(layers)
    executed = [i for i in range(h) if layers[i].out_shape]
    heights = _heights(layers[:h])
    bounds = [0] + [i for prev, i in zip(executed, executed[1:]) if heights[i] != heights[prev]]
    if 0 < h < n:
        bounds.append(h)
    bounds.append(n)
    for k in range(1, len(bounds) - 1):
        bounds[k] = _adjust(layers, bounds[k - 1], bounds[k], bounds[k + 1])
    names = [""] * n
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        for i in range(lo, hi):
            names[i] = "stem" if k == 0 else f"s{k}"
    if 0 < h < n:
        names[bounds[-2]:] = ["head"] * (n - bounds[-2])
    return _place_unexecuted(layers, names)


def _place_unexecuted(layers: list[Layer], names: list[str]) -> list[str]:
    """Parameters held outside executed leaves join the stage of their module's layers."""
    for i, layer in enumerate(layers):
        if layer.out_shape:
            continue
        owner = next((names[j] for j, other in enumerate(layers)
                      if other.out_shape and other.name.startswith(layer.name + ".")), None)
        names[i] = owner or names[i] or (names[i - 1] if i else "stem")
    return names
