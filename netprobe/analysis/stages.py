"""Stages of an arbitrary network: its own stage containers where it has them, else output-stride runs.

Containers: numbered siblings (``layer1``..``layer4``, ``s1``.., ``stage1``..), runs of blocks
(a Sequential or ModuleList of blocks: timm's ``blocks.3``, torchvision's ``trunk_output.block2``,
a ViT's ``blocks``) and modules that hold such a run (a Swin or ConvNeXt stage with its
downsampling). What runs before the first container is the stem, what runs after the last the
head; a layer between two containers joins the next one when the map shrinks there (a
ConvNeXt or Swin downsampling layer), else the previous one.

A task model (torchvision's segmentation and detection models: a ``backbone``, then heads)
has its backbone's stages (found as above, inside ``backbone.body`` where there is one), then
its neck (an FPN, SSD's extra layers) and its heads (a classifier, an RPN and ROI heads),
each named by the model's own child that holds it.

Without containers, runs of equal map size on the main path are stages. A squeezed side
branch (SE, SK or CBAM attention at 1x1, however computed) never splits one; the head
starts at the global pool, whatever follows it (a conv, a norm).
"""

from __future__ import annotations

import re
from dataclasses import replace

from netprobe.analysis.layers import Layer

STAGE_NAME = re.compile(r"(layer|stage|s|block|res|dense_?block)_?\d+", re.IGNORECASE)
ONE_CONTAINER_SHARE = 0.5  # a lone container is the body only when it holds this share of the MACs
# Parts of a task model after its backbone, by the child's name, and the stage each is.
PARTS = {
    "fpn": "neck",              # torchvision detection: backbone.fpn (BackboneWithFPN)
    "extra": "neck",            # SSD / SSDlite: backbone.extra, the layers past the classifier's features
    "neck": "neck",             # mmdet-style detectors
    "classifier": "head",       # segmentation: DeepLabHead, FCNHead, LRASPPHead
    "aux_classifier": "head",   # segmentation's auxiliary FCN head
    "rpn": "head",              # Faster/Mask/Keypoint R-CNN
    "roi_heads": "head",        # the same, after the RPN
    "head": "head",             # RetinaNet, FCOS, SSD
    "decode_head": "head",      # mmseg-style segmentors
}


def _seq(m) -> bool:
    from torch import nn

    return isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict))


def _children(m) -> list:
    return list(m.children())


def _is_run(m) -> bool:
    """A Sequential (or ModuleList) of blocks."""
    kids = _children(m)
    return _seq(m) and bool(kids) and all(_is_block(k) for k in kids)


def _is_block(m) -> bool:
    """A module with layers inside, not itself a list, holding no run of blocks."""
    kids = _children(m)
    return bool(kids) and not _seq(m) and not any(_is_run(k) for k in kids)


def _numbered(name: str, siblings: list[tuple[str, object]]) -> bool:
    named = [n for n, m in siblings if STAGE_NAME.fullmatch(n) and _children(m)]
    return name in named and len(named) >= 2


def stage_modules(model) -> list[str]:
    """Names of the model's outermost stage containers; for a task model, its backbone's, then its parts."""
    kids = dict(model.named_children())
    backbone = kids.get("backbone")
    parts = _parts(model, backbone)
    if not parts:
        return _containers(model)
    body, body_name = (backbone.body, "backbone.body") if hasattr(backbone, "body") else (backbone, "backbone")
    inner = [f"{body_name}.{n}" for n in _containers(body) if not any(_under(f"{body_name}.{n}", p) for p in parts)]
    return inner + parts


def _parts(model, backbone) -> list[str]:
    """The neck and head containers of a task model ([] unless it has a backbone and one of them)."""
    if backbone is None:
        return []
    necks = [f"backbone.{n}" for n, _ in backbone.named_children() if PARTS.get(n) == "neck"]
    heads = [n for n, m in model.named_children() if n in PARTS and n != "backbone" and _has_params(m)]
    return necks + heads if heads else []


def _has_params(m) -> bool:
    return next(m.parameters(), None) is not None


def _containers(model) -> list[str]:
    found = []
    for parent_name, parent in model.named_modules():
        siblings = list(parent.named_children())
        for name, m in siblings:
            full = f"{parent_name}.{name}" if parent_name else name
            holds_run = not _seq(m) and any(_is_run(k) for k in _children(m))
            if _is_run(m) or holds_run or _numbered(name, siblings):
                found.append(full)
    return [n for n in found if not any(n.startswith(o + ".") for o in found)]


def _under(name: str, container: str) -> bool:
    return name == container or name.startswith(container + ".")


def _big(layer: Layer) -> bool:
    hw = layer.map_hw
    return bool(hw) and max(hw[-2:]) > 1  # a clip's T x H x W map is big by its H x W


