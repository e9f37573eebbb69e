"""summary(): stage subtotals, zoo totals, output bytes, strides, kinds, stage detection, loaders."""

import math
import subprocess
import sys
import types

import pytest

from conftest import read_csv
from netprobe import registry
from netprobe.analysis.summary import summary
from netprobe.counts import Counts, total
from netprobe.errors import NetprobeError

NAMES = registry.names()
GOLDEN = {r["model"]: r for r in read_csv("golden.csv")}
ROUNDED = {r["model"]: r for r in read_csv("published_rounded.csv") + read_csv("published_mobile.csv")}
ROUNDED |= {r["model"]: r for r in read_csv("published_variants.csv") if not r["output_stride"]}


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


@pytest.mark.parametrize("name", NAMES)
def test_layers_sum_to_stages_sum_to_totals_equal_to_the_reference(name):
    s = summary(name)
    by_stage: dict[str, list[Counts]] = {}
    for layer in s.layers:
        by_stage.setdefault(layer.stage, []).append(layer.counts)
    n_stages = len(registry.spec(name).stages)
    assert list(by_stage) == [st.name for st in s.stages] == ["stem", *(f"s{i}" for i in range(1, n_stages + 1)),
                                                                  "head"]
    for st in s.stages:
        assert total(by_stage[st.name]) == st.counts, st.name
    assert total(st.counts for st in s.stages) == s.totals
    assert total(r.counts for r in s.rows(2)) == s.totals  # grouping by block drops nothing
    t = s.totals
    if name in ROUNDED:  # members checked against a paper's table instead: tests/test_zoo_mobile.py
        ref = ROUNDED[name]
        assert (sig3(t.params / 1e6), sig3(t.macs / 1e9)) == (float(ref["params_m"]), float(ref["gmacs"]))
        if ref["acts_m"]:  # CBAM's references give no activations
            assert sig3(t.acts / 1e6) == float(ref["acts_m"])
    if name in GOLDEN:
        ref = GOLDEN[name]
        assert (t.params, t.macs, t.acts) == (int(ref["params"]), int(ref["macs"]), int(ref["acts"]))
    assert s.stages[-2].output_stride == (4 if s.family == "wrn_cifar" else 32)  # CIFAR: 32 px down to 8


