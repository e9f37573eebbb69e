"""Other counters' numbers derived by netprobe: exact against the real fvcore, ptflops and FlopCounterMode."""

import math

import pytest
from torch import nn

from netprobe import registry
from netprobe.analysis import conventions
from netprobe.analysis.conventions import CONVENTIONS, FACTS, KINDS
from netprobe.analysis.counters import LEAVES, leaf_facts
from netprobe.analysis.measure import measure
from netprobe.analysis.summary import summary
from netprobe.errors import NetprobeError

NAMES = registry.names()
# One small member of each family beyond the core ones, checked against the real tools.
FAMILIES = ["seresnet18", "skresnet18", "resnest14d", "cbam_resnet18", "wrn_16_8", "mobilenetv2_050",
            "shufflenet_v2_x0_5", "shufflenetv1_g3_x0_5", "xception", "densenet121", "condensenet74_c8_g8"]
SMALL = ["regnetx_002", "regnety_002", "efficientnet_b0", "rexnet_1.0x", "resnet18"]
BIG = ["resnext50_32x4d", "regnety_032", "efficientnet_b3", "wide_resnet50_2"]
HAND = ["summary_models:tiny", "summary_models:subclassed_norms", "summary_models:uncountable",
        "summary_models:tiny_vit", "summary_models:mha", "summary_models:mha_seq_first",
        "summary_models:inception", "summary_models:shared",
        "summary_models:einsum"]


@pytest.mark.parametrize("name", NAMES)
def test_every_convention_is_its_facts_and_netprobes_is_todays_macs(name):
    s = summary(name)
    for layer in s.layers:
        assert conventions.count(layer.facts, CONVENTIONS["netprobe"]) == layer.counts.macs, layer.name
        assert all(fact in FACTS and n > 0 for fact, n in layer.facts), layer.name
    e = conventions.explain(s.layers)
    assert e.totals["netprobe"] == s.totals.macs
    for conv in CONVENTIONS:
        other = summary(name, convention=conv)
        assert other.totals.macs == e.totals[conv] == sum(e.by_kind[conv].values())
        assert sum(st.counts.macs for st in other.stages) == other.totals.macs
        assert (other.totals.params, other.totals.acts) == (s.totals.params, s.totals.acts)
    # torch: 2 FLOPs per MAC of conv and linear, no bias adds; every zoo bias is a conv's or linear's
    bias = e.by_kind["netprobe"]["bias"]
    assert e.totals["torch"] == 2 * (s.totals.macs - bias)
    assert e.totals["fvcore"] > s.totals.macs - bias  # it adds BatchNorm, never a bias


def test_kinds_split_the_difference_between_two_conventions_to_the_unit():
    e = conventions.explain(summary("regnety_002").layers)
    a, b = e.by_kind["netprobe"], e.by_kind["fvcore"]
    assert e.totals["fvcore"] - e.totals["netprobe"] == sum(b[k] - a[k] for k in KINDS)
    assert a["bias"] > 0 == b["bias"]  # fvcore counts no bias add
    assert b["norm"] == 2 * e.facts["op.batch_norm"]  # 2 per element of an affine BatchNorm in eval
    assert b["pooling"] == e.facts["op.adaptive_avg_pool2d"] > 0  # the SE squeeze
    p = e.by_kind["ptflops"]
    assert p["activation"] == e.facts["module.activation"] + e.facts["call.activation"] > 0  # ReLU: hook + F.relu


@pytest.mark.parametrize("bad", ["thop2", "FLOPS", ""])
def test_unknown_convention_is_one_line_listing_the_known_ones(bad):
    with pytest.raises(NetprobeError, match="unknown convention .*; choose from netprobe, fvcore, ptflops, torch"):
        summary("regnetx_002", convention=bad)


def _exact(model):
    from netprobe.analysis.peers import verify

    s = summary(model)
    checks = verify(model, s)
    assert [(c.convention, c.error) for c in checks] == [(t, "") for t in ("fvcore", "ptflops", "torch")]
    assert [c.measured for c in checks] == [c.derived for c in checks], model
    return checks


@pytest.mark.parametrize("name", SMALL)
def test_derived_equals_the_real_tools_on_small_members(name):
    _exact(name)


