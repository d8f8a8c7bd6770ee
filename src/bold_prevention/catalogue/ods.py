"""Read and write OpenDocument spreadsheets (ODS) as plain rows of text.

Reading streams ``content.xml`` with ``xml.etree.ElementTree.iterparse`` instead of building the whole document
tree (odfpy, or pandas over odfpy, takes seconds on a catalogue of a few thousand rows). Repeated rows and columns
(``table:number-rows-repeated``, which spreadsheet programs use for the empty tail of a sheet) are counted, never
expanded into memory. Writing uses odfpy, then rewrites the package with fixed timestamps so that the same content
always gives the same bytes.

Every check that can fail on a user's file raises :class:`~bold_prevention.errors.InputError` naming the file:
not an ODS file (including an Excel workbook given by mistake), a corrupt package, or a password-protected one.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from ..errors import InputError

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
_NS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_NS_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_NS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_NS_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"

T_TABLE = f"{{{_NS_TABLE}}}table"
T_ROW = f"{{{_NS_TABLE}}}table-row"
T_CELL = f"{{{_NS_TABLE}}}table-cell"
T_COVERED = f"{{{_NS_TABLE}}}covered-table-cell"
A_NAME = f"{{{_NS_TABLE}}}name"
A_ROWS_REP = f"{{{_NS_TABLE}}}number-rows-repeated"
A_COLS_REP = f"{{{_NS_TABLE}}}number-columns-repeated"
X_P = f"{{{_NS_TEXT}}}p"
X_H = f"{{{_NS_TEXT}}}h"
X_S = f"{{{_NS_TEXT}}}s"
X_TAB = f"{{{_NS_TEXT}}}tab"
X_LB = f"{{{_NS_TEXT}}}line-break"
X_C = f"{{{_NS_TEXT}}}c"
X_NOTE = f"{{{_NS_TEXT}}}note"
O_ANNOTATION = f"{{{_NS_OFFICE}}}annotation"
O_VALUE_ATTRS = tuple(f"{{{_NS_OFFICE}}}{a}" for a in
                      ("string-value", "value", "date-value", "time-value", "boolean-value"))

#: A non-empty row or cell repeated more than this many times is cut short (spreadsheet filler, not data).
MAX_REPEAT = 1000
MAX_COLUMNS = 1024


@dataclass
class Sheet:
    """One worksheet: its name and its non-empty rows as ``(row_number, cells)`` (row numbers start at 1)."""

    name: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


@dataclass
class Workbook:
    path: Path
    sheets: list[Sheet]

    @property
    def sheet_names(self) -> list[str]:
        return [s.name for s in self.sheets]


def _describe_non_ods(path: Path, head: bytes) -> str:
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "is an old-style Excel (.xls) or an encrypted Office file, not an ODS spreadsheet"
    if head.startswith(b"%PDF"):
        return "is a PDF document, not an ODS spreadsheet"
    if head.lstrip().startswith((b"<?xml", b"<office:document")):
        return "is a flat XML file, not a packaged ODS spreadsheet"
    if not head:
        return "is empty, not an ODS spreadsheet"
    return "is not an ODS spreadsheet (it is not an OpenDocument zip package)"


def open_package(path: str | os.PathLike) -> zipfile.ZipFile:
    """Open an ODS package after checking it is one, is intact and is not password-protected."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"catalogue file {path} does not exist", hint="check the path and try again")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an ODS file", hint="pass the .ods files (or a folder to scan)")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(b"PK"):
        raise InputError(f"{path.name} {_describe_non_ods(path, head)}",
                         hint="pass the Data First catalogue as published on GOV.UK (an .ods file); "
                              "if you have it as .xlsx, save it as ODF Spreadsheet (.ods) first")
    try:
        zf = zipfile.ZipFile(path)
        names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(f"{path.name} is a corrupt ODS file (the zip package cannot be read: {e})",
                         hint="download the catalogue again; the file is damaged or incomplete") from e
    try:
        if "mimetype" not in names:
            if "[Content_Types].xml" in names:
                raise InputError(f"{path.name} is an Excel (.xlsx) workbook, not an ODS spreadsheet",
                                 hint="save it as ODF Spreadsheet (.ods) or pass the original .ods catalogue")
            raise InputError(f"{path.name} is not an ODS spreadsheet (the package has no mimetype entry)",
                             hint="pass the Data First catalogue as published (an .ods file)")
        mimetype = zf.read("mimetype").decode("ascii", "replace").strip()
        if mimetype != ODS_MIMETYPE:
            raise InputError(f"{path.name} is an OpenDocument file of type {mimetype!r}, not a spreadsheet",
                             hint="pass the catalogue spreadsheet (.ods), not a text or presentation document")
        if "META-INF/manifest.xml" in names:
            manifest = zf.read("META-INF/manifest.xml")
            if b"encryption-data" in manifest:
                raise InputError(f"{path.name} is password-protected (its content is encrypted)",
                                 hint="open it in LibreOffice with the password and save a copy without one, "
                                      "or use the catalogue as published on GOV.UK")
        if "content.xml" not in names:
            raise InputError(f"{path.name} is a corrupt ODS file (content.xml is missing)",
                             hint="download the catalogue again; the file is damaged or incomplete")
    except InputError:
        zf.close()
        raise
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        zf.close()
        raise InputError(f"{path.name} is a corrupt ODS file ({e})",
                         hint="download the catalogue again; the file is damaged or incomplete") from e
    return zf


