"""``netprobe summary MODEL``: the layer table, stage subtotals and layer output bytes."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from netprobe.cli.app import app, handles_errors
from netprobe.cli.options import Csv, InputSize, Json, Resolution

Batch = Annotated[int, typer.Option("--batch", "-b", help="Batch size for MACs, acts and output bytes.")]
Depth = Annotated[Optional[int], typer.Option(
    "--depth", "-d", help="1: stages only, 2: blocks, N: modules of N name parts; default: every layer.")]
Dtype = Annotated[str, typer.Option(
    "--dtype", help="Element type for output bytes: fp32, fp16, bf16, fp64, int8.")]
Counter = Annotated[str, typer.Option(
    "--counter", help="'all': also run fvcore and ptflops and show where they differ.")]
Model = Annotated[str, typer.Argument(
    help="Registered name or alias, FAMILY@BUDGET, package.module:factory, timm:NAME or torchvision:NAME.")]


@app.command("summary")
@handles_errors
def summary_command(
    model: Model,
    resolution: Resolution = None,
    input_size: InputSize = None,
    batch: Batch = 1,
    depth: Depth = None,
    dtype: Dtype = "fp32",
    counter: Counter = "netprobe",
    json: Json = False,
    csv: Csv = None,
) -> None:
    """Per-layer and per-stage params, MACs, activations and layer output bytes of a network."""
    from netprobe.analysis.summary import summary
    from netprobe.errors import NetprobeError
    from netprobe.reports import io

    if counter not in ("netprobe", "all"):
        raise NetprobeError(f"unknown --counter '{counter}'; choose netprobe or all")
    if depth is not None and depth < 0:
        raise NetprobeError(f"--depth must be 0 or more (1 stages, 2 blocks), got {depth}")
    if csv:
        io.check_writable(csv)
    s = summary(model, resolution, batch, dtype, input_size=input_size)
    for note in s.notes:
        from netprobe.cli.render import console

        console(stderr=True).print(f"note: {note}", markup=False)
    comparison = None
    if counter == "all":
        from netprobe.analysis.peers import compare

        comparison = compare(model, s)
    if csv:
        _write_csv(csv, s.records(depth))
    if json:
        obj = s.to_dict(depth)
        if comparison:
            obj["counters"] = _counters_dict(comparison)
        typer.echo(io.to_json(obj))
        return
    _render(s, depth, comparison)


def _write_csv(path, records: list[dict]) -> None:
    import pandas as pd

    from netprobe.analysis.summary import ROWS

    frame = pd.DataFrame(records, columns=ROWS)
    frame["output_shape"] = ["x".join(map(str, shape)) for shape in frame["output_shape"]]
    frame.to_csv(path, index=False)


def _counters_dict(c) -> dict:
    return {"tools": [{"name": t.name, "params": t.params, "macs": t.macs, "by_kind": t.by_kind,
                       "error": t.error or None} for t in c.tools],
            "bias_macs": c.bias_macs, "notes": c.notes}


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if shape else "-"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def _render(s, depth, comparison) -> None:
    from rich.table import Table

    from netprobe.analysis.summary import OUTPUT_BYTES_RULE
    from netprobe.cli.render import console, human, human_bytes
    from netprobe.counts import CONVENTION

    out = console()
    t = s.totals
    family = f" ({s.family})" if s.family else ""
    c, h, w = s.input_size
    size = f"{h}x{w}" + (f"x{c}ch" if c != 3 else "")
    table = Table(title=f"{s.model}{family} at {size}, batch {s.batch}", title_justify="left")
    for col in ("name", "kind", "ch", "output"):
        table.add_column(col, justify="left", no_wrap=True)
    for col in ("params", "%", "MACs", "%", "acts", "%"):
        table.add_column(col, justify="right", no_wrap=True)

    def cells(c):
        return (human(c.params), _pct(c.params, t.params), human(c.macs), _pct(c.macs, t.macs),
                human(c.acts), _pct(c.acts, t.acts))

    rows = s.rows(depth) if depth != 1 else []
    for st in s.stages:
        label = f"stage, os {st.output_stride}" if st.output_stride else "stage"
        if st.modules:
            label += f" ({st.modules})"
        table.add_row(st.name, label, "", _shape(st.output_shape), *cells(st.counts), style="bold")
        for r in rows:
            if r.stage == st.name:
                ch = f"{r.w_in}→{r.w_out}" if r.w_out else ""
                table.add_row(f"  {r.name}", r.kind, ch, _shape(r.output_shape), *cells(r.counts))
    table.add_section()
    table.add_row("total", f"{len(s.layers)} layers", "", "", *cells(t), style="bold")
    out.print(table)
    if s.unsupported:
        seen = ", ".join(f"{name} x{n}" for name, n in sorted(s.unsupported.items(), key=lambda kv: -kv[1]))
        out.print(f"not counted (ops that do arithmetic netprobe has no formula for): {seen}", style="yellow",
                  markup=False)
    out.print(CONVENTION + (f"; macs and acts here at batch {s.batch}" if s.batch != 1 else ""))
    out.print(_bytes_table(s, human_bytes))
    out.print(OUTPUT_BYTES_RULE)
    if comparison:
        out.print(_counter_table(comparison, human))


def _bytes_table(s, human_bytes):
    from rich.table import Table

    table = Table(title=f"layer output bytes per stage ({s.dtype}, batch {s.batch})", title_justify="left")
    for col, justify in (("stage", "left"), ("output", "left"), ("os", "right"), ("output bytes", "right"),
                         ("%", "right"), ("largest tensor", "right"), ("in layer", "left")):
        table.add_column(col, justify=justify, no_wrap=col != "in layer")
    for st in s.stages:
        table.add_row(st.name, _shape(st.output_shape), str(st.output_stride or "-"), human_bytes(st.output_bytes),
                      _pct(st.output_bytes, s.output_bytes), human_bytes(st.largest_output_bytes), st.largest_output_layer)
    table.add_section()
    table.add_row("total", "", "", human_bytes(s.output_bytes), "", "", "", style="bold")
    return table


def _counter_table(c, human):
    from rich.table import Table

    from netprobe.analysis.peers import KIND_LABELS, KINDS

    table = Table(title="netprobe vs fvcore vs ptflops (MACs, batch 1; fvcore's 'flops' are MACs)",
                  title_justify="left")
    table.add_column("op kind", no_wrap=True)
    for tool in c.tools:
        table.add_column(tool.name, justify="right", no_wrap=True)
    table.add_column("where they differ")
    for kind in KINDS:
        values = [tool.by_kind.get(kind, 0) for tool in c.tools]
        if any(values) or c.notes.get(kind):
            table.add_row(KIND_LABELS[kind], *(human(v) if not tool.error else "-" for v, tool in zip(values, c.tools)),
                          "; ".join(c.notes.get(kind, [])))
    table.add_section()
    table.add_row("MACs total", *(human(tool.macs) if tool.macs is not None else "failed" for tool in c.tools), "",
                  style="bold")
    table.add_row("params", *(human(tool.params) if tool.params is not None else "-" for tool in c.tools), "")
    failed = [f"{tool.name} failed: {tool.error}" for tool in c.tools if tool.error]
    if failed:
        table.caption = "; ".join(failed)
    return table
