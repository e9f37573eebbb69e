"""``netprobe compare``: matching, generated members, the report schema, timing joined in, errors."""

import io as stdio
import json
import math
import sys
import types

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import netprobe
from netprobe import registry
from netprobe.analysis.cost import net_layers
from netprobe.analysis.measure import measure
from netprobe.build import build
from netprobe.cli.app import _register, app
from netprobe.counts import total
from netprobe.errors import NetprobeError
from netprobe.families import scaling
from netprobe.reports.compare import COMPARE_COLUMNS, compare
from netprobe.timing.bench import BENCH_COLUMNS, Interrupted
from netprobe.reports.zoo import zoo_rows

_register()
GENERATE_BUDGETS = {"200MF": 200e6, "400MF": 400e6, "1.6GF": 1.6e9, "8GF": 8e9}


def cli(*args):
    return CliRunner().invoke(app, list(args))


def matched(rows, budget):
    return {r["model"] for r in rows if r["budget_macs"] == budget and not r["generated"]}


def test_acceptance_members_at_400mf_and_4gf():
    rows = compare("400MF,4GF")
    assert {"regnetx_004", "regnety_004", "efficientnet_b0", "rexnet_1.0x"} <= matched(rows, 400_000_000)
    assert {"regnety_040", "resnet50"} <= matched(rows, 4_000_000_000)


def test_one_row_per_budget_and_family_and_each_is_the_nearest_in_log_distance():
    budgets = [250e6, 4e9, 20e9]
    rows = compare("250MF,4GF,20GF")
    assert [(r["budget_macs"], r["family"]) for r in rows] == [(int(b), f) for b in budgets for f in registry.FAMILIES]
    zoo = zoo_rows()
    for r in rows:
        others = [z for z in zoo if z["family"] == r["family"]]
        best = min(abs(math.log(z["macs"] / r["budget_macs"])) for z in others)
        assert abs(math.log(r["macs"] / r["budget_macs"])) == best


def test_every_row_has_the_true_relative_error_and_its_tolerance_flag():
    rows = compare("400MF,4GF", tolerance=5)
    for r in rows:
        c = total(layer.counts for layer in net_layers(registry.spec(r["model"])))
        assert (r["macs"], r["params"], r["acts"]) == (c.macs, c.params, c.acts)
        assert r["budget_err_pct"] == pytest.approx(100 * (c.macs - r["budget_macs"]) / r["budget_macs"], abs=1e-9)
        assert r["within_tolerance"] == (abs(r["budget_err_pct"]) <= 5)
    flagged = {r["model"] for r in rows if not r["within_tolerance"]}
    assert "efficientnet_b4" in flagged and "regnety_040" not in flagged  # +9.8% and -0.7% at 4GF


def test_families_option_selects_and_orders():
    rows = compare("1.6GF", families="rexnet, ResNet")
    assert [r["family"] for r in rows] == ["rexnet", "resnet"]


