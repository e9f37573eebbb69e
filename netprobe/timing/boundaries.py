"""Time per unit (stage or block) of one model, from marks taken where execution crosses a unit boundary.

A forward pre-hook on the first layer of each stretch a unit runs takes a mark (a clock reading on
CPU, a recorded CUDA event on a GPU): a unit runs in one stretch, or in several where it runs beside
another (CrossViT's branches, block by block). A unit's time is from its marks to the next ones, so what
runs between layers (residual adds, the SE multiply) goes to the unit it happens in and the
unit times add up to the marked pass exactly. In training, a mark between the loss and
``backward()`` (``Marks.backward``, taken in unmarked passes too) splits each pass into its
forward and its backward, and a hook on the gradient of each stretch's input (of its first layer
whose input needs one: ``Layout.entries``) marks where its backward ends and that of the stretch
before it begins: autograd calls it once that gradient is whole, every path through the unit
summed (a residual's skip too), so the unit's backward is done (units that run beside each other
are marked where autograd starts each one instead: ``backward_starts``). The loss goes to the last
unit's forward and its gradient to the last unit's backward, as the forward's tail does.
Nothing waits: on CUDA the marks are events recorded on the stream (the hook runs on
autograd's thread, on the stream of the forward op), read after one synchronize at the end
of all samples. On CPU a mark reads the clock bench's samples are taken on: ``perf_counter``
less the timing thread's waits for a CPU (``preempt``), so a scheduler slice spent on another
process is no unit's time.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from time import perf_counter
from typing import Callable

from netprobe.timing import engine, preempt


class Marks:
    """The boundary marks of one iteration; hooks add to it only while ``active``."""

    def __init__(self, cuda: bool):
        self.cuda = cuda
        self.watch = None if cuda else preempt.Watch()  # ``close`` when done
        self.active = False
        self.open = False  # between begin() and end(): an iteration being sampled, marked or not
        self.items: list[tuple[str, object]] = []
        self.turn: int | None = None  # index of the item where the backward begins (training)

    def stamp(self):
        if not self.cuda:
            return self.watch.stamp()[1]
        import torch

        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def begin(self, unit: str, active: bool) -> None:
        self.active, self.open, self.turn = active, True, None
        self.items = [(unit, self.stamp())]

    def mark(self, unit: str) -> None:
        if self.active and self.items[-1][0] != unit:
            self.items.append((unit, self.stamp()))

    def backward(self) -> None:
        """Where the forward (and the loss) ends and the backward begins, in the unit the forward ended in."""
        if self.open:
            self.turn = len(self.items)
            self.items.append((self.items[-1][0], self.stamp()))

    def end(self) -> tuple[list[tuple[str, object]], object, int | None]:
        stop = self.stamp()
        self.active = self.open = False
        return self.items, stop, self.turn

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()


@dataclass(frozen=True)
class Layout:
    """Where the units start: the leaf that opens each stretch a unit runs, the units in the order they first
    run, and each leaf's tensor sizes. A unit runs in one stretch, or in several where it runs beside another
    (CrossViT's branches, block by block)."""

    order: tuple[str, ...]  # units in the order they first run
    starts: dict[str, str]  # leaf name -> the unit whose stretch it opens
    numel: dict[str, int]  # leaf name -> elements of its tensor inputs plus its outputs, at batch
    # leaf name -> the unit run before the stretch it is the first leaf of whose input needs a gradient
    entries: dict[str, str] = field(default_factory=dict)
    # leaf name -> the unit whose backward starts at its output's gradient (``backward_starts``), where units run
    # beside each other; their backward is then marked there instead of at the ``entries``
    back_starts: dict[str, str] = field(default_factory=dict)

    @property
    def beside(self) -> bool:
        """Whether some unit runs in several stretches, beside another (CrossViT's branches)."""
        return len(set(self.starts.values())) < len(self.starts)


def _numel(value) -> int:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, (tuple, list)):
        return sum(_numel(v) for v in value)
    return 0


def _needs_grad(output):
    """The first tensor of a module's output that needs a gradient, or None."""
    import torch

    values = output if isinstance(output, (tuple, list)) else (output,)
    return next((v for v in values if isinstance(v, torch.Tensor) and v.requires_grad), None)


ROOT = "(root)"  # the layer name analysis.measure gives a model that has no submodules, its own only layer


def _modules(model) -> dict:
    """Leaf name -> module, the model itself under ROOT."""
    return {**dict(model.named_modules()), ROOT: model}


