"""``profile()``: where a model's time goes, stage by stage (or block by block), on the machine's own roofline.

The stages, MACs and activations are ``summary``'s. Each unit's time comes from marks at
unit boundaries (see ``boundaries``); marked passes alternate with unmarked ones, whose
median is the whole-pass time, so the two can be compared in one run; pairs are taken for at
least ``min_time`` and then, as bench samples, until that median's 95% interval (in the JSON) is
within ``engine.CI_TARGET`` or the cap (``boundaries.sample``). Bytes moved by a
unit are the inputs and outputs of its layers plus its weights, at the dtype; intensity is
FLOPs (2 per MAC) over those bytes; the roofline (``roofline``) says which roof bounds it.

In training each unit's time is split into its forward and its backward (``boundaries``),
beside its forward MACs and its backward MACs (``analysis.train``: the gradients of inputs
and weights), and the whole step's unmarked samples into its forward and backward too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from netprobe.analysis.result import NO_NEW_TENSOR
from netprobe.analysis.summary import summary
from netprobe.dtypes import DTYPE_BYTES
from netprobe.errors import NetprobeError
from netprobe.models.inputs import example_inputs, parse
from netprobe.models.materialize import materialize
from netprobe.models.resolve import resolve
from netprobe.timing import boundaries, engine, roofline, runtime, trust
from netprobe.timing.bench import DEFAULT_MIN_TIME, failure_of, positive
from netprobe.timing.context import machine_context, parse_device, parse_dtype, timestamp
from netprobe.timing.memory import PeakMemory
from netprobe.timing.modes import PASSES, autocast, parse_modes, train_error, train_step
from netprobe.timing.profile_units import Unit, backward_macs, units_of
from netprobe.timing.roofline import Roof
from netprobe.timing.stats import median_ci, summarize

DEPTHS = {1: "stages", 2: "blocks"}
JSON_KEYS = ["model", "device", "dtype", "batch", "resolution", "mode", "median_ms", "ci_low_ms", "ci_high_ms",
             "forward_ms", "backward_ms", "peak_gflops", "bandwidth_gbs",
             "intensity", "stable", "unstable_reason", "load_avg", "cpus", "cpu_share", "preempted_share",
             "roof_source", "roof_measured_at", "roof_load_avg", "stages"]
STAGE_KEYS = ["name", "median_ms", "forward_ms", "backward_ms", "time_pct", "macs", "backward_macs", "macs_pct",
              "acts_pct", "achieved_gflops", "bytes", "intensity", "bound", "roof_pct"]
PROFILE_COLUMNS = [
    "model", "family", "name", "stage", "batch", "mode", "resolution", "dtype", "device", "threads",
    "median_ms", "p10_ms", "p90_ms", "forward_ms", "backward_ms", "time_pct", "macs", "backward_macs", "macs_pct", "acts",
    "acts_pct", "achieved_gflops", "bytes", "intensity", "bound", "roof_pct", "whole_ms", "whole_forward_ms",
    "whole_backward_ms", "stage_sum_ms", "stable", "unstable_reason", "load_avg", "cpus", "cpu_share",
    "preempted_share", "peak_gflops", "bandwidth_gbs", "roof_source", "roof_measured_at", "roof_load_avg",
    "peak_mem_bytes", "timing", "device_name", "torch_version", "cuda_version", "cudnn_version", "netprobe_version",
    "timestamp",
]
METHOD = {
    "cpu": "perf_counter at every entry to a stage, alternated with unmarked passes",
    "cpu_waits_off": "perf_counter less the waits for a CPU at every entry to a stage, alternated with unmarked passes",
    "cuda": "CUDA events at stage entries (one sync), alternated with unmarked passes",
}
TRAIN_METHOD = "; backward: at the loss, then where each stage's input gradient is whole"


@dataclass(frozen=True)
class Profile:
    """One model's profile: the whole pass, its units, the roofline it ran under, and the context."""

    model: str
    family: str | None
    device: str
    dtype: str
    batch: int
    resolution: int
    mode: str
    threads: int
    whole_ms: tuple[float, ...]
    units: tuple[Unit, ...]
    roof: Roof
    peak_mem_bytes: int | None
    context: dict
    timestamp: str
    cpu_share: float | None = None  # CPU time over wall x threads while sampling (None on CUDA)
    load_avg: float | None = None  # when the samples were taken
    cpus: int = 1  # usable CPUs
    roof_source: str = "cached"  # see roofline.lookup, or "remeasured: a stage beat the cached roof"
    whole_backward_ms: tuple[float, ...] = ()  # training: the backward of each unmarked step (the rest is forward)
    preempted_share: float | None = None  # pairs of iterations that lost a CPU mid-way, left out (None on CUDA)
    waits_off: bool = False  # the CPU marks read the clock less the timing thread's waits for a CPU (preempt)

    @property
    def verdict(self) -> trust.Verdict:
        """Whether the whole-pass samples and the machine they ran on can be trusted (``trust.judge``)."""
        stats = summarize(list(self.whole_ms))
        return trust.judge(median_ms=stats.median_ms, iqr_ms=stats.iqr_ms, threads=self.threads, cpus=self.cpus,
                           load_avg=self.load_avg, cpu_share=self.cpu_share, preempted_share=self.preempted_share)

    def trust_fields(self) -> dict:
        """The trust and roof-provenance keys of the JSON and of every row."""
        verdict = self.verdict
        return {"stable": verdict.stable, "unstable_reason": verdict.reason, "load_avg": self.load_avg,
                "cpus": self.cpus, "cpu_share": self.cpu_share, "preempted_share": self.preempted_share,
                "roof_source": self.roof_source,
                "roof_measured_at": self.roof.measured_at, "roof_load_avg": self.roof.load_avg}

    def beats_roof(self) -> bool:
        """Whether some unit did more FLOP/s than the peak: then the roof is wrong, not the unit.

        A memory-bound unit above the copy bandwidth is not counted: its tensors can stay in cache.
        """
        return any((self.metrics(u)["achieved_gflops"] or 0) > self.roof.peak_gflops for u in self.units)

    @property
    def median_ms(self) -> float:
        """Median of the unmarked passes: the whole forward (or forward and backward) pass."""
        return summarize(list(self.whole_ms)).median_ms

    @property
    def stage_sum_ms(self) -> float:
        return sum(u.median_ms for u in self.units)

    @property
    def forward_ms(self) -> float | None:
        """Median forward (and loss) of the unmarked training steps; None in inference."""
        if not self.whole_backward_ms:
            return None
        return summarize([w - b for w, b in zip(self.whole_ms, self.whole_backward_ms)]).median_ms

    @property
    def backward_ms(self) -> float | None:
        return summarize(list(self.whole_backward_ms)).median_ms if self.whole_backward_ms else None

    def phase_sums_ms(self) -> tuple[float, float] | None:
        """The units' forward medians summed, and their backward medians; None in inference."""
        if self.forward_ms is None:
            return None
        return sum(u.forward_ms or 0.0 for u in self.units), sum(u.backward_ms or 0.0 for u in self.units)

    @property
    def method(self) -> str:
        clock = "cuda" if self.device.startswith("cuda") else "cpu_waits_off" if self.waits_off else "cpu"
        return METHOD[clock] + (TRAIN_METHOD * (self.mode == "train"))

    @property
    def intensity(self) -> float | None:
        moved = sum(u.bytes for u in self.units)
        return 2 * sum(u.macs for u in self.units) / moved if moved else None

    def metrics(self, unit: Unit) -> dict:
        """The derived figures of one unit (keys of STAGE_KEYS and a few more)."""
        passes, median = PASSES[self.mode], unit.median_ms
        moved = unit.bytes * passes
        # 2 FLOPs per MAC; in training the counted backward where there is one, else two more forwards
        flops = 2 * (unit.macs * passes if unit.backward_macs is None else unit.macs + unit.backward_macs)
        intensity = flops / moved if moved else None
        bound = self.roof.bound(intensity) if intensity is not None else None
        if median <= 0 or bound is None:  # nothing timed, or nothing moved (dropout, identity)
            achieved, pct = None, None
        else:
            seconds = median / 1e3
            achieved = flops / seconds / 1e9
            # the memory roof in bytes per second, so that a unit of no FLOPs (a pool) has a figure too
            pct = 100 * (achieved / self.roof.peak_gflops if bound == "compute"
                         else moved / seconds / 1e9 / self.roof.bandwidth_gbs)
        total_macs, total_acts = sum(u.macs for u in self.units), sum(u.acts for u in self.units)
        share = 100 * median / self.stage_sum_ms if self.stage_sum_ms else 0.0
        return {"name": unit.name, "median_ms": median, "forward_ms": unit.forward_ms, "backward_ms": unit.backward_ms,
                "time_pct": share, "macs": unit.macs, "backward_macs": unit.backward_macs,
                "macs_pct": 100 * unit.macs / total_macs if total_macs else 0.0,
                "acts_pct": 100 * unit.acts / total_acts if total_acts else 0.0,
                "achieved_gflops": achieved, "bytes": moved, "intensity": intensity, "bound": bound, "roof_pct": pct}

    def to_json(self) -> dict:
        """The fixed JSON schema (JSON_KEYS, the interval the whole pass's median's; each stage STAGE_KEYS)."""
        top = {"model": self.model, "device": self.device, "dtype": self.dtype, "batch": self.batch,
               "resolution": self.resolution, "mode": self.mode, "median_ms": self.median_ms,
               **dict(zip(("ci_low_ms", "ci_high_ms"), median_ci(list(self.whole_ms)))),
               "forward_ms": self.forward_ms, "backward_ms": self.backward_ms,
               "peak_gflops": self.roof.peak_gflops, "bandwidth_gbs": self.roof.bandwidth_gbs,
               "intensity": self.intensity, **self.trust_fields(),
               "stages": [{k: self.metrics(u)[k] for k in STAGE_KEYS} for u in self.units]}
        return {k: top[k] for k in JSON_KEYS}

    def records(self) -> list[dict]:
        """One flat row per unit, columns PROFILE_COLUMNS (the CSV and the DataFrame)."""
        rows = []
        for u in self.units:
            stats = summarize(list(u.samples_ms))
            row = {**self.context, **self.metrics(u), "model": self.model, "family": self.family, "stage": u.stage,
                   "batch": self.batch, "mode": self.mode, "resolution": self.resolution, "dtype": self.dtype,
                   "device": self.device, "threads": self.threads, "p10_ms": stats.p10_ms, "p90_ms": stats.p90_ms,
                   "macs": u.macs, "acts": u.acts, "whole_ms": self.median_ms, "stage_sum_ms": self.stage_sum_ms,
                   "whole_forward_ms": self.forward_ms, "whole_backward_ms": self.backward_ms,
                   "peak_gflops": self.roof.peak_gflops, "bandwidth_gbs": self.roof.bandwidth_gbs,
                   **self.trust_fields(), "peak_mem_bytes": self.peak_mem_bytes,
                   "timing": self.method, "timestamp": self.timestamp}
            rows.append({c: row.get(c) for c in PROFILE_COLUMNS})
        return rows


