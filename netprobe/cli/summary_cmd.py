"""``netprobe summary MODEL``: the layer table, stage subtotals and layer output bytes."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from netprobe.analysis.blocks import GROUP_LABEL_CHARS, short_kind
from netprobe.analysis.conventions import CONVENTIONS, KIND_LABELS, KINDS, explain
from netprobe.analysis.train_memory import parse_optimizer
from netprobe.analysis.train_summary import parse_mode
from netprobe.args import one_batch
from netprobe.bytesize import parse_bytes
from netprobe.cli.app import app, handles_errors, model_output_to_stderr
from netprobe.cli.options import (Convention, Csv, Inputs, InputSize, Json, Models, ModelsOption, OutputStride,
                                  Resolution, model_names)
from netprobe.cli.summary_train import train_lines
from netprobe.cli.render import BINARY_UNITS, console, fitted, human, human_bytes, status
from netprobe.counts import CONVENTION
from netprobe.models.inputs import parse

Batch = Annotated[str, typer.Option("--batch", "-b", help="Batch size for MACs, acts and output bytes (one: a sweep "
                                    "is bench's).")]
Depth = Annotated[Optional[int], typer.Option(
    "--depth", help="1: stages, 2: blocks, N: modules of N name parts, 0: every layer. "
    "Default: 2 in the table, every layer in --json and --csv.")]
Layers = Annotated[bool, typer.Option("--layers", help="Every layer in the table (the same as --depth 0).")]
Flops = Annotated[bool, typer.Option(
    "--flops", help="Show FLOPs (2 x MACs: a multiply and an add) in the table instead of MACs.")]
Dtype = Annotated[str, typer.Option(
    "--dtype", help="Element type for output bytes: fp32, fp16 or bf16.")]
Counter = Annotated[str, typer.Option(
    "--counter", help="'all': every convention's MACs side by side, split by kind of op (computed, no other tool run).")]
Verify = Annotated[bool, typer.Option(
    "--verify", help="Also run the real fvcore, ptflops and FlopCounterMode and report any mismatch with netprobe's numbers.")]
SummaryMode = Annotated[str, typer.Option(
    "--mode", help="infer (the forward) or train: also the backward's MACs and the training step's predicted "
    "peak memory (docs/train.md).")]
Optimizer = Annotated[Optional[str], typer.Option(
    "--optimizer", help="With --mode train: sgd, sgd-momentum or adamw (default sgd-momentum, what bench "
    "--mode train steps).")]
FitBudget = Annotated[Optional[str], typer.Option(
    "--fit", help="With --mode train: the largest batch whose predicted peak fits this memory, e.g. 16GiB, 8GB.")]


@app.command("summary")
@handles_errors
def summary_command(
    models: Models = None,
    models_option: ModelsOption = None,
    resolution: Resolution = None,
    input_size: InputSize = None,
    inputs: Inputs = None,
    batch: Batch = "1",
    depth: Depth = None,
    layers: Layers = False,
    flops: Flops = False,
    dtype: Dtype = "fp32",
    counter: Counter = "netprobe",
    convention: Convention = "netprobe",
    verify: Verify = False,
    json: Json = False,
    csv: Csv = None,
    output_stride: OutputStride = None,
    mode: SummaryMode = "infer",
    optimizer: Optimizer = None,
    fit_budget: FitBudget = None,
) -> None:
    """Per-layer and per-stage params, MACs, activations and layer output bytes of a network."""
    given = parse(input_size, inputs)  # before torch loads: a bad description is one line at once
    train = _train_options(mode, optimizer, fit_budget, output_stride)  # before torch loads too
    from netprobe.analysis.summary import summary
    from netprobe.analysis.train_summary import train_summary
    from netprobe.errors import NetprobeError
    from netprobe.reports import io

    names = model_names(models, models_option, "summary")
    if csv and len(names) > 1:
        raise NetprobeError(f"--csv holds one model's rows (its columns name no model), got {len(names)} models; "
                            "give one model per CSV, or --json for several")
    batch = one_batch(batch, "summary")
    if counter not in ("netprobe", "all"):
        raise NetprobeError(f"unknown --counter '{counter}'; choose netprobe or all")
    if depth is not None and depth < 0:
        raise NetprobeError(f"--depth must be 0 or more (1 stages, 2 blocks), got {depth}")
    if layers and depth not in (None, 0):
        raise NetprobeError(f"--layers is --depth 0; give one of --layers and --depth {depth}")
    if layers:
        depth = 0
    if flops and convention != "netprobe":
        raise NetprobeError(f"--flops shows netprobe's MACs as FLOPs; --convention {convention} shows its own unit, "
                            "leave one out")
    from netprobe.analysis.summary import ROWS
    from netprobe.analysis.train_summary import TRAIN_ROWS
    from netprobe.reports.sink import csv_sink

    sink = csv_sink(csv, ROWS if train is None else TRAIN_ROWS)
    objects = []
    for i, model in enumerate(names):
        with model_output_to_stderr():
            s = summary(model, resolution, batch, dtype, inputs=given, output_stride=output_stride,
                        convention=convention)
            step = None if train is None else train_summary(s, model, train[0], train[1], resolution, given)
        for note in s.notes:
            console(stderr=True).print(f"note: {note}", markup=False)
        explanation = explain(s.layers) if counter == "all" else None
        checks = _verify(model, output_stride, s, json) if verify else None
        if json:
            objects.append(_object(s if step is None else step, depth, explanation, checks))
        else:
            from netprobe.analysis.footprint import footprint

            if i:
                console().print()  # a blank line between one model's tables and the next's
            _render(s, TABLE_DEPTH if depth is None else depth, explanation, checks, footprint(s), flops, step)
    if json:  # one model: its object as ever; several: a list of them
        typer.echo(io.to_json(objects[0] if len(objects) == 1 else objects))
    if csv:  # one model (checked above), after its table or JSON is shown, so a full disk loses nothing
        records = (s if step is None else step).records(depth)  # in mode train: each row's backward too
        sink.write(records, frame=_frame(records, sink.columns))


def _verify(model: str, output_stride, s, json: bool):
    """The real tools' totals beside netprobe's derivation for one counted model."""
    from netprobe.analysis.peers import verify as run_tools
    from netprobe.models.resolve import resolve

    with status(f"--verify: running fvcore, ptflops and FlopCounterMode on {model}", json), \
            model_output_to_stderr():  # fvcore and ptflops print as they count too
        return run_tools(resolve(model, output_stride), s)  # the model summary counted, dilated too


def _object(s, depth, explanation, checks) -> dict:
    """One model's JSON object: its summary (or training step), with the counters and tool checks asked for."""
    obj = s.to_dict(depth)
    if explanation:
        obj["counters"] = {"totals": explanation.totals, "by_kind": explanation.by_kind, "facts": explanation.facts,
                           "notes": list(explanation.notes)}
    if checks is not None:
        obj["verify"] = [{"convention": c.convention, "derived": c.derived, "measured": c.measured,
                          "exact": c.exact, "error": c.error or None} for c in checks]
    return obj


