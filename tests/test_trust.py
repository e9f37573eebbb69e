"""Timings a user can trust: the verdict's rules, the median's interval, adaptive and interleaved sampling,
identical networks timed once, and a row measured beside busy processes marked unstable."""

import os
import subprocess
import sys
import time

import pytest
from torch import nn
from typer.testing import CliRunner

from netprobe.timing import engine, preempt, schedule, trust
from netprobe.timing.bench import BENCH_COLUMNS, bench
from netprobe.timing.engine import Timing
from netprobe.timing.stats import median_ci

FAST = dict(warmup=2, min_time=0.05, threads=1)
QUIET = dict(median_ms=10.0, iqr_ms=0.3, threads=2, cpus=4, load_avg=1.2, cpu_share=0.97)


# the verdict, from synthetic numbers ---------------------------------------------

def test_a_quiet_run_is_not_flagged():
    assert trust.judge(**QUIET) == trust.Verdict(True)
    assert trust.judge(**{**QUIET, "load_avg": None, "cpu_share": None}).stable  # no load average, CUDA


@pytest.mark.parametrize("change, words, advice", [
    (dict(iqr_ms=2.0), "IQR 20% of the median", "a larger --batch"),
    (dict(load_avg=6.0), "load average 6.0 on 4 usable CPUs", "a quieter machine"),
    (dict(threads=8), "8 threads on 4 usable CPUs (oversubscribed)", "--threads 4 or fewer"),
    (dict(cpu_share=0.45), "the process got 45% of the CPU time of its 2 thread(s)", "fewer threads"),
    (dict(preempted_share=0.9), "90% of iterations lost a CPU mid-way", "a quieter machine"),
])
def test_each_rule_says_what_was_wrong_and_what_to_do(change, words, advice):
    verdict = trust.judge(**{**QUIET, **change})
    assert not verdict.stable and words in verdict.reason and advice in verdict.advice


def test_the_thresholds_are_where_they_are_said_to_be():
    at = dict(QUIET, iqr_ms=QUIET["median_ms"] * trust.SPREAD_LIMIT, load_avg=QUIET["cpus"] + trust.LOAD_SLACK,
              cpu_share=trust.CPU_SHARE_MIN, threads=QUIET["cpus"], preempted_share=trust.PREEMPTED_LIMIT)
    assert trust.judge(**at).stable  # each limit itself passes; just beyond it fails
    assert not trust.judge(**dict(at, iqr_ms=at["iqr_ms"] * 1.01)).stable
    assert not trust.judge(**dict(at, preempted_share=at["preempted_share"] + 0.01)).stable
    assert not trust.judge(**dict(at, load_avg=at["load_avg"] + 0.01)).stable
    assert not trust.judge(**dict(at, cpu_share=at["cpu_share"] - 0.01)).stable


def test_several_reasons_make_one_warning_line():
    bad = trust.judge(**{**QUIET, "iqr_ms": 5.0, "load_avg": 9.0})
    line = trust.warning([("a batch 1", trust.Verdict(True)), ("b batch 8", bad)])
    assert line.startswith("warning: 1 of 2 timings are not stable (b batch 8: load average 9.0")
    assert "a quieter machine" in line and "a larger --batch" in line and "\n" not in line
    assert trust.warning([("a", trust.Verdict(True))]) is None


# iterations that lost a CPU ---------------------------------------------------------

def test_the_statistics_leave_out_the_iterations_that_lost_a_cpu_while_enough_are_left():
    samples = [5.0, 9.0, 5.1, 9.2, 5.2, 4.9, 5.0, 9.1, 5.1, 5.0]
    lost = [s > 8 for s in samples]
    timing = Timing(samples, 0, preempted=tuple(lost))
    assert timing.kept == [5.0, 5.1, 5.2, 4.9, 5.0, 5.1, 5.0] and timing.preempted_share == 0.3
    assert engine.kept(samples, [False] * 10) == samples
    assert engine.kept(samples, [True] * 9 + [False]) == samples  # one left: too few to stand for the network
    assert engine.kept(samples[:6], [True, True] + [False] * 4) == samples[:6]  # 4 left: fewer than MIN_SAMPLES
    assert engine.kept(samples[:6], [True] + [False] * 5) == samples[1:6]
    assert Timing(samples, 0).preempted_share is None and Timing(samples, 0).kept == samples  # CUDA: not recorded


