"""A training step split into its phases, as timm's ``benchmark.py --detail``: forward (with the loss),
backward, optimizer step, with per-phase samples and medians.

The step is ``timing.modes.train_step``'s, marked where its phases meet, and nothing is
added to it: on the CPU the marks are ``perf_counter`` readings (CPU ops are synchronous);
on CUDA they are events recorded on the stream, read after one synchronize at the end of
all the samples, so the GPU never waits for the host between phases. The three phases of a
sample add up to its whole step.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from netprobe.timing.modes import autocast, loss_of

WARMUP_STEPS = 3  # the first steps allocate gradients and optimizer state, and tune kernels


@dataclass(frozen=True)
class PhaseTimes:
    """Per-sample milliseconds of each phase of a training step."""

    forward: tuple[float, ...]
    backward: tuple[float, ...]
    optimizer: tuple[float, ...]

    @property
    def forward_ms(self) -> float:
        return statistics.median(self.forward)

    @property
    def backward_ms(self) -> float:
        return statistics.median(self.backward)

    @property
    def optimizer_ms(self) -> float:
        return statistics.median(self.optimizer) if self.optimizer else 0.0

    def medians(self) -> dict[str, float]:
        """The row columns: ``forward_ms``, ``backward_ms``, ``optimizer_ms``."""
        return {"forward_ms": self.forward_ms, "backward_ms": self.backward_ms, "optimizer_ms": self.optimizer_ms}


def marked_step(model, inputs, device: str, dtype: str, optimizer=None, mark=None):
    """``train_step``'s step on ``inputs`` (one tensor, or the (args, kwargs) of ``models.inputs``), calling
    ``mark()`` where its phases meet (4 marks a step; 3 without optimizer)."""
    args, kwargs = inputs if isinstance(inputs, tuple) else ((inputs,), {})

    def step():
        mark()
        model.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            loss = loss_of(model(*args, **kwargs))
        mark()
        loss.backward()
        mark()
        if optimizer is not None:
            optimizer.step()
            mark()

    return step


def sample_phases(model, inputs, device: str, dtype: str = "fp32", optimizer=None, samples: int = 20,
                  warmup: int = WARMUP_STEPS) -> PhaseTimes:
    """Phase times of ``samples`` training steps after ``warmup`` unmarked ones."""
    cuda = str(device).startswith("cuda")
    marks: list = []
    mark = _event_mark(marks) if cuda else (lambda: marks.append(time.perf_counter()))
    step = marked_step(model, inputs, device, dtype, optimizer, mark)
    for _ in range(warmup):
        step()
    marks.clear()
    for _ in range(samples):
        step()
    per_step = 4 if optimizer is not None else 3
    if cuda:
        import torch

        torch.cuda.synchronize(device)
        ms = [marks[i].elapsed_time(marks[i + 1]) if (i + 1) % per_step else None for i in range(len(marks) - 1)]
    else:
        ms = [(marks[i + 1] - marks[i]) * 1e3 if (i + 1) % per_step else None for i in range(len(marks) - 1)]
    phases = [ms[s * per_step:(s + 1) * per_step - 1] for s in range(samples)]
    return PhaseTimes(tuple(p[0] for p in phases), tuple(p[1] for p in phases),
                      tuple(p[2] for p in phases) if optimizer is not None else ())


def _event_mark(marks: list):
    import torch

    def mark():
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        marks.append(event)

    return mark
