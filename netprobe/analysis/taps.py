"""What a model says about its own pyramid: timm's ``feature_info`` taps, and the stem they cut.

A timm model lists the modules whose outputs are its feature maps, each with its reduction
(``{"module": "conv2d_4a", "reduction": 4}``). Where taps at a stride of 4 or more lie before the
model's first stage container (Inception's long stem), those levels are stages: the stem is cut
after each tap inside it, and what follows the last one joins the first stage. Where taps lie in
the head, past a map coarser than the body's last (SelecSLS's strided head convs, EfficientFormer's
last stage, which holds no run of blocks), the head is cut after each of them the same way. Stages
that run before the first tap, on a map finer than its, the model declares part of its stem (ViTamin's
and the hybrid ViTs' conv stages inside their patch embedding): they join the stem. Stages that run after
the last tap, on a map coarser than every declared level's (Qwen3-ViT's patch merger), are its head.
"""

from __future__ import annotations

from netprobe.analysis.grids import finer

BODY_REDUCTION = 4  # a tap at this reduction or more is a body level, not part of the stem


def feature_taps(model) -> tuple[tuple[str, int], ...]:
    """(module, reduction) of each feature map the model declares; () where it declares none."""
    info = getattr(model, "feature_info", None)
    if not isinstance(info, list):
        return ()
    return tuple((f["module"], int(f["reduction"])) for f in info
                 if isinstance(f, dict) and isinstance(f.get("module"), str) and "reduction" in f)


def fold_stem(names: list[str], layer_names: list[str], grid_of: list, taps) -> list[str]:
    """Stage names with the body stages before the first tap, on a finer grid than that tap's output,
    made the stem (``grid_of``: each layer's grid or None), and the stages after renumbered; only where
    that tap is the model's finest level (HRNet declares levels at 2 and 4 by names it has no module of)."""
    tapped = [i for i, name in enumerate(layer_names) if any(under(name, m) for m, _ in taps)]
    if not tapped:
        return names
    first, reduction = next((m, r) for m, r in taps if under(layer_names[tapped[0]], m))
    tap_grid = next((grid_of[i] for i in reversed(tapped) if under(layer_names[i], first) and grid_of[i]), None)
    if tap_grid is None or reduction > min(r for _, r in taps):
        return names
    stem = set()
    for stage in dict.fromkeys(n for n in names[:tapped[0]] if is_body(n)):
        members = [i for i, n in enumerate(names) if n == stage]
        grid = next((grid_of[i] for i in reversed(members) if grid_of[i]), None)
        if members[-1] < tapped[0] and grid and finer(grid, tap_grid):
            stem.add(stage)
    if not stem:
        return names
    renamed = {n: f"s{k}" for k, n in enumerate((n for n in dict.fromkeys(names) if is_body(n) and n not in stem), 1)}
    return ["stem" if n in stem else renamed.get(n, n) for n in names]


def cut_stem(names: list[str], layer_names: list[str], taps) -> list[str]:
    """Stage names with the stem cut after each tap inside it, where one of them is a body level."""
    stem = [i for i, n in enumerate(names) if n == "stem"]
    inside = [(m, r) for m, r in taps if any(under(layer_names[i], m) for i in stem)]
    if not any(r >= BODY_REDUCTION for _, r in inside):
        return names
    ends = sorted({max(i for i in stem if under(layer_names[i], m)) for m, _ in inside})
    first_body = next((n for n in names if is_body(n)), None)
    out = list(names)
    for i in stem:
        level = sum(i > end for end in ends)
        if level == len(ends) and first_body:
            out[i] = first_body  # past the last tap: the first stage's downsampling (Inception's max-pool)
        elif level:
            out[i] = f"tap{level}"
    order = [n for n in dict.fromkeys(out) if is_body(n) or n.startswith("tap")]
    renamed = {n: f"s{k}" for k, n in enumerate(order, 1)}
    return [renamed.get(n, n) for n in out]


def cut_head(names: list[str], layer_names: list[str], maps: list, taps) -> list[str]:
    """Stage names with the head cut after each tap inside it that a coarser map than the body's last
    leads to (``maps``: each layer's map or None): those levels are the next stages."""
    head = [i for i, n in enumerate(names) if n == "head"]
    body = [i for i, n in enumerate(names) if is_body(n) and _big(maps[i])]
    if not head or not body:
        return names
    last = maps[body[-1]]
    ends = set()
    for module, _ in taps:
        inside = [i for i in head if under(layer_names[i], module)]
        if inside and any(_big(maps[i]) and finer(last, maps[i]) for i in head if i <= inside[-1]):
            ends.add(inside[-1])
    n = max(int(names[i][1:]) for i in body)
    out = list(names)
    for i in head:
        level = sum(i > end for end in ends)
        if level < len(ends):
            out[i] = f"s{n + level + 1}"
    return out


def cut_tail(names: list[str], layer_names: list[str], grid_of: list, taps) -> list[str]:
    """Stage names with the last body stages made the head where they run after the last tap, on a grid coarser
    than every declared level's (``grid_of``: each layer's grid or None): Qwen3-ViT's patch merger, which takes
    the blocks timm declares at 1/16 to 1/32 tokens for a language model."""
    tapped = [i for i, name in enumerate(layer_names) if any(under(name, m) for m, _ in taps)]
    declared = [grid_of[i] for i in tapped if _big(grid_of[i])]
    if not declared:
        return names
    coarsest = min(declared, key=lambda g: g[-2] * g[-1])
    out = list(names)
    for stage in reversed([n for n in dict.fromkeys(names) if is_body(n)]):
        members = [i for i, n in enumerate(names) if n == stage]
        grid = next((grid_of[i] for i in reversed(members) if _big(grid_of[i])), None)  # not an SE gate's 1x1
        if members[0] <= tapped[-1] or grid is None or not finer(coarsest, grid):
            break
        out = ["head" if n == stage else n for n in out]
    return out


def _big(hw) -> bool:
    return bool(hw) and max(hw[-2:]) > 1


def is_body(name) -> bool:
    """Whether a stage name is a body stage's (s1, s2, ...)."""
    return isinstance(name, str) and name.startswith("s") and name[1:].isdigit()


def under(name: str, module: str) -> bool:
    """Whether layer ``name`` is module ``module`` or inside it."""
    return name == module or name.startswith(module + ".")
