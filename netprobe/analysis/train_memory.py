"""Peak memory of one training step, predicted before anything runs; and the largest batch that fits a budget.

What lives through the step: parameters and buffers, the optimizer's state (``OPTIMIZERS``),
the input. The forward adds what autograd saves for the backward (observed on ``meta`` by
``analysis.train_pass``, each storage once); the backward frees a layer's saved tensors
once its gradients are computed, while the parameter gradients appear layer by layer. The
peak is the largest of these moments, walking the layers backwards (the backward runs them
in reverse):

- the end of the forward: everything saved, no gradient yet (``zero_grad(set_to_none=True)``);
- the backward of layer k: what layers 1..k saved, the gradients of layers k..n, and the
  transient gradient buffers of layer k: the gradient of its output and of its input, alive
  at once, and one more of the larger of the two for a gradient held where paths meet (a
  residual's skip, a concatenation), an estimate from above for a chain of layers;
- the optimizer step: every gradient, nothing saved, and the step's own temporaries.

Everything that scales with the batch (saved tensors, layer inputs and outputs) is linear in
it, so a model is observed twice, at batch 2 and 3, kept in memory, and any batch is a sum.
What this leaves out, and how far it is from measured peaks, is in docs/train.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

from netprobe.analysis.train import stage_lookup
from netprobe.bytesize import parse_bytes
from netprobe.errors import NetprobeError
from netprobe.models.inputs import as_summary_kwargs
from netprobe.spec import Net

# optimizer -> (state tensors per parameter, temporaries per parameter during step()), torch's foreach paths.
OPTIMIZERS = {
    "sgd":          (0, 0),  # plain SGD: p -= lr * grad, in place
    "sgd-momentum": (1, 0),  # one momentum buffer, updated in place
    "adamw":        (2, 1),  # exp_avg and exp_avg_sq; step() builds sqrt(exp_avg_sq) + eps for every param
}
DEFAULT_OPTIMIZER = "sgd-momentum"  # what bench --mode train steps: timm's SGD, momentum 0.9 (timing.modes)
ADAM_STEP_BYTES = 4  # AdamW's per-parameter ``step`` counter: a float32 scalar tensor
MAX_BATCH = 2**20  # fit()'s search stops here


@dataclass(frozen=True)
class StageMemory:
    """What one stage holds: its parameters, their gradients and optimizer state, and what it saves."""

    name: str
    params_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    saved_bytes: int


@dataclass(frozen=True)
class TrainMemory:
    """Predicted peak memory of a training step at a batch, and its parts at the peak (bytes)."""

    model: str
    batch: int
    optimizer: str
    params_bytes: int
    buffers_bytes: int
    optimizer_bytes: int  # state that lives between steps
    input_bytes: int
    saved_bytes: int  # saved activations alive at the peak
    grads_bytes: int  # parameter gradients alive at the peak
    transient_bytes: int  # the backward's (or the step's) temporary buffers at the peak
    train_memory_bytes: int
    peak_at: str  # "forward", a layer's name (its backward), or "optimizer step"
    saved_total_bytes: int  # everything the forward saves
    grads_total_bytes: int
    stages: tuple[StageMemory, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def parse_optimizer(name: str | None) -> str:
    """An optimizer name of ``OPTIMIZERS`` (None: the default); anything else is a one-line NetprobeError."""
    key = DEFAULT_OPTIMIZER if name is None else str(name).strip().lower()
    if key not in OPTIMIZERS:
        raise NetprobeError(f"unknown optimizer '{name}'; choose from {', '.join(OPTIMIZERS)}")
    return key


def fit_optimizer(optimizer: str | None, budget, cli: bool = False) -> str:
    """The optimizer a fit to a memory ``budget`` predicts with (``parse_optimizer``); naming one without a budget
    is a one-line NetprobeError, in the words of the command line (``cli``) or of the API."""
    if optimizer is not None and budget is None:
        raise NetprobeError("--optimizer is about the training step --fit predicts; add --fit" if cli else
                            "optimizer is about the training step fit predicts; give fit a memory budget too")
    return parse_optimizer(optimizer)


def train_memory(model, batch: int = 1, optimizer: str | None = None, resolution: int | None = None,
                 input_size=None) -> TrainMemory:
    """Predicted peak memory of a training step (fp32) of any model ``summary`` takes, at a batch."""
    if not isinstance(batch, int) or batch < 1:
        raise NetprobeError(f"batch must be a positive integer, got {batch!r}")
    optimizer = parse_optimizer(optimizer)
    if isinstance(model, (str, Net)):  # a name or a spec: observed once per process
        return predict(_linear(model, resolution, _size_key(input_size)), batch, optimizer)
    return predict(_observed(model, resolution, input_size), batch, optimizer)


@dataclass(frozen=True)
class Fit:
    """The largest batch whose predicted peak fits a budget (0: not even batch 1), and that prediction."""

    budget_bytes: int
    fit_batch: int
    memory: TrainMemory  # at fit_batch (at batch 1 when none fits)


def fit(model, budget, optimizer: str | None = None, resolution: int | None = None, input_size=None) -> Fit:
    """The largest batch whose predicted training peak fits ``budget`` (bytes, or text like ``16GiB``):
    a search over predictions, nothing runs."""
    budget = parse_bytes(budget) if isinstance(budget, str) else int(budget)

    def at(b: int) -> TrainMemory:
        return train_memory(model, b, optimizer, resolution, input_size)

    if at(1).train_memory_bytes > budget:
        return Fit(budget, 0, at(1))
    lo, hi = 1, 2
    while hi <= MAX_BATCH and at(hi).train_memory_bytes <= budget:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if at(mid).train_memory_bytes <= budget else (lo, mid)
    return Fit(budget, lo, at(lo))


# --- observation: two meta passes per model, kept; a prediction at any batch is a sum ---


@dataclass(frozen=True)
class _Row:
    """One module call: its stage, and its quantities at batch b as a + b * per_image."""

    name: str
    stage: str
    grad_bytes: int
    params_bytes: int
    saved: tuple[int, int]
    io: tuple[int, int]  # the larger of its input and output
    io_sum: tuple[int, int]  # its input and output together


@dataclass(frozen=True)
class _Linear:
    model: str
    rows: tuple[_Row, ...]
    params_bytes: int
    buffers_bytes: int
    trainable_bytes: int
    trainable_tensors: int
    input_bytes: int  # per image


def _at(ab: tuple[int, int], batch: int) -> int:
    return ab[0] + batch * ab[1]


def _size_key(input_size):
    return tuple(input_size) if isinstance(input_size, (list, tuple)) else input_size


@lru_cache(maxsize=256)
def _linear(model, resolution, input_size) -> _Linear:
    """A named model or a spec observed at batch 2 and 3 (built on ``meta``), once per process."""
    return _observed(model, resolution, input_size)


def _observed(model, resolution, input_size) -> _Linear:
    from netprobe.analysis.summary import summary
    from netprobe.analysis.train_pass import module_of, observe, pass_inputs

    s = summary(model, resolution=resolution, **as_summary_kwargs(input_size))
    module = module_of(model)
    # batch 2 and 3, not 1: a BatchNorm on a 1x1 map (an SE's) refuses one value per channel in train mode
    two, three = observe(module, pass_inputs(s), 2), observe(module, pass_inputs(s), 3)
    if [c.name for c in two.layers] != [c.name for c in three.layers]:
        raise NetprobeError(f"{s.model} runs different modules at batch 2 and 3; its memory cannot be predicted")
    stage = stage_lookup(s.layers)
    rows, current = [], s.layers[0].stage if s.layers else ""
    for a, b in zip(two.layers, three.layers):
        current = stage(a.name, current)
        rows.append(_Row(a.name, current, a.grad_bytes, a.params_bytes, _line(a.saved_bytes, b.saved_bytes),
                         _line(max(a.in_bytes, a.out_bytes), max(b.in_bytes, b.out_bytes)),
                         _line(a.in_bytes + a.out_bytes, b.in_bytes + b.out_bytes)))
    return _Linear(s.model, tuple(rows), two.params_bytes, two.buffers_bytes, two.trainable_bytes,
                   two.trainable_tensors, three.input_bytes - two.input_bytes)


def _line(at2: int, at3: int) -> tuple[int, int]:
    """(a, per image) of a quantity that is a + batch * per image, from its values at batch 2 and 3."""
    return at2 - 2 * (at3 - at2), at3 - at2


def predict(seen: _Linear, batch: int, optimizer: str) -> TrainMemory:
    """The peak of a step at a batch: the largest of the forward's end, each layer's backward and the step."""
    states, temporaries = OPTIMIZERS[optimizer]
    opt = states * seen.trainable_bytes + (ADAM_STEP_BYTES * seen.trainable_tensors if optimizer == "adamw" else 0)
    saved = [_at(r.saved, batch) for r in seen.rows]
    saved_total, grads_total = sum(saved), sum(r.grad_bytes for r in seen.rows)
    moments = [(saved_total, 0, 0, "forward")]
    alive_saved, alive_grads = saved_total, 0
    for r, s in zip(reversed(seen.rows), reversed(saved)):
        alive_grads += r.grad_bytes
        transient = _at(r.io_sum, batch) + _at(r.io, batch)
        moments.append((alive_saved, alive_grads, transient, r.name))
        alive_saved -= s
    moments.append((0, grads_total, temporaries * seen.trainable_bytes, "optimizer step"))
    peak = max(moments, key=lambda m: m[0] + m[1] + m[2])
    fixed = seen.params_bytes + seen.buffers_bytes + opt + batch * seen.input_bytes
    return TrainMemory(seen.model, batch, optimizer, seen.params_bytes, seen.buffers_bytes, opt,
                       batch * seen.input_bytes, peak[0], peak[1], peak[2], fixed + sum(peak[:3]), peak[3],
                       saved_total, grads_total, _stages(seen, saved, states))


def _stages(seen: _Linear, saved: list[int], states: int) -> tuple[StageMemory, ...]:
    out: dict[str, list[int]] = {}
    for r, s in zip(seen.rows, saved):
        st = out.setdefault(r.stage, [0, 0, 0])
        st[0], st[1], st[2] = st[0] + r.params_bytes, st[1] + r.grad_bytes, st[2] + s
    return tuple(StageMemory(n, p, g, states * g, s) for n, (p, g, s) in out.items())
