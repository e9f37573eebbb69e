"""The ResNet variants: dilated ResNets (``--output-stride 8|16``), hub models, kinds, stages, CBAM.

``hub_variants_exact.csv`` holds timm 1.0.31's SE/SK/ResNeSt models (native and at
``output_stride=8/16``) and torchvision 0.29.1's ResNets built with
``replace_stride_with_dilation``, counted under netprobe's convention by
``data/make_hub_variants_exact.py``.
"""

from collections import Counter

import pytest
import torch
from typer.testing import CliRunner

import netprobe
from conftest import read_csv
from netprobe import registry
from netprobe.analysis.cost import net_layers, net_totals
from netprobe.analysis.measure import measure
from netprobe.build import build
from netprobe.cli.app import _register, app
from netprobe.errors import NetprobeError
from netprobe.families.dilation import DILATABLE, with_output_stride
from netprobe.timing.bench import bench, plan

_register()
HUB = read_csv("hub_variants_exact.csv")
GOLDEN = [r for r in read_csv("golden_variants.csv") if r["output_stride"]]
ROUNDED = [r for r in read_csv("published_variants.csv") if r["output_stride"]]
ONE_PER_FAMILY = [next(n for n in registry.names() if registry.spec(n).family == f) for f in DILATABLE]


def spec_at(row):
    net = registry.spec(row["model"])
    return with_output_stride(net, int(row["output_stride"])) if row["output_stride"] else net


def row_id(row) -> str:
    return f"{row['model']}-os{row['output_stride'] or 32}"


@pytest.mark.parametrize("row", HUB + GOLDEN, ids=row_id)
def test_exact_against_timm_and_torchvision(row):
    net = spec_at(row)
    c = net_totals(net, int(row["resolution"]))
    assert (c.params, c.macs, c.acts) == (int(row["params"]), int(row["macs"]), int(row["acts"]))


@pytest.mark.parametrize("row", ROUNDED, ids=row_id)
def test_published_rounded(row):
    c = net_totals(spec_at(row))
    assert [float(f"{x:.3g}") for x in (c.params / 1e6, c.macs / 1e9, c.acts / 1e6)] == pytest.approx(
        [float(row["params_m"]), float(row["gmacs"]), float(row["acts_m"])])


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
@pytest.mark.parametrize("output_stride", [8, 16])
def test_dilated_analytic_equals_built_and_measured(name, output_stride):
    net = with_output_stride(registry.spec(name), output_stride)
    model = build(net, "meta")
    measured = measure(model, (net.resolution, net.resolution))
    assert not measured.unsupported
    analytic = net_layers(net)
    assert Counter((x.name, x.counts, x.out_shape) for x in analytic) == Counter(
        (x.name, x.counts, x.out_shape) for x in measured.layers)
    assert Counter((x.name, x.dilation) for x in analytic if x.op == "conv") == Counter(
        (x.name, x.dilation) for x in measured.layers if x.op == "conv")
    body = [s for s in netprobe.summary(net).stages if s.name in ("s1", "s2", "s3", "s4")]
    assert [s.output_stride for s in body] == ([4, 8, 8, 8] if output_stride == 8 else [4, 8, 16, 16])


def test_first_block_of_a_dilated_stage_keeps_the_previous_dilation():
    layers = {x.name: x for x in net_layers(with_output_stride(registry.spec("resnet50"), 8))}
    assert [layers[f"s3.b{i}.b.conv"].dilation for i in (1, 2)] == [1, 2]
    assert [layers[f"s4.b{i}.b.conv"].dilation for i in (1, 2, 3)] == [2, 4, 4]
    assert (layers["s3.b1.b.conv"].stride, layers["s3.b1.proj.conv"].stride) == (1, 1)
    basic = {x.name: x for x in net_layers(with_output_stride(registry.spec("skresnet18"), 16))}
    # timm's basic blocks: the strided (first) conv at the previous dilation, the second at the new one
    assert [basic[f"s4.b1.sk.paths.{i}.conv"].dilation for i in (0, 1)] == [1, 2]
    assert [basic["s4.b1.b.conv"].dilation, basic["s4.b2.sk.paths.1.conv"].dilation] == [2, 4]
    assert basic["s4.b2.sk.paths.1.conv"].kind.endswith("d=4")


def test_dilated_forward_keeps_the_feature_map():
    net = with_output_stride(registry.spec("resnest14d"), 8)
    model = build(net).eval()
    seen = []
    model.s4.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()
    assert seen == [(1, 2048, 8, 8)]


def test_python_api_and_native_stride():
    s = netprobe.summary("resnet50", output_stride=16)
    assert (s.model, s.totals.params, s.totals.macs, s.totals.acts) == ("resnet50_os16", 25557032, 6208619496, 12896232)
    assert netprobe.summary("resnet50", output_stride=32).totals == netprobe.summary("resnet50").totals
    (row,) = bench("resnet18", output_stride=8, resolution=32, warmup=2, min_time=0.05)
    assert (row["model"], row["status"]) == ("resnet18_os8", "ok")
    assert plan("resnet18", output_stride=8).targets[0].macs == net_totals(with_output_stride(
        registry.spec("resnet18"), 8)).macs


@pytest.mark.parametrize("name", ["regnetx_004", "efficientnet_b0", "rexnet_1.0x", "wrn_28_10"])
def test_families_without_a_dilated_variant_are_an_error(name):
    with pytest.raises(NetprobeError, match=f"{name} has no dilated variant"):
        with_output_stride(registry.spec(name), 8)


