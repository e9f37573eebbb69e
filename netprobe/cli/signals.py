"""Ctrl-C and SIGTERM: at any moment of a run, one line and exit 128 + the signal, never a traceback, never lost.

The handlers go in before anything heavy is imported (``netprobe.cli.entry``). A handler
raises KeyboardInterrupt, which a library may swallow (a finalizer, a broad ``except``
while torch imports); the signal is remembered, so the next ``check()`` raises it again.
This module imports nothing of Typer, rich or torch.
"""

from __future__ import annotations

import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"received": None, "reported": False}  # the last signal, and whether its line was printed


def _on_signal(signum, frame) -> None:
    _state["received"], _state["reported"] = signum, False
    raise KeyboardInterrupt  # SIGTERM ends a run as Ctrl-C does: rows kept, a message


def install() -> None:
    """Both signals end the run through KeyboardInterrupt (Python's SIGTERM would kill it without a word)."""
    for sig in SIGNALS:
        signal.signal(sig, _on_signal)


def code() -> int:
    """The exit code of an interrupted run: 130 for Ctrl-C, 143 for SIGTERM (128 + the signal)."""
    return 128 + int(_state["received"] or signal.SIGINT)


def reported() -> int:
    """The exit code, the interruption now said by the caller (so it is not said twice)."""
    _state["reported"] = True
    return code()


def pending() -> bool:
    """A signal came and nothing has said so yet."""
    return _state["received"] is not None and not _state["reported"]


def check() -> None:
    """KeyboardInterrupt again if a signal came whose KeyboardInterrupt was swallowed on its way."""
    if pending():
        raise KeyboardInterrupt


def exit_interrupted() -> None:
    """The one line, then exit 128 + the signal; a further signal while saying so changes nothing."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if not _state["reported"]:
        sys.stderr.write("error: interrupted\n")
        sys.stderr.flush()
    sys.exit(reported())
