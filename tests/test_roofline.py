"""The roofline: peak matmul FLOP/s and copy bandwidth, measured once per context and cached on disk."""

import json

import pytest
import torch

from netprobe.timing import roofline


def test_roof_is_cached_with_its_context(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    first = roofline.roof("cpu", "fp32")
    assert first.peak_gflops > 0 and first.bandwidth_gbs > 0 and first.threads == torch.get_num_threads()
    monkeypatch.setattr(roofline, "measure", lambda *a: pytest.fail("measured again"))
    assert roofline.roof("cpu", "fp32") == first
    (record,) = json.loads((tmp_path / roofline.CACHE_FILE).read_text()).values()
    assert record["device_name"] and record["torch_version"] == torch.__version__ and record["measured_at"]


def test_another_thread_count_is_measured_apart(monkeypatch, tmp_path):
    monkeypatch.setenv("NETPROBE_CACHE_DIR", str(tmp_path))
    calls = []
    fake = roofline.Roof(100.0, 10.0, "cpu", "x", "fp32", 1, None, "t", "h", 1, 1, "now")
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
    fake = roofline.Roof(100.0, 10.0, "cpu", "x", "fp32", 1, None, "t", "h", 1, 1, "now")
    monkeypatch.setattr(roofline, "measure", lambda *a: fake)
    assert roofline.roof("cpu", "fp32") == fake
    assert json.loads((tmp_path / roofline.CACHE_FILE).read_text())


def test_roof_bound_and_attainable():
    r = roofline.Roof(100.0, 10.0, "cpu", "x", "fp32", 1, None, "t", "h", 1, 1, "now")
    assert r.ridge == 10.0
    assert (r.bound(5.0), r.bound(20.0)) == ("memory", "compute")
    assert (r.attainable_gflops(5.0), r.attainable_gflops(20.0)) == (50.0, 100.0)
