"""Every table at 80 columns: nothing wider, no number cut, lower-value columns dropped first."""

import json
import re

import pytest
from typer.testing import CliRunner

from netprobe.cli.app import _register, app
from netprobe.cli.render import human

_register()
TABLES = {
    "summary": ["summary", "regnetx_004"],
    "summary layers": ["summary", "efficientnet_b7", "--layers"],
    "list": ["list"],
    "bench": ["bench", "--models", "regnetx_002,regnety@400MF", "--batch", "1,2", "--warmup", "2",
              "--min-time", "0.02", "-r", "32", "--threads", "1"],  # 2 threads on 2 busy cores: 4x slower
    "compare": ["compare", "--budget", "400MF,4GF", "--generate"],
}


def cli(args, columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("table", TABLES)
def test_no_line_is_wider_than_the_terminal_and_nothing_is_cut(table, columns, monkeypatch):
    result = cli(TABLES[table], columns, monkeypatch)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= columns
    assert "…" not in result.stdout


@pytest.mark.parametrize("table", ["summary", "list", "compare"])
def test_every_count_shows_whole_at_80_columns(table, monkeypatch):
    data = json.loads(cli([*TABLES[table], "--json"], 160, monkeypatch).stdout)
    rows = data["stages"] + [data] if table == "summary" else data
    text = cli(TABLES[table], 80, monkeypatch).stdout
    cells = set(re.split(r"\s+", text))
    for r in rows:
        for key in ("params", "macs"):
            if r.get(key) is not None:
                assert human(r[key]) in cells, (r, key)


def test_summary_shows_stages_and_blocks_by_default_and_every_layer_on_request(monkeypatch):
    def table(*args):
        return cli(["summary", "regnetx_004", *args], 160, monkeypatch).stdout.split("layer output bytes")[0]

    default, layers = table(), table("--layers")
    assert "s1.b1 " in default and "s1.b1.a.conv" not in default
    assert "s1.b1.a.conv" in layers and layers == table("--depth", "0")
    assert len(default.splitlines()) < len(layers.splitlines()) / 3


def test_summary_help_offers_only_the_dtypes_that_work(monkeypatch):
    from netprobe.dtypes import DTYPE_BYTES

    text = " ".join(cli(["summary", "--help"], 200, monkeypatch).stdout.split())
    offered = re.search(r"Element type for output bytes: ([^.]*)\.", text).group(1)
    assert sorted(re.findall(r"\w+", offered.replace(" or ", " "))) == sorted(DTYPE_BYTES)


def test_throughput_is_in_gflops_in_bench_and_compare(monkeypatch):
    bench = cli(TABLES["bench"], 160, monkeypatch).stdout
    assert "GFLOP/s" in bench and "TFLOP/s" not in bench