def _train_options(mode, optimizer, budget, output_stride):
    """(optimizer, budget bytes) for --mode train, None for infer; a wrong combination is one error line."""
    from netprobe.errors import NetprobeError

    if parse_mode(mode) == "infer":
        for flag, given in (("--optimizer", optimizer), ("--fit", budget)):
            if given is not None:
                raise NetprobeError(f"{flag} is about the training step; add --mode train")
        return None
    if output_stride is not None:
        raise NetprobeError("--mode train counts a model at its own output stride; leave out --output-stride")
    return parse_optimizer(optimizer), None if budget is None else parse_bytes(budget)


def _frame(records: list[dict], columns: list[str]):
    """The CSV's rows as pandas formats them, shapes written as CxHxW."""
    import pandas as pd

    frame = pd.DataFrame(records, columns=columns)
    frame["output_shape"] = ["x".join(map(str, shape)) for shape in frame["output_shape"]]
    return frame


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if shape else "-"


def _input_text(s) -> str:
    """The title's input: HxW for a 3-channel image as before, else the description (3x16x112x112, 3x64x64,12)."""
    from netprobe.models.inputs import text

    shape = s.input_size
    if len(shape) == 3 and text(s.inputs) == "x".join(map(str, shape)):
        c, h, w = shape
        return f"{h}x{w}" + (f"x{c}ch" if c != 3 else "")
    return text(s.inputs)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


