"""bench(): statistics, the timing loop, row schema and context, failures, interrupts, bad input."""

import csv
import time
from datetime import datetime

import pytest
import torch
from torch import nn

from conftest import read_csv
import netprobe
from netprobe import NetprobeError
from netprobe.timing import bench as bench_mod
from netprobe.timing import engine
from netprobe.timing.bench import BENCH_COLUMNS, Interrupted, bench
from netprobe.timing.stats import quantile, summarize

FAST = dict(warmup=2, min_time=0.05)
GOLDEN = {r["model"]: r for r in read_csv("golden.csv")}


class Sleeper(nn.Module):
    """A model whose forward pass costs a known time."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        time.sleep(self.seconds)
        return self.conv(x)


class Probe(nn.Module):
    """Records the state each forward pass runs in."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.seen = []

    def forward(self, x):
        self.seen.append({"training": self.training, "inference": torch.is_inference_mode_enabled(),
                          "autocast": torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu"),
                          "channels_last": x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(),
                          "ptr": x.data_ptr(), "shape": tuple(x.shape), "threads": torch.get_num_threads()})
        return self.conv(x)


class Raiser(nn.Module):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        raise self.exc


# statistics ----------------------------------------------------------------

def test_summary_of_one_to_ten_by_hand():
    s = summarize([7, 1, 10, 3, 2, 9, 4, 8, 6, 5])
    # linear interpolation between ranks: position q*(n-1) in the sorted samples
    assert s.median_ms == pytest.approx(5.5)
    assert s.p10_ms == pytest.approx(1.9)  # 1 + 0.9 * (2 - 1)
    assert s.p90_ms == pytest.approx(9.1)  # 9 + 0.1 * (10 - 9)
    assert s.iqr_ms == pytest.approx(7.75 - 3.25)
    assert s.samples == 10


def test_summary_small_and_degenerate():
    assert summarize([3.0, 1.0, 2.0]).median_ms == 2.0
    one = summarize([4.2])
    assert (one.median_ms, one.p10_ms, one.p90_ms, one.iqr_ms, one.samples) == (4.2, 4.2, 4.2, 0.0, 1)
    assert quantile([0.0, 10.0], 0.25) == 2.5
    with pytest.raises(ValueError):
        quantile([], 0.5)


# warm-up --------------------------------------------------------------------

def test_cpu_samples_fill_min_time_and_the_minimum_count():
    start = time.perf_counter()
    samples, lost, _ = engine.cpu_samples(lambda: time.sleep(0.005), min_time=0.05)
    assert time.perf_counter() - start >= 0.05 and len(lost) in (0, len(samples))  # marks where the OS gives them
    assert len(samples) >= engine.MIN_SAMPLES and all(s >= 5.0 for s in samples)
    assert len(engine.cpu_samples(lambda: time.sleep(0.02), min_time=0.001)[0]) == engine.MIN_SAMPLES


def test_warmup_parsing():
    assert engine.parse_warmup(None) == engine.Warmup()
    assert engine.parse_warmup("steady") == engine.Warmup()
    assert engine.parse_warmup(10) == engine.Warmup(iters=10)
    assert engine.parse_warmup("10") == engine.Warmup(iters=10)
    assert engine.parse_warmup("2s") == engine.Warmup(seconds=2.0)
    assert engine.parse_warmup(0.5) == engine.Warmup(seconds=0.5)
    for bad in (0, "0", -1, "0s", "ten", True, "1.5x"):
        with pytest.raises(NetprobeError, match="warm-up"):
            engine.parse_warmup(bad)


def test_warmup_stops_when_steady_not_before():
    steady = engine.Warmup()
    assert not engine.is_warm([50.0, 10, 10, 10, 10], 0.1, steady)  # fewer than two windows
    assert engine.is_warm([50.0, 10, 10, 10, 10, 10.2], 0.1, steady)
    assert not engine.is_warm([50.0, 20, 18, 16, 12, 11, 10], 0.1, steady)  # still getting faster
    assert engine.is_warm([50.0, 20, 18], 0.05 + engine.STEADY_CAP_S, steady)  # capped
    assert engine.is_warm([1.0, 1.0, 1.0], 0.0, engine.Warmup(iters=3))
    assert not engine.is_warm([1.0], 0.4, engine.Warmup(seconds=0.5))


# timing a model of known cost ---------------------------------------------

