"""Every rounding rule of the zoo, in one place, each with whose rule it is.

Python's ``round`` rounds half to even, as numpy's does; the reference code uses numpy.
"""

from __future__ import annotations

import math


def quantize(w: float, q: int) -> int:
    """Nearest multiple of q (pycls ``generate_regnet``: widths in multiples of 8)."""
    return int(round(w / q)) * q


def compatible_widths(w: int, group_w: int) -> tuple[int, int]:
    """Clamp the group width to the block width, then make the width a multiple of it.

    pycls ``adjust_block_compatibility`` with bottleneck multiplier 1. This is how
    RegNetX-8.0GF's first stage (width 80, group width 120) becomes groups of 80.
    """
    group_w = min(group_w, w)
    return max(group_w, quantize(w, group_w)), group_w


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Nearest multiple of divisor, never below 90% of v (TF / torchvision ``_make_divisible``).

    timm's ``make_divisible`` adds a floor (``min_value``, ResNeSt's 32) and a ``round_limit``
    (0 for timm's SE modules: never bumped up).
    """
    new_v = max(min_value or divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def scale_depth(d: int, depth_mult: float) -> int:
    """Depth rounded up (EfficientNet ``round_repeats``, ReXNet ``ceil``)."""
    return int(math.ceil(d * depth_mult))


def scale_group_w(g: float) -> int:
    """A scaled group width, rounded as pycls ``scale_model`` rounds it: 1, 2, 4 or a multiple of 8."""
    g = max(1, round(g))
    return g if g <= 2 else 4 if g <= 5 else round(g / 8) * 8
