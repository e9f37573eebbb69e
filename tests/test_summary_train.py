"""``netprobe summary --mode train`` and ``netprobe.summary(mode="train")``: the step's counts, memory and fit."""

import json

import pytest
from typer.testing import CliRunner

import netprobe
from netprobe.analysis.train import train_counts
from netprobe.analysis.train_memory import fit, train_memory
from netprobe.cli.app import _register, app
from netprobe.cli.render import human

from early_errors import early_error

_register()
runner = CliRunner()
MODEL = ("regnetx_002", "-r", "32")


def run(*args):
    return runner.invoke(app, ["summary", *MODEL, *args])


@pytest.mark.parametrize("convention", ["netprobe", "fvcore", "ptflops", "torch"])
def test_json_has_the_steps_counts_per_stage_and_in_total_in_every_convention(convention):
    r = run("--mode", "train", "--batch", "2", "--convention", convention, "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    c = train_counts("regnetx_002", convention, 32, 2)
    assert (obj["train_forward"], obj["train_backward"], obj["train_total"]) == (c.forward, c.backward, c.total)
    assert obj["train_total"] == obj["train_forward"] + obj["train_backward"] and obj["train_backward"] > 0
    assert [(s["name"], s["train_forward"], s["train_backward"]) for s in obj["stages"]] == list(c.stages)
    assert obj["mode"] == "train" and obj["macs"] == json.loads(run("--batch", "2", "--convention", convention,
                                                                      "--json").output)["macs"]


def test_json_memory_is_the_prediction_with_the_optimizer_given():
    for optimizer in ("sgd", "adamw"):
        obj = json.loads(run("--mode", "train", "--optimizer", optimizer, "-b", "3", "--json").output)
        m = train_memory("regnetx_002", 3, optimizer, resolution=32)
        assert obj["train_memory_bytes"] == m.train_memory_bytes == obj["train_memory"]["train_memory_bytes"]
        assert obj["train_memory"]["optimizer"] == optimizer and obj["train_memory"]["params_bytes"] == m.params_bytes
    default = json.loads(run("--mode", "train", "--json").output)["train_memory"]
    assert default["optimizer"] == "sgd-momentum" and default["optimizer_bytes"] == default["params_bytes"]


def test_infer_json_is_unchanged():
    obj = json.loads(run("--json").output)
    assert not any(k.startswith(("train", "fit")) or k == "mode" for k in obj)
    assert all("train_forward" not in s for s in obj["stages"])


def test_table_shows_a_backward_column_and_the_split_under_it():
    r = run("--mode", "train", "--fit", "1GiB")
    assert r.exit_code == 0, r.output
    header = next(line for line in r.output.splitlines() if "backward" in line and "MACs" in line)
    assert header.index("MACs") < header.index("backward")
    c = train_counts("regnetx_002", None, 32, 1)
    assert f"training step at batch 1: forward {human(c.forward)} + backward {human(c.backward)}" in r.output
    total = next(line for line in r.output.splitlines() if line.startswith("total"))
    assert human(c.backward) in total
    assert "predicted peak memory, fp32, sgd-momentum, batch 1:" in r.output
    f = fit("regnetx_002", "1GiB", resolution=32)
    assert f"fits 1.0 GiB: batch {f.fit_batch}, predicted" in r.output
    assert not any("backward" in line and "MACs" in line for line in run().output.splitlines())


def test_fit_is_the_largest_batch_whose_prediction_fits():
    obj = json.loads(run("--mode", "train", "--fit", "256MiB", "--json").output)
    b = obj["fit_batch"]
    assert b >= 1 and obj["fit_budget_bytes"] == 256 * 2**20
    assert obj["fit_memory"]["batch"] == b and obj["fit_memory"]["train_memory_bytes"] <= 256 * 2**20
    assert train_memory("regnetx_002", b + 1, resolution=32).train_memory_bytes > 256 * 2**20
    none = json.loads(run("--mode", "train", "--fit", "1MiB", "--json").output)
    assert none["fit_batch"] == 0


@pytest.mark.parametrize("args, message", [
    (["--mode", "train", "--fit", "16 gigs"], "error: bad memory budget '16 gigs'"),
    (["--mode", "train", "--fit", "0GiB"], "error: bad memory budget '0GiB': must be at least 1 byte"),
    (["--mode", "train", "--optimizer", "adam"], "error: unknown optimizer 'adam'; choose from sgd"),
    (["--mode", "fit"], "error: unknown mode 'fit'; choose infer or train"),
    (["--fit", "16GiB"], "error: --fit is about the training step; add --mode train"),
    (["--optimizer", "sgd"], "error: --optimizer is about the training step; add --mode train"),
    (["--mode", "train", "--output-stride", "8"], "error: --mode train counts a model at its own output stride"),
])
def test_bad_train_options_are_one_error_line_before_torch_loads(args, message):
    torch, code, lines = early_error("summary", "regnetx_002", *args)
    assert not torch and code
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_api_mode_train_returns_the_same_data_and_infer_is_a_plain_summary():
    t = netprobe.summary("regnetx_002", 32, batch=2, mode="train", optimizer="adamw", fit="512MiB")
    assert t.counts == train_counts("regnetx_002", None, 32, 2)
    assert t.memory == train_memory("regnetx_002", 2, "adamw", resolution=32)
    assert t.fit == fit("regnetx_002", "512MiB", "adamw", resolution=32)
    assert t.summary == netprobe.summary("regnetx_002", 32, batch=2)
    obj = json.loads(run("--mode", "train", "-b", "2", "--optimizer", "adamw", "--fit", "512MiB", "--json").output)
    assert t.to_dict()["layers"] == obj["layers"]
    assert {k: v for k, v in t.to_dict().items() if k.startswith(("train", "fit"))} == \
        {k: v for k, v in obj.items() if k.startswith(("train", "fit"))}
    assert type(netprobe.summary("regnetx_002", 32)).__name__ == "Summary"
    with pytest.raises(netprobe.NetprobeError, match="add mode='train'"):
        netprobe.summary("regnetx_002", 32, optimizer="sgd")


def test_inputs_from_a_factory_count_as_the_shapes_they_make():
    shapes = netprobe.summary("input_models:TwoInputs", batch=2, mode="train", input_size="3x16x16,12", fit="1MiB")
    made = netprobe.summary("input_models:TwoInputs", batch=2, mode="train", inputs="input_models:make_pair",
                            fit="1MiB")
    assert made.counts.backward == shapes.counts.backward > 0 and made.counts.stages == shapes.counts.stages
    assert made.memory.train_memory_bytes == shapes.memory.train_memory_bytes
    assert made.fit.fit_batch == shapes.fit.fit_batch > 2  # the prediction is linear in the batch: made at 2 and 3
    r = runner.invoke(app, ["summary", "input_models:TwoInputs", "--inputs", "input_models:make_pair", "-b", "2",
                            "--mode", "train", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["train_backward"] == shapes.counts.backward


def _csv_rows(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("depth", [None, "1", "2"])
def test_train_csv_rows_carry_the_backward_the_json_shows(tmp_path, depth):
    from netprobe.analysis.train_summary import TRAIN_ROWS

    more = () if depth is None else ("--depth", depth)
    out = tmp_path / "train.csv"
    r = run("--mode", "train", "-b", "2", "--convention", "torch", "--csv", str(out), *more)
    assert r.exit_code == 0, r.output
    rows = _csv_rows(out)
    assert list(rows[0]) == TRAIN_ROWS and TRAIN_ROWS.index("train_backward") == TRAIN_ROWS.index("macs") + 1
    obj = json.loads(run("--mode", "train", "-b", "2", "--convention", "torch", "--json", *more).output)
    assert [(x["name"], int(x["macs"]), int(x["train_backward"])) for x in rows] == \
        [(x["name"], x["macs"], x["train_backward"]) for x in obj["layers"]]
    assert sum(int(x["train_backward"]) for x in rows) == obj["train_backward"] > 0
    if depth == "1":  # a stage row's backward is the stage's
        assert [int(x["train_backward"]) for x in rows] == [s["train_backward"] for s in obj["stages"]]


def test_infer_csv_keeps_its_columns(tmp_path):
    from netprobe.analysis.summary import ROWS

    out = tmp_path / "infer.csv"
    assert run("--csv", str(out)).exit_code == 0
    assert list(_csv_rows(out)[0]) == ROWS


def test_stage_backward_of_a_module_whose_layers_are_not_named_under_its_stages(tmp_path):
    model = "summary_models:TorchvisionStyle"
    t = netprobe.summary(model, 32, batch=2, mode="train")
    assert [(st.name, t.stage_backward(st.name)) for st in t.summary.stages] == \
        [(n, b) for n, _, b in t.counts.stages]
    assert sum(b for _, _, b in t.counts.stages) == t.counts.backward > 0
    r = runner.invoke(app, ["summary", model, "-r", "32", "-b", "2", "--mode", "train", "--depth", "1"])
    assert r.exit_code == 0, r.output
    for name, _, b in t.counts.stages:  # the table's stage rows show each stage's backward, not 0
        line = next(x for x in r.output.splitlines() if x.split()[:1] == [name])
        assert human(b) in line.split()
    out = tmp_path / "stages.csv"
    assert runner.invoke(app, ["summary", model, "-r", "32", "-b", "2", "--mode", "train", "--depth", "1",
                               "--csv", str(out)]).exit_code == 0
    assert [int(x["train_backward"]) for x in _csv_rows(out)] == [b for _, _, b in t.counts.stages]
