"""The roofline: peak matmul FLOP/s and copy bandwidth, measured once per context and cached on disk."""

import dataclasses
import json

import pytest
import torch

from netprobe.timing import roofline

FAKE = roofline.Roof(100.0, 10.0, "cpu", "x", "fp32", 1, None, "t", "h", 1, 1, "now", 0.1, 2, True)


def test_roof_is_cached_with_its_context_unless_measured_under_load(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    first, source = roofline.lookup("cpu", "fp32")
    assert first.peak_gflops > 0 and first.bandwidth_gbs > 0 and first.threads == torch.get_num_threads()
    assert first.cpus >= 1 and first.measured_at
    if not first.stable:  # this machine is busy now: the roof is used, not kept
        assert source == "measured under load, not cached" and not (tmp_path / roofline.CACHE_FILE).exists()
        return
    assert source == "measured"
    monkeypatch.setattr(roofline, "measure", lambda *a: pytest.fail("measured again"))
    assert roofline.lookup("cpu", "fp32") == (first, "cached")
    (record,) = json.loads((tmp_path / roofline.CACHE_FILE).read_text()).values()
    assert record["device_name"] and record["torch_version"] == torch.__version__ and record["measured_at"]
    assert "load_avg" in record and record["cpus"] == first.cpus


def test_a_roof_measured_under_load_is_not_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    loaded = dataclasses.replace(FAKE, load_avg=9.0, stable=False)
    monkeypatch.setattr(roofline, "measure", lambda *a: loaded)
    assert roofline.lookup("cpu", "fp32") == (loaded, "measured under load, not cached")
    assert not (tmp_path / roofline.CACHE_FILE).exists()
    monkeypatch.setattr(roofline, "measure", lambda *a: FAKE)
    assert roofline.lookup("cpu", "fp32") == (FAKE, "measured")
    assert roofline.lookup("cpu", "fp32") == (FAKE, "cached")


def test_measure_judges_its_own_load(monkeypatch):
    monkeypatch.setattr(roofline.trust, "load_avg", lambda: 50.0)
    monkeypatch.setattr(roofline, "MEASURE_S", 0.01)
    monkeypatch.setattr(roofline, "MATMUL_N", {"cpu": (64,)})
    monkeypatch.setattr(roofline, "COPY_MIN_BYTES", {"cpu": 1 << 20})
    monkeypatch.setattr(roofline, "_last_level_cache", lambda: 0)
    r = roofline.measure("cpu", "fp32")
    assert r.load_avg == 50.0 and not r.stable


@pytest.mark.parametrize("content", [
    "[1, 2]", '"a string"', "null", "{not json",
    json.dumps({"k": {**dataclasses.asdict(FAKE), "bandwidth_gbs": 0}}),
    json.dumps({"k": {**dataclasses.asdict(FAKE), "peak_gflops": "100"}}),
    json.dumps({"k": {**dataclasses.asdict(FAKE), "threads": "1"}}),
    json.dumps({"k": {**dataclasses.asdict(FAKE), "measured_at": 3}}),
    json.dumps({"k": "not an entry"}),
])
def test_a_malformed_cache_is_no_cache_and_is_rewritten(monkeypatch, tmp_path, content):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    path = tmp_path / roofline.CACHE_FILE
    key = roofline._key("cpu", "fp32")
    path.write_text(content.replace('"k"', json.dumps(key)))
    monkeypatch.setattr(roofline, "measure", lambda *a: FAKE)
    for refresh in (False, True):
        assert roofline.lookup("cpu", "fp32", refresh=refresh) == (FAKE, "measured")
    assert json.loads(path.read_text()) == {key: dataclasses.asdict(FAKE)}


def test_a_failed_cache_write_leaves_no_temporary_file(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(roofline, "measure", lambda *a: FAKE)
    monkeypatch.setattr(roofline.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
    assert roofline.lookup("cpu", "fp32") == (FAKE, "measured")
    assert list(tmp_path.iterdir()) == []


def test_another_thread_count_is_measured_apart(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    calls = []
    fake = FAKE
    monkeypatch.setattr(roofline, "measure", lambda *a: calls.append(torch.get_num_threads()) or fake)
    before = torch.get_num_threads()
    try:
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            roofline.roof("cpu", "fp32")
    finally:
        torch.set_num_threads(before)
    assert calls == [1, 2]


def test_unreadable_cache_is_measured_again(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    (tmp_path / roofline.CACHE_FILE).write_text("{not json")
    fake = FAKE
    monkeypatch.setattr(roofline, "measure", lambda *a: fake)
    assert roofline.roof("cpu", "fp32") == fake
    assert json.loads((tmp_path / roofline.CACHE_FILE).read_text())


def test_roof_bound_and_attainable():
    r = FAKE
    assert r.ridge == 10.0
    assert (r.bound(5.0), r.bound(20.0)) == ("memory", "compute")
    assert (r.attainable_gflops(5.0), r.attainable_gflops(20.0)) == (50.0, 100.0)