def parse_depth(depth) -> int:
    text = str(depth).strip()
    if not text.isdigit() or int(text) not in DEPTHS:
        raise NetprobeError(f"depth '{depth}' is not valid; use 1 (stages) or 2 (blocks)")
    return int(text)


def profile(model, *, device="cpu", batch=1, resolution=None, input_size=None, output_stride=None, dtype="fp32",
            mode="infer", depth=1, threads=None, warmup=None, min_time=None, remeasure_roof=False,
            inputs=None) -> Profile:
    """Profile any model on any inputs ``summary`` accepts; NetprobeError for bad input, before anything is built.

    The roofline comes from the cache unless ``remeasure_roof`` (or nothing is cached for this context);
    a cached roof that some unit beats is measured again (``roof_source`` says which was used).
    """
    given = parse(input_size, inputs)
    dev = parse_device(device)
    dtype = parse_dtype(dtype, dev)
    modes = parse_modes(mode)
    if len(modes) != 1:
        raise NetprobeError(f"profile takes one mode, got '{mode}'; use infer or train")
    depth = parse_depth(depth)
    batch = positive("batch", batch, hint="; use e.g. 8")
    threads = positive("threads", threads, hint="; use e.g. 4")
    warm = engine.parse_warmup(warmup)
    min_time = positive("min-time", min_time, float, " (seconds); use e.g. 1") or DEFAULT_MIN_TIME
    source = resolve(model, positive("output-stride", output_stride, hint="; use 8 or 16"))
    s = summary(source, resolution, batch, dtype, inputs=given)
    groups = units_of(s, depth)
    backward = backward_macs(source, s, groups) if modes[0] == "train" else None
    with runtime.configured(dev, threads):
        ceiling, where = roofline.lookup(dev, dtype, refresh=remeasure_roof)
        try:
            module = materialize(source, dev, "train" if modes[0] == "train" else "time").module
            result = replace(_run(s, groups, backward, module, ceiling, dev, dtype, modes[0], warm, min_time),
                             roof_source=where)
            if where == "cached" and result.beats_roof():
                fresh, where = roofline.lookup(dev, dtype, refresh=True)
                result = replace(result, roof=fresh, roof_source=f"remeasured: a stage beat the cached roof ({where})")
            return result
        except NetprobeError:
            raise
        except Exception as e:  # noqa: BLE001 - a model failing (or out of memory) is said as bench's row says it
            if train_error(e):
                raise train_error(e) from e
            status, error = failure_of(e)
            raise ModelFailed(f"{s.model} batch {s.batch} {modes[0]}: {status}: {error}") from e


