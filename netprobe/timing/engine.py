"""The timing loop: warm-up until steady, then per-iteration samples (CUDA events on a GPU).

On CPU each iteration is timed with ``perf_counter``. On CUDA, CUDA events are recorded
around each iteration and the host synchronizes once per batch of events, after it, so
launches queue ahead as they would in a serving loop; the number of iterations that fills
a stretch of time is estimated from the iterations before (the synchronized warm-up first).

Sampling is adaptive: after ``min_time`` (always a minimum) it goes on until the median's
95% interval (``stats.median_ci``, order statistics) is within CI_TARGET of the median, or
until CAP_FACTOR x ``min_time`` has passed. The process's CPU time over the sampling is
kept beside its wall time, so a row can say when the loop waited for a core (``trust``).

On CPU an iteration's sample is its wall time less the time its thread waited for a CPU, or,
where the OS keeps no such wait, an iteration the OS preempted is marked (``preempt``): beside
other processes a wall time is the network's plus scheduler slices, and the median of wall
times jumps between modes from run to run. The statistics are over the unmarked iterations
(``kept``) where enough are; the rows say what share was marked.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from time import perf_counter
from typing import Callable

from netprobe.errors import NetprobeError
from netprobe.timing import preempt
from netprobe.timing.stats import median_ci
from netprobe.timing.trust import PREEMPTED_LIMIT, CpuClock

STEADY_WINDOW = 3  # warm-up is steady when two consecutive windows of iterations ...
STEADY_TOLERANCE = 0.05  # ... have medians within 5% of each other
STEADY_CAP_S = 1.0  # or after this long (the first call, often slow, not counted)
MIN_SAMPLES = 5  # spread needs a few samples even when one iteration outlasts min_time
MAX_CUDA_SAMPLES = 50_000
CI_TARGET = 0.02  # sample on until the median's 95% interval is within +-2% of it ...
CAP_FACTOR = 4  # ... or until this many times min_time has passed
CHECK_GROWTH = 1.1  # the interval is recomputed each time the samples grow by 10% (a sort each time)
KEPT_MIN_SHARE = 1 - PREEMPTED_LIMIT  # the preempted iterations are left out only while this share were not


@dataclass(frozen=True)
class Warmup:
    """Warm-up length: ``iters`` iterations, ``seconds`` of running, or (neither) until steady."""

    iters: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Timing:
    """Per-iteration samples of one configuration, and what came before them."""

    samples_ms: list[float]
    warmup_iters: int
    compile_s: float | None = None
    cpu_s: float = 0.0  # CPU time the process got while sampling (all its threads)
    wall_s: float = 0.0  # wall time of the sampling
    preempted: tuple[bool, ...] = ()  # per sample: the OS preempted the process during it (where marked)
    cpu_wait_ms: float | None = None  # the timing thread's waits for a CPU, subtracted from the samples (CPU only)

    def __post_init__(self):
        if self.preempted and len(self.preempted) != len(self.samples_ms):
            raise ValueError(f"{len(self.preempted)} preemption marks for {len(self.samples_ms)} samples")

    @property
    def kept(self) -> list[float]:
        """The samples the statistics are over: see ``kept``."""
        return kept(self.samples_ms, self.preempted)

    @property
    def preempted_share(self) -> float | None:
        """The share of iterations marked; None where none are (CUDA, Linux: see ``preempt``)."""
        return sum(self.preempted) / len(self.preempted) if self.preempted else None

    @property
    def cpu_wait_per_iter_ms(self) -> float | None:
        """The wait for a CPU subtracted from each iteration, on average; None where unread (CUDA, no schedstat)."""
        return self.cpu_wait_ms / len(self.samples_ms) if self.cpu_wait_ms is not None and self.samples_ms else None


def kept(samples: list, preempted) -> list:
    """The samples (times, or whatever stands for one iteration) of the iterations that kept their CPUs, where at
    least MIN_SAMPLES and KEPT_MIN_SHARE of all did; else all of them (too few undisturbed ones to stand for
    the network)."""
    if not any(preempted):
        return samples
    keeper = Keeper()
    for sample, lost in zip(samples, preempted):
        keeper.add(sample, lost)
    return keeper.kept()


class Keeper:
    """Samples and their marks, grown one at a time, with what ``kept`` keeps of them at hand (a loop that asked
    ``kept`` at every iteration would take time quadratic in its samples)."""

    def __init__(self):
        self.every: list = []
        self.lost: list[bool] = []
        self.undisturbed: list = []

    def add(self, sample, lost: bool) -> None:
        self.every.append(sample)
        self.lost.append(lost)
        if not lost:
            self.undisturbed.append(sample)

    def kept(self) -> list:
        enough = len(self.undisturbed) >= max(MIN_SAMPLES, KEPT_MIN_SHARE * len(self.every))
        return self.undisturbed if enough else self.every


def ci_within(samples_ms: list[float], target: float) -> bool:
    """Whether the median's interval lies within +-``target`` (a fraction) of the median."""
    lo, hi = median_ci(samples_ms)
    mid = statistics.median(samples_ms)
    return mid > 0 and max(mid - lo, hi - mid) <= target * mid


