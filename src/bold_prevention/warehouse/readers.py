"""Reading extract files: which file holds which model table, and how DuckDB should read it.

A source folder holds one file per model table (``<table>.parquet`` or ``<table>.csv``, optionally ``.csv.gz``),
or a table split into numbered parts as Data First delivers large tables
(``moj_probation_flatfile_01.parquet`` ... ``_30``), or a sub-folder named after the table holding its parts.
The synthetic generator's output folder (with ``extracts/`` inside) is accepted as it is.

Nothing here loads data: :func:`scan_source` maps files to tables and :func:`inspect_source` opens each file just
far enough to find its format problems (corrupted Parquet, an empty file, a CSV with a delimiter or encoding we cannot
read) and its columns. The loader then reads the files with DuckDB's own ``read_parquet`` / ``read_csv``.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..datafirst import MODEL
from ..errors import InputError

#: Delimiters a CSV extract may use; anything else is reported as an unreadable delimiter.
CSV_DELIMITERS = (",", "\t", ";", "|")
_DELIM_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_PART = re.compile(r"^(?P<stem>.+?)[_-](?:part[_-]?)?(?P<part>\d{1,4})$", re.IGNORECASE)
_IGNORED_NAMES = {"manifest.json", "_success", "readme.md", "readme.txt", ".ds_store"}
#: How much of a CSV file is decoded up front to detect a non-UTF-8 encoding (the rest is checked by DuckDB).
_ENCODING_PROBE_BYTES = 8 << 20


def delimiter_name(d: str) -> str:
    return _DELIM_NAMES.get(d, repr(d))


@dataclass
class TableFiles:
    """The file(s) holding one model table."""

    table: str
    fmt: str  # "parquet" | "csv"
    files: list[Path]

    @property
    def label(self) -> str:
        if len(self.files) == 1:
            return self.files[0].name
        return f"{self.files[0].name} ... {self.files[-1].name} ({len(self.files)} parts)"


@dataclass
class SourceScan:
    """What a source folder holds: model tables, unknown tables and files that cannot be used."""

    root: Path
    tables: dict[str, TableFiles] = field(default_factory=dict)
    #: file name -> message (unknown table names, unsupported formats, mixed formats).
    unknown: dict[str, str] = field(default_factory=dict)
    #: table -> message, for tables whose files cannot be used together (mixed formats).
    broken: dict[str, str] = field(default_factory=dict)


@dataclass
class FileInfo:
    """The outcome of opening a table's files: the columns found (name -> DuckDB type) and how to read them."""

    table: str
    fmt: str
    files: list[Path]
    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    error: str | None = None
    #: Short kind of the error: corrupted, empty, delimiter, encoding, unreadable.
    error_kind: str | None = None
    notes: list[str] = field(default_factory=list)

    def relation_sql(self) -> str:
        """A DuckDB table function reading the files (CSV columns as text, typed later by the loader)."""
        paths = "[" + ", ".join(_sql_str(str(p)) for p in self.files) + "]"
        if self.fmt == "parquet":
            return f"read_parquet({paths}, union_by_name = true)"
        return (f"read_csv({paths}, delim = {_sql_str(self.delimiter or ',')}, header = true, all_varchar = true, "
                "quote = '\"', escape = '\"', union_by_name = true, null_padding = false, "
                "strict_mode = true, nullstr = '')")


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _suffix_format(name: str) -> tuple[str, str] | None:
    """(stem, format) for a supported extract file name, else None."""
    low = name.lower()
    for suf, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".csv.gz", "csv"), (".csv", "csv"),
                     (".tsv", "csv"), (".txt", "csv")):
        if low.endswith(suf):
            return name[: -len(suf)], fmt
    return None


def _table_of(stem: str) -> str | None:
    """The model table a file stem names (``table`` or ``table_NN``), else None."""
    known = {t.lower(): t for t in MODEL.table_names}
    s = stem.lower()
    if s in known:
        return known[s]
    m = _PART.match(s)
    if m and m.group("stem") in known:
        return known[m.group("stem")]
    return None


