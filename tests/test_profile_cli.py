"""netprobe profile on the command line: table at 80 columns, JSON, CSV, plot, and one-line errors."""

import csv
import json

import pytest
import torch
from typer.testing import CliRunner

from netprobe.cli.app import _register, app
from netprobe.timing import boundaries
from netprobe.timing.profile import JSON_KEYS, PROFILE_COLUMNS

_register()
FAST = ["--warmup", "2", "--min-time", "0.05", "--threads", "1", "-r", "32"]


def run(*args):
    return CliRunner().invoke(app, ["profile", *args])


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_table_fits_80_columns_without_cut_numbers(monkeypatch, mode):
    monkeypatch.setenv("COLUMNS", "80")
    result = run("efficientnet_b0", "--mode", mode, "--batch", "2", *FAST)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.stdout
    rows = [line.split() for line in lines if line.split() and line.split()[0] in ("stem", "s1", "s7", "head")]
    assert [r[0] for r in rows] == ["stem", "s1", "s7", "head"] and all(len(r) >= 10 for r in rows)
    assert "stages sum" in result.stdout and "timing: perf_counter" in result.stdout


def test_json_csv_and_plot(tmp_path):
    out, png = tmp_path / "p.csv", tmp_path / "roof.png"
    result = run("regnetx_002", *FAST, "--json", "--csv", str(out), "--plot", str(png))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == JSON_KEYS and [s["name"] for s in doc["stages"]][0] == "stem"
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == PROFILE_COLUMNS and [r["name"] for r in rows] == [s["name"] for s in doc["stages"]]
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[0] > 300 and pixels[..., :3].std() > 0.05


BAD = [
    (["--mode", "fly"], "mode 'fly' is not valid"),
    (["--depth", "0"], "depth '0' is not valid"),
    (["--batch", "0"], "batch '0'"),
    (["--dtype", "fp16"], "fp16 is not supported on cpu"),
    (["--plot", "out.txt"], "unknown image type"),
    (["--csv", "no/such/dir/p.csv"], "does not exist"),
]
if not torch.cuda.is_available():
    BAD.append((["--device", "cuda"], "CUDA is not available"))


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_before_any_work(args, message, monkeypatch):
    calls = []
    monkeypatch.setattr(boundaries, "sample", lambda *a, **kw: calls.append(1))
    result = run("regnetx_002", *args)
    assert result.exit_code == 2
    (line,) = result.stderr.split("\n")[:-1]
    assert line.startswith("error:") and message in line and "Traceback" not in result.output and not calls