TABLE_DEPTH = 2  # stages and blocks: what a reader wants first; --layers for every layer
SUMMARY_COLUMNS = [  # (key, header, justify)
    ("name", "name", "left"), ("kind", "kind", "left"), ("ch", "ch", "left"), ("output", "output", "left"),
    ("params", "params", "right"), ("params%", "%", "right"), ("macs", "MACs", "right"), ("macs%", "%", "right"),
    ("acts", "acts", "right"), ("acts%", "%", "right"),
]
OTHER_COLUMNS_WIDTH = 90  # about what the summary table's columns but kind take
SUMMARY_DROPS = ("acts%", "params%", "ch", "output", "kind")  # first to go as the terminal narrows
BYTES_COLUMNS = [
    ("stage", "stage", "left"), ("output", "output", "left"), ("os", "os", "right"),
    ("bytes", "output bytes", "right"), ("%", "%", "right"), ("largest", "largest tensor", "right"),
    ("layer", "in layer", "left"),
]
BYTES_DROPS = ("layer", "os", "output", "%")


def _render(s, depth, explanation, checks, fp, flops: bool, step=None) -> None:
    from netprobe.analysis.summary import OUTPUT_BYTES_RULE

    out = console()
    t = s.totals
    family = f" ({s.family})" if s.family else ""
    size = _input_text(s)
    per_mac = 2 if flops else 1  # FLOPs count a multiply and an add

    def cells(c, name=None, stage=False):  # a stage's backward is its own: its layers need not be named under it
        backward = []
        if step is not None:
            of = step.stage_backward if stage else step.backward_of
            backward = [human(per_mac * (step.counts.backward if name is None else of(name)))]
        return [human(c.params), _pct(c.params, t.params), human(per_mac * c.macs), _pct(c.macs, t.macs),
                *backward, human(c.acts), _pct(c.acts, t.acts)]

    rows = s.rows(depth) if depth != 1 else []
    kind_chars = max(GROUP_LABEL_CHARS, out.width - OTHER_COLUMNS_WIDTH)  # a wide terminal shows whole labels
    lines = []
    for st in s.stages:
        label = f"stage, os {st.output_stride}" if st.output_stride else "stage"
        if st.grid.endswith("tokens"):
            label += f", {st.grid}"  # a map's grid is in its shape; tokens have none there
        if st.modules:
            label += f" ({st.modules})"
        lines.append(([st.name, label, "", _shape(st.output_shape), *cells(st.counts, st.name, True)], "bold"))
        for r in rows:
            if r.stage == st.name:
                ch = f"{r.w_in}→{r.w_out}" if r.w_out else ""
                lines.append(([f"  {r.name}", short_kind(r.kind, kind_chars), ch, _shape(r.output_shape), *cells(r.counts, r.name)], None))
    lines.append((["total", f"{len(s.layers)} layers", "", "", *cells(t)], "bold"))
    title = f"{s.model}{family} at {size}, batch {s.batch}"
    macs_header = "FLOPs" if flops else CONVENTIONS[s.convention].header
    columns = [(k, macs_header if k == "macs" else h, j) for k, h, j in SUMMARY_COLUMNS]
    if step is not None:
        at = [k for k, _, _ in columns].index("macs%") + 1
        columns.insert(at, ("backward", "backward", "right"))
    out.print(fitted(out, title, columns, lines, SUMMARY_DROPS, sections=(len(lines) - 1,)))
    out.print(f"params: {human(fp.trainable)} trainable, {human(fp.frozen)} frozen; "
              f"params size {human_bytes(fp.params_bytes)}; layer outputs {human_bytes(fp.output_bytes)} "
              f"({s.dtype}, batch {s.batch}; {BINARY_UNITS})", markup=False)
    if step is not None:
        for line in train_lines(step, per_mac, macs_header):
            out.print(line, markup=False)
    if flops:
        out.print(f"FLOPs = 2 x MACs (a multiply and an add); total {human(2 * t.macs)} FLOPs = {human(t.macs)} MACs",
                  markup=False)
    if s.unsupported:
        seen = ", ".join(f"{name} x{n}" for name, n in sorted(s.unsupported.items(), key=lambda kv: -kv[1]))
        out.print(f"not counted (ops that do arithmetic netprobe has no formula for): {seen}", style="yellow",
                  markup=False)
    rule = CONVENTION if s.convention == "netprobe" else CONVENTIONS[s.convention].legend
    out.print(rule + (f"; macs and acts here at batch {s.batch}" if s.batch != 1 else ""))
    lines = [([st.name, _shape(st.output_shape), str(st.output_stride or "-"), human_bytes(st.output_bytes),
               _pct(st.output_bytes, s.output_bytes), human_bytes(st.largest_output_bytes),
               st.largest_output_layer], None) for st in s.stages]
    lines.append((["total", "", "", human_bytes(s.output_bytes), "", "", ""], "bold"))
    title = f"layer output bytes per stage ({s.dtype}, batch {s.batch})"
    out.print(fitted(out, title, BYTES_COLUMNS, lines, BYTES_DROPS, sections=(len(lines) - 1,)))
    out.print(OUTPUT_BYTES_RULE)
    if explanation:
        out.print(_counter_table(out, explanation, human))
        out.print(COUNTER_CAPTION, markup=False)
        for note in explanation.notes:
            out.print(f"- {note}", markup=False)
    if checks is not None:
        for line in _check_lines(checks):
            out.print(line, markup=False)


