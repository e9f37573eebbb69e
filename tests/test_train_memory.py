"""Predicted training memory: its parts, its scaling with the batch, fit(), budgets, and a real step."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netprobe.analysis.train_memory import DEFAULT_OPTIMIZER, OPTIMIZERS, fit, parse_optimizer, train_memory
from netprobe.analysis.train_pass import observe
from netprobe.bytesize import format_bytes, parse_bytes
from netprobe.errors import NetprobeError
from netprobe.timing.modes import SGD_MOMENTUM

BENCHMARK = Path(__file__).parent.parent / "benchmarks" / "train_memory.py"


def test_the_default_optimizer_is_what_bench_train_steps():
    assert SGD_MOMENTUM > 0 and DEFAULT_OPTIMIZER == "sgd-momentum" == parse_optimizer(None)
    with pytest.raises(NetprobeError, match="unknown optimizer 'adam'; choose from sgd, sgd-momentum, adamw"):
        parse_optimizer("adam")


def test_parts_add_up_and_optimizer_state_is_one_or_two_buffers_per_trainable_parameter():
    m = {o: train_memory("regnetx_002", 4, o, resolution=96) for o in OPTIMIZERS}
    for p in m.values():
        assert p.train_memory_bytes == (p.params_bytes + p.buffers_bytes + p.optimizer_bytes + p.input_bytes
                                        + p.saved_bytes + p.grads_bytes + p.transient_bytes)
        assert p.saved_bytes <= p.saved_total_bytes and p.grads_bytes <= p.grads_total_bytes == p.params_bytes
        assert sum(s.saved_bytes for s in p.stages) == p.saved_total_bytes
        assert sum(s.params_bytes for s in p.stages) == p.params_bytes
        assert json.loads(json.dumps(p.to_dict()))["train_memory_bytes"] == p.train_memory_bytes
    assert m["sgd"].optimizer_bytes == 0
    assert m["sgd-momentum"].optimizer_bytes == m["sgd"].params_bytes
    assert m["adamw"].optimizer_bytes > 2 * m["sgd"].params_bytes  # and a step counter per tensor
    assert m["sgd"].train_memory_bytes < m["sgd-momentum"].train_memory_bytes < m["adamw"].train_memory_bytes


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_b0", "densenet121", "rexnet_1.0x"])
def test_a_prediction_at_any_batch_is_the_meta_observation_at_that_batch(name):
    """Observed at batch 2 and 3, scaled; the saved tensors observed at batch 7 are the same bytes."""
    from netprobe import registry
    from netprobe.build import build

    p = train_memory(name, 7, resolution=64)
    seen = observe(build(registry.spec(name), device="meta"), (3, 64, 64), 7)
    assert p.saved_total_bytes == sum(c.saved_bytes for c in seen.layers)
    assert p.input_bytes == seen.input_bytes and p.params_bytes == seen.params_bytes


def test_a_zoo_member_at_any_batch_is_instant_once_observed():
    train_memory("resnet50", 1, resolution=160)
    start = time.perf_counter()
    for batch in (1, 16, 256, 4096):
        train_memory("resnet50", batch, resolution=160)
    assert time.perf_counter() - start < 0.1


def test_fit_is_the_largest_batch_whose_prediction_fits():
    f = fit("mobilenetv2_100", "1GiB", resolution=128)
    assert f.budget_bytes == 2**30 and f.fit_batch > 1
    assert f.memory.train_memory_bytes <= f.budget_bytes
    assert train_memory("mobilenetv2_100", f.fit_batch + 1, resolution=128).train_memory_bytes > f.budget_bytes
    none = fit("mobilenetv2_100", "1MiB", resolution=128)
    assert none.fit_batch == 0 and none.memory.batch == 1


@pytest.mark.parametrize("text, n", [("16GiB", 16 * 2**30), ("512MiB", 512 * 2**20), ("8GB", 8 * 10**9),
                                     ("1.5e9", 1_500_000_000), ("96 kib", 96 * 1024), ("12b", 12)])
def test_budgets_are_bytes(text, n):
    assert parse_bytes(text) == n


@pytest.mark.parametrize("bad", ["16 gigs", "", "-1GiB", "0", "GiB", "1e400GB"])
def test_a_bad_budget_is_one_line_naming_the_forms(bad):
    with pytest.raises(NetprobeError, match=r"^bad memory budget '.*'.*e\.g\. 16GiB, 512MiB, 8GB") as e:
        parse_bytes(bad)
    assert "\n" not in str(e.value)


def test_budget_labels_read_back():
    assert format_bytes(1.5 * 2**30) == "1.5GiB" and parse_bytes(format_bytes(512 * 2**20)) == 512 * 2**20


def test_the_prediction_is_within_ten_percent_of_a_real_steps_peak():
    """A real training step on this CPU, measured as bench --mode train does, in a process of its own with
    glibc's mmap threshold fixed, so that the resident set (VmHWM) follows the live tensors; the allocator's
    own peak (``alloc_peak_bytes``) is what the prediction counts, within a few percent."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, str(BENCHMARK), "--one", "resnet18", "--resolution", "96",
                          "--batches", "4,8", "--steps", "2"], capture_output=True, text=True, check=True, env=env)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    for batch, (rss, allocated) in zip((4, 8), measured):
        predicted = train_memory("resnet18", batch, resolution=96).train_memory_bytes
        assert 0.9 <= predicted / rss <= 1.1, (batch, predicted / rss)
        assert 0.97 <= predicted / allocated <= 1.03, (batch, predicted / allocated)
