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

from netprobe import registry
from netprobe.analysis.summary import summary
from netprobe.args import parse_batches, positive
from netprobe.errors import Interrupted, NetprobeError, first_line
from netprobe.loaders import Source
from netprobe.models.inputs import Inputs, example_inputs, parse_input_size
from netprobe.models.materialize import materialize
from netprobe.models.resolve import resolve
from netprobe.timing import cluster, engine, runtime
from netprobe.timing.context import machine_context, parse_device, parse_dtype, timestamp
from netprobe.timing.memory import PeakMemory
from netprobe.timing.modes import PASSES, autocast, parse_modes, sgd, train_step
from netprobe.timing.stats import summarize

BENCH_COLUMNS = [
    "model", "family", "batch", "mode", "resolution", "input_size", "dtype", "device", "channels_last", "compile", "threads",
    "status", "error", "median_ms", "p10_ms", "p90_ms", "iqr_ms", "samples", "warmup_iters",
    "imgs_per_s", "macs", "achieved_gflops", "peak_mem_bytes", "compile_s",
    "device_name", "torch_version", "cuda_version", "cudnn_version", "cudnn_benchmark", "tf32",
    "tf32_matmul", "gpu_clock_mhz", "netprobe_version", "timestamp",
]
RAY_COLUMNS = BENCH_COLUMNS + ["node"]  # a run on Ray adds the host name of the worker that timed the row
DEFAULT_MIN_TIME = 1.0  # seconds of samples per configuration


@dataclass(frozen=True)
class Target:
    """A model to time: its source (``models.resolve``: a spec, a factory, or a module given as is; what Ray
    ships to a worker) and the input it is timed at."""

    name: str
    family: str
    input_size: Inputs  # the input description (``models.inputs``)
    macs: int | None  # per image; None where some op has no formula (achieved FLOP/s would be wrong)
    source: Source

    @property
    def resolution(self) -> int:
        return self.input_size[1]


def resolve_targets(models, resolution: int | None, input_size=None, output_stride: int | None = None) -> list[Target]:
    """Targets for names, aliases, patterns, families, ``FAMILY@BUDGET``, factories or modules.

    Zoo members are counted from their spec; any other model op by op (``analysis.summary``),
    at its own input size unless ``resolution`` or ``input_size`` says otherwise; zoo members
    dilated to ``output_stride`` on request.
    """
    from torch import nn

    size = parse_input_size(input_size)
    if size and resolution:
        raise NetprobeError("give --resolution or --input-size, not both")
    if isinstance(models, str):
        models = models.split(",")
    items = [models] if isinstance(models, nn.Module) else [m.strip() if isinstance(m, str) else m
                                                             for m in models or [] if not isinstance(m, str) or m.strip()]
    targets: list[Target] = []
    for item in items:
        for name in [item] if not isinstance(item, str) or ":" in item else registry.resolve(item):
            given = isinstance(name, nn.Module)  # a module as is: no spec, no size of its own
            if given and output_stride is not None:
                raise NetprobeError(f"output_stride applies to zoo models only, not to a {type(name).__name__} module")
            source = resolve(name, output_stride)
            if given and not (size or resolution):
                raise NetprobeError(f"a resolution is needed to time a {source.name} module; pass resolution=224")
            try:
                counted = summary(source, resolution, input_size=size)
            except NetprobeError:
                if not given:
                    raise
                counted = None  # a module given as is that fails fails again, in its row, when timed
            macs = counted.totals.macs if counted and not counted.unsupported else None
            shape = counted.input_size if counted else size or (3, resolution, resolution)
            label = getattr(name, "spec_name", source.name) if given else source.name
            targets.append(Target(label, source.family or "custom", shape, macs, source))
    if not targets:
        raise NetprobeError("no models given; name some, e.g. resnet18,regnetx_004 (see 'netprobe list')")
    return targets


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
         ray=None, retries=None) -> Plan:
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
    return Plan(tuple(resolve_targets(models, resolution, input_size, output_stride)), batches, modes, settings, warm,
                min_time, ray, retries)


