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


def __getattr__(name):
    if name == "summary":
        from netprobe.analysis.summary import summary

        return summary
    if name == "bench":
        from netprobe.timing.bench import bench

        return bench
    if name == "compare":
        from netprobe.reports.compare import compare

        return compare
    raise AttributeError(f"module 'netprobe' has no attribute {name!r}")
