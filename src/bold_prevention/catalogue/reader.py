"""Read the Data First ODS catalogues as published on GOV.UK into one normalised catalogue.

The reader is driven by what is in the file, not by a fixed layout:

* every sheet is scanned; a sheet is a **variable dictionary** when one of its first rows (the header) has a
  variable heading and a description or values heading. Heading variants in use are accepted (``Table`` /
  ``Table Name``, ``Variable`` / ``Variable Name`` / ``Field``, ``Description`` / ``Variable Description``,
  ``Values`` / ``Values (optional)`` / ``Code list``, plus coverage, type and format columns);
* cover, contents and notes sheets have no such header and are skipped, as are titles and blank rows above the
  header and notes below the table;
* blank (merged) table cells are forward-filled; a sheet without a table column takes its table name from the sheet;
* **lookup sheets** (``drug_lookup``: a code column and a label column) are kept as code lists;
* ``code = label`` values cells are parsed into code lists (:mod:`.values`);
* every variable keeps its file, sheet and row for provenance.

Bad input (not an ODS file, a corrupt or password-protected one, a file with no dictionary sheet, duplicate
variables) raises :class:`~bold_prevention.errors.InputError` naming the file and sheet; nothing is returned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..datafirst import MODEL
from ..errors import InputError
from .ods import Sheet, read_workbook
from .values import parse_values

#: Columns of the normalised catalogue (``catalogue.variables`` in the warehouse).
VARIABLE_COLUMNS = [
    "dataset", "table_name", "variable", "description", "values", "data_type", "value_format", "coverage",
    "notes", "range_min", "range_max", "n_codes", "code_list", "source_file", "sheet", "source_row",
]
#: Columns of the code lists (``catalogue.code_lists``): parsed values cells and lookup sheets.
CODE_LIST_COLUMNS = ["dataset", "code_list", "table_name", "variable", "code", "label", "source_file", "sheet",
                     "source_row"]

#: Heading variants accepted for each catalogue field (compared after :func:`normalise_heading`).
HEADINGS: dict[str, tuple[str, ...]] = {
    "table_name": ("table", "table name", "tablename", "table names", "dataset table", "table id", "file",
                   "file name", "entity"),
    "variable": ("variable", "variable name", "variablename", "variable names", "field", "field name",
                 "column", "column name", "variable id", "attribute", "item"),
    "description": ("description", "variable description", "field description", "column description",
                    "label", "variable label", "definition", "meaning", "question", "question text"),
    "values": ("values", "value", "values optional", "value optional", "code list", "codelist", "codes",
               "code", "valid values", "value labels", "value label", "categories", "coding", "possible values",
               "allowed values", "lookup", "response options"),
    "coverage": ("coverage", "time coverage", "period", "time period", "years", "date range", "availability",
                 "years available", "available from", "populated from"),
    "data_type": ("type", "data type", "datatype", "variable type", "field type", "column type"),
    "value_format": ("format", "data format", "field format", "value format"),
    "notes": ("notes", "note", "comments", "comment", "caveats", "quality notes"),
}
_HEADING_LOOKUP = {v: k for k, vs in HEADINGS.items() for v in vs}

#: Lookup-sheet headings: a code column and a label column.
_CODE_HEADING = re.compile(r"\b(code|codes|id|key|value)\b")
_LABEL_HEADING = re.compile(r"\b(name|label|description|desc|meaning|text|drug|value label)\b")
_SKIP_SHEET = re.compile(r"^(cover|cover sheet|contents|table of contents|notes?|about|information|"
                         r"read ?me|introduction|front page|changes|change log|version history)$", re.IGNORECASE)
_LOOKUP_SHEET = re.compile(r"lookup|look up|code ?list|codes$|_codes|reference", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")

#: How many rows at the top of a sheet are searched for the header.
HEADER_SCAN_ROWS = 25


def normalise_heading(text: str) -> str:
    """``Values (optional)`` -> ``values optional``; ``Variable_Name [note 2]`` -> ``variable name``."""
    t = text.lower().replace("\n", " ")
    t = re.sub(r"\[\s*note[^\]]*\]", " ", t)
    t = re.sub(r"[_()\[\]:.*/-]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def _catalogue_datasets() -> dict[str, str]:
    """Published catalogue file name (lower case) -> model dataset key."""
    return {d.catalogue_file.lower(): d.key for d in MODEL.datasets if d.catalogue_file}


@dataclass
class Catalogue:
    """A normalised catalogue: variables, code lists, and the sheets that were skipped (with why)."""

    variables: pd.DataFrame
    code_lists: pd.DataFrame
    skipped_sheets: list[tuple[str, str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        return sorted(self.variables["dataset"].unique().tolist())

    def __len__(self) -> int:
        return len(self.variables)

    @classmethod
    def empty(cls) -> Catalogue:
        return cls(pd.DataFrame(columns=VARIABLE_COLUMNS), pd.DataFrame(columns=CODE_LIST_COLUMNS))


@dataclass
class _Header:
    row_index: int  # index into sheet.rows
    row_number: int
    columns: dict[str, int]


def _match_header(cells: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for j, c in enumerate(cells):
        if not c:
            continue
        field_ = _HEADING_LOOKUP.get(normalise_heading(c))
        if field_ and field_ not in found:
            found[field_] = j
    return found


def _is_dictionary_header(found: dict[str, int]) -> bool:
    return "variable" in found and ("description" in found or "values" in found)


def find_header(sheet: Sheet, scan: int = HEADER_SCAN_ROWS) -> _Header | None:
    """The dictionary header row of a sheet (within its first ``scan`` non-empty rows), or None."""
    for i, (rownum, cells) in enumerate(sheet.rows[:scan]):
        found = _match_header(cells)
        if _is_dictionary_header(found):
            return _Header(i, rownum, found)
    return None


def _cell(cells: Sequence[str], j: int | None) -> str:
    if j is None or j >= len(cells):
        return ""
    return cells[j].strip()


def _looks_like_note(cells: Sequence[str]) -> bool:
    filled = [c for c in cells if c.strip()]
    return len(filled) == 1 and (" " in filled[0].strip() or len(filled[0]) > 60)


def _only_in(cells: Sequence[str], cols: dict[str, int], fields: tuple[str, ...]) -> bool:
    """True when every filled cell of the row is in one of ``fields``' columns."""
    allowed = {cols[f] for f in fields if f in cols}
    return all(j in allowed for j, c in enumerate(cells) if c.strip())


