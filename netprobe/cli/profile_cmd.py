"""``netprobe profile``: per-stage time beside per-stage MACs and activations, on the machine's roofline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from netprobe.args import one_batch
from netprobe.cli.app import app, handles_errors, model_output_to_stderr
from netprobe.cli.options import (PLOT_FORMATS, Csv, Device, Dtype, Inputs, InputSize, Json, MinTime, Models,
                                  ModelsOption, OutputStride, Resolution, Threads, Warmup, check_early, model_names)
from netprobe.cli.render import BINARY_UNITS, console, fitted, human, human_bytes, plural
from netprobe.errors import NetprobeError
from netprobe.reports import io
from netprobe.reports.sink import csv_sink
from netprobe.timing import trust
from netprobe.timing.context import BF16_NOTE, cpu_has_native_bf16
from netprobe.models.inputs import parse

SUM_TOLERANCE_PCT = 10  # the stages' sum should be this close to the whole pass


@app.command("profile")
@handles_errors
def profile_model(
    models: Models = None,
    models_option: ModelsOption = None,
    device: Device = "cpu",
    batch: Annotated[str, typer.Option("--batch", "-b", help="Batch size (one: profile times one configuration).")] = "1",
    resolution: Resolution = None,
    input_size: InputSize = None,
    inputs: Inputs = None,
    output_stride: OutputStride = None,
    dtype: Dtype = "fp32",
    mode: Annotated[str, typer.Option("--mode", help="infer (forward) or train: each stage's forward and backward "
                                      "time beside its forward and backward MACs.")] = "infer",
    depth: Annotated[str, typer.Option("--depth", help="1: one row per stage (default); 2: per block, as "
                                       "summary's --depth 2.")] = "1",
    threads: Threads = None,
    warmup: Warmup = None,
    min_time: MinTime = None,
    json: Json = False,
    csv: Csv = None,
    remeasure_roof: Annotated[bool, typer.Option("--remeasure-roof",
                                                 help="Measure the roofline again, not from the cache.")] = False,
    plot: Annotated[Optional[Path], typer.Option("--plot", help=f"Draw the roofline, each stage a point, to this "
                                                 f"{PLOT_FORMATS} file (needs matplotlib).",
                                                 dir_okay=False)] = None,
) -> None:
    """Where the time goes: each stage's median ms, % of time beside % of MACs and activations, and its roof."""
    names = model_names(models, models_option, "profile")
    if plot is not None and len(names) > 1:
        raise NetprobeError(f"--plot draws one model's roofline, got {len(names)} models; give one model per plot")
    check_early(names, device, one_batch(batch, "profile", "times"), dtype)  # before torch loads: a typo fails at once
    given = parse(input_size, inputs)  # a bad input description too
    from netprobe.timing.profile import PROFILE_COLUMNS, profile

    sink = csv_sink(csv, PROFILE_COLUMNS)
    if plot is not None:
        from netprobe.reports.plot import check_path  # only when a plot is asked for

        check_path(plot)

    results = []
    for i, model in enumerate(names):
        with console(stderr=True).status(escape(f"profiling {model}"), refresh_per_second=2), \
                model_output_to_stderr():
            result = profile(model, device=device, batch=batch, resolution=resolution, inputs=given,
                             output_stride=output_stride, dtype=dtype, mode=mode, depth=depth, threads=threads,
                             warmup=warmup, min_time=min_time, remeasure_roof=remeasure_roof)
        results.append(result)
        if not json:
            if i:
                console().print()  # a blank line between one model's table and the next's
            _show(result)
    if json:  # one model: its object as ever; several: a list of them
        objects = [r.to_json() for r in results]
        typer.echo(io.to_json(objects[0] if len(objects) == 1 else objects))
    # the files after the rows are shown, so a full disk loses nothing; each is replaced whole or left as it was
    sink.write([row for r in results for row in r.records()])  # the rows name their model
    if plot is not None:
        from netprobe.reports.roofline_plot import plot_roofline

        plot_roofline(results[0], plot)


def _num(x, digits: int = 3) -> str:
    return "" if x is None else f"{x:.{digits}g}"


def _count(x) -> str:
    return "-" if x is None else human(x)


