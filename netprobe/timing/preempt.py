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

NS_PER_MS = 1e6


def switches() -> int:
    """Involuntary context switches of this process so far (all its threads), 0 where the OS counts none."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw if resource else 0


def marking() -> bool:
    """Whether a preemption marks its iteration: where torch's intra-op pool runs one thread (or torch is not
    loaded, so a call has no pool) and the OS counts switches."""
    torch = sys.modules.get("torch")
    return resource is not None and (torch is None or torch.get_num_threads() == 1)


class Watch:
    """Reads, for the thread that made it: (ms it has waited for a CPU, the process's involuntary switches where
    they mark iterations, else 0), both cumulative. ``close`` when done."""

    def __init__(self):
        self.fd = None
        try:
            self.fd = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
            self._wait_ns()
        except (OSError, ValueError, IndexError):  # no schedstat here
            self.close()
        self.corrects = self.fd is not None  # the thread's waits are read (and subtracted by the loop)
        self.counts = not self.corrects and marking()  # the waits subtracted: nothing left to mark

    def _wait_ns(self) -> int:
        return int(os.pread(self.fd, 128, 0).split()[1])

    def ran_s(self) -> float:
        """A clock of the time the thread could run: ``perf_counter`` less its waits for a CPU so far (seconds;
        ``perf_counter`` itself where the waits are unread)."""
        return perf_counter() - (self._wait_ns() / 1e9 if self.fd is not None else 0.0)

    def read(self) -> tuple[float, int]:
        waited = self._wait_ns() / NS_PER_MS if self.fd is not None else 0.0
        return waited, switches() if self.counts else 0

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
