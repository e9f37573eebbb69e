"""What a new user trips over (issue 21): one grammar, fast failures, plain messages, a closed pipe, completion."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from netprobe import hub, registry
from netprobe.cli import options
from netprobe.cli.app import _register, app
from netprobe.cli.render import plural
from netprobe.errors import NetprobeError

_register()
FAST = ["-r", "32", "--warmup", "2", "--min-time", "0.02", "--threads", "1", "--json"]


def cli(*args):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("flag", ["-f", "--family", "--families"])
def test_list_takes_a_comma_list_of_families_under_every_spelling(flag):
    result = cli("list", flag, "regnetx,regnety", "--json")
    assert result.exit_code == 0, result.output
    assert {r["family"] for r in json.loads(result.stdout)} == {"regnetx", "regnety"}


def test_models_are_split_at_commas_and_spaces_from_either_place():
    assert options.model_names(["resnet18,regnetx_002", "rexnet_1.0x"], "efficientnet_b0, regnety_002") == [
        "resnet18", "regnetx_002", "rexnet_1.0x", "efficientnet_b0", "regnety_002"]
    with pytest.raises(NetprobeError, match="no model given; e.g. 'netprobe bench"):
        options.model_names(None, None)


def test_bench_takes_models_positionally_as_well_as_with_dash_m():
    by_position = json.loads(cli("bench", "regnetx_002", "regnety_002", *FAST).stdout)
    by_option = json.loads(cli("bench", "-m", "regnetx_002,regnety_002", *FAST).stdout)
    assert [r["model"] for r in by_position] == [r["model"] for r in by_option] == ["regnetx_002", "regnety_002"]


@pytest.mark.parametrize("command, verb", [("summary", "counts"), ("profile", "times")])
def test_a_batch_sweep_where_one_batch_is_counted_says_where_sweeps_go(command, verb):
    result = cli(command, "regnetx_002", "--batch", "1,8")
    assert result.exit_code == 2
    assert f"error: {command} {verb} one batch, got '1,8'; for a sweep use 'netprobe bench" in result.stderr


def test_summary_of_several_models_shows_each_and_lists_their_objects(tmp_path):
    table = cli("summary", "regnetx_002", "-m", "regnety_002", "-r", "32")
    assert table.exit_code == 0, table.output
    assert "regnetx_002 (regnetx) at 32x32" in table.stdout and "regnety_002 (regnety) at 32x32" in table.stdout
    assert table.stdout.count("layer output bytes per stage") == 2
    one = json.loads(cli("summary", "regnety_002", "-r", "32", "--json").stdout)
    both = json.loads(cli("summary", "regnetx_002,regnety_002", "-r", "32", "--json").stdout)
    assert isinstance(one, dict) and [o["model"] for o in both] == ["regnetx_002", "regnety_002"]
    assert both[1] == one
    path = tmp_path / "rows.csv"
    refused = cli("summary", "regnetx_002", "regnety_002", "--csv", str(path))
    assert refused.exit_code == 2 and not path.exists()
    assert "error: --csv holds one model's rows (its columns name no model), got 2 models" in refused.stderr


def test_profile_of_several_models_shows_each_and_lists_their_objects(tmp_path):
    fast = [f for f in FAST if f != "--json"]
    path = tmp_path / "rows.csv"
    table = cli("profile", "regnetx_002", "regnety_002", *fast, "--csv", str(path))
    assert table.exit_code == 0, table.output
    assert table.stdout.count("stages sum") == 2
    assert "regnetx_002 infer" in table.stdout and "regnety_002 infer" in table.stdout
    assert {line.split(",")[0] for line in path.read_text().splitlines()[1:]} == {"regnetx_002", "regnety_002"}
    both = json.loads(cli("profile", "-m", "regnetx_002,regnety_002", *FAST).stdout)
    assert [o["model"] for o in both] == ["regnetx_002", "regnety_002"] and all(o["stages"] for o in both)
    assert isinstance(json.loads(cli("profile", "regnetx_002", *FAST).stdout), dict)
    refused = cli("profile", "regnetx_002", "regnety_002", "--plot", str(tmp_path / "roof.png"))
    assert refused.exit_code == 2 and "error: --plot draws one model's roofline, got 2 models" in refused.stderr


EARLY = """
import sys
from netprobe.cli.app import main
for args in {cases!r}:
    sys.argv = ["netprobe", *args]
    try:
        main()
    except SystemExit as e:
        print(e.code, "torch" in sys.modules, flush=True)