def _clip_maps(layers: list[Layer]) -> list[Layer]:
    """A video model's layers with their T x H x W maps (the counter reads H x W of 4-D outputs only);
    a model is video when a conv has a 3-D kernel."""
    if not any(layer.op == "conv" and len(layer.window) == 3 for layer in layers):
        return layers
    return [replace(layer, hw=layer.out_shape[1:]) if len(layer.out_shape) == 4 and not layer.hw else layer
            for layer in layers]


def side_branch(layers: list[Layer]) -> list[bool]:
    """Whether each layer is on a squeezed side branch: no map larger than 1x1, with larger maps
    on both sides of it (an SE, SK or CBAM gate)."""
    big = [_big(layer) for layer in layers]
    after = [False] * len(layers)
    seen = False
    for i in range(len(layers) - 1, -1, -1):
        after[i] = seen
        seen = seen or big[i]
    out, before = [], False
    for i, layer in enumerate(layers):
        out.append(not big[i] and before and after[i])
        before = before or big[i]
    return out


def _by_containers(layers: list[Layer], containers: list[str]) -> list[str] | None:
    executed = [i for i, layer in enumerate(layers) if layer.op != "unused"]
    owner = {i: next((k for k, c in enumerate(containers) if _under(layers[i].name, c)), None) for i in executed}
    order = list(dict.fromkeys(k for k in owner.values() if k is not None))
    if not order:
        return None
    if len(order) == 1:
        inside = sum(layers[i].counts.macs for i in executed if owner[i] is not None)
        if inside < ONE_CONTAINER_SHARE * sum(layer.counts.macs for layer in layers):
            return None
    stage = {k: f"s{n}" for n, k in enumerate(order, 1)}
    first = next(i for i in executed if owner[i] is not None)
    last = max(i for i in executed if owner[i] is not None)
    names = [""] * len(layers)
    current, last_map, gap = None, None, []
    for i in executed:
        if i < first:
            names[i] = "stem"
        elif i > last:
            names[i] = "head"
        elif owner[i] is None:
            gap.append(i)
        else:
            if gap:
                shrinks = any(_big(layers[j]) and layers[j].map_hw != last_map for j in gap)
                for j in gap:
                    names[j] = stage[owner[i]] if shrinks else stage[current]
                gap = []
            current = owner[i]
            names[i] = stage[current]
            if _big(layers[i]):
                last_map = layers[i].map_hw
    return names


def _by_stride(layers: list[Layer]) -> list[str]:
    n = len(layers)
    side = side_branch(layers)
    main = [i for i in range(n) if _big(layers[i]) and not side[i]]
    h = main[-1] + 1 if main else n
    bounds = [0] + [i for prev, i in zip(main, main[1:]) if layers[i].map_hw != layers[prev].map_hw]
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
    return names


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _run(layers: list[Layer], prefix: str, i: int) -> tuple[int, int]:
    """[start, end) of the contiguous layers under module ``prefix`` around index i."""
    start, end = i, i + 1
    while start > 0 and _under(layers[start - 1].name, prefix):
        start -= 1
    while end < len(layers) and _under(layers[end].name, prefix):
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


def find_stages(layers: list[Layer], containers: list[str] = ()) -> list[str]:
    """Stage name of every layer: stem, s1..sN, head (and neck for a detector)."""
    layers = _clip_maps(layers)
    parts = [c for c in containers if _part(c)]
    if parts:
        return _place_unused(layers, _by_parts(layers, [c for c in containers if c not in parts], parts))
    return _place_unused(layers, _body_stages(layers, containers))


def _body_stages(layers: list[Layer], containers) -> list[str]:
    """Stages from the containers, else from output-stride runs."""
    return (_by_containers(layers, list(containers)) if containers else None) or _by_stride(layers)


def _part(container: str) -> bool:
    """A task model's neck or head: a child of the model, or of its backbone, named in PARTS."""
    *parents, name = container.split(".")
    return name in PARTS and parents in ([], ["backbone"])


def _by_parts(layers: list[Layer], inner: list[str], parts: list[str]) -> list[str]:
    """The backbone's stages, then each part's stage; what runs after the first part and belongs to
    none (anchors, post-processing) is the head."""
    part_of = {i: PARTS[next(p for p in parts if _under(layer.name, p)).rsplit(".", 1)[-1]]
               for i, layer in enumerate(layers) if any(_under(layer.name, p) for p in parts)}
    first = min(part_of, default=len(layers))
    body = [i for i in range(first) if layers[i].op != "unused"]
    names = dict(zip(body, _body_stages([layers[i] for i in body], inner))) if body else {}
    return [part_of.get(i) or names.get(i) or ("" if layers[i].op == "unused" else "head") for i in range(len(layers))]


def _place_unused(layers: list[Layer], names: list[str]) -> list[str]:
    """Parameters no op read join the stage of their module's other layers (else the one before)."""
    for i, layer in enumerate(layers):
        if layer.op != "unused" and names[i]:
            continue
        owner = next((names[j] for j, other in enumerate(layers)
                      if other.op != "unused" and names[j] and _under(other.name, layer.name)), None)
        names[i] = owner or (names[i - 1] if i and names[i - 1] else "stem")
    return names
