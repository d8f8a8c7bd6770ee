"""Accessible spreadsheets in the Government Statistical Service style, from checked outputs only (gptables).

:func:`write_spreadsheet` writes an ``.xlsx`` workbook following the Analysis Function guidance *Releasing
statistics in spreadsheets*: a ``Cover`` sheet, a ``Contents`` sheet, a ``Notes`` sheet, then one table per sheet
(``Table 1``, ``Table 2`` ...), each with its title in A1, a line saying what the sheet holds, the source, and the
table written as a named Excel table; suppressed cells hold ``[c]`` and not-applicable cells ``[z]``; notes are
referenced as ``[note n]``. Only :class:`~.disclosure.CheckedOutput` objects are accepted.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files import atomic_path
from .disclosure import CheckedOutput, _label, require_checked
from .html import values_heading


def _column_names(df: pd.DataFrame) -> list[str]:
    names = [_label(c) or "Value" for c in df.columns]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _sheet_frame(out: CheckedOutput) -> tuple[pd.DataFrame, dict[int, int]]:
    """The table with its row labels as leading columns, and gptables' index_columns mapping."""
    gss = out.gss_frame()
    gss.columns = _column_names(gss)
    levels = gss.index.nlevels
    idx_names = [str(n) if n else ("Category" if levels == 1 else f"Category {k + 1}")
                 for k, n in enumerate(gss.index.names)]
    idx_names = [n if n not in gss.columns else f"{n} (row)" for n in idx_names]
    if levels > 3:
        labels = [_label(i) for i in gss.index]
        gss.index = pd.Index(labels, name=" / ".join(idx_names))
        idx_names, levels = [" / ".join(idx_names)], 1
    else:
        gss.index = gss.index.set_names(idx_names)
    frame = gss.reset_index()
    for n in idx_names:
        frame[n] = frame[n].map(lambda v: "" if v is None else str(v))
    mapping = {1: {2: 0}, 2: {1: 0, 2: 1}, 3: {1: 0, 2: 1, 3: 2}}[levels]
    return frame, mapping


def _table_name(k: int, name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return f"table_{k}_{s}"[:250]


def write_spreadsheet(outputs: Sequence[CheckedOutput], path: str | os.PathLike, *, title: str,
                      intro: Sequence[str] | str | None = None, about: Sequence[str] | str | None = None,
                      contact: Sequence[str] | str | None = None, source: str | None = None,
                      published: dt.date | None = None, overwrite: bool = False) -> Path:
    """Write checked outputs to a GSS-style accessible workbook (Cover, Contents, Notes, one table per sheet).

    Raises :class:`~bold_prevention.errors.DisclosureError` (naming the rule) for anything that is not a checked
    output, and :class:`~bold_prevention.errors.OutputExistsError` for an existing file without ``overwrite``.
    The workbook's creation date is ``published`` (default today, at midnight), so the same tables written on the
    same day give the same file.
    """
    import gptables as gpt

    checked = [require_checked(o, f"table {k + 1} of the spreadsheet") for k, o in enumerate(outputs)]
    if not checked:
        raise InputError(f"spreadsheet {title!r} has no tables", hint="pass at least one checked output")
    p = Path(path)
    if p.suffix.lower() != ".xlsx":
        raise InputError(f"spreadsheet path {p} must end in .xlsx", hint="choose a file name ending .xlsx")

    rule_sets = {o.rules.name: o.rules for o in checked}
    notes: list[tuple[str, str]] = [("sdc", " ".join(line for rs in rule_sets.values() for line in rs.describe()))]
    notes.append(("shorthand", "[c] means confidential: the value is suppressed to protect confidentiality. "
                               "[z] means not applicable."))
    sheets: dict[str, object] = {}
    for k, o in enumerate(checked, start=1):
        frame, index_columns = _sheet_frame(o)
        own: list[str] = []
        for j, text in enumerate(o.notes):
            ref = f"t{k}_{j}"
            notes.append((ref, text))
            own.append(f"$${ref}$$")
        subtitles = [s for s in (o.subtitle, values_heading(o), o.public_summary() + "$$shorthand$$") if s]
        if own:
            subtitles.append("See notes" + "".join(own))
        sheets[f"Table {k}"] = gpt.GPTable(
            table=frame,
            table_name=_table_name(k, o.name),
            title=f"{o.title}$$sdc$$",
            subtitles=subtitles,
            instructions=("This worksheet contains one table. Some cells refer to notes, which can be found on the "
                          "notes worksheet."),
            source=f"Source: {o.source or source or 'BOLD Prevention toolkit'}",
            index_columns=index_columns,
        )
    notes_table = pd.DataFrame({"Note reference": [n for n, _ in notes], "Note text": [t for _, t in notes]})

    def lines(x: Sequence[str] | str | None) -> list[str] | None:
        if x is None:
            return None
        return [x] if isinstance(x, str) else list(x)

    about_lines = lines(about) or []
    about_lines = about_lines + [line for rs in rule_sets.values() for line in rs.describe()]
    cover = gpt.Cover(title=title, intro=lines(intro) or [f"This workbook holds {len(checked)} table(s)."],
                      about=about_lines, contact=lines(contact))
    with atomic_path(p, overwrite=overwrite) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = gpt.produce_workbook(filename=str(tmp), sheets=sheets, cover=cover, notes_table=notes_table,
                                  contentsheet_label="Contents", auto_width=True)
        day = published or dt.date.today()
        wb.set_properties({"title": title, "created": dt.datetime(day.year, day.month, day.day)})
        wb.close()
    return p.absolute()
