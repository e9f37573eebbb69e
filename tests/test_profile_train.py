"""``profile --mode train``: each stage's forward and backward time beside its forward and backward MACs."""

import csv
import json
import time

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import netprobe
from netprobe.cli.app import _register, app
from netprobe.timing.profile import JSON_KEYS, PROFILE_COLUMNS, STAGE_KEYS, profile
from netprobe.timing.stats import summarize

_register()
FAST = dict(warmup=2, min_time=0.1, threads=1)
CLI_FAST = ["--warmup", "2", "--min-time", "0.1", "--threads", "1", "-r", "32", "-b", "2"]


class SleepGrad(torch.autograd.Function):
    """The identity, whose backward waits: a stage whose backward time is known."""

    @staticmethod
    def forward(ctx, x, seconds):
        ctx.seconds = seconds
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        time.sleep(ctx.seconds)
        return grad, None


class SlowBackward(nn.Module):
    """A strided conv, then a known wait in its backward only."""

    def __init__(self, w_in, w_out, seconds):
        super().__init__()
        self.conv = nn.Conv2d(w_in, w_out, 3, 2, 1)
        self.seconds = seconds

    def forward(self, x):
        return SleepGrad.apply(self.conv(x), self.seconds)


def slow_backward():
    return nn.Sequential(SlowBackward(3, 8, 0.06), SlowBackward(8, 16, 0.02), SlowBackward(16, 32, 0.04))


class SlowLinear(nn.Linear):
    """A linear whose own backward waits 20 ms (the wait on its input's gradient, inside the layer)."""

    def forward(self, x):
        return super().forward(SleepGrad.apply(x, 0.02))


@pytest.mark.parametrize("block, branch", [(0, 1), (2, 0)])
def test_the_backward_of_branches_side_by_side_goes_to_the_branch_it_runs_in(block, branch):
    import pyramid_patterns

    model = pyramid_patterns.TwoBranches()  # autograd runs the branches' backward in its own order, not the reverse
    layer = model.blocks[block].blocks[branch][0]  # of their forward stretches: the next block's other branch first
    layer.fc1 = SlowLinear(layer.fc1.in_features, layer.fc1.out_features)
    p = profile(model, resolution=240, mode="train", **FAST)
    slow, other = (next(u for u in p.units if u.name == f"s{k}") for k in (branch + 1, 2 - branch))
    assert slow.backward_ms >= 20
    assert other.backward_ms < slow.backward_ms / 2


def _iqr(samples) -> float:
    return summarize(list(samples)).iqr_ms


def test_each_stage_has_a_forward_and_a_backward_and_they_make_its_time():
    p = profile("regnetx_002", resolution=32, batch=2, mode="train", **FAST)
    assert all(u.forward_ms > 0 and u.backward_ms > 0 for u in p.units)
    for u in p.units:  # each marked step's stage time is its forward plus its backward
        assert len(u.forward_samples_ms) == len(u.backward_samples_ms) == len(u.samples_ms)
        assert all(f + b == pytest.approx(t) for f, b, t in zip(u.forward_samples_ms, u.backward_samples_ms,
                                                                 u.samples_ms))
    assert len(p.whole_backward_ms) == len(p.whole_ms) and all(0 < b < w for b, w in zip(p.whole_backward_ms,
                                                                                          p.whole_ms))
    assert p.forward_ms > 0 and p.backward_ms > 0
    assert p.phase_sums_ms() == pytest.approx((sum(u.forward_ms for u in p.units), sum(u.backward_ms for u in p.units)))


def test_backward_macs_are_summary_mode_trains_per_stage():
    p = profile("regnetx_002", resolution=32, batch=2, mode="train", **FAST)
    t = netprobe.summary("regnetx_002", 32, batch=2, mode="train")
    assert [(u.name, u.macs, u.backward_macs) for u in p.units] == list(t.counts.stages)
    blocks = profile("regnetx_002", resolution=32, batch=2, mode="train", depth=2, **FAST)
    assert sum(u.backward_macs for u in blocks.units) == t.counts.backward
    by_stage = {}
    for u in blocks.units:
        by_stage[u.stage] = by_stage.get(u.stage, 0) + u.backward_macs
    assert by_stage == {n: b for n, _, b in t.counts.stages}
    assert blocks.units[1].backward_macs == t.backward_of(blocks.units[1].name) > 0  # a block: its layers'


def test_a_hub_modules_stages_get_their_own_backward_macs():
    model = "summary_models:TorchvisionStyle"
    p = profile(model, resolution=32, batch=2, mode="train", **FAST)
    t = netprobe.summary(model, 32, batch=2, mode="train")
    assert [(u.name, u.backward_macs) for u in p.units] == [(n, b) for n, _, b in t.counts.stages]