def parse_warmup(value) -> Warmup:
    """``None``/``"steady"``: until steady; ``10``: iterations; ``0.5``, ``"2s"``: seconds."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("steady", "auto", "")):
        return Warmup()
    text = str(value).strip().lower()
    if isinstance(value, bool):
        text = "invalid"
    if re.fullmatch(r"\d+", text) and not isinstance(value, float):
        if int(text) >= 1:
            return Warmup(iters=int(text))
    elif re.fullmatch(r"(\d+\.?\d*|\.\d+)s?", text):
        if float(text.rstrip("s")) > 0:
            return Warmup(seconds=float(text.rstrip("s")))
    raise NetprobeError(f"warm-up '{value}' is not valid; give iterations (at least 1, e.g. 10), "
                        "seconds (e.g. 0.5 or 2s) or 'steady'")


def _timed_call(call: Callable[[], object], cuda: bool) -> float:
    """One synchronized call, in ms (warm-up and compile only; samples are not taken this way)."""
    if cuda:
        import torch

        torch.cuda.synchronize()
        t0 = perf_counter()
        call()
        torch.cuda.synchronize()
    else:
        t0 = perf_counter()
        call()
    return (perf_counter() - t0) * 1e3


def is_warm(times_ms: list[float], elapsed_s: float, warmup: Warmup) -> bool:
    """Whether warm-up can stop, given its iteration times so far."""
    if warmup.iters is not None:
        return len(times_ms) >= warmup.iters
    if warmup.seconds is not None:
        return elapsed_s >= warmup.seconds
    if len(times_ms) >= 2 and elapsed_s - times_ms[0] / 1e3 >= STEADY_CAP_S:
        return True
    if len(times_ms) < 2 * STEADY_WINDOW:
        return False
    last = statistics.median(times_ms[-STEADY_WINDOW:])
    before = statistics.median(times_ms[-2 * STEADY_WINDOW:-STEADY_WINDOW])
    return abs(last - before) <= STEADY_TOLERANCE * last


def warm_up(call: Callable[[], object], cuda: bool, warmup: Warmup) -> list[float]:
    """Run until warm; returns each warm-up iteration's time in ms."""
    times: list[float] = []
    start = perf_counter()
    while True:
        times.append(_timed_call(call, cuda))
        if is_warm(times, perf_counter() - start, warmup):
            return times


def stop_rule(min_time: float, target: float | None = None,
              cap_s: float | None = None) -> Callable[[list[float], float], bool]:
    """Whether sampling stops, given (samples so far in ms, seconds of sampling): after ``min_time`` and
    MIN_SAMPLES, and then, given a ``target``, once the median's interval is within it or ``cap_s`` has passed."""
    check = MIN_SAMPLES

    def done(samples_ms: list[float], elapsed_s: float) -> bool:
        nonlocal check
        if elapsed_s < min_time or len(samples_ms) < MIN_SAMPLES:
            return False
        if target is None or elapsed_s >= (cap_s or 0.0):
            return True
        if len(samples_ms) < check:
            return False
        check = math.ceil(len(samples_ms) * CHECK_GROWTH)
        return ci_within(samples_ms, target)
    return done


