"""No op is ever a silent 0: every aten op that runs is priced, free by the convention, or listed.

A dispatch mode records every op name a broad set of modules runs (one member of every zoo
family, and modules calling every family of functional op) and each must be in one of the
three lists: ``ops.FORMULAS``, ``free_ops.FREE``, or the known ops with no formula.
"""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import op_families
import recurrent_models
from netprobe import registry
from netprobe.analysis import free_ops, ops, rnn
from netprobe.analysis.measure import measure
from netprobe.build import build


class _Names(TorchDispatchMode):
    """Every op name that reaches the dispatcher."""

    def __init__(self):
        super().__init__()
        self.names = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(ops.op_name(func))
        return func(*args, **(kwargs or {}))


def _run(model, x) -> set[str]:
    names = _Names()
    with torch.inference_mode(), names:
        model.eval()(x)
    return names.names


def _unclassified(names) -> list[str]:
    return sorted(n for n in names if "::" not in n and not ops.classified(n))


def _one_per_family() -> list[str]:
    first = {}
    for name in registry.names():
        first.setdefault(registry.entry(name).family, name)
    return sorted(first.values())


@pytest.mark.parametrize("name", _one_per_family())
def test_every_op_of_every_zoo_family_is_classified(name):
    net = registry.spec(name)
    size = min(net.resolution, 64)
    assert _unclassified(_run(build(net, "meta"), torch.empty(1, 3, size, size, device="meta"))) == []


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("family", op_families.FAMILIES, ids=lambda f: f.__name__)
def test_every_functional_op_family_is_classified(family, device):
    make = torch.empty if device == "meta" else torch.randn
    seen = _run(family().to(device), make(1, 3, 8, 8, device=device))
    assert len(seen) > 3
    assert _unclassified(seen) == []


@pytest.mark.parametrize("name", recurrent_models.VERIFIED + ("packed_lstm", "packed_gru"))
def test_every_recurrent_op_is_classified_and_priced(name):
    seen = _run(getattr(recurrent_models, name)().to("meta"), torch.empty(1, 3, 8, 6, device="meta"))
    assert _unclassified(seen) == []
    assert seen & set(rnn.READERS)


def test_norms_of_every_kind_are_free_and_never_listed():
    measured = measure(op_families.Norms(), (8, 8))
    assert dict(measured.unsupported) == {}
    for name in ("linalg_vector_norm", "norm", "rms_norm", "group_norm", "layer_norm", "batch_norm", "renorm"):
        assert free_ops.is_free(name) and not ops.has_no_formula(name), name


def test_arithmetic_with_no_formula_is_listed_with_its_count():
    measured = measure(op_families.Geometry(), (8, 8))
    listed = dict(measured.unsupported)
    assert listed["aten.cdist"] == 1 and listed["aten.fft_rfft2"] == 1 and listed["aten.linalg_solve"] == 1
    assert "aten.linalg_vector_norm" not in listed


def test_an_op_in_no_list_is_listed_not_free():
    """Default deny: an op nobody classified is reported as not counted."""
    assert ops.has_no_formula("some_op_torch_adds_next_year")
    assert not ops.classified("some_op_torch_adds_next_year")
    assert not ops.has_no_formula("relu") and not ops.has_no_formula("conv2d")


def test_the_free_families_do_not_overlap_the_priced_ops():
    assert not (free_ops.ALL & set(ops.FORMULAS))
    names = [n for family in free_ops.FREE.values() for n in family]
    assert len(names) == len(set(names)), "an op listed in two families"


@pytest.mark.parametrize("bias", [False, True])
def test_every_conv_kernel_reads_its_bias_where_its_signature_has_it(bias):
    """Kernels that take kernel_size before the bias (thnn, slow, depthwise) price what conv2d prices."""
    x, w = torch.randn(1, 4, 8, 8), torch.randn(4, 1, 3, 3)
    b = torch.randn(4) if bias else None
    full = torch.randn(4, 4, 3, 3)
    base = ops.formula("conv2d")((x, full, b), {}, torch.ops.aten.conv2d(x, full, b))
    depthwise = ops.formula("conv2d")((x, w, b, [1, 1], [0, 0], [1, 1], 4), {},
                                      torch.ops.aten.conv2d(x, w, b, [1, 1], [0, 0], [1, 1], 4))
    calls = {
        "thnn_conv2d": ((x, full, [3, 3], b), base),
        "_slow_conv2d_forward": ((x, full, [3, 3], b, [1, 1], [0, 0]), base),
        "slow_conv_dilated2d": ((x, full, [3, 3], b), base),
        "_conv_depthwise2d": ((x, w, [3, 3], b, [1, 1], [0, 0], [1, 1]), depthwise),
    }
    out = torch.empty(1, 4, 6, 6)  # every call's output: stride 1, no padding (some run on CUDA only)
    for name, (args, expected) in calls.items():
        cost = ops.formula(name)(args, {}, out)
        assert (cost.macs, cost.bias) == (expected.macs, expected.bias), name
    assert (base.bias > 0) == bias
