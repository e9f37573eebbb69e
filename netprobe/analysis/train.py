"""Training counts: the forward and the backward pass of one training step, per layer, stage and in total.

The backward of a product (conv, linear, matmul, attention) is one gradient per operand
that needs one, each priced like the forward: the gradient of the input (skipped for the
network input, and for anything upstream of which only frozen parameters exist) and the
gradient of the weight (skipped for a frozen one). A bias gradient is a sum over the
output, one add per output element: priced as the convention prices bias adds (netprobe
counts them, FlopCounterMode does not). Other ops' backward (norms, activations, pooling)
has no product and counts 0 in every convention, as their forward does in netprobe's.

FlopCounterMode prices the weight gradient of a grouped convolution as if it were not
grouped (its ``conv_backward_flop`` multiplies by the full input width): ``groups`` times
the forward. That is its rule, so under ``--convention torch`` it is netprobe's too, as a
fact of its own (``WGRAD_GROUPS``) that only the torch convention weighs.

A zoo member is counted from its spec's layers (no torch); any other module from one pass
on ``meta`` in train mode (``analysis.train_pass``), which sees which operand of each op
needs a gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.analysis import conventions
from netprobe.analysis.gradients import (BIASES, OP_PRODUCTS, PRODUCTS, TRAIN_WEIGHTS, WGRAD_GROUPS,  # noqa: F401
                                        gradient_facts)
from netprobe.analysis.layers import Layer
from netprobe.counts import Counts
from netprobe.models.inputs import as_summary_kwargs

# The batch of the pass for a module (counts are per image): 2, as a BatchNorm in train mode refuses
# one value per channel (an SE's on a 1x1 map); every product scales with the batch, so it halves exactly.
PASS_BATCH = 2


@dataclass(frozen=True)
class TrainLayer:
    """One layer's forward and backward counts (batch 1) in one convention, and the facts behind them."""

    name: str
    stage: str
    op: str
    forward: int
    backward: int
    forward_facts: tuple[tuple[str, int], ...] = ()
    backward_facts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class TrainCounts:
    """Forward, backward and their sum for one training step at a batch, in one convention."""

    model: str
    convention: str
    batch: int
    layers: tuple[TrainLayer, ...]
    stages: tuple[tuple[str, int, int], ...]  # (stage, forward, backward), at the batch
    forward: int
    backward: int

    @property
    def total(self) -> int:
        return self.forward + self.backward

    def to_dict(self) -> dict:
        """The JSON object: totals and stages at the batch, layers at batch 1."""
        return {"model": self.model, "convention": self.convention, "batch": self.batch,
                "train_forward": self.forward, "train_backward": self.backward, "train_total": self.total,
                "stages": [{"name": n, "forward": f, "backward": b} for n, f, b in self.stages],
                "layers": [{"name": t.name, "stage": t.stage, "forward": t.forward, "backward": t.backward}
                           for t in self.layers]}


def zoo_backward(layers) -> list[dict[str, int]]:
    """Backward facts of a zoo member's layers (every parameter trainable): the first layer with
    parameters reads the network input, which needs no gradient; every later one's input does."""
    out, upstream = [], False
    for layer in layers:
        facts = dict(layer.facts)
        if layer.op in ("conv", "linear"):
            groups = layer.groups if layer.op == "conv" else 1
            out.append(gradient_facts(facts, int(upstream), True, True, groups))
        else:
            out.append({})
        upstream = upstream or layer.counts.params > 0 or layer.op in ("conv", "linear")
    return out


def count(facts, name: str) -> int:
    """A convention's number for facts, the training-only facts included."""
    conv = conventions.convention(name)
    items = list(facts.items() if isinstance(facts, dict) else facts)
    extra = TRAIN_WEIGHTS.get(conv.name, {})
    return conventions.count(items, conv) + sum(n * extra.get(f, 0) for f, n in items)


def assemble(model: str, layers, backward, convention: str | None, batch: int) -> TrainCounts:
    """TrainCounts from layers (forward facts, stages) and each layer's backward facts."""
    name = conventions.convention(convention).name
    rows = tuple(TrainLayer(layer.name, layer.stage, layer.op, count(layer.facts, name), count(bwd, name),
                            tuple(layer.facts), tuple(sorted(bwd.items())))
                 for layer, bwd in zip(layers, backward))
    stages: dict[str, list[int]] = {}
    for r in rows:
        s = stages.setdefault(r.stage, [0, 0])
        s[0], s[1] = s[0] + batch * r.forward, s[1] + batch * r.backward
    return TrainCounts(model, name, batch, rows, tuple((n, f, b) for n, (f, b) in stages.items()),
                       sum(f for f, _ in stages.values()), sum(b for _, b in stages.values()))


def train_counts(model, convention: str | None = None, resolution: int | None = None, batch: int = 1,
                 input_size=None) -> TrainCounts:
    """Forward + backward counts of a training step of any model ``summary`` takes (a zoo member from
    its spec, without torch; any other module from one pass on ``meta`` in train mode). ``input_size``: shapes,
    or a factory (``models.inputs.as_summary_kwargs``)."""
    from netprobe.analysis.summary import summary

    s = summary(model, resolution=resolution, **as_summary_kwargs(input_size))
    if s.family is not None and not hasattr(model, "named_modules"):
        return assemble(s.model, s.layers, zoo_backward(s.layers), convention, batch)
    from netprobe.analysis.train_pass import module_of, observe, pass_inputs

    seen = observe(module_of(model), pass_inputs(s), PASS_BATCH)
    return assemble(s.model, *_staged(seen.layers, s.layers), convention, batch)


def _per_image(facts) -> dict[str, int]:
    return {k: n // PASS_BATCH for k, n in facts.items()}


def stage_lookup(layers):
    """A function (module name, stage before) -> its stage: the stage ``summary`` gave the layer of that
    name, or a container's first layer's; else the stage before it."""
    stage_of: dict[str, str] = {}
    for layer in layers:
        parts = layer.name.split(".")
        for i in range(len(parts), 0, -1):
            stage_of.setdefault(".".join(parts[:i]), layer.stage)
    return lambda name, before: stage_of.get(name, before)


def _staged(observed, layers: tuple[Layer, ...]) -> tuple[list[Layer], list[dict[str, int]]]:
    """Observed module calls as layers with their stages (``stage_lookup``), forward facts and backward facts.

    The pass sees ops; what ptflops reads of a module (its hooks, its patched calls) comes from the
    summary's layer of the same name, once, and its backward repeats it as often as the layer's ops'
    backward repeats their products.
    """
    stage, current = stage_lookup(layers), layers[0].stage if layers else ""
    others: dict[str, dict[str, int]] = {}
    for layer in layers:
        others.setdefault(layer.name, {f: n for f, n in layer.facts if f.startswith(("module.", "call."))})
    out, backward = [], []
    for t in observed:
        current = stage(t.name, current)
        fwd, bwd = _per_image(t.forward), _per_image(t.backward)
        more = others.pop(t.name, {})
        done, ran = sum(bwd.get(f, 0) for f in OP_PRODUCTS), sum(fwd.get(f, 0) for f in OP_PRODUCTS)
        fwd.update(more)
        bwd.update({f: n * done // ran for f, n in more.items() if f in PRODUCTS and ran})
        bwd.update({f: n for f, n in more.items() if f in BIASES and t.bias_grad})
        out.append(Layer(t.name, current, t.op, (), Counts(), facts=tuple(sorted(fwd.items()))))
        backward.append({f: n for f, n in bwd.items() if n})
    return out, backward
