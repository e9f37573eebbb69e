"""What torchinfo prints under its table, from a ``Summary``: trainable and frozen parameters, and sizes.

Sizes are bytes at the summary's dtype (the tables show them in binary units). The activation size is the layer
output bytes of ``summary.OUTPUT_BYTES_RULE``: every leaf layer's output, summed, once.
torchinfo's "forward/backward pass size" counts the same outputs twice (for the backward
pass); neither is a peak.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.dtypes import DTYPE_BYTES

@dataclass(frozen=True)
class Footprint:
    """Parameters split by ``requires_grad``, and the bytes of parameters and of layer outputs."""

    trainable: int
    frozen: int
    params_bytes: int
    output_bytes: int


def footprint(s) -> Footprint:
    """The footprint of summary ``s``: its parameters split by ``requires_grad``, and the sizes in bytes."""
    frozen = s.frozen_params
    return Footprint(trainable=s.totals.params - frozen, frozen=frozen,
                     params_bytes=s.totals.params * DTYPE_BYTES[s.dtype], output_bytes=s.output_bytes)