_WS = re.compile(r"[ \t\r\n]+")


def _collapse(t: str | None) -> str:
    if not t:
        return ""
    return _WS.sub(" ", t) if ("\n" in t or "\t" in t or "\r" in t or "  " in t) else t


def _inline_text(el: ET.Element) -> str:
    """Text of a paragraph: runs of white space in the XML collapse to one space (ODF 1.2, 6.1.2); spaces,
    tabs and line breaks written as elements are kept."""
    parts = [_collapse(el.text)]
    for ch in el:
        tag = ch.tag
        if tag == X_S:
            parts.append(" " * int(ch.get(X_C, "1") or 1))
        elif tag == X_TAB:
            parts.append("\t")
        elif tag == X_LB:
            parts.append("\n")
        elif tag in (X_NOTE, O_ANNOTATION):
            pass
        else:
            parts.append(_inline_text(ch))
        parts.append(_collapse(ch.tail))
    return "".join(parts)


def _cell_text(cell: ET.Element) -> str:
    paras = [_inline_text(ch) for ch in cell if ch.tag in (X_P, X_H)]
    if paras:
        return "\n".join(paras).strip()
    for a in O_VALUE_ATTRS:
        v = cell.get(a)
        if v is not None:
            return v.strip()
    return ""


def _row_cells(row: ET.Element) -> list[str]:
    cells: list[str] = []
    pending_empty = 0
    for cell in row:
        if cell.tag not in (T_CELL, T_COVERED):
            continue
        rep = int(cell.get(A_COLS_REP, "1") or 1)
        text = _cell_text(cell)
        if not text:
            pending_empty += rep
            continue
        if pending_empty:
            cells.extend([""] * min(pending_empty, MAX_COLUMNS - len(cells)))
            pending_empty = 0
        cells.extend([text] * min(rep, MAX_REPEAT, MAX_COLUMNS - len(cells)))
        if len(cells) >= MAX_COLUMNS:
            break
    return cells


def read_workbook(path: str | os.PathLike) -> Workbook:
    """Every sheet of an ODS file as rows of text (empty rows dropped, row numbers kept for provenance)."""
    path = Path(path)
    zf = open_package(path)
    sheets: list[Sheet] = []
    try:
        with zf.open("content.xml") as fh:
            current: Sheet | None = None
            rownum = 0
            depth_table = 0
            for event, el in ET.iterparse(fh, events=("start", "end")):
                tag = el.tag
                if event == "start":
                    if tag == T_TABLE:
                        depth_table += 1
                        if depth_table == 1:
                            current = Sheet(name=el.get(A_NAME, f"Sheet{len(sheets) + 1}"))
                            rownum = 0
                    continue
                if tag == T_ROW and current is not None and depth_table == 1:
                    rep = int(el.get(A_ROWS_REP, "1") or 1)
                    cells = _row_cells(el)
                    if cells:
                        for _ in range(min(rep, MAX_REPEAT)):
                            rownum += 1
                            current.rows.append((rownum, list(cells)))
                        rownum += max(0, rep - MAX_REPEAT)
                    else:
                        rownum += rep
                    el.clear()
                elif tag == T_TABLE:
                    depth_table -= 1
                    if depth_table == 0 and current is not None:
                        sheets.append(current)
                        current = None
                    el.clear()
    except ET.ParseError as e:
        raise InputError(f"{path.name} is a corrupt ODS file (content.xml is not well-formed XML: {e})",
                         hint="download the catalogue again; the file is damaged or incomplete") from e
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(f"{path.name} is a corrupt ODS file ({e})",
                         hint="download the catalogue again; the file is damaged or incomplete") from e
    finally:
        zf.close()
    return Workbook(path=path, sheets=sheets)


