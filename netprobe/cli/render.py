"""Human formatting, used only when drawing rich tables."""

from __future__ import annotations


def human(n: float, unit: str = "") -> str:
    """3-4 significant digits with a metric suffix: 5.16M, 397.7M, 1.61G."""
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.4g}{suffix}{unit}"
    return f"{n:.4g}{unit}" if isinstance(n, float) else f"{n}{unit}"


def plural(n: int, noun: str) -> str:
    """``1 thread``, ``4 threads``: a count with its noun agreeing."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


BINARY_UNITS = "KiB, MiB, GiB = 2^10, 2^20, 2^30 bytes"  # every byte count a person reads is binary


def human_bytes(n: float) -> str:
    """Bytes in binary units, one decimal: 35.2 MiB (see BINARY_UNITS)."""
    for div, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= div:
            return f"{n / div:.1f} {suffix}"
    return f"{int(n)} B"


PIPE_WIDTH = 200  # a table written to a file or pipe is never squeezed to 80 columns


def console(stderr: bool = False, width: int | None = None):
    """A rich console; tests pin the width through the COLUMNS variable."""
    import os
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if width is None and not os.environ.get("COLUMNS") and not stream.isatty():
        width = PIPE_WIDTH
    out = Console(stderr=stderr, width=width, highlight=False, emoji=False)  # a model path's :fire: stays text
    out.on_broken_pipe = lambda: closed_pipe(out)  # rich's own ends with exit code 1
    return out


def progress_shown(json: bool = False) -> bool:
    """Progress goes to stderr only for a person watching: never with --json, never into a file or pipe."""
    import sys

    return not json and sys.stderr.isatty()


def progress_bar():
    """The progress bar of a timing run, on stderr: what runs now, how many of the total are done, time taken."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console(stderr=True), transient=True,
                    refresh_per_second=2)  # a slow refresh thread steals less CPU from the timed loop


def status(text: str, json: bool = False):
    """A spinner on stderr while ``text`` runs, where progress_shown; else nothing."""
    import contextlib

    from rich.markup import escape

    if not progress_shown(json):
        return contextlib.nullcontext()
    return console(stderr=True).status(escape(text), refresh_per_second=4)


def closed_pipe(out=None) -> None:
    """The reader closed the pipe (netprobe list | head): a normal end, exit 0 and no message."""
    import os
    import sys

    if out is not None:
        out.quiet = True
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit raises nothing more
    raise SystemExit(0)


def fitted(out, title: str, columns: list[tuple[str, str, str]], rows: list[tuple[list[str], str | None]],
           drop: tuple[str, ...] = (), sections: tuple[int, ...] = ()):
    """A table as wide as ``out`` allows: the columns in ``drop`` go, first to last, until every cell fits whole.

    ``columns``: (key, header, justify); ``rows``: (cells in column order, style); a section
    line goes before each row index in ``sections``. Numbers are never cut: a column whose
    cells still do not fit once ``drop`` is spent is folded onto more lines, not shortened.
    """
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table

    keep = [c[0] for c in columns]

    def build():
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True,
                      pad_edge=False, show_edge=False)
        index = [i for i, c in enumerate(columns) if c[0] in keep]
        for i in index:
            table.add_column(columns[i][1], justify=columns[i][2], overflow="fold")
        for n, (cells, style) in enumerate(rows):
            if n in sections:
                table.add_section()
            table.add_row(*(cells[i] for i in index), style=style)
        return table

    unbounded = out.options.update_width(10**4)  # the width each cell needs, not what the terminal gives
    table = build()
    for key in (k for k in drop if k in keep):  # a column this table does not show is not there to drop
        if Measurement.get(out, unbounded, table).maximum <= out.width:
            break
        keep.remove(key)
        table = build()
    return table
