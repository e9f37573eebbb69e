"""Writing rows: CSV files that can be appended to as rows arrive, and JSON."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from netprobe.errors import NetprobeError


def check_writable(path: str | os.PathLike) -> Path:
    """Fail before any work if a report could not be written there."""
    p = Path(path)
    if p.is_dir():
        raise NetprobeError(f"--csv {path} is a directory; give a file name such as {p / 'report.csv'}")
    if not p.parent.exists():
        raise NetprobeError(f"--csv {path}: directory {p.parent} does not exist; create it or choose another path")
    return p


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> None:
    """All rows at once, columns in the given order (default: the first row's keys)."""
    p = check_writable(path)
    columns = columns or (list(rows[0]) if rows else [])
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def to_json(rows) -> str:
    return json.dumps(rows, indent=2, default=str)
