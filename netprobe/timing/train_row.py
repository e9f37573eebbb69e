"""The columns a ``bench --mode train`` row adds after its timing: the step's phases (``timing.phases``),
the predicted peak (``analysis.train_memory``) and, on the CPU, the allocator's peak of one more step
(``timing.memory.allocated_peak``)."""

from __future__ import annotations

from netprobe.analysis.train_memory import train_memory
from netprobe.errors import NetprobeError
from netprobe.models.inputs import at_any_batch
from netprobe.timing.memory import allocated_peak, tensor_bytes
from netprobe.timing.phases import sample_phases

PHASE_SAMPLES = 10  # marked training steps per train row, after its timing (forward_ms, backward_ms, optimizer_ms)


def train_columns(model, fn, step, inputs, optimizer, device: str, dtype: str, predicted: int | None) -> dict:
    """The row's phase medians, ``predicted_mem_bytes`` and ``alloc_peak_bytes`` (empty on CUDA, where
    ``peak_mem_bytes`` already is the allocator's); run in train mode, after the row's own samples."""
    times = sample_phases(fn, inputs, device, dtype, optimizer, PHASE_SAMPLES, warmup=1)
    alloc = None if device.startswith("cuda") else allocated(model, step, inputs, optimizer)
    return {**times.medians(), "predicted_mem_bytes": predicted, "alloc_peak_bytes": alloc}


def allocated(model, step, inputs, optimizer) -> int | None:
    """The allocator's peak of one more training step on the CPU, counted from no gradients: the weights,
    inputs and optimizer state are what it starts from."""
    model.zero_grad(set_to_none=True)
    args, kwargs = inputs
    state = [t for s in optimizer.state.values() for t in s.values() if hasattr(t, "untyped_storage")]
    given = [t for t in (*args, *kwargs.values()) if hasattr(t, "untyped_storage")]
    return allocated_peak(step, tensor_bytes([*model.parameters(), *model.buffers(), *given, *state]))


def predicted(source, name: str, inputs, batch: int, dtype: str) -> int | None:
    """The predicted training peak (fp32 only) of a zoo member or a named model; None for another dtype, a
    module the caller handed over (no name to build it from), or ready tensors (one batch: the prediction
    makes the inputs at batches 2 and 3, from shapes or a factory)."""
    if dtype != "fp32" or source.instance or not at_any_batch(inputs):
        return None
    model = source.net if source.net is not None else name  # the spec: dilated as timed
    try:
        return train_memory(model, batch, input_size=inputs).train_memory_bytes
    except NetprobeError:  # a model the prediction cannot observe: the timed row stands without it
        return None
