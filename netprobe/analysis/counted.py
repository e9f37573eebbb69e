"""A model of any kind counted op by op: materialized for counting, run once, its stages found.

It runs on ``meta`` (nothing allocated or computed); a model whose forward cannot run there
(data-dependent ops) is built and run on the CPU, with a note that says so. Each module's own
output shape is recorded on the way, so that a block row shows the block's output, not its
last layer's (an SE block ends in a multiply, an attention block in a residual add).
"""

from __future__ import annotations

import gc
from dataclasses import replace

from netprobe import loaders
from netprobe.errors import NetprobeError, first_line
from netprobe.inputs import rejected
from netprobe.models.inputs import SPATIAL_RANK, example_inputs, for_model, main_shape, text
from netprobe.models.materialize import can_retry_on_cpu, cpu_note, materialize
from netprobe.outputs import main_tensor

SMALL_INPUT_ERRORS = ("too small", "output size", "kernel size can't be greater")  # torch's words for it


def measured(source: loaders.Source, given, resolution: int | None, batch: int, dtype: str):
    """Arguments of ``assemble.assemble`` for a model counted op by op; ``given``: the user's input
    description (``models.inputs``), or None for the model's own at ``resolution``."""
    from netprobe.analysis.stages import find_stages, single_blocks, stage_modules
    from netprobe.analysis.taps import feature_taps

    ready = materialize(source, "meta", "count")
    model, notes = ready.module, list(ready.notes)
    inputs, found = for_model(source, model, given, resolution)
    notes += found
    try:
        counted, shapes, size = _run_counted(source, model, inputs, notes)
    except NetprobeError:
        raise
    except Exception as e:  # noqa: BLE001 - arbitrary user models fail in arbitrary ways
        said = first_line(e)
        if any(s in said.lower() for s in SMALL_INPUT_ERRORS):
            raise NetprobeError(f"resolution too small: {source.name} fails at {text(inputs)} ({said}); "
                                "use a larger --resolution") from e
        raise rejected(source.name, inputs, e) from e
    containers = stage_modules(model)
    image = tuple(size[-2:]) if len(size) >= SPATIAL_RANK else None
    taps = feature_taps(model)
    names = find_stages(counted.layers, containers, single_blocks(model, containers, taps), taps, image)
    layers = [replace(layer, stage=stage) for layer, stage in zip(counted.layers, names)]
    return (size, batch, dtype, layers, dict(counted.unsupported), counted.labels, tuple(notes), containers,
            counted.frozen, shapes, inputs)


def _run_counted(source, model, inputs, notes: list[str]):
    """(Measured, module output shapes) on ``meta``, else on a CPU build of the model."""
    try:
        return _count(model, inputs)
    except Exception as e:  # noqa: BLE001 - retried below, for real
        if not can_retry_on_cpu(source, model):
            raise
        meta_error = e
    _check_cpu_memory(source, model, meta_error)
    try:
        counted = _count(materialize(source, "cpu", "count").module, inputs)
    except Exception:  # noqa: BLE001 - the model fails for real too: report the first failure
        raise meta_error from None
    notes.append(cpu_note(source, meta_error))
    return counted


def _check_cpu_memory(source, model, meta_error: BaseException) -> None:
    """Refuse a CPU pass whose parameters alone would not fit in the memory this machine has free."""
    needed = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    free = available_memory()
    if free is not None and needed > free:
        raise NetprobeError(f"{source.name} cannot run on the meta device ({first_line(meta_error, 80)}), and a "
                            f"forward pass on cpu needs {needed / 1e9:.3g} GB for its parameters alone, more than "
                            f"the {free / 1e9:.3g} GB of memory free; count it on a machine with more memory")


def available_memory() -> int | None:
    """Bytes of memory free for a new allocation (MemAvailable on Linux); None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _count(model, inputs):
    """``measure`` at batch 1, with a hook on every module that keeps its own output shape; the main
    input's shape too."""
    from netprobe.analysis.measure import measure

    shapes: dict[str, tuple[int, ...]] = {}

    def keep(name):
        def hook(_module, _inputs, output):
            shape = _output_shape(output)
            if shape:
                shapes[name] = shape
        return hook

    device = next(iter(model.parameters()), None)
    device = device.device if device is not None else "meta"
    handles = [m.register_forward_hook(keep(name)) for name, m in model.named_modules() if name]
    # The pass makes many short-lived objects and no cycles worth collecting; the collector's passes
    # over a hub library's objects would cost more than the count (a third of a segmenter's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        args, kwargs = example_inputs(model, inputs, 1, device)
        return measure(model, inputs=(args, kwargs)), shapes, main_shape(args, kwargs)
    finally:
        if collecting:
            gc.enable()
        for h in handles:
            h.remove()


def _output_shape(output) -> tuple[int, ...]:
    """The shape of a module's main output tensor (``outputs.main_tensor``), without the batch of 1."""
    output = main_tensor(output)
    if output is None:
        return ()
    shape = tuple(output.shape)
    return shape[1:] if shape and shape[0] == 1 else shape
