"""Peak memory of one configuration: CUDA's allocator statistics, or the process's peak RSS on CPU.

CPU tensors come from the system allocator and torch keeps no statistics of them, so on
Linux the process's peak resident set (``VmHWM``) is reset to the current one by writing
"5" to ``/proc/self/clear_refs``, and the peak is read after the run (glibc's free heap is
trimmed first, so memory freed earlier and reused counts as growth). The growth over the
resident set before the run is what the configuration allocated at its worst (input,
activations, workspaces, and in training gradients and optimizer state); the model's
parameters and buffers, resident before the run, are added so that the figure means what
``torch.cuda.max_memory_allocated`` means on a GPU. Where the reset is not possible the
peak is left empty rather than guessed.

The resident set also holds what the C allocator keeps after tensors are freed (glibc's
heap grows past its trim threshold once large blocks are freed), so on the CPU it is the
process's memory, not the tensors'. ``allocated_peak`` reads the tensors' own peak from the
profiler's allocation events: the CPU counterpart of ``max_memory_allocated``.
"""

from __future__ import annotations

from pathlib import Path

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")
CPU_METHOD = "peak RSS growth (VmHWM after - VmRSS before, VmHWM reset through /proc/self/clear_refs) + weights"
CUDA_METHOD = "torch.cuda.max_memory_allocated, reset before the configuration"


def _status_kib(field: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class PeakMemory:
    """Peak memory of what runs between ``start()`` and ``peak_bytes()`` on one device."""

    def __init__(self, device: str, model=None):
        self.device = device
        self.model = model
        self.rss_kib: int | None = None

    def can_measure(self) -> bool:
        """Whether this platform can tell the peak (always on CUDA; on CPU, Linux's VmHWM reset)."""
        return self.device.startswith("cuda") or (CLEAR_REFS.exists() and STATUS.exists())

    def start(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
            return
        _trim_heap()
        try:
            CLEAR_REFS.write_text("5")  # resets VmHWM to the current VmRSS (Linux >= 4.0)
        except OSError:
            self.rss_kib = None
            return
        self.rss_kib = _status_kib("VmRSS")

    def peak_bytes(self) -> int | None:
        """The peak since ``start()`` in bytes; None where this platform cannot tell."""
        if self.device.startswith("cuda"):
            import torch

            return torch.cuda.max_memory_allocated(self.device)
        peak = _status_kib("VmHWM")
        if self.rss_kib is None or peak is None:
            return None
        return (peak - self.rss_kib) * 1024 + _resident_bytes(self.model)


def allocated_peak(run, resident_bytes: int) -> int | None:
    """The most bytes torch's CPU allocator held while ``run()`` ran: ``resident_bytes`` (what was live
    before it and belongs to the configuration: weights, inputs, optimizer state) plus the peak of what
    it allocated and had not yet freed, summed in order from the profiler's memory events; None where
    the profiler records none."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    try:
        events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                        if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU)
    except (AttributeError, RuntimeError):  # a torch whose profiler has no such events
        return None
    if not events:
        return None
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return resident_bytes + peak


def tensor_bytes(tensors) -> int:
    """Bytes of some tensors' storages, each storage once."""
    seen: dict[int, int] = {}
    for t in tensors:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def _trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc), so reuse of it shows as growth."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc: the baseline is then what is resident
        pass


def _resident_bytes(model) -> int:
    """Bytes of a model's parameters and buffers (0 for no model)."""
    if model is None:
        return 0
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)