def _read_dictionary(sheet: Sheet, header: _Header, file_name: str, dataset: str,
                     lookup_names: Iterable[str]) -> tuple[list[dict], list[dict]]:
    cols = header.columns
    lookup_names = list(lookup_names)
    variables: list[dict] = []
    codes: list[dict] = []
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    table = "" if "table_name" in cols else sheet.name
    for rownum, cells in sheet.rows[header.row_index + 1:]:
        var = _cell(cells, cols.get("variable"))
        if var and len(var) < 40 and _HEADING_LOOKUP.get(normalise_heading(var)) == "variable":
            again = _match_header(cells)
            if _is_dictionary_header(again):  # a repeated header (one block per table)
                cols = again
                continue
        tcell = _cell(cells, cols.get("table_name"))
        desc = _cell(cells, cols.get("description"))
        vals = _cell(cells, cols.get("values"))
        if not var:
            if tcell and not desc and not vals and _IDENTIFIER.match(tcell):
                table = tcell  # a table title row above its block
            elif variables and (vals or desc) and not tcell and _only_in(cells, cols, ("values", "description")):
                prev = variables[-1]  # a wrapped cell continuing the previous variable
                if vals:
                    prev["values"] = f"{prev['values']}\n{vals}".strip()
                if desc and not vals:
                    prev["description"] = f"{prev['description']} {desc}".strip()
            continue
        if _looks_like_note(cells) and not _IDENTIFIER.match(var):
            continue  # a note or source line under the table
        if tcell:
            table = tcell
        if not table:
            raise InputError(
                f"{file_name}, sheet {sheet.name!r}, row {rownum}: variable {var!r} has no table name "
                "and no table name above it",
                hint="fill in the table name column for the first variable of each table")
        key = (table.lower(), var.lower())
        if key in seen:
            first_row, first = seen[key]
            also = "" if first == var else f", the second spelt {var!r}"
            raise InputError(
                f"{file_name}, sheet {sheet.name!r}: variable {first!r} of table {table!r} appears twice "
                f"(rows {first_row} and {rownum}{also})",
                hint="remove the duplicate row from the catalogue (each table and variable once), then load again")
        seen[key] = (rownum, var)
        variables.append({
            "dataset": dataset, "table_name": table, "variable": var, "description": desc, "values": vals,
            "data_type": _cell(cells, cols.get("data_type")),
            "value_format": _cell(cells, cols.get("value_format")),
            "coverage": _cell(cells, cols.get("coverage")),
            "notes": _cell(cells, cols.get("notes")),
            "source_file": file_name, "sheet": sheet.name, "source_row": rownum,
        })
    for v in variables:
        spec = parse_values(v["values"])
        v["range_min"] = spec.value_range[0] if spec.value_range else None
        v["range_max"] = spec.value_range[1] if spec.value_range else None
        if spec.value_format and not v["value_format"]:
            v["value_format"] = spec.value_format
        v["n_codes"] = len(spec.codes)
        v["code_list"] = None
        if spec.codes:
            name = f"{v['table_name']}.{v['variable']}"
            v["code_list"] = name
            for code, label in spec.codes:
                codes.append({"dataset": dataset, "code_list": name, "table_name": v["table_name"],
                              "variable": v["variable"], "code": code, "label": label,
                              "source_file": file_name, "sheet": sheet.name, "source_row": v["source_row"]})
        else:
            text = f"{v['values']} {v['description']}".lower()
            for ln in lookup_names:
                if ln.lower() in text or ln.lower().replace("_", " ") in text:
                    v["code_list"] = ln
                    break
    return variables, codes


