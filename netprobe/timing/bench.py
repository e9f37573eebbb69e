"""``bench()``: forward-pass latency of models at batch sizes, one context-rich row each.

``plan()`` checks every option and resolves the models before anything is built; ``run()``
times a plan; ``bench()`` does both. Rows are written (CSV, ``on_row``) as each configuration finishes. A failure stays in its
row (``status`` "oom" or "error") and the run goes on; Ctrl-C raises ``Interrupted``,
which carries the rows measured so far.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from netprobe import registry
from netprobe.errors import NetprobeError, first_line
from netprobe.timing import engine
from netprobe.timing.context import machine_context, parse_device, parse_dtype, timestamp
from netprobe.timing.memory import PeakMemory
from netprobe.timing.modes import PASSES, autocast, parse_modes, sgd, train_step
from netprobe.timing.stats import summarize

BENCH_COLUMNS = [
    "model", "family", "batch", "mode", "resolution", "dtype", "device", "channels_last", "compile", "threads",
    "status", "error", "median_ms", "p10_ms", "p90_ms", "iqr_ms", "samples", "warmup_iters",
    "imgs_per_s", "macs", "achieved_tflops", "peak_mem_bytes", "compile_s",
    "device_name", "torch_version", "cuda_version", "cudnn_version", "cudnn_benchmark", "tf32",
    "tf32_matmul", "gpu_clock_mhz", "netprobe_version", "timestamp",
]
DEFAULT_MIN_TIME = 1.0  # seconds of samples per configuration


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``rows`` holds the configurations measured before it."""

    def __init__(self, rows: list[dict]):
        super().__init__("interrupted")
        self.rows = rows


@dataclass(frozen=True)
class Target:
    """A model to time: a registered spec, or a module given as is."""

    name: str
    family: str
    resolution: int
    macs: int | None  # analytic, per image; None for a module until counted
    net: object = None
    module: object = None
    in_channels: int = 3


