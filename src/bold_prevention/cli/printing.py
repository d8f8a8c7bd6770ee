"""What a command prints, in one of three formats: a Rich table for people, JSON or CSV for scripts.

A command builds each table as a :class:`Grid` of raw values (numbers stay numbers, dates become ISO strings)
and calls :meth:`Grid.show`. In the ``table`` format the grid is drawn at once, its values formatted for reading
(thousands separators, three decimals, blanks for missing). In ``json`` and ``csv`` the grids are collected and
written to standard output when the command ends, and every other line the command prints goes to standard
error instead, so that standard output parses:

- ``--format json``: one JSON object, ``{"<table name>": [{"<column>": value, ...}, ...], ...}`` (or, for a
  command whose output is one document such as a quality report, that document);
- ``--format csv``: the command's first table, with a header row, text quoted and numbers bare, missing values
  empty (its other tables are named on standard error; take them with ``--format json``).

The format of the running command is set by :func:`bold_prevention.cli.app.user_errors` from the command's
``--format`` (or ``--json``) option.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import io
import json
import math
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

FORMATS = ("table", "json", "csv")

_sink: contextvars.ContextVar[_Sink | None] = contextvars.ContextVar("bold_print_sink", default=None)

# Columns whose values are identifiers or names: never wrapped inside a word, whatever the terminal's width.
_ID_WORDS = ("id", "name", "table", "variable", "file", "folder", "path", "rule", "version", "cohort", "dataset",
             "release", "spec", "profile", "use case", "command", "account")


def plain(value: Any) -> Any:
    """A value as JSON and CSV carry it: numbers and strings as they are, dates ISO, NaN and missing as null."""
    if value is None:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return plain(item())
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def readable(value: Any) -> str:
    """A value as the table format shows it: 1,234; 0.123; 12,345 (large floats without decimals); blank."""
    v = plain(value)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:,.0f}"
    if isinstance(v, list):
        return ", ".join(readable(x) for x in v)
    return str(v)


class _Column:
    def __init__(self, name: str, justify: str | None, fmt: Callable[[Any], str] | None, style: str | None,
                 no_wrap: bool | None) -> None:
        self.name, self.justify, self.fmt, self.style = name, justify, fmt, style
        self.no_wrap = no_wrap if no_wrap is not None else any(w in name.lower().split() or name.lower()
                                                               .endswith(("_id", " id")) for w in _ID_WORDS)


class Grid:
    """A table of raw values with a stable name (the JSON key) and a title (the Rich table's caption)."""

    def __init__(self, name: str, title: str | None = None) -> None:
        self.name = name
        self.title = title
        self.columns: list[_Column] = []
        self.rows: list[list[Any]] = []

    def column(self, name: str, *, justify: str | None = None, fmt: Callable[[Any], str] | None = None,
               style: str | None = None, no_wrap: bool | None = None) -> Grid:
        """Add a column; ``fmt`` turns a raw value into the text (Rich markup allowed) the table format shows."""
        self.columns.append(_Column(name, justify, fmt, style, no_wrap))
        return self

    def row(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"table {self.name}: {len(values)} values for {len(self.columns)} columns")
        self.rows.append(list(values))

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dictionaries (column name -> value)."""
        return [{c.name: plain(v) for c, v in zip(self.columns, r, strict=True)} for r in self.rows]

    def rich(self):
        from rich.table import Table

        t = Table(title=self.title)
        for i, c in enumerate(self.columns):
            numeric = bool(self.rows) and all(isinstance(plain(r[i]), int | float) and not isinstance(r[i], bool)
                                              for r in self.rows if r[i] is not None)
            t.add_column(c.name, justify=c.justify or ("right" if numeric else "left"), style=c.style,  # type: ignore[arg-type]
                         no_wrap=c.no_wrap, overflow="fold")
        for r in self.rows:
            t.add_row(*[(c.fmt(v) if c.fmt else readable(v)) for c, v in zip(self.columns, r, strict=True)])
        return t

    def show(self) -> None:
        """Draw the table now (table format) or hand it to the command's JSON/CSV output."""
        sink = _sink.get()
        if sink is None or sink.fmt == "table":
            from .app import out

            out.print(self.rich())
        else:
            sink.grids.append(self)


def show_document(document: Any) -> bool:
    """Make a whole document (a report, a card) the command's JSON output, instead of its tables; False in the
    other formats (the command draws it)."""
    sink = _sink.get()
    if sink is None or sink.fmt != "json":
        return False
    sink.document = document
    return True


class _Sink:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.grids: list[Grid] = []
        self.document: Any = None

    def flush(self, stdout) -> None:
        if self.fmt == "json":
            doc = plain(self.document) if self.document is not None else {g.name: g.records() for g in self.grids}
            stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        elif self.fmt == "csv" and self.grids:
            first = self.grids[0]
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)  # text quoted, numbers bare
            w.writerow([c.name for c in first.columns])
            for rec in first.records():
                w.writerow([_csv_value(v) for v in rec.values()])
            stdout.write(buf.getvalue())
            rest = [g.name for g in self.grids[1:]]
            if rest:
                from .app import console

                console.print(f"CSV holds the {first.name} table; also printed: {', '.join(rest)} "
                              "(take every table with --format json).", highlight=False)


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | dict):
        return json.dumps(v, ensure_ascii=False)
    return v


@contextlib.contextmanager
def printing(fmt: str | None) -> Iterator[None]:
    """Run a command in an output format: in json/csv, its text lines go to standard error and its tables are
    written to standard output at the end (only when the command succeeds)."""
    from .app import out

    fmt = (fmt or "table").lower()
    sink = _Sink(fmt)
    token = _sink.set(sink)
    stdout = sys.stdout
    moved = fmt != "table"
    if moved:
        out.file = sys.stderr
    try:
        yield
    finally:
        _sink.reset(token)
        if moved:
            out.file = None  # type: ignore[assignment]  # back to whatever standard output is then
    sink.flush(stdout)
