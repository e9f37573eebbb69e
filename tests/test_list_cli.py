"""`netprobe list`: rows, JSON, CSV, errors, and no torch on its path."""

import csv
import json
import subprocess
import sys

from typer.testing import CliRunner

from netprobe import registry
from netprobe.cli.app import _register, app
from netprobe.reports.zoo import zoo_rows

_register()
runner = CliRunner()


def test_json_is_a_list_of_complete_rows_sorted_by_family_then_macs():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == len(registry.names())
    assert {"model", "family", "resolution", "params", "macs", "acts"} <= set(rows[0])
    fams = [r["family"] for r in rows]
    assert fams == sorted(fams, key=list(registry.FAMILIES).index)
    assert set(fams) == set(registry.FAMILIES)
    for a, b in zip(rows, rows[1:]):
        if a["family"] == b["family"]:
            assert a["macs"] <= b["macs"]


def test_pattern_shows_12_regnety_rows():
    result = runner.invoke(app, ["list", "regnety_*"])
    assert result.exit_code == 0
    assert sum(line.count("regnety_") for line in result.stdout.splitlines()) == 12


def test_family_option_and_csv(tmp_path):
    out = tmp_path / "zoo.csv"
    result = runner.invoke(app, ["list", "--family", "rexnet", "--csv", str(out)])
    assert result.exit_code == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == ["rexnet_1.0x", "rexnet_1.3x", "rexnet_1.5x", "rexnet_2.0x"]
    assert int(rows[0]["params"]) == zoo_rows("rexnet_1.0x")[0]["params"]


def test_convention_relabels_and_recounts_the_macs_column():
    rows = json.loads(runner.invoke(app, ["list", "efficientnet_b0", "--convention", "ptflops", "--json"]).output)
    assert rows[0]["macs"] == 410071456  # as ptflops.get_model_complexity_info counts efficientnet_b0
    r = runner.invoke(app, ["list", "efficientnet_b0", "--convention", "fvcore"])
    assert "fvcore MACs" in r.output and "FlopCountAnalysis" in r.output
    bad = runner.invoke(app, ["list", "--convention", "tflops"])
    assert bad.exit_code == 2 and "unknown convention 'tflops'; choose from" in bad.output


def test_unknown_model_exits_2_with_one_line():
    result = runner.invoke(app, ["list", "regnetx_04"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown model 'regnetx_04'; did you mean regnetx_004, regnetx_040, regnetx_064?"]


def test_bad_family_and_missing_csv_dir(tmp_path):
    assert runner.invoke(app, ["list", "--family", "vit"]).exit_code == 2
    result = runner.invoke(app, ["list", "--csv", str(tmp_path / "nope" / "x.csv")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_list_and_help_do_not_import_torch():
    code = ("import sys; from netprobe.cli.app import main; sys.argv = ['netprobe'] + sys.argv[1:]\n"
            "try: main()\nexcept SystemExit: pass\n"
            "assert not any(m in sys.modules for m in ('torch', 'pandas', 'fvcore', 'ptflops', 'ray')), 'heavy import'")
    # another convention's counts come from the spec: every family's units carry every fact
    for args in (["list"], ["--help"], ["list", "--json"], ["list", "--convention", "fvcore"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_user_text_in_errors_is_shown_verbatim_not_as_markup():
    for pattern in ("resnet[/]", "regnetx_[a]*"):
        result = runner.invoke(app, ["list", pattern])
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [f"error: no model matches '{pattern}'; see 'netprobe list'"]
