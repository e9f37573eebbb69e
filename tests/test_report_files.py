"""Report files: whole-file writes are atomic, appends whole and locked, paths checked before any work."""

import csv
import errno
import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from netprobe.cli.app import _register, app
from netprobe.reports import io
from netprobe.timing import engine
from netprobe.timing import profile as profile_mod
from netprobe.timing.bench import BENCH_COLUMNS

_register()
FAST = ["--warmup", "2", "--min-time", "0.05", "-r", "32"]
COLUMNS = ["model", "ms"]


def _csv_help() -> dict[str, str]:
    """Each command that takes ``--csv``, read from the app itself, with that option's help."""
    group = typer.main.get_command(app)
    return {name: next(p.help for p in cmd.params if "--csv" in getattr(p, "opts", ()))
            for name, cmd in group.commands.items() if any("--csv" in getattr(p, "opts", ()) for p in cmd.params)}


CSV_HELP = _csv_help()
CSV_COMMANDS = sorted(CSV_HELP)
# A quick run of each command that takes --csv (a new one fails test_every_csv_command_has_a_quick_run).
RUNS = {
    "list": ["list", "resnet18"],
    "summary": ["summary", "regnetx_002"],
    "compare": ["compare", "--budget", "400MF", "--families", "regnetx"],
    "bench": ["bench", "--models", "regnetx_002", *FAST],
    "profile": ["profile", "regnetx_002", *FAST, "--threads", "1"],
}
# Every command that writes a file, with the option that names it.
WRITERS = {name: (RUNS[name], "--csv") for name in CSV_COMMANDS if name in RUNS}
WRITERS["compare-plot"] = (RUNS["compare"], "--plot")


def cli(*args):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def no_timing(monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "time_config", lambda *a, **kw: calls.append(1))
    monkeypatch.setattr(profile_mod, "profile", lambda *a, **kw: calls.append(1))
    return calls


def test_every_csv_command_has_a_quick_run():
    assert set(CSV_COMMANDS) == set(RUNS)
    assert {"list", "summary", "compare", "bench", "profile"} <= set(CSV_COMMANDS)  # the introspection sees them


def test_an_append_after_a_last_line_without_newline_starts_a_new_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("model,ms\na,1")
    io.append_csv(path, {"model": "b", "ms": 2}, COLUMNS)
    assert path.read_text() == "model,ms\na,1\nb,2\n"