COUNTER_CAPTION = ("fvcore's 'flops' and ptflops' numbers are MACs; torch's are FLOPs, 2 per MAC. "
                   "What each counts per op: docs/conventions.md")


def _counter_table(out, e, human):
    """Each convention's total, and per kind of op what each counts: the differences add up to the unit."""
    columns = [("kind", "op kind", "left")] + [(name, CONVENTIONS[name].header, "right") for name in CONVENTIONS]
    lines = []
    for kind in KINDS:
        values = [e.by_kind[name][kind] for name in CONVENTIONS]
        if any(values):
            lines.append(([KIND_LABELS[kind], *(f"{v:,}" for v in values)], None))
    sections = (len(lines),)
    lines.append((["total", *(f"{e.totals[name]:,}" for name in CONVENTIONS)], "bold"))
    lines.append((["", *(human(e.totals[name]) for name in CONVENTIONS)], None))
    return fitted(out, "each counter's number, by kind of op (batch 1, computed by netprobe)", columns, lines,
                  sections=sections)


def _check_lines(checks) -> list[str]:
    """One line per real tool run: equal to netprobe's derivation, or by how much it is not."""
    lines = []
    for c in checks:
        if c.error:
            lines.append(f"verify {c.convention}: the tool failed ({c.error}); netprobe's derivation: {c.derived:,}")
        elif c.exact:
            lines.append(f"verify {c.convention}: {c.measured:,} = netprobe's derivation, exactly")
        else:
            lines.append(f"verify {c.convention}: MISMATCH: the tool returned {c.measured:,}, netprobe derived "
                         f"{c.derived:,} ({c.measured - c.derived:+,})")
    return lines
