"""The ``netprobe`` console script: the signal handlers first, before Typer, rich or torch is imported."""

from __future__ import annotations

from netprobe.cli import signals


def main() -> None:
    signals.install()
    try:
        from netprobe.cli.app import main as run  # after the handlers, so a signal while it imports is handled

        run()
    except KeyboardInterrupt:
        signals.exit_interrupted()