def _lookup_header(sheet: Sheet) -> tuple[int, int, int] | None:
    """(row index, code column, label column) of a lookup sheet's header."""
    for i, (_rownum, cells) in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
        norm = [normalise_heading(c) if c else "" for c in cells]
        code_j = next((j for j, h in enumerate(norm) if h and _CODE_HEADING.search(h)), None)
        if code_j is None:
            continue
        label_j = next((j for j, h in enumerate(norm) if j != code_j and h and _LABEL_HEADING.search(h)), None)
        if label_j is None:
            label_j = next((j for j, h in enumerate(norm) if j != code_j and h), None)
        if label_j is not None:
            return i, code_j, label_j
    return None


def _read_lookup(sheet: Sheet, file_name: str, dataset: str) -> list[dict] | None:
    hdr = _lookup_header(sheet)
    named = bool(_LOOKUP_SHEET.search(sheet.name))
    if hdr is None:
        if not named:
            return None
        start, code_j, label_j = -1, 0, 1
    else:
        start, code_j, label_j = hdr
    out: list[dict] = []
    seen: dict[str, int] = {}
    for rownum, cells in sheet.rows[start + 1:]:
        code, label = _cell(cells, code_j), _cell(cells, label_j)
        if not code or (not label and _looks_like_note(cells)):
            continue
        if code in seen:
            raise InputError(
                f"{file_name}, sheet {sheet.name!r}: code {code!r} appears twice (rows {seen[code]} and {rownum})",
                hint="remove the duplicate row from the lookup sheet, then load again")
        seen[code] = rownum
        out.append({"dataset": dataset, "code_list": sheet.name, "table_name": None, "variable": None,
                    "code": code, "label": label or code, "source_file": file_name, "sheet": sheet.name,
                    "source_row": rownum})
    return out or None


def dataset_for(path: str | os.PathLike, tables: Iterable[str] = ()) -> str:
    """The dataset key of a catalogue file: by its published file name, else by its tables, else its stem."""
    name = Path(path).name.lower()
    known = _catalogue_datasets()
    if name in known:
        return known[name]
    votes: dict[str, int] = {}
    model_tables = set(MODEL.table_names)
    for t in tables:
        if t in model_tables:
            ds = MODEL.table(t).dataset
            votes[ds] = votes.get(ds, 0) + 1
    if votes:
        return max(sorted(votes), key=lambda k: votes[k])
    return re.sub(r"[^a-z0-9]+", "_", Path(path).stem.lower()).strip("_")


