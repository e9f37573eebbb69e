"""The one ``--csv`` rule, for every command: where report rows go.

``bench`` appends each row as it is measured (one header, each row whole or not at all,
safe with several processes); ``list``, ``summary``, ``compare`` and ``profile`` replace the
file whole, atomically. None writes over a file that holds other columns or is not a UTF-8
CSV: that is an error naming the file, raised when the sink is made, before any work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from netprobe.reports import io


@dataclass
class CsvSink:
    """Rows bound for one CSV file (or nowhere when ``path`` is None); it keeps the rows it was handed."""

    path: Path | None
    columns: list[str]
    append: bool
    rows: list[dict] = field(default_factory=list)

    def on_row(self, row: dict) -> None:
        """One measured row, appended at once: an interrupted run keeps what it measured."""
        self.rows.append(row)
        if self.path is None:
            return
        if not self.append:
            raise ValueError("on_row takes rows for a file that is appended to; use write() to replace one")
        first = len(self.rows) == 1  # a pipe takes the header once, with this sink's first row
        self._guarded(lambda: io.append_csv(self.path, row, self.columns, first), self.rows)

    def write(self, rows: list[dict], frame=None) -> None:
        """The file replaced by these rows, or by ``frame`` (a pandas DataFrame of them, formatted as pandas does)."""
        if self.path is None:
            return
        if self.append:
            raise ValueError("write replaces a file; rows for a file that is appended to go to on_row")
        if frame is not None:
            self._guarded(lambda: io.write_frame(self.path, frame), rows)
        else:
            self._guarded(lambda: io.write_csv(self.path, rows, self.columns), rows)

    @staticmethod
    def _guarded(write, rows: list[dict]) -> None:
        """A failed write carries the rows it held, for the caller to show."""
        try:
            write()
        except io.WriteFailed as e:
            e.rows = list(rows)
            raise


def csv_sink(path: str | os.PathLike | None, columns: list[str], append: bool = False) -> CsvSink:
    """A sink for ``--csv path``, the file checked now (writable; no other columns; a UTF-8 CSV)."""
    checked = None if path is None else io.check_csv(path, columns, append=append)
    return CsvSink(checked, list(columns), append)
