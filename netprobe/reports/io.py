"""Writing rows: CSV files replaced whole (atomically) or appended to as rows arrive, and JSON."""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path

from netprobe.errors import NetprobeError


def check_writable(path: str | os.PathLike, option: str = "--csv") -> Path:
    """Fail before any work if a report could not be written there; ``option`` names it in the message."""
    p = Path(path)
    if p.is_dir():
        raise NetprobeError(f"{option} {path} is a directory; give a file name in it")
    if not p.parent.exists():
        raise NetprobeError(f"{option} {path}: directory {p.parent} does not exist; create it or choose another path")
    return p


@contextlib.contextmanager
def replacing(path: str | os.PathLike):
    """A text file to write that replaces ``path`` only once complete, so an interrupted write loses nothing."""
    p = check_writable(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")  # same directory: os.replace is then atomic
    try:
        with open(tmp, "w", newline="") as f:
            yield f
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> None:
    """All rows at once, columns in the given order (default: the first row's keys)."""
    columns = columns or (list(rows[0]) if rows else [])
    with replacing(path) as f:
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def write_frame(path: str | os.PathLike, frame) -> None:
    """A pandas DataFrame as CSV (no index), replacing the file atomically."""
    with replacing(path) as f:
        frame.to_csv(f, index=False)


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
