"""Write Data First catalogues for synthetic data, in the layouts of the published ODS files.

One file per dataset, under the eight published file names (annex A6), so that the demo discovers variables
exactly as a user does with the real files:

* ``OASys_ONS_data_catalogue_NOV25_External.ods`` follows the documented OASys layout: a ``data_dictionary``
  sheet with ``Table Name | Variable Name | Variable Description | Values (optional)`` (header on row 1, the table
  name on every row) and a ``drug_lookup`` sheet;
* the other seven follow the GOV.UK accessible-spreadsheet pattern: a cover sheet, a contents sheet, a notes sheet,
  then dictionary sheets with a title and notes above the header row and blank rows between blocks. Their exact
  layouts are not public, so each uses a different one of the heading variants the reader accepts (and one splits
  its dictionary into a sheet per table), which keeps the reader honest.

Personal identifier columns (names, date of birth, postcode) are left out: the published catalogues describe
de-identified research extracts.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..datafirst import MODEL, Column, DataFirstModel, Dataset, Table
from ..datafirst import codes as K
from ..errors import OutputExistsError
from ..files import atomic_path
from .ods import SheetSpec, write_ods
from .values import render_values

OASYS_FILE = "OASys_ONS_data_catalogue_NOV25_External.ods"
OASYS_HEADER = ("Table Name", "Variable Name", "Variable Description", "Values (optional)")
DATA_TYPES = {"string": "Text", "int": "Integer", "float": "Decimal", "date": "Date", "bool": "Boolean"}

#: The eight published catalogue file names, by dataset (annex A6).
CATALOGUE_FILES: dict[str, str] = {d.key: d.catalogue_file for d in MODEL.datasets if d.catalogue_file}


@dataclass(frozen=True)
class Layout:
    """How one catalogue file lays out its dictionary."""

    headings: tuple[str, ...]  # among: table, variable, description, values, type, format, coverage
    labels: tuple[str, ...]  # the heading texts written
    values_sep: str = "\n"
    table_on_every_row: bool = False
    table_title_rows: bool = False  # a row holding only the table name above each block
    sheet_per_table: bool = False


LAYOUTS: dict[str, Layout] = {
    "mags": Layout(("table", "variable", "description", "values", "type", "coverage"),
                   ("Table", "Variable", "Description", "Values", "Type", "Coverage")),
    "crown": Layout(("table", "variable", "description", "values", "format"),
                    ("Table name", "Variable name", "Variable description", "Code list", "Format"),
                    values_sep=" / ", table_on_every_row=True),
    "prison": Layout(("table", "variable", "description", "values"),
                     ("Table", "Field", "Field description", "Values"), values_sep="; ",
                     table_on_every_row=True, sheet_per_table=True),
    "probation": Layout(("table", "variable", "description", "values", "type", "coverage"),
                        ("Table Name", "Variable Name", "Description", "Values (optional)", "Data type",
                         "Time coverage")),
    "family": Layout(("table", "variable", "description", "values", "type"),
                     ("Table", "Variable", "Variable description", "Valid values", "Type"),
                     table_title_rows=True),
    "civil": Layout(("table", "variable", "description", "values", "format"),
                    ("Table", "Field name", "Description", "Values", "Format"), values_sep="; "),
    "linking": Layout(("table", "variable", "description", "values", "type"),
                      ("Table", "Variable", "Description", "Values", "Type"), table_on_every_row=True),
}


def column_values(c: Column, sep: str = "\n") -> str:
    """The values cell for a model column: its codes, its range, its date format, or blank."""
    if c.codes is not None:
        mark = sep.strip()
        if mark and any(mark in code or mark in label for code, label in c.codes.codes):
            sep = "\n"  # a separator that appears inside a code or label would make the cell ambiguous
        return render_values(c.codes.codes, sep)
    if c.value_range is not None:
        lo, hi = c.value_range
        return f"{_num(lo)} - {_num(hi)}"
    if c.dtype == "date":
        return "YYYY-MM-DD"
    if c.dtype == "bool":
        return render_values((("TRUE", "Yes"), ("FALSE", "No")), sep)
    return ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x}"


def _coverage(d: Dataset) -> str:
    a, b = d.coverage
    return f"{a:%b %Y} to {b:%b %Y}"


def _field(c: Column, t: Table, d: Dataset, heading: str, sep: str) -> str:
    return {
        "table": t.name, "variable": c.name, "description": c.description, "values": column_values(c, sep),
        "type": DATA_TYPES[c.dtype], "format": "YYYY-MM-DD" if c.dtype == "date" else DATA_TYPES[c.dtype],
        "coverage": _coverage(d),
    }[heading]


def dictionary_rows(dataset: Dataset) -> list[tuple[str, str, str, str]]:
    """``(table, variable, description, values)`` for every analysis column of a dataset."""
    return [(t.name, c.name, c.description, column_values(c)) for t in dataset.tables for c in t.columns
            if not c.identifier]


def _cover(d: Dataset, sheets: Sequence[tuple[str, str]], n_vars: int) -> SheetSpec:
    rows = [
        [f"Ministry of Justice Data First: {d.title} data catalogue"],
        [f"This catalogue describes the {d.title.lower()} dataset ({d.source_system}) as shared with accredited "
         "researchers: its tables, variables, descriptions and values."],
        [],
        ["Synthetic data"],
        ["This copy was written by the BOLD Prevention toolkit from its Data First model, for the synthetic "
         "extracts it generates. It is not the catalogue published by the Ministry of Justice."],
        [],
        ["Coverage"],
        [_coverage(d)],
        [],
        ["Contents"],
        [f"{len(sheets)} dictionary sheet(s) describing {len(d.tables)} table(s) and {n_vars} variables."],
        [],
        ["De-identification"],
        ["Personal identifiers used for linking are not shared and are not listed."],
        [],
        ["Contact"],
        ["See the Ministry of Justice Data First pages on GOV.UK for the published catalogues and contacts."],
    ]
    return SheetSpec("Cover", rows, bold_rows=(0, 3, 6, 9, 12, 15), widths=(24.0,))


def _contents(sheets: Sequence[tuple[str, str]]) -> SheetSpec:
    rows: list[list[str]] = [["Table of contents"],
                             ["This worksheet contains one table."],
                             ["Sheet name", "Sheet title"],
                             ["Notes", "Notes used in this workbook"]]
    rows += [[name, title] for name, title in sheets]
    return SheetSpec("Contents", rows, bold_rows=(0, 2), widths=(5.0, 16.0))


def _notes(d: Dataset) -> SheetSpec:
    rows = [["Notes"], ["This worksheet contains one table."], ["Note number", "Note text"],
            ["[note 1]", "Values are listed as code = label; codes are stored in the data, labels explain them."],
            ["[note 2]", "Internal system identifiers are replaced by hashes (columns ending _hash)."],
            ["[note 3]", f"Coverage of the {d.key} dataset: {_coverage(d)}."]]
    return SheetSpec("Notes", rows, bold_rows=(0, 2), widths=(3.0, 20.0))


def _dictionary_sheet(name: str, title: str, tables: Sequence[Table], d: Dataset, lay: Layout) -> SheetSpec:
    rows: list[list[str]] = [[title],
                             ["This worksheet contains one table. Some cells refer to notes in the Notes "
                              "worksheet [note 1] [note 2]."],
                             []]
    header_at = len(rows)
    rows.append(list(lay.labels))
    for i, t in enumerate(tables):
        if i and not lay.table_on_every_row:
            rows.append([])  # a blank row between table blocks
        if lay.table_title_rows:
            rows.append([t.name])
        first = True
        for c in t.columns:
            if c.identifier:
                continue
            row = [_field(c, t, d, h, lay.values_sep) for h in lay.headings]
            if lay.table_title_rows or (not lay.table_on_every_row and not first):
                row[0] = ""
            rows.append(row)
            first = False
    rows += [[], [f"Source: Ministry of Justice, Data First {d.title.lower()} catalogue (synthetic copy)."]]
    widths = tuple(12.0 if h in ("description", "values") else 6.0 for h in lay.headings)
    return SheetSpec(name, rows, bold_rows=(0, header_at), widths=widths)


def catalogue_sheets(d: Dataset) -> list[SheetSpec]:
    """The sheets of a dataset's synthetic catalogue."""
    if d.key == "oasys":
        return oasys_sheets(dictionary_rows(d), K.DRUG_LOOKUP.codes)
    lay = LAYOUTS.get(d.key, LAYOUTS["linking"])
    n_vars = sum(1 for t in d.tables for c in t.columns if not c.identifier)
    if lay.sheet_per_table:
        dict_sheets = [(f"Table_{i + 1}", f"Data dictionary: {t.name}", [t]) for i, t in enumerate(d.tables)]
    else:
        dict_sheets = [("Data_dictionary", f"Data dictionary: {d.title}", list(d.tables))]
    contents = [(n, title) for n, title, _ in dict_sheets]
    return [_cover(d, contents, n_vars), _contents(contents), _notes(d),
            *[_dictionary_sheet(n, title, ts, d, lay) for n, title, ts in dict_sheets]]