def positive(what: str, value, kind=int, hint: str = ""):
    """``value`` (a number or its text) as a positive int (or float); None stays None."""
    if value is None:
        return None
    try:
        number = kind(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        number = None
    if (isinstance(number, bool) or not isinstance(number, (int, float)) or not number > 0
            or number == float("inf") or (kind is int and number != int(number))):
        raise NetprobeError(f"{what} '{value}' is not a positive {'integer' if kind is int else 'number'}{hint}")
    return kind(number)


def parse_batches(batch) -> list[int]:
    """``8``, ``"1,8,64"`` or ``[1, 8]`` as a list of positive ints, repeats dropped."""
    items = batch.split(",") if isinstance(batch, str) else batch if isinstance(batch, (list, tuple)) else [batch]
    out = [positive("batch", b, hint="; use e.g. 8 or 1,8,64") for b in items]
    if not out:
        raise NetprobeError("no batch size given; use e.g. 8 or 1,8,64")
    return list(dict.fromkeys(out))


def resolve_targets(models, resolution: int | None) -> list[Target]:
    """Targets for names, aliases, patterns, families, ``FAMILY@BUDGET`` or modules."""
    from torch import nn

    from netprobe.analysis.cost import net_totals

    items = [models] if isinstance(models, (str, nn.Module)) else list(models or [])
    targets: list[Target] = []
    for item in items:
        if isinstance(item, nn.Module):
            if resolution is None:
                raise NetprobeError(f"a resolution is needed to time a {type(item).__name__} module; pass resolution=224")
            name = getattr(item, "spec_name", type(item).__name__)
            targets.append(Target(name, "custom", resolution, None, module=item))
            continue
        for name in registry.resolve(item):
            net = registry.spec(name)
            res = resolution or net.resolution
            targets.append(Target(name, net.family, res, net_totals(net, res).macs, net=net, in_channels=net.w_in))
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
    csv: Path | None

    @property
    def size(self) -> int:
        """The number of configurations (rows) the run makes."""
        return len(self.targets) * len(self.batches) * len(self.modes)


def plan(models, *, device="cpu", batch=1, mode="infer", resolution=None, dtype="fp32", channels_last=False,
         compile=False, threads=None, warmup=None, min_time=None, csv=None) -> Plan:
    """Check every option and resolve the models, before any model is built; NetprobeError if one is bad."""
    dev = parse_device(device)
    settings = {"dtype": parse_dtype(dtype, dev), "device": dev, "channels_last": bool(channels_last),
                "compile": bool(compile), "threads": positive("threads", threads, hint="; use e.g. 4")}
    batches = tuple(parse_batches(batch))
    modes = parse_modes(mode)
    resolution = positive("resolution", resolution, hint=" (pixels); use e.g. 224")
    warm = engine.parse_warmup(warmup)
    min_time = positive("min-time", min_time, float, " (seconds); use e.g. 1") or DEFAULT_MIN_TIME
    if csv is not None:
        from netprobe.reports import io

        csv = io.check_appendable(csv, BENCH_COLUMNS)
    return Plan(tuple(resolve_targets(models, resolution)), batches, modes, settings, warm, min_time, csv)


def run(plan: Plan, on_row: Callable[[dict], None] | None = None,
        on_start: Callable[[str, int], None] | None = None) -> list[dict]:
    """Time a plan: one row (see BENCH_COLUMNS) per configuration, written to the CSV as each finishes."""
    import torch

    rows: list[dict] = []

    def emit(row: dict) -> None:
        row = {col: {**row, **context}.get(col) for col in BENCH_COLUMNS}
        rows.append(row)
        if plan.csv is not None:
            from netprobe.reports import io

            io.append_csv(plan.csv, row, BENCH_COLUMNS)
        if on_row:
            on_row(row)

    dev = plan.settings["device"]
    cuda = dev.startswith("cuda")
    threads_before, cudnn_before = torch.get_num_threads(), torch.backends.cudnn.benchmark
    try:
        torch.set_num_threads(plan.settings["threads"] or threads_before)
        if cuda:
            torch.backends.cudnn.benchmark = True  # autotuned per shape, hence warm-up per batch
        settings = {**plan.settings, "threads": torch.get_num_threads()}
        context = machine_context(dev)
        with torch.cuda.device(dev) if cuda else contextlib.nullcontext():
            for target in plan.targets:
                _run_target(target, plan.batches, plan.modes, settings, plan.warmup, plan.min_time, emit, on_start)
    except KeyboardInterrupt:
        raise Interrupted(rows) from None
    finally:
        torch.set_num_threads(threads_before)
        torch.backends.cudnn.benchmark = cudnn_before
    return rows


def bench(models, *, on_row: Callable[[dict], None] | None = None,
          on_start: Callable[[str, int], None] | None = None, **options) -> list[dict]:
    """Time each model's forward pass at each batch size (options: see ``plan``); one row per configuration."""
    return run(plan(models, **options), on_row, on_start)


def _run_target(target: Target, batches: tuple[int, ...], modes: tuple[str, ...], settings: dict,
                warm: engine.Warmup, min_time: float, emit: Callable[[dict], None], on_start) -> None:
    """All batch sizes and modes of one model, built once; failures become rows."""
    model, failure = None, None
    try:
        model, target = _prepare(target, settings, train="train" in modes)
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
    """The model on the device in eval mode (and channels-last), and the target with its MACs.

    A module given by the caller is copied before a training step could change its weights.
    """
    import copy

    import torch

    from netprobe.build import build

    if target.module is not None:
        model = (copy.deepcopy(target.module) if train else target.module).to(settings["device"])
        target = Target(target.name, target.family, target.resolution, _module_macs(model, target.resolution),
                        module=model)
    else:
        model = build(target.net, settings["device"])
    model.eval()
    if settings["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    return model, target


def _module_macs(model, resolution: int) -> int | None:
    """MACs per image counted by hooks; None where some ops could not be counted."""
    from netprobe.analysis.measure import measure
    from netprobe.counts import total

    try:
        measured = measure(model, (resolution, resolution))
    except Exception:  # noqa: BLE001 - a model that fails here fails again, and is reported, when timed
        return None
    return None if measured.unsupported else total(layer.counts for layer in measured.layers).macs


def _time_one(model, target: Target, batch: int, mode: str, settings: dict, warm: engine.Warmup, min_time: float):
    """Timing and peak memory of one (model, batch, mode) configuration."""
    import torch

    dev, cuda = settings["device"], settings["device"].startswith("cuda")
    peak = PeakMemory(dev, model)
    peak.start()
    x = torch.randn(batch, target.in_channels, target.resolution, target.resolution, device=dev)
    if settings["channels_last"]:
        x = x.contiguous(memory_format=torch.channels_last)
    fn = model
    if settings["compile"]:
        torch._dynamo.reset()  # a fresh compile per configuration: honest compile_s, no recompile limit
        fn = torch.compile(model, dynamic=False)
    if mode == "train":
        model.train()
        try:
            step = train_step(fn, x, dev, settings["dtype"], sgd(model))
            timing = engine.time_config(step, cuda=cuda, warmup=warm, min_time=min_time, compile=settings["compile"])
        finally:
            model.zero_grad(set_to_none=True)
            model.eval()
        return timing, peak.peak_bytes()
    with torch.inference_mode(), autocast(dev, settings["dtype"]):
        timing = engine.time_config(lambda: fn(x), cuda=cuda, warmup=warm, min_time=min_time,
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
           "resolution": target.resolution, **settings, "status": status, "error": error}
    stats = summarize(timing.samples_ms) if timing else None
    for col in ("median_ms", "p10_ms", "p90_ms", "iqr_ms", "samples"):
        row[col] = getattr(stats, col) if stats else None
    row["warmup_iters"] = timing.warmup_iters if timing else None
    ok = stats is not None and stats.median_ms > 0
    row["imgs_per_s"] = batch / (stats.median_ms / 1e3) if ok else None
    row["macs"] = target.macs
    # achieved FLOP/s counts 2 FLOPs per MAC (a multiply and an add), per pass over the layers (PASSES)
    flops = 2 * target.macs * batch * PASSES[mode] if target.macs else None
    row["achieved_tflops"] = flops / (stats.median_ms / 1e3) / 1e12 if ok and flops else None
    row["peak_mem_bytes"] = peak
    row["compile_s"] = timing.compile_s if timing else None
    row["timestamp"] = timestamp()
    return row
