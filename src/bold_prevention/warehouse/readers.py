"""Reading extract files: which file holds which model table, and how DuckDB should read it.

A source folder holds one file per model table (``<table>.parquet`` or ``<table>.csv``, optionally ``.csv.gz``),
or a table split into numbered parts as Data First delivers large tables
(``moj_probation_flatfile_01.parquet`` ... ``_30``), or a sub-folder named after the table holding its parts
(``<table>/``, or Spark's ``<table>.parquet/part-00000-*.parquet`` with ``_SUCCESS``; CSV part folders likewise).
The synthetic generator's output folder (with ``extracts/`` inside) is accepted as it is. A table given twice (a file
and a folder, a whole file and parts, two parts with one number) is refused, naming both.

Nothing here loads data: :func:`scan_source` maps files to tables and :func:`inspect_files` opens every part of a
table just far enough to find its problems, each named with its part: links that lead nowhere, a corrupted Parquet
or gzip file, an empty file, a CSV whose encoding, delimiter or header differs from the other parts', a header row
that is missing (the first line is data) or that names a column twice, and parts that do not carry the same columns.
The loader then reads the files with DuckDB's own ``read_parquet`` / ``read_csv``.

No message made here repeats file content: a misaligned or headerless file can put names, dates of birth and
postcodes anywhere, so problems are described by file, line, column name and kind only.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import re
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..datafirst import MODEL
from ..errors import InputError
from ..files import path_problem
from .engine import sql_literal

#: Delimiters a CSV extract may use; anything else is reported as an unreadable delimiter.
CSV_DELIMITERS = (",", "\t", ";", "|")
_DELIM_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_PART = re.compile(r"^(?P<stem>.+?)[_-](?:part[_-]?)?(?P<part>\d{1,4})$", re.IGNORECASE)
_IGNORED_NAMES = {"manifest.json", "_success", "readme.md", "readme.txt", ".ds_store"}
#: Header fields that look like data rather than column names (dates, numbers, postcodes, e-mail addresses).
_DATA_LIKE = re.compile(
    r"^(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?|[-+]?\d+(?:[.,]\d+)?|[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}"
    r"|[^@\s]+@[^@\s]+)$")
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
        paths = "[" + ", ".join(sql_literal(str(p)) for p in self.files) + "]"
        if self.fmt == "parquet":
            return f"read_parquet({paths}, union_by_name = true)"
        return (f"read_csv({paths}, delim = {sql_literal(self.delimiter or ',')}, header = true, all_varchar = true, "
                "quote = '\"', escape = '\"', union_by_name = true, null_padding = false, "
                "strict_mode = true, nullstr = '')")


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


def _kind(p: Path) -> str:
    """``dir``, ``file`` or ``broken`` (a link loop, a dangling link, a path we may not look at)."""
    try:
        mode = p.stat().st_mode
    except OSError:
        return "broken"
    return "dir" if stat.S_ISDIR(mode) else "file"


def extracts_root(source_dir: str | Path) -> Path:
    """The folder holding the extract files: ``source_dir`` itself, or its ``extracts/`` sub-folder."""
    root = Path(source_dir)
    kind = _kind(root)
    if kind == "broken":
        problem = path_problem(root)
        if root.is_symlink() or (problem and "does not exist" not in problem):
            raise InputError(f"source folder {root} cannot be opened: {problem}",
                             hint="pass the folder that holds the extract files (a real folder, not a broken link)")
        raise InputError(f"source folder {root} does not exist",
                         hint="pass the folder that holds the extract files (or the synthetic output folder)")
    if kind == "file":
        raise InputError(f"{root} is a file, not a folder",
                         hint="pass the folder that holds the extract files, one file (or set of parts) per table")
    try:
        entries = list(root.iterdir())
    except OSError as e:
        raise InputError(f"source folder {root} cannot be listed: {e.strerror or e}",
                         hint="check the folder's permissions") from e
    sub = root / "extracts"
    if _kind(sub) == "dir" and not any(_suffix_format(p.name) for p in entries if _kind(p) == "file"):
        return sub
    return root


@dataclass
class _Source:
    """One way a table is given: a file (whole or a numbered part) or a folder of parts."""

    kind: str  # file | folder
    path: Path
    fmt: str
    files: list[Path]
    part: int | None = None

    @property
    def label(self) -> str:
        return self.path.name + ("/" if self.kind == "folder" else "")


def _part_number(stem: str) -> int | None:
    m = _PART.match(stem.lower())
    if m and m.group("stem") in {t.lower() for t in MODEL.table_names} and stem.lower() not in \
            {t.lower() for t in MODEL.table_names}:
        return int(m.group("part"))
    return None


def _folder_parts(p: Path) -> tuple[list[Path], str | None]:
    """The data files of a part folder (Spark's ``part-*`` files included), or a problem."""
    try:
        entries = sorted(p.iterdir())
    except OSError as e:
        return [], f"folder {p.name}/ cannot be listed ({e.strerror or e})"
    parts, subdirs, broken = [], [], []
    for q in entries:
        low = q.name.lower()
        if q.name.startswith((".", "_")) or low in _IGNORED_NAMES or low.endswith(".crc"):
            continue
        k = _kind(q)
        if k == "broken":
            broken.append(q)
        elif k == "dir":
            subdirs.append(q.name)
        elif _suffix_format(q.name):
            parts.append(q)
    if broken:
        return [], f"folder {p.name}/: {path_problem(broken[0]) or broken[0].name + ' cannot be opened'}"
    if subdirs:
        return [], (f"folder {p.name}/ holds sub-folders ({', '.join(subdirs[:3])}): partitioned layouts are not "
                    "read, and reading only the files beside them would lose rows")
    if not parts:
        return [], f"folder {p.name}/ holds no .parquet or .csv files"
    return parts, None


def scan_source(source_dir: str | Path) -> SourceScan:
    """Map the files of a source folder to model tables (without opening them)."""
    root = extracts_root(source_dir)
    scan = SourceScan(root=root)
    found: dict[str, list[_Source]] = {}
    try:
        entries = sorted(root.iterdir())
    except OSError as e:  # pragma: no cover - extracts_root listed it already
        raise InputError(f"source folder {root} cannot be listed: {e.strerror or e}",
                         hint="check the folder's permissions") from e
    for p in entries:
        name = p.name
        if name.startswith(".") or name.lower() in _IGNORED_NAMES or name.startswith("_"):
            continue
        kind = _kind(p)
        sf = _suffix_format(name)
        stem = sf[0] if sf else name
        if kind == "broken":
            table = _table_of(stem)
            problem = path_problem(p) or f"{name} cannot be opened"
            if table is not None:
                scan.broken[table] = f"{name}: {problem}"
            else:
                scan.unknown[name] = f"{name}: {problem}"
            continue
        if kind == "dir":
            table = _table_of(stem)
            if table is None:
                if name not in ("truth",):
                    scan.unknown[name + "/"] = (f"folder {name}/ does not name a table of the Data First model"
                                                f"{_suggest(stem)}")
                continue
            parts, problem = _folder_parts(p)
            if problem:
                scan.broken[table] = problem
                continue
            fmts = {_suffix_format(q.name)[1] for q in parts}
            if sf and fmts != {sf[1]}:
                scan.broken[table] = (f"folder {name}/ is named as {sf[1]} but holds "
                                      f"{' and '.join(sorted(f.upper() if f == 'csv' else 'Parquet' for f in fmts))}"
                                      " files")
                continue
            fmt = sf[1] if sf else (next(iter(fmts)) if len(fmts) == 1 else "mixed")
            if fmt == "mixed":
                scan.broken[table] = f"folder {name}/ holds both CSV and Parquet files"
                continue
            found.setdefault(table, []).append(_Source("folder", p, fmt, sorted(parts, key=_part_key)))
            continue
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
        found.setdefault(table, []).append(_Source("file", p, fmt, [p], _part_number(stem)))
    for table, sources in found.items():
        problem = _given_twice(table, sources)
        if problem:
            scan.broken[table] = problem
            continue
        fmt = sources[0].fmt
        files = [f for s in sources for f in s.files]
        scan.tables[table] = TableFiles(table, fmt, sorted(files, key=_part_key) if len(sources) > 1 else files)
    return scan


def _given_twice(table: str, sources: list[_Source]) -> str | None:
    """A message when a table's sources cannot be read together (mixed formats, given twice), else None."""
    fmts = {s.fmt for s in sources}
    if len(fmts) > 1:
        return (f"table {table} is given both as CSV and as Parquet "
                f"({', '.join(s.label for s in sources)})")
    folders = [s for s in sources if s.kind == "folder"]
    if folders and len(sources) > 1:
        return (f"table {table} is given twice: {' and '.join(s.label for s in sources[:4])} "
                "(keep one: a single file, numbered parts, or one folder of parts)")
    whole = [s for s in sources if s.part is None]
    if whole and len(sources) > 1:
        return (f"table {table} is given twice: {' and '.join(s.label for s in sources[:4])} "
                "(a whole file beside other files of the same table; keep one, or number every part)")
    seen: dict[int, _Source] = {}
    for s in sources:
        if s.part in seen:
            return (f"table {table} is given twice: parts {seen[s.part].label} and {s.label} have the same number "
                    f"({s.part}); keep one")
        seen[s.part] = s
    return None


def _part_key(p: Path) -> tuple[int, str]:
    sf = _suffix_format(p.name)
    stem = sf[0] if sf else p.stem
    m = _PART.match(stem)
    if m:
        return (int(m.group("part")), p.name)
    m = re.search(r"part[-_]?(\d+)", stem, re.IGNORECASE)  # Spark: part-00000-<uuid>-c000
    return (int(m.group(1)) if m else -1, p.name)


# --------------------------------------------------------------------------------------------------------- opening
class _Problem(Exception):
    """A problem found while opening one part (kind and message); turned into ``FileInfo.error``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


def inspect_files(tf: TableFiles, con: duckdb.DuckDBPyConnection, *, delimiter: str | None = None) -> FileInfo:
    """Open every part of a table far enough to report its problems (each naming the part) and list the columns."""
    info = FileInfo(tf.table, tf.fmt, list(tf.files))
    try:
        for p in tf.files:
            problem = path_problem(p)
            if problem:
                raise _Problem("unreadable", f"file {p.name}: {problem}")
            if p.stat().st_size == 0:
                raise _Problem("empty", f"file {p.name} is empty (0 bytes)")
        if tf.fmt == "parquet":
            _inspect_parquet(info, con)
        else:
            _inspect_csv(info, con, delimiter)
    except _Problem as e:
        info.error_kind, info.error = e.kind, e.message
        info.columns = {}
    return info


def _check_names(table: str, part: Path, names: list[str]) -> None:
    """Refuse a header that names a column twice, or that holds no column of the model (possibly data)."""
    model = MODEL.table(table)
    model_cols = {c.lower() for c in model.column_names}
    matches = sum(1 for n in names if n.strip().lower() in model_cols)
    data_like = [i + 1 for i, n in enumerate(names) if _DATA_LIKE.match(n.strip())]
    required = sum(1 for c in model.columns if not c.identifier and not c.nullable)
    if len(names) >= 2 and (matches == 0 or (data_like and matches < max(1, required // 2))):
        fits = len(names) <= len(model.column_names) + 5
        if data_like or fits:
            why = (f"field(s) {', '.join(map(str, data_like[:3]))} of its first line look like values (dates, "
                   "numbers or postcodes)" if data_like else
                   f"none of its {len(names)} first-line fields is a column name of table {table}, and the count fits "
                   "the table")
            raise _Problem("header", f"file {part.name} has no header row: {why}; its first line is data, which is "
                                     "not repeated here")
        raise _Problem("columns", f"file {part.name}: none of its {len(names)} columns is a column of table {table} "
                                  f"(expected {', '.join(model.column_names[:4])} ...)")
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        key = n.strip().lower()
        if key and key in seen:
            if safe_name(n):
                raise _Problem("columns", f"file {part.name} names column {n.strip()} twice (columns "
                                          f"{seen[key] + 1} and {i + 1}); every column must have one name")
            raise _Problem("columns", f"file {part.name} names a column twice (columns {seen[key] + 1} and {i + 1})")
        seen.setdefault(key, i)


def safe_name(name: str) -> bool:
    """Whether a column name can be repeated in a message (it does not look like a value)."""
    n = name.strip()
    return bool(n) and len(n) <= 64 and not _DATA_LIKE.match(n) and bool(re.fullmatch(r"[A-Za-z_][\w .()/-]*", n))


def describe_columns(names, *, limit: int = 12) -> str:
    """A list of a file's column names for a message: names that look like values (the first line of a headerless
    file: names, dates, postcodes) are never repeated, only counted."""
    names = [str(n) for n in names]
    shown = [n.strip() for n in names if safe_name(n)]
    hidden = len(names) - len(shown)
    if hidden and (hidden * 2 >= len(names) or any(_DATA_LIKE.match(n.strip()) for n in names)):
        return (f"{len(names)} column(s) whose names look like values (is the header row missing?), not "
                "repeated here")
    text = ", ".join(shown[:limit]) + (f" and {len(shown) - limit} more" if len(shown) > limit else "")
    return text + (f" (and {hidden} column(s) whose names are not shown)" if hidden else "")


def _agree(table: str, first: Path, first_cols: list[str], part: Path, cols: list[str]) -> None:
    """Every part carries the same columns as the first (in any order)."""
    a = {c.strip().lower(): c for c in first_cols}
    b = {c.strip().lower(): c for c in cols}
    lacks = [a[k] for k in a if k not in b]
    extra = [b[k] for k in b if k not in a]
    if not lacks and not extra:
        return
    def names(cs: list[str]) -> str:
        shown = [c.strip() for c in cs if safe_name(c)][:6]
        more = len(cs) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more and shown else f"{more} column(s)" if more else "")
    parts = []
    if lacks:
        parts.append(f"lacks {names(lacks)}")
    if extra:
        parts.append(f"has {names(extra)} that {first.name} does not")
    raise _Problem("parts", f"part {part.name} of table {table} does not carry the same columns as part "
                            f"{first.name}: it {' and '.join(parts)} (every part must have the same columns)")


def _inspect_parquet(info: FileInfo, con: duckdb.DuckDBPyConnection) -> None:
    import pyarrow.parquet as pq

    first: tuple[Path, list[str]] | None = None
    for p in info.files:
        try:
            meta = pq.read_metadata(p)
            names = list(meta.schema.to_arrow_schema().names)
        except Exception as e:  # pyarrow raises several types for broken files
            raise _Problem("corrupted", f"file {p.name} is not a readable Parquet file (corrupted or truncated): "
                                        f"{_short(e, keep=[p.name])}") from None
        if meta.num_columns == 0:
            raise _Problem("empty", f"file {p.name} is an empty Parquet file (no columns)")
        _check_names(info.table, p, names)
        if first is None:
            first = (p, names)
        else:
            _agree(info.table, first[0], first[1], p, names)
    try:
        rows = con.execute(f"describe select * from {info.relation_sql()}").fetchall()
    except duckdb.Error as e:
        raise _Problem("corrupted", f"Parquet file(s) {info.files[0].name} cannot be read: "
                                    f"{_short(e, keep=[p.name for p in info.files])}") from None
    info.columns = {r[0]: r[1] for r in rows}


def _inspect_csv(info: FileInfo, con: duckdb.DuckDBPyConnection, delimiter: str | None) -> None:
    model_cols = set(MODEL.table(info.table).column_names)
    first: tuple[Path, list[str], str] | None = None
    for p in info.files:
        head = _read_head(p)
        problem = _encoding_problem(p, head)
        if problem:
            raise _Problem("encoding", problem)
        header = _first_line(head)
        if not header.strip():
            raise _Problem("empty", f"file {p.name} has no header line (its first line is empty)")
        fields = {d: _split_header(header, d) for d in CSV_DELIMITERS}
        if delimiter is not None:
            chosen = delimiter
            if len(fields.get(chosen) or _split_header(header, chosen)) <= 1:
                better = max(CSV_DELIMITERS, key=lambda d: (len(model_cols & set(fields[d])), len(fields[d])))
                if len(fields[better]) > 1:
                    raise _Problem("delimiter", f"file {p.name} is not {delimiter_name(delimiter)}-delimited: its "
                                                f"header splits into one column; it looks "
                                                f"{delimiter_name(better)}-delimited")
        else:
            chosen = max(CSV_DELIMITERS, key=lambda d: (len(model_cols & set(fields[d])), len(fields[d])))
        names = fields.get(chosen) or _split_header(header, chosen)
        if len(names) <= 1:
            raise _Problem("delimiter", f"file {p.name}: cannot find the delimiter; the header line does not split "
                                        "into columns on comma, tab, semicolon or pipe")
        if first is not None and chosen != first[2]:
            raise _Problem("delimiter", f"part {p.name} is {delimiter_name(chosen)}-delimited but part "
                                        f"{first[0].name} is {delimiter_name(first[2])}-delimited (every part of a "
                                        "table must use the same delimiter)")
        _check_names(info.table, p, names)
        if first is None:
            first = (p, names, chosen)
        else:
            _agree(info.table, first[0], first[1], p, names)
    assert first is not None
    info.delimiter = first[2]
    if info.delimiter != ",":
        info.notes.append(f"{first[0].name} is {delimiter_name(info.delimiter)}-delimited")
    try:
        rows = con.execute(f"describe select * from {info.relation_sql()}").fetchall()
    except duckdb.Error as e:
        kind, msg = _csv_error(info.files[0].name if len(info.files) == 1 else _label(info), e,
                               keep=[p.name for p in info.files])
        if kind == "delimiter" and "(line " not in msg:
            for p in info.files:
                line = _first_ragged_line(p, info.delimiter)
                if line:
                    msg = (f"file {p.name}: line {line[0]} has {line[1]} fields but the header has "
                           f"{line[2]} (a wrong delimiter, or delimiters inside unquoted values)")
                    break
        raise _Problem(kind, msg) from None
    info.columns = {r[0]: r[1] for r in rows}


def _label(info: FileInfo) -> str:
    return f"{info.table} ({len(info.files)} parts: {info.files[0].name} ... {info.files[-1].name})"


def _csv_error(name: str, e: Exception, *, keep: list[str] | None = None) -> tuple[str, str]:
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
    if "quote" in low:
        return "quoting", (f"file {name}: a quoted value is not closed{where} (an unbalanced double quote; quote "
                           "values that contain the delimiter, and double any quote inside them)")
    return "unreadable", f"file {name} cannot be read as CSV{where}: {_short(e, keep=(keep or []) + [name])}"


def translate_read_error(info: FileInfo, e: Exception) -> tuple[str, str]:
    """(kind, message) for a DuckDB error raised while reading a table's files in full."""
    name = info.files[0].name if len(info.files) == 1 else _label(info)
    text = str(e)
    for p in info.files:
        if str(p) in text or p.name in text:
            name = p.name
            break
    keep = [p.name for p in info.files]
    if info.fmt == "csv":
        return _csv_error(name, e, keep=keep)
    return "corrupted", (f"file {name} is not a readable Parquet file (corrupted or truncated): "
                         f"{_short(e, keep=keep)}")


