"""The ``bold`` command: a thin Typer layer over the library. Each command group lives in its own module."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, Literal

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from ..api import DEFAULT_SEED  # the demo's seed: every command that draws at random defaults to it
from ..errors import BoldError, InputError
from .printing import printing

# ------------------------------------------------------------------------------------------ the option vocabulary
# One meaning per option name and per short option, over every command (tests/test_cli_vocabulary.py checks it):
#   --project/-p  the project folder        --out/-o     where output is written (nothing else)
#   --format/-f   table|json|csv printout   --json       the same as --format json (where it already existed)
#   --config/-c   a YAML configuration      --persons/-n size of a synthetic population
#   --seed/-s     random seed (DEFAULT_SEED) --driver/-d  a register driver
#   --engine/-e   duckdb or spark           --verbose/-v  show a library's own messages
# Switches are flags (``--overwrite``, ``--overwrite/--no-overwrite``), never ``--overwrite true``; the words
# true and false after a switch are read as the switch on or off all the same.

Fmt = Literal["table", "json", "csv"]
FORMATS: tuple[str, ...] = ("table", "json", "csv")

ProjectOption = typer.Option(None, "--project", "-p", metavar="DIR",
                             help="Project folder (default: $BOLD_PROJECT or ./bold-project).")
FormatOption = typer.Option("table", "--format", "-f", case_sensitive=False, metavar="table|json|csv",
                            help="How to print: table (for reading), json or csv (for scripts; other messages go "
                                 "to standard error).")
JsonOption = typer.Option(False, "--json", help="The same as --format json.")
OverwriteOption = typer.Option(False, "--overwrite/--no-overwrite", help="Replace the output if it exists.")
SeedOption = typer.Option(DEFAULT_SEED, "--seed", "-s", help="Random seed: the same seed gives the same outputs.")

_TRUE, _FALSE = ("true",), ("false",)


def _walk(cmd: Any) -> Iterator[Any]:
    yield cmd
    for sub in (getattr(cmd, "commands", None) or {}).values():
        yield from _walk(sub)


def _switch_words(cmd: Any, args: list[str]) -> list[str]:
    """``--overwrite true`` / ``--overwrite=false`` read as ``--overwrite`` / ``--no-overwrite`` (or nothing)."""
    switches: dict[str, TyperOption] = {}
    for p in cmd.params:
        if isinstance(p, TyperOption) and p.is_bool_flag:
            for o in p.opts:
                switches[o] = p
    if not switches:
        return args
    fixed: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            fixed.extend(args[i:])
            break
        name, eq, value = a.partition("=")
        if name in switches and (eq or (i + 1 < len(args) and args[i + 1].lower() in _TRUE + _FALSE)):
            word = (value if eq else args[i + 1]).lower()
            if word not in _TRUE + _FALSE:
                fixed.append(a)  # --switch=maybe: the parser's own error names the switch
                i += 1
                continue
            p = switches[name]
            if word in _TRUE:
                fixed.append(name)
            elif p.secondary_opts:
                fixed.append(p.secondary_opts[0])
            i += 1 if eq else 2
            continue
        fixed.append(a)
        i += 1
    return fixed


def _usage_name(p: TyperArgument) -> str:
    name = (p.metavar or p.name or "").upper()
    name = name if p.required else f"[{name}]"
    return name + ("..." if p.nargs != 1 else "")


class _Vocabulary:
    """Help as the vocabulary shows it: arguments in capitals in the usage line, switches without a value type."""

    def collect_usage_pieces(self, ctx):  # Click's signature
        pieces = [self.options_metavar] if getattr(self, "options_metavar", None) else []  # type: ignore[attr-defined]
        for p in self.get_params(ctx):  # type: ignore[attr-defined]
            if isinstance(p, TyperArgument):
                pieces.append(_usage_name(p))
        if isinstance(self, TyperGroup):
            pieces.append(self.subcommand_metavar)
        return pieces

    def get_help_option(self, ctx):
        opt = super().get_help_option(ctx)  # type: ignore[misc]
        if opt is not None:
            opt.metavar = ""
        return opt

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, _switch_words(self, list(args)))  # type: ignore[misc]


class BoldCommand(_Vocabulary, TyperCommand):
    """A ``bold`` command: help and switches as the vocabulary has them (switches shown as flags, no ``<bool>``;
    arguments in capitals, ``SOURCE`` and ``[NAME]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self.params)


