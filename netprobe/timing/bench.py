"""``bench()``: forward-pass latency of models at batch sizes, one context-rich row each.

``plan()`` checks every option and resolves the models before anything is built; ``run()``
times a plan (here, or with ``ray=`` on a Ray cluster, see ``timing.cluster``); ``bench()`` does both. Each row
goes to ``on_row`` as its configuration finishes (timing writes no files: the caller's sink does,
``netprobe.reports.sink``). A failure stays in its
row (``status`` "oom" or "error") and the run goes on; Ctrl-C raises ``Interrupted``,
which carries the rows measured so far.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass
from typing import Callable

from netprobe.args import parse_batches, positive
from netprobe.errors import Interrupted, NetprobeError, first_line
from netprobe.models.inputs import example_inputs, text
from netprobe.models.materialize import materialize
from netprobe.timing import cluster, engine, runtime, schedule, train_row, trust
from netprobe.timing.targets import Target, resolve_targets, same_as, twins
from netprobe.timing.context import machine_context, parse_device, parse_dtype, timestamp
from netprobe.timing.memory import PeakMemory
from netprobe.timing.modes import PASSES, autocast, parse_modes, sgd, train_step
from netprobe.timing.stats import median_ci, summarize

BENCH_COLUMNS = [
    "model", "family", "batch", "mode", "resolution", "input_size", "dtype", "device", "channels_last", "compile", "threads",
    "status", "error", "median_ms", "p10_ms", "p90_ms", "iqr_ms", "samples", "warmup_iters",
    "ci_low_ms", "ci_high_ms", "stable", "unstable_reason", "load_avg", "cpus", "cpu_share", "preempted_share",
    "cpu_wait_ms", "same_as", "imgs_per_s", "macs", "achieved_gflops", "peak_mem_bytes", "predicted_mem_bytes",
    "alloc_peak_bytes", "forward_ms", "backward_ms", "optimizer_ms", "compile_s",
    "device_name", "torch_version", "cuda_version", "cudnn_version", "cudnn_benchmark", "tf32",
    "tf32_matmul", "gpu_clock_mhz", "netprobe_version", "timestamp",
]
RAY_COLUMNS = BENCH_COLUMNS + ["node"]  # a run on Ray adds the host name of the worker that timed the row
DEFAULT_MIN_TIME = 1.0  # seconds of samples per configuration


@dataclass(frozen=True)
class Plan:
    """A validated run: the targets, and how to time them (``settings`` go into every row)."""

    targets: tuple[Target, ...]
    batches: tuple[int, ...]
    modes: tuple[str, ...]  # infer, train
    settings: dict  # dtype, device, channels_last, compile, threads (None: torch's count)
    warmup: engine.Warmup
    min_time: float
    ray: str | None = None  # a Ray address (see timing.cluster), or None to time here
    retries: int = 1  # on Ray: times a configuration whose worker was lost is run again

    @property
    def size(self) -> int:
        """The number of configurations (rows) the run makes."""
        return len(self.targets) * len(self.batches) * len(self.modes)


def plan(models, *, device="cpu", batch=1, mode="infer", resolution=None, input_size=None, dtype="fp32",
         channels_last=False, compile=False, threads=None, warmup=None, min_time=None, output_stride=None,
         ray=None, retries=None, inputs=None) -> Plan:
    """Check every option and resolve the models, before any model is built; NetprobeError if one is bad."""
    if ray is not None:
        ray, retries = cluster.parse_address(ray), cluster.parse_retries(retries)
    elif retries is not None:
        raise NetprobeError("--retries only takes effect on Ray; add --ray (local, auto or ray://HOST:PORT) or leave it out")
    dev = parse_device(device) if ray is None else cluster.parse_device(device)
    settings = {"dtype": parse_dtype(dtype, dev), "device": dev, "channels_last": bool(channels_last),
                "compile": bool(compile), "threads": positive("threads", threads, hint="; use e.g. 4")}
    batches = tuple(parse_batches(batch))
    modes = parse_modes(mode)
    resolution = positive("resolution", resolution, hint=" (pixels); use e.g. 224")
    warm = engine.parse_warmup(warmup)
    min_time = positive("min-time", min_time, float, " (seconds); use e.g. 1") or DEFAULT_MIN_TIME
    output_stride = positive("output-stride", output_stride, hint="; use 8 or 16")
    targets = resolve_targets(models, resolution, input_size, output_stride, inputs)
    return Plan(tuple(targets), batches, modes, settings, warm, min_time, ray, retries)


def run(plan: Plan, on_row: Callable[[dict], None] | None = None,
        on_start: Callable[[str, int], None] | None = None) -> list[dict]:
    """Time a plan: one row (see BENCH_COLUMNS) per configuration, handed to ``on_row`` as each finishes."""
    if plan.ray is not None:
        return cluster.run_on_ray(plan, on_row, cluster.Timer(time_one, _failed_row, RAY_COLUMNS, twins, same_as))
    rows: list[dict] = []

    def emit(row: dict) -> None:
        row = {col: {**row, **context}.get(col) for col in BENCH_COLUMNS}
        rows.append(row)
        if on_row:
            on_row(row)

    try:
        with timing_state(plan.settings) as (settings, context):
            # compiled configurations one at a time: each resets dynamo, which would recompile the others
            schedule.sweep(_sweep(plan.targets, plan.batches, plan.modes, settings, plan.warmup, plan.min_time,
                                  on_start), plan.min_time, emit, 1 if settings["compile"] else schedule.WINDOW)
    except KeyboardInterrupt:
        raise Interrupted(rows) from None
    return rows


@contextlib.contextmanager
def timing_state(settings: dict):
    """The runtime set for timing (``timing.runtime``); yields (settings as run, context)."""
    dev = settings["device"]
    with runtime.configured(dev, settings["threads"]) as threads:
        yield {**settings, "threads": threads}, machine_context(dev)


def time_one(target: Target, batch: int, mode: str, settings: dict, warmup: engine.Warmup, min_time: float) -> dict:
    """The row of one configuration, its model built here: what a Ray task runs on its worker."""
    rows: list[dict] = []
    with timing_state(settings) as (run_settings, context):
        schedule.sweep(_run_target(target, (batch,), (mode,), run_settings, warmup, min_time, None), min_time,
                       rows.append)
    return {**rows[0], **context}


def _failed_row(target: Target, batch: int, mode: str, settings: dict, status: str, error: str) -> dict:
    """The row of a configuration that was never timed (a Ray task lost or failed)."""
    return _row(target, batch, mode, settings, status, error, None, None)


def bench(models, *, on_row: Callable[[dict], None] | None = None,
          on_start: Callable[[str, int], None] | None = None, **options) -> list[dict]:
    """Time each model's forward pass at each batch size (options: see ``plan``); one row per configuration."""
    import inspect

    accepted = inspect.signature(plan).parameters
    unknown = [k for k in options if k not in accepted or k == "models"]
    if unknown:
        raise NetprobeError(f"unknown bench option {', '.join(unknown)}; "
                            f"use {', '.join(k for k in accepted if k != 'models')}")
    return run(plan(models, **options), on_row, on_start)


