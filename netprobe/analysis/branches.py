"""Stages of token branches that run side by side: one stage per branch, not one per stretch of execution.

CrossViT runs two token branches in every block, on 12 px patches of the image (20x20 at 240 px)
and on 16 px patches of it resized (14x14), each block running the one and then the other and
then letting each branch's class token attend to the other's patches. No run of layers separates
them, so the stages its containers give (its patch embeddings, its blocks) each hold both. The
stages that hold branches' layers, both or one, are cut into one per branch: each layer goes to the branch
of its grid (``grids.walk``), a layer on no grid (a class token's projection, the attention
that reads one) to the branch its module's other layers lie on where they lie on one, else to the
branch of the layer before it. A branch stage runs beside the others, so its layers interleave
with theirs; its output is its tokens on its grid.
"""

from __future__ import annotations

from netprobe.analysis.layers import Layer
from netprobe.analysis.taps import is_body


def by_branch(layers: list[Layer], names: list[str], grid_of: list, sides) -> list[str]:
    """Stage names with the body stages that hold layers of side-by-side branches made one stage per branch,
    and the body stages renumbered in the order they start; ``grid_of`` and ``sides``: each layer's grid and
    the branches' grids (``grids.walk``)."""
    if len(sides) < 2:
        return names
    grid_of = [tuple(g[-2:]) if g else None for g in grid_of]
    on_branch = {i: grid_of[i] for i, n in enumerate(names) if is_body(n) and grid_of[i] in sides}
    held: dict[str, set] = {}
    for i, grid in on_branch.items():
        held.setdefault(names[i], set()).add(grid)
    if len(set().union(*held.values())) < 2:
        return names
    split = set(held)  # the stages of both branches, and those of one (blocks that each run one branch's part)
    members = [i for i, n in enumerate(names) if n in split]
    branch_of = {i: on_branch[i] for i in members if i in on_branch}
    of_module: dict[str, set] = {}  # module -> the branches its gridded layers lie on
    for i, grid in branch_of.items():
        for module in _ancestors(layers[i].name):
            of_module.setdefault(module, set()).add(grid)
    previous = None
    for i in members:
        if i not in branch_of:
            own = next((b for m in _ancestors(layers[i].name) if (b := of_module.get(m))), set())
            branch_of[i] = next(iter(own)) if len(own) == 1 else previous or _next(branch_of, members, i)
        previous = branch_of[i]
    out = [("branch", branch_of[i]) if i in branch_of else n for i, n in enumerate(names)]
    order = [n for n in dict.fromkeys(out) if isinstance(n, tuple) or is_body(n)]
    renamed = {n: f"s{k}" for k, n in enumerate(order, 1)}
    return [renamed.get(n, n) for n in out]


def _next(branch_of: dict, members: list[int], i: int):
    """The branch of the first layer after i that lies on one (a layer on none that opens the stage)."""
    return next((branch_of[j] for j in members if j > i and j in branch_of), None)


def _ancestors(name: str) -> list[str]:
    """The module a layer name is, then the modules it lies in, innermost first (the model itself last)."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(len(parts), 0, -1)] + [""]
