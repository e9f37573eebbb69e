"""Options shared by several commands, as Annotated aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from netprobe import registry
from netprobe.args import parse_batches
from netprobe.cli.render import console
from netprobe.errors import NetprobeError
from netprobe.reports.plot import FORMATS
from netprobe.timing import engine, trust
from netprobe.timing.context import device_syntax, parse_dtype


def complete_models(incomplete: str) -> list[str]:
    """Shell completion of a model: zoo names and family names that start with what was typed (torch-free)."""
    head, _, last = incomplete.rpartition(",")  # completes the last item of a comma list
    prefix = head + "," if head else ""
    return [prefix + n for n in [*registry.names(), *registry.families()] if n.startswith(last.lower())]


def complete_families(incomplete: str) -> list[str]:
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    return [prefix + f for f in registry.families() if f.startswith(last.lower())]


def complete_devices(incomplete: str) -> list[str]:
    return [d for d in ("cpu", "cuda", "cuda:0", "cuda:1") if d.startswith(incomplete.lower())]


MODELS_HELP = ("Names, aliases, wildcards, families, FAMILY@BUDGET, package.module:factory, timm:NAME or "
               "torchvision:NAME; comma or space separated.")
Models = Annotated[Optional[list[str]], typer.Argument(
    help=MODELS_HELP, metavar="MODELS", show_default=False, autocompletion=complete_models)]
ModelsOption = Annotated[Optional[str], typer.Option(
    "--models", "-m", help="The same as MODELS (either may be given).", metavar="MODELS",
    autocompletion=complete_models)]


def model_names(given: list[str] | None, option: str | None, command: str = "bench") -> list[str]:
    """The models of MODELS and --models together, each item split at commas and spaces."""
    names = [n for item in [*(given or []), option or ""] for n in item.replace(",", " ").split()]
    if not names:
        example = "resnet18" if command != "bench" else "resnet18 regnetx_004"
        raise NetprobeError(f"no model given; e.g. 'netprobe {command} {example}' (see 'netprobe {command} --help' "
                            "and 'netprobe list')")
    return names


def check_early(models: list[str], device: str | None = None, batch=None, dtype: str | None = None) -> None:
    """What bench and profile can check before torch loads: zoo names, the device's spelling, batches, dtype."""
    for name in models:
        if ":" in name:
            continue  # a factory or hub model: only importing it can tell
        if "@" in name:
            registry.spec(name)  # the family and the budget
        else:
            registry.resolve(name)
    kind = device_syntax(device)[0] if device is not None else "cuda"
    if batch is not None:
        parse_batches(batch)
    if dtype is not None:
        parse_dtype(dtype, kind)

PLOT_FORMATS = ", ".join(FORMATS[:-1]) + " or " + FORMATS[-1]  # what --plot draws, in compare and profile alike
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
# One --csv rule: bench appends, the others replace; none writes over a file of other columns.
Csv = Annotated[Optional[Path], typer.Option(
    "--csv", help="Also write the rows to this CSV file, replacing it whole (never a file of other columns).",
    dir_okay=False)]
CsvAppend = Annotated[Optional[Path], typer.Option(
    "--csv", help="Append each row to this CSV file as it is measured (created if missing; never a file of "
    "other columns).", dir_okay=False)]
Families = Annotated[Optional[str], typer.Option(
    "--families", "--family", "-f", help="Only these families, comma separated (regnetx,regnety).",
    metavar="FAMILIES", autocompletion=complete_families)]
OutputStride = Annotated[Optional[int], typer.Option(
    "--output-stride", help="Dilate a ResNet-like zoo model to output stride 8 or 16 (torchvision's replace_stride_with_dilation).")]
Resolution = Annotated[Optional[int], typer.Option("--resolution", "-r", help="Input size in pixels (default: the model's native one).")]
InputSize = Annotated[Optional[str], typer.Option(
    "--input-size", help="Inputs without the batch, comma separated, each of any rank with an optional dtype: "
    "3x224x224, 3x16x112x112, 3x64x64,12, int64:128, bool:1x32x32 (HxW: one 3-channel image).")]
Inputs = Annotated[Optional[str], typer.Option(
    "--inputs", help="package.module:make_inputs, a callable returning a tensor, a tuple of args or (args, kwargs); "
    "called with the batch size if it takes one.")]

# The timing options: `bench` and `compare --bench` take them with the same names and help.
Device = Annotated[Optional[str], typer.Option("--device", "-d", help="cpu, cuda or cuda:N.",
                                              autocompletion=complete_devices)]
BATCH_HELP = "Batch size, or a comma-separated sweep such as 1,8,64."
Dtype = Annotated[Optional[str], typer.Option("--dtype", help="fp32, fp16 (CUDA autocast) or bf16 (autocast).")]
ChannelsLast = Annotated[bool, typer.Option("--channels-last", help="Model and input in channels-last memory format.")]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile each model; compile time is reported apart.")]
def warn_threads(threads: int | None) -> None:
    """One line on stderr when more threads are asked for than this process has usable CPUs (``trust.cpus``)."""
    cores = trust.cpus()
    if threads and threads > cores:
        console(stderr=True).print(f"warning: --threads {threads} is more than the {cores} CPUs this process may "
                                   "use; timings will include the contention", markup=False)


Threads = Annotated[Optional[int], typer.Option("--threads", help="CPU threads (default: torch's current count).")]
RayThreads = Annotated[Optional[int], typer.Option(
    "--threads", help="CPU threads (default: torch's current count; on Ray, every CPU of the largest node).")]
WARMUP_HELP = (f"Iterations (10), seconds (0.5 or 2s), or 'steady' (default: until the median of the last "
               f"{engine.STEADY_WINDOW} iterations is within {100 * engine.STEADY_TOLERANCE:.0f}% of the "
               f"{engine.STEADY_WINDOW} before, at most {engine.STEADY_CAP_S:g} s after the first call).")
Warmup = Annotated[Optional[str], typer.Option("--warmup", help=WARMUP_HELP)]
Mode = Annotated[str, typer.Option("--mode", help="infer, train (forward, backward, SGD step), or both: infer,train.")]
MIN_TIME_HELP = (f"At least this many seconds of samples per configuration (default: 1); sampling goes on, up to "
                 f"{engine.CAP_FACTOR}x, until the median's 95% interval is within ±{100 * engine.CI_TARGET:.0f}%.")
MinTime = Annotated[Optional[float], typer.Option("--min-time", help=MIN_TIME_HELP)]
Ray = Annotated[Optional[str], typer.Option("--ray", help="Run the sweep on Ray, one task per configuration: local, auto or ray://HOST:PORT (needs netprobe\\[ray]; docs/scale.md).")]
Retries = Annotated[Optional[int], typer.Option("--retries", help="With --ray: times a configuration whose worker was lost is run again (default: 1).")]
Convention = Annotated[str, typer.Option(
    "--convention", help="Whose MACs: netprobe (default), fvcore, ptflops or torch (FLOPs = 2 x MACs); "
    "see docs/conventions.md.")]
