"""What a model is fed: one input description, turned into the (args, kwargs) of a forward in one place.

Today the description is one image size, (C, H, W) without the batch. Every caller (counting,
bench, profile, ``--verify``, a Ray worker through bench) takes its inputs from ``example_inputs``,
so a richer description (several inputs, any rank, dtypes, keyword arguments, a factory) is parsed
and made into tensors here; elsewhere it is carried as a value (``Summary.input_size``,
``bench.Target.input_size``), read only by the resolution columns and messages.
"""

from __future__ import annotations

from netprobe.errors import NetprobeError

Inputs = tuple[int, int, int]  # the input description: one image, (C, H, W) without the batch
DEFAULT_RESOLUTION = 224


def parse_input_size(value) -> Inputs | None:
    """(C, H, W) from ``"1x224x320"``, ``"224x320"`` (3 channels) or a tuple of ints; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.strip().lower().replace("×", "x").split("x")
        dims = [int(p) for p in parts if p.strip().isdigit()]
        if len(dims) != len(parts):
            dims = []
    else:
        dims = list(value) if isinstance(value, (tuple, list)) else []
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            dims = []
    if len(dims) == 2:
        dims = [3, *dims]
    if len(dims) != 3 or min(dims) < 1:
        raise NetprobeError(f"bad input size '{value}'; use CxHxW such as 3x224x224 or 1x224x320 (or HxW)")
    return tuple(dims)


def example_inputs(model, inputs: Inputs, batch: int, device, channels_last: bool = False) -> tuple[tuple, dict]:
    """The (args, kwargs) a forward of ``model`` (a module or its source) takes for ``inputs`` at ``batch`` on
    ``device``: random values, or uninitialized ones on ``meta`` (where nothing is computed). ``model`` is
    where an input's valid values would come from (token ids below a vocabulary size); one image needs none."""
    import torch

    make = torch.empty if torch.device(device).type == "meta" else torch.randn
    x = make(batch, *inputs, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return (x,), {}