# ------------------------------------------------------------------------------------------------------ writing
#: Fixed timestamp for the package entries (deterministic output).
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass
class SheetSpec:
    """A sheet to write: rows of cell texts (``None`` or ``""`` for a blank cell, ``[]`` for a blank row).

    ``bold_rows`` are row indexes (0-based) written in bold (titles, header rows); ``widths`` column widths in cm.
    """

    name: str
    rows: Sequence[Sequence[str | None]]
    bold_rows: Iterable[int] = ()
    widths: Sequence[float] = ()


def write_ods(path: str | os.PathLike, sheets: Sequence[SheetSpec]) -> None:
    """Write sheets of text to ``path`` as an ODS package (multi-line cells as one paragraph per line)."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import (
        ParagraphProperties,
        Style,
        TableCellProperties,
        TableColumnProperties,
        TextProperties,
    )
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    bold = Style(name="bold", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    doc.automaticstyles.addElement(bold)
    title = Style(name="title", family="table-cell")
    title.addElement(TextProperties(fontweight="bold", fontsize="14pt"))
    doc.automaticstyles.addElement(title)
    wrap = Style(name="wrap", family="table-cell")
    wrap.addElement(TableCellProperties(wrapoption="wrap", verticalalign="top"))
    wrap.addElement(ParagraphProperties())
    doc.automaticstyles.addElement(wrap)
    col_styles: dict[float, Style] = {}

    for spec in sheets:
        t = Table(name=spec.name)
        for w in spec.widths:
            st = col_styles.get(w)
            if st is None:
                st = Style(name=f"col{len(col_styles)}", family="table-column")
                st.addElement(TableColumnProperties(columnwidth=f"{w}cm"))
                doc.automaticstyles.addElement(st)
                col_styles[w] = st
            t.addElement(TableColumn(stylename=st))
        bold_rows = set(spec.bold_rows)
        for i, row in enumerate(spec.rows):
            tr = TableRow()
            if not row:
                tr.addElement(TableCell())
            for j, value in enumerate(row):
                if value is None or value == "":
                    tr.addElement(TableCell())
                    continue
                style = (title if (i == 0 and j == 0 and i in bold_rows) else bold) if i in bold_rows else wrap
                tc = TableCell(valuetype="string", stylename=style)
                for line in str(value).split("\n"):
                    tc.addElement(P(text=line))
                tr.addElement(tc)
            t.addElement(tr)
        doc.spreadsheet.addElement(t)

    buf = io.BytesIO()
    doc.write(buf)
    _repack(buf.getvalue(), Path(path))


def _repack(data: bytes, path: Path) -> None:
    """Rewrite a package with the mimetype first and stored, and fixed timestamps."""
    src = zipfile.ZipFile(io.BytesIO(data))
    names = src.namelist()
    order = ["mimetype"] + sorted(n for n in names if n != "mimetype")
    with open(path, "wb") as fh, zipfile.ZipFile(fh, "w") as dst:
        for n in order:
            content = src.read(n)
            if n == "meta.xml":
                content = _strip_dates(content)
            info = zipfile.ZipInfo(n, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED if n == "mimetype" else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, content)


def _strip_dates(meta: bytes) -> bytes:
    return re.sub(rb"<meta:(creation-date|date)>[^<]*</meta:\1>|<dc:date>[^<]*</dc:date>", b"", meta)


def write_package(path: str | os.PathLike, entries: dict[str, bytes]) -> None:
    """Write an arbitrary package (used to build damaged or encrypted test files)."""
    with zipfile.ZipFile(path, "w") as zf:
        for n, content in entries.items():
            info = zipfile.ZipInfo(n, date_time=_ZIP_TIME)
            zf.writestr(info, content)
