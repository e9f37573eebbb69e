"""Counts under netprobe's convention (the RegNet paper's, see docs/conventions.md).

- ``params``: every parameter, BatchNorm's weight and bias included; buffers not.
- ``macs``: multiply-accumulates of convolution and linear layers, bias adds included, and,
  beyond the zoo, of matrix products, attention and recurrent layers (``analysis/ops.py``);
  everything else counts 0. The papers call these "flops"; 400MF means 400e6 MACs.
- ``acts``: output elements of every convolution, linear and max-pool layer, batch 1.
"""

from __future__ import annotations

from dataclasses import dataclass

CONVENTION = (
    "macs: conv/linear/matmul/attention/RNN multiply-accumulates incl. bias (BN, act, pool, mult, add = 0); "
    "params: all (BN incl.); acts: conv/linear/max-pool outputs; batch 1"
)


@dataclass(frozen=True)
class Counts:
    """Parameters, multiply-accumulates and activations of a layer, stage or network."""

    params: int = 0
    macs: int = 0
    acts: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.params + other.params, self.macs + other.macs, self.acts + other.acts)


def total(counts) -> Counts:
    """Sum of an iterable of Counts."""
    out = Counts()
    for c in counts:
        out = out + c
    return out
