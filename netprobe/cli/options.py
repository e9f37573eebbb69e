"""Options shared by several commands, as Annotated aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Csv = Annotated[Optional[Path], typer.Option("--csv", help="Also write the rows to this CSV file.", dir_okay=False)]
Resolution = Annotated[Optional[int], typer.Option("--resolution", "-r", help="Input size in pixels (default: the model's native one).")]