class ModelFailed(NetprobeError):
    """The model itself failed (or ran out of memory) while it was profiled."""

    exit_code = 1  # the options were fine; the model or the machine was not


def _run(s, groups, backward: dict[str, int] | None, model, ceiling: Roof, dev: str, dtype: str, mode: str,
         warm: engine.Warmup, min_time: float) -> Profile:
    import torch

    unit_of = {layer.name: name for (name, _), layers in groups.items() for layer in layers}
    peak = PeakMemory(dev, model)
    peak.start()
    args, kwargs = example_inputs(model, s.inputs, s.batch, dev)
    model.train(mode == "train")
    with torch.set_grad_enabled(mode == "train"), autocast(dev, dtype):  # training: which inputs need a gradient
        lay = boundaries.layout(model, lambda: model(*args, **kwargs), unit_of)
    marks, handles = boundaries.Marks(dev.startswith("cuda")), []
    clock = trust.CpuClock()  # over warm-up and sampling: boundaries.sample takes both
    try:
        step = train_step(model, (args, kwargs), dev, dtype, between=marks.backward) if mode == "train" else None
        if step is not None and lay.beside:  # branches: each backward marked where autograd starts it
            lay = replace(lay, back_starts=boundaries.backward_starts(model, step, unit_of))
        handles = boundaries.attach(model, lay, marks)
        if step is not None:
            times = boundaries.sample(step, lay, marks, warm, min_time)
        else:
            with torch.inference_mode(), autocast(dev, dtype):
                times = boundaries.sample(lambda: model(*args, **kwargs), lay, marks, warm, min_time)
    finally:
        for h in handles:
            h.remove()
        waits_off = marks.watch is not None and marks.watch.corrects
        marks.close()
        model.zero_grad(set_to_none=True)
        model.eval()
    cpu_s, wall_s = clock.read()
    size = DTYPE_BYTES[dtype]
    units = []
    for (name, stage), layers in groups.items():
        moved = sum(lay.numel.get(layer.name, 0) for layer in layers if layer.op not in NO_NEW_TENSOR)
        params = sum(layer.counts.params for layer in layers)
        units.append(Unit(name, stage, sum(layer.counts.macs for layer in layers) * s.batch,
                          sum(layer.counts.acts for layer in layers) * s.batch, (moved + params) * size,
                          tuple(times.unit_ms.get(name, ())), tuple(times.unit_forward_ms.get(name, ())),
                          tuple(times.unit_backward_ms.get(name, ())), None if backward is None else backward[name]))
    context = {k: v for k, v in machine_context(dev).items() if k in PROFILE_COLUMNS}
    threads = torch.get_num_threads()
    share = None if dev.startswith("cuda") else trust.cpu_share(cpu_s, wall_s, threads)
    return Profile(s.model, s.family, dev, dtype, s.batch, s.resolution, mode, threads,
                   tuple(times.whole_ms), tuple(units), ceiling, peak.peak_bytes(), context, timestamp(),
                   share, trust.load_avg(), trust.cpus(), whole_backward_ms=tuple(times.whole_backward_ms),
                   preempted_share=times.preempted_share, waits_off=waits_off)