def layout(model, call: Callable[[], object], unit_of: dict[str, str]) -> Layout:
    """Run ``call`` once with hooks on every leaf named in ``unit_of`` (leaf name -> unit); with autograd on
    (training) it also finds each unit's entry."""
    import torch

    modules = _modules(model)
    order: list[str] = []
    starts: dict[str, str] = {}
    numel: dict[str, int] = {}
    entries: dict[str, str] = {}
    now: dict[str, object] = {"unit": None, "before": None, "entry": False}  # the stretch running

    def hook(name: str):
        def record(_module, inputs, output):
            numel[name] = numel.get(name, 0) + _numel(inputs) + _numel(output)
        return record

    def pre(name: str):
        def record(_module, inputs):
            unit = unit_of[name]
            if unit != now["unit"]:
                starts.setdefault(name, unit)
                now.update(unit=unit, before=now["unit"], entry=True)
                if unit not in order:
                    order.append(unit)
            x = inputs[0] if inputs else None
            if now["entry"] and isinstance(x, torch.Tensor) and x.requires_grad:
                now["entry"] = False  # a side input (a second network input) may come first: it needs none
                if now["before"] is not None:
                    entries.setdefault(name, now["before"])
        return record

    handles = []
    for name, unit in unit_of.items():
        if name in modules:
            module = modules[name]
            handles += [module.register_forward_pre_hook(pre(name)), module.register_forward_hook(hook(name))]
    try:
        call()
    finally:
        for h in handles:
            h.remove()
    return Layout(tuple(order), starts, numel, entries)


def backward_starts(model, step: Callable[[], object], unit_of: dict[str, str]) -> dict[str, str]:
    """Leaf -> the unit whose backward starts at the gradient of its output, in the order autograd runs them:
    one ``step`` (forward and backward) with a hook on the gradient of every leaf's output. Branches that run
    beside each other are independent, so autograd does not run their backward in the reverse of their forward
    stretches (the next block's other branch first): only where it does run them can their times be split."""
    modules, order = _modules(model), []

    def post(name: str):
        def record(_module, _inputs, output):
            t = _needs_grad(output)
            if t is not None:
                t.register_hook(lambda grad: order.append(name))
        return record

    handles = [modules[name].register_forward_hook(post(name)) for name in unit_of if name in modules]
    try:
        step()
    finally:
        for h in handles:
            h.remove()
    starts, current = {}, None
    for name in order:
        if unit_of[name] != current:
            current = unit_of[name]
            starts.setdefault(name, current)
    return starts


def attach(model, lay: Layout, marks: Marks) -> list:
    """Hooks that mark each unit's start, and in training the end of its backward; returns their handles."""
    import torch

    modules = _modules(model)

    def pre(unit: str | None, before: str | None):
        def record(_module, inputs):
            if unit is not None:
                marks.mark(unit)
            x = inputs[0] if inputs else None
            if before is not None and marks.active and isinstance(x, torch.Tensor) and x.requires_grad:
                x.register_hook(lambda grad: marks.mark(before))  # this stretch's backward is done
        return record

    def post(unit: str):
        def record(_module, _inputs, output):
            t = _needs_grad(output)
            if marks.active and t is not None:
                t.register_hook(lambda grad: marks.mark(unit))  # this unit's backward starts here
        return record

    entries = {} if lay.back_starts else lay.entries
    leaves = dict.fromkeys([*lay.starts, *entries])
    handles = [modules[leaf].register_forward_pre_hook(pre(lay.starts.get(leaf), entries.get(leaf)))
               for leaf in leaves]
    return handles + [modules[leaf].register_forward_hook(post(unit)) for leaf, unit in lay.back_starts.items()]


@dataclass(frozen=True)
class UnitTimes:
    """Samples (ms) of whole unmarked iterations and of each unit in marked ones, taken alternately; in
    training each also split into its forward and its backward (empty in inference)."""

    whole_ms: list[float]
    unit_ms: dict[str, list[float]]
    warmup_iters: int
    whole_backward_ms: list[float] = field(default_factory=list)
    unit_forward_ms: dict[str, list[float]] = field(default_factory=dict)
    unit_backward_ms: dict[str, list[float]] = field(default_factory=dict)
    preempted_share: float | None = None  # of the pairs of iterations (None on CUDA)


