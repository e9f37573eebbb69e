"""Every input form through every command: several inputs of any rank and dtype, keyword inputs, factories, tensors.

Counts are checked against an independent aten-level count of the same forward on the same inputs:
FlopCounterMode's total (netprobe's ``torch`` convention) and the sum of the parameters' numel.
"""

import json
import pickle
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

import netprobe
from netprobe.analysis.summary import summary
from netprobe.cli.app import _register, app
from netprobe.errors import NetprobeError
from netprobe.models.inputs import example_inputs, parse
from netprobe.timing.bench import bench
from netprobe.timing.targets import resolve_targets
from netprobe.timing.profile import profile
from input_models import Clip, Masked, ProposalDetector, Silent, TextNet, TwoInputs, make_pair
from task_patterns import TinySegmenter

_register()
FAST = dict(warmup=2, min_time=0.05)
CLI_FAST = ["--warmup", "2", "--min-time", "0.05"]


def flop_counter_total(model, description) -> int:
    """FlopCounterMode's total of one real forward on CPU at batch 1, on inputs of ``description``."""
    torch.manual_seed(0)
    args, kwargs = example_inputs(model, parse(description), 1, "cpu")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(*args, **kwargs)
    return int(counter.get_total_flops())


@pytest.mark.parametrize("make, description", [
    (Clip, "3x8x32x32"),               # a video model (Conv3d)
    (TinySegmenter, "3x64x64"),        # a segmentation-like model, dict output
    (TwoInputs, "3x16x16,12"),         # two inputs
    (TextNet, "int64:20"),             # token ids into an Embedding
    (Masked, "3x16x16,bool:1x16x16"),  # an image and a mask
])
def test_counts_exact_against_flop_counter(make, description):
    model = make()
    s = summary(model, input_size=description, convention="torch")
    assert s.totals.macs == flop_counter_total(model, description)
    assert s.totals.params == sum(p.numel() for p in model.parameters())


def test_keyword_inputs_are_counted_exactly():
    model = Masked()
    made = (torch.randn(1, 3, 16, 16),), {"mask": torch.ones(1, 1, 16, 16)}
    s = summary(model, inputs=made, convention="torch")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*made[0], **made[1])
    assert s.totals.macs == counter.get_total_flops() and s.input_size == (3, 16, 16)


def test_detection_like_within_two_percent_and_noted():
    model = ProposalDetector()
    s = summary(model, input_size="3x64x64", convention="torch")
    reference = flop_counter_total(model, "3x64x64")
    assert abs(s.totals.macs - reference) <= 0.02 * reference
    assert s.totals.params == sum(p.numel() for p in model.parameters())


def test_video_resolution_and_output_stride_read_h_and_w():
    s = summary(Clip(), input_size="3x8x32x32")
    assert s.input_size == (3, 8, 32, 32) and s.resolution == 32
    by_name = {st.name: st for st in s.stages}
    assert by_name["stem"].output_shape == (8, 8, 16, 16) and by_name["stem"].output_stride == 2
    assert by_name["s1"].output_shape == (16, 4, 8, 8) and by_name["s1"].output_stride == 4
    assert s.totals.acts == 8 * 8 * 16 * 16 + 16 * 4 * 8 * 8 + 10  # acts per the convention: conv and linear outputs


def test_outputs_of_any_structure_show_the_main_output():
    assert summary(TextNet(), input_size="int64:20").stages[-1].output_shape == (5,)  # the dict's logits
    seg = summary(TinySegmenter(), input_size="3x64x64")
    assert seg.module_shapes and seg.totals.macs > 0


def test_python_api_takes_shapes_lists_and_ready_tensors():
    pair = (torch.randn(1, 3, 16, 16), torch.randn(1, 12))
    by_text = netprobe.summary(TwoInputs(), input_size="3x16x16,12")
    assert netprobe.summary(TwoInputs(), input_size=[(3, 16, 16), (12,)]).totals == by_text.totals
    assert netprobe.summary(TwoInputs(), inputs=pair).totals == by_text.totals
    assert netprobe.summary(TwoInputs(), inputs=make_pair).totals.params == by_text.totals.params
    with pytest.raises(NetprobeError, match="not both"):
        netprobe.summary(TwoInputs(), input_size="3x16x16,12", inputs=pair)
    with pytest.raises(NetprobeError, match="batch of 4, not 1; .*factory"):
        netprobe.summary(TwoInputs(), inputs=(torch.randn(4, 3, 16, 16), torch.randn(4, 12)))


