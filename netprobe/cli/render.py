"""Human formatting, used only when drawing rich tables."""

from __future__ import annotations


def human(n: float, unit: str = "") -> str:
    """3-4 significant digits with a metric suffix: 5.16M, 397.7M, 1.61G."""
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.4g}{suffix}{unit}"
    return f"{n:.4g}{unit}" if isinstance(n, float) else f"{n}{unit}"


def human_bytes(n: float) -> str:
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
    return Console(stderr=stderr, width=width, highlight=False)
