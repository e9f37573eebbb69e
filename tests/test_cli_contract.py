"""The command line's contract: one error line for any bad input, one meaning per short flag, signals."""

import csv
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from netprobe.cli.app import _register, app
from netprobe.timing import engine

_register()
COMMANDS = ["list", "summary", "bench", "compare"]


def cli(*args):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("args", [
    ["summary", "regnetx_004", "--nope"], ["summary"], ["summary", "regnetx_004", "--depth", "x"],
    ["bench"], ["compare", "--budget", "400MF", "--tolerance", "wide"], ["lst"],
], ids=" ".join)
def test_a_usage_error_is_one_error_line_and_exit_2(args):
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "--help" in result.stderr and "╭" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_dash_h_is_help_and_flags_show_no_bool(command):
    result = cli(command, "-h")
    assert result.exit_code == 0 and "Usage: netprobe" in result.stdout
    assert "<bool>" not in result.stdout and "BOOLEAN" not in result.stdout


def test_each_short_flag_means_one_thing_in_every_command():
    from typer.main import get_command

    meanings: dict[str, set] = {}
    for name, command in get_command(app).commands.items():
        for param in command.params:
            for flag in param.opts:
                if not flag.startswith("--"):
                    same = {"families": "family"}.get(param.name, param.name)  # -f: one family or a list
                    meanings.setdefault(flag, set()).add(same)
    assert {flag: names for flag, names in meanings.items() if len(names) > 1} == {}
    assert meanings["-b"] == {"batch"}


def test_a_budget_given_as_dash_b_is_not_read_as_a_budget():
    result = cli("compare", "--budget", "400MF", "-b", "8")
    assert result.exit_code == 2 and "--batch only takes effect with --bench; add --bench or leave it out" in result.stderr


def test_debug_after_the_subcommand_shows_the_traceback_and_keeps_exit_2():
    result = cli("summary", "regnetz_004", "--debug")
    assert result.exit_code == 2  # bad input stays exit 2 with --debug, not the 1 of a crash
    assert "Traceback" in result.stderr and "NetprobeError: unknown model 'regnetz_004'" in result.stderr


def test_shell_completion_is_offered():
    assert "--install-completion" in cli("--help").stdout


def test_threads_beyond_the_cores_warn_in_one_line(monkeypatch):
    from netprobe.timing import trust

    monkeypatch.setattr(trust, "cpus", lambda: 2)  # the usable CPUs, as the rows' verdict counts them
    result = cli("bench", "--models", "regnetx_002", "--threads", "3", "--warmup", "2", "--min-time", "0.02",
                 "-r", "32", "--json")
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        "warning: --threads 3 is more than the 2 CPUs this process may use; timings will include the contention"]


@pytest.mark.parametrize("args", [["bench", "--models", "regnetx_002", "--resolution", "1"],
                                  ["summary", "regnetx_002", "--resolution", "1"]], ids=lambda a: a[0])
def test_an_input_smaller_than_the_model_downsamples_is_refused_by_every_command(args, monkeypatch):
    monkeypatch.setattr(engine, "time_config", lambda *a, **kw: pytest.fail("timed"))
    result = cli(*args)
    assert result.exit_code == 2 and "resolution too small" in result.stderr


def test_min_time_below_zero_is_refused():
    result = cli("bench", "--models", "regnetx_002", "--min-time", "-1")
    assert result.exit_code == 2 and "min-time" in result.stderr


def test_sigterm_keeps_the_rows_and_exits_143(tmp_path):
    out = tmp_path / "b.csv"
    proc = subprocess.Popen([sys.executable, "-m", "netprobe", "bench", "--models", "regnetx_002", "--batch",
                             "1,2,4,8,16,32", "--warmup", "2", "--min-time", "0.3", "-r", "32", "--csv", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 2):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "interrupted:" in stderr and f"rows kept in {out}" in stderr and "Traceback" not in stderr
    with open(out) as f:
        kept = [r["batch"] for r in csv.DictReader(f)]
    assert kept and kept == ["1", "2", "4", "8", "16", "32"][: len(kept)]
    assert "regnetx_002" in stdout  # the measured rows are shown


def test_compare_interrupted_before_the_first_row_claims_no_file(tmp_path, monkeypatch):
    import netprobe.timing.bench as bench

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "bench", interrupted)
    path = tmp_path / "c.csv"
    result = cli("compare", "--budget", "400MF", "--families", "regnetx", "--bench", "--csv", str(path))
    assert result.exit_code == 130
    assert "rows kept" not in result.stderr and not path.exists()