def test_known_latency_is_measured():
    (row, slower) = bench([Sleeper(0.02), Sleeper(0.1)], resolution=8, batch=2, warmup=1, min_time=0.2)
    assert row["status"] == slower["status"] == "ok"
    assert 20.0 <= row["p10_ms"] <= row["median_ms"] <= row["p90_ms"]
    # Relations that hold on a busy machine: a sleep is never shorter than asked, and 80 ms more
    # of it shows up as more time (a shared machine adds delays to both, not 80 ms to one).
    assert slower["p10_ms"] >= 100.0 and slower["median_ms"] > row["median_ms"]
    assert row["samples"] >= engine.MIN_SAMPLES
    assert row["imgs_per_s"] == pytest.approx(2 / (row["median_ms"] / 1e3))


def test_known_macs_give_achieved_flops():
    rows = bench("regnetx_004", batch=[1, 2], **FAST)
    assert [r["batch"] for r in rows] == [1, 2]
    for r in rows:
        assert r["macs"] == int(GOLDEN["regnetx_004"]["macs"])  # per image, at the native 224 px
        assert r["resolution"] == 224
        assert r["achieved_gflops"] == pytest.approx(2 * r["macs"] * r["batch"] / (r["median_ms"] / 1e3) / 1e9)


def test_forward_runs_in_eval_inference_mode_on_one_input():
    probe = Probe().train()
    bench(probe, resolution=16, batch=3, threads=1, **FAST)
    timed = [s for s in probe.seen if s["shape"][0] == 3]  # not the batch-1 pass that counts MACs
    assert len(timed) >= engine.MIN_SAMPLES + 2
    assert all(not s["training"] and s["inference"] and s["shape"] == (3, 3, 16, 16) for s in timed)
    assert len({s["ptr"] for s in timed}) == 1  # the input is made once
    assert {s["threads"] for s in timed} == {1}


def test_bf16_autocast_and_channels_last_on_cpu():
    probe = Probe()
    (row,) = bench(probe, resolution=16, batch=2, dtype="bf16", channels_last=True, **FAST)
    assert (row["dtype"], row["channels_last"], row["status"]) == ("bf16", True, "ok")
    timed = [s for s in probe.seen if s["shape"][0] == 2]
    assert timed and all(s["autocast"] == torch.bfloat16 and s["channels_last"] for s in timed)


def test_compile_time_is_reported_apart_from_latency(monkeypatch):
    def fake_compile(model, **_kw):
        calls = []

        def run(x):
            if not calls:
                time.sleep(0.3)  # a compile the latency must not include
            calls.append(1)
            return model(x)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    (row,) = bench(Probe(), resolution=8, compile=True, **FAST)
    assert row["compile"] is True
    assert row["compile_s"] >= 0.3
    assert row["p90_ms"] < 300


# schema and context ---------------------------------------------------------

def test_row_schema_and_context():
    before = torch.get_num_threads()
    (row,) = bench("regnetx_002", resolution=32, threads=1, **FAST)
    assert list(row) == BENCH_COLUMNS
    assert torch.get_num_threads() == before  # restored
    assert row["threads"] == 1
    assert (row["model"], row["family"], row["batch"], row["resolution"]) == ("regnetx_002", "regnetx", 1, 32)
    assert (row["dtype"], row["device"], row["compile"], row["channels_last"]) == ("fp32", "cpu", False, False)
    assert row["torch_version"] == torch.__version__
    assert row["netprobe_version"] and row["device_name"]
    assert datetime.fromisoformat(row["timestamp"]).tzinfo is not None
    assert row["mode"] == "infer"
    # CUDA-only fields stay empty on CPU rather than holding a misleading value
    for col in ("cuda_version", "cudnn_version", "cudnn_benchmark", "tf32", "compile_s"):
        assert row[col] is None, col


def test_python_api_returns_a_dataframe():
    import pandas as pd

    import netprobe

    frame = netprobe.bench([Probe(), Probe()], resolution=8, batch="1,2", **FAST)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == BENCH_COLUMNS
    assert list(frame["batch"]) == [1, 2, 1, 2] and (frame["status"] == "ok").all()


def test_default_threads_are_torchs():
    (row,) = bench(Probe(), resolution=8, **FAST)
    assert row["threads"] == torch.get_num_threads()


# modes and CPU peak memory ---------------------------------------------------

def test_train_mode_runs_a_training_step_on_a_copy():
    probe, seen = Probe(), []
    probe.register_forward_pre_hook(lambda m, _: seen.append((m.training, torch.is_inference_mode_enabled())))
    weights = probe.conv.weight.detach().clone()
    rows = bench(probe, resolution=8, batch=2, mode="infer,train", **FAST)
    assert [(r["mode"], r["status"]) for r in rows] == [("infer", "ok"), ("train", "ok")]
    # inference in eval and inference mode, training in train mode (configurations are sampled in
    # turn, so the order of the two is the scheduler's); the hook is shared with the copy
    assert seen[0] == (False, True) and set(seen) == {(False, True), (True, False)}
    # the training iterations ran on a copy: the caller's module keeps its weights and eval mode
    assert torch.equal(probe.conv.weight, weights) and probe.conv.weight.grad is None and probe.training