class EveryThirdPreempted:
    """A call that takes 1 ms, and 30 ms every third time, when a fake OS counts a preemption."""

    def __init__(self):
        self.calls = self.switches = 0

    def __call__(self):
        self.calls += 1
        if self.calls % 3 == 0:
            self.switches += 1
            time.sleep(0.03)
        else:
            time.sleep(0.001)


class FakeWatch:
    """The OS as ``preempt.Watch`` reads it, for a call: no waits of its own, its other threads' CPUs taken."""

    corrects, counts = False, True

    def __init__(self, call):
        self.call = call

    def stamp(self):
        now = time.perf_counter()
        return now, now

    def switches(self):
        return self.call.switches

    def close(self):
        pass


class WaitingWatch(FakeWatch):
    """The OS as a ``preempt.Watch`` that reads waits sees it: every third call sleeps 29 ms more, all of it said
    to be a wait for a CPU, and nothing is marked."""

    corrects, counts = True, False

    def stamp(self):
        now = time.perf_counter()
        return now, now - 0.029 * self.call.switches

    def switches(self):
        return 0


def test_a_timing_keeps_the_iterations_in_which_no_other_thread_lost_its_cpu(monkeypatch):
    call = EveryThirdPreempted()
    monkeypatch.setattr(preempt, "Watch", lambda: FakeWatch(call))
    timing = engine.time_config(call, cuda=False, warmup=engine.Warmup(iters=3), min_time=0.3, target=None)
    assert abs(timing.preempted_share - 1 / 3) < 0.05 and len(timing.kept) < len(timing.samples_ms)
    assert max(timing.kept) < 15.0 < 30.0 <= min(s for s, lost in zip(timing.samples_ms, timing.preempted) if lost)


def test_the_timing_threads_own_wait_for_a_cpu_is_subtracted(monkeypatch):
    call = EveryThirdPreempted()
    monkeypatch.setattr(preempt, "Watch", lambda: WaitingWatch(call))
    samples, lost, waited = engine.cpu_samples(call, min_time=0.3)
    assert lost == [] and max(samples) < 15.0  # 1 ms and 30 ms sleeps, less 29 ms for the latter: all about 1 ms
    assert waited == pytest.approx(29.0 * call.switches) and waited > 0  # the waits subtracted, all of them


def test_a_profile_leaves_out_the_pairs_that_lost_a_cpu(monkeypatch):
    from netprobe.timing import boundaries

    call = EveryThirdPreempted()
    monkeypatch.setattr(preempt, "Watch", lambda: FakeWatch(call))  # no waits read, one thread: pairs are marked
    lay = boundaries.Layout(("a",), {"x": "a"}, {})
    marks = boundaries.Marks(False)
    times = boundaries.sample(call, lay, marks, engine.Warmup(iters=3), 0.6, None)
    marks.close()
    assert 0.5 < times.preempted_share < 0.8  # two calls a pair: two pairs in three hold a slow one
    assert max(times.whole_ms) < 15.0 and len(times.unit_ms["a"]) == len(times.whole_ms)


def test_a_profiles_marks_are_taken_on_the_clock_less_the_waits(monkeypatch):
    from netprobe.timing import boundaries

    call = EveryThirdPreempted()
    monkeypatch.setattr(preempt, "Watch", lambda: WaitingWatch(call))
    marks = boundaries.Marks(False)
    times = boundaries.sample(call, boundaries.Layout(("a",), {"x": "a"}, {}), marks, engine.Warmup(iters=3), 0.3,
                              None)
    assert times.preempted_share is None and max(times.whole_ms + times.unit_ms["a"]) < 15.0  # all about 1 ms


def test_beside_busy_processes_the_wait_is_subtracted_or_the_iterations_marked():
    def spin():  # 10 ms of CPU work, no sleep: only the OS can take the CPU away
        end = time.thread_time() + 0.01
        while time.thread_time() < end:
            pass

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * trust.cpus())]
    try:
        time.sleep(0.5)
        samples, lost, waited = engine.cpu_samples(spin, min_time=0.5)
        tiny, _, _ = engine.cpu_samples(lambda: None, min_time=0.3)  # spans of microseconds, preempted around
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert min(samples) > 0 and min(tiny) >= 0  # no wait outside a span is taken off it
    watch = preempt.Watch()
    watch.close()
    if watch.corrects:  # two busy processes per CPU: the thread waited for most of the wall time, taken off
        assert waited > 0.25 * (sum(samples) + waited) and lost == []
    elif watch.counts:
        assert len(lost) == len(samples) and any(lost)  # the CPU is taken in turns: iterations are marked


