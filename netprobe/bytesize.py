"""Memory budgets: ``16GiB``, ``512MiB``, ``8GB``, ``1.5e9`` as integer bytes, and back.

``KiB``/``MiB``/``GiB``/``TiB`` are powers of 1024 (what ``torch.cuda.mem_get_info`` and
``nvidia-smi`` mean by a GPU's memory); ``kB``/``MB``/``GB``/``TB`` powers of 1000; ``B`` or no
unit is bytes. Units are read case-insensitively.
"""

from __future__ import annotations

import math
import re

from netprobe.errors import NetprobeError

UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
FORMS = "a positive number of bytes with an optional unit, e.g. 16GiB, 512MiB, 8GB or 1.5e9"
_SIZE = re.compile(r"(?P<num>(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?)\s*(?P<unit>[kmgt]i?b|b)?", re.IGNORECASE)


def parse_bytes(text: str) -> int:
    """Bytes of a memory budget such as ``16GiB``; anything else is a NetprobeError naming the accepted forms."""
    match = _SIZE.fullmatch(str(text).strip())
    if not match:
        raise NetprobeError(f"bad memory budget '{text}'; use {FORMS}")
    size = float(match["num"]) * UNITS[(match["unit"] or "").lower()]
    if not math.isfinite(size) or size < 1:
        raise NetprobeError(f"bad memory budget '{text}': must be at least 1 byte and finite; use {FORMS}")
    return int(size)


def format_bytes(n: float) -> str:
    """A short label in powers of 1024: 1.5GiB, 512MiB, 96KiB, 12B."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.4g}{unit}"
    return f"{n:.0f}B"
