"""``compare --fit``: each member's largest batch whose predicted training peak fits a memory budget."""

import io as stdio
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import netprobe
from netprobe.analysis.train_memory import fit, train_memory
from netprobe.cli.app import _register, app
from netprobe.reports.compare import COMPARE_COLUMNS, FIT_COLUMNS

from early_errors import early_error

_register()
BUDGET = 256 * 2**20


def cli(*args):
    return CliRunner().invoke(app, list(args))


def test_json_and_csv_carry_the_fit_of_each_member(tmp_path):
    path = tmp_path / "fit.csv"
    r = cli("compare", "--budget", "200MF", "--families", "regnetx,regnety", "--fit", "256MiB", "--optimizer", "sgd",
            "--json", "--csv", str(path))
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["model"] for row in rows] == ["regnetx_002", "regnety_002"]
    assert list(rows[0]) == COMPARE_COLUMNS + FIT_COLUMNS
    for row in rows:
        b = row["fit_batch"]
        assert b >= 1 and (row["fit_budget_bytes"], row["optimizer"]) == (BUDGET, "sgd")
        assert row["fit_memory_bytes"] == train_memory(row["model"], b, "sgd", 224).train_memory_bytes <= BUDGET
        assert train_memory(row["model"], b + 1, "sgd", 224).train_memory_bytes > BUDGET  # the largest that fits
    frame = pd.read_csv(path)
    pd.testing.assert_frame_equal(pd.read_json(stdio.StringIO(r.stdout))[frame.columns], frame, check_dtype=False)


def test_the_fit_is_summary_mode_trains_fit():
    rows = json.loads(cli("compare", "--budget", "200MF", "--families", "regnetx", "--fit", "256MiB", "--optimizer",
                          "adamw", "--json").stdout)
    s = json.loads(cli("summary", "regnetx_002", "--mode", "train", "--fit", "256MiB", "--optimizer", "adamw",
                       "--json").stdout)
    assert (rows[0]["fit_batch"], rows[0]["fit_memory_bytes"]) == \
        (s["fit_batch"], s["fit_memory"]["train_memory_bytes"])
    assert rows[0]["fit_batch"] < fit("regnetx_002", "256MiB", "sgd", 224).fit_batch  # adamw keeps more state


def test_table_shows_the_fit_and_what_it_means():
    r = cli("compare", "--budget", "200MF", "--families", "regnetx", "--fit", "256MiB")
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if line.startswith("budget"))
    assert "fit batch" in header and "fit mem" in header
    row = next(line for line in r.stdout.splitlines() if "regnetx_002" in line)
    assert str(fit("regnetx_002", BUDGET, resolution=224).fit_batch) in row.split()
    assert "fit batch: the largest batch whose predicted training peak (fp32, sgd-momentum) fits 256.0 MiB" in r.stdout
    plain = cli("compare", "--budget", "200MF", "--families", "regnetx")
    assert "fit" not in plain.stdout and "fit_batch" not in cli("compare", "--budget", "200MF", "--families",
                                                                 "regnetx", "--json").stdout


def test_a_budget_too_small_for_batch_1_and_a_row_without_a_member():
    rows = json.loads(cli("compare", "--budget", "50MF", "--families", "resnet,regnetx", "--generate", "--fit", "1MiB",
                          "--json").stdout)
    by_model = {row["model"]: row for row in rows}
    assert by_model["regnetx_002"]["fit_batch"] == 0  # not even batch 1: its prediction at batch 1 is said
    assert by_model["regnetx_002"]["fit_memory_bytes"] == train_memory("regnetx_002", 1, None, 224).train_memory_bytes
    failed = by_model["resnet@50MF"]
    assert failed["error"] and failed["fit_batch"] is None and failed["fit_memory_bytes"] is None


@pytest.mark.parametrize("args, message", [
    (["--fit", "16 gigs"], "error: bad memory budget '16 gigs'"),
    (["--fit", "0"], "error: bad memory budget '0': must be at least 1 byte"),
    (["--fit", "1GiB", "--optimizer", "adam"], "error: unknown optimizer 'adam'; choose from sgd"),
    (["--optimizer", "sgd"], "error: --optimizer is about the training step --fit predicts; add --fit"),
])
def test_bad_fit_options_are_one_error_line_before_torch_loads(args, message):
    torch, code, lines = early_error("compare", "--budget", "400MF", *args)
    assert (torch, code) == (False, 2)
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_api_takes_fit_and_optimizer():
    frame = netprobe.compare("200MF", "regnetx", fit="256MiB", optimizer="sgd")
    assert list(frame.columns) == COMPARE_COLUMNS + FIT_COLUMNS
    assert frame["fit_batch"][0] == fit("regnetx_002", "256MiB", "sgd", 224).fit_batch
    assert list(netprobe.compare("200MF", "regnetx", fit=BUDGET)["fit_batch"]) == \
        [fit("regnetx_002", BUDGET, resolution=224).fit_batch]
    for bad, words in ((True, "bad memory budget True"), ("lots", "bad memory budget 'lots'"),
                       (-1, "bad memory budget -1")):
        with pytest.raises(netprobe.NetprobeError, match=words):
            netprobe.compare("200MF", "regnetx", fit=bad)
    with pytest.raises(netprobe.NetprobeError, match="give fit a memory budget too"):
        netprobe.compare("200MF", "regnetx", optimizer="sgd")


def test_fit_columns_sit_before_the_bench_columns():
    from netprobe.reports.compare import columns

    both = columns([], timed=True, fitted=True)
    assert both[:len(COMPARE_COLUMNS) + len(FIT_COLUMNS)] == COMPARE_COLUMNS + FIT_COLUMNS
    assert "median_ms" in both and columns([], timed=True, fitted=False) == [c for c in both if c not in FIT_COLUMNS]
