"""Sweeps on Ray: rows and schema, lost workers retried then reported, Ctrl-C, refused addresses.

One local Ray cluster of 2 CPUs serves the whole module; every run below joins it.
"""

import csv
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
from typer.testing import CliRunner

from netprobe import NetprobeError
from netprobe.cli.app import _register, app
from netprobe.reports.io import WriteFailed
from netprobe.reports.sink import csv_sink
from netprobe.timing.bench import BENCH_COLUMNS, RAY_COLUMNS, Interrupted, bench, plan
from ray_models import Doomed, Sleeper

_register()
TESTS = Path(__file__).parent
FAST = dict(warmup=2, min_time=0.05)


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU Ray started once; its workers import the test models from this folder (runtime_env working_dir)."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
             runtime_env={"working_dir": str(TESTS), "excludes": ["data", "__pycache__"]})
    yield
    ray.shutdown()


def _cpus_free(wanted: float, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if ray.available_resources().get("CPU", 0) >= wanted:
            return True
        time.sleep(0.2)
    return False


def test_sweep_gives_the_local_schema_plus_node(cluster, tmp_path):
    out = tmp_path / "sweep.csv"
    rows = bench("regnetx_002,resnet18", batch=[1, 2], resolution=32, ray="local",
                 on_row=csv_sink(out, RAY_COLUMNS, append=True).on_row, **FAST)
    assert [(r["model"], r["batch"], r["status"]) for r in rows] == [
        ("regnetx_002", 1, "ok"), ("regnetx_002", 2, "ok"), ("resnet18", 1, "ok"), ("resnet18", 2, "ok")]
    assert RAY_COLUMNS == BENCH_COLUMNS + ["node"]
    for r in rows:
        assert list(r) == RAY_COLUMNS
        assert r["node"] == socket.gethostname()
        assert r["threads"] == 2  # every CPU of the node: no two timings share it
        assert r["median_ms"] > 0 and r["samples"] >= 5 and r["device_name"] and r["torch_version"]
    with open(out, newline="") as f:
        written = list(csv.DictReader(f))
    assert list(written[0]) == RAY_COLUMNS
    assert sorted((r["model"], r["batch"]) for r in written) == [
        ("regnetx_002", "1"), ("regnetx_002", "2"), ("resnet18", "1"), ("resnet18", "2")]


def test_identical_networks_are_dispatched_once(cluster):
    heard = []
    rows = bench("regnetx_016,regnetx@1.6GF,regnetx_002", resolution=32, ray="local", on_row=heard.append, **FAST)
    assert [(r["model"], r["same_as"]) for r in rows] == [("regnetx_016", None), ("regnetx@1.6GF", "regnetx_016"),
                                                          ("regnetx_002", None)]
    first, copy = rows[0], rows[1]
    assert copy["median_ms"] == first["median_ms"] and copy["timestamp"] == first["timestamp"]  # one timing, not two
    assert copy["family"] == "regnetx" and list(copy) == RAY_COLUMNS
    assert sorted(r["model"] for r in heard) == sorted(r["model"] for r in rows)  # the copy is handed on too


def test_lost_worker_is_retried_then_reported(cluster, tmp_path, capsys):
    once, always = tmp_path / "once.log", tmp_path / "always.log"
    models = [Doomed("dies_once", str(once), deaths=1), Doomed("dies_always", str(always), deaths=99)]
    rows = bench(models, resolution=16, ray="local", retries=1, **FAST)
    printed = capsys.readouterr()
    assert "worker died" in printed.err and "worker died" not in printed.out  # stdout is for rows (--json)
    by_model = {r["model"]: r for r in rows}
    assert by_model["dies_once"]["status"] == "ok" and by_model["dies_once"]["median_ms"] > 0
    assert by_model["dies_always"]["status"] == "lost"
    assert by_model["dies_always"]["error"].startswith("lost after 2 attempts: ")
    assert by_model["dies_always"]["median_ms"] is None and list(by_model["dies_always"]) == RAY_COLUMNS
    # each ran in a fresh worker process per attempt: one retry, no more
    assert len(set(once.read_text().split())) == 2
    assert len(set(always.read_text().split())) == 2


def test_ctrl_c_cancels_outstanding_tasks_and_keeps_rows(cluster, tmp_path):
    out = tmp_path / "stopped.csv"
    models = [Sleeper("quick", 0.0), Sleeper("slow_a", 30.0), Sleeper("slow_b", 30.0)]

    sink = csv_sink(out, RAY_COLUMNS, append=True)

    def stop(row):
        sink.on_row(row)
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(Interrupted) as stopped:
        bench(models, resolution=16, threads=1, ray="local", on_row=stop, **FAST)
    assert time.monotonic() - started < 60  # a slow model alone takes over 3 minutes (>= 7 calls of 30 s)
    assert [r["model"] for r in stopped.value.rows] == ["quick"]
    with open(out, newline="") as f:
        assert [r["model"] for r in csv.DictReader(f)] == ["quick"]
    # the slow tasks held a CPU each; cancelled, they give both back long before they could finish
    assert _cpus_free(2, within_s=20)


@pytest.mark.slow
def test_a_failed_write_keeps_every_finished_row(cluster):
    def full_disk(row):
        time.sleep(5)  # the other configuration, timed at the same moment on the second CPU, finishes meanwhile
        raise WriteFailed("--csv rows.csv: cannot append the row (No space left on device)")

    with pytest.raises(WriteFailed) as failed:
        bench("regnetx_002", batch=[1, 2], resolution=32, threads=1, ray="local", on_row=full_disk, **FAST)
    assert sorted(r["batch"] for r in failed.value.rows) == [1, 2]  # handed over or not, none is lost
    assert all(r["status"] == "ok" and r["median_ms"] > 0 for r in failed.value.rows)


def test_a_factory_model_is_built_on_the_worker_from_the_runtime_env(cluster):
    result = CliRunner().invoke(app, ["bench", "--models", "summary_models:tiny", "-r", "32", "--ray", "local",
                                      "--warmup", "2", "--min-time", "0.05", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["model"], row["status"], row["node"]) == ("summary_models:tiny", "ok", socket.gethostname())
    assert row["macs"] > 0 and row["median_ms"] > 0


def test_a_module_the_workers_cannot_import_is_an_error_row(cluster, tmp_path, monkeypatch):
    (tmp_path / "driver_only.py").write_text(
        "from torch import nn\n\nclass Local(nn.Conv2d):\n    def __init__(self):\n        super().__init__(3, 4, 1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # importable here, not shipped in the runtime_env
    from driver_only import Local

    (row,) = bench(Local(), resolution=16, ray="local", **FAST)
    assert row["status"] == "error" and row["median_ms"] is None
    assert "No module named 'driver_only'" in row["error"] and "working_dir" in row["error"]


def test_compare_bench_on_ray_from_the_command_line(cluster, tmp_path):
    out = tmp_path / "compare.csv"
    result = CliRunner().invoke(app, ["compare", "--budget", "200MF", "--families", "regnetx", "--bench",
                                      "--ray", "local", "--warmup", "2", "--min-time", "0.05", "--json",
                                      "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["model"], r["status"], r["node"]) for r in rows] == [("regnetx_002", "ok", socket.gethostname())]
    with open(out, newline="") as f:
        assert next(csv.reader(f))[-1] == "node"


def test_ray_workers_get_the_same_inputs(cluster):
    rows = bench("input_models:TwoInputs", inputs="input_models:make_pair", batch="1,2", ray="local", **FAST)
    assert [(r["batch"], r["status"], r["input_size"]) for r in rows] == [
        (1, "ok", "input_models:make_pair"), (2, "ok", "input_models:make_pair")]


def test_a_cluster_without_gpus_is_refused_for_cuda(cluster):
    with pytest.raises(NetprobeError, match="has no GPU"):
        bench("regnetx_002", device="cuda", ray="local")


def test_more_threads_than_any_node_is_refused(cluster):
    with pytest.raises(NetprobeError, match="largest Ray node has 2 CPUs"):
        bench("regnetx_002", threads=3, ray="local")


# no cluster needed below ------------------------------------------------------

class FakeRay:
    """Stands in for the ray module where only its node list is read."""

    def __init__(self, *nodes):
        self._nodes = [{"Alive": True, "Resources": r} for r in nodes] + [{"Alive": False, "Resources": {"CPU": 99}}]

    def nodes(self):
        return self._nodes


def test_a_gpu_task_holds_one_gpu_and_a_cpu_task_a_whole_node():
    from netprobe.timing.cluster import task_resources

    gpus = FakeRay({"CPU": 8}, {"CPU": 32, "GPU": 4})
    # a GPU task runs in a worker process of its own (max_calls=1): CUDA never sees a second GPU
    assert task_resources(gpus, {"device": "cuda:0", "threads": None}) == {"num_gpus": 1, "num_cpus": 1, "max_calls": 1}
    assert task_resources(gpus, {"device": "cuda:0", "threads": 4}) == {"num_gpus": 1, "num_cpus": 4, "max_calls": 1}
    # CPU: every CPU of the largest live node (the dead one with 99 does not count)
    assert task_resources(gpus, {"device": "cpu", "threads": None}) == {"num_cpus": 32}
    assert task_resources(gpus, {"device": "cpu", "threads": 8}) == {"num_cpus": 8}


@pytest.mark.parametrize("kwargs, message", [
    (dict(ray="ray//head:10001"), "is not a Ray address; use local, auto or ray://HOST:PORT"),
    (dict(ray="local", device="cuda:1"), "every task gets one GPU of its own; use --device cuda"),
    (dict(ray="local", retries=-1), "retries '-1' is not a whole number"),
    (dict(retries=2), "--retries only takes effect on Ray"),
])
def test_bad_ray_options_fail_in_the_plan(kwargs, message):
    with pytest.raises(NetprobeError, match=message.replace("(", r"\(").replace(".", r"\.")):
        plan("regnetx_002", **kwargs)


def test_compare_takes_ray_only_with_bench():
    result = CliRunner().invoke(app, ["compare", "--budget", "400MF", "--ray", "local", "--retries", "2"])
    assert result.exit_code == 2
    assert "--ray, --retries only take effect with --bench" in result.output


def test_ray_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(NetprobeError, match=r"pip install -e '\.\[ray\]'"):
        plan("regnetx_002", ray="local")


@pytest.mark.parametrize("address", ["ray://127.0.0.1:9", "auto"])
def test_an_address_that_does_not_answer_is_refused_fast(address, tmp_path):
    with socket.socket() as s:  # a port nobody listens on (RAY_ADDRESS sends 'auto' there)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = address.replace(":9", f":{port}")
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "netprobe", "bench", "--models", "regnetx_002", "--ray", address],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and address in lines[0], proc.stderr
    assert took < 30 + 10  # refused within 30 s, plus this process's start-up
