"""Any nn.Module counted exactly: op-level MACs, stages from the model's own containers, loading.

The modules in hub_patterns.py reproduce how timm and torchvision write their models; the
expected counts are worked out by hand from the convention (docs/conventions.md).
"""

import importlib.util

import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import hub_patterns
from netprobe import NetprobeError
from netprobe.analysis.measure import measure
from netprobe.analysis.summary import summary
from netprobe.timing.bench import bench


def linear(tokens, w_in, w_out, bias=True):
    """MACs of a linear layer over ``tokens`` rows: w_in per output, + 1 for the bias."""
    return tokens * w_out * (w_in + bias)


def test_windows_folded_into_the_batch_are_counted_for_every_window():
    s = summary("hub_patterns:TinySwin", 32)
    t1, c1, n = 8 * 8, 16, 4 * 4  # stage 1: 64 tokens, 16 wide, windows of 16 tokens
    t2, c2 = 4 * 4, 32
    block = lambda t, c: (linear(t, c, 3 * c) + 2 * t * n * c + linear(t, c, c)  # noqa: E731 - qkv, QK^T and AV, proj
                          + linear(t, c, 2 * c) + linear(t, 2 * c, c))  # mlp
    expected = (16 * 8 * 8 * (3 * 16 + 1)  # 4x4/4 patch embedding
                + 2 * block(t1, c1) + linear(t2, 4 * c1, c2, bias=False) + 2 * block(t2, c2) + linear(1, c2, 10))
    assert s.totals.macs == expected
    assert not s.unsupported
    attn = next(layer for layer in s.layers if layer.name == "layers.0.blocks.0.attn")
    assert attn.counts.macs == 2 * t1 * n * c1 and attn.op == "matmul"  # the matmuls, charged to their module
    qkv = next(layer for layer in s.layers if layer.name == "layers.0.blocks.0.attn.qkv")
    assert qkv.counts.acts == t1 * 3 * c1 and qkv.out_shape == (4, 16, 48)  # 4 windows of 16 tokens, kept whole


def test_attention_by_functional_calls_and_the_fused_eval_path_count_the_same():
    s = summary("hub_patterns:TinyViT", 64)
    tokens, e = 17, 32
    block = linear(tokens, e, 3 * e) + 2 * tokens * tokens * e + linear(tokens, e, e) \
        + linear(tokens, e, 4 * e) + linear(tokens, 4 * e, e)
    assert s.totals.macs == 16 * 32 * (3 * 16 * 16 + 1) + 2 * block + linear(1, e, 10)
    assert s.totals.params == sum(p.numel() for p in hub_patterns.TinyViT().parameters())
    assert not s.unsupported
    mha = next(layer for layer in s.layers if layer.name == "encoder.layers.0.self_attention")
    assert s.kinds[mha.name] == "MultiheadAttention: linear x2 + attention"
    # On the CPU, in eval mode, nn.MultiheadAttention runs one fused op instead.
    model = hub_patterns.TinyViT().eval()
    seen = set()

    class Names(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.add(func._opname)
            return func(*args, **(kwargs or {}))

    with torch.inference_mode(), Names():
        model(torch.randn(1, 3, 64, 64))
    assert "_native_multi_head_attention" in seen
    real = measure(model, (64, 64))
    assert sum(layer.counts.macs for layer in real.layers) == s.totals.macs
    assert sum(layer.counts.acts for layer in real.layers) == s.totals.acts


def test_totals_equal_torch_flop_counter_plus_bias_adds():
    """An independent op-level count: FlopCounterMode's FLOPs / 2 are the MACs without bias adds."""
    for make, res in ((hub_patterns.TinySwin, 32), (hub_patterns.TinyViT, 64), (hub_patterns.TorchvisionConvNeXtLike, 64)):
        model = make().eval()
        biases = 0

        def hook(m, _inp, out):
            nonlocal biases
            if getattr(m, "bias", None) is not None:
                biases += out.numel()

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)  # FlopCounterMode has no formula for the fused MHA op,
        try:  # nor for the CPU flash-attention kernel: the math path shows it the matmuls
            with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as flops:
                model(torch.randn(1, 3, res, res))
        finally:
            torch.backends.mha.set_fastpath_enabled(fast)
        for h in handles:
            h.remove()
        if make is hub_patterns.TinyViT:  # nn.MultiheadAttention's projections are no module calls
            biases += 2 * (17 * 3 * 32 + 17 * 32)
        assert summary(make, res).totals.macs == flops.get_total_flops() // 2 + biases, make.__name__


