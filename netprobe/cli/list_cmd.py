"""``netprobe list``: the zoo with analytic costs. Must stay torch-free and instant."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from netprobe.analysis import conventions
from netprobe.cli.app import app, handles_errors
from netprobe.cli.options import Convention, Csv, Families, Json, complete_models
from netprobe.cli.render import console, fitted, human
from netprobe.reports import io
from netprobe.reports.sink import csv_sink


@app.command("list")
@handles_errors
def list_models(
    pattern: Annotated[Optional[str], typer.Argument(
        help="Name, alias, wildcard ('regnety_*') or family; comma separated.", metavar="PATTERN",
        autocompletion=complete_models)] = None,
    family: Families = None,
    convention: Convention = "netprobe",
    json: Json = False,
    csv: Csv = None,
) -> None:
    """List registered models with params, MACs and activations (sorted by family, then MACs)."""
    from netprobe.reports.zoo import ZOO_COLUMNS, zoo_rows

    sink = csv_sink(csv, ZOO_COLUMNS)
    rows = zoo_rows(pattern, family, convention)
    if json:
        typer.echo(io.to_json(rows))
    else:
        _render(rows, convention)
    sink.write(rows)  # after the rows are shown, so a full disk loses nothing



def _render(rows: list[dict], convention: str) -> None:
    conv = conventions.convention(convention)
    columns = [("model", "model", "left"), ("family", "family", "left"), ("res", "res", "right"),
               ("params", "params", "right"), ("macs", conv.header, "right"), ("acts", "acts", "right")]
    lines = [([r["model"], r["family"], str(r["resolution"]), human(r["params"]), human(r["macs"]),
               human(r["acts"])], None) for r in rows]
    out = console()
    out.print(fitted(out, f"{len(rows)} models", columns, lines, drop=("family", "res")))
    if conv.name == "netprobe":
        out.print("MACs: multiply-accumulates (the papers' \"flops\"); acts: conv/linear/max-pool outputs at batch 1.")
    else:
        out.print(f"{conv.legend}; acts: netprobe's, at batch 1.")
