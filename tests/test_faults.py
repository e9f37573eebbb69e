"""Faults of issue 22's matrix, each reproduced: narrow terminals, failed writes, signals, misbehaving models.

Every case ends as the contract says: one ``error:`` line, the documented exit code, what
was measured shown, no file damaged.
"""

import csv
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netprobe.analysis import counted
from netprobe.cli.app import _register, app
from netprobe.cli.render import console, fitted
from netprobe.reports import io

_register()
TESTS = Path(__file__).parent
ROOT = TESTS.parent
FAST = ["--warmup", "2", "--min-time", "0.05", "-r", "32"]


def cli(*args, env=None):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture(autouse=True)
def _fault_models(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))  # fault_models:NAME


# 1. narrow terminals ------------------------------------------------------------------------------

def test_fitted_passes_over_drop_columns_the_table_does_not_have(monkeypatch):
    monkeypatch.setenv("COLUMNS", "20")
    columns = [("model", "model", "left"), ("ms", "ms", "right")]
    table = fitted(console(), "t", columns, [(["x" * 48, "1.5"], None)], drop=("n", "ms", "peak mem"))
    assert [c.header for c in table.columns] == ["model"]


@pytest.mark.parametrize("width, name", [("40", "regnetx_002"), ("80", "fault_models:" + "a" * 35)])
def test_bench_on_a_narrow_terminal_shows_its_table(width, name, monkeypatch):
    if name.startswith("fault_models:"):  # a 48-character module:callable name
        import fault_models

        monkeypatch.setattr(fault_models, name.split(":")[1], fault_models.leaf, raising=False)
    result = cli("bench", "-m", name, *FAST, env={"COLUMNS": width})
    assert result.exit_code == 0, result.output
    assert "1 configuration (latency in ms)" in result.stdout and "error" not in result.stderr