def run(plan: Plan, on_row: Callable[[dict], None] | None = None,
        on_start: Callable[[str, int], None] | None = None) -> list[dict]:
    """Time a plan: one row (see BENCH_COLUMNS) per configuration, handed to ``on_row`` as each finishes."""
    if plan.ray is not None:
        return cluster.run_on_ray(plan, on_row, cluster.Timer(time_one, _failed_row, RAY_COLUMNS))
    rows: list[dict] = []

    def emit(row: dict) -> None:
        row = {col: {**row, **context}.get(col) for col in BENCH_COLUMNS}
        rows.append(row)
        if on_row:
            on_row(row)

    try:
        with timing_state(plan.settings) as (settings, context):
            for target in plan.targets:
                _run_target(target, plan.batches, plan.modes, settings, plan.warmup, plan.min_time, emit, on_start)
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
        _run_target(target, (batch,), (mode,), run_settings, warmup, min_time, rows.append, None)
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


def _run_target(target: Target, batches: tuple[int, ...], modes: tuple[str, ...], settings: dict,
                warm: engine.Warmup, min_time: float, emit: Callable[[dict], None], on_start) -> None:
    """All batch sizes and modes of one model, built once; failures become rows."""
    model, failure = None, None
    try:
        model = _prepare(target, settings, train="train" in modes)
    except Exception as e:  # noqa: BLE001 - recorded in the rows, the run goes on
        failure = _failure(e)
    for batch in batches:
        for mode in modes:
            if on_start:
                on_start(target.name, batch)
            timing, peak, status, error = None, None, *(failure or ("ok", None))
            if model is not None:
                try:
                    timing, peak = _time_one(model, target, batch, mode, settings, warm, min_time)
                except Exception as e:  # noqa: BLE001 - recorded in the row, the run goes on
                    status, error = _failure(e)
            if status != "ok":
                _free_memory(settings["device"])  # outside the except: its traceback no longer holds tensors
            emit(_row(target, batch, mode, settings, status, error, timing, peak))
    del model
    _free_memory(settings["device"])


def _prepare(target: Target, settings: dict, train: bool = False):
    """The model on the device in eval mode (and channels-last); a caller's module is copied before a
    training step could change its weights (``models.materialize``)."""
    return materialize(target.source, settings["device"], "train" if train else "time",
                       channels_last=settings["channels_last"]).module


def _time_one(model, target: Target, batch: int, mode: str, settings: dict, warm: engine.Warmup, min_time: float):
    """Timing and peak memory of one (model, batch, mode) configuration."""
    import torch

    dev, cuda = settings["device"], settings["device"].startswith("cuda")
    peak = PeakMemory(dev, model)
    peak.start()
    args, kwargs = example_inputs(model, target.input_size, batch, dev, settings["channels_last"])
    fn = model
    if settings["compile"]:
        torch._dynamo.reset()  # a fresh compile per configuration: honest compile_s, no recompile limit
        fn = torch.compile(model, dynamic=False)
    if mode == "train":
        model.train()
        try:
            step = train_step(fn, (args, kwargs), dev, settings["dtype"], sgd(model))
            timing = engine.time_config(step, cuda=cuda, warmup=warm, min_time=min_time, compile=settings["compile"])
        finally:
            model.zero_grad(set_to_none=True)
            model.eval()
        return timing, peak.peak_bytes()
    with torch.inference_mode(), autocast(dev, settings["dtype"]):
        timing = engine.time_config(lambda: fn(*args, **kwargs), cuda=cuda, warmup=warm, min_time=min_time,
                                    compile=settings["compile"])
    return timing, peak.peak_bytes()


def _failure(e: BaseException) -> tuple[str, str]:
    """(status, one-line message) of an exception raised while building or timing."""
    import torch

    text = first_line(e, 300)
    oom = isinstance(e, (torch.OutOfMemoryError, MemoryError)) or "can't allocate memory" in text
    return ("oom" if oom else "error"), (f"{type(e).__name__}: {text}" if str(e).strip() else text)


def _free_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def _row(target: Target, batch: int, mode: str, settings: dict, status: str, error: str | None, timing,
         peak) -> dict:
    row = {"model": target.name, "family": target.family, "batch": batch, "mode": mode,
           "resolution": target.resolution, "input_size": "x".join(map(str, target.input_size)),
           **settings, "status": status, "error": error}
    stats = summarize(timing.samples_ms) if timing else None
    for col in ("median_ms", "p10_ms", "p90_ms", "iqr_ms", "samples"):
        row[col] = getattr(stats, col) if stats else None
    row["warmup_iters"] = timing.warmup_iters if timing else None
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
