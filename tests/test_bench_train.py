"""``bench --mode train`` rows: the step's phases after its timing, and the predicted peak beside the measured."""

import pytest

import netprobe
from netprobe.analysis.train_memory import train_memory
from netprobe.timing.bench import BENCH_COLUMNS, RAY_COLUMNS

TRAIN_COLUMNS = ("predicted_mem_bytes", "alloc_peak_bytes", "forward_ms", "backward_ms", "optimizer_ms")


def test_the_columns_are_in_bench_and_ray_schemas_beside_the_measured_peak():
    at = BENCH_COLUMNS.index("peak_mem_bytes")
    assert tuple(BENCH_COLUMNS[at + 1:at + 6]) == TRAIN_COLUMNS
    assert RAY_COLUMNS[:-1] == BENCH_COLUMNS


@pytest.fixture(scope="module")
def rows():
    frame = netprobe.bench("regnetx_002", resolution=32, batch="2", mode="train,infer", min_time=0.05, threads=1)
    return {r["mode"]: r for r in frame.to_dict("records")}


def test_train_rows_have_phase_medians_and_the_prediction_infer_rows_none(rows):
    train, infer = rows["train"], rows["infer"]
    assert train["status"] == "ok" and train["error"] is None
    assert all(train[c] > 0 for c in ("forward_ms", "backward_ms", "optimizer_ms"))
    assert train["predicted_mem_bytes"] == train_memory("regnetx_002", 2, resolution=32).train_memory_bytes
    assert all(infer[c] is None or infer[c] != infer[c] for c in TRAIN_COLUMNS)  # None (NaN in a frame)


def test_the_prediction_is_the_allocators_peak_within_a_few_percent(rows):
    """The prediction counts tensors, as the allocator's peak does; the resident set also holds what
    the C allocator keeps and the process's first-step overhead, so it is only an upper bound."""
    train = rows["train"]
    assert abs(train["predicted_mem_bytes"] / train["alloc_peak_bytes"] - 1) < 0.03
    assert train["peak_mem_bytes"] > train["alloc_peak_bytes"]
    frame = netprobe.bench("mobilenetv2_100", resolution=32, batch="4", mode="train", min_time=0.05, threads=1)
    other = frame.to_dict("records")[0]
    assert abs(other["predicted_mem_bytes"] / other["alloc_peak_bytes"] - 1) < 0.03


def test_predicted_is_fp32_only():
    frame = netprobe.bench("regnetx_002", resolution=32, batch="2", mode="train", dtype="bf16", min_time=0.05, threads=1)
    row = frame.to_dict("records")[0]
    assert row["status"] == "ok" and row["forward_ms"] > 0
    assert row["predicted_mem_bytes"] is None or row["predicted_mem_bytes"] != row["predicted_mem_bytes"]


def test_a_bench_csv_of_the_old_columns_is_refused_before_timing(tmp_path):
    from typer.testing import CliRunner

    from netprobe.cli.app import _register, app

    _register()
    old = tmp_path / "old.csv"
    old.write_text(",".join(c for c in BENCH_COLUMNS if c not in TRAIN_COLUMNS) + "\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["bench", "regnetx_002", "-r", "32", "-b", "2", "--mode", "train", "--csv", str(old)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert f"error: --csv {old} already holds other columns, so it is not appended to" in r.output
    assert "median" not in r.output


def test_a_two_input_model_has_its_phases_and_its_prediction():
    import input_models

    frame = netprobe.bench("input_models:TwoInputs", input_size="3x16x16,12", batch="2", mode="train", min_time=0.05,
                           threads=1)
    row = frame.to_dict("records")[0]
    assert row["status"] == "ok" and all(row[c] > 0 for c in ("forward_ms", "backward_ms", "optimizer_ms"))
    predicted = train_memory(input_models.TwoInputs(), 2, input_size="3x16x16,12").train_memory_bytes
    assert row["predicted_mem_bytes"] == predicted and row["alloc_peak_bytes"] > 0
    made = netprobe.bench("input_models:TwoInputs", inputs="input_models:make_pair", batch="2", mode="train",
                          min_time=0.05, threads=1).to_dict("records")[0]
    assert made["status"] == "ok" and made["predicted_mem_bytes"] == predicted  # a factory makes the same shapes