def test_zoo_summary_never_imports_torch():
    code = ("import sys; from netprobe.analysis.summary import summary; summary('efficientnet_b7'); "
            "summary('resnet50', 64, batch=8); "
            "print(sorted(m for m in ('torch', 'pandas', 'fvcore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tiny_model_counts_and_memory_worked_out_by_hand():
    s = summary("summary_models:tiny", resolution=16, batch=2, dtype="fp16")
    by = {st.name: st for st in s.stages}
    assert list(by) == ["stem", "s1", "head"]
    # conv 3->8 /2 at 16 px: 8x8x8 out, 27 MACs each; conv 8->16 /2: 16x4x4 out, 72 MACs each; fc 16->10 + bias.
    assert by["stem"].counts == Counts(params=216 + 16, macs=2 * 512 * 27, acts=2 * 512)
    assert by["s1"].counts == Counts(params=1152 + 32, macs=2 * 256 * 72, acts=2 * 256)
    assert by["head"].counts == Counts(params=170, macs=2 * 170, acts=2 * 10)
    assert (by["stem"].output_stride, by["s1"].output_stride, by["head"].output_stride) == (2, 4, None)
    # fp16 = 2 bytes, batch 2: conv, bn and relu outputs each count; flatten is a view and does not.
    assert by["stem"].output_bytes == 3 * 512 * 2 * 2
    assert by["s1"].output_bytes == 3 * 256 * 2 * 2
    assert by["head"].output_bytes == (16 + 10) * 2 * 2
    assert (by["stem"].largest_output_bytes, by["stem"].largest_output_layer) == (512 * 2 * 2, "0")
    assert not s.unsupported


@pytest.mark.parametrize("model, resolution, strides", [
    ("efficientnet_b7", None, [2, 2, 4, 8, 16, 16, 32, 32, None]),
    ("resnet18", 33, [4, 4, 8, 16, 32, None]),
    ("efficientnet@400MF", None, [2, 2, 4, 8, 16, 16, 32, 32, None]),
    ("summary_models:TorchvisionStyle", 33, [4, 4, 8, 16, None]),  # conv1 + maxpool are its stem, as ResNet's
])
def test_output_stride_is_the_product_of_strides_at_any_resolution(model, resolution, strides):
    # 600 px -> 19x19 and 33 px -> 2x2 at stride 32: padded strided convs round up, so res / h is a fraction.
    assert [st.output_stride for st in summary(model, resolution).stages] == strides


def test_output_stride_rule():
    from netprobe.analysis.summary import output_stride

    assert [output_stride(600, h) for h in (300, 150, 75, 38, 19)] == [2, 4, 8, 16, 32]
    assert [output_stride(33, h) for h in (17, 9, 5, 3, 2)] == [2, 4, 8, 16, 32]
    assert output_stride(224, 1) == 256  # global: the smallest power of two that gets there
    assert output_stride(224, 74) == 3  # no power of two (an unpadded or stride-3 network): the nearest ratio


def test_too_small_resolution_uses_the_same_stride_rule():
    # EfficientNet-B7's native 600 px ends at 19x19; round(600 / 19) = 32 only by luck, 32 is the rule.
    with pytest.raises(NetprobeError, match="downsamples 32x, so its input must be at least 32 px; got 31"):
        summary("efficientnet_b7", 31)
    assert summary("efficientnet_b7", 32).stages[-2].output_shape[1:] == (1, 1)


def test_output_bytes_are_every_leaf_layer_output_and_nothing_else():
    s = summary("summary_models:ResidualSE", 16)
    # 8x8x8 outputs of conv, bn, the in-place relu (a layer's output, even if it reuses memory) and out;
    # SE: pool 8, fc1 2, act 2, fc2 8, gate 8; head: pool 8, fc 10. The SE multiply and the
    # residual add are not layers and write 512 elements each that are not counted; flatten is a view.
    assert s.output_bytes == (4 * 512 + 8 + 2 + 2 + 8 + 8 + 8 + 10) * 4
    assert sum(r.output_bytes for r in s.rows()) == s.output_bytes
    assert s.to_dict()["output_bytes"] == s.output_bytes


def test_batch_scales_macs_and_acts_not_params():
    one, eight = summary("regnetx_002", 64), summary("regnetx_002", 64, batch=8)
    assert eight.totals == Counts(one.totals.params, 8 * one.totals.macs, 8 * one.totals.acts)
    assert eight.output_bytes == 8 * one.output_bytes


def test_kind_labels_read_like_the_papers():
    kinds = {r.name: r.kind for r in summary("efficientnet_b0").rows()}
    assert kinds["s2.b1.dw.conv"] == "dwconv3x3 (depthwise) /2"
    assert kinds["s3.b1.dw.conv"] == "dwconv5x5 (depthwise) /2"
    assert kinds["s2.b1.expand.conv"] == "conv1x1 (pointwise)"
    assert kinds["s2.b1.se.fc1"] == "SE reduce conv1x1"
    assert kinds["s2.b1.se.fc2"] == "SE expand conv1x1"
    assert kinds["s2.b1.se.gate"] == "SE gate (sigmoid)"
    assert kinds["head.pool"] == "avgpool (global)"
    kinds = {r.name: r.kind for r in summary("regnetx_004").rows()}
    assert kinds["s1.b1.b.conv"] == "gconv3x3 g=2 /2"
    assert kinds["stem.conv.conv"] == "conv3x3 /2"
    kinds = {r.name: r.kind for r in summary("resnet50").rows()}
    assert kinds["stem.pool"] == "maxpool3x3 /2"
    assert kinds["stem.conv.act"] == "act relu"
    assert kinds["head.fc"] == "linear"


def test_kind_labels_of_non_square_and_1d_windows():
    kinds = {r.name: r.kind for r in summary("summary_models:factorized", 32).rows()}
    assert [kinds[n] for n in "0123"] == ["conv3x3 /2", "conv1x7", "conv7x1", "dwconv3x3 (depthwise) /1x2"]
    kinds = {r.name: r.kind for r in summary("summary_models:conv1d_factory", 32).rows()}
    assert [kinds[n] for n in "2345"] == ["conv3 (1-D)", "maxpool2 (1-D) /2", "dwconv3 (1-D, depthwise) /2",
                                          "avgpool (global)"]


def test_non_square_and_1d_convs_count_their_whole_window():
    layers = {layer.name: layer for layer in summary("summary_models:factorized", 32).layers}
    assert layers["1"].counts == Counts(params=8 * 8 * 7 + 8, macs=(8 * 7 + 1) * 8 * 16 * 16, acts=8 * 16 * 16)
    assert layers["3"].out_shape == (8, 16, 8)
    layers = {layer.name: layer for layer in summary("summary_models:conv1d_factory", 32).layers}
    assert layers["2"].counts == Counts(params=16 * 8 * 3 + 16, macs=(8 * 3 + 1) * 16 * 256, acts=16 * 256)


def test_a_block_row_says_what_its_layers_do():
    kinds = {r.name: r.kind for r in summary("regnety_004", 64).rows(2)}
    assert kinds["s2.b2"] == "conv1x1 + gconv3x3 g=13 + SE + conv1x1"  # whole in data; tables cut it (short_kind)
    assert summary("densenet121", 64).rows(2)[4].kind.startswith("conv1x1 + conv3x3")
    assert summary("resnet18", 64).rows(2)[2].kind == "conv3x3 x2"


def test_depth_groups_blocks_and_stages():
    s = summary("resnet18", 64)
    assert [r.name for r in s.rows(1)] == ["stem", "s1", "s2", "s3", "s4", "head"]
    blocks = [r.name for r in s.rows(2) if r.stage == "s2"]
    assert blocks == ["s2.b1", "s2.b2"]
    b1 = next(r for r in s.rows(2) if r.name == "s2.b1")
    assert (b1.w_in, b1.w_out, b1.output_shape) == (64, 128, (128, 8, 8))
    assert b1.counts == total(r.counts for r in s.rows() if r.name.startswith("s2.b1."))


@pytest.mark.parametrize("name", ["resnet50", "regnety_004", "resnext50_32x4d"])
def test_stages_found_by_stride_on_the_built_model_equal_the_spec_stages(name):
    from netprobe.build import build

    analytic = summary(name, 96)
    hooked = summary(lambda: build(registry.spec(name), "meta"), 96)
    assert [(st.name, st.counts, st.output_shape) for st in hooked.stages] == \
           [(st.name, st.counts, st.output_shape) for st in analytic.stages]
    assert hooked.totals == analytic.totals
    assert [st.output_bytes for st in hooked.stages] == [st.output_bytes for st in analytic.stages]


def test_stage_starts_at_the_block_whose_conv_downsamples():
    s = summary("summary_models:TorchvisionStyle", 64)
    stage = {layer.name: layer.stage for layer in s.layers}
    assert stage["layer2.0.conv1"] == stage["layer2.0.conv2"] == stage["layer2.1.conv2"] == "s2"
    assert stage["layer3.0.conv1"] == "s3"
    assert stage["layer1.1.downsample"] == "s1"
    assert (stage["avgpool"], stage["fc"]) == ("head", "head")
    assert [st.modules for st in s.stages if st.name in ("s2", "s3")] == ["layer2", "layer3"]  # its containers
    assert [st.name for st in s.stages] == ["stem", "s1", "s2", "s3", "head"]  # its own layer1..layer3


def test_free_ops_are_not_listed_and_a_matmul_by_a_parameter_is_counted():
    s = summary("summary_models:uncountable", 32)
    assert s.unsupported == {}  # x * 2 is free by the convention, the matmul has a formula
    kinds = {r.name: r.kind for r in s.rows()}
    assert (kinds["1"], kinds["4"]) == ("Doubler", "MatmulHead: matmul")
    assert next(layer for layer in s.layers if layer.name == "4").counts == Counts(160, 160, 0)


def test_norm_and_activation_subclasses_are_counted_like_their_base():
    s = summary("summary_models:subclassed_norms", 16)
    assert not s.unsupported
    assert s.totals == summary("summary_models:tiny", 16).totals
    kinds = {r.name: r.kind for r in s.rows()}
    assert (kinds["1"], kinds["2"]) == ("bn", "act myrelu")
    # the fused norm + act is a bn layer with its own output, before the act it holds
    names = [layer.name for layer in s.layers]
    assert names.index("4") < names.index("4.act")
    bn_act = next(layer for layer in s.layers if layer.name == "4")
    assert (bn_act.op, bn_act.out_shape, bn_act.counts.params) == ("bn", (16, 4, 4), 32)
    assert [st.name for st in s.stages] == ["stem", "s1", "head"]


def test_an_nn_module_instance_and_a_class_are_accepted():
    import summary_models

    by_class = summary(summary_models.TorchvisionStyle, 64)
    by_instance = summary(summary_models.TorchvisionStyle().to("meta"), 64)
    assert by_class.totals == by_instance.totals
    assert by_class.family is None and by_class.model == "TorchvisionStyle"


@pytest.mark.parametrize("model, resolution, batch, message", [
    ("summary_models:nothing", None, 1, "has no attribute 'nothing'"),
    ("no_such_package.models:net", None, 1, "cannot import 'no_such_package.models'"),
    ("summary_models:broken", None, 1, "the factory raised RuntimeError: weights file missing"),
    ("summary_models:not_a_module", None, 1, "returned int, not an nn.Module"),
    ("summary_models:NOT_CALLABLE", None, 1, "is a int, not callable"),
    ("summary_models:TorchvisionStyle", 8, 1, "resolution too small"),
    ("summary_models:unpadded", 4, 1, "resolution too small"),
    ("regnetx_004", 8, 1, "resolution too small"),
    ("efficientnet_b7", 16, 1, "at least 32 px"),
    ("regnetx_004", 0, 1, "--resolution must be a positive"),
    ("regnetx_004", None, 0, "--batch must be a positive"),
    ("regnetx_004", None, -2, "--batch must be a positive"),
    ("regnetx_04", None, 1, "did you mean regnetx_004"),
])
def test_bad_input_is_one_clear_line(model, resolution, batch, message):
    with pytest.raises(NetprobeError) as e:
        summary(model, resolution, batch)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_hub_prefix_without_the_package_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(NetprobeError, match=r"timm is not installed; pip install 'netprobe\[hub\]'.*or pip install timm"):
        summary("timm:resnet50")


def test_hub_prefix_builds_through_the_package(monkeypatch):
    import summary_models

    fake = types.ModuleType("timm")
    fake.list_models = lambda: ["tiny_net", "tinier_net"]
    fake.create_model = lambda name, pretrained: summary_models.tiny()
    monkeypatch.setitem(sys.modules, "timm", fake)
    s = summary("timm:tiny_net", 16)
    assert s.model == "timm:tiny_net" and s.totals.params == 216 + 16 + 1152 + 32 + 170
    with pytest.raises(NetprobeError, match="timm has no model 'tiny_nett'; did you mean tiny_net"):
        summary("timm:tiny_nett")


def test_json_object_schema():
    d = summary("regnety_002", 64).to_dict()
    assert {"model", "family", "resolution", "batch", "params", "macs", "acts", "stages", "layers"} <= d.keys()
    assert {"name", "params", "macs", "acts", "output_shape", "output_bytes"} <= d["stages"][0].keys()
    assert {"name", "stage", "kind", "params", "macs", "acts", "output_shape"} <= d["layers"][0].keys()
    assert sum(layer["macs"] for layer in d["layers"]) == d["macs"]
    assert math.prod(d["stages"][-1]["output_shape"]) == 1000


def test_stage_output_is_the_feature_map_when_a_block_ends_in_an_se_multiply_and_add():
    s = summary("summary_models:se_stages", 64)
    body = [st for st in s.stages if st.name != "head"]
    assert [(st.output_shape, st.output_stride) for st in body] == [((8, 32, 32), 2), ((16, 16, 16), 4)]
    assert summary("summary_models:se_stages", 8).resolution == 8  # a 4x network takes 8 px


def test_other_libraries_eval_identities_are_not_reported_as_uncounted():
    s = summary("summary_models:with_stochastic_depth", 32)
    assert s.unsupported == {}
    assert [layer.op for layer in s.layers][:2] == ["conv", "dropout"]