def test_a_failed_append_leaves_no_partial_row(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    io.append_csv(path, {"model": "a", "ms": 1}, COLUMNS)
    before = path.read_bytes()
    real = os.write

    def half_then_full(fd, data):
        real(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "write", half_then_full)
    with pytest.raises(io.WriteFailed, match=rf"^--csv {path}: cannot append the row \(No space left on device\)"):
        io.append_csv(path, {"model": "b", "ms": 2}, COLUMNS)
    assert path.read_bytes() == before


def _append_to_each(paths: list[str], worker: int, barrier) -> None:
    import time

    real = csv.DictWriter.writeheader

    def slow_header(self):  # a process paused between finding the file new and writing its header
        time.sleep(0.02)
        return real(self)

    csv.DictWriter.writeheader = slow_header
    for path in paths:
        barrier.wait(60)  # every worker appends to the same new file at the same moment
        io.append_csv(path, {"model": f"w{worker}", "ms": 1}, COLUMNS)


def test_processes_appending_to_a_new_file_at_once_write_one_header(tmp_path):
    paths = [str(tmp_path / f"r{i}.csv") for i in range(10)]
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    workers = [ctx.Process(target=_append_to_each, args=(paths, w, barrier)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0] * 4
    for path in paths:
        lines = Path(path).read_text().splitlines()
        assert lines[0] == "model,ms" and lines.count("model,ms") == 1, path
        assert sorted(lines[1:]) == [f"w{w},1" for w in range(4)]


def test_a_failed_replace_keeps_the_old_file_and_names_the_users_path(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    io.write_csv(path, [{"model": "a", "ms": 1}], COLUMNS)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(io.WriteFailed) as e:
        io.write_csv(path, [{"model": "b", "ms": 2}], COLUMNS)
    assert str(e.value).startswith(f"--csv {path}: cannot write it") and ".tmp" not in str(e.value)
    assert path.read_text() == "model,ms\na,1\n" and [p.name for p in tmp_path.iterdir()] == ["r.csv"]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_path_under_a_file_is_refused_before_any_work(writer, tmp_path, no_timing):
    args, option = WRITERS[writer]
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / ("x.png" if option == "--plot" else "x.csv")
    result = cli(*args, option, str(target))
    assert result.exit_code == 2, result.output
    parent = tmp_path / "afile"
    assert result.stderr == f"error: {option} {target}: {parent} is a file, not a directory; choose another path\n"
    assert result.stdout == "" and not no_timing


@pytest.mark.parametrize("writer", WRITERS)
def test_an_unwritable_directory_is_refused_before_any_work(writer, tmp_path, no_timing, monkeypatch):
    args, option = WRITERS[writer]
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root may write anywhere: the directory is made to look read-only
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real(p, mode))
    result = cli(*args, option, str(locked / ("x.png" if option == "--plot" else "x.csv")))
    assert result.exit_code == 2 and "permission denied" in result.stderr and not no_timing


@pytest.fixture
def full_device(tmp_path) -> Path:
    """A device on which every write fails with ENOSPC, like /dev/full, but a copy of it where we can make one.

    Code that wrongly replaced the path instead of writing to it must not replace the
    machine's own /dev/full.
    """
    path = tmp_path / "full.png"  # a name --plot takes too
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        with open(path, "wb") as f:
            f.write(b"x")
            f.flush()
    except OSError as e:
        if e.errno == errno.ENOSPC:
            return path
        if os.path.exists("/dev/full") and os.geteuid() != 0:  # only root could replace it
            return Path("/dev/full")
        pytest.skip("no device that fails writes with ENOSPC")
    pytest.skip("the copy of /dev/full accepted a write")


@pytest.mark.parametrize("writer", [*CSV_COMMANDS, "compare-plot"])
def test_a_full_disk_keeps_the_rows_and_names_the_path(writer, full_device):
    args, option = WRITERS[writer]
    if option == "--plot" and full_device.suffix != ".png":
        pytest.skip("--plot takes only image file names")
    result = cli(*args, "--json", option, str(full_device))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1].startswith(f"error: {option} {full_device}: cannot ")
    assert json.loads(result.stdout)  # what was measured is still shown
    assert stat.S_ISCHR(os.stat(full_device).st_mode)  # written to, never replaced


@pytest.mark.parametrize("writer", CSV_COMMANDS)
def test_a_file_of_other_columns_is_never_overwritten(writer, tmp_path, no_timing):
    args, option = WRITERS[writer]
    path = tmp_path / "notes.csv"
    path.write_text("name,comment\nx,keep me\n")
    result = cli(*args, option, str(path))
    assert result.exit_code == 2 and result.stderr.startswith(f"error: --csv {path} already holds other columns")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    assert path.read_text() == "name,comment\nx,keep me\n" and not no_timing


@pytest.mark.parametrize("writer", CSV_COMMANDS)
def test_a_csv_that_is_not_utf8_is_one_line_naming_the_file(writer, tmp_path, no_timing):
    args, option = WRITERS[writer]
    path = tmp_path / "latin.csv"
    path.write_bytes("modèle,ms\n".encode("latin-1"))
    result = cli(*args, option, str(path))
    assert result.exit_code == 2
    assert result.stderr == f"error: --csv {path} is not a UTF-8 CSV file; choose a new file\n" and not no_timing


@pytest.mark.parametrize("writer", CSV_COMMANDS)
def test_every_csv_ends_lines_with_newline_only(writer, tmp_path):
    args, option = WRITERS[writer]
    path = tmp_path / "out.csv"
    result = cli(*args, "--json", option, str(path))
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")
    assert len(list(csv.reader(data.decode().splitlines()))) >= 2


def _appends(command: str) -> bool:
    return CSV_HELP[command].startswith("Append each row")


def test_bench_alone_appends():
    assert [c for c in CSV_COMMANDS if _appends(c)] == ["bench"]
    assert all("replacing it whole" in CSV_HELP[c] for c in CSV_COMMANDS if c != "bench")


@pytest.mark.parametrize("writer", CSV_COMMANDS)
def test_a_file_of_its_own_columns_is_appended_to_or_replaced(writer, tmp_path):
    path = tmp_path / "own.csv"
    assert cli(*RUNS[writer], "--json", "--csv", str(path)).exit_code == 0
    first = list(csv.reader(path.read_text().splitlines()))
    assert cli(*RUNS[writer], "--json", "--csv", str(path)).exit_code == 0
    second = list(csv.reader(path.read_text().splitlines()))
    assert second[0] == first[0] and len(first) >= 2 and sum(r == first[0] for r in second) == 1  # one header
    if _appends(writer):
        assert second[: len(first)] == first and len(second) == 2 * len(first) - 1  # rows added after the old
        assert first[0] == BENCH_COLUMNS
    else:
        assert len(second) == len(first)  # the same rows, the file replaced whole
        assert [r[0] for r in second] == [r[0] for r in first]


@pytest.mark.parametrize("writer", CSV_COMMANDS)
def test_help_states_the_csv_rule(writer):
    text = " ".join(cli(writer, "--help").stdout.replace("│", " ").split())
    assert ("Append each row" if _appends(writer) else "replacing it whole") in text
    assert "never a file of other columns" in text