def _read_head(p: Path) -> bytes:
    """The first bytes of a file (decompressed); a whole ``.gz`` file is checked to its end."""
    if not p.name.lower().endswith(".gz"):
        try:
            with open(p, "rb") as fh:
                return fh.read(_ENCODING_PROBE_BYTES)
        except OSError as e:
            raise _Problem("unreadable", f"file {p.name} cannot be read ({e.strerror or type(e).__name__})") from None
    try:
        with gzip.open(p, "rb") as fh:
            head = fh.read(_ENCODING_PROBE_BYTES)
            while fh.read(16 << 20):
                pass
        return head
    except gzip.BadGzipFile:
        raise _Problem("corrupted", f"file {p.name} is named .gz but is not gzip-compressed",
                       ) from None
    except (EOFError, zlib.error):
        raise _Problem("corrupted", f"file {p.name} is a truncated or damaged gzip file (it ends before the "
                                    "compressed data does)") from None
    except OSError as e:
        raise _Problem("unreadable", f"file {p.name} cannot be read ({e.strerror or type(e).__name__})") from None


def _encoding_problem(p: Path, head: bytes) -> str | None:
    """A message if the start of a CSV file is not UTF-8 (with a guess at its real encoding), else None."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (len(head) > 3 and (
            head[1:4:2] == b"\x00\x00" or head[0:3:2] == b"\x00\x00")):
        return f"file {p.name} is UTF-16 text; CSV extracts must be UTF-8"
    if b"\x00" in head[:65536]:
        return f"file {p.name} holds NUL bytes: it is binary, or text in an encoding other than UTF-8"
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
        return gzip.open(p, "rb")
    return open(p, "rb")


def _first_line(head: bytes) -> str:
    raw = head.split(b"\n", 1)[0][: 1 << 20]
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")


def _first_ragged_line(p: Path, delim: str, max_rows: int = 2_000_000) -> tuple[int, int, int] | None:
    """(line number, fields, header fields) of the first row whose field count differs from the header's."""
    import io

    try:
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
    except (OSError, EOFError, zlib.error):
        return None
    return None


def _split_header(header: str, delim: str) -> list[str]:
    try:
        row = next(csv.reader([header], delimiter=delim))
    except (csv.Error, StopIteration):
        return [header]
    return [c.strip() for c in row]


_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def scrub(text: str, keep: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with every quoted passage masked (``<11 characters>``) unless it names one of ``keep``.

    Engine messages quote the values they failed on; those can be names, dates of birth or postcodes.
    """
    def mask(m: re.Match) -> str:
        inner = m.group(0)[1:-1]
        if inner and any(k and (k in inner) for k in keep):
            return m.group(0)
        return f"<{len(inner)} characters>"

    return _QUOTED.sub(mask, text)


def _short(e: Exception, *, keep: list[str] | None = None) -> str:
    # DuckDB quotes the offending CSV line ("Original Line: ..."): never repeat file content (it may hold
    # identifiers) in a message that ends up in the quality report.
    lines = []
    for ln in str(e).splitlines():
        ln = ln.strip()
        if ln.lower().startswith(("original line", "possible solution", "possible fixes", "line:")):
            break
        if ln:
            lines.append(ln)
    text = scrub(" ".join(" ".join(lines[:3]).split()), keep or [])
    return text if len(text) <= 300 else text[:297] + "..."
