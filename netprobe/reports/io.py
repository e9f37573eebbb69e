"""Writing reports: CSV files replaced whole (atomically) or appended to row by row (locked), and JSON.

One rule for every ``--csv``: ``bench`` appends to a file of the same columns; the other
commands replace it; none writes over a file that holds other columns or is not a CSV.
Lines end in ``\\n``. Every error names the path the user gave, never a temporary file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
from pathlib import Path

from netprobe.errors import NetprobeError


class WriteFailed(NetprobeError):
    """A report could not be written; ``rows`` holds what was measured, for the caller to show."""

    exit_code = 1  # the input was fine; the disk or the path's permissions were not

    def __init__(self, message: str, rows: list | None = None):
        super().__init__(message)
        self.rows = rows or []


def _reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def check_writable(path: str | os.PathLike, option: str = "--csv") -> Path:
    """Fail before any work if a report could not be written there; ``option`` names it in the message."""
    p = Path(path)
    if p.is_dir():
        raise NetprobeError(f"{option} {path} is a directory; give a file name in it")
    parent = p.parent
    for up in (parent, *parent.parents):  # the nearest existing ancestor says what is wrong
        if up.exists():
            break
    if not up.is_dir():
        raise NetprobeError(f"{option} {path}: {up} is a file, not a directory; choose another path")
    if up != parent:
        raise NetprobeError(f"{option} {path}: directory {parent} does not exist; create it or choose another path")
    target = p if p.exists() else parent
    if not os.access(target, os.W_OK):
        raise NetprobeError(f"{option} {path}: permission denied; choose a path you can write to")
    return p


def header_of(path: str | os.PathLike, option: str = "--csv") -> list[str] | None:
    """The first row of an existing CSV file; None if there is no file, or it is empty or not a regular file."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return None
    try:
        with open(p, newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])
    except (UnicodeDecodeError, csv.Error):
        raise NetprobeError(f"{option} {path} is not a UTF-8 CSV file; choose a new file") from None
    except OSError as e:
        raise NetprobeError(f"{option} {path}: cannot read it ({_reason(e)})") from None


def check_csv(path: str | os.PathLike, columns: list[str], append: bool = False) -> Path:
    """check_writable, and an existing file must be a CSV with exactly these columns."""
    p = check_writable(path)
    header = header_of(p)
    if header is not None and header != list(columns):
        what = "appended to" if append else "replaced"
        held = "already holds other columns" if len(header) > 1 else \
            "is not a CSV of these columns (its first line has no commas)"  # a text file, not a table
        raise NetprobeError(f"--csv {path} {held}, so it is not {what}; choose a new file or remove it")
    return p


def _csv_text(rows: list[dict], columns: list[str], header: bool) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def replace_file(path: str | os.PathLike, data: bytes, option: str = "--csv") -> None:
    """Replace ``path`` by ``data`` at once (temp file + rename), so a failed write leaves the old file whole."""
    p = Path(os.path.realpath(path))  # through a symlink: the file it points to is replaced, the link stays
    if p.exists() and not stat.S_ISREG(p.stat().st_mode):  # a device or pipe (/dev/stdout): written in place
        _write_fd(p, data, f"{option} {path}")
        return
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")  # same directory: os.replace is then atomic
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as e:
        raise WriteFailed(f"{option} {path}: cannot write it ({_reason(e)}); "
                          "an existing file is left as it was") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _write_fd(p: Path, data: bytes, named: str) -> None:
    """``data`` written into an existing device or pipe; ``named``: the option and path the user gave."""
    try:
        fd = os.open(p, os.O_WRONLY)
        try:
            if os.write(fd, data) != len(data):
                raise OSError(28, "No space left on device")
        finally:
            os.close(fd)
    except OSError as e:
        raise WriteFailed(f"{named}: cannot write it ({_reason(e)})") from None


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> None:
    """All rows at once, columns in the given order (default: the first row's keys)."""
    columns = columns or (list(rows[0]) if rows else [])
    replace_file(path, _csv_text(rows, columns, header=True).encode())


def write_frame(path: str | os.PathLike, frame) -> None:
    """A pandas DataFrame as CSV (no index), replacing the file atomically."""
    replace_file(path, frame.to_csv(index=False, lineterminator="\n").encode())


def to_json(rows) -> str:
    return json.dumps(rows, indent=2, default=str)


def append_csv(path: str | os.PathLike, row: dict, columns: list[str], first: bool = True) -> None:
    """One row appended whole or not at all, under a lock; the header first if the file is new or empty.

    The lock makes two processes appending to one new file write one header; a file whose
    last line has no newline gets one first; a failed write is truncated back off. A pipe
    has no size to tell: it gets the header with the ``first`` row its writer sends.
    """
    import fcntl

    p = Path(path)
    try:
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    except OSError as e:
        raise WriteFailed(f"--csv {path}: cannot write it ({_reason(e)})") from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if regular:
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size if regular else 0
        text = _csv_text([row], columns, header=size == 0 and (regular or first))
        if size and os.pread(fd, 1, size - 1) not in (b"\n", b"\r"):
            text = "\n" + text
        data = text.encode()
        try:
            if os.write(fd, data) != len(data):
                raise OSError(28, "No space left on device")
        except OSError as e:
            if regular:
                os.ftruncate(fd, size)  # no partial row stays behind
            raise WriteFailed(f"--csv {path}: cannot append the row ({_reason(e)}); the file is as it was") from None
    finally:
        os.close(fd)  # closing releases the lock
