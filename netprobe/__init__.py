"""netprobe: inspect, count and time classic CNN families, exactly.

The Python API mirrors the commands; heavy imports happen only when a function is called.
``netprobe.build.build(spec)`` makes the ``nn.Module`` of a spec.
"""

from __future__ import annotations

__all__ = ["__version__", "spec", "cost", "summary", "bench", "profile", "compare", "NetprobeError"]

from netprobe.args import positive
from netprobe.errors import NetprobeError
from netprobe.registry import spec
from netprobe.spec import Net
from netprobe.version import __version__


def _positive(what: str, value, kind=int, required: bool = False):
    """A positive number, given as one or as its text; anything else is a NetprobeError."""
    if value is None and required:
        raise NetprobeError(f"{what} is required; give a positive {'integer' if kind is int else 'number'}")
    return positive(what, value, kind)


def cost(name_or_spec, resolution=None):
    """Per-layer analytic costs (list of ``Layer``) of a name or spec."""
    from netprobe.analysis.cost import net_layers

    net = spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    if not isinstance(net, Net):
        raise NetprobeError(f"cost takes a model name or a spec, not a {type(net).__name__}")
    return net_layers(net, _positive("resolution", resolution))


def summary(model, resolution=None, batch=1, dtype="fp32", input_size=None, output_stride=None,
            convention="netprobe", inputs=None, mode="infer", optimizer=None, fit=None):
    """Totals, stages and layers of a model (docs/summary.md): a ``netprobe.analysis.summary.Summary``.

    ``input_size``: shapes without the batch (``"3x16x112x112"``, ``"3x64x64,int64:12"``, (C, H, W) or a list
    of shapes) instead of a square ``resolution``; ``inputs``: ``"package.module:make_inputs"``, a callable
    (called with the batch if it takes one) or ready tensors (a tensor, a tuple of args, ``(args, kwargs)``);
    ``output_stride``: 8 or 16 dilates a ResNet-like zoo member; ``convention``: whose MACs
    (netprobe, fvcore, ptflops or torch; docs/conventions.md).
    ``mode="train"``: a ``netprobe.analysis.train_summary.TrainSummary`` instead, the Summary (``.summary``)
    with the training step's forward and backward counts (``.counts``), its predicted peak memory with
    ``optimizer`` (sgd, sgd-momentum, adamw; ``.memory``) and, with ``fit`` a memory budget (``"16GiB"``),
    the largest batch that fits (``.fit``): docs/train.md.
    """
    from netprobe.analysis.summary import summary as run
    from netprobe.analysis.train_summary import parse_mode, train_summary

    if parse_mode(mode) == "train":
        if output_stride is not None:
            raise NetprobeError("mode='train' counts a model at its own output stride; leave out output_stride")
        from netprobe.models.inputs import parse

        given = parse(input_size, inputs)  # one description, shapes or a factory, for the summary and the step
        s = run(model, _positive("resolution", resolution), _positive("batch", batch, required=True), dtype,
                inputs=given, convention=convention)
        return train_summary(s, model, optimizer, fit, _positive("resolution", resolution), given)
    if optimizer is not None or fit is not None:
        raise NetprobeError("optimizer and fit are about the training step; add mode='train'")
    return run(model, _positive("resolution", resolution), _positive("batch", batch, required=True), dtype,
               input_size=input_size, output_stride=_positive("output_stride", output_stride), convention=convention,
               inputs=inputs)


def bench(models, csv=None, on_row=None, **options):
    """Time forward passes (docs/bench.md): a DataFrame, one row per (model, batch), columns BENCH_COLUMNS.

    Options are those of ``netprobe.timing.bench.plan`` (device, batch, dtype, output_stride, ray, ...); ``csv``:
    a file each row is appended to as it is measured (the ``--csv`` rule). On Ctrl-C the ``Interrupted`` raised
    holds the rows measured so far, as dicts. On Ray (``ray="local"``, docs/scale.md) the columns are
    RAY_COLUMNS: a ``node`` column follows.
    """
    import pandas as pd

    from netprobe.reports.sink import csv_sink
    from netprobe.timing.bench import BENCH_COLUMNS, RAY_COLUMNS
    from netprobe.timing.bench import bench as run

    columns = BENCH_COLUMNS if options.get("ray") is None else RAY_COLUMNS
    sink = csv_sink(csv, columns, append=True)

    def emit(row: dict) -> None:
        sink.on_row(row)
        if on_row:
            on_row(row)

    return pd.DataFrame(run(models, on_row=emit, **options), columns=columns)


def profile(model, **options):
    """Time each stage on the machine's roofline (docs/profile.md): a DataFrame, one row per stage (or block).

    Options are those of ``netprobe.timing.profile.profile`` (device, batch, resolution, input_size, inputs,
    dtype, mode, depth, threads, warmup, min_time); the columns are PROFILE_COLUMNS.
    """
    import pandas as pd

    from netprobe.timing.profile import PROFILE_COLUMNS
    from netprobe.timing.profile import profile as run

    return pd.DataFrame(run(model, **options).records(), columns=PROFILE_COLUMNS)


def compare(budget, families=None, tolerance=25.0, generate=False, bench=None, csv=None, convention="netprobe",
            fit=None, optimizer=None):
    """Families at matched budgets (docs/compare.md): a DataFrame in the fixed schema, bench columns when timed.

    ``convention``: whose MACs the budgets and ``macs`` are (netprobe, fvcore, ptflops, torch); ``fit``: a memory
    budget (``"16GiB"`` or bytes): each member's largest batch whose predicted training peak fits it, with
    ``optimizer`` (sgd, sgd-momentum, adamw), in the columns ``FIT_COLUMNS`` (docs/train.md)."""
    from netprobe.reports.compare import compare as rows_of
    from netprobe.reports.compare import to_frame

    tolerance = _positive("tolerance", tolerance, float, required=True)
    return to_frame(rows_of(budget, families, tolerance, generate, bench, csv, convention=convention, fit=fit,
                            optimizer=optimizer), timed=bench is not None)