def test_ch_column_of_token_layers_shows_features_not_tokens():
    s = summary("hub_patterns:TinyViT", 64)
    fc1 = next(r for r in s.rows() if r.name == "encoder.layers.0.mlp.0")
    assert (fc1.w_in, fc1.w_out, fc1.output_shape) == (32, 128, (17, 128))


def test_se_squeezing_with_mean_never_splits_a_stage():
    s = summary("hub_patterns:TimmEfficientNetLike", 64)
    assert [st.name for st in s.stages] == ["stem", "s1", "s2", "s3", "head"]
    assert [st.modules for st in s.stages[1:4]] == ["blocks.0", "blocks.1", "blocks.2"]
    assert [st.output_stride for st in s.stages] == [2, 2, 4, 4, None]
    flat = summary("hub_patterns:flat_mean_se", 64)  # no containers: by stride, SE inside its stage
    assert [(st.name, st.output_stride) for st in flat.stages] == [("stem", 2), ("s1", 4), ("s2", 8), ("head", None)]
    assert {layer.stage for layer in flat.layers if ".se." in f".{layer.name}."} == {"stem", "s1", "s2"}


def test_a_conv_or_a_norm_after_the_global_pool_is_head_and_the_native_size_is_accepted():
    s = summary("hub_patterns:MobileNetV3Head", 224)
    assert [st.name for st in s.stages][-1] == "head"
    head = [layer.name for layer in s.layers if layer.stage == "head"]
    assert head == ["global_pool", "conv_head", "act", "flatten", "classifier"]
    assert s.stages[-2].output_stride == 8
    convnext = summary("hub_patterns:TorchvisionConvNeXtLike", 64)
    assert [st.name for st in convnext.stages] == ["stem", "s1", "s2", "s3", "s4", "head"]
    assert [st.output_stride for st in convnext.stages] == [4, 4, 8, 16, 32, None]
    assert {layer.stage for layer in convnext.layers if layer.name.startswith("features.2.")} == {"s2"}  # downsample
    assert convnext.layers[-1].stage == "head" and "classifier.0" in [x.name for x in convnext.layers if x.stage == "head"]


def test_transformer_is_stem_blocks_head():
    s = summary("hub_patterns:TinyViT", 64)
    assert [(st.name, st.modules) for st in s.stages][1] == ("s1", "encoder")
    assert [st.name for st in s.stages] == ["stem", "s1", "head"]
    blocks = [r.name for r in s.rows(2) if r.stage == "s1"]  # depth 2: the blocks of the stage's own run
    assert blocks == ["encoder", "encoder.layers.0", "encoder.layers.1", "encoder.ln"]
    swin = summary("hub_patterns:TinySwin", 32)
    assert [(st.name, st.output_stride) for st in swin.stages] == [("stem", 4), ("s1", 4), ("s2", 8), ("head", None)]


def test_a_constructor_that_cannot_run_on_meta_is_built_on_cpu_and_says_so():
    s = summary("hub_patterns:ListyConstructor", 32)
    assert s.totals.macs == 8 * 16 * 16 * 28 + 16 * 8 * 8 * 73 + 170
    assert len(s.notes) == 1 and "built on cpu instead" in s.notes[0]


def test_a_forward_that_reads_values_is_counted_on_cpu_and_says_so():
    s = summary("hub_patterns:DataDependent", 32)
    assert s.totals.macs == 8 * 16 * 16 * 28 + 90
    assert "counted with a forward pass on cpu" in s.notes[0]