@pytest.mark.parametrize("args, words", [
    (["summary", "regnetx_004", "--output-stride", "8"], "regnetx_004 has no dilated variant"),
    (["summary", "resnet50", "--output-stride", "4"], "must be 8, 16 or 32"),
    (["bench", "--models", "efficientnet_b0", "--output-stride", "16"], "efficientnet_b0 has no dilated variant"),
    (["bench", "--models", "resnet18", "--output-stride", "0"], "output-stride '0' is not a positive integer"),
])
def test_cli_bad_output_stride_is_one_line_exit_2(args, words):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_cli_summary_dilated_json():
    import json

    result = CliRunner().invoke(app, ["summary", "resnet101", "--output-stride", "8", "--json"])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert (obj["model"], obj["stages"][-2]["output_stride"]) == ("resnet101_os8", 8)
    assert f"{obj['macs'] / 1e9:.3g}" == "33.9"


@pytest.mark.parametrize("name, kinds", [
    ("skresnext50_32x4d", {"sk gconv3x3 g=32", "sk gconv3x3 g=32 d=2", "sk reduce conv1x1", "sk select (softmax)"}),
    ("resnest50d", {"split-attn gconv3x3 g=2 r=2", "split-attn reduce conv1x1", "split-attn select (softmax)"}),
    ("cbam_resnet50", {"CBAM reduce linear", "CBAM maxpool", "CBAM conv7x7", "CBAM gate (sigmoid)"}),
    ("seresnext50_32x4d", {"SE reduce conv1x1", "SE gate (sigmoid)", "gconv3x3 g=32"}),
])
def test_kinds_read_like_the_paper(name, kinds):
    assert kinds <= {layer.kind for layer in netprobe.summary(name).layers}


@pytest.mark.parametrize("name", registry.resolve("seresnet,seresnext,skresnet,skresnext,resnest,cbam_resnet"))
def test_four_body_stages(name):
    assert [s.name for s in netprobe.summary(name).stages] == ["stem", "s1", "s2", "s3", "s4", "head"]


def test_cbam_runs_its_shared_mlp_twice_and_counts_both_calls():
    layers = [x for x in net_layers(registry.spec("cbam_resnet18")) if x.name.startswith("s1.b1.cbam.channel.fc")]
    assert [(x.name, x.counts.params) for x in layers] == [
        ("s1.b1.cbam.channel.fc1", 64 * 4 + 4), ("s1.b1.cbam.channel.fc2", 4 * 64 + 64),
        ("s1.b1.cbam.channel.fc1", 0), ("s1.b1.cbam.channel.fc2", 0)]
    assert [x.counts.macs for x in layers] == [260, 320, 260, 320]
    calls = Counter()
    model = build(registry.spec("cbam_resnet18"), "meta")
    model.s1.b1.cbam.channel.fc1.register_forward_hook(lambda m, i, o: calls.update(["fc1"]))
    measure(model, (224, 224))
    assert calls["fc1"] == 2


def test_units_compute_what_timms_compute():
    """With timm's weights, the SK and split-attention units give timm's outputs (skipped without timm)."""
    layers = pytest.importorskip("timm.layers")
    from netprobe.unit_modules import SelectiveKernelModule, SplitAttnModule
    from netprobe.spec import SelectiveKernel, SplitAttn

    torch.manual_seed(0)
    x = torch.randn(2, 64, 8, 8)
    for groups, radix in ((1, 2), (2, 2), (4, 4)):
        ref = layers.SplitAttn(64, 64, groups=groups, radix=radix, norm_layer=torch.nn.BatchNorm2d).eval()
        ours = SplitAttnModule(SplitAttn(w=64, w_attn=ref.fc1.out_channels, radix=radix, groups=groups)).eval()
        for p in ref.parameters():
            torch.nn.init.normal_(p)
        ours.load_state_dict(ref.state_dict())
        assert torch.allclose(ours(x), ref(x), atol=1e-4)
    for split, groups in ((True, 1), (False, 32)):
        ref = layers.SelectiveKernel(64, 64, groups=groups, split_input=split).eval()
        ours = SelectiveKernelModule(SelectiveKernel(w_in=64, w_out=64, w_attn=ref.attn.fc_reduce.out_channels,
                                                     groups=groups, split_input=split)).eval()
        for p in ref.parameters():
            torch.nn.init.normal_(p, std=0.2)
        ours.load_state_dict(ref.state_dict())
        assert torch.allclose(ours(x), ref(x), atol=1e-4)


@pytest.mark.parametrize("name, modules", [
    ("skresnet50", {"s1.b1.sk.paths.0", "s1.b1.sk.paths.1", "s1.b1.sk.attn.fc_select", "s1.b1.proj"}),
    ("resnest50d", {"stem.conv3", "s2.b1.splat.fc1", "s2.b1.avd", "s2.b1.proj.pool", "s2.b1.proj.conv"}),
    ("cbam_resnet18", {"s1.b1.cbam.channel.fc1", "s1.b1.cbam.spatial.conv"}),
    ("seresnet50", {"s4.b3.se.fc1", "s4.b3.c"}),
    ("wrn_28_10", {"stem.conv", "s1.b1.bn_a", "s1.b1.a", "s1.b1.proj", "s3.b4.b", "head.final.bn"}),
])
def test_module_names_read_like_the_paper(name, modules):
    assert modules <= dict(build(registry.spec(name), "meta").named_modules()).keys()