def oasys_sheets(rows: Sequence[Sequence[str]], drugs: Sequence[tuple[str, str]]) -> list[SheetSpec]:
    """The documented OASys layout: ``data_dictionary`` (header on row 1, table on every row) and ``drug_lookup``."""
    dictionary = [list(OASYS_HEADER), *[list(r) for r in rows]]
    lookup = [["drug_code", "drug_name"], *[[c, lab] for c, lab in drugs]]
    return [SheetSpec("data_dictionary", dictionary, bold_rows=(0,), widths=(8.0, 6.0, 14.0, 10.0)),
            SheetSpec("drug_lookup", lookup, bold_rows=(0,), widths=(3.0, 8.0))]


def write_catalogue(path: str | os.PathLike, sheets: Sequence[SheetSpec], *, overwrite: bool = True) -> Path:
    """Write catalogue sheets to ``path`` atomically."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        write_ods(tmp, sheets)
    return Path(path)


def write_synthetic_catalogues(out_dir: str | os.PathLike, *, overwrite: bool = False,
                               model: DataFirstModel = MODEL) -> list[Path]:
    """Write the eight Data First catalogues for the model's datasets into ``out_dir``; returns their paths.

    Existing files are replaced only with ``overwrite=True`` (checked for every file before any is written).
    """
    out = Path(out_dir)
    datasets = [d for d in model.datasets if d.catalogue_file]
    targets = [out / d.catalogue_file for d in datasets]
    if not overwrite:
        existing = [p.name for p in targets if p.exists()]
        if existing:
            raise OutputExistsError(f"{out} already holds catalogue files: {', '.join(existing)}",
                                    hint="pass --overwrite to replace them, or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    return [write_catalogue(p, catalogue_sheets(d)) for d, p in zip(datasets, targets, strict=True)]


# ------------------------------------------------------------------------------------ the real OASys variables
def reference_oasys_rows() -> list[tuple[str, str, str, str]]:
    """Real OASys catalogue variables (names, descriptions, values) as documented in public notes on the
    ``OASys_ONS_data_catalogue_NOV25_External.ods`` ``data_dictionary`` sheet."""
    text = resources.files(__package__).joinpath("data/oasys_reference.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [(r["Table Name"], r["Variable Name"], r["Variable Description"], r["Values (optional)"])
            for r in reader]


def write_reference_oasys(path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write the real OASys variables in the published OASys layout (for tests and evaluation)."""
    return write_catalogue(path, oasys_sheets(reference_oasys_rows(), K.DRUG_LOOKUP.codes), overwrite=overwrite)
