"""What the OS takes from a timing loop: its thread's waits for a CPU, and the CPUs taken from its other threads.

Beside another busy process an iteration's wall time is the network's plus the time its
thread sat runnable waiting for a core (a scheduler slice or several): a 5 ms forward reads
5, 8 or 22 ms, and the median of such samples jumps between modes from run to run. Linux
counts that wait per thread (``/proc/self/task/<tid>/schedstat``, its second field, in ns), so
the loop subtracts it from each iteration; what is left is the time the network ran.

The intra-op pool's worker threads wait too, and the timing thread then waits on them (a
barrier, not a runqueue): that cannot be subtracted. So where torch runs more than one
intra-op thread, an iteration in which the OS took a CPU from the process (an involuntary
context switch of any of its threads, ``getrusage``) is marked, and the statistics leave it
out (``engine.kept``). (The process's count and the thread's own cannot be told apart
reliably: a preemption at the exit of one ``getrusage`` shows in the next.) Where the OS keeps
no per-thread wait (macOS, or a kernel without schedstat), every involuntary switch marks
its iteration; where it keeps no count at all (Windows), nothing is marked.
"""

from __future__ import annotations

import os
import sys
import threading

try:
    import resource
except ImportError:  # Windows
    resource = None

NS_PER_MS = 1e6


def switches() -> int:
    """Involuntary context switches of this process so far (all its threads), 0 where the OS counts none."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw if resource else 0


def helpers() -> bool:
    """Whether other threads work for a timed call: torch's intra-op pool, when it runs more than one thread."""
    torch = sys.modules.get("torch")  # a call that never loaded torch has no pool
    return torch is not None and torch.get_num_threads() > 1


class Watch:
    """Reads, for the thread that made it: (ms it has waited for a CPU, CPUs taken from the process that the
    wait does not account for), both cumulative. ``close`` when done."""

    def __init__(self):
        self.fd = None
        try:
            self.fd = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
            self._wait_ns()
        except (OSError, ValueError, IndexError):  # no schedstat here
            self.close()
        self.corrects = self.fd is not None  # the thread's waits are read (and subtracted by the loop)
        self.counts = not self.corrects or helpers()  # one thread, its waits subtracted: nothing left to mark

    def _wait_ns(self) -> int:
        return int(os.pread(self.fd, 128, 0).split()[1])

    def read(self) -> tuple[float, int]:
        waited = self._wait_ns() / NS_PER_MS if self.fd is not None else 0.0
        return waited, switches() if self.counts else 0

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
