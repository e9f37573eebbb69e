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

A stage never spans two output strides, and the pyramid is the model's own: a container that
runs across strides (DaViT's, Hiera's, MaxViT's one ``stages`` or ``blocks``) is split between
its blocks where the grid changes, and containers that are one block each (MobileOne's,
NASNet's, Inception's) are merged while the grid stays (depth 2 still shows the blocks). Where
containers give more than max(7, 2 x the levels) stages, they are parts of stages (RDNet's
sub-stages between its transitions): consecutive ones on one level are one stage (EfficientNet's
7 on 5 levels stay 7). The grid of a layer is its map, or, for a token sequence, the grid of the
last map its tokens come from (a ViT's patches, Hiera's pooled tokens); class-attention tokens
and a gate pooled to a coarser map and scaled back up (CSATv2's) have none.

Without containers, runs of one level of the pyramid on the main path are stages
(``stride_runs``). A squeezed side branch (SE, SK or CBAM attention at 1x1, however computed, or
a spatial gate pooled to a coarser map inside a block) never splits one; the head starts at the
global pool, whatever follows it (a conv, a norm). Levels the model declares (timm's
``feature_info``) in a long stem or in its head are stages too, and stages on finer maps before
its first declared level are its stem (``taps``). Token branches that run side by side in every
block (CrossViT's) are a stage each (``branches``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from netprobe.analysis.blocks import block_name, recurring
from netprobe.analysis.branches import by_branch
from netprobe.analysis.grids import finer, grids, one_level, pooled_gates, walk
from netprobe.analysis.layers import Layer
from netprobe.analysis.stride_runs import by_stride, most_stages, one_per_level
from netprobe.analysis.taps import cut_head, cut_stem, cut_tail, fold_stem, under

STAGE_NAME = re.compile(r"(layer|stage|s|block|res|dense_?block)_?\d+", re.IGNORECASE)
STAGE_LISTS = {"stages", "layers", "levels"}  # a list of stages by its name (timm's Swin, ByobNet, NesT)
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
    inner = [f"{body_name}.{n}" for n in _containers(body) if not any(under(f"{body_name}.{n}", p) for p in parts)]
    return inner + parts


def single_blocks(model, containers, taps=()) -> frozenset[str]:
    """The containers that are one block each, not a stage: a block itself (MobileOne's, Inception's,
    NASNet's cells) or a list of one block (GhostNet's ``blocks.N``), and not a stage by its name
    (``layer2``, Swin's ``layers.1``) unless it is a block of layers (Xception's ``block5``), nor one the model
    declares feature maps at several modules inside (``taps``: Qwen3-ViT's ``encoder``, whose blocks timm names;
    legacy Xception's one tap inside each of some blocks, at its first layer, leaves them blocks)."""
    modules = dict(model.named_modules())
    return frozenset(c for c in containers if c in modules and (not _seq(modules[c]) or len(_children(modules[c])) == 1)
                     and (_of_layers(modules[c]) or not STAGE_NAME.fullmatch(c.rsplit(".", 1)[-1])
                          and not _in_stage_list(c)) and len({m for m, _ in taps if m.startswith(c + ".")}) < 2)


def _of_layers(m) -> bool:
    """A block whose children are layers and lists of layers, no blocks: one block, whatever its name."""
    return _is_block(m) and not any(_is_block(k) for k in _children(m))


def _in_stage_list(name: str) -> bool:
    """A numbered child of a list named as stages: ``layers.1`` (Swin), ``stages.2``, ``levels.0`` (NesT)."""
    *parents, last = name.split(".")
    return last.isdigit() and bool(parents) and parents[-1] in STAGE_LISTS


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
    on both sides of it (an SE, SK or CBAM gate), or on a gate pooled to a coarser map (``pooled_gates``)."""
    big = [_big(layer) for layer in layers]
    after = [False] * len(layers)
    seen = False
    for i in range(len(layers) - 1, -1, -1):
        after[i] = seen
        seen = seen or big[i]
    out, before = [], False
    for i, gate in enumerate(pooled_gates(layers)):
        out.append(gate or not big[i] and before and after[i])
        before = before or big[i]
    return out


def _by_containers(layers: list[Layer], containers: list[str], single=frozenset(), image=None) -> list[str] | None:
    executed = [i for i, layer in enumerate(layers) if layer.op != "unused"]
    owner = {i: next((k for k, c in enumerate(containers) if under(layers[i].name, c)), None) for i in executed}
    order = list(dict.fromkeys(k for k in owner.values() if k is not None))
    if not order:
        return None
    if len(order) == 1:
        inside = sum(layers[i].counts.macs for i in executed if owner[i] is not None)
        if inside < ONE_CONTAINER_SHARE * sum(layer.counts.macs for layer in layers):
            return None
    first = next(i for i in executed if owner[i] is not None)
    last = max(i for i in executed if owner[i] is not None)
    names: list = [""] * len(layers)  # stem, head, or the container index of a body layer
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
                    names[j] = owner[i] if shrinks else current
                gap = []
            current = owner[i]
            names[i] = current
            if _big(layers[i]):
                last_map = layers[i].map_hw
    return _cut(layers, names, containers, single, _interleaved(owner, containers), image)


def _interleaved(owner: dict, containers: list[str]) -> frozenset[str]:
    """Containers that run in more than one stretch, others in between: lists indexed by stage
    (Twins' ``patch_embeds``, ``blocks`` and ``pos_block``), parts of a stage rather than stages."""
    return frozenset(containers[k] for k in recurring(k for k in owner.values() if k is not None))


def _cut(layers: list[Layer], names: list, containers: list[str], single, interleaved=frozenset(),
         image=None) -> list[str]:
    """Body layers (given their container's index) cut into stages between blocks: a new stage where
    the container or the grid changes, except between single-block or interleaved containers at one
    grid and where a container ends past its own grid change (that tail opens the next container's stage);
    more stages than ``most_stages`` are merged one per level."""
    grid_of, side = grids(layers, image), side_branch(layers)
    units: list[list] = []  # [block, container, grid, layer indices]
    for i, k in enumerate(names):
        if not isinstance(k, int):
            continue
        # a single-block container is one unit; the layers of a gap it takes in are blocks of their own
        whole = containers[k] in single and under(layers[i].name, containers[k])
        key = containers[k] if whole else block_name(layers[i].name, 2, containers[k])
        if not units or units[-1][:2] != [key, k]:
            units.append([key, k, None, []])
        units[-1][3].append(i)
        if grid_of[i] is not None and not (side[i] and layers[i].map_hw):  # not an SE gate's 1x1
            units[-1][2] = grid_of[i]
    n, prev_k, prev_grid, tail = 0, None, None, False
    stage_of: dict[int, int] = {}  # each body layer's stage number
    level_of: dict[int, tuple] = {}  # each stage's grid: the last its blocks run on
    for _, k, grid, members in units:
        same = grid is None or prev_grid is None or one_level(grid, prev_grid) or finer(grid, prev_grid)
        merged = prev_k is not None and (containers[k] in interleaved or containers[prev_k] in interleaved
                                         or containers[k] in single and containers[prev_k] in single)
        if prev_k is None or not same or (k != prev_k and not merged and not tail):
            n += 1
            tail = k == prev_k  # a container's tail past its grid change (EfficientViM's downsampling) opens the next
        elif k != prev_k:
            tail = False
        for i in members:
            stage_of[i] = n
        prev_k, prev_grid = k, grid if grid and not finer(grid, prev_grid or grid) else prev_grid
        if prev_grid:
            level_of[n] = prev_grid
    if n > most_stages(level_of.values()):
        stage_of = one_per_level(stage_of, level_of)
    return [f"s{stage_of[i]}" if i in stage_of else name for i, name in enumerate(names)]


def find_stages(layers: list[Layer], containers: list[str] = (), single=frozenset(), taps=(),
                image: tuple[int, int] | None = None) -> list[str]:
    """Stage name of every layer: stem, s1..sN, head (and neck for a detector); ``single``: the
    containers that are one block each (``single_blocks``); ``taps``: the feature maps the model
    declares (``taps.feature_taps``); ``image``: the input's (H, W), for tokens cut out of it before any map."""
    layers = _clip_maps(layers)
    parts = [c for c in containers if _part(c)]
    if parts:
        return _place_unused(layers, _by_parts(layers, [c for c in containers if c not in parts], parts, single, image))
    grid_of, sides = walk(layers, image)
    names = by_branch(layers, _body_stages(layers, containers, single, image), grid_of, sides)
    layer_names = [layer.name for layer in layers]
    names = cut_stem(fold_stem(names, layer_names, grid_of, taps), layer_names, taps)
    names = cut_head(names, layer_names, [layer.map_hw for layer in layers], taps)
    names = cut_tail(names, layer_names, grid_of, taps)
    return _place_unused(layers, names)


def _body_stages(layers: list[Layer], containers, single=frozenset(), image=None) -> list[str]:
    """Stages from the containers, else from output-stride runs."""
    return (_by_containers(layers, list(containers), single, image) if containers else None) or by_stride(
        layers, side_branch(layers), [_big(layer) for layer in layers])


def _part(container: str) -> bool:
    """A task model's neck or head: a child of the model, or of its backbone, named in PARTS."""
    *parents, name = container.split(".")
    return name in PARTS and parents in ([], ["backbone"])


def _by_parts(layers: list[Layer], inner: list[str], parts: list[str], single=frozenset(), image=None) -> list[str]:
    """The backbone's stages, then each part's stage; what runs after the first part and belongs to
    none (anchors, post-processing) is the head."""
    part_of = {i: PARTS[next(p for p in parts if under(layer.name, p)).rsplit(".", 1)[-1]]
               for i, layer in enumerate(layers) if any(under(layer.name, p) for p in parts)}
    first = min(part_of, default=len(layers))
    body = [i for i in range(first) if layers[i].op != "unused"]
    names = dict(zip(body, _body_stages([layers[i] for i in body], inner, single, image))) if body else {}
    return [part_of.get(i) or names.get(i) or ("" if layers[i].op == "unused" else "head") for i in range(len(layers))]


def _place_unused(layers: list[Layer], names: list[str]) -> list[str]:
    """Parameters no op read join the stage of their module's other layers (else the one before)."""
    for i, layer in enumerate(layers):
        if layer.op != "unused" and names[i]:
            continue
        owner = next((names[j] for j, other in enumerate(layers)
                      if other.op != "unused" and names[j] and under(other.name, layer.name)), None)
        names[i] = owner or (names[i - 1] if i and names[i - 1] else "stem")
    return names
