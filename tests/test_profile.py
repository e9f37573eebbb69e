"""profile(): per-stage times that add up, bytes and intensity by the stated rule, the roofline and its cache."""

import json
import statistics
import time

import pytest
import torch
from torch import nn

from netprobe import NetprobeError
from netprobe.analysis.summary import summary
from netprobe.timing.bench import bench
from netprobe.timing.profile import JSON_KEYS, PROFILE_COLUMNS, STAGE_KEYS, profile

FAST = dict(warmup=2, min_time=0.1, threads=1)


class Sleepy(nn.Module):
    """A strided conv, then a known wait: a stage whose time is known."""

    def __init__(self, w_in, w_out, seconds):
        super().__init__()
        self.conv = nn.Conv2d(w_in, w_out, 3, 2, 1)
        self.seconds = seconds

    def forward(self, x):
        y = self.conv(x)
        time.sleep(self.seconds)
        return y


def sleepy():
    return nn.Sequential(Sleepy(3, 8, 0.02), Sleepy(8, 16, 0.04), Sleepy(16, 32, 0.06))


def _iqr(samples) -> float:
    q = statistics.quantiles(samples, n=4)
    return q[2] - q[0]


def test_stage_times_add_up_to_the_whole_pass_and_are_where_the_time_is():
    p = profile(sleepy(), resolution=32, **FAST)
    assert [u.name for u in p.units] == ["stem", "s1", "s2"]
    for unit, wait in zip(p.units, (20, 40, 60)):
        assert unit.median_ms >= wait  # no bound above: a shared machine wakes sleepers late
    # within 10%, or within the spread the samples themselves show (a loaded machine wakes sleepers late)
    spread = _iqr(p.whole_ms) + sum(_iqr(u.samples_ms) for u in p.units)
    assert abs(p.stage_sum_ms - p.median_ms) <= max(0.10 * p.median_ms, spread)
    assert sum(p.metrics(u)["time_pct"] for u in p.units) == pytest.approx(100)


class SleepyBlock(nn.Module):
    """A token block, then a known wait."""

    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        y = x + self.fc(x)
        time.sleep(0.01)
        return y


def test_branches_that_run_side_by_side_are_timed_in_every_stretch():
    import pyramid_patterns

    model = pyramid_patterns.TwoBranches()
    for block in model.blocks:  # the first branch waits 10 ms in each of the 3 blocks, the second not at all
        block.blocks[0] = nn.Sequential(SleepyBlock(8))
    p = profile(model, resolution=240, **FAST)
    first, second = (u for u in p.units if u.name in ("s1", "s2"))
    assert first.median_ms >= 30  # every block's stretch of it, not only the first
    assert second.median_ms < first.median_ms / 2


def test_the_method_says_which_clock_the_marks_read():
    from netprobe.timing import preempt

    watch = preempt.Watch()
    waits_read = watch.corrects  # Linux: the timing thread's waits for a CPU are read, and taken off the marks
    watch.close()
    p = profile(sleepy(), resolution=32, **FAST)
    assert p.method.startswith("perf_counter less the waits for a CPU" if waits_read else "perf_counter at every")
    assert {row["timing"] for row in p.records()} == {p.method}


def test_whole_pass_agrees_with_bench():
    model = sleepy()
    (row,) = bench(model, resolution=32, **FAST)
    assert profile(model, resolution=32, **FAST).median_ms == pytest.approx(row["median_ms"], rel=0.15)


def test_json_schema_and_shares_follow_summary():
    p = profile("regnetx_002", resolution=32, batch=2, **FAST)
    doc = json.loads(json.dumps(p.to_json()))
    assert list(doc) == JSON_KEYS and all(list(st) == STAGE_KEYS for st in doc["stages"])
    s = summary("regnetx_002", 32, 2)
    assert [st["name"] for st in doc["stages"]] == [st.name for st in s.stages]
    for st, ref in zip(doc["stages"], s.stages):
        assert st["macs_pct"] == pytest.approx(100 * ref.counts.macs / s.totals.macs)
        assert st["acts_pct"] == pytest.approx(100 * ref.counts.acts / s.totals.acts)
        assert st["bound"] == ("memory" if st["intensity"] < p.roof.ridge else "compute")
        assert st["achieved_gflops"] == pytest.approx(2 * ref.counts.macs / (st["median_ms"] / 1e3) / 1e9)
    assert (doc["model"], doc["batch"], doc["resolution"], doc["mode"], doc["dtype"]) == ("regnetx_002", 2, 32,
                                                                                         "infer", "fp32")
    assert doc["ci_low_ms"] <= doc["median_ms"] <= doc["ci_high_ms"]


