"""A model's output of any structure: its tensors, its main tensor, the loss a training step reads.

Structures: a tensor, a tuple, list or namedtuple, a dict (HF ``ModelOutput`` is an ordered
dict), a dataclass, None, and any nesting of those; other leaves hold no tensor.
"""

from __future__ import annotations

import dataclasses

from netprobe.errors import NetprobeError

MAIN_KEYS = ("out", "logits")  # torchvision segmentation's 'out', transformers' 'logits'


def _is_tensor(value) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _children(value) -> list:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (tuple, list)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    return []


def tensors(output) -> list:
    """Every tensor of the output, depth first in the output's own order."""
    if _is_tensor(output):
        return [output]
    return [t for child in _children(output) for t in tensors(child)]


def main_tensor(output):
    """The tensor a reader means by 'the output': a dict's 'out' or 'logits', else the first tensor (None if none)."""
    if isinstance(output, dict):
        for key in MAIN_KEYS:
            if _is_tensor(output.get(key)):
                return output[key]
    found = tensors(output)
    return found[0] if found else None


def loss(output):
    """A scalar to call ``backward`` on: the first floating tensor that requires grad, summed (its
    ``loss`` entry first where a structured output has one)."""
    first = [output["loss"]] if isinstance(output, dict) and _is_tensor(output.get("loss")) else []
    for t in first + tensors(output):
        if t.is_floating_point() and t.requires_grad:
            return t.sum() if t.dim() else t
    raise NetprobeError("train mode needs a tensor output that requires grad; the model returned "
                        f"{describe(output)}")


def describe(output) -> str:
    """A short text of the output's structure: 'dict(out: 1x21x64x64)', 'tuple(1x10, None)'."""
    if _is_tensor(output):
        return "x".join(map(str, output.shape)) or "scalar"
    if output is None:
        return "None"
    if isinstance(output, dict):
        return f"{type(output).__name__}(" + ", ".join(f"{k}: {describe(v)}" for k, v in output.items()) + ")"
    if isinstance(output, (tuple, list)) or dataclasses.is_dataclass(output):
        return f"{type(output).__name__}(" + ", ".join(describe(c) for c in _children(output)) + ")"
    return type(output).__name__


def shapes(output, batch: int | None = None) -> list[tuple[int, ...]]:
    """Shapes of every tensor of the output, without a leading batch dimension when ``batch`` is given."""
    out = []
    for t in tensors(output):
        shape = tuple(t.shape)
        out.append(shape[1:] if batch is not None and shape and shape[0] == batch else shape)
    return out
