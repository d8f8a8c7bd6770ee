"""Fuzzing the extract readers: random bytes, encodings, delimiters, quoting, headers and part layouts.

The only allowed outcomes of a load are a result (complete, partial) or an ``InputError`` / ``LoadBlocked`` whose
message names the table or the file; never another exception, and never an identifier value from the file in any
message or in the quality report.
"""

from __future__ import annotations

import gzip
import itertools
import json

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.datafirst import MODEL
from bold_prevention.errors import InputError, LoadBlocked
from bold_prevention.warehouse.load import load_extracts
from helpers_load import build_tables

#: Identifier values planted in the data; none may ever appear in a message or a report.
SECRETS = ("Zyxqwert", "Qvorpaldine", "ZZ9 9ZZ", "1971-07-19", "19/07/1971", "AB123456C")
SNAP = "2025-01-31"
_COUNTER = itertools.count()

TABLES = {"la_residents": "local_authority", "prison_safety_in_custody": "prison"}


@pytest.fixture(scope="module")
def tables():
    return build_tables(12)


def _cells(table: str, tab, rng: st.DataObject, plant: bool) -> list[list[str]]:
    """The table's rows as text, with identifier values planted in identifier and free-text columns."""
    model = MODEL.table(table)
    keys = set(model.primary_key) | {c for fk in model.foreign_keys for c in fk.columns}
    if model.record_id:
        keys.add(model.record_id)
    cols = tab.column_names
    rows = [[("" if v is None else str(v)) for v in r.values()] for r in tab.to_pylist()]
    if plant:
        targets = [i for i, c in enumerate(cols) if c not in keys]
        for r in rows:
            for i in targets:
                if rng.draw(st.booleans(), label="plant"):
                    r[i] = rng.draw(st.sampled_from(SECRETS), label="secret")
    return rows


