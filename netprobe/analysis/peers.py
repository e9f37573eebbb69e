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


def fvcore_total(model, x) -> int:
    from fvcore.nn import FlopCountAnalysis

    flops = FlopCountAnalysis(model, x)
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return int(flops.total())


def ptflops_total(model, input_size: tuple[int, ...]) -> int:
    from ptflops import get_model_complexity_info

    with contextlib.redirect_stdout(io.StringIO()) as out:
        macs, _ = get_model_complexity_info(model, tuple(input_size), as_strings=False, print_per_layer_stat=False,
                                            backend="pytorch")
    if macs is None:
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else "ptflops failed")
    return int(macs)


def torch_total(model, x) -> int:
    """FlopCounterMode's total; attention through the math kernel, since on the CPU the flash
    kernel torch picks has no formula in FlopCounterMode (it has them for the CUDA kernels)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with sdpa_kernel([SDPBackend.MATH]), counter:
        model(x)
    return int(counter.get_total_flops())


def verify(model, s: Summary, names=TOOLS) -> list[Check]:
    """Run each named tool on a real copy of the model ``s`` describes; a failing tool is recorded."""
    import torch

    real = _real_model(model, s)
    x = torch.randn(1, *s.input_size)
    runs = {"fvcore": lambda: fvcore_total(real, x), "ptflops": lambda: ptflops_total(real, s.input_size),
            "torch": lambda: torch_total(real, x)}
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
    from netprobe import loaders
    from netprobe.analysis.summary import _source

    source = _source(model)
    if source.net is not None:
        from netprobe.build import build

        built = build(source.net)
    else:
        built = loaders.instantiate(source, device="cpu")
    if any(p.is_meta for p in built.parameters()):
        raise NetprobeError(f"--verify runs {s.model} for real; give a factory or a model with real weights, "
                            "not one on the meta device")
    return built.eval()
