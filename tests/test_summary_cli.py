"""``netprobe summary`` as a user runs it: tables, JSON, CSV, --counter all, one-line errors."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netprobe.cli.app import _register, app

_register()

ROOT = Path(__file__).parent.parent
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["summary", *args])


def test_table_has_layers_stage_rows_totals_memory_and_convention():
    r = run("regnety_002", "--resolution", "64", "--layers")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(line) for line in lines) <= 160
    for text in ("s1.b1.se.fc1", "SE reduce conv1x1", "gconv3x3 g=3 /2", "stage, os 4", "stage, os 32", "total",
                 "layer output bytes per stage (fp32, batch 1)", "Not a peak", "largest tensor", "macs: conv/linear/matmul/attention"):
        assert text in r.output, text
    stage_row = next(line for line in lines if line.startswith("s1 "))
    first_layer = next(i for i, line in enumerate(lines) if "s1.b1.a.conv" in line)
    assert lines.index(stage_row) < first_layer
    assert "not counted" not in r.output


def test_depth_one_shows_stages_only():
    r = run("resnet18", "-r", "64", "--depth", "1")
    assert r.exit_code == 0, r.output
    layer_table = r.output.split("layer output bytes")[0]
    assert "s1.b1" not in layer_table and "\ns4 " in layer_table


def test_output_stride_is_shown_as_an_integer():
    r = run("efficientnet_b7", "--depth", "1")
    assert r.exit_code == 0, r.output
    assert "stage, os 16" in r.output and "stage, os 32" in r.output
    assert "15.79" not in r.output and "31.58" not in r.output


def test_ops_without_a_formula_are_listed_under_the_table_and_nothing_else():
    r = run("hub_patterns:Uncountable", "-r", "32")
    assert r.exit_code == 0, r.output
    line = next(line for line in r.output.splitlines() if line.startswith("not counted"))
    assert line.split("): ")[1].split(", ") == ["aten.fft_fft2 x1", "netprobe_tests::scale x1"]


def test_json_is_one_object_that_matches_the_table_totals():
    r = run("regnetx_002", "--json", "--batch", "4", "--dtype", "fp16")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["model"], d["family"], d["resolution"], d["batch"]) == ("regnetx_002", "regnetx", 224, 4)
    assert sum(s["macs"] for s in d["stages"]) == d["macs"]
    assert sum(s["output_bytes"] for s in d["stages"]) == d["output_bytes"]
    assert [s["name"] for s in d["stages"]][0] == "stem" and d["stages"][-1]["name"] == "head"


def test_a_generated_member_has_the_totals_list_gives_it():
    r = run("regnety@1.6GF", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    listed = runner.invoke(app, ["list", "regnety@1.6GF", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (d["model"], d["family"], d["resolution"]) == ("regnety@1.6GF", "regnety", 224)
    assert (d["params"], d["macs"], d["acts"]) == (row["params"], row["macs"], row["acts"])
    assert sum(s["macs"] for s in d["stages"]) == d["macs"] and d["stages"][-2]["output_stride"] == 32


def test_csv_writes_the_layer_rows(tmp_path):
    path = tmp_path / "layers.csv"
    r = run("resnet18", "-r", "64", "--csv", str(path), "--depth", "2")
    assert r.exit_code == 0, r.output
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["name", "stage", "kind", "params", "macs", "acts", "output_shape", "output_bytes"]
    assert "s2.b1" in [row["name"] for row in rows]
    assert sum(int(row["params"]) for row in rows) == 11689512
    assert next(row for row in rows if row["name"] == "s4.b2")["output_shape"] == "512x2x2"


def test_counter_all_puts_every_convention_side_by_side_split_by_kind():
    r = run("regnety_002", "-r", "64", "--counter", "all", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    counters = d["counters"]
    assert set(counters["totals"]) == {"netprobe", "fvcore", "ptflops", "torch"}
    assert counters["totals"]["netprobe"] == d["macs"]
    for name, total in counters["totals"].items():
        assert sum(counters["by_kind"][name].values()) == total, name
    kinds = counters["by_kind"]
    assert kinds["fvcore"]["conv"] == kinds["netprobe"]["conv"] == kinds["torch"]["conv"] // 2
    assert kinds["netprobe"]["bias"] > 0 == kinds["fvcore"]["bias"]


def test_counter_all_table_is_computed_and_verify_runs_the_real_tools():
    r = run("resnet18", "-r", "64", "--counter", "all", "--verify")
    assert r.exit_code == 0, r.output
    assert "each counter's number, by kind of op" in r.output
    for text in ("bias adds", "norm", "activation", "torch FLOPs", "ptflops MACs"):
        assert text in r.output, text
    for tool in ("fvcore", "ptflops", "torch"):
        assert f"verify {tool}: " in r.output and "= netprobe's derivation, exactly" in r.output
    assert "MISMATCH" not in r.output


@pytest.mark.parametrize("model", ["summary_models:conv1d_factory", "summary_models:factorized"])
def test_verify_on_1d_and_non_square_convs(model):
    r = run(model, "-r", "32", "--verify", "--json")
    assert r.exit_code == 0, r.output
    checks = json.loads(r.output)["verify"]
    assert [c["convention"] for c in checks] == ["fvcore", "ptflops", "torch"]
    assert all(c["exact"] and c["measured"] == c["derived"] for c in checks), checks


def test_convention_changes_the_macs_column_and_nothing_else():
    base = json.loads(run("efficientnet_b0", "--json").output)
    r = run("efficientnet_b0", "--convention", "fvcore", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["convention"], d["macs"], d["macs_unit"]) == ("fvcore", 401596672, "MACs (fvcore calls them flops)")
    assert (d["params"], d["acts"]) == (base["params"], base["acts"])
    assert sum(s["macs"] for s in d["stages"]) == d["macs"]
    table = run("efficientnet_b0", "--convention", "torch", "--depth", "1").output
    assert "torch FLOPs" in table and "FlopCounterMode" in table


@pytest.mark.parametrize("args, message", [
    (["summary_models:nothing"], "has no attribute 'nothing'"),
    (["no_such_package.models:net"], "cannot import"),
    (["summary_models:broken"], "the factory raised RuntimeError"),
    (["summary_models:not_a_module"], "not an nn.Module"),
    (["regnetx_004", "-r", "8"], "resolution too small"),
    (["summary_models:TorchvisionStyle", "-r", "8"], "resolution too small"),
    (["regnetx_004", "--batch", "0"], "batch '0' is not a positive integer"),
    (["regnetx_004", "-r", "-3"], "--resolution must be a positive"),
    (["regnetx_004", "--depth", "-1"], "--depth must be 0 or more"),
    (["regnetx_004", "--counter", "deepspeed"], "unknown --counter"),
    (["regnetx_004", "--convention", "thop"], "unknown convention 'thop'; choose from netprobe, fvcore, ptflops, torch"),
    (["regnetx_004", "--dtype", "fp8"], "unknown dtype 'fp8'"),
    (["regnetx_04"], "did you mean regnetx_004"),
])
def test_bad_input_gives_one_line_and_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_csv_to_a_missing_directory_fails_before_any_work(tmp_path):
    r = run("regnetx_004", "--csv", str(tmp_path / "no" / "x.csv"))
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_process_prints_the_table_without_importing_torch():
    code = ("import sys; sys.argv = ['netprobe', 'summary', 'efficientnet_b0', '--depth', '2']\n"
            "from netprobe.cli.app import main\ntry:\n    main()\nexcept SystemExit as e:\n    assert not e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    env = {**os.environ, "COLUMNS": "160"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "s7.b1" in out.stdout
