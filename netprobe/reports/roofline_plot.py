"""A profile as a picture: the measured roofline, log-log, with each stage as a point."""

from __future__ import annotations

import io
import os
from pathlib import Path

from netprobe.reports.io import replace_file
from netprobe.reports.plot import check_path, family_style, place_labels, plain_log_axes


def plot_roofline(result, path: str | os.PathLike) -> Path:
    """Write the roofline of ``result`` (a ``Profile``) with one labelled point per unit; returns the path."""
    p = check_path(path)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    roof = result.roof
    points = [m for m in map(result.metrics, result.units) if m["intensity"] and m["achieved_gflops"]]
    xs = [m["intensity"] for m in points] + [roof.ridge]
    lo, hi = min(xs) / 4, max(xs) * 4
    fig = Figure(figsize=(8, 5.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([lo, roof.ridge, hi], [lo * roof.bandwidth_gbs, roof.peak_gflops, roof.peak_gflops], color="0.2",
            label=f"roof: {roof.bandwidth_gbs:.3g} GB/s copy, {roof.peak_gflops:.4g} GFLOP/s matmul")
    ax.axvline(roof.ridge, color="0.6", linestyle=":", linewidth=1)
    labels = []
    for i, m in enumerate(points):
        style = family_style(i)
        ax.scatter([m["intensity"]], [m["achieved_gflops"]], color=style["color"], marker=style["marker"], zorder=3)
        labels.append((f"{m['name']} ({m['time_pct']:.0f}% of time)", m["intensity"], m["achieved_gflops"],
                       style["color"]))
    plain_log_axes(ax)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity (FLOP/byte: 2 FLOPs per MAC over inputs + outputs + weights)")
    ax.set_ylabel("achieved GFLOP/s")
    where = result.context.get("device_name") or result.device
    ax.set_title(f"{result.model} {result.mode}, batch {result.batch}, {result.resolution} px, {result.dtype} "
                 f"on {where}, {result.threads} thread{'s' * (result.threads != 1)}", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    place_labels(fig, ax, labels)  # stacked where they would overlap, never past the right edge
    image = io.BytesIO()
    fig.savefig(image, format=p.suffix.lower().lstrip("."))
    replace_file(p, image.getvalue(), option="--plot")  # whole or not at all: an old image is never damaged
    return p
