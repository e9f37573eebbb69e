"""The comparison as a picture: per family, MACs against latency (or activations), log axes."""

from __future__ import annotations

import importlib.util
import io
import math
import os
from pathlib import Path

from netprobe.budget import format_budget
from netprobe.errors import NetprobeError
from netprobe.reports.io import check_writable, replace_file

FORMATS = (".png", ".svg", ".pdf")
SMALL_INPUT = 64  # pixels: a member below this is a CIFAR-sized net, not comparable with ImageNet budgets
MARKERS = ("o", "^", "D", "v", "P", "*", "h", "<", ">")  # with 20 colours: a distinct pair for 180 families
# (squares and x are taken: nearest registered members, and beyond tolerance)


def small_input(rows: list[dict]) -> list[str]:
    """Families whose members take small (CIFAR, 32 px) inputs while others take ImageNet-sized ones."""
    small = {r["family"] for r in rows if r.get("resolution") and r["resolution"] < SMALL_INPUT}
    large = {r["family"] for r in rows if r.get("resolution") and r["resolution"] >= SMALL_INPUT}
    return sorted(small - large) if large else []


def family_style(i: int) -> dict:
    """Colour, marker and line style of the i-th family: 20 qualitative colours, each pair (colour, marker) new."""
    from matplotlib import colormaps

    colors = colormaps["tab20"].colors
    return {"color": colors[(i * 2) % 20 + (i // 10) % 2], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": ("-", "--", ":", "-.")[i // 20 % 4]}


def check_path(path: str | os.PathLike) -> Path:
    """Fail before any work if the plot could not be drawn (no matplotlib) or written there."""
    p = check_writable(path, option="--plot")
    if p.suffix.lower() not in FORMATS:
        raise NetprobeError(f"--plot {path}: unknown image type; give a file name ending in {', '.join(FORMATS)}")
    if importlib.util.find_spec("matplotlib") is None:
        raise NetprobeError("--plot needs matplotlib, which is not installed; pip install matplotlib "
                             "(in a source checkout: pip install -e '.[plot]')")
    return p


def _value(row: dict, key: str) -> float | None:
    v = row.get(key)
    if v is None or isinstance(v, bool):
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def _tick(v: float, minor: bool = False) -> str:
    mantissa = v / 10 ** math.floor(math.log10(v)) if v > 0 else 0
    if minor and round(mantissa, 6) not in (2, 3, 5):
        return ""
    return f"{v:g}" if v < 1e4 else format_budget(v).rstrip("F")


def _y_axis(rows: list[dict]) -> tuple[str, str, str]:
    """(column, axis label, title) for the y axis: latency when anything was timed."""
    timed = [r for r in rows if _value(r, "median_ms")]
    if not timed:
        return "acts", "activations (conv/linear/max-pool outputs, batch 1)", "MACs vs activations (analytic)"
    r = timed[0]
    where = r.get("device_name") or r.get("device") or "?"
    context = ", ".join(str(x) for x in (where, r.get("dtype"), f"batch {r.get('batch')}") if x is not None)
    return "median_ms", "median latency per batch (ms)", f"MACs vs median latency ({context})"


def plot_compare(rows: list[dict], path: str | os.PathLike) -> Path:
    """Write one line per family through its members, budgets marked; returns the path."""
    p = check_path(path)
    fig = figure(rows)
    image = io.BytesIO()
    fig.savefig(image, format=p.suffix.lower().lstrip("."))
    replace_file(p, image.getvalue(), option="--plot")  # whole or not at all
    return p


def _one_batch(rows: list[dict]) -> list[dict]:
    """The rows of the first batch size timed (all rows when untimed): one point per member, as the title says."""
    batches = [r.get("batch") for r in rows if _value(r, "median_ms")]
    return [r for r in rows if not batches or r.get("batch") == batches[0]]


def _beyond(rows: list[dict]) -> set[str]:
    """Members beyond tolerance of a budget they were picked for (a member may stand for several budgets)."""
    return {r["model"] for r in rows if not r["within_tolerance"]}


def figure(rows: list[dict]):
    """The comparison as a matplotlib Figure (drawn, so its labels have their final places)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    budgets = sorted({r["budget_macs"] for r in rows})
    left_out = small_input(rows)  # CIFAR nets among ImageNet budgets would mislead: drawn apart, never here
    rows = _one_batch([r for r in rows if r["macs"] is not None and r["family"] not in left_out])
    key, y_label, title = _y_axis(rows)
    fig = Figure(figsize=(12.5, 7), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    families = list(dict.fromkeys(r["family"] for r in rows))
    beyond = _beyond(rows)
    labels = []
    for i, fam in enumerate(families):
        style = family_style(i)
        color = style["color"]
        fam_rows = [r for r in rows if r["family"] == fam and _value(r, key)]
        generated = [r for r in fam_rows if r["generated"]]
        registered = [r for r in fam_rows if not r["generated"]]
        # Generated members sit on the budgets, so they make the family's line when present.
        line, extra = (generated, registered) if generated else (registered, [])
        line = sorted({r["model"]: r for r in line}.values(), key=lambda r: r["macs"])
        ax.plot([r["macs"] for r in line], [_value(r, key) for r in line], label=fam, **style)
        extra = list({r["model"]: r for r in extra}.values())
        if extra:
            ax.scatter([r["macs"] for r in extra], [_value(r, key) for r in extra], marker="s",
                       facecolors="none", edgecolors=color)
        marked = [r for r in line + extra if r["model"] in beyond]
        if marked:
            ax.scatter([r["macs"] for r in marked], [_value(r, key) for r in marked], marker="x", s=70,
                       color=color, gid="beyond")
        # Generated names repeat the legend and the budget, so only registered ones are labelled.
        labels += [(r["model"], r["macs"], _value(r, key), color) for r in (extra if generated else line)]
    plain_log_axes(ax)
    for b in budgets:
        ax.axvline(b, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(format_budget(b), (b, 1), xycoords=("data", "axes fraction"), xytext=(2, -12),
                    textcoords="offset points", fontsize=8, color="0.35")
    ax.set_xlabel("MACs (multiply-accumulates, the papers' \"flops\")")
    ax.set_ylabel(y_label)
    notes = ["lines: generated members, squares: nearest registered"] * any(r["generated"] for r in rows)
    notes += ["x: beyond tolerance of a budget"] * bool(beyond)
    notes += [f"left out: {', '.join(left_out)} (CIFAR inputs, under {SMALL_INPUT} px)"] * bool(left_out)
    ax.set_title("\n".join([title, "; ".join(notes)]) if notes else title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0,
              ncol=2 if len(families) > 24 else 1)  # outside the data, so it hides no point
    fig.tight_layout()
    place_labels(fig, ax, labels)
    return fig


def plain_log_axes(ax) -> None:
    """Log axes with plain tick labels (400M, 1.6G; 30, 100 ms; never 6x10^0), minor ones only at 2x, 3x, 5x."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v)))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: _tick(v, minor=True)))


LABEL_STEP = 9  # points: a label that would overlap one already placed moves up by this much


def place_labels(fig, ax, labels: list[tuple[str, float, float, str]]) -> None:
    """Annotate each point with its name, moving a label up until it overlaps none placed before it."""
    renderer = fig.canvas.get_renderer()
    right = ax.get_window_extent(renderer).x1
    placed = []
    for text, x, y, color in sorted(labels, key=lambda lab: (lab[2], lab[1])):
        for step in range(40):
            note = ax.annotate(text, (x, y), xytext=(4, 3 + step * LABEL_STEP), textcoords="offset points",
                               fontsize=7, color=color)
            box = note.get_window_extent(renderer)
            if box.x1 > right:  # past the right edge: the label goes left of its point, never cut
                note.remove()
                note = ax.annotate(text, (x, y), xytext=(-4, 3 + step * LABEL_STEP), textcoords="offset points",
                                   fontsize=7, color=color, ha="right")
                box = note.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            note.remove()
        placed.append(box)
