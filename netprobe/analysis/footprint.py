"""What torchinfo prints under its table, from a ``Summary``: trainable and frozen parameters, sizes in MB.

Sizes are in MB of 10^6 bytes, at the summary's dtype. The activation size is the layer
output bytes of ``summary.OUTPUT_BYTES_RULE``: every leaf layer's output, summed, once.
torchinfo's "forward/backward pass size" counts the same outputs twice (for the backward
pass); neither is a peak.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe.dtypes import DTYPE_BYTES

MB = 10**6


@dataclass(frozen=True)
class Footprint:
    """Parameters split by ``requires_grad``, and the bytes of parameters and of layer outputs."""

    trainable: int
    frozen: int
    params_bytes: int
    output_bytes: int


def frozen_params(model) -> int:
    """Parameters with ``requires_grad`` off: 0 for a zoo member (built trainable), counted for any module."""
    from netprobe import loaders

    if isinstance(model, str):
        source = loaders.load(model)
        if source.net is not None:
            return 0
        model = loaders.instantiate_for_counting(source)[0]  # built on the cpu where meta cannot
    if not hasattr(model, "parameters"):
        return 0  # a spec: netprobe builds every parameter trainable
    return sum(p.numel() for p in model.parameters() if not p.requires_grad)


def footprint(s, model) -> Footprint:
    """The footprint of summary ``s`` of ``model`` (the name, spec or module it was made from)."""
    frozen = frozen_params(model)
    return Footprint(trainable=s.totals.params - frozen, frozen=frozen,
                     params_bytes=s.totals.params * DTYPE_BYTES[s.dtype], output_bytes=s.output_bytes)
