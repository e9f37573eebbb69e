"""The lines ``summary --mode train`` prints under its table: the step's counts, predicted peak and fit."""

from __future__ import annotations

from netprobe.cli.render import human, human_bytes

MEMORY_PARTS = (  # (TrainMemory field, its label)
    ("params_bytes", "params"), ("buffers_bytes", "buffers"),
    ("optimizer_bytes", "optimizer state"), ("input_bytes", "input"),
    ("saved_bytes", "saved activations"), ("grads_bytes", "grads"),
    ("transient_bytes", "backward transients"),
)


def memory_text(m) -> str:
    """A prediction in one line: its peak, where the peak is, and its parts."""
    parts = ", ".join(f"{label} {human_bytes(getattr(m, field))}" for field, label in MEMORY_PARTS)
    return f"{human_bytes(m.train_memory_bytes)} at {m.peak_at} ({parts})"


def train_lines(step, per_mac: int, unit: str) -> list[str]:
    """What the table's backward column adds up to, the predicted peak at the batch, and the fit."""
    c, m = step.counts, step.memory
    lines = [f"training step at batch {c.batch}: forward {human(per_mac * c.forward)} + backward "
             f"{human(per_mac * c.backward)} = {human(per_mac * c.total)} {unit} (backward: the gradients "
             "of inputs and weights, docs/train.md)",
             f"predicted peak memory, fp32, {m.optimizer}, batch {m.batch}: {memory_text(m)}"]
    if step.fit is not None:
        f = step.fit
        if f.fit_batch:
            lines.append(f"fits {human_bytes(f.budget_bytes)}: batch {f.fit_batch}, predicted {memory_text(f.memory)}")
        else:
            lines.append(f"fits {human_bytes(f.budget_bytes)}: no batch; batch 1 needs {memory_text(f.memory)}")
    return lines