@pytest.mark.parametrize("family", registry.generator_families())
@pytest.mark.parametrize("budget", GENERATE_BUDGETS)
def test_generated_member_within_2pct_builds_runs_and_counts_agree(family, budget):
    name = f"{family}@{budget}"
    net = registry.spec(name)
    assert (net.name, net.family) == (name, family)
    layers = net_layers(net)
    macs = total(layer.counts for layer in layers).macs
    assert abs(macs - GENERATE_BUDGETS[budget]) <= 0.02 * GENERATE_BUDGETS[budget]
    measured = measure(build(net, "meta"), (net.resolution, net.resolution))
    assert not measured.unsupported
    hooked = {x.name: (x.counts, x.out_shape) for x in measured.layers}
    assert hooked == {x.name: (x.counts, x.out_shape) for x in layers}
    torch.manual_seed(0)
    with torch.inference_mode():
        out = build(net).eval()(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


def test_generated_members_are_deterministic_and_named_as_typed():
    a = registry.spec("regnety@1.6GF")

    for generate in scaling.GENERATORS.values():
        generate.cache_clear()
    scaling.macs_of.cache_clear()
    b = registry.spec("RegNetY@1.6GF")
    assert a.stages == b.stages and a.design == b.design
    assert (a.name, b.name) == ("regnety@1.6GF", "regnety@1.6GF")


def test_generate_adds_a_matched_row_per_family():
    rows = compare("400MF", families="regnetx,efficientnet", generate=True)
    gen = [r for r in rows if r["generated"]]
    assert [r["model"] for r in gen] == ["regnetx@400MF", "efficientnet@400MF"]
    assert all(abs(r["budget_err_pct"]) <= 2 for r in gen)


def test_budget_out_of_a_family_reach_is_a_clean_error():
    with pytest.raises(NetprobeError, match=r"family 'seresnet' has no budget generator .*; choose from regnetx"):
        registry.spec("seresnet@4GF")
    with pytest.raises(NetprobeError, match=r"cannot generate resnet@1MF"):
        registry.spec("resnet@1MF")
    with pytest.raises(NetprobeError, match=r"regnetx@1TF: .* no closer than 875.7GF \(-12.4%\)"):
        registry.spec("regnetx@1TF")  # MACs as a budget label, not 8.757e+05M


@pytest.mark.parametrize("budget", ["abc", "-1GF", "0", "400XF"])
def test_cli_bad_budget(budget):
    result = cli("compare", f"--budget={budget}")
    assert result.exit_code == 2
    assert "bad budget" in result.stderr and "400MF" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_cli_unknown_family():
    result = cli("compare", "--budget", "400MF", "--families", "regnetx,regnetz")
    assert result.exit_code == 2
    assert "unknown family 'regnetz'" in result.stderr
    assert all(f in result.stderr for f in registry.FAMILIES)


@pytest.mark.parametrize("args, words", [
    (["--tolerance", "0"], "tolerance"),
    (["--device", "cpu"], "--bench"),
    (["--plot", "out.jpg"], ".png"),
    (["--convention", "flops"], "unknown convention 'flops'; choose from netprobe, fvcore, ptflops, torch"),
])
def test_cli_other_bad_input(args, words):
    result = cli("compare", "--budget", "400MF", *args)
    assert result.exit_code == 2 and words in result.stderr


def test_budgets_are_read_in_the_chosen_convention():
    """torch counts FLOPs, 2 per MAC (no bias adds): at 800MF of them the members are those of ~400MF MACs."""
    from netprobe.reports.zoo import net_counts

    rows = netprobe.compare("800MF", "regnetx,resnet", convention="torch")
    assert list(rows["model"]) == ["regnetx_004", "resnet18"]
    for _, r in rows.iterrows():
        assert r["macs"] == net_counts(r["model"], convention="torch")[1].macs
        assert r["budget_err_pct"] == pytest.approx(100 * (r["macs"] - 800e6) / 800e6)
    fv = netprobe.compare("400MF", "efficientnet", convention="fvcore")
    assert fv["macs"].tolist() == [401596672]  # efficientnet_b0, as FlopCountAnalysis counts it


def same_values(frame):
    """The frame with every missing value as None, so CSV (NaN) and JSON (None) reads compare equal."""
    return frame.astype(object).where(frame.notna(), None)


def test_families_without_a_width_rule_get_no_generated_row():
    rows = compare("300MF", families="xception,mobilenetv2,densenet", generate=True)
    assert [(r["family"], r["generated"]) for r in rows] == \
           [("xception", False), ("mobilenetv2", False), ("mobilenetv2", True), ("densenet", False)]


def test_csv_and_json_round_trip_through_pandas(tmp_path):
    path = tmp_path / "out.csv"
    result = cli("compare", "--budget", "50MF,400MF,1.6GF", "--generate", "--csv", str(path), "--json")
    assert result.exit_code == 0, result.output
    from_csv = pd.read_csv(path)
    from_json = pd.read_json(stdio.StringIO(result.stdout))
    expected = netprobe.compare("50MF,400MF,1.6GF", generate=True)
    assert list(expected.columns) == COMPARE_COLUMNS
    assert expected["error"].notna().any()  # resnet@50MF and others cannot be generated: rows with a reason
    for frame in (from_csv, from_json):
        assert list(frame.columns) == COMPARE_COLUMNS
        assert frame["generated"].dtype == bool and frame["within_tolerance"].dtype == bool
        pd.testing.assert_frame_equal(same_values(frame), same_values(expected), check_dtype=False)


def test_table_groups_rows_by_budget():
    result = cli("compare", "--budget", "400MF,4GF", "--families", "regnetx")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    first = [i for i, line in enumerate(lines) if "regnetx_004" in line][0]
    assert "400MF" in lines[first] and "4GF" in [w for line in lines[first + 1:] for w in line.split()]


def test_plot_is_a_real_png(tmp_path):
    import matplotlib.image

    path = tmp_path / "cmp.png"
    assert cli("compare", "--budget", "400MF,4GF", "--plot", str(path)).exit_code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600
    assert pixels[..., :3].std() > 0.05  # lines and text, not a blank canvas


class FakeBench:
    """Stands in for netprobe.timing.bench: records calls, returns one row per model."""

    COLUMNS = ["model", "family", "batch", "resolution", "device", "dtype", "threads", "status", "error", "median_ms",
               "p10_ms", "p90_ms", "iqr_ms", "imgs_per_s", "macs", "achieved_gflops", "peak_mem_bytes",
               "device_name", "torch_version", "netprobe_version"]

    def __init__(self, stop_after=None, fail=None, extra=None):
        self.calls, self.stop_after, self.fail, self.extra = [], stop_after, fail or {}, extra or {}

    def __call__(self, models, **options):
        self.calls.append((list(models), options))
        rows = []
        for i, model in enumerate(models):
            if self.stop_after is not None and i == self.stop_after:
                raise KeyboardInterrupt
            ms = 1.0 + i
            row = {c: None for c in self.COLUMNS}
            row.update(model=model, batch=options.get("batch", 1), status="ok", median_ms=ms, p10_ms=ms, p90_ms=ms,
                       iqr_ms=0.0, imgs_per_s=1000 / ms, device=options.get("device", "cpu"), device_name="fake")
            row.update(self.extra.get(model, {}))
            if model in self.fail:
                row.update(status="error", error=self.fail[model], median_ms=None, imgs_per_s=None)
            rows.append(row)
            if options.get("on_row"):
                options["on_row"](row)
        return rows


@pytest.fixture
def fake_bench(monkeypatch):
    def install(stop_after=None, fail=None, extra=None):
        fake = FakeBench(stop_after, fail, extra)
        module = types.ModuleType("netprobe.timing.bench")
        module.bench, module.BENCH_COLUMNS, module.Interrupted = fake, FakeBench.COLUMNS, Interrupted
        monkeypatch.setitem(sys.modules, "netprobe.timing", types.ModuleType("netprobe.timing"))
        monkeypatch.setitem(sys.modules, "netprobe.timing.bench", module)
        return fake
    return install


def test_bench_times_each_member_once_and_joins_rows(fake_bench, tmp_path):
    fake = fake_bench()
    path = tmp_path / "t.csv"
    result = cli("compare", "--budget", "200MF,400MF", "--families", "resnet,regnetx", "--bench", "--device", "cpu",
                 "--batch", "4", "--min-time", "0.01", "--threads", "2", "--warmup", "3", "--compile", "--csv", str(path),
                 "--json")
    assert result.exit_code == 0, result.output
    (models, options), = fake.calls
    assert models == ["resnet18", "regnetx_002", "regnetx_004"]  # resnet18 is nearest at both budgets
    assert {k: options[k] for k in ("device", "batch", "min_time", "threads", "warmup", "compile")} == {
        "device": "cpu", "batch": "4", "min_time": 0.01, "threads": 2, "warmup": "3", "compile": True}
    frame = pd.read_csv(path)
    extra = [c for c in FakeBench.COLUMNS if c not in COMPARE_COLUMNS]
    assert list(frame.columns) == COMPARE_COLUMNS + extra
    assert len(frame) == 4 and (frame["batch"] == 4).all()
    timing = {m: 1.0 + i for i, m in enumerate(models)}
    assert all(frame["median_ms"] == frame["model"].map(timing))
    from_json = pd.read_json(stdio.StringIO(result.stdout))
    pd.testing.assert_frame_equal(from_json[frame.columns], frame, check_dtype=False)
    assert list(json.loads(result.stdout)[0]) == list(frame.columns)


def test_interrupted_bench_keeps_what_it_measured(fake_bench, tmp_path):
    fake_bench(stop_after=2)
    path = tmp_path / "t.csv"
    result = cli("compare", "--budget", "400MF", "--families", "regnetx,regnety,rexnet", "--bench", "--csv", str(path),
                 "--json")
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["timed regnetx_004: 1 ms (ok)", "timed regnety_004: 2 ms (ok)",
                                          f"interrupted: 2 members timed, rows kept in {path}"]
    frame = pd.read_csv(path)
    assert list(frame["model"]) == ["regnetx_004", "regnety_004"]
    assert frame["median_ms"].notna().all()
    printed = pd.read_json(stdio.StringIO(result.stdout))  # what was measured is shown, as bench shows it
    pd.testing.assert_frame_equal(same_values(printed), same_values(frame), check_dtype=False)


def test_interrupted_bench_shows_the_table(fake_bench):
    fake_bench(stop_after=1)
    result = cli("compare", "--budget", "400MF", "--families", "regnetx,regnety", "--bench")
    assert result.exit_code == 130 and "regnetx_004" in result.stdout and "regnety_004" not in result.stdout


def test_csv_is_replaced_whole_never_left_half_written(fake_bench, tmp_path, monkeypatch):
    from netprobe.reports import io as report_io

    fake_bench()
    path = tmp_path / "t.csv"
    seen = []
    real = report_io.write_frame

    def write_frame(p, frame):
        real(p, frame)
        seen.append(pd.read_csv(p))
        assert sorted(x.name for x in tmp_path.iterdir()) == ["t.csv"]  # the temporary file is gone

    monkeypatch.setattr(report_io, "write_frame", write_frame)
    result = cli("compare", "--budget", "400MF", "--families", "regnetx,regnety", "--bench", "--csv", str(path))
    assert result.exit_code == 0, result.output
    assert [len(f) for f in seen] == [1, 2, 2]  # after each member, then the final rows


def test_write_interrupted_keeps_the_previous_file(tmp_path, monkeypatch):
    from netprobe.reports import io as report_io

    path = tmp_path / "t.csv"
    report_io.write_frame(path, pd.DataFrame({"a": [1]}))

    def interrupted(fd):  # the new rows are in the temporary file, not yet renamed over the old one
        raise KeyboardInterrupt

    monkeypatch.setattr(report_io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report_io.write_frame(path, pd.DataFrame({"a": [2, 3]}))
    assert path.read_text() == "a\n1\n" and sorted(x.name for x in tmp_path.iterdir()) == ["t.csv"]


def test_plot_uses_latency_when_timed(fake_bench, tmp_path):
    from netprobe.reports.plot import _y_axis

    fake_bench()
    rows = compare("400MF", families="regnetx,rexnet", bench={"device": "cpu"})
    assert _y_axis(rows)[0] == "median_ms"
    assert _y_axis(compare("400MF"))[0] == "acts"


def test_generated_names_work_in_other_commands():
    result = cli("list", "regnety@1.6GF", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["model"], row["family"]) == ("regnety@1.6GF", "regnety")
    assert abs(row["macs"] - 1.6e9) <= 0.02 * 1.6e9


def test_plot_without_matplotlib_fails_before_any_work(fake_bench, tmp_path, monkeypatch):
    fake = fake_bench()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed: find_spec gives None
    csv_path = tmp_path / "t.csv"
    result = cli("compare", "--budget", "400MF", "--bench", "--csv", str(csv_path), "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 2
    assert result.stderr == ("error: --plot needs matplotlib, which is not installed; pip install matplotlib "
                             "(in a source checkout: pip install -e '.[plot]')\n")
    assert not fake.calls and not csv_path.exists() and result.stdout == ""


def test_plot_path_errors_name_the_option(tmp_path):
    result = cli("compare", "--budget", "400MF", "--plot", str(tmp_path / "missing" / "p.png"))
    assert result.exit_code == 2 and result.stderr.startswith("error: --plot ") and "does not exist" in result.stderr


def test_a_member_that_cannot_be_generated_is_a_row_with_its_reason():
    result = cli("compare", "--budget", "50MF", "--families", "resnet,regnetx", "--generate", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    assert list(rows) == ["resnet18", "resnet@50MF", "regnetx_002", "regnetx@50MF"]
    failed = rows["resnet@50MF"]
    assert failed["error"].startswith("cannot generate resnet@50MF: ") and "\n" not in failed["error"]
    assert (failed["generated"], failed["within_tolerance"], failed["family"], failed["budget_macs"]) == (
        True, False, "resnet", 50_000_000)
    assert all(failed[c] is None for c in ("resolution", "params", "macs", "acts", "budget_err_pct"))
    assert rows["regnetx@50MF"]["error"] is None and abs(rows["regnetx@50MF"]["budget_err_pct"]) <= 2


def test_the_reason_is_shown_with_the_table():
    result = cli("compare", "--budget", "50MF", "--families", "resnet", "--generate")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.stdout.splitlines() if "resnet@50MF" in line and "cannot" not in line]
    assert row.split()[1:] == ["-", "-", "-!", "-", "-"]
    assert any(line.startswith("cannot generate resnet@50MF: ") for line in result.stdout.splitlines())


def test_a_member_that_cannot_be_generated_is_not_timed(fake_bench):
    fake = fake_bench()
    result = cli("compare", "--budget", "50MF", "--families", "resnet", "--generate", "--bench", "--json")
    assert result.exit_code == 0, result.output
    assert fake.calls[0][0] == ["resnet18"]
    failed = json.loads(result.stdout)[1]
    assert (failed["model"], failed["status"], failed["median_ms"]) == ("resnet@50MF", "error", None)


def test_timing_errors_are_printed_as_is(fake_bench):
    message = "RuntimeError: [enforce fail at alloc_cpu.cpp:117] [bold]x[/bold] can't allocate"
    fake_bench(fail={"regnetx_004": message})
    result = cli("compare", "--budget", "400MF", "--families", "regnetx,regnety", "--bench")
    assert result.exit_code == 0, result.output
    assert f"regnetx_004 batch 1: error: {message}" in result.stdout.splitlines()


def test_unstable_timings_get_benchs_one_warning_line(fake_bench):
    loaded = {"load_avg": 9.0, "cpus": 2, "threads": 1}
    fake_bench(extra={"resnet18": loaded})  # nearest at both budgets: two rows, one timing
    result = cli("compare", "--budget", "200MF,400MF", "--families", "resnet,regnetx", "--bench")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # the one line, as the terminal's width wrapped it
    assert text.count("warning:") == 1
    assert "warning: 1 of 3 timings are not stable (resnet18 batch 1: load average 9.0 on 2 usable CPUs)" in text
    assert "rerun with a quieter machine" in text
    fake_bench()
    result = cli("compare", "--budget", "200MF,400MF", "--families", "resnet,regnetx", "--bench")
    assert result.exit_code == 0 and "warning:" not in result.stdout
    fake_bench(extra={"resnet18": loaded})
    assert "warning:" not in cli("compare", "--budget", "200MF", "--bench", "--json").stdout  # JSON carries the rows


def test_compare_bench_warns_as_bench_does_when_the_load_is_high(monkeypatch):
    from netprobe.timing import trust

    monkeypatch.setattr(trust, "load_avg", lambda: 99.0)
    result = cli("compare", "--budget", "200MF", "--families", "regnetx", "--bench", "--warmup", "2", "--min-time",
                 "0.05", "--threads", "1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert text.count("warning:") == 1 and f"regnetx_002 batch 1: load average 99.0 on {trust.cpus()} usable CPUs" in text


def test_bench_options_only_with_bench_and_batch_takes_a_list(fake_bench):
    result = cli("compare", "--budget", "400MF", "--warmup", "2", "--compile")
    assert result.exit_code == 2 and "--warmup, --compile only take effect with --bench" in result.stderr
    fake = fake_bench()
    result = cli("compare", "--budget", "400MF", "--families", "regnetx", "--bench", "--batch", "1,8")
    assert result.exit_code == 0, result.output
    assert fake.calls[0][1]["batch"] == "1,8"


def test_python_api_returns_dataframes(fake_bench):
    frame = netprobe.compare("400MF", families="regnetx")
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == COMPARE_COLUMNS
    assert frame.loc[0, "model"] == "regnetx_004"
    fake_bench()
    timed = netprobe.compare("400MF", families="regnetx", bench={"device": "cpu"})
    assert list(timed.columns) == COMPARE_COLUMNS + [c for c in FakeBench.COLUMNS if c not in COMPARE_COLUMNS]


def test_bench_with_the_real_engine():
    result = cli("compare", "--families", "regnetx", "--budget", "200MF", "--bench", "--batch", "1,2",
                 "--min-time", "0.05", "--warmup", "1", "--threads", "1", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert list(rows[0]) == COMPARE_COLUMNS + [c for c in BENCH_COLUMNS if c not in COMPARE_COLUMNS]
    assert [(r["model"], r["batch"], r["status"], r["error"]) for r in rows] == [
        ("regnetx_002", 1, "ok", None), ("regnetx_002", 2, "ok", None)]
    for r in rows:
        assert r["median_ms"] > 0 and r["p10_ms"] <= r["median_ms"] <= r["p90_ms"] and r["samples"] >= 5
        assert r["imgs_per_s"] > 0 and r["achieved_gflops"] > 0
        assert r["macs"] == pytest.approx(r["budget_macs"] * (1 + r["budget_err_pct"] / 100))
        assert (r["warmup_iters"], r["threads"], r["resolution"]) == (1, 1, 224)