def _sweep(targets, batches, modes, settings: dict, warm: engine.Warmup, min_time: float, on_start):
    """The configurations of every target, in order; a target with the same network and input as an
    earlier one (``regnetx_016`` and ``regnetx@1.6GF``) is not timed again: its rows copy the first's."""
    done: dict = {}
    for target, twin in zip(targets, twins(targets)):
        if twin is None:
            yield from _run_target(target, batches, modes, settings, warm, min_time, on_start, done)
            continue
        for batch in batches:
            for mode in modes:
                yield schedule.Pending(None, None, lambda _t, b=batch, m=mode, t=target, tw=twin:
                                       same_as(done[(tw.name, b, m)], t, tw))


def _run_target(target: Target, batches: tuple[int, ...], modes: tuple[str, ...], settings: dict,
                warm: engine.Warmup, min_time: float, on_start, done: dict | None = None):
    """All batch sizes and modes of one model, built once, each warmed up and ready to sample
    (``schedule.Pending``); failures become rows. Finished rows are kept in ``done`` by (model, batch, mode)."""
    model, failure = None, None
    try:
        model = _prepare(target, settings, train="train" in modes)
    except Exception as e:  # noqa: BLE001 - recorded in the rows, the run goes on
        failure = failure_of(e)
    for batch in batches:
        for mode in modes:
            if on_start:
                on_start(target.name, batch)
            timing, peak, resume, train, status, error = None, None, None, None, *(failure or ("ok", None))
            if model is not None:
                try:
                    timing, peak, resume, train = _time_one(model, target, batch, mode, settings, warm,
                                                     schedule.first_slice(min_time))
                except Exception as e:  # noqa: BLE001 - recorded in the row, the run goes on
                    status, error = failure_of(e)
            if status != "ok":
                _free_memory(settings["device"])  # outside the except: its traceback no longer holds tensors

            def finish(t, b=batch, m=mode, st=status, err=error, pk=peak, tr=train):
                row = _row(target, b, m, settings, st, err, t, pk)
                if tr is not None and t is not None:  # the phases after the step's own samples: its median undistorted
                    try:
                        row.update(tr())
                    except Exception as e:  # noqa: BLE001 - the step's timing stands; the row says what is missing
                        row["error"] = f"phases not measured: {failure_of(e)[1]}"
                if done is not None:
                    done[(target.name, b, m)] = row
                return row

            def fail(e, b=batch, m=mode, pk=peak):
                _free_memory(settings["device"])
                return finish(None, b, m, *failure_of(e), pk)
            yield schedule.Pending(timing, resume, finish, fail)
    del model
    _free_memory(settings["device"])


