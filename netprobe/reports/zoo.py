"""The zoo as rows: one per registered member, analytic costs only (no torch)."""

from __future__ import annotations

from dataclasses import replace

from netprobe import registry
from netprobe.analysis import conventions
from netprobe.analysis.cost import net_layers
from netprobe.counts import Counts, total
from netprobe.errors import NetprobeError

ZOO_COLUMNS = ["model", "family", "resolution", "params", "macs", "acts"]


def net_counts(name: str, resolution: int | None = None, convention: str = "netprobe") -> tuple[int, Counts]:
    """(resolution, totals) of a registered or generated member, MACs in a convention (analysis.conventions)."""
    conv = conventions.convention(convention)
    net = registry.spec(name)
    res = resolution or net.resolution
    layers = net_layers(net, res)
    totals = total(layer.counts for layer in layers)
    if conv.name == "netprobe":
        return res, totals
    return res, replace(totals, macs=conventions.count(conventions.merged(layers), conv))


def families_of(families: str | list[str] | None) -> list[str]:
    """Family names from a comma list (default: all), each checked against the registry's."""
    if families is None:
        return list(registry.families())
    items = families.split(",") if isinstance(families, str) else list(families)
    out = []
    for item in items:
        fam = registry.normalize(item)
        if fam not in registry.families():
            raise NetprobeError(f"unknown family '{item.strip()}'; choose from {', '.join(registry.families())}")
        out.append(fam)
    if not out:
        raise NetprobeError(f"no family given; choose from {', '.join(registry.families())}")
    return list(dict.fromkeys(out))


def zoo_rows(pattern: str | None = None, family: str | None = None, convention: str = "netprobe") -> list[dict]:
    """Members matching a pattern and/or families (a comma list), sorted by family then MACs."""
    names = registry.resolve(pattern) if pattern else registry.names()
    if family:
        wanted = set(families_of(family))
        names = [n for n in names if registry.spec(n).family in wanted]
    conventions.convention(convention)
    rows = []
    for name in names:
        res, c = net_counts(name, convention=convention)
        rows.append({"model": name, "family": registry.spec(name).family, "resolution": res,
                     "params": c.params, "macs": c.macs, "acts": c.acts})
    order = {f: i for i, f in enumerate(registry.families())}
    return sorted(rows, key=lambda r: (order[r["family"]], r["macs"]))