def test_rounds_marked_and_unmarked_keep_one_mark_per_sample(monkeypatch):
    rounds = iter([([1.0] * 5 + [9.0], [False] * 5 + [True], None), ([1.0] * 3, [], None)])
    monkeypatch.setattr(engine, "sample", lambda *args, **kwargs: (*next(rounds), 0.1, 0.1))
    timing = engine.more(None, False, engine.more(None, False, Timing([], 0), 0.1), 0.1)
    assert timing.preempted == (False,) * 5 + (True,) + (False,) * 3 and timing.kept == [1.0] * 8
    with pytest.raises(ValueError, match="2 preemption marks for 3 samples"):
        Timing([1.0, 2.0, 3.0], 0, preempted=(True, False))


# the median's interval and adaptive sampling ----------------------------------------

def test_median_interval_is_binomial_order_statistics():
    assert median_ci(list(range(1, 101))) == (40, 61)  # the textbook 95% ranks for n = 100
    assert median_ci([5.0, 1.0, 3.0, 2.0, 4.0]) == (1.0, 5.0)  # n < 6: no 95% pair, the whole range
    assert median_ci([3.0] * 10) == (3.0, 3.0)
    lo, hi = median_ci([float(x) for x in range(1, 5001)])  # normal approximation beyond 1000
    assert lo < 2500.5 < hi and hi - lo < 200


def test_sampling_goes_on_past_min_time_until_the_interval_or_the_cap():
    start = time.perf_counter()
    loose, _, _ = engine.cpu_samples(lambda: time.sleep(0.002), min_time=0.02, target=10.0, cap_s=5.0)
    assert time.perf_counter() - start < 5.0 and len(loose) >= engine.MIN_SAMPLES  # met at once: no more
    start = time.perf_counter()
    engine.cpu_samples(lambda: time.sleep(0.002), min_time=0.02, target=0.0, cap_s=0.2)
    assert time.perf_counter() - start >= 0.2  # an interval of width 0 is never met: the cap ends it
    row = bench(nn.Conv2d(3, 4, 1), resolution=8, **FAST)[0]
    assert row["ci_low_ms"] <= row["median_ms"] <= row["ci_high_ms"]


# interleaving ------------------------------------------------------------------------

def test_configurations_are_sampled_in_turn():
    order = []

    def pending(name):
        def resume(t, seconds):
            order.append(name)
            return Timing(t.samples_ms + [1.0] * 10, 0, wall_s=t.wall_s + seconds)
        return schedule.Pending(Timing([1.0] * 10, 0), resume, lambda t, n=name: {"model": n, "n": len(t.samples_ms)})

    rows = []
    schedule.sweep([pending("a"), pending("b"), pending("c")], 0.4, rows.append)
    assert order == ["a", "b", "c"] * (schedule.ROUNDS - 1)  # round-robin; identical samples close at once
    assert [r["model"] for r in rows] == ["a", "b", "c"]


def test_a_wide_interval_is_sampled_on_in_turn_until_its_cap():
    order = []

    def pending(name, spread):
        def resume(t, seconds):
            order.append(name)
            k = len(t.samples_ms)
            return Timing(t.samples_ms + [1.0 + spread * ((k + i) % 7) for i in range(10)], 0, wall_s=t.wall_s + seconds)
        return schedule.Pending(Timing([1.0] * 10, 0, wall_s=0.1), resume, lambda t: {"wall": t.wall_s})

    rows = []
    schedule.sweep([pending("narrow", 0.0), pending("wide", 1.0)], 0.4, rows.append)
    rounds = schedule.ROUNDS - 1
    assert order[:2 * rounds] == ["narrow", "wide"] * rounds and set(order[2 * rounds:]) == {"wide"}
    assert rows[1]["wall"] >= engine.CAP_FACTOR * 0.4 > rows[0]["wall"]


