"""The mobile and dense families: exact against timm/torchvision, within tolerance of the papers.

Every member is also in test_zoo's registry-wide checks (analytic == built == measured).
"""

import math

import pytest
import torch

from conftest import read_csv
from netprobe import registry
from netprobe.analysis.cost import net_layers, net_totals
from netprobe.analysis.measure import measure
from netprobe.build import build
from netprobe.unit_modules import channel_shuffle
from netprobe.families.scaling_mobile import MOBILE_GENERATORS
from netprobe.spec import Block, Concat

REFERENCE = {r["model"]: r for r in read_csv("reference_mobile.csv")}
GOLDEN = {r["model"]: r for r in read_csv("golden_mobile.csv")}
PUBLISHED = {r["model"]: r for r in read_csv("published_mobile.csv")}
PAPER = {r["model"]: r for r in read_csv("paper_mobile.csv")}
SHUFFLENET_TABLE1 = read_csv("shufflenetv1_table1.csv")
FAMILIES = ("mobilenetv1", "mobilenetv2", "shufflenetv1", "shufflenetv2", "xception", "densenet", "condensenet")


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


def test_every_member_the_issue_names_is_registered():
    expected = {f"mobilenetv1_{w}" for w in ("025", "050", "075", "100", "125")}
    expected |= {f"mobilenetv2_{w}" for w in ("035", "050", "075", "100", "140")}
    expected |= {f"shufflenetv1_g{g}_x{s}" for g in (1, 2, 3, 4, 8) for s in ("0_5", "1_0", "1_5", "2_0")}
    expected |= {f"shufflenet_v2_{s}" for s in ("x0_5", "x1_0", "x1_5", "x2_0")}
    expected |= {"xception", "densenet121", "densenet161", "densenet169", "densenet201"}
    expected |= {"condensenet74_c4_g4", "condensenet74_c8_g8"}
    assert set(registry.resolve(",".join(FAMILIES))) == expected
    assert set(FAMILIES) <= set(registry.FAMILIES)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_exact_against_the_reference_implementation(name):
    """Counts of the timm/torchvision module itself, measured (scripts/reference_counts.py)."""
    net, ref = registry.spec(name), REFERENCE[name]
    t = net_totals(net)
    assert net.resolution == int(ref["resolution"])
    assert (t.params, t.macs, t.acts) == (int(ref["params"]), int(ref["macs"]), int(ref["acts"])), ref["source"]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_exact(name):
    t, ref = net_totals(registry.spec(name)), GOLDEN[name]
    assert (t.params, t.macs, t.acts) == (int(ref["params"]), int(ref["macs"]), int(ref["acts"]))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_rounded(name):
    net, ref = registry.spec(name), PUBLISHED[name]
    t = net_totals(net)
    assert net.resolution == int(ref["resolution"])
    assert (sig3(t.params / 1e6), sig3(t.macs / 1e9), sig3(t.acts / 1e6)) == \
           (float(ref["params_m"]), float(ref["gmacs"]), float(ref["acts_m"]))


def authors_condensenet_count(name: str) -> int:
    """MACs as CondenseNet's own ``measure_model`` counts them, from netprobe's layers.

    That counter adds what netprobe's convention leaves out: one op per ReLU input element,
    k*k per average-pool output, and the classifier before condensing (all its inputs).
    """
    ops = 0
    for layer in net_layers(registry.spec(name)):
        if layer.op == "act":
            ops += math.prod(layer.out_shape)
        elif layer.op == "avgpool":
            c, *hw = layer.out_shape
            ops += c * 49 if not hw else 4 * c * math.prod(hw)  # global pool is a 7x7 window; transitions 2x2
        elif layer.op == "linear":
            w_in = 2 * layer.w_in  # the condensed classifier keeps half of its inputs
            ops += w_in * layer.out_shape[0] + layer.out_shape[0]
        else:
            ops += layer.counts.macs
    return ops


def near_paper(value: float, printed: str, tol: float) -> bool:
    """Within ``tol`` of a paper's figure, which stands for anything that rounds to it as printed.

    MobileNet's Table 6 prints 0.25 MobileNet's 0.47M parameters as "0.5".
    """
    decimals = len(printed.partition(".")[2])
    return abs(value - float(printed)) <= tol * float(printed) + 0.5 * 10 ** -decimals


@pytest.mark.parametrize("name", sorted(PAPER))
def test_within_the_papers_tolerance(name):
    row = PAPER[name]
    tol = float(row["tolerance_pct"]) / 100
    t = net_totals(registry.spec(name))
    macs = authors_condensenet_count(name) if name.startswith("condensenet") else t.macs
    assert near_paper(macs / 1e6, row["paper_mmacs"], tol), macs
    if row["paper_params_m"]:
        assert near_paper(t.params / 1e6, row["paper_params_m"], tol), t.params


@pytest.mark.parametrize("row", SHUFFLENET_TABLE1, ids=lambda r: r["model"])
def test_shufflenetv1_group_counts_match_table_1_complexity(row):
    macs = net_totals(registry.spec(row["model"])).macs
    assert near_paper(macs / 1e6, row["paper_mmacs"], float(row["tolerance_pct"]) / 100), macs


def test_condensenet_counts_less_than_its_authors_by_what_the_convention_leaves_out():
    for name in ("condensenet74_c4_g4", "condensenet74_c8_g8"):
        layers = net_layers(registry.spec(name))
        relu = sum(math.prod(layer.out_shape) for layer in layers if layer.op == "act")
        assert 0 < net_totals(registry.spec(name)).macs < authors_condensenet_count(name) - relu


