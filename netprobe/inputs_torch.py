"""Example inputs materialized: tensors from a description (``netprobe.inputs``), a factory's, or ready ones.

Float inputs are random normal (``torch.empty`` on ``meta``: nothing is computed there);
integer inputs hold valid values: token ids below the vocabulary of the model's
embeddings, else small non-negative ints; bool inputs are all True (a mask that hides nothing).
Callers go through ``models.inputs.example_inputs``.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from netprobe.errors import NetprobeError, first_line
from netprobe.inputs import Factory, Input, describe, parse_input_size
from netprobe.refs import resolve

SMALL_INT = 2  # integers fed to no embedding: 0 or 1, a valid index along any axis of size 2 or more
BATCH_PARAMS = ("batch", "batch_size", "n", "bs")  # a factory's parameter that takes the batch size
RETURNS = "a tensor, a tuple of args, or (args, kwargs)"


def example_inputs(description, batch: int = 1, device="cpu", model: nn.Module | None = None) -> tuple[tuple, dict]:
    """(args, kwargs) to call the model with: the batch first on every input the description makes;
    a factory's or ready tensors are taken as they are and moved to ``device``."""
    if isinstance(description, Factory) or callable(description) and not isinstance(description, nn.Module):
        return _from_factory(description, batch, device)
    if _holds_tensor(description):
        return _structured(description, "the inputs given", device)
    specs = parse_input_size(description)
    if not specs:
        raise NetprobeError("no inputs described; give --input-size (such as 3x224x224) or --inputs module:make_inputs")
    high = vocabulary(model) if model is not None else None
    return tuple(_make(spec, batch, torch.device(device), high) for spec in specs), {}


def vocabulary(model: nn.Module) -> int | None:
    """The smallest ``num_embeddings`` of the model's embeddings: a token id below it is valid for any
    table the input feeds (None when the model has none)."""
    sizes = [m.num_embeddings for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]
    return min(sizes) if sizes else None


def _make(spec: Input, batch: int, device: torch.device, high: int | None):
    if spec.listed:
        return [_tensor(spec, spec.shape, device, high) for _ in range(batch)]
    return _tensor(spec, (batch, *spec.shape), device, high)


def _tensor(spec: Input, shape: tuple[int, ...], device: torch.device, high: int | None):
    dtype = getattr(torch, spec.dtype)
    if device.type == "meta":
        return torch.empty(shape, dtype=dtype, device=device)
    if spec.kind == "float":
        return torch.randn(shape, dtype=dtype, device=device)
    if spec.kind == "bool":
        return torch.ones(shape, dtype=dtype, device=device)
    return torch.randint(0, high or SMALL_INT, shape, dtype=dtype, device=device)


def _from_factory(factory, batch: int, device) -> tuple[tuple, dict]:
    ref = factory.ref if isinstance(factory, Factory) else None
    make = resolve(ref) if ref else factory
    name = describe(factory) if ref else getattr(make, "__name__", repr(make))
    kwargs = dict(ref.kwargs) if ref else {}
    try:
        by_name, positional = _batch_slot(make, kwargs)
        if by_name:
            kwargs[by_name] = batch
        made = make(batch, **kwargs) if positional else make(**kwargs)
    except NetprobeError:
        raise
    except (Exception, SystemExit) as e:  # noqa: BLE001 - user code: any failure becomes one line
        raise NetprobeError(f"--inputs {name} raised {type(e).__name__}: {first_line(e)}; "
                            f"it must return {RETURNS}") from e
    return _structured(made, f"--inputs {name}", device)


def _batch_slot(make, kwargs: dict) -> tuple[str | None, bool]:
    """How the batch size is passed: (keyword name, None) or positionally; neither when it takes none."""
    try:
        params = inspect.signature(make).parameters.values()
    except (TypeError, ValueError):  # a builtin with no signature: called without the batch
        return None, False
    for p in params:
        if p.name in BATCH_PARAMS and p.name not in kwargs and p.kind is not p.POSITIONAL_ONLY:
            return p.name, False
    first = next(iter(params), None)
    required = first is not None and first.default is first.empty and first.name not in kwargs
    return None, required and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD)


def _structured(made, name: str, device) -> tuple[tuple, dict]:
    """(args, kwargs) of a tensor, a tuple (or list) of args, or an (args, kwargs) pair, moved to ``device``."""
    if isinstance(made, torch.Tensor):
        args, kwargs = (made,), {}
    elif (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], (tuple, list))
          and isinstance(made[1], dict)):
        args, kwargs = tuple(made[0]), dict(made[1])
    elif isinstance(made, (tuple, list)):
        args, kwargs = tuple(made), {}
    else:
        args, kwargs = None, None
    if args is None or not _holds_tensor((args, kwargs)):
        raise NetprobeError(f"{name} returned {type(made).__name__}" + ("" if args is None else " with no tensor in it")
                            + f"; it must return {RETURNS}")
    return _to(args, device), _to(kwargs, device)


def _holds_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(_holds_tensor(v) for v in value.values())
    return isinstance(value, (tuple, list)) and any(_holds_tensor(v) for v in value)


def _to(value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_to(v, device) for v in value)
    return value

