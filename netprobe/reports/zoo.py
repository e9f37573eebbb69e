"""The zoo as rows: one per registered member, analytic costs only (no torch)."""

from __future__ import annotations

from netprobe import registry
from netprobe.analysis.cost import net_totals
from netprobe.counts import Counts
from netprobe.errors import NetprobeError

ZOO_COLUMNS = ["model", "family", "resolution", "params", "macs", "acts"]


def net_counts(name: str, resolution: int | None = None) -> tuple[int, Counts]:
    """(resolution, totals) of a registered or generated member."""
    net = registry.spec(name)
    res = resolution or net.resolution
    return res, net_totals(net, res)


def zoo_rows(pattern: str | None = None, family: str | None = None) -> list[dict]:
    """Members matching a pattern and/or family, sorted by family then MACs."""
    names = registry.resolve(pattern) if pattern else registry.names()
    if family:
        fam = registry.normalize(family)
        if fam not in registry.FAMILIES:
            raise NetprobeError(f"unknown family '{family}'; choose from {', '.join(registry.FAMILIES)}")
        names = [n for n in names if registry.spec(n).family == fam]
    rows = []
    for name in names:
        res, c = net_counts(name)
        rows.append({"model": name, "family": registry.spec(name).family, "resolution": res,
                     "params": c.params, "macs": c.macs, "acts": c.acts})
    order = {f: i for i, f in enumerate(registry.FAMILIES)}
    return sorted(rows, key=lambda r: (order[r["family"]], r["macs"]))