def test_not_counted_lists_exactly_the_ops_with_no_formula():
    s = summary("hub_patterns:Uncountable", 32)
    assert s.unsupported == {"aten.fft_fft2": 1, "netprobe_tests::scale": 1}
    assert s.totals.macs == 8 * 16 * 16 * 28 + 8 * 10  # the conv and the matmul by a parameter
    assert s.totals.params == sum(p.numel() for p in hub_patterns.Uncountable().parameters())
    unused = [layer for layer in s.layers if layer.op == "unused"]
    assert [(x.name, x.counts.params) for x in unused] == [("aux.fc", 90)]  # the aux head never runs in eval


def test_any_input_size_and_channels():
    import netprobe

    assert netprobe.summary("resnet18", input_size=(3, 224, 320)).input_size == (3, 224, 320)  # the public API too
    s = summary("resnet18", input_size="3x224x320")
    assert s.input_size == (3, 224, 320) and s.stages[-2].output_shape == (512, 7, 10)
    assert s.stages[-2].output_stride == 32
    gray = summary(lambda: nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU()), input_size="1x28x40")
    assert gray.totals.macs == 4 * 14 * 20 * 10 and gray.input_size == (1, 28, 40)


@pytest.mark.parametrize("kwargs, message", [
    (dict(model="resnet18", input_size="1x224x224"), "resnet18 takes 3 input channels"),
    (dict(model="resnet18", input_size="224"), "bad input size '224'"),
    (dict(model="resnet18", input_size="3x0x4"), "bad input size"),
    (dict(model="resnet18", resolution=224, input_size="3x224x224"), "not both"),
    (dict(model="hub_patterns:TimmEfficientNetLike", input_size="1x64x64"), "check --input-size"),
])
def test_bad_input_sizes_are_one_line(kwargs, message):
    with pytest.raises(NetprobeError, match=message) as e:
        summary(**kwargs)
    assert "\n" not in str(e.value)


def test_bench_takes_every_model_source():
    rows = bench("hub_patterns:TimmEfficientNetLike,resnet18", resolution=32, warmup=1, min_time=0.02)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[0]["macs"] == summary("hub_patterns:TimmEfficientNetLike", 32).totals.macs
    assert rows[0]["input_size"] == "3x32x32" and rows[0]["family"] == "custom"
    (row,) = bench("resnet18", input_size="3x32x48", warmup=1, min_time=0.02)
    assert row["status"] == "ok" and row["macs"] == summary("resnet18", input_size="3x32x48").totals.macs


def test_bench_refuses_a_factory_that_raises_before_timing():
    with pytest.raises(NetprobeError, match="the factory raised RuntimeError: weights file missing"):
        bench("summary_models:broken", resolution=32)


HUB = importlib.util.find_spec("timm") is not None and importlib.util.find_spec("torchvision") is not None


@pytest.mark.hub
@pytest.mark.skipif(not HUB, reason="needs timm and torchvision (docs/conventions.md: checked on real models)")
@pytest.mark.parametrize("model, stages, size", [
    ("timm:efficientnet_b0", 7, 224), ("timm:convnext_tiny", 4, 224), ("timm:mobilenetv3_large_100", 7, 224),
    ("timm:inception_v3", None, 299), ("timm:resnet50.a1_in1k", 4, 224), ("timm:swin_tiny_patch4_window7_224", 4, 224),
    ("torchvision:convnext_tiny", 4, 224), ("torchvision:regnet_y_400mf", 4, 224), ("torchvision:vit_b_16", 1, 224),
    ("torchvision:swin_t", 4, 224),
])
def test_real_hub_models_at_their_native_size(model, stages, size):
    s = summary(model)
    assert s.input_size[1:] == (size, size)
    assert not s.unsupported
    if stages:
        assert len([st for st in s.stages if st.name not in ("stem", "head")]) == stages
