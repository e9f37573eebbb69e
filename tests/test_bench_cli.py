"""netprobe bench on the command line: output, exit codes, Ctrl-C, and one-line errors."""

import csv
import json
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from netprobe.cli.app import _register, app
from netprobe.timing import engine
from netprobe.timing.bench import BENCH_COLUMNS

_register()
FAST = ["--warmup", "2", "--min-time", "0.05", "-r", "32"]


def run(*args):
    return CliRunner().invoke(app, ["bench", *args])


def test_json_rows():
    result = run("--models", "regnetx_002", "--batch", "1,2", "--threads", "1", "--json", *FAST)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["model"], r["batch"], r["status"], r["threads"]) for r in rows] == [
        ("regnetx_002", 1, "ok", 1), ("regnetx_002", 2, "ok", 1)]
    assert list(rows[0]) == BENCH_COLUMNS


def test_modes_make_rows_and_a_mode_column():
    result = run("--models", "regnetx_002", "--batch", "2", "--mode", "infer,train", "--threads", "1", *FAST)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "mode" in next(line for line in lines if "median" in line).split()
    assert [line.split()[2] for line in lines if line.split()[:1] == ["regnetx_002"]] == ["infer", "train"]
    assert "x3 in train" in result.stdout and "peak RSS growth" in result.stdout


def test_table_with_context_and_csv(tmp_path):
    out = tmp_path / "b.csv"
    result = run("--models", "RegNetX-200MF", "--csv", str(out), *FAST)
    assert result.exit_code == 0, result.output
    assert "regnetx_002" in result.stdout and "GFLOP/s" in result.stdout
    assert f"torch {torch.__version__}" in result.stdout and "2 FLOPs per analytic MAC" in result.stdout
    with open(out) as f:
        (row,) = csv.DictReader(f)
    assert row["model"] == "regnetx_002"
    waited = row["cpu_wait_ms"] != ""  # where the OS keeps each thread's wait (Linux), the table says it is taken off
    assert ("waits for a core (cpu_wait_ms)" in result.stdout) == waited


def test_failed_configuration_is_shown_and_run_goes_on(monkeypatch):
    real = engine.time_config
    calls = []

    def time_config(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("kernel missing for this dtype")
        return real(*a, **kw)

    monkeypatch.setattr(engine, "time_config", time_config)
    result = run("--models", "regnetx_002", "--batch", "1,2", *FAST)
    assert result.exit_code == 0, result.output
    assert "ERROR" in result.stdout and "kernel missing for this dtype" in result.stdout
    assert len(calls) == 2


def test_error_text_is_printed_as_is_not_as_markup(monkeypatch):
    message = "[enforce fail at alloc_cpu.cpp:117] data. [bold]DefaultCPUAllocator[/bold]: not enough"

    def time_config(*a, **kw):
        raise RuntimeError(message)

    monkeypatch.setattr(engine, "time_config", time_config)
    result = run("--models", "regnetx_002", *FAST)
    assert result.exit_code == 0, result.output
    expected = f"regnetx_002 batch 1: error: RuntimeError: {message}"
    assert expected in result.stderr.splitlines()  # the progress log
    assert expected in result.stdout.splitlines()  # under the table


def test_a_generated_member_is_timed():
    result = run("--models", "regnetx@200MF", "-r", "64", "--min-time", "0.05", "--warmup", "2", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["model"], row["family"], row["resolution"], row["status"]) == ("regnetx@200MF", "regnetx", 64, "ok")
    assert row["median_ms"] > 0 and row["macs"] > 0


def test_ctrl_c_prints_what_was_measured_and_exits_130(tmp_path, monkeypatch):
    real = engine.time_config
    calls = []

    def time_config(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(engine, "time_config", time_config)
    out = tmp_path / "b.csv"
    result = run("--models", "regnetx_002", "--batch", "1,2,4", "--csv", str(out), "--json", *FAST)
    assert result.exit_code == 130
    assert [r["batch"] for r in json.loads(result.stdout)] == [1]
    assert "interrupted: 1 of 3 configurations measured" in result.stderr
    with open(out) as f:
        assert [r["batch"] for r in csv.DictReader(f)] == ["1"]


BAD = [
    (["--device", "tpu"], "unknown device"),
    (["--dtype", "fp64"], "unknown dtype"),
    (["--dtype", "fp16"], "fp16 is not supported on cpu"),
    (["--batch", "0"], "batch '0'"),
    (["--batch", "1,0"], "batch '0'"),
    (["--csv", "no/such/dir/out.csv"], "does not exist"),
    (["--threads", "0"], "threads"),
    (["--warmup", "0"], "warm-up"),
    (["--min-time", "0"], "min-time"),
    (["--resolution", "0"], "resolution"),
    (["--mode", "fly"], "mode 'fly' is not valid"),
    (["--models", "regnetx_04"], "did you mean regnetx_004"),
]
if not torch.cuda.is_available():
    BAD.append((["--device", "cuda"], "CUDA is not available"))


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_before_any_work(args, message, monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "time_config", lambda *a, **kw: calls.append(1))
    result = run("--models", "regnetx_002", *args)
    assert result.exit_code == 2
    (line,) = result.stderr.split("\n")[:-1]  # exactly one line: no blank line from a progress display
    assert result.stderr == line + "\n" and line.startswith("error:") and message in line
    assert "Traceback" not in result.output and not calls


def test_bad_input_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "netprobe", "bench", "--models", "resnet18", "--batch", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "error: batch '0' is not a positive integer; use e.g. 8 or 1,8,64\n"
    assert proc.stdout == ""


def test_every_model_source_summary_takes_is_timed():
    result = run("--models", "hub_patterns:TinyViT,regnetx_002", "--json", "--warmup", "1", "--min-time", "0.02",
                 "--input-size", "3x64x64")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["model"], r["status"], r["input_size"]) for r in rows] == [
        ("hub_patterns:TinyViT", "ok", "3x64x64"), ("regnetx_002", "ok", "3x64x64")]
    assert rows[0]["macs"] == 858634  # the op-level count (tests/test_any_model.py works it out)
