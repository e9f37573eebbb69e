"""torchvision's task models through the one input seam: counts against FlopCounterMode on the same inputs."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from netprobe import hub
from netprobe.analysis.summary import summary
from netprobe.models.inputs import example_inputs, parse
from netprobe.timing.bench import bench

pytest.importorskip("torchvision")
pytestmark = pytest.mark.hub


def reference(name: str, size: str) -> tuple[int, int]:
    """FlopCounterMode's total of one CPU forward of ``torchvision:name`` on ``size`` in the task's form, and its params."""
    model = hub.factory("torchvision", name)().eval()
    torch.manual_seed(0)
    args, kwargs = example_inputs(model, hub.adapt("torchvision", name, parse(size)), 1, "cpu")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*args, **kwargs)
    return int(counter.get_total_flops()), sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, size, tolerance", [
    ("r3d_18", "3x4x32x32", 0),                          # video
    ("deeplabv3_mobilenet_v3_large", "3x64x64", 0),      # segmentation: a dict output
    ("raft_small", "3x128x128", 0),                      # optical flow: one size, two images
    ("fasterrcnn_mobilenet_v3_large_fpn", "3x128x128", 0.02),  # detection: proposals depend on the data
])
def test_task_counts_against_flop_counter(name, size, tolerance):
    s = summary(f"torchvision:{name}", input_size=size, convention="torch")
    macs, params = reference(name, size)
    assert abs(s.totals.macs - macs) <= tolerance * macs and s.totals.params == params


@pytest.mark.parametrize("name, size", [("r3d_18", "3x4x32x32"), ("fasterrcnn_mobilenet_v3_large_fpn", "3x64x64")])
def test_task_models_bench(name, size):
    (row,) = bench(f"torchvision:{name}", input_size=size, warmup=1, min_time=0.05)
    assert row["status"] == "ok" and row["resolution"] == int(size.split("x")[-1]) and row["input_size"] == size
