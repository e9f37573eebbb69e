"""Stages of video, segmentation and detection models, from their own containers (no torchvision needed)."""

from collections import OrderedDict

import pytest

from netprobe.analysis.measure import measure
from netprobe.analysis.stages import find_stages, stage_modules
from task_patterns import TinyDetector, TinyS3D, TinySegmenter, TinyVideoResNet


def stages(model, size):
    """Stage of each layer, and the first layer name of each stage in order."""
    layers = measure(model, size).layers
    names = find_stages(layers, stage_modules(model))
    first = OrderedDict()
    for layer, name in zip(layers, names):
        first.setdefault(name, layer.name)
    return dict(zip((layer.name for layer in layers), names)), first


def test_video_resnet_stages_are_its_layers():
    by_layer, first = stages(TinyVideoResNet(), (4, 16, 16))
    assert list(first) == ["stem", "s1", "s2", "s3", "head"]
    assert first["s1"].startswith("layer1.") and first["s3"].startswith("layer3.") and by_layer["fc"] == "head"


def test_video_without_containers_splits_at_each_map():
    by_layer, first = stages(TinyS3D(), (8, 32, 32))
    assert list(first) == ["stem", "s1", "s2", "head"]
    assert by_layer["features.2.0"] == "s1" and by_layer["features.4.0"] == "s2" and by_layer["classifier"] == "head"


def test_segmentation_backbone_stages_then_classifier_head():
    by_layer, first = stages(TinySegmenter(), (64, 64))
    assert list(first)[0] == "stem" and list(first)[-1] == "head" and len(first) >= 4
    assert first["head"] == "classifier.0.0"
    assert all(s != "head" for name, s in by_layer.items() if name.startswith("backbone."))
    assert all(s == "head" for name, s in by_layer.items() if name.startswith("classifier."))


def test_detector_backbone_neck_heads():
    by_layer, first = stages(TinyDetector(), (64, 64))
    assert list(first) == ["stem", "s1", "s2", "neck", "head"]
    assert first["s1"].startswith("backbone.body.layer1.") and first["s2"].startswith("backbone.body.layer2.")
    assert {s for n, s in by_layer.items() if n.startswith("backbone.fpn.")} == {"neck"}
    assert by_layer["rpn"] == "head" and by_layer["roi_heads.1"] == "head"


@pytest.mark.parametrize("model", [TinyVideoResNet, TinyS3D, TinySegmenter, TinyDetector])
def test_never_one_stage_for_the_whole_model(model):
    size = (4, 16, 16) if model in (TinyVideoResNet, TinyS3D) else (64, 64)
    _, first = stages(model(), size)
    assert len([s for s in first if s.startswith("s")]) >= 2
