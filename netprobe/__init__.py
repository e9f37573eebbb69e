"""netprobe: inspect, count and time classic CNN families, exactly.

The Python API mirrors the commands; heavy imports happen only when a function is called.
``netprobe.build.build(spec)`` makes the ``nn.Module`` of a spec.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "spec", "cost", "summary", "bench", "compare", "NetprobeError"]

from netprobe.errors import NetprobeError
from netprobe.registry import spec


def cost(name_or_spec, resolution=None):
    """Per-layer analytic costs (list of ``Layer``) of a name or spec."""
    from netprobe.analysis.cost import net_layers

    net = spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    return net_layers(net, resolution)


def bench(models, **options):
    """Time forward passes (docs/bench.md): a DataFrame, one row per (model, batch), columns BENCH_COLUMNS.

    Options are those of ``netprobe.timing.bench.plan`` (device, batch, dtype, ...); on Ctrl-C
    the ``Interrupted`` raised holds the rows measured so far, as dicts.
    """
    import pandas as pd

    from netprobe.timing.bench import BENCH_COLUMNS
    from netprobe.timing.bench import bench as run

    return pd.DataFrame(run(models, **options), columns=BENCH_COLUMNS)


def compare(budget, families=None, tolerance=25.0, generate=False, bench=None, csv=None, convention="netprobe"):
    """Families at matched budgets (docs/compare.md): a DataFrame in the fixed schema, bench columns when timed.

    ``convention``: whose MACs the budgets and ``macs`` are (netprobe, fvcore, ptflops, torch)."""
    from netprobe.reports.compare import compare as rows_of
    from netprobe.reports.compare import to_frame

    return to_frame(rows_of(budget, families, tolerance, generate, bench, csv, convention=convention),
                    timed=bench is not None)


def __getattr__(name):
    if name == "summary":
        from netprobe.analysis.summary import summary

        return summary
    raise AttributeError(f"module 'netprobe' has no attribute {name!r}")
