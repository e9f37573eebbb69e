"""Compute budgets: ``400MF``, ``1.6GF``, ``0.4G``, ``400M``, ``4e8`` as integer MACs, and back.

A budget counts multiply-accumulates, as the papers' "flops" do (``netprobe.counts``):
``400MF`` is 400e6 MACs. The ``F`` is optional; ``k``, ``M``, ``G``, ``T`` are powers of 1000.
"""

from __future__ import annotations

import math
import re

from netprobe.errors import NetprobeError

UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
FORMS = "a positive number with an optional k/M/G/T[F] suffix, e.g. 400MF, 1.6GF, 0.4G, 400M or 4e8"
MIN_MACS, MAX_MACS = 10**4, 10**15  # a budget outside 10kF..1000TF is a typo (400 meant as 400MF), not a network
_BUDGET = re.compile(r"(?P<num>(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?)\s*(?P<unit>([kmgt])f?)?", re.IGNORECASE)


def parse_budget(text: str) -> int:
    """MACs of one budget such as ``400MF``; anything else is a NetprobeError naming the accepted forms."""
    match = _BUDGET.fullmatch(str(text).strip())
    if not match:
        raise NetprobeError(f"bad budget '{text}'; use {FORMS}")
    unit = (match["unit"] or "").lower().rstrip("f")
    macs = float(match["num"]) * UNITS[unit]
    if not math.isfinite(macs):
        raise NetprobeError(f"bad budget '{text}': too large to count; use {FORMS}")
    if round(macs) < 1:
        raise NetprobeError(f"bad budget '{text}': must be at least 1 MAC; use {FORMS}")
    if not unit and macs < MIN_MACS:
        raise NetprobeError(f"bad budget '{text}': a bare number counts MACs, and {text.strip()} MACs is no network; "
                            f"did you mean {match['num']}MF? use {FORMS}")
    if not MIN_MACS <= macs <= MAX_MACS:
        raise NetprobeError(f"bad budget '{text}': {macs:.3g} MACs is outside the plausible range "
                            f"{format_budget(MIN_MACS)} to {format_budget(MAX_MACS)}; use {FORMS}")
    return int(round(macs))


def parse_budgets(text: str) -> list[tuple[str, int]]:
    """(label as typed, MACs) of each budget in a comma list, repeats dropped."""
    out: dict[int, str] = {}
    for part in str(text).split(","):
        if not part.strip():
            raise NetprobeError(f"bad budget list '{text}': empty item; use comma-separated budgets such as 400MF,1.6GF")
        macs = parse_budget(part)
        out.setdefault(macs, part.strip().replace(" ", ""))
    return [(label, macs) for macs, label in out.items()]


def format_budget(macs: float) -> str:
    """The short paper-style label of a budget: 400MF, 1.6GF, 12GF (4 significant digits)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if macs >= scale:
            return f"{macs / scale:.4g}{unit}F"
    return f"{macs:.4g}"


def nearest(macs: dict[str, int], budget: int) -> str:
    """The name whose MACs are nearest the budget in log distance (a tie goes to the first in sort order)."""
    return min(macs, key=lambda name: (abs(math.log(macs[name] / budget)), name))
