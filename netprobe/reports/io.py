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


def check_appendable(path: str | os.PathLike, columns: list[str]) -> Path:
    """Like check_writable; a file that already has rows must have exactly these columns."""
    p = check_writable(path)
    if p.exists() and p.stat().st_size:
        with open(p, newline="") as f:
            header = next(csv.reader(f), [])
        if header != list(columns):
            raise NetprobeError(f"--csv {path} already holds rows with other columns; "
                                "choose a new file (rows are appended to an existing one)")
    return p


def append_csv(path: str | os.PathLike, row: dict, columns: list[str]) -> None:
    """One row appended and flushed (the header first if the file is new or empty)."""
    p = Path(path)
    new = not p.exists() or p.stat().st_size == 0
    with open(p, "a", newline="") as f:
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
