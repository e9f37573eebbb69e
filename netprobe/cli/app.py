"""``netprobe`` entry point: the Typer app, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import sys
from typing import Annotated, Optional

import typer

from netprobe import __version__
from netprobe.errors import NetprobeError, first_line

app = typer.Typer(
    name="netprobe",
    help="Inspect, count and time CNN families: layer tables, exact params/MACs/activations, "
    "honest latency, and families compared at matched compute.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
_state = {"debug": False}


def fail(message: str, code: int = 2) -> None:
    """Print one error line on stderr and exit."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def handles_errors(command):
    """Turn NetprobeError (and anything unexpected) into one line and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except NetprobeError as e:
            if _state["debug"]:
                raise
            fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            fail("interrupted", 130)
        except Exception as e:  # noqa: BLE001 - the last line of defence for users
            if _state["debug"]:
                raise
            fail(f"{type(e).__name__}: {first_line(e)} (run with --debug for the traceback)", 1)

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"netprobe {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    _state["debug"] = debug


COMMANDS = ("list_cmd", "summary_cmd", "bench_cmd", "profile_cmd", "compare_cmd")  # modules under netprobe.cli, each adds its command to app


def _register() -> None:
    import importlib

    for mod in COMMANDS:
        importlib.import_module(f"netprobe.cli.{mod}")


def main() -> None:
    _register()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
