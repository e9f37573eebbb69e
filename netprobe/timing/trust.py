"""Whether a timing can be trusted: the samples' spread and the machine it ran on, judged from plain numbers.

``judge`` is pure (numbers in, a verdict out) so that every rule is tested without loading a
machine; ``cpus``, ``load_avg`` and ``CpuClock`` read the numbers from the running system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from time import perf_counter, process_time

SPREAD_LIMIT = 0.10  # IQR/median above this is noise, not latency (torch.utils.benchmark warns at 10%)
LOAD_SLACK = 0.5  # load average above usable CPUs + this: other processes wanted the cores too
CPU_SHARE_MIN = 0.8  # the timed loop got less than 80% of the CPU time its threads could use: it waited for a core
PREEMPTED_LIMIT = 0.8  # more iterations lost a CPU mid-way: too few are left to stand for the network, and the
                       # statistics are over all of them, waits included (engine.kept)


@dataclass(frozen=True)
class Verdict:
    """``stable`` and, when not, what was wrong (``reason``) and what would help (``advice``)."""

    stable: bool
    reason: str | None = None
    advice: str | None = None


def judge(*, median_ms: float | None, iqr_ms: float | None, threads: int, cpus: int, load_avg: float | None,
          cpu_share: float | None, preempted_share: float | None = None) -> Verdict:
    """The verdict on one timing; ``cpu_share`` is CPU time / (wall x threads) and ``preempted_share`` the share of
    iterations the OS took a CPU from the process in, each None where it does not apply (CUDA)."""
    reasons, advice = [], []
    quieter = "a quieter machine" + (", or fewer threads" if threads > 1 else "")
    if threads > cpus:
        reasons.append(f"{threads} threads on {cpus} usable CPUs (oversubscribed)")
        advice.append(f"--threads {cpus} or fewer")
    elif load_avg is not None and load_avg > cpus + LOAD_SLACK:
        # our own threads count in the load; the rest are other processes: threads x processes > cores
        reasons.append(f"load average {load_avg:.1f} on {cpus} usable CPUs")
        advice.append(quieter)
    if cpu_share is not None and cpu_share < CPU_SHARE_MIN:
        reasons.append(f"the process got {100 * cpu_share:.0f}% of the CPU time of its {threads} thread(s)")
        advice.append(quieter)
    if preempted_share is not None and preempted_share > PREEMPTED_LIMIT:
        reasons.append(f"{100 * preempted_share:.0f}% of iterations lost a CPU mid-way")  # fewer are left out
        advice.append(quieter)
    if median_ms and iqr_ms is not None and iqr_ms / median_ms > SPREAD_LIMIT:
        reasons.append(f"IQR {100 * iqr_ms / median_ms:.0f}% of the median")
        advice.append("a larger --batch (longer iterations: more samples do not narrow the spread)")
        advice.append("a quieter machine")
    if not reasons:
        return Verdict(True)
    return Verdict(False, "; ".join(reasons), ", ".join(dict.fromkeys(", ".join(advice).split(", "))))


def cpus() -> int:
    """CPUs this process may run on (its affinity mask), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity masks (macOS, Windows)
        return os.cpu_count() or 1


def load_avg() -> float | None:
    """The 1-minute load average, None where the system has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def cpu_share(cpu_s: float, wall_s: float, threads: int) -> float | None:
    """CPU time the process got over what ``threads`` busy threads get in ``wall_s`` (at most the usable CPUs)."""
    usable = min(threads, cpus())
    return cpu_s / (wall_s * usable) if wall_s > 0 and usable else None


class CpuClock:
    """Process CPU time (all threads, user and system: ``process_time``) and wall time since it was made."""

    def __init__(self):
        self.cpu0, self.wall0 = process_time(), perf_counter()

    def read(self) -> tuple[float, float]:
        """(CPU seconds, wall seconds) since the clock started."""
        return process_time() - self.cpu0, perf_counter() - self.wall0


def columns(median_ms: float | None, iqr_ms: float | None, cpu_s: float, wall_s: float, threads: int,
            cuda: bool, preempted_share: float | None = None) -> dict:
    """A row's trust columns, the machine read now: load_avg, cpus, cpu_share, preempted_share, stable,
    unstable_reason (the last two None where nothing was timed)."""
    usable, load = cpus(), load_avg()
    share = None if cuda or median_ms is None else cpu_share(cpu_s, wall_s, threads)
    cols = {"load_avg": load, "cpus": usable, "cpu_share": share, "preempted_share": preempted_share,
            "stable": None, "unstable_reason": None}
    if median_ms is not None:
        verdict = judge(median_ms=median_ms, iqr_ms=iqr_ms, threads=threads, cpus=usable, load_avg=load,
                        cpu_share=share, preempted_share=preempted_share)
        cols.update(stable=verdict.stable, unstable_reason=verdict.reason)
    return cols


def of_row(row: dict) -> Verdict:
    """The verdict on a bench row, judged again from the numbers it carries (its advice included); a column
    the row lacks (a row from elsewhere) is not judged."""
    cpu = not str(row.get("device") or "cpu").startswith("cuda")
    threads = row.get("threads") or 1
    return judge(median_ms=row["median_ms"], iqr_ms=row.get("iqr_ms"), threads=threads,
                 cpus=row.get("cpus") or threads, load_avg=row.get("load_avg"),
                 cpu_share=row.get("cpu_share") if cpu else None,
                 preempted_share=row.get("preempted_share") if cpu else None)


def rows_warning(rows: list[dict]) -> str | None:
    """The one ``warning:`` line of a table of bench rows (bench's, compare --bench's): each configuration
    timed judged once; a row copied from an identical network (``same_as``) or shown again (a member nearest
    several budgets) is not judged twice."""
    judged: dict[tuple, tuple[str, Verdict]] = {}
    for r in rows:
        if r.get("status") == "ok" and r.get("median_ms") is not None and not r.get("same_as"):
            key = (r["model"], r.get("batch"), r.get("mode"))
            judged.setdefault(key, (f"{r['model']} batch {r.get('batch')}", of_row(r)))
    return warning(list(judged.values()))


def warning(judged: list[tuple[str, Verdict]]) -> str | None:
    """One ``warning:`` line for what is not stable among (label, verdict): the first reason, and what to do."""
    bad = [(label, v) for label, v in judged if not v.stable]
    if not bad:
        return None
    label, first = bad[0]
    advice = ", ".join(dict.fromkeys(a for _, v in bad for a in (v.advice or "").split(", ") if a))
    count = f"{len(bad)} of {len(judged)} timings are" if len(judged) > 1 else "the timing is"
    return f"warning: {count} not stable ({label}: {first.reason}); rerun with {advice}"
