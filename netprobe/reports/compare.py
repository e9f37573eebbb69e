"""Families side by side at matched compute budgets: one row per (budget, family, member).

For each budget and family the registered member nearest the budget in log distance is
picked (and, on request, a generated ``FAMILY@BUDGET`` member within 2%, or a row whose
``error`` says why there is none); costs are analytic. With ``bench`` options every
distinct member is timed once by the bench engine and its row joined to every row that
names it. With a memory budget (``fit``) every row also says the largest batch whose
predicted training peak fits it (``analysis.train_memory.fit``: a search over predictions).
"""

from __future__ import annotations

import math
import os
from typing import Callable

from netprobe import registry
from netprobe.analysis import conventions
from netprobe.analysis.train_memory import fit as fit_batch
from netprobe.analysis.train_memory import fit_optimizer
from netprobe.args import parse_batches
from netprobe.budget import format_budget, nearest, parse_budget, parse_budgets
from netprobe.bytesize import parse_bytes
from netprobe.errors import NetprobeError
from netprobe.reports.sink import CsvSink, csv_sink
from netprobe.reports.zoo import families_of, net_counts

COMPARE_COLUMNS = ["budget_macs", "family", "model", "generated", "resolution", "params", "macs", "acts",
                   "budget_err_pct", "within_tolerance", "error"]
# With a memory budget: the budget, the optimizer predicted, the largest batch whose predicted training peak
# fits (0: not even batch 1) and that peak (at batch 1 when none fits), as summary --mode train --fit says them.
FIT_COLUMNS = ["fit_budget_bytes", "optimizer", "fit_batch", "fit_memory_bytes"]


def budgets_of(budget: str | int | list) -> list[tuple[str, int]]:
    """(label, MACs) of a comma list such as ``400MF,1.6GF``, or of a list of labels or MAC counts."""
    if isinstance(budget, str):
        return parse_budgets(budget)
    items = budget if isinstance(budget, (list, tuple)) else [budget]
    if not items:
        raise NetprobeError("no budget given; use e.g. 400MF or [400e6, 1.6e9]")
    out: dict[int, str] = {}
    for item in items:
        if isinstance(item, str):
            out.setdefault(parse_budget(item), item.strip().replace(" ", ""))
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and math.isfinite(item) and item >= 1:
            out.setdefault(int(round(item)), format_budget(item))
        else:
            raise NetprobeError(f"bad budget {item!r}; use a positive number of MACs or a label such as 400MF")
    return [(label, macs) for macs, label in out.items()]


def err_pct(macs: int, budget: int) -> float:
    """The true relative error of a member's MACs against the budget, in percent."""
    return 100 * (macs - budget) / budget


def _row(budget: int, family: str, name: str, generated: bool, tolerance: float, convention: str) -> dict:
    res, c = net_counts(name, convention=convention)
    err = err_pct(c.macs, budget)
    return {"budget_macs": budget, "family": family, "model": name, "generated": generated, "resolution": res,
            "params": c.params, "macs": c.macs, "acts": c.acts, "budget_err_pct": err,
            "within_tolerance": abs(err) <= tolerance, "error": None}


def _generated_row(budget: int, family: str, label: str, tolerance: float, convention: str) -> dict:
    """The row of ``FAMILY@BUDGET``; a budget out of the family's reach is a row with its reason, no counts.

    Members are generated at the budget in netprobe's MACs; the row counts them in ``convention``."""
    name = f"{family}@{label}"
    try:
        return _row(budget, family, name, True, tolerance, convention)
    except NetprobeError as e:
        return {**dict.fromkeys(COMPARE_COLUMNS), "budget_macs": budget, "family": family, "model": name,
                "generated": True, "within_tolerance": False, "error": str(e)}


def matched_rows(budget, families=None, tolerance: float = 25.0, generate: bool = False,
                 convention: str = "netprobe") -> list[dict]:
    """Analytic rows: per budget, per family, the nearest registered member [and a generated one];
    budgets and MACs in ``convention`` (analysis.conventions)."""
    conventions.convention(convention)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not (
            tolerance > 0 and math.isfinite(tolerance)):
        raise NetprobeError(f"bad tolerance {tolerance}; use a positive percentage such as 25")
    budgets, fams = budgets_of(budget), families_of(families)
    scalable = set(registry.generator_families())  # a family with no width rule has no generated row
    macs = {}
    for fam in fams:
        for name in registry.resolve(fam):
            macs[name] = net_counts(name, convention=convention)[1].macs
    rows = []
    for label, b in budgets:
        for fam in fams:
            member = nearest({n: macs[n] for n in registry.resolve(fam)}, b)
            rows.append(_row(b, fam, member, False, tolerance, convention))
            if generate and fam in scalable:
                rows.append(_generated_row(b, fam, label, tolerance, convention))
    return rows


