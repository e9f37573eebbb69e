"""Every torchvision task built with no network, and the inputs each takes by default."""

import urllib.request

import pytest
import torch

from netprobe import hub
from netprobe.errors import NetprobeError
from netprobe.inputs import Input, parse_input_size

torchvision = pytest.importorskip("torchvision")
pytestmark = pytest.mark.hub


class Downloaded(Exception):
    """A download function was reached."""


@pytest.fixture
def no_network(monkeypatch):
    """Every function torchvision fetches weights with raises Downloaded."""
    import torchvision._internally_replaced_utils as replaced
    import torchvision.models._api as api

    def refuse(*args, **kwargs):
        raise Downloaded(args[0] if args else kwargs)

    for module, name in [(torch.hub, "load_state_dict_from_url"), (torch.hub, "download_url_to_file"),
                         (urllib.request, "urlopen"), (replaced, "load_state_dict_from_url"),
                         (api, "load_state_dict_from_url")]:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, refuse)


def test_the_guard_catches_a_backbone_download(no_network):
    with pytest.raises(Downloaded), torch.device("meta"):
        torchvision.models.get_model("fcn_resnet50", weights=None)  # weights_backbone defaults to ImageNet


TASK_MODELS = sorted(torchvision.models.list_models(module=torchvision.models.detection)
                     + torchvision.models.list_models(module=torchvision.models.segmentation))


@pytest.mark.parametrize("name", TASK_MODELS)
def test_detection_and_segmentation_build_without_network(no_network, name):
    with torch.device("meta"):
        model = hub.factory("torchvision", name)()
    assert sum(p.numel() for p in model.parameters()) > 0
    assert hub.no_weight_kwargs(torchvision.models.get_model_builder(name)) == {"weights": None,
                                                                               "weights_backbone": None}


@pytest.mark.parametrize("name, task, inputs", [
    ("resnet18", "classification", "3x224x224"),
    ("deeplabv3_mobilenet_v3_large", "segmentation", "3x520x520"),   # its transforms' resize_size
    ("r3d_18", "video", "3x16x112x112"),                              # its transforms' crop, 16 frames
    ("s3d", "video", "3x16x224x224"),
    ("raft_small", "optical_flow", "3x368x496,3x368x496"),
])
def test_default_inputs(name, task, inputs):
    found = hub.default_inputs("torchvision", name)
    assert found.task == task and found.inputs == parse_input_size(inputs)
    assert ("16-frame" in found.note) == (task == "video") and (task != "optical_flow" or "RAFT" in found.note)


def test_detection_takes_a_list_at_its_transform_size():
    with torch.device("meta"):
        model = hub.factory("torchvision", "ssdlite320_mobilenet_v3_large")()
    found = hub.default_inputs("torchvision", "ssdlite320_mobilenet_v3_large", model)
    assert found.inputs == (Input((3, 320, 320), listed=True),) and "320 px" in found.note
    adapted = hub.adapt("torchvision", "fcos_resnet50_fpn", parse_input_size("3x64x64"))
    assert adapted == (Input((3, 64, 64), listed=True),)
    assert hub.adapt("torchvision", "raft_small", parse_input_size("3x64x64")) == parse_input_size("3x64x64,3x64x64")


@pytest.mark.parametrize("name", ["r3d_18", "raft_small", "deeplabv3_mobilenet_v3_large",
                                  "fasterrcnn_mobilenet_v3_large_fpn"])
def test_forward_on_the_example_inputs(no_network, name):
    from netprobe.inputs_torch import example_inputs
    from netprobe.outputs import main_tensor

    small = {"video": "3x4x32x32", "optical_flow": "3x128x128"}.get(hub.task(name), "3x64x64")
    model = hub.factory("torchvision", name)().eval()
    args, kwargs = example_inputs(hub.adapt("torchvision", name, parse_input_size(small)), 1, "cpu", model)
    with torch.no_grad():
        assert main_tensor(model(*args, **kwargs)) is not None


def test_unknown_names():
    with pytest.raises(NetprobeError, match="did you mean resnet50"):
        hub.factory("torchvision", "resnet5O")
    with pytest.raises(NetprobeError, match="needs a model name"):
        hub.factory("torchvision", "")


def test_a_task_has_its_default_inputs_and_takes_the_users_shapes_in_its_form():
    assert hub.default_inputs("torchvision", "r3d_18").inputs == parse_input_size("3x16x112x112")
    assert hub.task("retinanet_resnet50_fpn") == "detection"
    assert hub.adapt("torchvision", "retinanet_resnet50_fpn", parse_input_size("3x64x96")) == \
        (Input((3, 64, 96), listed=True),)
    assert hub.adapt("torchvision", "raft_small", parse_input_size("3x64x96")) == parse_input_size("3x64x96") * 2
