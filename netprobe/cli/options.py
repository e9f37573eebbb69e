"""Options shared by several commands, as Annotated aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Csv = Annotated[Optional[Path], typer.Option("--csv", help="Also write the rows to this CSV file.", dir_okay=False)]
Resolution = Annotated[Optional[int], typer.Option("--resolution", "-r", help="Input size in pixels (default: the model's native one).")]
InputSize = Annotated[Optional[str], typer.Option(
    "--input-size", help="Input as CxHxW (1x224x320) or HxW, instead of a square --resolution.")]

# The timing options: `bench` and `compare --bench` take them with the same names and help.
Device = Annotated[Optional[str], typer.Option("--device", "-d", help="cpu, cuda or cuda:N.")]
BATCH_HELP = "Batch size, or a comma-separated sweep such as 1,8,64."
Dtype = Annotated[Optional[str], typer.Option("--dtype", help="fp32, fp16 (CUDA autocast) or bf16 (autocast).")]
ChannelsLast = Annotated[bool, typer.Option("--channels-last", help="Model and input in channels-last memory format.")]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile each model; compile time is reported apart.")]
Threads = Annotated[Optional[int], typer.Option("--threads", help="CPU threads (default: torch's current count).")]
Warmup = Annotated[Optional[str], typer.Option("--warmup", help="Iterations (10), seconds (0.5 or 2s), or 'steady' (default).")]
MinTime = Annotated[Optional[float], typer.Option("--min-time", help="Seconds of samples per configuration (default: 1).")]
Convention = Annotated[str, typer.Option(
    "--convention", help="Whose MACs: netprobe (default), fvcore, ptflops or torch (FLOPs = 2 x MACs); "
    "see docs/conventions.md.")]