class BoldGroup(_Vocabulary, TyperGroup):
    """A ``bold`` command group (see :class:`BoldCommand`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self.params)


def _tidy(params: list[Any]) -> None:
    for p in params:
        if isinstance(p, TyperOption) and p.is_flag:
            p.metavar = ""  # a switch takes no value: show none
        elif isinstance(p, TyperOption) and p.metavar is None and p.multiple:
            args = getattr(p.type_descriptor.annotation, "__args__", None) or (str,)
            p.metavar = f"<{getattr(args[0], '__name__', 'str').lower()}>"  # repeatable: one value each time
        elif isinstance(p, TyperArgument) and p.metavar is None and p.name:
            p.metavar = p.name.upper()


class Typer(typer.Typer):
    """``typer.Typer`` whose commands and groups are :class:`BoldCommand` and :class:`BoldGroup`: every command
    group of ``bold`` is made with this class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cls", BoldGroup)
        super().__init__(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        kwargs.setdefault("cls", BoldCommand)
        return super().command(*args, **kwargs)


def use_vocabulary(t: typer.Typer) -> None:
    """Give every group and command under ``t`` the vocabulary's classes, also those of a module that made its
    group with plain ``typer.Typer`` (cli/__init__.py calls this once, after importing every command module)."""
    from typer.models import DefaultPlaceholder

    def unset(cls: Any) -> bool:
        return cls is None or isinstance(cls, DefaultPlaceholder)

    for c in t.registered_commands:
        if unset(c.cls) or c.cls is TyperCommand:  # typer.Typer.command fills in TyperCommand itself
            c.cls = BoldCommand
    for g in t.registered_groups:
        sub = g.typer_instance
        if sub is None:
            continue
        if unset(g.cls) and (unset(sub.info.cls) or sub.info.cls is TyperGroup):
            sub.info.cls = BoldGroup
        use_vocabulary(sub)


app = Typer(
    name="bold",
    help="BOLD Prevention toolkit: Step A of the use case -> data -> linkage pipeline over Data First.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


def output_format(fmt: str | None = None, as_json: bool = False) -> str:
    """The format a command prints in, from its ``--format`` and ``--json`` options."""
    return "json" if as_json else (fmt or "table").lower()


def parse_date(value: str | None, what: str = "as-at date") -> date | None:
    """A YYYY-MM-DD option as a date (``None`` stays ``None``); anything else is a clear input error."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise InputError(f"{what} {value!r} is not a date", hint="give it as YYYY-MM-DD") from e


def user_errors(fn: Callable) -> Callable:
    """Show :class:`BoldError` as a readable message and exit 2, instead of a traceback; print in the command's
    ``--format`` (``fmt``) or ``--json`` (``as_json``) when it has one (:mod:`bold_prevention.cli.printing`)."""

    # A command takes part in the JSON/CSV printout when it takes the shared --format (and --json) options.
    params = inspect.signature(fn).parameters
    formatted = "fmt" in params and params["fmt"].default is FormatOption
    aliased = "as_json" in params and params["as_json"].default is JsonOption

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        fmt = output_format(kwargs.get("fmt") if formatted else None, bool(kwargs.get("as_json")) and aliased)
        try:
            if fmt not in FORMATS:  # a command that typed its --format as a plain string
                raise InputError(f"--format {fmt!r} is not a format", hint="use --format table, json or csv")
            with printing(fmt):
                return fn(*args, **kwargs)
        except BoldError as e:
            console.print(f"[bold red]Error:[/] {e.message}")
            if e.hint:
                console.print(f"[bold]What to do:[/] {e.hint}")
            sys.exit(2)
        except KeyboardInterrupt:
            console.print("[yellow]Interrupted: nothing was written under the final output name.[/]")
            sys.exit(130)
        except Exception as e:  # only operating-system failures are translated; the rest re-raise
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