def _split(items, stop, cuda: bool) -> dict[str, float]:
    """Milliseconds per unit of one marked iteration."""
    out: dict[str, float] = {}
    stamps = [s for _, s in items] + [stop]
    for (unit, start), end in zip(items, stamps[1:]):
        ms = start.elapsed_time(end) if cuda else (end - start) * 1e3
        out[unit] = out.get(unit, 0.0) + ms
    return out


def _phases(items, stop, turn, cuda: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Milliseconds per unit of one marked iteration's forward and of its backward (none before ``turn``)."""
    if turn is None:
        return _split(items, stop, cuda), {}
    return _split(items[:turn], items[turn][1], cuda), _split(items[turn:], stop, cuda)


def sample(call: Callable[[], object], lay: Layout, marks: Marks, warmup: engine.Warmup, min_time: float,
           target: float | None = engine.CI_TARGET) -> UnitTimes:
    """Warm up unmarked, then alternate unmarked and marked iterations for at least ``min_time``, and on, as
    bench samples (``engine.stop_rule``), until the whole pass's median interval is within ``target`` or
    CAP_FACTOR x ``min_time`` has passed (CUDA: one synchronize per batch of pairs).

    A ``call`` that calls ``marks.backward()`` between its loss and its backward has its samples split too.
    Where the waits for a CPU are unread (``preempt``), a pair in which the OS preempted the process is left
    out instead, with one intra-op thread (``engine.kept``)."""
    cuda, first = marks.cuda, lay.order[0]
    warm = engine.warm_up(call, cuda, warmup)
    whole, marked = [], []
    lost: list[bool] = []  # per pair: whether either iteration lost a CPU (marked as bench marks an iteration)
    marking = not cuda and marks.watch.counts

    def pair() -> None:
        before = marks.watch.switches() if marking else 0
        for active in (False, True):
            marks.begin(first, active)
            call()
            (marked if active else whole).append(marks.end())
        lost.append(marking and marks.watch.switches() != before)

    cap_s = engine.CAP_FACTOR * min_time
    start = perf_counter()
    if cuda:
        _cuda_pairs(pair, whole, warm, min_time, target, cap_s, start)
    else:
        done, so_far = engine.stop_rule(min_time, target, cap_s), engine.Keeper()
        while True:
            pair()
            so_far.add(_whole_ms(*whole[-1], cuda), lost[-1])
            if done(so_far.kept(), perf_counter() - start):
                break
    share = sum(lost) / len(lost) if marking and lost else None
    whole, marked = engine.kept(whole, lost), engine.kept(marked, lost)
    whole_ms, whole_backward = [], []
    for items, stop, turn in whole:
        forward, backward = _phases(items, stop, turn, cuda)
        whole_ms.append(sum(forward.values()) + sum(backward.values()))
        if turn is not None:
            whole_backward.append(sum(backward.values()))
    units: dict[str, list[float]] = {u: [] for u in lay.order}
    forwards: dict[str, list[float]] = {}
    backwards: dict[str, list[float]] = {}
    for items, stop, turn in marked:
        forward, backward = _phases(items, stop, turn, cuda)
        for unit in lay.order:
            units[unit].append(forward.get(unit, 0.0) + backward.get(unit, 0.0))
            if turn is not None:
                forwards.setdefault(unit, []).append(forward.get(unit, 0.0))
                backwards.setdefault(unit, []).append(backward.get(unit, 0.0))
    return UnitTimes(whole_ms, units, len(warm), whole_backward, forwards, backwards, share)


def _cuda_pairs(pair: Callable[[], None], whole: list, warm: list[float], min_time: float, target: float | None,
                cap_s: float, start: float) -> None:
    """Pairs in batches that fill ``min_time`` (then half of it), one synchronize each, until the rule of ``sample``."""
    import torch

    estimate, seconds = warm, min_time
    while True:
        for _ in range(max(engine.MIN_SAMPLES, engine.cuda_iters(estimate, seconds) // 2)):
            pair()
        torch.cuda.synchronize()
        estimate = [_whole_ms(*w, True) for w in whole]
        if target is None or perf_counter() - start >= cap_s or engine.ci_within(estimate, target):
            return
        seconds = min_time / 2


def _whole_ms(items, stop, turn, cuda: bool) -> float:
    """Milliseconds of one iteration, from its first mark to its end (forward and backward alike)."""
    forward, backward = _phases(items, stop, turn, cuda)
    return sum(forward.values()) + sum(backward.values())


def medians(times: UnitTimes) -> dict[str, float]:
    return {u: statistics.median(ms) for u, ms in times.unit_ms.items() if ms}