def _suggest(stem: str) -> str:
    base = _PART.match(stem.lower())
    s = base.group("stem") if base and base.group("stem") else stem.lower()
    close = difflib.get_close_matches(s, MODEL.table_names, n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def extracts_root(source_dir: str | Path) -> Path:
    """The folder holding the extract files: ``source_dir`` itself, or its ``extracts/`` sub-folder."""
    root = Path(source_dir)
    if not root.exists():
        raise InputError(f"source folder {root} does not exist",
                         hint="pass the folder that holds the extract files (or the synthetic output folder)")
    if root.is_file():
        raise InputError(f"{root} is a file, not a folder",
                         hint="pass the folder that holds the extract files, one file (or set of parts) per table")
    sub = root / "extracts"
    if sub.is_dir() and not any(_suffix_format(p.name) for p in root.iterdir() if p.is_file()):
        return sub
    return root


def scan_source(source_dir: str | Path) -> SourceScan:
    """Map the files of a source folder to model tables (without opening them)."""
    root = extracts_root(source_dir)
    scan = SourceScan(root=root)
    found: dict[str, list[tuple[str, Path]]] = {}
    for p in sorted(root.iterdir()):
        name = p.name
        if name.startswith(".") or name.lower() in _IGNORED_NAMES or name.startswith("_"):
            continue
        if p.is_dir():
            table = _table_of(name)
            if table is None:
                if name not in ("truth",):
                    scan.unknown[name + "/"] = (f"folder {name}/ does not name a table of the Data First model"
                                                f"{_suggest(name)}")
                continue
            parts = sorted(q for q in p.iterdir() if q.is_file() and _suffix_format(q.name)
                           and not q.name.startswith((".", "_")))
            if not parts:
                scan.broken[table] = f"folder {name}/ holds no .parquet or .csv files"
                continue
            for q in parts:
                found.setdefault(table, []).append((_suffix_format(q.name)[1], q))
            continue
        sf = _suffix_format(name)
        if sf is None:
            table = _table_of(p.stem.split(".")[0])
            if table is not None:
                scan.unknown[name] = (f"file {name} looks like table {table} but its format "
                                      f"({p.suffix or 'no extension'}) is not supported")
            continue
        stem, fmt = sf
        table = _table_of(stem)
        if table is None:
            scan.unknown[name] = f"file {name}: {stem!r} is not a table of the Data First model{_suggest(stem)}"
            continue
        found.setdefault(table, []).append((fmt, p))
    for table, items in found.items():
        fmts = {f for f, _ in items}
        if len(fmts) > 1:
            scan.broken[table] = (f"table {table} is given both as CSV and as Parquet "
                                  f"({', '.join(p.name for _, p in items)})")
            continue
        scan.tables[table] = TableFiles(table, fmts.pop(), sorted((p for _, p in items), key=_part_key))
    return scan


def _part_key(p: Path) -> tuple[int, str]:
    sf = _suffix_format(p.name)
    stem = sf[0] if sf else p.stem
    m = _PART.match(stem)
    return (int(m.group("part")) if m else -1, p.name)


# --------------------------------------------------------------------------------------------------------- opening
def inspect_files(tf: TableFiles, con: duckdb.DuckDBPyConnection, *, delimiter: str | None = None) -> FileInfo:
    """Open a table's files far enough to report format problems and list their columns."""
    info = FileInfo(tf.table, tf.fmt, list(tf.files))
    empty = [p for p in tf.files if p.stat().st_size == 0]
    if empty:
        info.error_kind = "empty"
        info.error = f"file {empty[0].name} is empty (0 bytes)"
        return info
    if tf.fmt == "parquet":
        _inspect_parquet(info, con)
    else:
        _inspect_csv(info, con, delimiter)
    return info


def _inspect_parquet(info: FileInfo, con: duckdb.DuckDBPyConnection) -> None:
    import pyarrow.parquet as pq

    for p in info.files:
        try:
            meta = pq.read_metadata(p)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for broken files
            info.error_kind = "corrupted"
            info.error = f"file {p.name} is not a readable Parquet file (corrupted or truncated): {_short(e)}"
            return
        if meta.num_columns == 0:
            info.error_kind = "empty"
            info.error = f"file {p.name} is an empty Parquet file (no columns)"
            return
    try:
        rows = con.execute(f"describe select * from {info.relation_sql()}").fetchall()
    except duckdb.Error as e:
        info.error_kind = "corrupted"
        info.error = f"Parquet file(s) {info.files[0].name} cannot be read: {_short(e)}"
        return
    info.columns = {r[0]: r[1] for r in rows}


def _inspect_csv(info: FileInfo, con: duckdb.DuckDBPyConnection, delimiter: str | None) -> None:
    first = info.files[0]
    for p in info.files:
        problem = _encoding_problem(p)
        if problem:
            info.error_kind = "encoding"
            info.error = problem
            return
    header = _first_line(first)
    if not header.strip():
        info.error_kind = "empty"
        info.error = f"file {first.name} has no header line (the file is empty)"
        return
    model_cols = set(MODEL.table(info.table).column_names)
    fields = {d: _split_header(header, d) for d in CSV_DELIMITERS}
    if delimiter is not None:
        chosen = delimiter
        if len(fields.get(chosen, _split_header(header, chosen))) <= 1:
            better = max(CSV_DELIMITERS, key=lambda d: (len(model_cols & set(fields[d])), len(fields[d])))
            if len(fields[better]) > 1:
                info.error_kind = "delimiter"
                info.error = (f"file {first.name} is not {delimiter_name(delimiter)}-delimited: its header splits "
                              f"into one column; it looks {delimiter_name(better)}-delimited")
                return
    else:
        chosen = max(CSV_DELIMITERS, key=lambda d: (len(model_cols & set(fields[d])), len(fields[d])))
    if len(fields.get(chosen) or _split_header(header, chosen)) <= 1:
        info.error_kind = "delimiter"
        info.error = (f"file {first.name}: cannot find the delimiter; the header line does not split into columns "
                      f"on comma, tab, semicolon or pipe (it starts {header[:60]!r})")
        return
    info.delimiter = chosen
    if chosen != ",":
        info.notes.append(f"{first.name} is {delimiter_name(chosen)}-delimited")
    try:
        rows = con.execute(f"describe select * from {info.relation_sql()}").fetchall()
    except duckdb.Error as e:
        info.error_kind, info.error = _csv_error(first.name, e)
        if info.error_kind == "delimiter" and "(line " not in info.error:
            for p in info.files:
                line = _first_ragged_line(p, chosen)
                if line:
                    info.error = (f"file {p.name}: line {line[0]} has {line[1]} fields but the header has "
                                  f"{line[2]} (a wrong delimiter, or delimiters inside unquoted values)")
                    break
        return
    info.columns = {r[0]: r[1] for r in rows}


def _csv_error(name: str, e: Exception) -> tuple[str, str]:
    msg = str(e)
    low = msg.lower()
    m = re.search(r"CSV Error on Line: (\d+)", msg)
    where = f" (line {m.group(1)})" if m else ""
    if "invalid unicode" in low or "not utf-8 encoded" in low:
        return "encoding", f"file {name} is not valid UTF-8 text{where}"
    if ("sniffing" in low or "expected" in low and "column" in low or "too many columns" in low
            or "delimiter" in low):
        return "delimiter", (f"file {name}: rows do not split into the same number of columns as the header"
                             f"{where} (a wrong delimiter, or delimiters inside unquoted values)")
    return "unreadable", f"file {name} cannot be read as CSV{where}: {_short(e)}"


def translate_read_error(info: FileInfo, e: Exception) -> tuple[str, str]:
    """(kind, message) for a DuckDB error raised while reading a table's files in full."""
    name = info.files[0].name if len(info.files) == 1 else f"{info.table} ({len(info.files)} parts)"
    m = re.search(r"file ['\"]?([^'\"\s]+\.(?:parquet|csv|csv\.gz|tsv|txt))", str(e), re.IGNORECASE)
    if m:
        name = Path(m.group(1)).name
    if info.fmt == "csv":
        return _csv_error(name, e)
    return "corrupted", f"file {name} is not a readable Parquet file (corrupted or truncated): {_short(e)}"


def _encoding_problem(p: Path) -> str | None:
    """A message if the start of a CSV file is not UTF-8 (with a guess at its real encoding), else None."""
    opener = _open_binary(p)
    with opener as fh:
        head = fh.read(_ENCODING_PROBE_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return f"file {p.name} is UTF-16 text; CSV extracts must be UTF-8"
    try:
        head.decode("utf-8")
        return None
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 4 and e.reason == "unexpected end of data":
            return None  # a multi-byte character cut by the probe window
        byte = head[e.start]
        line = head.count(b"\n", 0, e.start) + 1
        guess = "Windows-1252 / Latin-1" if 0x80 <= byte <= 0xFF else "not UTF-8"
        return (f"file {p.name} is not UTF-8: byte 0x{byte:02X} on line {line} is not valid UTF-8 "
                f"(the file looks {guess} encoded)")


def _open_binary(p: Path):
    if p.name.lower().endswith(".gz"):
        import gzip

        return gzip.open(p, "rb")
    return open(p, "rb")


def _first_line(p: Path) -> str:
    with _open_binary(p) as fh:
        raw = fh.readline(1 << 20)
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")


def _first_ragged_line(p: Path, delim: str, max_rows: int = 2_000_000) -> tuple[int, int, int] | None:
    """(line number, fields, header fields) of the first row whose field count differs from the header's."""
    import io

    with _open_binary(p) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text, delimiter=delim)
        try:
            width = len(next(reader))
        except (StopIteration, csv.Error):
            return None
        try:
            for k, row in enumerate(reader):
                if k >= max_rows:
                    return None
                if row and len(row) != width:
                    return reader.line_num, len(row), width
        except csv.Error:
            return reader.line_num, 0, width
    return None


def _split_header(header: str, delim: str) -> list[str]:
    try:
        row = next(csv.reader([header], delimiter=delim))
    except (csv.Error, StopIteration):
        return [header]
    return [c.strip() for c in row]


def _short(e: Exception) -> str:
    # DuckDB quotes the offending CSV line ("Original Line: ..."): never repeat file content (it may hold
    # identifiers) in a message that ends up in the quality report.
    lines = []
    for ln in str(e).splitlines():
        ln = ln.strip()
        if ln.lower().startswith(("original line", "possible solution", "possible fixes")):
            break
        if ln:
            lines.append(ln)
    text = " ".join(" ".join(lines[:3]).split())
    return text if len(text) <= 300 else text[:297] + "..."
