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


def fvcore_total(model, args) -> int:
    """fvcore's total for positional inputs (a tensor or a tuple of them: fvcore takes no keyword arguments)."""
    from fvcore.nn import FlopCountAnalysis

    flops = FlopCountAnalysis(model, args)
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return int(flops.total())


def ptflops_total(model, args) -> int:
    """ptflops' total for one positional input, handed to it through its ``input_constructor``."""
    from ptflops import get_model_complexity_info

    (x,) = args
    with contextlib.redirect_stdout(io.StringIO()) as out:
        macs, _ = get_model_complexity_info(model, tuple(x.shape[1:]), input_constructor=lambda _size: x,
                                            as_strings=False, print_per_layer_stat=False, backend="pytorch")
    if macs is None:
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else "ptflops failed")
    return int(macs)


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
    args, kwargs = example_inputs(real, s.input_size, 1, "cpu")
    runs = {"fvcore": lambda: fvcore_total(real, args), "ptflops": lambda: ptflops_total(real, args),
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