def test_densenet_shows_its_four_dense_blocks_as_four_stages():
    net = registry.spec("densenet121")
    assert [sum(isinstance(b, Concat) for b in st.blocks) for st in net.stages] == [6, 12, 24, 16]
    # the transitions open s2..s4
    assert [isinstance(st.blocks[0], Block) for st in net.stages] == [False, True, True, True]
    heights = {layer.stage: layer.out_shape[1] for layer in net_layers(net) if len(layer.out_shape) == 3}
    assert [heights[s] for s in ("s1", "s2", "s3", "s4")] == [56, 28, 14, 7]


@pytest.mark.parametrize("name, strides", [
    ("mobilenetv1_100", [2, 4, 8, 16, 32]),
    ("mobilenetv2_100", [2, 4, 8, 16, 32]),
    ("shufflenet_v2_x1_0", [8, 16, 32]),
    ("shufflenetv1_g3_x1_0", [8, 16, 32]),
    ("condensenet74_c4_g4", [2, 4, 8, 16, 32]),
])
def test_mobile_stages_by_output_stride(name, strides):
    layers = net_layers(registry.spec(name))
    last = {layer.stage: layer.out_shape[1] for layer in layers if len(layer.out_shape) == 3}
    assert [224 // last[f"s{i}"] for i in range(1, len(strides) + 1)] == strides


def kinds(name: str) -> list[str]:
    return [layer.kind for layer in net_layers(registry.spec(name))]


def test_kinds_read_like_the_papers():
    assert "gconv1x1 g=3 + shuffle" in kinds("shufflenetv1_g3_x1_0")
    assert "dwconv3x3 (depthwise) /2" in kinds("mobilenetv1_100")
    assert "gconv1x1 g=4 (condensed) + shuffle" in kinds("condensenet74_c4_g4")
    assert "dwconv3x3 (depthwise)" in kinds("xception")
    assert kinds("densenet121").count("concat (dense, k=32)") == 6 + 12 + 24 + 16
    assert kinds("shufflenet_v2_x1_0").count("concat + shuffle g=2") == 16


def test_shufflenetv1_first_pointwise_conv_of_stage2_is_not_grouped():
    layers = {layer.name: layer for layer in net_layers(registry.spec("shufflenetv1_g8_x1_0"))}
    assert layers["s1.b1.branch.gconv1.conv"].groups == 1
    assert layers["s1.b2.gconv1.conv"].groups == 8
    assert layers["s2.b1.branch.gconv1.conv"].groups == 8
    # the stride-2 unit concatenates a 3x3 average-pooled shortcut: 24 + 360 = 384 channels
    assert layers["s1.b1.shortcut.pool"].out_shape == (24, 28, 28)
    assert layers["s1.b1.branch.gconv2.conv"].out_shape == (360, 28, 28)


def test_shufflenetv1_widths_follow_table_1_at_1x():
    for g, widths in {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
                      4: (272, 544, 1088), 8: (384, 768, 1536)}.items():
        assert registry.spec(f"shufflenetv1_g{g}_x1_0").design["stage_w"] == widths


def test_channel_shuffle_interleaves_the_groups():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_dense_layer_concatenates_its_growth_onto_the_input():
    model = build(registry.spec("densenet121")).eval()
    layer = model.s1.b1
    x = torch.randn(1, 64, 8, 8)
    with torch.inference_mode():
        y = layer(x)
    assert y.shape == (1, 96, 8, 8)
    assert torch.equal(y[:, :64], x)  # the input passes on unchanged


@pytest.mark.parametrize("name", ["condensenet74_c8_g8", "shufflenetv1_g3_x0_5", "xception"])
def test_other_classifier_widths_build_and_run(name):
    model = build(registry.spec(name), num_classes=10).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 96, 96)).shape == (1, 10)
    full = net_totals(registry.spec(name)).params
    fc = next(layer for layer in net_layers(registry.spec(name)) if layer.op == "linear")
    assert sum(p.numel() for p in model.parameters()) == full - 990 * (fc.w_in + 1)


@pytest.mark.parametrize("budget, family", [
    ("200MF", "mobilenetv1"), ("300MF", "mobilenetv2"), ("100MF", "shufflenetv2"), ("150MF", "shufflenetv1"),
])
def test_issue_generators_land_within_2pct(budget, family):
    from netprobe.budget import parse_budget

    net = registry.spec(f"{family}@{budget}")
    assert net.family == family
    assert abs(net_totals(net).macs / parse_budget(budget) - 1) <= 0.02


@pytest.mark.parametrize("family", MOBILE_GENERATORS)
@pytest.mark.parametrize("budget", ["60MF", "1.6GF"])
def test_generated_members_count_the_same_built_and_measured(family, budget):
    from netprobe.budget import parse_budget

    net = registry.spec(f"{family}@{budget}")
    layers = net_layers(net)
    assert abs(net_totals(net).macs / parse_budget(budget) - 1) <= 0.02
    model = build(net, "meta")
    measured = measure(model, (net.resolution, net.resolution))
    assert not measured.unsupported
    assert {x.name: (x.counts, x.out_shape) for x in measured.layers} == \
           {x.name: (x.counts, x.out_shape) for x in layers}
    assert sum(p.numel() for p in model.parameters()) == net_totals(net).params


def test_families_without_a_width_rule_say_so():
    from netprobe.errors import NetprobeError

    with pytest.raises(NetprobeError, match="no budget generator"):
        registry.spec("densenet@3GF")
