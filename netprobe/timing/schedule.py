"""Interleaved sampling of a sweep: configurations sampled in turn, a slice each, so a burst of load is shared.

A configuration arrives warmed up with its first slice of samples (``Pending``). Up to WINDOW
of them are in flight at once (their models stay built, which bounds the memory a sweep holds);
each gets ROUNDS slices of ``min_time / ROUNDS`` seconds, round-robin, and then more slices,
still in turn, while its median's interval is wider than ``engine.CI_TARGET`` and it has had
less than ``engine.CAP_FACTOR x min_time`` of sampling. Rows are made in the sweep's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from netprobe.timing import engine
from netprobe.timing.engine import Timing

ROUNDS = 4  # slices of min_time per configuration, taken in turn with the others in flight
WINDOW = 4  # configurations in flight at once


@dataclass(frozen=True)
class Pending:
    """A configuration ready to sample (``timing`` None: it failed, and ``finish`` makes its row as is)."""

    timing: Timing | None
    resume: Callable[[Timing, float], Timing] | None  # more samples, in the configuration's own state
    finish: Callable[[Timing | None], dict]  # its row
    fail: Callable[[Exception], dict] | None = None  # its row when a later slice raised (e.g. out of memory)


def first_slice(min_time: float) -> float:
    """Seconds of samples a configuration takes before it joins the rounds."""
    return min_time / ROUNDS


def sweep(configs: Iterable[Pending], min_time: float, emit: Callable[[dict], None], window_size: int = WINDOW) -> None:
    """Sample ``configs`` ``window_size`` at a time, interleaved; each row goes to ``emit`` once its window is done.

    On Ctrl-C the configurations in flight are emitted as measured so far (the one being warmed up
    is not), then the KeyboardInterrupt goes on.
    """
    window: list[Pending] = []
    timings: list = []  # per configuration: its Timing, None (failed before), or the exception a slice raised
    try:
        for pending in configs:
            window.append(pending)
            timings.append(pending.timing)
            if len(window) == window_size:
                _rounds(window, timings, min_time)
                done, window, timings = (window, timings), [], []
                _emit(*done, emit)
        _rounds(window, timings, min_time)
    except KeyboardInterrupt:
        _emit(window, timings, emit)
        raise
    _emit(window, timings, emit)


def _rounds(window: list[Pending], timings: list, min_time: float) -> None:
    """Round-robin slices until every configuration has min_time, then its interval or its cap."""
    for _ in range(ROUNDS - 1):
        _slice(window, timings, [i for i, t in enumerate(timings) if isinstance(t, Timing)], min_time)
    while True:
        open_ = [i for i, t in enumerate(timings) if isinstance(t, Timing) and _open(t, min_time)]
        if not open_:
            return
        _slice(window, timings, open_, min_time)


def _slice(window: list[Pending], timings: list, which: list[int], min_time: float) -> None:
    """One slice each for the configurations ``which``; one that raises keeps the exception, the others go on."""
    for i in which:
        try:
            timings[i] = window[i].resume(timings[i], first_slice(min_time))
        except Exception as e:  # noqa: BLE001 - becomes that configuration's row, the sweep goes on
            timings[i] = e


def _open(timing: Timing, min_time: float) -> bool:
    """Whether a configuration samples on: its interval is wide and its cap not reached."""
    return timing.wall_s < engine.CAP_FACTOR * min_time and not engine.ci_within(timing.kept, engine.CI_TARGET)


def _emit(window: list[Pending], timings: list, emit: Callable[[dict], None]) -> None:
    for p, t in zip(window, timings):
        emit(p.fail(t) if isinstance(t, Exception) else p.finish(t))
