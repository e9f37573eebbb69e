"""summary's footprint line (trainable and frozen params, sizes in MiB) and the --flops display switch."""

import re

import pytest
from typer.testing import CliRunner

import netprobe
from netprobe.analysis.footprint import footprint
from netprobe.cli.render import BINARY_UNITS, human_bytes
from netprobe.cli.app import _register, app
from netprobe.dtypes import DTYPE_BYTES
from netprobe.registry import names

_register()

FROZEN_STEM = '''
from torch import nn

def make():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    for p in net[0].parameters():
        p.requires_grad = False
    return net
'''


def run(*args):
    return CliRunner().invoke(app, ["summary", *args])


@pytest.mark.parametrize("name", names()[::6])
@pytest.mark.parametrize("dtype", sorted(DTYPE_BYTES))
def test_zoo_members_are_all_trainable_and_sizes_follow_the_dtype(name, dtype):
    s = netprobe.summary(name, dtype=dtype)
    fp = footprint(s)
    assert (fp.trainable, fp.frozen) == (s.totals.params, 0)
    assert fp.params_bytes == s.totals.params * DTYPE_BYTES[dtype] and fp.output_bytes == s.output_bytes


def test_frozen_parameters_of_a_module_are_counted_apart(tmp_path, monkeypatch):
    (tmp_path / "frozen_stem.py").write_text(FROZEN_STEM)
    monkeypatch.syspath_prepend(str(tmp_path))
    s = netprobe.summary("frozen_stem:make", resolution=32)
    fp = footprint(s)
    assert (fp.frozen, fp.trainable) == (3 * 8 * 9 + 8, 8 * 4 + 4)
    r = run("frozen_stem:make", "-r", "32")
    assert r.exit_code == 0, r.output
    assert f"params: 36 trainable, 224 frozen; params size {human_bytes(260 * 4)};" in r.stdout


def test_the_footprint_line_is_shown_in_binary_units_as_the_bytes_table():
    r = run("regnetx_004", "--dtype", "fp16")
    s = netprobe.summary("regnetx_004", dtype="fp16")
    assert r.exit_code == 0, r.output
    assert f"params size {human_bytes(s.totals.params * 2)}; layer outputs {human_bytes(s.output_bytes)}" in r.stdout
    assert f"total {human_bytes(s.output_bytes)}" in " ".join(r.stdout.split("layer output bytes per stage")[1].split())
    assert BINARY_UNITS in r.stdout and " MB" not in r.stdout


def test_flops_shows_twice_the_macs_and_says_so():
    macs = run("regnetx_004", "--depth", "1").stdout
    flops = run("regnetx_004", "--depth", "1", "--flops").stdout
    total = lambda text: re.search(r"^total .*$", text, re.M).group(0).split()  # noqa: E731
    assert "397.7M" in total(macs) and "795.4M" not in total(macs)
    assert "795.4M" in total(flops) and "397.7M" not in total(flops)
    assert " FLOPs " in flops.splitlines()[1] and " MACs " not in flops.splitlines()[1]
    assert "FLOPs = 2 x MACs" in flops and "FLOPs = 2 x MACs" not in macs
