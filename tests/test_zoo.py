"""Every registered member: analytic == built == measured, and == the reference data."""

import math
from collections import Counter
from typing import get_args

import pytest
import torch

from conftest import read_csv
from netprobe import registry
from netprobe.analysis.cost import LAYERS, net_layers, unit_layers
from netprobe.analysis.measure import measure
from netprobe.build import MODULES, build
from netprobe.build import unit_module as build_unit
from netprobe.counts import total
from netprobe.families.regnet import REGNETS, stage_widths_depths
from netprobe.families.rounding import compatible_widths, make_divisible
from netprobe.spec import Act, Block, Conv, MaxPool, Norm, Unit

NAMES = registry.names()
GOLDEN = {r["model"]: r for r in read_csv("golden.csv")}
ROUNDED = {r["model"]: r for r in read_csv("published_rounded.csv")}
# The ResNet variants' reference rows (output_stride empty: the native network).
VARIANTS_GOLDEN = {r["model"]: r for r in read_csv("golden_variants.csv") if not r["output_stride"]}
VARIANTS_ROUNDED = {r["model"]: r for r in read_csv("published_variants.csv") if not r["output_stride"]}


def totals(name):
    net = registry.spec(name)
    return net, total(layer.counts for layer in net_layers(net))


CORE = ("regnetx", "regnety", "efficientnet", "resnet", "resnext", "wide_resnet", "rexnet")
VARIANTS = ("seresnet", "seresnext", "skresnet", "skresnext", "resnest", "cbam_resnet", "wrn_cifar")


def test_registry_has_every_seed_family_member():
    assert len(registry.resolve(",".join(CORE))) == 47
    assert set(ROUNDED) == set(registry.resolve(",".join(CORE)))
    assert set(VARIANTS_ROUNDED) == set(registry.resolve(",".join(VARIANTS)))


@pytest.mark.parametrize("name", NAMES)
def test_analytic_equals_measured_layer_by_layer(name):
    net, t = totals(name)
    model = build(net, "meta")
    measured = measure(model, (net.resolution, net.resolution))
    assert not measured.unsupported
    # a multiset: a module called twice (CBAM's shared MLP) is two layers of one name
    analytic = Counter((layer.name, layer.counts, layer.out_shape) for layer in net_layers(net))
    hooked = Counter((layer.name, layer.counts, layer.out_shape) for layer in measured.layers)
    assert analytic == hooked, (analytic - hooked, hooked - analytic)
    # what the other conventions count, and the attention unit each layer is labelled a part of
    facts = Counter((layer.name, layer.facts, layer.unit) for layer in net_layers(net))
    assert facts == Counter((layer.name, layer.facts, layer.unit) for layer in measured.layers)
    assert sum(p.numel() for p in model.parameters()) == t.params


@pytest.mark.parametrize("name", sorted(GOLDEN) + sorted(VARIANTS_GOLDEN))
def test_golden_exact(name):
    net, t = totals(name)
    ref = GOLDEN.get(name) or VARIANTS_GOLDEN[name]
    assert net.resolution == int(ref["resolution"])
    assert (t.params, t.macs, t.acts) == (int(ref["params"]), int(ref["macs"]), int(ref["acts"]))


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


@pytest.mark.parametrize("name", sorted(ROUNDED) + sorted(VARIANTS_ROUNDED))
def test_published_rounded(name):
    net, t = totals(name)
    ref = ROUNDED.get(name) or VARIANTS_ROUNDED[name]
    assert net.resolution == int(ref["resolution"])
    assert sig3(t.params / 1e6) == pytest.approx(float(ref["params_m"]))
    assert sig3(t.macs / 1e9) == pytest.approx(float(ref["gmacs"]))
    if ref["acts_m"]:  # CBAM's references give no activations
        assert sig3(t.acts / 1e6) == pytest.approx(float(ref["acts_m"]))


@pytest.mark.parametrize("name", NAMES)
def test_forward_small_input(name):
    torch.manual_seed(0)
    net = registry.spec(name)
    model = build(net).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, dict(net.head)["fc"].w_out)
    assert torch.isfinite(out).all()


def test_module_names_read_like_the_paper():
    model = build(registry.spec("regnety_004"), "meta")
    names = dict(model.named_modules())
    assert {"stem", "s1", "s4", "head", "s1.b1", "s1.b1.se", "s1.b1.proj", "head.fc"} <= names.keys()
    assert "s5" not in names


def test_regnetx_400mf_stages_match_pycls():
    cfg = REGNETS["regnetx_004"]
    stages = stage_widths_depths(cfg.w_a, cfg.w_0, cfg.w_m, cfg.d)
    widths = [compatible_widths(w, cfg.group_w)[0] for w, _ in stages]
    assert (widths, [d for _, d in stages]) == ([32, 64, 160, 384], [1, 2, 7, 12])