def test_compare_on_a_narrow_terminal_shows_its_table():
    result = cli("compare", "--budget", "400MF", "--families", "regnetx", env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    assert "regnetx_" in result.stdout and result.stderr == ""


# 7. every table fitted, no cell cut -----------------------------------------------------------------

@pytest.mark.parametrize("args", [["profile", "regnetx_002", *FAST, "--threads", "1"],
                                  ["summary", "regnetx_002", "--counter", "all"]])
def test_profile_and_counter_tables_never_cut_a_cell(args):
    result = cli(*args, env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout


# 4. profile: the table first, the plot replaced whole -------------------------------------------------

def test_profile_plot_on_a_full_disk_shows_the_table_and_keeps_the_old_image(tmp_path, monkeypatch):
    image = tmp_path / "p.png"
    image.write_bytes(b"\x89PNG old image")
    real = os.fsync

    def full_for_the_plot(fd):
        if ".p.png." in os.readlink(f"/proc/self/fd/{fd}"):  # the plot's temporary file only
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(io.os, "fsync", full_for_the_plot)
    result = cli("profile", "regnetx_002", *FAST, "--threads", "1", "--plot", str(image))
    assert result.exit_code == 1, result.output
    assert "whole pass" in result.stdout  # the measurement is shown
    assert result.stderr.splitlines() == [f"error: --plot {image}: cannot write it (No space left on device); "
                                          "an existing file is left as it was"]
    assert image.read_bytes() == b"\x89PNG old image" and sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_profile_plot_is_written_after_the_table(tmp_path):
    image = tmp_path / "p.png"
    result = cli("profile", "regnetx_002", *FAST, "--threads", "1", "--plot", str(image))
    assert result.exit_code == 0, result.output
    assert image.read_bytes()[:4] == b"\x89PNG" and sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


# 8, 9. models that profile and train mode used to crash on ------------------------------------------

def test_profile_takes_a_model_with_no_submodules():
    result = cli("profile", "fault_models:leaf", *FAST, "--threads", "1", "--json")
    assert result.exit_code == 0, result.output
    assert [s["name"] for s in json.loads(result.stdout)["stages"]] == ["stem"]


@pytest.mark.parametrize("model, what", [("no_params", "it has no parameters"),
                                         ("frozen", "all of its parameters are frozen")])
def test_train_mode_without_trainable_parameters_says_so(model, what):
    result = cli("profile", f"fault_models:{model}", *FAST, "--mode", "train", "--threads", "1")
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: no trainable parameters ({what}), so there is no training step to time; "
                             "use --mode infer\n")
    bench = cli("bench", "-m", f"fault_models:{model}", *FAST, "--mode", "train", "--threads", "1", "--json")
    assert bench.exit_code == 0, bench.output
    row, = json.loads(bench.stdout)
    assert row["status"] == "error" and row["error"].startswith(f"no trainable parameters ({what})")


def test_train_at_batch_1_with_batchnorm_names_the_batch():
    result = cli("profile", "fault_models:batchnorm_head", *FAST, "--mode", "train", "--threads", "1")
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and "use --batch 2 or more" in result.stderr
    bench = cli("bench", "-m", "fault_models:batchnorm_head", *FAST, "--mode", "train", "-b", "1,2", "--json")
    one, two = json.loads(bench.stdout)
    assert one["status"] == "error" and "use --batch 2 or more" in one["error"] and two["status"] == "ok"


@pytest.mark.parametrize("model, status, error", [("fails", "error", "RuntimeError: the model broke"),
                                                  ("out_of_memory", "oom", "OutOfMemoryError: ")])
def test_a_model_failing_under_profile_is_said_as_bench_says_it(model, status, error):
    result = cli("profile", f"fault_models:{model}", *FAST, "--threads", "1")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: fault_models:{model} batch 1 infer: {status}: {error}")
    assert len(result.stderr.splitlines()) == 1 and "--debug" not in result.stderr


# 6. signals at controlled moments ----------------------------------------------------------------

PAUSE = """
import sys, time

class Pause:
    done = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != {module!r} or self.done:
            return None
        self.done = True
        sys.stderr.write("paused\\n")
        sys.stderr.flush()
        try:
            time.sleep(60)
        except BaseException:
            if not {swallow}:
                raise
        return None  # the import then goes on as usual

sys.meta_path.insert(0, Pause())
sys.argv = ["netprobe", *{args!r}]
from netprobe.cli.entry import main
main()
"""


def _signalled(module: str, swallow: bool, args: list[str], sig) -> subprocess.CompletedProcess:
    """The entry point run with an import of ``module`` paused; ``sig`` sent once it is."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    code = PAUSE.format(module=module, swallow=swallow, args=args)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=TESTS)
    assert proc.stderr.readline() == "paused\n"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_typer_imports_is_one_line_and_its_code(sig):
    done = _signalled("typer", False, ["list"], sig)
    assert done.returncode == 128 + sig and done.stderr == "error: interrupted\n" and done.stdout == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_swallowed_while_torch_imports_still_ends_the_run(sig):
    done = _signalled("torch", True, ["bench", "-m", "regnetx_002", *FAST], sig)
    assert done.returncode == 128 + sig, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "interrupted" in done.stderr, done.stderr


# 5. SIGTERM on Ray ---------------------------------------------------------------------------------

RAY_HANDLERS = """
import signal, ray
from netprobe.timing import cluster

def mine(signum, frame):
    pass

signal.signal(signal.SIGTERM, mine)
started = cluster.connect("local")
assert started and signal.getsignal(signal.SIGTERM) is mine, signal.getsignal(signal.SIGTERM)
ray.shutdown()
"""


@pytest.mark.slow
def test_starting_ray_keeps_the_callers_signal_handlers():
    done = subprocess.run([sys.executable, "-c", RAY_HANDLERS], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]


# lower: markup in names, ASCII terminals, models that print, links and pipes, huge CPU passes ------

def test_emoji_codes_in_a_model_path_stay_text():
    result = cli("summary", "fault_models::fire:")
    assert result.exit_code == 2 and ":fire:" in result.stderr and "\N{FIRE}" not in result.stderr


def test_an_ascii_terminal_gets_the_table():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii", "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-m", "netprobe", "summary", "regnetx_002", "--counter", "all"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stderr == "" and "regnetx_002" in done.stdout


@pytest.mark.parametrize("args", [["summary", "fault_models:chatty", "-r", "32"],
                                  ["bench", "-m", "fault_models:chatty", *FAST],
                                  ["profile", "fault_models:chatty", *FAST, "--threads", "1"]])
def test_a_model_that_prints_leaves_json_whole(args):
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) and "forward (1, 3, 32, 32)" in result.stderr


@pytest.mark.parametrize("command", [["summary", "regnetx_002"], ["bench", "-m", "regnetx_002", *FAST]])
def test_csv_through_a_symlink_writes_the_file_it_points_to(command, tmp_path):
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    link.symlink_to(target)
    for _ in range(2):
        assert cli(*command, "--json", "--csv", str(link)).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    lines = list(csv.reader(target.read_text().splitlines()))
    assert sum(line == lines[0] for line in lines) == 1 and len(lines) >= 3


def test_bench_csv_to_a_pipe_writes_one_header(tmp_path):
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # held open, so each row's write finds a reader
    try:
        result = cli("bench", "-m", "regnetx_002", *FAST, "-b", "1,2", "--json", "--csv", str(fifo))
        assert result.exit_code == 0, result.output
        lines = os.read(reader, 1 << 16).decode().splitlines()
    finally:
        os.close(reader)
    assert lines[0].startswith("model,") and lines.count(lines[0]) == 1 and len(lines) == 3


def test_a_cpu_pass_that_would_not_fit_in_memory_says_so(monkeypatch):
    monkeypatch.setattr(counted, "available_memory", lambda: 100)
    result = cli("summary", "fault_models:data_dependent", "-r", "32")
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1
    assert "forward pass on cpu needs" in result.stderr and "the 1e-07 GB of memory free" in result.stderr
