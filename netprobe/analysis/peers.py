"""``--verify``: the real fvcore, ptflops and torch ``FlopCounterMode`` on a model, beside netprobe's derivation.

Each tool runs a real forward pass (CPU, batch 1, random weights, ``eval()`` and
``torch.no_grad()``, as inference is counted) and is read through its own total. netprobe's
numbers come from ``analysis.conventions``; a difference is reported, never adjusted.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

from netprobe.analysis import conventions
from netprobe.analysis.summary import Summary
from netprobe.errors import NetprobeError, first_line
from netprobe.models.inputs import example_inputs
from netprobe.models.materialize import materialize
from netprobe.models.resolve import resolve

TOOLS = ("fvcore", "ptflops", "torch")


@dataclass(frozen=True)
class Check:
    """A real tool's total beside netprobe's derivation of it (``measured`` None: the tool failed)."""

    convention: str
    derived: int
    measured: int | None
    error: str = ""

    @property
    def exact(self) -> bool:
        return self.measured == self.derived


def fvcore_total(model, args, kwargs=None) -> int:
    """fvcore's total for positional inputs (a tensor or a tuple of them); fvcore takes no keyword arguments,
    so a model that needs some is refused with a message that says so."""
    from fvcore.nn import FlopCountAnalysis

    if kwargs:
        raise ValueError(f"fvcore passes no keyword arguments; the model takes {', '.join(kwargs)}")
    flops = FlopCountAnalysis(model, args)
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return int(flops.total())


def ptflops_total(model, args, kwargs=None) -> int:
    """ptflops' total for the inputs, handed to it through its ``input_constructor``: one tensor as is, else
    a dict of keyword arguments (positional ones bound to the names of the forward's parameters)."""
    from ptflops import get_model_complexity_info

    one = len(args) == 1 and not kwargs and hasattr(args[0], "shape")  # one tensor: handed on as is
    made = args[0] if one else _by_name(model, args, kwargs or {})
    size = tuple(args[0].shape[1:]) if one else (1,)  # ptflops only checks it is a tuple
    with contextlib.redirect_stdout(io.StringIO()) as out:
        macs, _ = get_model_complexity_info(model, size, input_constructor=lambda _size: made,
                                            as_strings=False, print_per_layer_stat=False, backend="pytorch")
    if macs is None:
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else "ptflops failed")
    return int(macs)


def _by_name(model, args: tuple, kwargs: dict) -> dict:
    """The forward's arguments as keywords, as ptflops' ``input_constructor`` hands a dict on."""
    import inspect

    bound = inspect.signature(model.forward).bind(*args, **kwargs)
    return dict(bound.arguments)


def torch_total(model, args, kwargs=None) -> int:
    """FlopCounterMode's total; attention through the math kernel, since on the CPU the flash
    kernel torch picks has no formula in FlopCounterMode (it has them for the CUDA kernels)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    args = args if isinstance(args, tuple) else (args,)
    with sdpa_kernel([SDPBackend.MATH]), counter:
        model(*args, **(kwargs or {}))
    return int(counter.get_total_flops())


def verify(model, s: Summary, names=TOOLS) -> list[Check]:
    """Run each named tool on a real copy of the model ``s`` describes; a failing tool is recorded."""
    import torch

    real = _real_model(model, s)
    args, kwargs = example_inputs(real, s.inputs, 1, "cpu")
    runs = {"fvcore": lambda: fvcore_total(real, args, kwargs), "ptflops": lambda: ptflops_total(real, args, kwargs),
            "torch": lambda: torch_total(real, args, kwargs)}
    facts = conventions.merged(s.layers)
    checks = []
    for name in names:
        derived = conventions.count(facts, conventions.convention(name))
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # fvcore and ptflops warn about what they skip
                checks.append(Check(name, derived, runs[name]()))
        except Exception as e:  # noqa: BLE001 - another tool's failure is a result, not a crash
            checks.append(Check(name, derived, None, f"{type(e).__name__}: {first_line(e, 120)}"))
    return checks


def _real_model(model, s: Summary):
    """The model ``s`` describes, built on the CPU with real weights (``models.materialize``)."""
    built = materialize(resolve(model), "cpu", "count").module
    if any(p.is_meta for p in built.parameters()):
        raise NetprobeError(f"--verify runs {s.model} for real; give a factory or a model with real weights, "
                            "not one on the meta device")
    return built.eval()
