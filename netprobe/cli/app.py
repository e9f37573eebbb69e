"""``netprobe`` entry point: the Typer app, and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import functools
import sys
import traceback
from typing import Annotated, Optional

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from netprobe.cli import signals
from netprobe.cli.render import closed_pipe
from netprobe.errors import NetprobeError, first_line
from netprobe.version import __version__

_state = {"debug": False}


class _Group(TyperGroup):
    """The root command: usage errors become one ``error:`` line (exit 2), and --debug goes anywhere."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            from typer._click import exceptions as click_errors  # Typer 0.2x carries its own click
        except ImportError:
            from click import exceptions as click_errors

        args = list(sys.argv[1:] if args is None else args)
        if "--debug" in args[: args.index("--") if "--" in args else len(args)]:
            args = ["--debug", *(a for a in args if a != "--debug")]  # a root option, wherever it was typed
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # click 8.2+: the help text itself, not an error
                e.show()
                sys.exit(e.exit_code)
            where = f"; see '{e.ctx.command_path} --help'" if e.ctx else ""
            _print_error(e.format_message().rstrip(".") + where)
            sys.exit(2)
        except click_errors.ClickException as e:
            _print_error(e.format_message())
            sys.exit(e.exit_code)
        except typer.Abort:  # end of input at a prompt
            sys.exit(1)
        if signals.pending():  # Typer turns a KeyboardInterrupt outside a command into exit 130, silently
            signals.exit_interrupted()
        sys.exit(code if isinstance(code, int) else 0)


_type_of = getattr(TyperOption, "display_type_rich", None)  # the type help shows beside an option (Typer 0.2x)
_argument_type_of = getattr(TyperArgument, "display_type_rich", None)  # ... and beside an argument


def _flag_shows_no_type(self, ctx):
    """A flag takes no value, so help shows no ``<bool>`` beside it (Typer shows one for every option)."""
    return None if self.is_flag else _type_of(self, ctx)


def _metavar_alone(self, ctx):
    """An argument with a metavar (MODELS) shows just it, as an option with one does, not ``<list[str]>``."""
    return None if self.metavar else _argument_type_of(self, ctx)


if _type_of is not None:
    TyperOption.display_type_rich = _flag_shows_no_type
if _argument_type_of is not None:
    TyperArgument.display_type_rich = _metavar_alone

app = typer.Typer(
    name="netprobe",
    cls=_Group,
    help="Inspect, count and time CNN families: layer tables, exact params/MACs/activations, "
    "honest latency, and families compared at matched compute.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def interrupt_code() -> int:
    """The exit code of an interrupted run (130 for Ctrl-C, 143 for SIGTERM), for a caller that has said so."""
    return signals.reported()


def _print_error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True, emoji=False).print(f"[bold red]error:[/] {escape(message)}")


def model_output_to_stderr():
    """While models are built and run here, what they print goes to stderr: stdout is for the rows (--json)."""
    return contextlib.redirect_stdout(sys.stderr)


def fail(message: str, code: int = 2) -> None:
    """Print one error line on stderr and exit."""
    _print_error(message)
    raise typer.Exit(code)


def handles_errors(command):
    """Turn NetprobeError (and anything unexpected) into one line and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            result = command(*args, **kwargs)
            signals.check()  # a signal whose KeyboardInterrupt a library swallowed still ends the run
            return result
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:  # typer.echo's write to a closed pipe
            closed_pipe()
        except NetprobeError as e:
            if _state["debug"]:  # the traceback, and still the exit code of bad input
                traceback.print_exc()
                raise typer.Exit(e.exit_code) from None
            fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            fail("interrupted", interrupt_code())
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
    """The app with its commands; the console script (``netprobe.cli.entry``) has set the signal handlers."""
    signals.install()
    for stream in (sys.stdout, sys.stderr):  # an ASCII terminal (PYTHONIOENCODING=ascii) shows "?" for "·", not a crash
        if hasattr(stream, "reconfigure") and "utf" not in (stream.encoding or "").lower():
            stream.reconfigure(errors="replace")
    try:
        _register()
        app()
    except KeyboardInterrupt:
        signals.exit_interrupted()