"""
EARLY_CASES = [
    ["bench", "resnt18"], ["bench", "resnet18", "--batch", "0"], ["bench", "resnet18", "--device", "cuda:x"],
    ["bench", "resnet18", "--dtype", "fp8"], ["bench", "regnetx@400"], ["profile", "resnet18", "--batch", "0"],
    ["profile", "resnt18"], ["profile", "resnet18", "--device", "gpu"], ["profile", "resnet18", "--dtype", "fp16"],
]


def test_bench_and_profile_reject_bad_input_before_torch_loads():
    done = subprocess.run([sys.executable, "-c", EARLY.format(cases=EARLY_CASES)], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split("\n")[:-1] == ["2 False"] * len(EARLY_CASES), done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(EARLY_CASES) and "did you mean resnet18" in errors[0]


def test_a_closed_pipe_is_a_normal_end():
    script = "from netprobe.cli.app import main; import sys; sys.argv = ['netprobe', *sys.argv[1:]]; main()"
    for args in (["list"], ["list", "--json"]):
        producer = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        producer.stdout.readline()
        producer.stdout.close()  # as `head -1` does
        assert producer.wait(timeout=60) == 0
        assert producer.stderr.read() == b""


def test_help_text_keeps_the_extra_and_profile_threads_say_nothing_of_ray():
    bench_help = CliRunner().invoke(app, ["bench", "-h"], env={"COLUMNS": "300"}).stdout
    profile_help = CliRunner().invoke(app, ["profile", "-h"], env={"COLUMNS": "300"}).stdout
    list_help = CliRunner().invoke(app, ["list", "-h"], env={"COLUMNS": "300"}).stdout
    assert "needs netprobe[ray]" in bench_help
    threads = next(line for line in profile_help.splitlines() if "--threads" in line)
    assert "Ray" not in threads
    assert "[PATTERN]" in list_help and "{" not in list_help.split("Usage:")[1].splitlines()[0]
    assert "[MODELS]" in bench_help


@pytest.mark.parametrize("command", ["summary", "bench", "profile", "list"])
def test_help_shows_an_argument_by_its_plain_metavar(command):
    text = CliRunner().invoke(app, [command, "-h"], env={"COLUMNS": "200"}).stdout
    row = next(line for line in text.split("Arguments")[1].splitlines() if "MODELS" in line or "PATTERN" in line)
    assert "<" not in row and "list[" not in text and row.split()[1] in ("MODELS", "PATTERN")


def test_counts_and_nouns_agree():
    assert (plural(1, "thread"), plural(4, "thread"), plural(1, "configuration")) == (
        "1 thread", "4 threads", "1 configuration")


def test_a_missing_hub_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm now raises ImportError
    with pytest.raises(NetprobeError, match=r"pip install 'netprobe\[hub\]'"):
        hub.factory("timm", "resnet18")


def test_completion_offers_models_families_and_devices_without_torch():
    assert "regnetx_002" in options.complete_models("regnetx_0")
    assert "resnet18,regnetx_002" in options.complete_models("resnet18,regnetx_0")
    assert "efficientnet" in options.complete_models("eff")
    assert options.complete_families("regnetx,regn") == ["regnetx,regnetx", "regnetx,regnety"]
    assert options.complete_devices("cu") == ["cuda", "cuda:0", "cuda:1"]
    assert set(registry.families()) == set(options.complete_families(""))
    code = "import sys; from netprobe.cli import options; options.complete_models('res'); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_a_custom_module_is_counted_without_importing_dynamo_and_compile_still_works_after():
    code = """
import sys
import torch
from torch import nn
import netprobe
model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 4))
s = netprobe.summary(model, input_size=(3, 8, 8))
print(s.totals.macs, "torch._dynamo" in sys.modules)
import torch._dynamo
print(hasattr(torch._dynamo, "optimize"))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = done.stdout.split()
    assert lines[1:] == ["False", "True"], done.stderr  # counted with no dynamo; the real one imports after
    assert int(lines[0]) == 8 * 6 * 6 * (27 + 1) + 4 * (8 * 36 + 1)  # conv 3x3 and linear, bias adds included


@pytest.mark.parametrize("flags, native", [("fpu avx512f avx512_bf16 amx_tile", True), ("fpu avx2 avx512f", False),
                                           ("fp asimd bf16", True)])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    from netprobe.timing.context import cpu_has_native_bf16

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\n{'Features' if 'asimd' in flags else 'flags'}\t\t: {flags}\n")
    assert cpu_has_native_bf16(str(info)) is native
    assert cpu_has_native_bf16(str(tmp_path / "none")) is None


