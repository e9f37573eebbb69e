"""What a block is, for ``summary --depth 2`` and ``profile --depth 2`` alike.

A block is a child of its stage's own container (``layer2.0``), or the numbered child of the
run of blocks the container holds (``encoder.layers.3``, ``stages.1.blocks.0``); where a stage
has no container (the zoo, stages found by stride), it is the first two name parts (``s2.b1``,
``stem.conv``). At depth N > 2 a layer is grouped under its first N name parts. Consecutive
layers of one block form one group, in execution order; in a stage that runs beside another (CrossViT's
branches), a block's stretches are one group.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

GROUP_LABEL_CHARS = 30  # a table cuts a block's label to this at 80 columns (short_kind); data keeps it whole


def block_name(name: str, depth: int, container: str = "") -> str:
    """The module a layer named ``name`` is grouped under at ``depth``; ``container``: its stage's container."""
    if depth == 2 and container and name.startswith(container + "."):
        rest = name[len(container) + 1:].split(".")
        run = len(rest) > 2 and not rest[0].isdigit() and rest[1].isdigit()
        return ".".join([container, *rest[:2 if run else 1]])
    return ".".join(name.split(".")[:depth])


def group(items: Sequence, depth: int, containers: dict[str, str], beside=frozenset()) -> list[tuple[str, str, list]]:
    """(block, stage, its items) for layers or rows (anything with ``name`` and ``stage``), in order;
    ``containers``: stage name -> the module it was found from ('' for none); ``beside``: stages that run
    beside another (``interleaved``), whose stretches of one block are one group, where the block first runs."""
    groups: list[tuple[str, str, list]] = []
    held: dict[tuple[str, str], list] = {}
    for item in items:
        name = block_name(item.name, depth, containers.get(item.stage, ""))
        if groups and groups[-1][:2] == (name, item.stage):
            groups[-1][2].append(item)
        elif item.stage in beside and (name, item.stage) in held:
            held[name, item.stage].append(item)
        else:
            groups.append((name, item.stage, [item]))
            held[name, item.stage] = groups[-1][2]
    return groups


def interleaved(layers: Sequence) -> frozenset[str]:
    """The stages that run beside another, in stretches with its between them (CrossViT's branches)."""
    return recurring(layer.stage for layer in layers if layer.op != "unused")


def recurring(run: Iterable) -> frozenset:
    """The values of a sequence that come back after others: that run in more than one stretch."""
    run = list(run)
    stretches = Counter(value for prev, value in zip([object(), *run], run) if value != prev)
    return frozenset(value for value, n in stretches.items() if n > 1)


def block_kind(rows: list) -> str:
    """What a block does, from the kinds of its rows that compute or join: 'conv1x1 + gconv3x3 g=16 /2 +
    SE + conv1x1', 'conv1x1 + conv3x3 + concat (dense, k=32)'; 'N layers' when none does."""
    runs: list[list] = []  # [kind, times in a row]
    for r in rows:
        if not (r.counts.macs or r.kind.startswith("concat")):
            continue
        kind = r.unit or r.kind.replace(" (pointwise)", "").replace(" (depthwise)", "")  # dwconv and 1x1 say it
        if runs and runs[-1][0] == kind:
            runs[-1][1] += not r.unit  # a unit's own layers are one unit
        else:
            runs.append([kind, 1])
    if not runs:
        return f"{len(rows)} layers"
    return " + ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in runs)


def short_kind(label: str, chars: int = GROUP_LABEL_CHARS) -> str:
    """A block's label cut at a kind to at most about ``chars``, ' + ...' saying more follows."""
    kinds = label.split(" + ")
    out = kinds[0]
    for kind in kinds[1:]:
        if len(out) + len(kind) + 3 > chars:
            return out + " + ..."
        out += " + " + kind
    return out