def test_identical_networks_are_timed_once(monkeypatch):
    calls = []
    real = engine.time_config
    monkeypatch.setattr(engine, "time_config", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    rows = bench("regnetx_016,regnetx@1.6GF,regnetx_002", resolution=32, **FAST)
    assert [(r["model"], r["same_as"]) for r in rows] == [("regnetx_016", None), ("regnetx@1.6GF", "regnetx_016"),
                                                          ("regnetx_002", None)]
    assert len(calls) == 2  # the second is the first's network, layer for layer: not timed again
    assert rows[1]["median_ms"] == rows[0]["median_ms"] and list(rows[1]) == BENCH_COLUMNS


# a measurement beside busy processes -------------------------------------------------

def test_a_row_timed_beside_busy_processes_is_not_stable():
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * trust.cpus())]
    try:
        time.sleep(0.5)  # let them take the cores
        (row,) = bench(nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 16, 3)), resolution=48, warmup=2,
                       min_time=0.3, threads=1)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert row["status"] == "ok" and row["stable"] is False
    assert row["cpu_share"] < trust.CPU_SHARE_MIN or row["load_avg"] > row["cpus"] + trust.LOAD_SLACK
    assert row["unstable_reason"]


def test_the_bench_table_prints_one_warning_line(monkeypatch):
    from netprobe.cli.app import _register, app

    _register()
    monkeypatch.setattr(trust, "load_avg", lambda: 99.0)
    result = CliRunner().invoke(app, ["bench", "-m", "regnetx_002", "-b", "1,2", "-r", "32", "--warmup", "2",
                                      "--min-time", "0.05", "--threads", "1"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # the one line, as the terminal's width wrapped it
    assert text.count("warning:") == 1 and f"load average 99.0 on {trust.cpus()} usable CPUs" in text
    assert "rerun with a quieter machine" in text


def test_cpus_are_the_usable_ones():
    if hasattr(os, "sched_getaffinity"):
        assert trust.cpus() == len(os.sched_getaffinity(0))
    assert trust.cpu_share(1.0, 1.0, 1) == pytest.approx(1.0)


def test_the_profile_table_says_its_roof_and_warns(monkeypatch, tmp_path):
    from netprobe.cli.app import _register, app

    _register()
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(trust, "load_avg", lambda: 99.0)
    result = CliRunner().invoke(app, ["profile", "regnetx_002", "-r", "32", "--warmup", "2", "--min-time", "0.05",
                                      "--threads", "1"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert text.count("warning:") == 1 and "regnetx_002 whole pass: load average 99.0" in text
    # measured at load 99 on this machine's CPUs: used, said so, and not cached
    assert "measured under load, not cached, measured" in text and "at load average 99 on" in text
    assert not (tmp_path / "roofline.json").exists()


def test_a_slice_that_fails_is_that_configurations_row_and_the_sweep_goes_on():
    def resume(t, seconds):
        raise MemoryError("no room")

    good = schedule.Pending(Timing([1.0] * 10, 0), lambda t, s: Timing(t.samples_ms + [1.0], 0), lambda t: {"ok": 1})
    bad = schedule.Pending(Timing([1.0] * 10, 0), resume, lambda t: {"ok": 1}, lambda e: {"error": str(e)})
    rows = []
    schedule.sweep([bad, good], 0.1, rows.append)
    assert rows == [{"error": "no room"}, {"ok": 1}]


class FailsLater(nn.Module):
    """Runs its warm-up and first slice, then raises: a failure in the middle of the rounds."""

    def __init__(self, after):
        super().__init__()
        self.conv, self.after, self.calls = nn.Conv2d(3, 4, 1), after, 0

    def forward(self, x):
        if x.shape[0] == 3:  # not the pass that counts MACs
            self.calls += 1
            if self.calls > self.after:
                raise RuntimeError("failed in a later slice")
        time.sleep(0.005)
        return self.conv(x)


def test_a_model_failing_in_a_later_slice_becomes_its_row():
    warmup = 2
    failing = FailsLater(warmup + engine.MIN_SAMPLES)  # the first slice is MIN_SAMPLES, the rounds raise
    rows = bench([failing, nn.Conv2d(3, 4, 1)], resolution=8, batch=3, warmup=warmup, min_time=0.05, threads=1)
    assert [r["status"] for r in rows] == ["error", "ok"]
    assert "failed in a later slice" in rows[0]["error"] and rows[0]["median_ms"] is None