def test_pairs_are_sampled_as_bench_samples_past_min_time_until_the_interval_or_the_cap():
    from netprobe.timing import boundaries, engine, preempt

    lay = boundaries.Layout(("a",), {"x": "a"}, {})  # one unit from the pass's start: no hooks needed

    def run(target):
        start, marks = time.perf_counter(), boundaries.Marks(False)
        try:
            times = boundaries.sample(lambda: time.sleep(0.002), lay, marks, engine.Warmup(iters=1), 0.02, target)
        finally:
            marks.close()
        return time.perf_counter() - start, times

    took, never = run(0.0)  # an interval of width 0 is never met: the cap ends it
    assert took >= engine.CAP_FACTOR * 0.02 and len(never.whole_ms) == len(never.unit_ms["a"])
    took, loose = run(10.0)  # met at the first check: min_time and MIN_SAMPLES pairs, no more
    assert len(loose.whole_ms) >= engine.MIN_SAMPLES and len(loose.unit_ms["a"]) == len(loose.whole_ms)
    watch = preempt.Watch()
    watch.close()
    # where the waits are unread, a pair that lost a CPU goes whole; where they are read, nothing is marked
    assert (loose.preempted_share is not None) == (not watch.corrects and preempt.marking())


def test_bytes_are_inputs_outputs_and_weights_at_the_dtype():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1))
    p = profile(model, resolution=16, batch=2, **FAST)
    conv1 = 2 * (3 * 16 * 16 + 8 * 16 * 16) + (8 * 3 * 9 + 8)
    relu = 2 * (8 * 16 * 16 + 8 * 16 * 16)  # in place, but read and written
    conv2 = 2 * (8 * 16 * 16 + 8 * 8 * 8) + (8 * 8 * 9 + 8)
    assert sum(u.bytes for u in p.units) == 4 * (conv1 + relu + conv2)
    macs = 2 * (16 * 16 * 8 * 3 * 9 + 16 * 16 * 8 + 8 * 8 * 8 * 8 * 9 + 8 * 8 * 8)
    assert p.intensity == pytest.approx(2 * macs / (4 * (conv1 + relu + conv2)))


def test_depthwise_network_has_lower_intensity_than_resnet50():
    effnet = profile("efficientnet_b0", resolution=64, batch=2, **FAST)
    resnet = profile("resnet50", resolution=64, batch=2, **FAST)
    assert effnet.intensity < resnet.intensity


def test_a_cached_roof_that_a_stage_beats_is_remeasured(monkeypatch, tmp_path):
    import dataclasses

    from netprobe.timing import roofline

    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    torch.set_num_threads(1)  # the key of the planted roof: FAST runs at 1 thread
    try:
        key = roofline._key("cpu", "fp32")
    finally:
        torch.set_num_threads(FAST["threads"])
    slow = roofline.Roof(1e-3, 1e-3, "cpu", "x", "fp32", 1, None, torch.__version__, "h", 1, 1, "then", 0.0, 2, True)
    (tmp_path / roofline.CACHE_FILE).write_text(json.dumps({key: dataclasses.asdict(slow)}))
    p = profile("resnet18", resolution=32, **FAST)
    # a stage beats a roof of 1 MFLOP/s and 1 MB/s on any machine, however busy: it was measured again
    assert p.roof != slow and p.roof.peak_gflops > slow.peak_gflops
    assert p.roof_source.startswith("remeasured: a stage beat the cached roof")
    assert p.to_json()["roof_source"] == p.roof_source and p.to_json()["roof_measured_at"] == p.roof.measured_at


