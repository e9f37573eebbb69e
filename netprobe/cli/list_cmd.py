"""``netprobe list``: the zoo with analytic costs. Must stay torch-free and instant."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from netprobe.cli.app import app, handles_errors
from netprobe.cli.options import Convention, Csv, Json


@app.command("list")
@handles_errors
def list_models(
    pattern: Annotated[Optional[str], typer.Argument(help="Name, alias, wildcard ('regnety_*') or family; comma separated.")] = None,
    family: Annotated[Optional[str], typer.Option("--family", "-f", help="Only this family.")] = None,
    convention: Convention = "netprobe",
    json: Json = False,
    csv: Csv = None,
) -> None:
    """List registered models with params, MACs and activations (sorted by family, then MACs)."""
    from netprobe.reports import io
    from netprobe.reports.zoo import ZOO_COLUMNS, zoo_rows

    if csv:
        io.check_writable(csv)
    rows = zoo_rows(pattern, family, convention)
    if csv:
        io.write_csv(csv, rows, ZOO_COLUMNS)
    if json:
        typer.echo(io.to_json(rows))
        return
    from rich.table import Table

    from netprobe.analysis.conventions import convention as find
    from netprobe.cli.render import console, human

    conv = find(convention)

    table = Table(title=f"{len(rows)} models", title_justify="left")
    for col, justify in (("model", "left"), ("family", "left"), ("res", "right"), ("params", "right"),
                         (conv.header, "right"), ("acts", "right")):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(r["model"], r["family"], str(r["resolution"]), human(r["params"]), human(r["macs"]), human(r["acts"]))
    out = console()
    out.print(table)
    if conv.name == "netprobe":
        out.print("MACs: multiply-accumulates (the papers' \"flops\"); acts: conv/linear/max-pool outputs at batch 1.")
    else:
        out.print(f"{conv.legend}; acts: netprobe's, at batch 1.")