def test_train_step_changes_the_weights_as_sgd_does():
    from netprobe.timing.modes import sgd, train_step

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(5))
    x = torch.randn(2, 3, 8, 8)
    model(x)
    before = [p.detach().clone() for p in model.parameters()]
    train_step(model, x, "cpu", "fp32", sgd(model))()
    assert all(p.grad is not None for p in model.parameters())
    assert all(not torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_train_flops_count_three_passes():
    infer, train = bench(Probe(), resolution=8, batch=2, mode="infer,train", threads=1, **FAST)
    assert infer["macs"] == 4 * 6 * 6 * (3 * 9 + 1)  # conv 3x3, 3 -> 4 channels, bias, 6x6 output
    for r in (infer, train):
        assert r["achieved_gflops"] == pytest.approx(2 * r["macs"] * r["batch"] * (3 if r["mode"] == "train" else 1)
                                                     / (r["median_ms"] / 1e3) / 1e9)


@pytest.mark.skipif(not bench_mod.PeakMemory("cpu").can_measure(), reason="needs Linux's /proc/self/clear_refs")
def test_cpu_peak_memory_grows_with_batch_and_training():
    model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    weights = sum(p.numel() * 4 for p in model.parameters())
    small, big, train = (bench(model, resolution=32, batch="1,16", threads=1, **FAST)
                         + bench(model, resolution=32, batch=16, mode="train", threads=1, **FAST))
    # batch 16 holds at least its input and one 64-channel activation: 16 * (3 + 64) * 32 * 32 * 4 bytes
    assert big["peak_mem_bytes"] - small["peak_mem_bytes"] > 15 * (3 + 64) * 32 * 32 * 4 * 0.9
    assert small["peak_mem_bytes"] >= weights
    assert train["peak_mem_bytes"] > big["peak_mem_bytes"]  # activations kept for backward, gradients


def test_bad_mode_is_refused():
    with pytest.raises(NetprobeError, match="mode 'fly' is not valid; use infer, train or infer,train"):
        bench("regnetx_002", mode="infer,fly", **FAST)


# failures stay local ---------------------------------------------------------

@pytest.mark.parametrize("exc, status", [
    (RuntimeError("boom\nsecond line"), "error"),
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "oom"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"), "oom"),
])
def test_a_failing_model_becomes_a_row_and_the_run_goes_on(exc, status):
    rows = bench([Raiser(exc), Probe()], resolution=8, batch=[1, 2], **FAST)
    assert [(r["status"], r["batch"]) for r in rows] == [(status, 1), (status, 2), ("ok", 1), ("ok", 2)]
    assert "\n" not in rows[0]["error"] and type(exc).__name__ in rows[0]["error"]
    assert rows[0]["median_ms"] is None and rows[0]["imgs_per_s"] is None


def test_a_model_that_cannot_be_built_becomes_rows(monkeypatch):
    import netprobe.build

    def broken(net, device=None):
        raise ValueError(f"cannot build {net.name}")

    monkeypatch.setattr(netprobe.build, "build", broken)
    rows = bench("regnetx_002", resolution=32, batch="1,2", **FAST)
    assert [r["status"] for r in rows] == ["error", "error"]
    assert rows[0]["error"] == "ValueError: cannot build regnetx_002"


# rows written as they finish -------------------------------------------------

def interrupt_on(n, monkeypatch):
    real, calls = engine.time_config, []

    def time_config(*a, **kw):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(engine, "time_config", time_config)
    return calls


def test_interrupted_run_keeps_rows_in_csv(tmp_path, monkeypatch):
    out = tmp_path / "bench.csv"
    interrupt_on(2, monkeypatch)
    before = torch.get_num_threads()
    seen = []
    with pytest.raises(Interrupted) as stop:
        netprobe.bench("regnetx_002", resolution=32, batch=[1, 2, 4], csv=out, threads=1, on_row=seen.append, **FAST)
    assert [r["batch"] for r in stop.value.rows] == [1] == [r["batch"] for r in seen]
    with open(out) as f:
        written = list(csv.DictReader(f))
    assert [(r["model"], r["batch"], r["status"]) for r in written] == [("regnetx_002", "1", "ok")]
    assert torch.get_num_threads() == before


def test_csv_is_appended_with_one_header(tmp_path):
    out = tmp_path / "bench.csv"
    netprobe.bench(Probe(), resolution=8, csv=out, **FAST)
    netprobe.bench(Probe(), resolution=8, batch=[1, 2], csv=out, **FAST)
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == BENCH_COLUMNS
    assert len(lines) == 4 and sum(line.startswith("model,") for line in lines) == 1


# bad input: an error before any work -----------------------------------------

BAD = [
    (dict(device="tpu"), "unknown device"),
    (dict(device="cuda:x"), "unknown device"),
    (dict(dtype="fp64"), "unknown dtype"),
    (dict(dtype="fp16"), "fp16 is not supported on cpu"),
    (dict(batch=0), "batch '0'"),
    (dict(batch="1,-8"), "batch '-8'"),
    (dict(batch="1,x"), "batch 'x'"),
    (dict(batch=[]), "no batch"),
    (dict(resolution=0), "resolution"),
    (dict(resolution=-1), "resolution"),
    (dict(threads=0), "threads"),
    (dict(min_time=0), "min-time"),
    (dict(warmup=0), "warm-up"),
    (dict(csv="missing/dir/out.csv"), "does not exist"),
    (dict(models="regnetx_04"), "did you mean regnetx_004"),
    (dict(models=[]), "no models"),
    (dict(models=Probe(), resolution=None), "resolution is needed"),
]


@pytest.mark.parametrize("kwargs, message", BAD, ids=[str(k) for k, _ in BAD])
def test_bad_input_fails_before_any_work(kwargs, message, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    calls = interrupt_on(0, monkeypatch)
    kwargs = {"models": "regnetx_002", **kwargs}
    with pytest.raises(NetprobeError, match=message):
        netprobe.bench(**kwargs)  # the Python API: csv is its sink's, the rest the plan's
    assert not calls


def test_plan_checks_and_resolves_without_building(monkeypatch):
    calls = interrupt_on(0, monkeypatch)
    todo = bench_mod.plan("regnetx_002,resnet18", batch="1,8,1", resolution=32)
    assert [t.name for t in todo.targets] == ["regnetx_002", "resnet18"]
    assert (todo.batches, todo.size, todo.settings["threads"]) == ((1, 8), 4, None)
    assert not calls


@pytest.mark.parametrize("what, value, kind, message", [
    ("batch", "x", int, "batch 'x' is not a positive integer"),
    ("batch", 2.5, int, "batch '2.5' is not a positive integer"),
    ("batch", True, int, "batch 'True' is not a positive integer"),
    ("min-time", "nan", float, "min-time 'nan' is not a positive number"),
    ("min-time", -1.0, float, "min-time '-1.0' is not a positive number"),
])
def test_positive_numbers_have_one_wording(what, value, kind, message):
    with pytest.raises(NetprobeError, match=message):
        bench_mod.positive(what, value, kind)


def test_csv_with_other_columns_is_refused(tmp_path):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(NetprobeError, match="other columns"):
        netprobe.bench(Probe(), resolution=8, csv=out, **FAST)
    assert out.read_text() == "a,b\n1,2\n"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(NetprobeError, match="CUDA is not available"):
        bench("regnetx_002", device="cuda")


# CUDA ------------------------------------------------------------------------

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@needs_cuda
@pytest.mark.cuda
def test_cuda_rows_carry_memory_and_cudnn_context():
    before = torch.backends.cudnn.benchmark
    rows = bench("regnetx_002", device="cuda", resolution=64, batch=[1, 8], dtype="fp16", **FAST)
    assert torch.backends.cudnn.benchmark == before
    for r in rows:
        assert r["status"] == "ok" and r["device"].startswith("cuda:")
        assert r["cudnn_benchmark"] is True and r["cuda_version"] and r["cudnn_version"]
        assert r["peak_mem_bytes"] > 0 and r["samples"] >= engine.MIN_SAMPLES
    assert rows[1]["peak_mem_bytes"] > rows[0]["peak_mem_bytes"]  # reset between configurations


@needs_cuda
@pytest.mark.cuda
def test_cuda_oom_is_a_row_and_memory_is_freed():
    free, _ = torch.cuda.mem_get_info()
    side = int((free / 4 / 3) ** 0.5) + 1024  # an input larger than the free memory
    (row,) = bench(Probe(), device="cuda", resolution=side, batch=[2], **FAST)
    assert row["status"] == "oom"
    assert torch.cuda.memory_allocated() < free / 2
    (row,) = bench(Probe(), device="cuda", resolution=64, batch=[2], **FAST)
    assert row["status"] == "ok"


@needs_cuda
@pytest.mark.cuda
def test_cuda_known_latency():
    class Spin(nn.Module):
        def forward(self, x):
            torch.cuda._sleep(10_000_000)  # about 5-10 ms of GPU time, clock dependent
            return x

    (row,) = bench(Spin(), device="cuda", resolution=8, **FAST)
    assert row["status"] == "ok" and row["p10_ms"] <= row["median_ms"] <= row["p90_ms"]
    assert row["iqr_ms"] < 0.2 * row["median_ms"]