def with_fit(rows: list[dict], budget_bytes: int, optimizer: str) -> list[dict]:
    """Each row with ``FIT_COLUMNS``: its member's fit at its resolution (None where there is no member)."""
    out = []
    for row in rows:
        found = None if row["error"] else fit_batch(row["model"], budget_bytes, optimizer, row["resolution"])
        out.append({**row, "fit_budget_bytes": budget_bytes, "optimizer": optimizer,
                    "fit_batch": None if found is None else found.fit_batch,
                    "fit_memory_bytes": None if found is None else found.memory.train_memory_bytes})
    return out


def _bench_columns(on_ray: bool) -> list[str]:
    from netprobe.timing import bench as timing  # the timing engine is loaded only when a run is timed

    return [c for c in (timing.RAY_COLUMNS if on_ray else timing.BENCH_COLUMNS) if c not in COMPARE_COLUMNS]


def columns(rows: list[dict], timed: bool | None = None, fitted: bool | None = None) -> list[str]:
    """The fixed schema: compare columns, the fit columns with a memory budget, then the bench columns and
    context when timed (and ``node`` on Ray)."""
    timed = any("median_ms" in r for r in rows) if timed is None else timed
    fitted = any("fit_batch" in r for r in rows) if fitted is None else fitted
    return COMPARE_COLUMNS + FIT_COLUMNS * fitted + (_bench_columns(any("node" in r for r in rows)) if timed else [])


def _join(rows: list[dict], timings: list[dict], keep_untimed: bool = False) -> list[dict]:
    """Every analytic row with each timing of its model, in the analytic rows' order."""
    by_model: dict[str, list[dict]] = {}
    for t in timings:
        by_model.setdefault(t["model"], []).append(t)
    out = []
    for row in rows:
        for t in by_model.get(row["model"], []):
            out.append({**row, **{k: v for k, v in t.items() if k not in row}, "error": t.get("error")})
        if keep_untimed and row["model"] not in by_model:
            out.append({**row, "status": "error" if row["error"] else "not timed"})
    return out


def compare(budget, families=None, tolerance: float = 25.0, generate: bool = False, bench: dict | None = None,
            csv: str | os.PathLike | None = None, on_row: Callable[[dict], None] | None = None,
            convention: str = "netprobe", on_total: Callable[[int], None] | None = None, fit=None,
            optimizer: str | None = None) -> list[dict]:
    """Rows comparing families at each budget; ``bench``: options for the bench engine, or None; ``fit``: a
    memory budget (``16GiB`` or bytes) for ``FIT_COLUMNS``, predicted with ``optimizer`` (default sgd-momentum).

    ``on_total`` hears the number of configurations to time before the first starts (for a progress bar).

    With ``csv`` the rows are written there (replacing the file whole, atomically), while
    timing after each member. Ctrl-C while timing raises ``netprobe.timing.bench.Interrupted``
    whose ``rows`` are the rows of the members timed so far, as the CSV holds them.
    """
    memory = None if fit is None else _budget_bytes(fit)
    optimizer = fit_optimizer(optimizer, memory)
    sink = csv_sink(csv or None, columns([], timed=bench is not None, fitted=memory is not None))
    rows = matched_rows(budget, families, tolerance, generate, convention)
    if memory is not None:
        rows = with_fit(rows, memory, optimizer)
    if bench is None:
        _write(sink, rows, timed=False)
        return rows
    from netprobe.timing import bench as timing

    if not isinstance(bench, dict) or {"resolution", "csv", "on_row", "on_start"} & set(bench):
        raise NetprobeError("bench takes a dict of timing options (device, batch, dtype, ...); no resolution, csv "
                            "or callbacks: each member is timed at its native resolution")
    timings: list[dict] = []

    def timed(t: dict) -> None:
        timings.append(t)
        _write(sink, _join(rows, timings), timed=True)
        if on_row:
            for row in _join(rows, [t]):
                on_row(row)

    models = list(dict.fromkeys(r["model"] for r in rows if not r["error"]))
    if on_total:
        on_total(len(models) * len(parse_batches(bench.get("batch", 1))))
    try:
        returned = timing.bench(models, **bench, resolution=None, on_row=timed)
    except KeyboardInterrupt:
        raise timing.Interrupted(_join(rows, timings)) from None
    out = _join(rows, returned, keep_untimed=True)
    _write(sink, out, timed=True)
    return out


def _budget_bytes(budget) -> int:
    """A memory budget's bytes: ``16GiB``-style text (``bytesize``) or a positive whole number."""
    if isinstance(budget, str):
        return parse_bytes(budget)
    if isinstance(budget, int) and not isinstance(budget, bool) and budget >= 1:
        return budget
    raise NetprobeError(f"bad memory budget {budget!r}; use text such as 16GiB or 8GB, or a positive number of bytes")


def _write(sink: CsvSink, rows: list[dict], timed: bool) -> None:
    """The CSV replaced by these rows; if that fails the error carries them, for the caller to show."""
    if sink.path is not None:
        sink.write(rows, frame=to_frame(rows, timed))


def to_frame(rows: list[dict], timed: bool | None = None):
    """The rows as a pandas DataFrame with the fixed columns, in order (timed: with the bench columns)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns(rows, timed))
