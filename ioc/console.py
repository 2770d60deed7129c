"""Run a command-line app so that a person's mistakes read as one line, not a traceback.

Every entry point (``ioc``, ``python -m ioc``, the simulator, ``python -m dashboards``)
goes through :func:`run_app`. A user error (a bad flag, an unusable ``IOC_*`` variable,
a key that does not exist) becomes one line on stderr naming the flag or variable and
what it accepts, and exit code 2; a dependency that cannot be reached (database, broker)
is one line and exit code 1. ``--debug`` anywhere on the command line shows the
traceback instead. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import typer
from pydantic import ValidationError

from ioc.config import InvalidSettings, explain
from ioc.errors import (
    BrokerUnavailable,
    Conflict,
    Forbidden,
    InvalidInput,
    IOCError,
    NotFound,
    StorageUnavailable,
    Unauthorized,
)

#: Exit codes: what a shell script can tell apart.
USAGE = 2  # the person asked for something wrong: fix the command or the environment
FAILED = 1  # the command was right, but something it needs is not there
INTERRUPTED = 130

DEBUG_FLAG = "--debug"
DEBUG_HELP = "show the full traceback of an error"

#: Errors caused by what the person asked for, not by the system.
_USER_ERRORS = (InvalidSettings, InvalidInput, NotFound, Conflict, Unauthorized, Forbidden)
#: The command-line library's error base (Typer carries its own copy of click's).
_CommandLineError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
_WHERE = {
    StorageUnavailable: "the database (IOC_DATABASE_URL) cannot be reached",
    BrokerUnavailable: "the MQTT broker cannot be reached",
}


def package_version() -> str:
    """The installed distribution's version (what ``--version`` prints)."""
    try:
        return metadata.version("ioc")
    except metadata.PackageNotFoundError:  # a bare checkout, never installed
        return "unknown"


def version_option(prog: str) -> Any:
    """A ``--version`` option for a Typer command that prints ``prog VERSION`` and exits.

    For ``Annotated[bool, version_option(...)] = False`` (typed ``Any``, as
    :func:`typer.Option` is).
    """

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{prog} {package_version()}")
            raise typer.Exit()

    return typer.Option(
        "--version", callback=show, is_eager=True, help="print the version and exit"
    )


def one_line(text: str) -> str:
    """The first line of ``text``, whitespace squeezed: an error message for a terminal."""
    text = text.replace("Value error, ", "")  # pydantic's prefix, in Typer's messages too
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text.strip()


def describe(exc: BaseException) -> tuple[str, int] | None:
    """``(message, exit code)`` for an error a person can act on; None for a bug."""
    if isinstance(exc, _CommandLineError):  # usage errors (exit code 2) and the like
        message: str = exc.format_message()  # type: ignore[attr-defined]
        return one_line(message), int(getattr(exc, "exit_code", FAILED))
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return explain(exc), USAGE
    if isinstance(exc, _USER_ERRORS):
        return one_line(str(exc)), USAGE
    for kind, where in _WHERE.items():
        if isinstance(exc, kind):
            return f"{where}: {one_line(str(exc))}", FAILED
    if isinstance(exc, IOCError):
        return one_line(str(exc)), FAILED
    if isinstance(exc, OSError):
        return one_line(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")), FAILED
    return None


def run_app(app: typer.Typer, prog: str, argv: Sequence[str] | None = None) -> int:
    """Run ``app`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args[: args.index("--")] if "--" in args else DEBUG_FLAG in args
    command = typer.main.get_command(app)
    try:
        result = command.main(args, prog_name=prog, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        return INTERRUPTED
    except Exception as exc:
        known = describe(exc)
        if known is None or debug:
            raise
        message, code = known
        if message:  # empty after a group run without arguments has printed its help
            print(f"{prog}: error: {message}", file=sys.stderr)
        return code
    return result if isinstance(result, int) else 0
