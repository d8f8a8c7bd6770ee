"""The ``bold`` command: a thin Typer layer over the library. Each command group lives in its own module."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import date

import typer
from rich.console import Console

from ..errors import BoldError, InputError

app = typer.Typer(
    name="bold",
    help="BOLD Prevention toolkit: Step A of the use case -> data -> linkage pipeline over Data First.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

ProjectOption = typer.Option(None, "--project", "-p", help="Project folder (default: $BOLD_PROJECT or ./bold-project).")


def parse_date(value: str | None, what: str = "as-at date") -> date | None:
    """A YYYY-MM-DD option as a date (``None`` stays ``None``); anything else is a clear input error."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise InputError(f"{what} {value!r} is not a date", hint="give it as YYYY-MM-DD") from e


def user_errors(fn: Callable) -> Callable:
    """Show :class:`BoldError` as a readable message and exit 2, instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BoldError as e:
            console.print(f"[bold red]Error:[/] {e.message}")
            if e.hint:
                console.print(f"[bold]What to do:[/] {e.hint}")
            sys.exit(2)
        except KeyboardInterrupt:
            console.print("[yellow]Interrupted: nothing was written under the final output name.[/]")
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - only operating-system failures are translated; the rest re-raise
            from rich.markup import escape

            from ..files import storage_error

            err = storage_error(e)
            if err is None:
                raise
            console.print(f"[bold red]Error:[/] {escape(err.message)}", highlight=False)
            if err.hint:
                console.print(f"[bold]What to do:[/] {escape(err.hint)}")
            sys.exit(2)

    return wrapper
