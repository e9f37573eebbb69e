"""``netprobe compare``: families side by side at matched compute budgets."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from netprobe.analysis.conventions import CONVENTIONS
from netprobe.analysis.train_memory import fit_optimizer
from netprobe.budget import format_budget
from netprobe.bytesize import parse_bytes
from netprobe.cli.app import app, handles_errors, interrupt_code, model_output_to_stderr
from netprobe.cli.options import (BATCH_HELP, PLOT_FORMATS, ChannelsLast, Compile, Convention, Csv, Device, Dtype,
                                  Families, Json, MinTime, Ray, RayThreads, Retries, Warmup, warn_threads)
from netprobe.cli.render import console, fitted, human, human_bytes, progress_bar, progress_shown
from netprobe.errors import NetprobeError
from netprobe.reports import io
from netprobe.reports.io import WriteFailed
from netprobe.reports.plot import SMALL_INPUT, small_input
from netprobe.timing import trust


@app.command("compare")
@handles_errors
def compare_cmd(
    budget: Annotated[str, typer.Option("--budget", help="MACs budget(s): 400MF, 1.6GF, 0.4G, 400M, 4e8, or a comma list.")],
    families: Families = None,
    tolerance: Annotated[float, typer.Option("--tolerance", help="Flag rows whose MACs are further than this many percent from the budget.")] = 25.0,
    convention: Convention = "netprobe",
    generate: Annotated[bool, typer.Option("--generate", help="Also make FAMILY@BUDGET members within 2% by each family's scaling rule.")] = False,
    bench: Annotated[bool, typer.Option("--bench", help="Time every selected member with the bench engine, taking the options below as 'netprobe bench' does.")] = False,
    device: Device = None,
    batch: Annotated[Optional[str], typer.Option("--batch", "-b", help=BATCH_HELP)] = None,
    dtype: Dtype = None,
    threads: RayThreads = None,
    warmup: Warmup = None,
    min_time: MinTime = None,
    channels_last: ChannelsLast = False,
    compile_: Compile = False,
    ray: Ray = None,
    retries: Retries = None,
    json: Json = False,
    csv: Csv = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help=f"Also draw MACs vs latency (or activations) to this {PLOT_FORMATS} file (needs matplotlib).", dir_okay=False)] = None,
    fit: Annotated[Optional[str], typer.Option("--fit", help="Also the largest batch of each member whose predicted training peak fits this memory, e.g. 16GiB, 8GB (predicted, nothing runs).")] = None,
    optimizer: Annotated[Optional[str], typer.Option("--optimizer", help="With --fit: sgd, sgd-momentum or adamw (default sgd-momentum, what bench --mode train steps).")] = None,
) -> None:
    """Compare families at matched compute: the nearest member of each family per budget, optionally timed."""
    optimizer = fit_optimizer(optimizer, fit, cli=True)
    memory = None if fit is None else parse_bytes(fit)  # before torch loads: a bad budget is one line at once
    from netprobe.reports.compare import compare

    given = {"device": device, "batch": batch, "dtype": dtype, "threads": threads, "warmup": warmup,
             "min_time": min_time, "channels_last": channels_last or None, "compile": compile_ or None,
             "ray": ray, "retries": retries}
    options = {k: v for k, v in given.items() if v is not None}
    if options and not bench:
        flags = ", ".join("--" + k.replace("_", "-") for k in options)
        verb, them = ("takes", "it") if len(options) == 1 else ("take", "them")
        raise NetprobeError(f"{flags} only {verb} effect with --bench; add --bench or leave {them} out")
    if plot:
        from netprobe.reports.plot import check_path  # matplotlib's check, only when a plot is asked for

        check_path(plot)
    warn_threads(threads)

    overall = _Overall(progress_bar() if bench and progress_shown(json) else None)
    try:
        with overall.progress or contextlib.nullcontext(), model_output_to_stderr():
            rows = compare(budget, families, tolerance, generate, options if bench else None, csv,
                           on_row=overall.row if bench else None, convention=convention, on_total=overall.start,
                           fit=memory, optimizer=optimizer if memory is not None else None)
    except KeyboardInterrupt as stop:
        if not hasattr(stop, "rows"):  # interrupted before timing began: nothing measured
            raise
        _show(stop.rows, tolerance, json, convention)
        timed = len({r["model"] for r in stop.rows})
        kept = f", rows kept in {csv}" if csv and stop.rows else ""  # the file is written after the first member
        console(stderr=True).print(f"interrupted: {timed} members timed{kept}", markup=False)
        raise typer.Exit(interrupt_code()) from None
    except WriteFailed as e:
        if e.rows:
            _show(e.rows, tolerance, json, convention)
        raise
    _show(rows, tolerance, json, convention)
    if plot:  # after the rows are shown, so a full disk loses nothing
        from netprobe.reports.plot import plot_compare

        plot_compare(rows, plot)


def _show(rows: list[dict], tolerance: float, json: bool, convention: str = "netprobe") -> None:
    """Rows as JSON in the fixed schema, or as the table."""
    if not json:
        _render(rows, tolerance, convention)
        return
    from netprobe.reports.compare import columns

    cols = columns(rows)
    typer.echo(io.to_json([{c: r.get(c) for c in cols} for r in rows]))


class _Overall:
    """compare --bench's progress on stderr: one line per configuration timed, and (on a terminal) a bar of the
    configurations done out of all."""

    def __init__(self, progress):
        self.progress, self.task, self.seen = progress, None, set()

    def start(self, total: int) -> None:
        if self.progress is not None:
            self.task = self.progress.add_task("timing the members", total=total)

    def row(self, row: dict) -> None:
        key = (row["model"], row.get("batch"))
        if key in self.seen:  # a member nearest several budgets is timed once, shown once
            return
        self.seen.add(key)
        ms = row.get("median_ms")
        took = f"{ms:.4g} ms" if isinstance(ms, (int, float)) else "-"
        line = f"timed {row['model']}: {took} ({row.get('status', '?')})"
        if self.progress is None:
            console(stderr=True).print(line, style="dim", markup=False)
            return
        self.progress.console.print(line, style="dim", markup=False)
        self.progress.advance(self.task)


def _render(rows: list[dict], tolerance: float, convention: str = "netprobe") -> None:
    from rich.markup import escape

    timed = any("median_ms" in r for r in rows)
    batches = list(dict.fromkeys(r["batch"] for r in rows if r.get("batch") is not None))
    mem = timed and any(r.get("peak_mem_bytes") for r in rows)
    failed = timed and any(r.get("status") != "ok" for r in rows)
    nodes = timed and any(r.get("node") for r in rows)  # on Ray: the worker that timed the row
    conv = CONVENTIONS[convention]
    cols = ["budget", "model", "res", conv.header, "err"]  # the model name already says its family
    if timed:
        cols += ["batch"] * (len(batches) > 1) + ["ms", "img/s", "GFLOP/s"] + ["peak mem"] * mem + ["status"] * failed
        cols += ["node"] * nodes
    else:
        cols += ["params", "acts"]
    fits = any("fit_batch" in r for r in rows)
    cols += ["fit batch", "fit mem"] * fits
    lines, sections = [], []
    last = None
    for r in rows:
        if last is not None and r["budget_macs"] != last:
            sections.append(len(lines))
        label = format_budget(r["budget_macs"]) if r["budget_macs"] != last else ""
        last = r["budget_macs"]
        e = r["budget_err_pct"]
        err = "-" if e is None else f"{e:+.0f}%" if abs(e) >= 100 else f"{e:+.1f}%"
        cells = [label, escape(r["model"]), _count(r["resolution"], str), _count(r["macs"], human),
                 err + ("" if r["within_tolerance"] else "!")]
        if timed:
            gflops = r.get("achieved_gflops")
            cells += [str(r.get("batch") or "-")] * (len(batches) > 1)
            cells += [_short(r.get("median_ms")), _short(r.get("imgs_per_s")),
                      _short(gflops)]
            cells += [human_bytes(r["peak_mem_bytes"]) if r.get("peak_mem_bytes") else "-"] * mem
            cells += [str(r.get("status", ""))] * failed
            cells += [escape(r.get("node") or "-")] * nodes
        else:
            cells += [_count(r["params"], human), _count(r["acts"], human)]
        if fits:
            cells += [_count(r.get("fit_batch"), str), _count(r.get("fit_memory_bytes"), human_bytes)]
        lines.append((cells, None if r["within_tolerance"] else "red"))
    out = console()
    columns = [(c, c, "left" if c in ("budget", "model", "status", "node") else "right") for c in cols]
    drop = ("res", "acts", "peak mem", "GFLOP/s", "fit mem")
    out.print(fitted(out, "families at matched compute", columns, lines, drop, tuple(sections)))
    for r in rows:
        if r.get("error"):  # a member that could not be generated, or a timing that failed
            where = f"{r['model']} batch {r['batch']}: {r['status']}: " if r.get("batch") is not None else ""
            out.print(where + r["error"], markup=False)
    caution = trust.rows_warning(rows) if timed else None  # bench's line: what was not stable, and what to do
    if caution:
        out.print(caution, markup=False)
    what = "MACs: multiply-accumulates (the papers' \"flops\")" if conv.name == "netprobe" else \
        f"{conv.legend}, budgets too (FAMILY@BUDGET is generated at the budget in netprobe's MACs)"
    out.print(f"{what}; err: 100 x (MACs - budget) / budget, '!' beyond ±{tolerance:g}%; FAMILY@BUDGET: a generated member.",
              markup=False)
    if fits:
        r = next(x for x in rows if "fit_batch" in x)
        out.print(f"fit batch: the largest batch whose predicted training peak (fp32, {r['optimizer']}) fits "
                  f"{human_bytes(r['fit_budget_bytes'])}, 0 if batch 1 does not; fit mem: that peak (batch 1's for 0); "
                  "predicted, nothing ran (docs/train.md).", markup=False)
    small = small_input(rows)
    if small:
        out.print(f"{', '.join(small)}: CIFAR nets (inputs under {SMALL_INPUT} px), not comparable with ImageNet-sized "
                  "members at a budget; --plot leaves them out", markup=False)
    if timed:
        r = next((x for x in rows if x.get("device")), rows[0])
        parts = (r.get("device_name") or r.get("device"), r.get("dtype"),
                 f"batch {','.join(map(str, batches))}" if batches else None,
                 f"threads {r.get('threads')}" if r.get("threads") else None,
                 f"torch {r.get('torch_version')}" if r.get("torch_version") else None)
        context = ", ".join(str(p) for p in parts if p)
        out.print(f"ms: median latency per batch; GFLOP/s: 2 FLOPs per MAC; timed on {context}.", markup=False)


def _count(v, fmt) -> str:
    """A count as ``fmt`` shows it; '-' where there is none (a member that could not be generated)."""
    return "-" if v is None else fmt(v)


def _short(v) -> str:
    """3 significant digits, never in exponent form (a timing of 2942 ms stays 2942)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v != v:
        return "-"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