def test_a_wait_in_a_stages_backward_is_in_that_stages_backward():
    p = profile(slow_backward(), resolution=32, batch=2, mode="train", **FAST)
    assert [u.name for u in p.units] == ["stem", "s1", "s2"]
    for unit, wait in zip(p.units, (60, 20, 40)):
        assert unit.backward_ms >= wait  # no bound above: a shared machine wakes sleepers late
        assert unit.forward_ms < wait  # the wait is the backward's only
    # the stages' backward adds up to the step's, within 10% or the spread the samples show
    spread = _iqr(p.whole_backward_ms) + sum(_iqr(u.backward_samples_ms) for u in p.units)
    assert abs(p.phase_sums_ms()[1] - p.backward_ms) <= max(0.10 * p.backward_ms, spread)


def test_infer_has_no_split():
    p = profile("regnetx_002", resolution=32, **FAST)
    assert p.forward_ms is None and p.backward_ms is None and p.phase_sums_ms() is None
    assert all(u.forward_ms is None and u.backward_ms is None and u.backward_macs is None for u in p.units)
    assert all(u.median_ms > 0 for u in p.units)


def test_cli_table_json_and_csv_of_train(tmp_path):
    r = CliRunner().invoke(app, ["profile", "regnetx_002", "--mode", "train", *CLI_FAST])
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if line.startswith("stage"))
    assert header.split()[:6] == ["stage", "fwd", "ms", "bwd", "ms", "MACs"] and "bwd MACs" in header
    assert "forward " in r.stdout and "backward " in r.stdout and r.stdout.count("stages sum") == 3
    assert "train: FLOPs 2 x (MACs + bwd MACs" in r.stdout
    infer = CliRunner().invoke(app, ["profile", "regnetx_002", *CLI_FAST])
    assert "bwd" not in infer.stdout and infer.stdout.count("stages sum") == 1
    out = tmp_path / "train.csv"
    r = CliRunner().invoke(app, ["profile", "regnetx_002", "--mode", "train", *CLI_FAST, "--json", "--csv", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc) == JSON_KEYS and all(list(s) == STAGE_KEYS for s in doc["stages"])
    assert doc["forward_ms"] > 0 and doc["backward_ms"] > 0
    t = netprobe.summary("regnetx_002", 32, batch=2, mode="train")
    assert [(s["name"], s["macs"], s["backward_macs"]) for s in doc["stages"]] == list(t.counts.stages)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == PROFILE_COLUMNS
    assert [int(row["backward_macs"]) for row in rows] == [s["backward_macs"] for s in doc["stages"]]
    assert all(float(row["forward_ms"]) > 0 and float(row["backward_ms"]) > 0 for row in rows)
    assert all(float(row["whole_forward_ms"]) > 0 and float(row["whole_backward_ms"]) > 0 for row in rows)


def test_several_inputs_and_a_factorys_get_their_backward_macs():
    from netprobe.analysis.train import train_counts

    counted = train_counts("input_models:TwoInputs", batch=2, input_size="3x16x16,12")
    for given in (dict(input_size="3x16x16,12"), dict(inputs="input_models:make_pair")):
        p = profile("input_models:TwoInputs", batch=2, mode="train", **given, **FAST)
        assert sum(u.backward_macs for u in p.units) == counted.backward > 0, given


def test_a_model_the_count_cannot_observe_is_timed_without_backward_macs(monkeypatch):
    from netprobe.errors import NetprobeError
    from netprobe.timing import profile_units

    def refuse(*args, **kwargs):
        raise NetprobeError("the pass on meta refuses this model")

    monkeypatch.setattr(profile_units, "train_counts", refuse)
    p = profile("input_models:TwoInputs", batch=2, mode="train", input_size="3x16x16,12", **FAST)
    assert all(u.backward_macs is None and u.forward_ms > 0 and u.backward_ms > 0 for u in p.units)
    m = p.metrics(p.units[0])
    assert m["backward_macs"] is None and m["achieved_gflops"] > 0  # FLOPs x3, as before counts existed
    r = CliRunner().invoke(app, ["profile", "input_models:TwoInputs", "--input-size", "3x16x16,12", "--mode", "train",
                                 "-b", "2", "--warmup", "2", "--min-time", "0.1", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "train: FLOPs x3 (bwd MACs not counted)" in r.stdout


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_stage_forward_and_backward_are_timed_with_events():
    p = profile("regnetx_002", device="cuda", resolution=64, batch=8, mode="train", warmup=3, min_time=0.2)
    assert "CUDA events" in p.method and all(u.forward_ms > 0 and u.backward_ms > 0 for u in p.units)
    forward, backward = p.phase_sums_ms()
    assert forward == pytest.approx(p.forward_ms, rel=0.15) and backward == pytest.approx(p.backward_ms, rel=0.15)