def _prepare(target: Target, settings: dict, train: bool = False):
    """The model on the device in eval mode (and channels-last); a caller's module is copied before a
    training step could change its weights (``models.materialize``)."""
    return materialize(target.source, settings["device"], "train" if train else "time",
                       channels_last=settings["channels_last"]).module


def _time_one(model, target: Target, batch: int, mode: str, settings: dict, warm: engine.Warmup, min_time: float):
    """Timing (its first ``min_time`` of samples) and peak memory of one (model, batch, mode) configuration,
    and the function that samples it further (``schedule``)."""
    import torch

    dev, cuda = settings["device"], settings["device"].startswith("cuda")
    peak = PeakMemory(dev, model)
    peak.start()
    args, kwargs = example_inputs(model, target.input_size, batch, dev, settings["channels_last"])
    fn = model
    if settings["compile"]:
        torch._dynamo.reset()  # a fresh compile per configuration: honest compile_s, no recompile limit
        fn = torch.compile(model, dynamic=False)
    train = None
    if mode == "train":
        optimizer = sgd(model)
        step = train_step(fn, (args, kwargs), dev, settings["dtype"], optimizer)

        @contextlib.contextmanager
        def state():
            model.train()
            try:
                yield
            finally:
                model.zero_grad(set_to_none=True)
                model.eval()
        call = step
    else:
        def call():
            return fn(*args, **kwargs)

        def state():
            return _inference(dev, settings["dtype"])
    if mode == "train":
        expected = train_row.predicted(target.source, target.name, target.input_size, batch, settings["dtype"])

        def phases() -> dict:
            with state():
                return train_row.train_columns(model, fn, step, (args, kwargs), optimizer, dev, settings["dtype"],
                                               expected)
        train = phases
    with state():
        timing = engine.time_config(call, cuda=cuda, warmup=warm, min_time=min_time, compile=settings["compile"],
                                    target=None)

    def resume(t: engine.Timing, seconds: float) -> engine.Timing:
        with state():
            return engine.more(call, cuda, t, seconds)
    return timing, peak.peak_bytes(), resume, train


@contextlib.contextmanager
def _inference(dev: str, dtype: str):
    import torch

    with torch.inference_mode(), autocast(dev, dtype):
        yield


def failure_of(e: BaseException) -> tuple[str, str]:
    """(status, one-line message) of an exception raised while building or timing."""
    import torch

    text = first_line(e, 300)
    oom = isinstance(e, (torch.OutOfMemoryError, MemoryError)) or "can't allocate memory" in text
    said = str(e).strip() and not isinstance(e, NetprobeError)  # netprobe's own words need no type name
    return ("oom" if oom else "error"), (f"{type(e).__name__}: {text}" if said else text)


def _free_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def _row(target: Target, batch: int, mode: str, settings: dict, status: str, error: str | None, timing,
         peak) -> dict:
    row = {"model": target.name, "family": target.family, "batch": batch, "mode": mode,
           "resolution": target.resolution, "input_size": text(target.input_size),
           **settings, "status": status, "error": error}
    stats = summarize(timing.kept) if timing else None  # the iterations that kept their CPUs (engine.kept)
    for col in ("median_ms", "p10_ms", "p90_ms", "iqr_ms", "samples"):
        row[col] = getattr(stats, col) if stats else None
    row["warmup_iters"] = timing.warmup_iters if timing else None
    row["ci_low_ms"], row["ci_high_ms"] = median_ci(timing.kept) if timing else (None, None)
    row.update(trust.columns(stats.median_ms if stats else None, stats.iqr_ms if stats else None,
                             timing.cpu_s if timing else 0.0, timing.wall_s if timing else 0.0,
                             settings["threads"], settings["device"].startswith("cuda"),
                             timing.preempted_share if timing else None))
    row["cpu_wait_ms"] = timing.cpu_wait_per_iter_ms if timing else None
    ok = stats is not None and stats.median_ms > 0
    row["imgs_per_s"] = batch / (stats.median_ms / 1e3) if ok else None
    row["macs"] = target.macs
    # achieved FLOP/s counts 2 FLOPs per MAC (a multiply and an add), per pass over the layers (PASSES)
    flops = 2 * target.macs * batch * PASSES[mode] if target.macs else None
    row["achieved_gflops"] = flops / (stats.median_ms / 1e3) / 1e9 if ok and flops else None
    row["peak_mem_bytes"] = peak
    row["compile_s"] = timing.compile_s if timing else None
    row["timestamp"] = timestamp()
    return row
