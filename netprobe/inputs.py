"""Example inputs as data: shapes without the batch, each with a dtype, or a factory that makes them.

``3x224x224`` (one image), ``224x320`` (one 3-channel image), ``3x16x112x112`` (a clip),
``3x64x64,12`` (two inputs), ``int64:128`` (token ids), ``bool:1x32x32`` (a mask); in Python
also ``(3, 224, 224)`` and ``[(3, 64, 64), (12,)]``. ``--inputs package.module:make_inputs``
names a callable that returns the inputs (``mymod:make(seq=128)`` with literal keyword
arguments). This module parses without torch; ``inputs_torch`` materializes; commands and the
library reach both through ``models.inputs``, the one seam.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.errors import NetprobeError, first_line
from netprobe.refs import Ref, parse_ref

# dtype spelling -> (torch attribute, kind): kind decides how values are filled in.
DTYPES = {
    "float32": ("float32", "float"),   # the default
    "fp32":    ("float32", "float"),
    "float":   ("float32", "float"),
    "float16": ("float16", "float"),
    "fp16":    ("float16", "float"),
    "half":    ("float16", "float"),
    "bfloat16": ("bfloat16", "float"),
    "bf16":    ("bfloat16", "float"),
    "float64": ("float64", "float"),
    "double":  ("float64", "float"),
    "int64":   ("int64", "int"),       # token ids, class labels
    "long":    ("int64", "int"),
    "int32":   ("int32", "int"),
    "int16":   ("int16", "int"),
    "int8":    ("int8", "int"),
    "uint8":   ("uint8", "int"),       # raw images
    "bool":    ("bool", "bool"),       # masks
}
SHOWN_DTYPES = "float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool"
EXAMPLES = "3x224x224, 3x16x112x112, 3x64x64,12 or int64:128"


@dataclass(frozen=True)
class Input:
    """One example input: its shape without the batch and its dtype (a torch attribute name)."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    listed: bool = False  # a list of `batch` tensors of `shape` (detection models take images so)

    @property
    def kind(self) -> str:
        return next(kind for name, kind in DTYPES.values() if name == self.dtype)

    @property
    def text(self) -> str:
        dims = "x".join(map(str, self.shape))
        return dims if self.dtype == "float32" else f"{self.dtype}:{dims}"


@dataclass(frozen=True)
class Factory:
    """Inputs made by a callable: ``package.module:make_inputs``, called with the batch size if it takes one."""

    ref: Ref

    @property
    def text(self) -> str:
        return self.ref.text


def describe(inputs) -> str:
    """The description as a user would write it: ``3x64x64,int64:12``."""
    if isinstance(inputs, Factory):
        return inputs.text
    return ",".join(i.text for i in inputs)


def parse_input_size(value) -> tuple[Input, ...] | None:
    """Inputs from ``"3x64x64,int64:12"``, a tuple of ints, or a list of those; None stays None.

    A lone ``HxW`` without a dtype is one 3-channel image, as before; every other shape is taken as written.
    """
    if value is None:
        return None
    if isinstance(value, Input):
        return (value,)
    if isinstance(value, str):
        parts = value.split(",")
        found = tuple(_parse_one(p, value, k, len(parts)) for k, p in enumerate(parts, 1))
    elif _is_shape(value):
        found = (_checked(tuple(value), "float32", value),)
    elif isinstance(value, (tuple, list)) and value and all(_is_shape(v) or isinstance(v, (str, Input)) for v in value):
        found = tuple(i for v in value for i in parse_input_size(v))
    else:
        raise NetprobeError(f"bad input size {value!r}; give shapes without the batch such as {EXAMPLES}, "
                            "a tuple of ints or a list of them")
    if len(found) == 1 and len(found[0].shape) == 2 and found[0].dtype == "float32" and _bare(value):
        found = (Input((3, *found[0].shape)),)
    return found


def _bare(value) -> bool:
    """Whether a single shape was written without a dtype (``224x320``, ``(224, 320)``); inputs already
    parsed (``Input``) are taken as they are, so a description parsed twice stays what it was."""
    if isinstance(value, str):
        return ":" not in value
    if isinstance(value, Input) or (isinstance(value, (tuple, list)) and any(isinstance(v, Input) for v in value)):
        return False
    return True


def _is_shape(value) -> bool:
    return (isinstance(value, (tuple, list)) and bool(value)
            and all(isinstance(d, int) and not isinstance(d, bool) for d in value))


def _parse_one(part: str, whole: str, k: int, n: int) -> Input:
    where = f"input {k} of '{whole}'" if n > 1 else f"'{whole}'"
    text = part.strip().lower().replace("×", "x")
    if not text:
        raise NetprobeError(f"{where} is empty; separate shapes by single commas, such as {EXAMPLES}")
    dtype, sep, dims_text = text.rpartition(":")
    if sep and dtype not in DTYPES:
        raise NetprobeError(f"unknown dtype '{dtype}' in {where}; use one of {SHOWN_DTYPES}")
    if sep and not dims_text:
        raise NetprobeError(f"{where} has no shape after '{dtype}:'; give one, such as {dtype}:128")
    dims = dims_text.split("x")
    if not all(d.strip().isdigit() for d in dims):
        raise NetprobeError(f"bad shape '{dims_text}' in {where}: every dimension must be a number, "
                            f"joined by 'x', without the batch, such as {EXAMPLES}")
    return _checked(tuple(int(d) for d in dims), DTYPES[dtype][0] if sep else "float32", whole)


def _checked(shape: tuple[int, ...], dtype: str, whole) -> Input:
    if min(shape) < 1:
        raise NetprobeError(f"bad input size '{whole}': dimension {min(shape)} in {'x'.join(map(str, shape))}; "
                            "every dimension must be a positive integer")
    return Input(shape, dtype)


def parse_inputs_ref(text: str) -> Factory:
    """``--inputs package.module:make_inputs`` (or ``...:make_inputs(seq=128)``) as a Factory; nothing is imported."""
    return Factory(parse_ref(text, "make_inputs"))


def parse_inputs(input_size=None, inputs=None):
    """The one input description of a command or an API call: shapes, a Factory, ready tensors, or None.

    ``inputs``: a ``module:callable`` text, a callable, or ready tensors (a tensor, a tuple of
    args, ``(args, kwargs)``), handed on as they are; ``input_size``: what ``parse_input_size`` takes.
    """
    if input_size is not None and inputs is not None:
        raise NetprobeError("give --input-size or --inputs, not both")
    if isinstance(inputs, str):
        return parse_inputs_ref(inputs)
    if inputs is not None:
        return inputs
    return parse_input_size(input_size)


def rejected(model: str, inputs, error: BaseException) -> NetprobeError:
    """The error for inputs the model's forward refused: which inputs, and what the model said."""
    described = isinstance(inputs, Factory) or (
        isinstance(inputs, tuple) and bool(inputs) and all(isinstance(i, Input) for i in inputs))
    given = describe(inputs) if described else "the inputs given"
    return NetprobeError(f"{model} rejected inputs {given}: {type(error).__name__}: {first_line(error)}; "
                         "check --input-size (shapes without the batch) or --inputs")
