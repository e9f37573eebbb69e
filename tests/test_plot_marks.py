"""compare --plot: the x marks and the points come from the right rows, and labels do not overlap."""

import pytest

pytest.importorskip("matplotlib")

from netprobe.reports.compare import compare  # noqa: E402
from netprobe.reports.plot import figure, small_input  # noqa: E402


def _marked(fig) -> set[tuple[float, float]]:
    ax = fig.axes[0]
    return {tuple(p) for c in ax.collections if c.get_gid() == "beyond" for p in c.get_offsets()}


def test_a_member_beyond_tolerance_at_one_of_its_budgets_is_marked():
    rows = compare("200MF,1.6GF", families="resnet")  # resnet18 both times: +807%, then +13%
    assert [(r["model"], r["within_tolerance"]) for r in rows] == [("resnet18", False), ("resnet18", True)]
    assert _marked(figure(rows)) == {(rows[0]["macs"], rows[0]["acts"])}


def test_a_member_within_tolerance_everywhere_is_not_marked():
    assert _marked(figure(compare("1.6GF", families="resnet"))) == set()


def test_timed_points_are_those_of_the_batch_the_title_names():
    rows = []
    for batch, ms in ((1, 10.0), (8, 80.0)):
        rows += [{**r, "batch": batch, "median_ms": ms * (i + 1), "device": "cpu", "dtype": "fp32"}
                 for i, r in enumerate(compare("400MF,4GF", families="regnetx"))]
    ax = figure(rows).axes[0]
    assert "batch 1" in ax.get_title()
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "regnetx"]
    assert list(line.get_ydata()) == [10.0, 20.0]


def test_labels_do_not_overlap():
    # Members of one budget timed alike: their points nearly coincide, as on a real CPU run.
    rows = [{**r, "batch": 1, "median_ms": (10 if r["budget_macs"] < 1e9 else 40) * (1 + 0.002 * i), "device": "cpu",
             "dtype": "fp32"} for i, r in enumerate(compare("400MF,4GF"))]
    fig = figure(rows)
    renderer = fig.canvas.get_renderer()
    names = {r["model"] for r in rows if r["family"] not in small_input(rows)}  # CIFAR nets are left out
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_text() in names]
    assert len(boxes) == len(names)
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