def test_a_zoo_member_benched_on_a_factory_is_fed_by_it():
    (target,) = resolve_targets("resnet18", None, inputs=parse(inputs="input_models:make_image"))
    assert target.input_size == parse(inputs="input_models:make_image") and target.shape == (3, 32, 32)
    assert summary("resnet18", inputs="input_models:make_image").totals == summary("resnet18", resolution=32).totals


def test_a_rejected_input_names_it_and_what_the_model_said():
    with pytest.raises(NetprobeError, match=r"rejected inputs 3x16x16: TypeError: .*side"):
        summary(TwoInputs(), input_size="3x16x16")


def test_factory_is_called_with_each_batch_and_travels_pickled():
    rows = bench("input_models:TwoInputs", inputs="input_models:make_pair", batch="1,4", **FAST)
    assert [(r["batch"], r["status"], r["input_size"]) for r in rows] == [
        (1, "ok", "input_models:make_pair"), (4, "ok", "input_models:make_pair")]
    (target,) = resolve_targets("input_models:TwoInputs", None, inputs=parse(inputs="input_models:make_pair"))
    assert pickle.loads(pickle.dumps(target)).input_size == target.input_size  # what a Ray worker gets
    assert target.resolution == 16


def test_train_mode_reads_a_structured_output_and_refuses_none():
    (row,) = bench("input_models:TextNet", input_size="int64:20", mode="train", **FAST)
    assert row["status"] == "ok"
    (row,) = bench("input_models:Silent", input_size="4", mode="train", **FAST)
    assert row["status"] == "error" and "model returned None" in row["error"]
    with pytest.raises(NetprobeError, match="model returned None"):
        profile(Silent(), input_size="4", mode="train", **FAST)


def cli(*args):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("given", [["--input-size", "3x16x16,12"], ["--inputs", "input_models:make_pair"]])
def test_every_command_takes_two_inputs_and_a_factory(given):
    model = "input_models:TwoInputs"
    macs = json.loads(cli("summary", model, *given, "--json").stdout)["macs"]
    assert macs == summary(TwoInputs(), input_size="3x16x16,12").totals.macs
    rows = json.loads(cli("bench", "--models", model, *given, "--batch", "1,2", "--mode", "infer,train", "--json",
                          *CLI_FAST).stdout)
    assert [r["status"] for r in rows] == ["ok"] * 4 and rows[0]["macs"] == macs
    profiled = json.loads(cli("profile", model, *given, "--json", *CLI_FAST).stdout)
    assert profiled["resolution"] == 16 and [st["name"] for st in profiled["stages"]] == ["stem", "head"]
    checks = json.loads(cli("summary", model, *given, "--verify", "--json").stdout)["verify"]
    assert {c["convention"]: c["exact"] for c in checks} == {"fvcore": True, "ptflops": True, "torch": True}


def test_a_factory_that_returns_no_tensor_is_one_line():
    result = CliRunner().invoke(app, ["summary", "input_models:TwoInputs", "--inputs", "input_models:make_nothing"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --inputs input_models:make_nothing returned str; it must return a tensor, "
                                     "a tuple of args, or (args, kwargs)")


@pytest.mark.parametrize("bad", ["3x", "float99:3x8", "3x0x8", "int64:"])
def test_bad_descriptions_are_one_line_before_torch_loads(bad):
    code = ("import sys; from netprobe.cli.app import main; sys.argv = ['netprobe', 'summary', 'resnet18', "
            f"'--input-size', {bad!r}]\ntry:\n    main()\nexcept SystemExit as e:\n"
            "    print('rc', e.code, 'torch' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == "rc 2 False", done.stderr
    assert len(lines) == 2 and lines[0].startswith("error: ")


