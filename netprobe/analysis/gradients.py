"""Gradients of a product op as facts: each operand's gradient repeats the forward's product once.

Read by the spec's training count (``analysis.train``) and by the op-level pass (``analysis.train_pass``)
alike. No torch here.
"""

from __future__ import annotations

from netprobe.analysis.counters import (CALL_MATMUL, CALL_MATMUL_BIAS, MODULE_CONV, MODULE_CONV_BIAS, MODULE_LINEAR,
                                       MODULE_LINEAR_BIAS, MODULE_RNN, OP_ATTENTION, OP_CONV, OP_CONV_BIAS, OP_EINSUM,
                                       OP_EINSUM_FVCORE, OP_LINEAR, OP_LINEAR_BIAS, OP_MATMUL, OP_MATMUL_BIAS, OP_RNN,
                                       OP_RNN_BIAS, OP_RNN_CELL, OP_RNN_FUSED)

# (groups - 1) x a grouped conv's MACs, bias excluded: what FlopCounterMode adds to its weight gradient.
WGRAD_GROUPS = "train.conv_wgrad_groups"
# convention -> weight of the training-only facts (the forward's weights cover every other fact).
TRAIN_WEIGHTS = {"torch": {WGRAD_GROUPS: 2}}
# The product facts a gradient repeats, and the bias fact beside each (None: it has no bias).
# The op facts are what netprobe, fvcore and FlopCounterMode read; the module and call facts ptflops'.
PRODUCTS = {OP_CONV: OP_CONV_BIAS, OP_LINEAR: OP_LINEAR_BIAS, OP_MATMUL: OP_MATMUL_BIAS, OP_EINSUM: None,
            OP_EINSUM_FVCORE: None, OP_ATTENTION: None,
            OP_RNN: OP_RNN_BIAS, OP_RNN_FUSED: OP_RNN_BIAS, OP_RNN_CELL: OP_RNN_BIAS,
            MODULE_CONV: MODULE_CONV_BIAS, MODULE_LINEAR: MODULE_LINEAR_BIAS, CALL_MATMUL: CALL_MATMUL_BIAS,
            MODULE_RNN: None}
OP_PRODUCTS = (OP_CONV, OP_LINEAR, OP_MATMUL, OP_EINSUM, OP_ATTENTION, OP_RNN, OP_RNN_FUSED, OP_RNN_CELL)
BIASES = {b for b in PRODUCTS.values() if b}

def gradient_facts(facts, input_grads: int, weight_grad: bool, bias_grad: bool, groups: int = 1) -> dict[str, int]:
    """Backward facts of one product op: its product facts once per operand gradient, its bias facts
    once if the bias needs a gradient; ``input_grads`` counts the non-weight operands needing one."""
    items = facts.items() if isinstance(facts, dict) else facts
    out: dict[str, int] = {}
    passes = input_grads + int(weight_grad)
    for fact, n in items:
        k = passes if fact in PRODUCTS else int(bias_grad) if fact in BIASES else 0
        if k and n:
            out[fact] = out.get(fact, 0) + k * n
    if weight_grad and groups > 1:
        out[WGRAD_GROUPS] = (groups - 1) * dict(items).get(OP_CONV, 0)
    return {k: n for k, n in out.items() if n}