@pytest.mark.parametrize("command", ["bench", "profile"])
def test_bf16_on_a_cpu_without_it_gets_a_note_under_the_table(monkeypatch, command):
    import importlib

    module = importlib.import_module(f"netprobe.cli.{command}_cmd")
    monkeypatch.setattr(module, "cpu_has_native_bf16", lambda: False)
    result = cli(command, "regnetx_002", "--dtype", "bf16", *FAST[:-1])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "note: this CPU has no native bf16" in text
    assert text.index("regnetx_002") < text.index("note: this CPU")  # under the table, not before it
    monkeypatch.setattr(module, "cpu_has_native_bf16", lambda: True)
    assert "native bf16" not in cli(command, "regnetx_002", "--dtype", "bf16", *FAST[:-1]).stdout


def test_a_summary_prints_short_and_has_a_frame():
    import netprobe

    s = netprobe.summary("regnetx_004")
    text = repr(s)
    assert len(text) < 300 and "regnetx_004" in text and f"macs={s.totals.macs:,}" in text and "\n" not in text
    assert str(s) == text
    frame = s.to_frame()
    assert len(frame) == len(s.layers) and frame["macs"].sum() == s.totals.macs
    assert list(s.to_frame(1)["name"]) == [st.name for st in s.stages]
    from torch import nn

    tokens = netprobe.summary(nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(16, 2)), input_size="int64:4")
    assert "at int64:4, batch 1" in repr(tokens) and "1 stage," in repr(tokens)  # any input, not only CxHxW


def test_csv_over_a_plain_text_file_says_it_is_not_a_csv_of_these_columns(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("remember to buy milk\n")
    result = cli("list", "regnetx_002", "--csv", str(path))
    assert result.exit_code == 2
    assert f"error: --csv {path} is not a CSV of these columns" in result.stderr
    assert path.read_text() == "remember to buy milk\n"


def test_block_kinds_are_whole_on_a_wide_terminal_and_cut_at_a_kind_on_a_narrow_one():
    from netprobe.analysis.blocks import short_kind

    label = "conv1x1 + gconv3x3 g=13 + SE + conv1x1"
    assert short_kind(label) == "conv1x1 + gconv3x3 g=13 + SE + ..."
    assert short_kind(label, 200) == label
    wide = CliRunner().invoke(app, ["summary", "regnety_004"], env={"COLUMNS": "250"}).stdout
    narrow = CliRunner().invoke(app, ["summary", "regnety_004"], env={"COLUMNS": "100"}).stdout
    assert label in wide and "+ ..." not in wide
    assert "conv1x1 + gconv3x3 g=13 + SE + ..." in narrow and label not in narrow


def test_plot_help_of_both_commands_lists_the_formats_the_plot_accepts():
    from netprobe.reports.plot import FORMATS

    for command in ("compare", "profile"):
        text = " ".join(CliRunner().invoke(app, [command, "-h"], env={"COLUMNS": "400"}).stdout.split())
        assert ".png, .svg or .pdf" in text and set(FORMATS) == {".png", ".svg", ".pdf"}


def test_plot_styles_are_distinct_for_many_families_and_cifar_nets_are_left_out():
    pytest.importorskip("matplotlib")
    from netprobe.reports import plot

    styles = [plot.family_style(i) for i in range(30)]
    assert len({(s["color"], s["marker"], s["linestyle"]) for s in styles}) == 30
    assert len({(s["color"], s["marker"]) for s in styles[:21]}) == 21
    rows = [{"family": "resnet", "resolution": 224}, {"family": "wrn_cifar", "resolution": 32}]
    assert plot.small_input(rows) == ["wrn_cifar"] and plot.small_input(rows[1:]) == []


def test_the_compare_plot_keeps_legend_and_labels_inside_the_figure():
    pytest.importorskip("matplotlib")
    from netprobe.reports.compare import compare
    from netprobe.reports.plot import figure

    fig = figure(compare("400MF,4GF"))
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.x1
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1 and legend.x1 <= width  # beside the data, not on it
    assert all(t.get_window_extent(renderer).x1 <= width + 1 for t in ax.texts)  # no label cut at the right
    assert "wrn_cifar" not in [t.get_text() for t in ax.get_legend().get_texts()]
    assert "left out: wrn_cifar" in ax.get_title()


def test_the_compare_table_says_cifar_nets_are_not_comparable():
    result = CliRunner().invoke(app, ["compare", "--budget", "400MF", "-f", "resnet,wrn_cifar"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "wrn_cifar: CIFAR nets (inputs under 64 px), not comparable" in result.stdout
    plain = CliRunner().invoke(app, ["compare", "--budget", "400MF", "-f", "resnet"], env={"COLUMNS": "200"})
    assert "CIFAR" not in plain.stdout
