"""Data types by their short names, with element sizes (no torch import)."""

from __future__ import annotations

from netprobe.errors import NetprobeError

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
_ALIASES = {"float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}


def parse_dtype(dtype: str) -> str:
    """``fp32``, ``fp16`` or ``bf16`` from any common spelling (``float16``, ``BF16``...)."""
    key = str(dtype).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DTYPE_BYTES:
        raise NetprobeError(f"unknown dtype '{dtype}'; use one of {', '.join(DTYPE_BYTES)}")
    return key