def _quote(value: str, delim: str, how: str) -> str:
    if how == "none":
        return value
    if how == "broken":  # an opening quote that is never closed
        return '"' + value
    if how == "all" or delim in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_text(header: list[str] | None, rows: list[list[str]], delim: str, quoting: str) -> str:
    lines = []
    if header is not None:
        lines.append(delim.join(_quote(h, delim, "minimal") for h in header))
    for r in rows:
        lines.append(delim.join(_quote(v, delim, quoting if quoting != "broken" or k == 1 else "minimal")
                                for k, v in enumerate(r)))
    return "\n".join(lines) + "\n"


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def extracts(draw, tables):
    """A source folder layout for one fuzzed table: (files as {relative path: bytes}, the table, its dataset)."""
    table = draw(st.sampled_from(sorted(TABLES)))
    tab = tables[table]
    header = list(tab.column_names)
    kind = draw(st.sampled_from(["csv", "csv", "csv", "random_bytes", "parquet_junk"]))
    layout = draw(st.sampled_from(["single", "parts", "folder", "spark", "gz", "gz_truncated", "gz_fake",
                                   "twice"]))
    if kind == "random_bytes":
        blobs = [draw(st.binary(min_size=0, max_size=300)) + draw(st.sampled_from(SECRETS)).encode()]
        ext = draw(st.sampled_from([".csv", ".parquet", ".csv.gz"]))
        return {f"{table}{ext}": blobs[0]}, table
    if kind == "parquet_junk":
        return {f"{table}.parquet": b"PAR1" + draw(st.binary(max_size=200)) + b"PAR1"}, table
    rows = _cells(table, tab, draw(st.data()), plant=True)
    head_kind = draw(st.sampled_from(["ok", "ok", "missing", "shuffled", "dropped", "duplicated", "junk"]))
    if head_kind == "missing":
        head = None
    elif head_kind == "shuffled":
        head = draw(st.permutations(header))
    elif head_kind == "dropped":
        k = draw(st.integers(0, len(header) - 1))
        head = header[:k] + header[k + 1:]
        rows = [r[:k] + r[k + 1:] for r in rows]
    elif head_kind == "duplicated":
        k = draw(st.integers(1, len(header) - 1))
        head = header[:k] + [header[0]] + header[k + 1:]
    elif head_kind == "junk":
        head = [draw(st.text("abcdefgh_ ", min_size=1, max_size=8)) for _ in header]
    else:
        head = header
    delim = draw(st.sampled_from([",", ";", "\t", "|", ":"]))
    quoting = draw(st.sampled_from(["minimal", "all", "none", "broken"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    n_parts = 1 if layout in ("single", "gz", "gz_truncated", "gz_fake", "twice") else draw(st.integers(2, 3))
    chunks = [rows[i::n_parts] for i in range(n_parts)]
    # a part may differ from the others: no header, fewer columns, another delimiter or encoding
    odd = draw(st.sampled_from(["none", "none", "no_header", "fewer_columns", "delimiter", "encoding"]))
    blobs = []
    for i, chunk in enumerate(chunks):
        h, c, d, enc = head, chunk, delim, encoding
        if i == n_parts - 1 and i > 0:
            if odd == "no_header":
                h = None
            elif odd == "fewer_columns" and head is not None and len(head) > 2:
                h, c = head[1:], [r[1:] for r in chunk]
            elif odd == "delimiter":
                d = ";" if delim != ";" else ","
            elif odd == "encoding":
                enc = "cp1252" if encoding != "cp1252" else "utf-8"
        blobs.append(_encode(_csv_text(h, c, d, quoting), enc))
    if layout == "single":
        return {f"{table}.csv": blobs[0]}, table
    if layout == "twice":
        return {f"{table}.csv": blobs[0], f"{table}.csv.gz": gzip.compress(blobs[0])}, table
    if layout == "gz":
        return {f"{table}.csv.gz": gzip.compress(blobs[0])}, table
    if layout == "gz_truncated":
        z = gzip.compress(blobs[0])
        return {f"{table}.csv.gz": z[: max(len(z) // 2, 11)]}, table
    if layout == "gz_fake":
        return {f"{table}.csv.gz": blobs[0]}, table
    if layout == "parts":
        return {f"{table}_{i + 1:02d}.csv": b for i, b in enumerate(blobs)}, table
    if layout == "spark":
        files = {f"{table}.csv/part-{i:05d}-3f2a-c000.csv": b for i, b in enumerate(blobs)}
        files[f"{table}.csv/_SUCCESS"] = b""
        return files, table
    return {f"{table}/{table}_{i + 1:02d}.csv": b for i, b in enumerate(blobs)}, table


def _write_source(root, files, table, tables):
    root.mkdir(parents=True)
    dataset = TABLES[table]
    for t in MODEL.dataset(dataset).tables:
        if t.name != table:
            pq.write_table(tables[t.name], root / f"{t.name}.parquet")
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return dataset


def _texts_of(result) -> list[str]:
    out = [json.dumps(result.to_dict(), default=str)]
    for p in (result.report_json, result.report_html):
        if p is not None and p.exists():
            out.append(p.read_text(encoding="utf-8"))
    return out


def check_outcome(tmp, files, table, tables):
    """Load the layout; return the outcome kind. Fails on any other exception or on a leaked identifier."""
    n = next(_COUNTER)
    src, proj = tmp / f"src{n}", tmp / f"proj{n}"
    dataset = _write_source(src, files, table, tables)
    names = {rel.split("/")[0] for rel in files} | {rel.split("/")[-1] for rel in files}
    try:
        result = load_extracts(proj, src, snapshot_date=SNAP, datasets=[dataset])
    except (InputError, LoadBlocked) as e:
        text = str(e)
        assert table in text or any(name in text for name in names), text
        texts = [text] + (_texts_of(e.result) if isinstance(e, LoadBlocked) else [])
        outcome = type(e).__name__
    else:
        texts = _texts_of(result)
        tl = result.tables[table]
        if tl.status != "loaded":
            assert table in tl.reason, tl.reason
        outcome = result.status
    for text in texts:
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"identifier values {leaked} in: {text[:2000]}"
    return outcome


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_any_extract_is_read_or_refused_clearly_without_leaking(tmp_path_factory, tables, data):
    files, table = data.draw(extracts(tables))
    check_outcome(tmp_path_factory.mktemp("fuzz"), files, table, tables)


@pytest.mark.parametrize("case", ["spark_parquet", "folder_and_file", "part_and_whole", "same_part_number",
                                  "partitioned", "empty_required", "part_lacks_columns", "part_other_delimiter",
                                  "headerless_part", "duplicate_header"])
def test_named_layouts(tmp_path, tables, case):
    """Each layout the brief names: Spark part folders read; tables given twice, partitioned folders, empty required
    columns and odd parts refused, each naming what is wrong."""
    import pyarrow.csv as pacsv

    table = "prison_safety_in_custody"
    tab = tables[table]
    csv_bytes = lambda t: (lambda b: (pacsv.write_csv(t, b), b.getvalue().to_pybytes())[1])(  # noqa: E731
        __import__("pyarrow").BufferOutputStream())
    files: dict[str, bytes] = {}
    if case == "spark_parquet":
        import io

        for i in range(2):
            buf = io.BytesIO()
            pq.write_table(tab.slice(i * 6, 6), buf)
            files[f"{table}.parquet/part-{i:05d}-0a1b-c000.snappy.parquet"] = buf.getvalue()
        files[f"{table}.parquet/_SUCCESS"] = b""
        files[f"{table}.parquet/.part-00000-0a1b-c000.snappy.parquet.crc"] = b"crc"
    elif case == "folder_and_file":
        files = {f"{table}.csv": csv_bytes(tab), f"{table}/{table}_01.csv": csv_bytes(tab)}
    elif case == "part_and_whole":
        files = {f"{table}.csv": csv_bytes(tab), f"{table}_01.csv": csv_bytes(tab)}
    elif case == "same_part_number":
        files = {f"{table}_1.csv": csv_bytes(tab), f"{table}_01.csv": csv_bytes(tab)}
    elif case == "partitioned":
        files = {f"{table}/year=2020/{table}.csv": csv_bytes(tab), f"{table}/{table}_01.csv": csv_bytes(tab)}
    elif case == "empty_required":
        import pyarrow as pa

        col = "row_id_hash"  # required (a foreign key)

        i = tab.schema.get_field_index(col)
        files = {f"{table}.csv": csv_bytes(tab.set_column(i, col, pa.nulls(tab.num_rows, pa.string())))}
    elif case == "part_lacks_columns":
        files = {f"{table}_01.csv": csv_bytes(tab.slice(0, 6)),
                 f"{table}_02.csv": csv_bytes(tab.slice(6).drop_columns([tab.column_names[3]]))}
    elif case == "part_other_delimiter":
        files = {f"{table}_01.csv": csv_bytes(tab.slice(0, 6)),
                 f"{table}_02.csv": csv_bytes(tab.slice(6)).replace(b",", b";")}
    elif case == "headerless_part":
        second = csv_bytes(tab.slice(6))
        files = {f"{table}_01.csv": csv_bytes(tab.slice(0, 6)), f"{table}_02.csv": second.split(b"\n", 1)[1]}
    elif case == "duplicate_header":
        body = csv_bytes(tab)
        head, rest = body.split(b"\n", 1)
        cols = head.split(b",")
        cols[2] = cols[1]
        files = {f"{table}.csv": b",".join(cols) + b"\n" + rest}
    outcome = check_outcome(tmp_path, files, table, tables)
    if case == "spark_parquet":
        assert outcome == "complete"
    else:
        assert outcome == "LoadBlocked", outcome


def test_empty_required_column_degrades_a_non_critical_table(tmp_path, tables):
    import pyarrow as pa

    tab = tables["la_service_contacts"]
    i = tab.schema.get_field_index("resident_id")
    src = tmp_path / "src"
    src.mkdir()
    pq.write_table(tables["la_residents"], src / "la_residents.parquet")
    pq.write_table(tab.set_column(i, "resident_id", pa.nulls(tab.num_rows, pa.string())),
                   src / "la_service_contacts.parquet")
    res = load_extracts(tmp_path / "p", src, snapshot_date=SNAP, datasets=["local_authority"])
    assert res.status == "partial"
    assert res.tables["la_service_contacts"].status == "degraded"
    assert any(c.check == "empty_column" and c.column == "resident_id" and c.status == "fail" for c in res.checks)
