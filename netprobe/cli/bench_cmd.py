"""``netprobe bench``: forward-pass latency with its spread and context, one row per configuration."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from netprobe.cli import signals
from netprobe.cli.app import app, handles_errors, interrupt_code, model_output_to_stderr
from netprobe.cli.options import (BATCH_HELP, ChannelsLast, Compile, CsvAppend, Device, Dtype, Inputs, InputSize, Json,
                                  MinTime, Mode, Models, ModelsOption, OutputStride, Ray, RayThreads, Resolution,
                                  Retries, Warmup, check_early, model_names, warn_threads)
from netprobe.cli.render import console, fitted, human, human_bytes, plural, progress_bar
from netprobe.models.inputs import parse
from netprobe.reports import io
from netprobe.reports.io import WriteFailed
from netprobe.reports.sink import csv_sink
from netprobe.timing import trust
from netprobe.timing.context import BF16_NOTE, cpu_has_native_bf16


@app.command("bench")
@handles_errors
def bench_models(
    models: Models = None,
    models_option: ModelsOption = None,
    device: Device = "cpu",
    batch: Annotated[str, typer.Option("--batch", "-b", help=BATCH_HELP)] = "1",
    mode: Mode = "infer",
    resolution: Resolution = None,
    input_size: InputSize = None,
    inputs: Inputs = None,
    dtype: Dtype = "fp32",
    channels_last: ChannelsLast = False,
    compile_: Compile = False,
    threads: RayThreads = None,
    warmup: Warmup = None,
    min_time: MinTime = None,
    csv: CsvAppend = None,
    json: Json = False,
    output_stride: OutputStride = None,
    ray: Ray = None,
    retries: Retries = None,
) -> None:
    """Time the forward pass or a training step: median, p10/p90, IQR, images/s and GFLOP/s, with the context."""
    names = model_names(models, models_option)
    check_early(names, device if ray is None else None, batch, dtype)  # before torch loads: a typo fails at once
    given = parse(input_size, inputs)  # a bad input description too
    from netprobe.timing.bench import BENCH_COLUMNS, RAY_COLUMNS, Interrupted, plan, run

    # Every option is checked before the progress display starts, so an error is one clean line.
    sink = csv_sink(csv, BENCH_COLUMNS if ray is None else RAY_COLUMNS, append=True)
    with model_output_to_stderr():  # a factory may print as it is built and counted
        todo = plan(names, device=device, batch=batch, mode=mode, resolution=resolution, inputs=given,
                    dtype=dtype, channels_last=channels_last, compile=compile_, threads=threads, warmup=warmup,
                    min_time=min_time, output_stride=output_stride, ray=ray, retries=retries)
    signals.check()  # a signal swallowed while torch imported (in plan) ends the run before anything is drawn
    warn_threads(threads)
    progress = progress_bar()
    task = progress.add_task("starting" if ray is None else f"on Ray ({todo.ray})", total=todo.size)

    def on_start(model: str, b: int) -> None:
        signals.check()  # a signal swallowed while torch imported stops the run before the next model
        progress.update(task, description=escape(f"{model} batch {b}"))

    def on_row(row: dict) -> None:
        sink.on_row(row)
        progress.console.print(_line(row), markup=False)
        progress.advance(task)

    try:
        with progress, model_output_to_stderr():
            rows = run(todo, on_row=on_row, on_start=on_start)
    except Interrupted as stop:
        _show(stop.rows, json)
        console(stderr=True).print(f"interrupted: {len(stop.rows)} of {plural(todo.size, 'configuration')} measured"
                                   + (f", rows kept in {csv}" if csv and stop.rows else ""), markup=False)
        raise typer.Exit(interrupt_code()) from None
    except WriteFailed as e:
        _show(e.rows, json)  # what was measured is shown, then the one error line
        raise
    _show(rows, json)


def _ms(x) -> str:
    return "" if x is None else f"{x:.4g}"


def _line(row: dict) -> str:
    """One finished configuration, as the progress log shows it."""
    head = f"{row['model']} batch {row['batch']}" + (" train" if row["mode"] == "train" else "")
    if row["status"] != "ok":
        return f"{head}: {row['status']}: {row['error']}"
    return f"{head}: median {_ms(row['median_ms'])} ms (p10 {_ms(row['p10_ms'])}, p90 {_ms(row['p90_ms'])}, n={row['samples']})"


def _show(rows: list[dict], json: bool) -> None:
    """Rows as JSON, or as a table with the run's context underneath."""
    if json:
        typer.echo(io.to_json(rows))
        return

    cols = ["model", "batch"] + ["mode"] * any(r["mode"] != "infer" for r in rows)
    cols += ["res", "median", "p10", "p90", "IQR", "n", "img/s", "GFLOP/s"]
    cols += ["peak mem"] * any(r["peak_mem_bytes"] is not None for r in rows)
    cols += ["compile s"] * any(r["compile_s"] is not None for r in rows)
    cols += ["node"] * any(r.get("node") for r in rows)  # on Ray: the worker that timed the row
    lines = []
    for r in rows:
        cells = {"model": escape(r["model"]), "batch": str(r["batch"]), "mode": r["mode"],
                 "res": str(r["resolution"]),
                 "median": _ms(r["median_ms"]) if r["status"] == "ok" else r["status"].upper(),
                 "p10": _ms(r["p10_ms"]), "p90": _ms(r["p90_ms"]), "IQR": _ms(r["iqr_ms"]),
                 "n": str(r["samples"] or ""), "img/s": human(r["imgs_per_s"]) if r["imgs_per_s"] else "",
                 "GFLOP/s": f"{r['achieved_gflops']:.4g}" if r["achieved_gflops"] is not None else "",
                 "peak mem": human_bytes(r["peak_mem_bytes"]) if r["peak_mem_bytes"] is not None else "",
                 "compile s": f"{r['compile_s']:.2f}" if r["compile_s"] is not None else "",
                 "node": escape(r.get("node") or "")}
        lines.append(([cells[c] for c in cols], None))
    out = console()
    columns = [(c, c, "left" if c in ("model", "node") else "right") for c in cols]
    drop = ("n", "p10", "p90", "res", "IQR", "compile s", "peak mem")
    out.print(fitted(out, f"{plural(len(rows), 'configuration')} (latency in ms)", columns, lines, drop))
    for r in rows:
        if r["status"] != "ok":
            out.print(_line(r), markup=False)
        if r.get("same_as"):
            out.print(f"{r['model']}: the same network as {r['same_as']} at this input, timed once", markup=False)
    caution = trust.rows_warning(rows)
    if caution:
        out.print(caution, markup=False)
    if rows:
        out.print(_context_line(rows[0]))
    if any(r["dtype"] == "bf16" and r["device"] == "cpu" for r in rows) and cpu_has_native_bf16() is False:
        out.print(BF16_NOTE, style="yellow", markup=False)
    out.print("median, p10, p90 and IQR of per-iteration samples after warm-up; img/s from the median; "
              "GFLOP/s achieved = 2 FLOPs per analytic MAC (x3 in train) / median latency"
              + ("; peak mem on CPU: peak RSS growth + weights." if any(r["device"] == "cpu" for r in rows) else "."))
    if any(r.get("cpu_wait_ms") is not None for r in rows):
        out.print("a CPU sample is its wall time less the timing thread's waits for a core (cpu_wait_ms).")


def _context_line(r: dict) -> str:
    parts = [f"{r['device']}: {r['device_name']}", plural(r['threads'], 'thread'),
             r["dtype"] + (" channels-last" if r["channels_last"] else ""), f"torch {r['torch_version']}"]
    if r["cuda_version"]:
        parts += [f"CUDA {r['cuda_version']}", f"cuDNN {r['cudnn_version']}",
                  f"cudnn.benchmark {'on' if r['cudnn_benchmark'] else 'off'}",
                  f"TF32 conv {'on' if r['tf32'] else 'off'}, matmul {'on' if r['tf32_matmul'] else 'off'}"]
        if r["gpu_clock_mhz"]:
            parts.append(f"SM clock {r['gpu_clock_mhz']} MHz")
    if r["compile"]:
        parts.append("torch.compile")
    parts += [f"netprobe {r['netprobe_version']}", r["timestamp"]]
    return " · ".join(parts)
