"""One block grouping for summary and profile; block rows in --json; a block row shows the block's own output."""

import json

import pytest
from typer.testing import CliRunner

from netprobe.analysis.summary import ROWS, summary
from netprobe.cli.app import _register, app
from netprobe.timing.profile import profile

_register()

FAST = dict(warmup=2, min_time=0.05, threads=1)


@pytest.mark.parametrize("model", ["resnet18", "block_models:Net"])
def test_depth_two_json_lists_the_block_rows_the_table_shows(model):
    r = CliRunner().invoke(app, ["summary", model, "-r", "56", "--depth", "2", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["layers"]
    s = summary(model, 56)
    assert [row["name"] for row in rows] == [row.name for row in s.rows(2)]
    assert all(list(row) == ROWS for row in rows)
    assert sum(row["macs"] for row in rows) == s.totals.macs
    assert len(rows) < len(s.layers)  # blocks, not leaves


def test_an_se_block_row_shows_the_block_output_not_its_gate():
    s = summary("block_models:Net", 56)
    rows = {r.name: r for r in s.rows(2)}
    assert rows["layer1.0"].output_shape == (32, 56, 56)
    assert rows["layer1.0"].kind.startswith("conv3x3")
    assert s.layers[[layer.name for layer in s.layers].index("layer1.0.gate")].out_shape == (32, 1, 1)


def test_an_attention_block_row_shows_the_block_output_not_its_tokens():
    s = summary("block_models:Net", 56)
    rows = {r.name: r for r in s.rows(2)}
    assert rows["layer2.1"].output_shape == (128, 14, 14)
    assert next(layer for layer in s.layers if layer.name == "layer2.1.proj").out_shape == (196, 128)


@pytest.mark.parametrize("model, resolution", [("resnet18", 32), ("hub_patterns:TinySwin", 32), ("block_models:Net", 32)])
def test_summary_and_profile_group_the_same_blocks(model, resolution):
    s = summary(model, resolution)
    p = profile(model, resolution=resolution, depth=2, **FAST)
    assert [(u.name, u.stage) for u in p.units] == [(r.name, r.stage) for r in s.rows(2)]
    assert [u.macs for u in p.units] == [r.counts.macs for r in s.rows(2)]


def test_blocks_of_a_run_inside_a_stage_container_are_its_numbered_children():
    names = [u.name for u in profile("hub_patterns:TinySwin", resolution=32, depth=2, **FAST).units]
    assert names[1:4] == ["layers.0.downsample", "layers.0.blocks.0", "layers.0.blocks.1"]


@pytest.mark.parametrize("name", ["regnety_002", "cbam_resnet18", "densenet121"])
def test_a_zoo_block_row_shows_what_the_built_block_outputs(name):
    """The spec lists each block's layers ending at its output (the last unit, the projection or the concat)."""
    from netprobe import registry
    from netprobe.build import build

    net = registry.spec(name)
    built = summary(lambda: build(net, "meta"), 64)
    blocks = [r for r in summary(name, 64).rows(2) if r.stage not in ("stem", "head")]
    assert blocks and all(r.output_shape == built.module_shapes[r.name] for r in blocks)