def test_a_cached_roof_is_one_no_stage_beats(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    for _ in range(2):
        p = profile("resnet18", resolution=64, batch=4, **FAST)
        # the relation that holds however loaded the machine is: a roof used from the cache is never beaten
        # (one that is gets measured again); a roof measured in this run may be, by noise, and says so
        assert p.roof_source != "cached" or not p.beats_roof()
        assert p.roof_source in ("cached", "measured", "measured under load, not cached") \
            or p.roof_source.startswith("remeasured")


def test_rows_say_whether_they_can_be_trusted():
    p = profile("regnetx_002", resolution=32, **FAST)
    rows = p.records()
    assert {r["stable"] for r in rows} == {p.verdict.stable} and isinstance(p.verdict.stable, bool)
    assert all(r["cpus"] >= 1 and r["roof_source"] == p.roof_source for r in rows)
    assert (rows[0]["unstable_reason"] is None) == p.verdict.stable
    assert p.cpu_share is not None and p.cpu_share > 0


def test_blocks_at_depth_two_split_the_stages():
    p = profile("resnet18", resolution=32, depth=2, **FAST)
    s = summary("resnet18", 32)
    names = [u.name for u in p.units]
    assert "s2.b1" in names and "s2.b2" in names
    for st in s.stages:
        assert sum(u.macs for u in p.units if u.stage == st.name) == st.counts.macs
    assert p.stage_sum_ms == pytest.approx(sum(u.median_ms for u in p.units))


def test_train_mode_times_forward_and_backward_on_a_copy():
    model = sleepy()
    before = [t.detach().clone() for t in model.parameters()]
    infer = profile(model, resolution=32, batch=2, **FAST)
    train = profile(model, resolution=32, batch=2, mode="train", **FAST)
    assert train.mode == "train" and len(train.units) == 3
    assert all(u.median_ms > 0 for u in train.units) and infer.mode == "infer"
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), before))
    assert all(t.grad is None for t in model.parameters())
    m = train.metrics(train.units[1])
    assert m["bytes"] == 3 * train.units[1].bytes  # forward, input gradient, weight gradient


def test_python_api_is_a_dataframe_of_stages():
    import netprobe

    frame = netprobe.profile("regnetx_002", resolution=32, **FAST)
    assert list(frame.columns) == PROFILE_COLUMNS
    assert list(frame["name"]) == [st.name for st in summary("regnetx_002", 32).stages]
    assert (frame["threads"] == 1).all() and frame["whole_ms"].nunique() == 1
    assert frame["peak_gflops"].iloc[0] > 0 and frame["device_name"].iloc[0]


@pytest.mark.parametrize("option, message", [
    (dict(mode="fly"), "mode 'fly' is not valid"),
    (dict(mode="infer,train"), "profile takes one mode"),
    (dict(depth=0), "depth '0' is not valid"),
    (dict(depth=3), "depth '3' is not valid"),
    (dict(batch=0), "batch '0'"),
    (dict(device="tpu"), "unknown device"),
])
def test_bad_options_are_refused(option, message):
    with pytest.raises(NetprobeError, match=message):
        profile("regnetx_002", **option)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_stages_are_timed_with_events():
    p = profile("regnetx_002", device="cuda", resolution=64, batch=8, dtype="fp16", warmup=3, min_time=0.2)
    assert p.device.startswith("cuda:") and "CUDA events" in p.method
    assert [u.name for u in p.units] == [st.name for st in summary("regnetx_002", 64, 8).stages]
    assert p.stage_sum_ms == pytest.approx(p.median_ms, rel=0.10)
    assert p.peak_mem_bytes > 0 and p.roof.dtype == "fp16" and p.context["cuda_version"]


def test_input_size_and_output_stride_reach_the_profiled_model():
    p = profile("resnet18", output_stride=8, resolution=64, **FAST)
    s = summary("resnet18", 64, output_stride=8)
    assert p.model == s.model == "resnet18_os8"
    assert [u.name for u in p.units] == [st.name for st in s.stages]
    wide = profile("regnetx_002", input_size="3x32x64", **FAST)
    assert wide.resolution == 32 and wide.units