def _phase_lines(result) -> list[str]:
    """The step's forward and backward beside the sums of the stages' (how close), and what train counts."""
    (fwd, bwd), parts = result.phase_sums_ms(), []
    for what, whole, summed in (("forward", result.forward_ms, fwd), ("backward", result.backward_ms, bwd)):
        off = f"{100 * (summed / whole - 1):+.1f}%" if whole else "-"
        parts.append(f"{what} {_num(whole, 4)} ms, stages sum {_num(summed, 4)} ms ({off})")
    counted = any(u.backward_macs is not None for u in result.units)
    flops = "2 x (MACs + bwd MACs: input and weight gradients)" if counted else "x3 (bwd MACs not counted)"
    return ["; ".join(parts), f"train: FLOPs {flops}, bytes x3; the loss is in the last stage (docs/train.md)"]


PROFILE_TABLE = ["stage", "ms", "time%", "MAC%", "act%", "GFLOP/s", "bytes", "FLOP/B", "bound", "roof%"]
PROFILE_DROPS = ("act%", "bytes", "FLOP/B", "roof%")  # first to go as the terminal narrows
# training: the forward and backward of each stage (their sum is ms), beside its forward and backward MACs
TRAIN_TABLE = ["stage", "fwd ms", "bwd ms", "MACs", "bwd MACs", "time%", "MAC%", "act%", "GFLOP/s", "bytes",
               "FLOP/B", "bound", "roof%"]
TRAIN_DROPS = PROFILE_DROPS + ("MAC%", "act%")


def _show(result) -> None:
    roof = result.roof
    title = (f"{escape(result.model)} {result.mode}, batch {result.batch}, {result.resolution} px, "
             f"{result.dtype} on {result.device}")
    train = result.mode == "train"
    columns = [(c, c, "left" if c in ("stage", "bound") else "right") for c in (TRAIN_TABLE if train else PROFILE_TABLE)]
    lines = []
    for unit in result.units:
        m = result.metrics(unit)
        timing = [_num(m["forward_ms"]), _num(m["backward_ms"]), human(m["macs"]), _count(m["backward_macs"])] \
            if train else [_num(m["median_ms"])]
        lines.append(([escape(m["name"]), *timing, f"{m['time_pct']:.1f}", f"{m['macs_pct']:.1f}",
                       f"{m['acts_pct']:.1f}", _num(m["achieved_gflops"]), human_bytes(m["bytes"]), _num(m["intensity"]),
                       m["bound"] or "", f"{m['roof_pct']:.0f}" if m["roof_pct"] is not None else ""], None))
    out = console()
    out.print(fitted(out, title, columns, lines, TRAIN_DROPS if train else PROFILE_DROPS))
    diff = 100 * (result.stage_sum_ms / result.median_ms - 1)
    lines = [
        f"whole {'step' if train else 'pass'} {_num(result.median_ms, 4)} ms (median of {len(result.whole_ms)}), "
        f"{_num(result.intensity)} FLOP/B; stages sum {_num(result.stage_sum_ms, 4)} ms ({diff:+.1f}%)",
        f"timing: {result.method}",
        f"roof: {_num(roof.peak_gflops, 4)} GFLOP/s matmul, {_num(roof.bandwidth_gbs, 4)} GB/s copy, ridge "
        f"{roof.ridge:.3g} FLOP/B; {result.roof_source}, measured {roof.measured_at} at load average "
        f"{_num(roof.load_avg, 2)} on {roof.cpus} CPUs, {plural(roof.threads, 'thread')}",
        f"2 FLOP/MAC; bytes: inputs + outputs + weights (dtype; {BINARY_UNITS}); roof%: of its bound",
        " · ".join([result.context.get("device_name") or result.device, plural(result.threads, "thread"),
                    f"torch {result.context.get('torch_version')}"]
                   + ([f"peak mem {human_bytes(result.peak_mem_bytes)}"] if result.peak_mem_bytes is not None else [])),
    ]
    if train:
        lines[1:1] = _phase_lines(result)
    caution = trust.warning([(f"{result.model} whole pass", result.verdict)])
    if abs(diff) > SUM_TOLERANCE_PCT:  # the why and what to do are the warning's, when there is one
        lines.insert(1, f"the sum is off by more than {SUM_TOLERANCE_PCT}%"
                        + ("; see the warning below" if caution else "; rerun with a longer --min-time"))
    if caution:
        lines.append(caution)
    for line in lines:
        out.print(line, markup=False)
    if result.dtype == "bf16" and result.device == "cpu" and cpu_has_native_bf16() is False:
        out.print(BF16_NOTE, style="yellow", markup=False)
