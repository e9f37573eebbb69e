"""A model of any kind counted op by op: materialized for counting, run once, its stages found.

It runs on ``meta`` (nothing allocated or computed); a model whose forward cannot run there
(data-dependent ops) is built and run on the CPU, with a note that says so. Each module's own
output shape is recorded on the way, so that a block row shows the block's output, not its
last layer's (an SE block ends in a multiply, an attention block in a residual add).
"""

from __future__ import annotations

from dataclasses import replace

from netprobe import loaders
from netprobe.errors import NetprobeError, first_line
from netprobe.models.inputs import DEFAULT_RESOLUTION, example_inputs
from netprobe.models.materialize import can_retry_on_cpu, cpu_note, materialize

SMALL_INPUT_ERRORS = ("too small", "output size", "kernel size can't be greater")  # torch's words for it


def measured(source: loaders.Source, size, batch: int, dtype: str):
    """Arguments of ``assemble.assemble`` for a model counted op by op; ``size``: (C, H, W), C None for
    the model's own, or None for the model's own size."""
    from netprobe.analysis.stages import find_stages, single_blocks, stage_modules
    from netprobe.analysis.taps import feature_taps

    ready = materialize(source, "meta", "count")
    model, notes = ready.module, list(ready.notes)
    own = loaders.default_input_size(source, model) or (3, DEFAULT_RESOLUTION, DEFAULT_RESOLUTION)
    c, h, w = size or own
    c = c or own[0]
    try:
        counted, shapes = _run_counted(source, model, (c, h, w), notes)
    except NetprobeError:
        raise
    except Exception as e:  # noqa: BLE001 - arbitrary user models fail in arbitrary ways
        text = first_line(e)
        if any(s in text.lower() for s in SMALL_INPUT_ERRORS):
            raise NetprobeError(f"resolution too small: {source.name} fails at {h}x{w} ({text}); "
                                "use a larger --resolution") from e
        raise NetprobeError(f"{source.name}: forward pass at {c}x{h}x{w} failed: {type(e).__name__}: {text}; "
                            "check --input-size") from e
    containers = stage_modules(model)
    names = find_stages(counted.layers, containers, single_blocks(model, containers), feature_taps(model))
    layers = [replace(layer, stage=stage) for layer, stage in zip(counted.layers, names)]
    return ((c, h, w), batch, dtype, layers, dict(counted.unsupported), counted.labels, tuple(notes), containers,
            counted.frozen, shapes)


def _run_counted(source, model, inputs, notes: list[str]):
    """(Measured, module output shapes) on ``meta``, else on a CPU build of the model."""
    try:
        return _count(model, inputs)
    except Exception as e:  # noqa: BLE001 - retried below, for real
        if not can_retry_on_cpu(source, model):
            raise
        meta_error = e
    try:
        counted = _count(materialize(source, "cpu", "count").module, inputs)
    except Exception:  # noqa: BLE001 - the model fails for real too: report the first failure
        raise meta_error from None
    notes.append(cpu_note(source, meta_error))
    return counted


def _count(model, inputs):
    """``measure`` at batch 1, with a hook on every module that keeps its own output shape."""
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
    try:
        return measure(model, inputs=example_inputs(model, inputs, 1, device)), shapes
    finally:
        for h in handles:
            h.remove()


def _output_shape(output) -> tuple[int, ...]:
    """The shape of a module's (first) output tensor, without the batch of 1."""
    import torch

    while isinstance(output, (tuple, list)) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor):
        return ()
    shape = tuple(output.shape)
    return shape[1:] if shape and shape[0] == 1 else shape
