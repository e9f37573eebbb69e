"""What the OS takes from a timing loop: its thread's waits for a CPU, or the iterations it preempted.

Beside another busy process an iteration's wall time is the network's plus the time its
thread sat runnable waiting for a core (a scheduler slice or several): a 5 ms forward reads
5, 8 or 22 ms, and the median of such samples jumps between modes from run to run. Linux
counts that wait per thread (``/proc/self/task/<tid>/schedstat``, its second field, in ns), so
the loop subtracts it from each iteration; what is left is the time the network ran.

Where the OS keeps no per-thread wait (macOS, a kernel without schedstat), an iteration in
which the process was preempted (an involuntary context switch, ``getrusage``) is marked
instead, and the statistics leave it out (``engine.kept``). That is done with one intra-op
thread only: with more, some worker is preempted in nearly every long iteration even on an
idle machine (every one of efficientnet_b0's at batch 8 on two CPUs), so the mark would say
nothing. The workers' own waits reach the timing thread through a barrier, which no count
subtracts; the rows' CPU share still says when the process waited (``trust``). Where the OS
counts nothing (Windows), nothing is subtracted or marked.
"""

from __future__ import annotations

import os
import sys
import threading
from time import perf_counter

try:
    import resource
except ImportError:  # Windows
    resource = None

NS_PER_S = 1e9


def switches() -> int:
    """Involuntary context switches of this process so far (all its threads), 0 where the OS counts none."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw if resource else 0


def marking() -> bool:
    """Whether a preemption marks its iteration: where torch's intra-op pool runs one thread (or torch is not
    loaded, so a call has no pool) and the OS counts switches."""
    torch = sys.modules.get("torch")
    return resource is not None and (torch is None or torch.get_num_threads() == 1)


class Watch:
    """The clocks of the thread that made it (``stamp``) and the process's involuntary switches where they mark
    iterations (``switches``). ``close`` when done."""

    def __init__(self):
        self.fd = None
        try:
            self.fd = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
            if int(os.pread(self.fd, 128, 0).split()[2]) == 0:  # it has run, yet no run counted: accounting is off
                raise ValueError("schedstat reads 0 0 0")
        except (OSError, ValueError, IndexError):  # no per-thread wait here
            self.close()
        self.corrects = self.fd is not None  # the thread's waits are read (and subtracted by the loop)
        self.counts = not self.corrects and marking()  # the waits subtracted: nothing left to mark

    def _wait_ns(self) -> int:
        return int(os.pread(self.fd, 128, 0).split()[1])

    def stamp(self) -> tuple[float, float]:
        """(``perf_counter``, ``perf_counter`` less the thread's waits for a CPU so far), in seconds, from one
        reading: the wait is read before and after the clock, again until both agree, so that no wait falls
        between them and is charged to the wrong span. Where the waits are unread the two are equal."""
        if self.fd is None:
            now = perf_counter()
            return now, now
        while True:
            before = self._wait_ns()
            now = perf_counter()
            if self._wait_ns() == before:
                return now, now - before / NS_PER_S

    def switches(self) -> int:
        """The process's involuntary switches so far where they mark iterations (``counts``), else 0."""
        return switches() if self.counts else 0

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