@pytest.mark.parametrize("name", FAMILIES)
def test_derived_equals_the_real_tools_on_a_member_of_each_other_family(name):
    _exact(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", BIG)
def test_derived_equals_the_real_tools_on_big_members(name):
    _exact(name)


@pytest.mark.parametrize("model", HAND)
def test_derived_equals_the_real_tools_on_any_module(model):
    """Subclassed norms (ptflops skips them), a matmul by a parameter, sdpa, '@' beside torch.matmul,
    '+' beside .add(), F.softmax, GELU, GroupNorm, LayerNorm, nn.Upsample and F.interpolate,
    nn.MultiheadAttention fused (fvcore and FlopCounterMode see one op they have no formula for) or not,
    a module shared by several parents (ptflops sums it once per parent), einsum (fvcore rounds it)."""
    _exact(model)


def test_tiny_vit_needs_every_source_of_facts():
    e = conventions.explain(summary("summary_models:tiny_vit").layers)
    for fact in ("op.attention", "op.norm", "op.upsample_bilinear2d", "module.norm", "module.upsample",
                 "call.softmax", "call.matmul", "call.elementwise", "call.upsample", "module.activation"):
        assert e.facts.get(fact, 0) > 0, fact
    assert e.by_kind["fvcore"]["matmul"] < e.by_kind["torch"]["matmul"] // 2  # fvcore has no sdpa formula
    assert any("scaled_dot_product_attention: fvcore has no formula" in n for n in e.notes)
    assert not any("MultiheadAttention" in n for n in e.notes)  # no note for what the model does not have


def test_a_zoo_member_in_any_convention_is_counted_without_torch():
    """What keeps ``summary efficientnet_b7 --convention fvcore`` as fast as the default: no model, no tool."""
    import subprocess
    import sys

    code = ("import sys; from netprobe.analysis.summary import summary; "
            "s = summary('efficientnet_b7', convention='fvcore'); assert s.totals.macs > 0; "
            "assert not any(m in sys.modules for m in ('torch', 'fvcore', 'ptflops')), 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("equation, shapes", [
    ("bij,bjk->bik", [(3, 5, 7), (3, 7, 11)]),
    ("bij,bjk", [(3, 5, 7), (3, 7, 11)]),  # implicit output
    ("B G H I D, B G H J D -> B G H I J", [(1, 2, 3, 49, 4), (1, 2, 3, 49, 4)]),
    ("bhid,bhjd->bhij", [(2, 4, 197, 64), (2, 4, 197, 64)]),
    ("abc,abd->acd", [(2, 3, 5), (2, 3, 7)]),  # fvcore's special case: exact
    ("ij,kj->ik", [(123, 457), (311, 457)]),
])
def test_fvcore_einsum_estimate_is_numpys_report_read_as_fvcore_reads_it(equation, shapes):
    import numpy as np
    import torch

    from netprobe.analysis.facts import _fvcore_einsum
    from netprobe.analysis.ops import _einsum

    arrays = [np.zeros(s) for s in shapes]
    eq = equation.replace(" ", "")
    letters = list(dict.fromkeys(c for c in eq if c.isalpha()))
    remapped = eq.translate({ord(c): 97 + i for i, c in enumerate(letters)})
    report = np.einsum_path(remapped, *arrays, optimize="optimal")[1]
    line = next(x for x in report.split("\n") if "optimized flop" in x.lower())
    fvcore = float(np.floor(float(line.split(":")[-1]) / 2))
    tensors = [torch.zeros(s) for s in shapes]
    macs = _einsum((equation, tensors), {}, torch.einsum(equation, *tensors)).macs
    expected = macs if remapped in ("abc,abd->acd", "abc,adc->adb") else fvcore
    assert _fvcore_einsum(equation, macs) == expected


@pytest.mark.parametrize("name", ["regnety_002", "efficientnet_b0"])
def test_per_stage_numbers_equal_the_real_tools_per_module(name):
    """Stages are modules of the built zoo model (stem, s1.., head): fvcore and FlopCounterMode report each."""
    import torch
    from fvcore.nn import FlopCountAnalysis
    from torch.utils.flop_counter import FlopCounterMode

    from netprobe.build import build

    model = build(registry.spec(name)).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        fv = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).by_module()
        counter = FlopCounterMode(display=False)
        with counter:
            model(x)
    per_module = counter.get_flop_counts()
    root = next(k for k in per_module if k != "Global" and "." not in k)
    for conv, measured in (("fvcore", lambda st: fv[st]),
                           ("torch", lambda st: sum(per_module[f"{root}.{st}"].values()))):
        s = summary(name, convention=conv)
        assert {st.name: st.counts.macs for st in s.stages} == {st.name: measured(st.name) for st in s.stages}, conv


LEAF_MODULES = {
    "Conv2d": lambda: nn.Conv2d(4, 6, 3, bias=True),
    "Linear": lambda: nn.Linear(5, 3),
    "BatchNorm2d": lambda: nn.BatchNorm2d(4),
    "ReLU": nn.ReLU, "ReLU6": nn.ReLU6, "SiLU": nn.SiLU, "Sigmoid": nn.Sigmoid, "Softmax": lambda: nn.Softmax(dim=1),
    "MaxPool2d": lambda: nn.MaxPool2d(3, 2, 1),
    "AvgPool2d": lambda: nn.AvgPool2d(3, 2, 1),
    "AdaptiveAvgPool2d": lambda: nn.AdaptiveAvgPool2d(1),
    "AdaptiveMaxPool2d": lambda: nn.AdaptiveMaxPool2d(1),
}


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_the_facts_cost_gives_a_leaf_are_those_the_op_level_pass_measures(leaf):
    """analysis.cost reads counters.LEAVES for the zoo; the op-level pass sees the real module."""
    layer = measure(LEAF_MODULES[leaf](), (5, 5), in_channels=4).layers[0]
    bias = math.prod(layer.out_shape) if layer.op in ("conv", "linear") else 0  # both have a bias here
    expected = leaf_facts(leaf, read=4 * 5 * 5, wrote=math.prod(layer.out_shape), macs=layer.counts.macs - bias,
                          bias=bias)
    assert dict(layer.facts) == {fact: n for fact, n in expected.items() if n}