def test_regnetx_8gf_group_width_clamped_to_stage_width():
    cfg = REGNETS["regnetx_080"]
    w, depth = stage_widths_depths(cfg.w_a, cfg.w_0, cfg.w_m, cfg.d)[0]
    assert (w, cfg.group_w) == (80, 120)
    assert compatible_widths(w, cfg.group_w) == (80, 80)
    first = registry.spec("regnetx_080").stages[0].blocks[0]
    conv_b = dict(first.units)["b"]
    assert (conv_b.w_out, conv_b.groups) == (80, 1)


@pytest.mark.parametrize("v", [3.0, 16.0, 35.2, 44.8, 100.0, 1000.0])
def test_make_divisible_is_a_multiple_and_never_below_90_percent(v):
    d = make_divisible(v)
    assert d % 8 == 0 and d >= 0.9 * v and abs(d - v) <= 8


def test_every_member_native_resolution():
    expected = dict(zip([f"efficientnet_b{i}" for i in range(8)], [224, 240, 260, 300, 380, 456, 528, 600]))
    expected |= {"resnest101e": 256, "resnest200e": 320, "resnest269e": 416, "xception": 299}
    expected |= {name: 32 for name in registry.resolve("wrn_cifar")}
    for name in NAMES:
        assert registry.spec(name).resolution == expected.get(name, 224)


def test_regnet_widths_divisible_by_group_width():
    for name in registry.resolve("regnetx,regnety"):
        for stage in registry.spec(name).stages:
            for block in stage.blocks:
                b = dict(block.units)["b"]
                assert b.w_in % b.groups == 0
                assert math.gcd(b.w_out, b.w_out // b.groups) == b.w_out // b.groups


@pytest.mark.parametrize("row", read_csv("torchvision_pycls_params.csv"), ids=lambda r: r["model"])
def test_exact_params_published_by_torchvision_and_pycls(row):
    assert totals(row["model"])[1].params == int(row["params"])


def test_regnet_table_equals_reference_design_params():
    for row in read_csv("regnet_design_params.csv"):
        cfg = REGNETS[row["model"]]
        got = (cfg.d, cfg.w_0, cfg.w_a, cfg.w_m, cfg.group_w, cfg.se)
        assert got == (int(row["depth"]), int(row["w0"]), float(row["wa"]), float(row["wm"]),
                       int(row["group_w"]), float(row["se"]) > 0), row["model"]


def test_build_with_other_classes_and_resolution():
    net = registry.spec("regnetx_002")
    model = build(net, num_classes=10).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 96, 128)).shape == (1, 10)
    # the classifier shrinks from 368 x 1000 (+ bias) to 368 x 10 (+ bias); nothing else changes
    assert sum(p.numel() for p in model.parameters()) == totals("regnetx_002")[1].params - 990 * (368 + 1)
    stem = net_layers(net, 112)[0]
    assert stem.out_shape == (32, 56, 56) and stem.counts.macs == 3 * 3 * 3 * 32 * 56 * 56


def test_build_and_cost_have_one_row_for_every_unit_type():
    """A unit type is a dataclass of the Unit union plus one row in each reader's table."""
    assert set(MODULES) == set(get_args(Unit)) == set(LAYERS)


def test_units_take_keyword_arguments_only_and_declare_their_widths():
    with pytest.raises(TypeError):
        Conv(8, 8, 3)  # positional arguments once set a bias by accident
    conv = Conv(w_in=8, w_out=16, kernel=3, groups=2, bn=True, act="relu")
    block = Block((("pool", MaxPool()), ("norm", Norm(w=8)), ("conv", conv), ("act", Act(kind="relu"))))
    assert (block.w_in, block.w_out) == (8, 16)
    with pytest.raises(ValueError, match="no width"):
        Block((("pool", MaxPool()),)).w_in


@pytest.mark.parametrize("unit, modules", [
    (Conv(w_in=4, w_out=4, kernel=3), ["u"]),
    (Conv(w_in=4, w_out=4, bn=True), ["u", "u.conv", "u.bn"]),
    (Conv(w_in=4, w_out=4, groups=2, bn=True, act="relu", shuffle=True), ["u", "u.conv", "u.bn", "u.act"]),
    (Norm(w=4), ["u"]),
    (Norm(w=4, act="relu"), ["u", "u.bn", "u.act"]),
])
def test_a_unit_with_one_leaf_is_that_leaf_and_one_with_more_names_them(unit, modules):
    built = [f"u.{n}" if n else "u" for n, _ in build_unit(unit).named_modules()]
    assert built == modules
    leaves = modules[1:] or modules
    assert [layer.name for layer in unit_layers("u", "s1", unit, 4, (8, 8))[0]] == leaves