def cpu_samples(call: Callable[[], object], min_time: float, target: float | None = None,
                cap_s: float | None = None) -> tuple[list[float], list[bool], float | None]:
    """(per-iteration times in ms, whether each is marked (empty where nothing is), the waits subtracted in ms
    or None where unread) until ``stop_rule`` says enough of the samples ``kept``. A time is the span between
    two ``preempt.Watch.stamp`` readings, on the clock less the thread's waits for a CPU; where those are
    unread, an iteration the OS preempted is marked (``preempt``)."""
    keeper = Keeper()
    total = 0.0
    done = stop_rule(min_time, target, cap_s)
    watch = preempt.Watch()
    try:
        start = perf_counter()
        while True:
            taken = watch.switches()
            wall0, ran0 = watch.stamp()
            call()
            wall1, ran1 = watch.stamp()
            keeper.add((ran1 - ran0) * 1e3, watch.switches() != taken)
            total += (wall1 - ran1 - wall0 + ran0) * 1e3
            if done(keeper.kept(), wall1 - start):
                return keeper.every, keeper.lost if watch.counts else [], total if watch.corrects else None
    finally:
        watch.close()


def cuda_samples(call: Callable[[], object], iters: int) -> list[float]:
    """Per-iteration device times (ms) from CUDA events; one synchronize, after the loop."""
    import torch

    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for start, end in zip(starts, ends):
        start.record()
        call()
        end.record()
    torch.cuda.synchronize()
    return [start.elapsed_time(end) for start, end in zip(starts, ends)]


def cuda_iters(warmup_ms: list[float], min_time: float) -> int:
    """How many iterations fill ``min_time``, judged by the last warm-up iterations."""
    estimate_ms = max(statistics.median(warmup_ms[-STEADY_WINDOW:]), 1e-3)
    return min(max(MIN_SAMPLES, math.ceil(min_time * 1e3 / estimate_ms)), MAX_CUDA_SAMPLES)


def sample(call: Callable[[], object], cuda: bool, seconds: float, estimate_ms: list[float],
           target: float | None = None, cap_s: float | None = None) -> tuple[list[float], list[bool], float | None,
                                                                             float, float]:
    """(samples in ms, whether each is marked, the waits subtracted in ms (``cpu_samples``; on CUDA none and
    None), CPU seconds, wall seconds) of ``seconds`` of sampling (adaptive given a ``target``).

    On CUDA ``estimate_ms`` (recent iteration times) sets the iteration count of each batch of events.
    """
    clock = CpuClock()
    if not cuda:
        samples, lost, waited = cpu_samples(call, seconds, target, cap_s)
    else:
        samples, lost, waited = cuda_samples(call, cuda_iters(estimate_ms, seconds)), [], None
        while target is not None and clock.read()[1] < (cap_s or 0.0) and not ci_within(samples, target):
            samples += cuda_samples(call, cuda_iters(samples, seconds / 2))
    return (samples, lost, waited, *clock.read())


def more(call: Callable[[], object], cuda: bool, timing: Timing, seconds: float) -> Timing:
    """``timing`` with ``seconds`` more samples (a round of an interleaved sweep, see ``schedule``)."""
    samples, lost, waited, cpu_s, wall_s = sample(call, cuda, seconds, timing.kept)
    total = None if waited is None or timing.cpu_wait_ms is None else timing.cpu_wait_ms + waited
    marks = () if not (timing.preempted or lost) else (  # a round unmarked beside a marked one: none lost there
        (timing.preempted or (False,) * len(timing.samples_ms)) + tuple(lost or (False,) * len(samples)))
    return Timing(timing.samples_ms + samples, timing.warmup_iters, timing.compile_s, timing.cpu_s + cpu_s,
                  timing.wall_s + wall_s, marks, total)


def time_config(call: Callable[[], object], *, cuda: bool, warmup: Warmup, min_time: float,
                compile: bool = False, target: float | None = CI_TARGET) -> Timing:
    """Warm up, then sample (adaptively, unless ``target`` is None); when compiling, the first call is
    timed apart as compile time."""
    compile_s = _timed_call(call, cuda) / 1e3 if compile else None
    warm = warm_up(call, cuda, warmup)
    samples, lost, waited, cpu_s, wall_s = sample(call, cuda, min_time, warm, target, CAP_FACTOR * min_time)
    return Timing(samples, len(warm), compile_s, cpu_s, wall_s, tuple(lost), waited)
