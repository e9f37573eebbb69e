"""What a model is fed: one input description, made into the (args, kwargs) of a forward in one place.

A description is what ``netprobe.inputs`` parses, without torch: a tuple of ``Input`` (shapes of any
rank without the batch, each with a dtype: ``3x16x112x112``, ``3x64x64,12``, ``int64:128``), a
``Factory`` (``--inputs package.module:make_inputs``, called with the batch), or, from Python, a
callable or ready tensors. ``for_model`` says what a model runs on when nothing is given (a hub
task's default, else one 224 px image); ``example_inputs`` is the one place it becomes tensors
(``netprobe.inputs_torch``), for counting, bench, profile, ``--verify`` and a Ray worker alike.
Everything here is picklable, so a ``timing.targets.Target`` carries its description to a worker.
"""

from __future__ import annotations

from netprobe import hub
from netprobe.errors import NetprobeError
from netprobe.inputs import Factory, Input, describe, parse_inputs

DEFAULT_RESOLUTION = 224
DEFAULT_INPUTS = (Input((3, DEFAULT_RESOLUTION, DEFAULT_RESOLUTION)),)  # a model that names no input size
SPATIAL_RANK = 3  # an input of at least (C, H, W): its last two axes are H and W


def parse(input_size=None, inputs=None):
    """The description of ``--input-size`` or ``--inputs`` (or ``input_size=`` / ``inputs=``), checked before
    torch loads; None when neither is given. NetprobeError when malformed or when both are given."""
    return parse_inputs(input_size, inputs)


def made(description) -> bool:
    """Whether netprobe makes the description's tensors, at any batch: a factory or a callable."""
    return isinstance(description, Factory) or callable(description)


def at_any_batch(description) -> bool:
    """Whether the description gives inputs at any batch asked for: shapes, a factory or a callable (ready tensors
    hold one batch)."""
    return bool(shapes_of(description)) or made(description)


def as_summary_kwargs(description) -> dict:
    """The keyword ``summary`` takes a description by: ``inputs=`` for a factory or a callable, else
    ``input_size=`` (shapes, or None for the model's own input)."""
    return {"inputs": description} if made(description) else {"input_size": description}


def shapes_of(description) -> tuple[Input, ...] | None:
    """The Inputs of a description made of shapes, else None (a factory, a callable, ready tensors)."""
    if isinstance(description, tuple) and description and all(isinstance(i, Input) for i in description):
        return description
    return None


def text(description) -> str:
    """The description as a user would write it (``3x64x64,int64:12``, ``mymod:make_inputs``), for rows and titles."""
    if shapes_of(description) or isinstance(description, Factory):
        return describe(description)
    if callable(description):
        return getattr(description, "__qualname__", type(description).__name__)
    return "tensors given"


def at_resolution(description: tuple[Input, ...], resolution: int) -> tuple[Input, ...]:
    """The shapes with H and W (the last two axes of every float input of rank 3 or more) set to ``resolution``."""
    return tuple(Input((*i.shape[:-2], resolution, resolution), i.dtype, i.listed)
                 if len(i.shape) >= SPATIAL_RANK and i.kind == "float" else i for i in description)


def for_model(source, model, given=None, resolution: int | None = None) -> tuple[object, tuple[str, ...]]:
    """The description ``model`` (of ``source``) runs on, and notes: the user's (a hub task's in its form: a
    detector's list of images, two images for optical flow), else the model's own, else one 224 px image;
    ``resolution`` sets H and W of the default."""
    name = source.name
    hub_name, sep, rest = name.partition(":")
    own = sep and hub_name in hub.HUBS and source.factory is not None
    if given is not None:
        shapes = shapes_of(given)
        return (hub.adapt(hub_name, rest, shapes) if own and shapes else given), ()
    if own:
        found = hub.default_inputs(hub_name, rest, model)
        described, notes = found.inputs, (found.note,) if found.note else ()
    else:
        described, notes = DEFAULT_INPUTS, ()
    return (at_resolution(described, resolution) if resolution else described), notes


def main_shape(args: tuple, kwargs: dict) -> tuple[int, ...]:
    """The shape without the batch of the input a reader means by 'the input': the first tensor (the first
    image of a list), for the resolution columns and the output stride."""
    from netprobe.outputs import tensors

    found = tensors((args, kwargs))
    if not found:
        return ()
    listed = bool(args) and isinstance(args[0], (list, tuple))
    shape = tuple(found[0].shape)
    return shape if listed else shape[1:]


def resolution_of(shape: tuple[int, ...]) -> int:
    """The resolution column of an input: its height for a map (C, H, W) or a clip (C, T, H, W), 0 for no map."""
    return shape[-2] if len(shape) >= SPATIAL_RANK else 0


def example_inputs(model, inputs, batch: int, device, channels_last: bool = False) -> tuple[tuple, dict]:
    """The (args, kwargs) of a forward of ``model`` on ``inputs`` (a description) at ``batch`` on ``device``:
    random values, valid token ids below the model's vocabulary, or uninitialized ones on ``meta`` (where
    nothing is computed); a 4-D float input in channels-last memory format on request."""
    import torch

    from netprobe import inputs_torch

    module = model if isinstance(model, torch.nn.Module) else None
    args, kwargs = inputs_torch.example_inputs(inputs, batch, device, module)
    if not at_any_batch(inputs):
        _check_batch(args, batch)
    if channels_last:
        args = tuple(a.contiguous(memory_format=torch.channels_last)
                     if isinstance(a, torch.Tensor) and a.dim() == 4 and a.is_floating_point() else a for a in args)
    return args, kwargs


def _check_batch(args: tuple, batch: int) -> None:
    """Ready tensors are taken as they are: their batch must be the one asked for (a factory takes any)."""
    from netprobe.outputs import tensors

    found = tensors(args)
    listed = bool(args) and isinstance(args[0], (list, tuple))
    given = len(args[0]) if listed else found[0].shape[0] if found and found[0].dim() else None
    if given is not None and given != batch:
        raise NetprobeError(f"the ready inputs hold a batch of {given}, not {batch}; give tensors at batch {batch}, "
                            "or a factory (inputs=make_inputs) that takes the batch size")