def read_catalogue(path: str | os.PathLike, *, dataset: str | None = None) -> Catalogue:
    """Read one Data First ODS catalogue.

    Raises :class:`InputError` naming the file (and sheet) for a file that is not ODS, corrupt, password-protected,
    has no variable dictionary sheet, or lists a variable twice.
    """
    path = Path(path)
    wb = read_workbook(path)
    file_name = path.name
    headers: list[tuple[Sheet, _Header]] = []
    others: list[Sheet] = []
    skipped: list[tuple[str, str, str]] = []
    for sheet in wb.sheets:
        hdr = find_header(sheet)
        if hdr is not None:
            headers.append((sheet, hdr))
        elif _SKIP_SHEET.match(sheet.name.strip()):
            skipped.append((file_name, sheet.name, "cover, contents or notes sheet"))
        else:
            others.append(sheet)
    if not headers:
        names = ", ".join(repr(s.name) for s in wb.sheets) or "none"
        raise InputError(
            f"{file_name}: no variable dictionary sheet found (sheets: {names})",
            hint="a dictionary sheet needs a header row with a variable column (Variable / Variable Name / Field) "
                 "and a description or values column, within its first "
                 f"{HEADER_SCAN_ROWS} rows; check this is a Data First catalogue")
    table_cells: list[str] = []
    for sheet, hdr in headers:
        j = hdr.columns.get("table_name")
        if j is not None:
            table_cells.extend(_cell(c, j) for _, c in sheet.rows[hdr.row_index + 1:] if _cell(c, j))
        else:
            table_cells.append(sheet.name)
    ds = dataset or dataset_for(path, table_cells)

    code_rows: list[dict] = []
    lookup_names: list[str] = []
    for sheet in others:
        rows = _read_lookup(sheet, file_name, ds)
        if rows is None:
            skipped.append((file_name, sheet.name, "neither a variable dictionary nor a lookup sheet"))
        else:
            code_rows.extend(rows)
            lookup_names.append(sheet.name)

    var_rows: list[dict] = []
    seen: dict[tuple[str, str], str] = {}
    for sheet, hdr in headers:
        rows, codes = _read_dictionary(sheet, hdr, file_name, ds, lookup_names)
        for r in rows:
            key = (r["table_name"].lower(), r["variable"].lower())
            if key in seen:
                raise InputError(
                    f"{file_name}: variable {r['variable']!r} of table {r['table_name']!r} appears twice "
                    f"(sheet {seen[key]!r} and sheet {sheet.name!r}, row {r['source_row']})",
                    hint="remove the duplicate row from the catalogue, then load again")
            seen[key] = sheet.name
        var_rows.extend(rows)
        code_rows.extend(codes)
    if not var_rows:
        raise InputError(f"{file_name}, sheet {headers[0][0].name!r}: the dictionary has a header but no variables",
                         hint="check the sheet lists variables under its header row")
    variables = pd.DataFrame(var_rows, columns=VARIABLE_COLUMNS)
    code_lists = pd.DataFrame(code_rows, columns=CODE_LIST_COLUMNS)
    return Catalogue(_typed(variables), code_lists.astype({"source_row": "int64"}), skipped, [str(path)])


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({"source_row": "int64", "n_codes": "int64", "range_min": "float64", "range_max": "float64"})


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, and the ``.ods`` files (any case) inside folders, in a stable order."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() == ".ods")
            if not found:
                raise InputError(f"folder {p} has no .ods catalogue files",
                                 hint="pass the folder holding the Data First catalogues, or the files themselves")
            out.extend(found)
        else:
            out.append(p)
    return out


def read_catalogues(paths: Iterable[str | os.PathLike]) -> Catalogue:
    """Read several catalogues (files or folders) into one; all must read cleanly or an error is raised."""
    files = expand_paths(paths)
    if not files:
        raise InputError("no catalogue files given", hint="pass one or more .ods files or a folder")
    parts = [read_catalogue(f) for f in files]
    by_dataset: dict[str, str] = {}
    for f, part in zip(files, parts, strict=True):
        for ds in part.datasets:
            if ds in by_dataset:
                raise InputError(
                    f"{f.name} and {by_dataset[ds]} both describe dataset {ds!r}",
                    hint="load one catalogue per dataset (remove the older version from the list)")
            by_dataset[ds] = f.name
    return merge(parts)


def merge(parts: Sequence[Catalogue]) -> Catalogue:
    if not parts:
        return Catalogue.empty()
    variables = pd.concat([p.variables for p in parts], ignore_index=True)
    code_lists = pd.concat([p.code_lists for p in parts if len(p.code_lists)] or [parts[0].code_lists],
                           ignore_index=True)
    return Catalogue(variables, code_lists, [s for p in parts for s in p.skipped_sheets],
                     [f for p in parts for f in p.files])
