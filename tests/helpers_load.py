"""Small, valid Data First extracts built from the model alone, for loader tests.

Every table of the model gets ``n`` rows that satisfy its contract: unique keys, foreign keys that resolve, codes
from the code lists, numbers inside their ranges, dates inside the dataset's coverage and in stage order, and
complete identifiers. Tests then break one thing at a time.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bold_prevention.datafirst import MODEL, Table, arrow_schema

FORENAMES = ["Amira", "Ben", "Chloe", "Dev", "Erin", "Femi", "Grace", "Harry", "Isla", "Jamal"]
SURNAMES = ["Smith", "Jones", "Khan", "Patel", "Brown", "Taylor", "Wilson", "Evans", "Okafor", "Walsh"]


def _date_ranks(t: Table) -> dict[str, int]:
    ranks = {c: 0 for c in t.date_columns}
    for _ in range(len(ranks) + 1):
        for o in t.date_orders:
            if o.earlier in ranks and o.later in ranks:
                ranks[o.later] = max(ranks[o.later], ranks[o.earlier] + 1)
    return ranks


def build_tables(n: int = 40) -> dict[str, pa.Table]:
    """Every model table with ``n`` rows (``xjs_link``: one row per person record)."""
    out: dict[str, pa.Table] = {}
    for t in MODEL.tables:
        if t.name == "xjs_link":
            continue
        out[t.name] = _build(t, n, out)
    rows = {"source_dataset": [], "row_id_hash": [], "estimated_xjs_id": [], "match_score": [],
            "cluster_high": [], "cluster_medium": [], "cluster_low": []}
    for t in MODEL.xjs_tables():
        ids = out[t.name].column("row_id_hash").to_pylist()
        for i, rid in enumerate(ids):
            pid = f"xjs-{i % max(n // 2, 1):05d}"
            rows["source_dataset"].append(t.xjs_source)
            rows["row_id_hash"].append(rid)
            rows["estimated_xjs_id"].append(pid)
            rows["match_score"].append(0.9)
            rows["cluster_high"].append(pid)
            rows["cluster_medium"].append(pid)
            rows["cluster_low"].append(pid)
    out["xjs_link"] = pa.table(rows, schema=arrow_schema("xjs_link"))
    return out


def _build(t: Table, n: int, done: dict[str, pa.Table]) -> pa.Table:
    ds = MODEL.dataset(t.dataset)
    start, end = ds.coverage
    span = (end - start).days - 400
    ranks = _date_ranks(t)
    fk_of = {}
    for fk in t.foreign_keys:
        for c, rc in zip(fk.columns, fk.ref_columns, strict=True):
            fk_of[c] = (fk.ref_table, rc)
    cols = {}
    for c in t.columns:
        vals = []
        for i in range(n):
            if c.name in fk_of:
                ref, rc = fk_of[c.name]
                parent = done[ref].column(rc).to_pylist()
                vals.append(parent[i % len(parent)])
            elif c.identifier:
                vals.append(_identifier(c.role, i))
            elif c.codes is not None:
                vals.append(c.codes.values[i % len(c.codes.values)])
            elif c.dtype == "string":
                if c.name in t.primary_key or not c.nullable or c.name == t.record_id:
                    vals.append(f"{t.name}:{c.name}:{i:06d}")
                elif c.name == "lsoa_residence":
                    vals.append(f"E0100{i % 90 + 10:04d}")
                else:
                    vals.append(f"{c.name}-{i % 7}")
            elif c.dtype == "int":
                lo, hi = c.value_range or (0, 50)
                vals.append(int(lo + i % (int(hi - lo) + 1)))
            elif c.dtype == "float":
                lo, hi = c.value_range or (0, 100)
                vals.append(float(lo + (i % 10) / 10 * (hi - lo)))
            elif c.dtype == "bool":
                vals.append(i % 3 == 0)
            elif c.dtype == "date":
                base = start + timedelta(days=(i * 97) % span)
                vals.append(base + timedelta(days=30 * ranks.get(c.name, 0)))
        cols[c.name] = vals
    return pa.table(cols, schema=arrow_schema(t))


def _identifier(role: str | None, i: int):
    if role == "forename":
        return FORENAMES[i % len(FORENAMES)]
    if role == "surname":
        return SURNAMES[(i // 3) % len(SURNAMES)]
    if role == "middle_names":
        return None if i % 2 else "Lee"
    if role == "date_of_birth":
        return date(1950, 1, 1) + timedelta(days=(i * 397) % 19000)
    if role == "postcode":
        return f"SW{i % 9 + 1} {i % 10}AB"
    return None


def write_tables(tables: dict[str, pa.Table], folder: Path, *, fmt: str = "parquet",
                 skip: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, tab in tables.items():
        if name in skip or MODEL.dataset_of(name).key in skip:
            continue
        if fmt == "parquet":
            pq.write_table(tab, folder / f"{name}.parquet")
        else:
            pacsv.write_csv(tab, folder / f"{name}.csv")
    return folder


def make_extracts(folder: Path, *, n: int = 40, fmt: str = "parquet", skip: tuple[str, ...] = ()) -> Path:
    """A folder of valid extracts for every model table."""
    return write_tables(build_tables(n), folder, fmt=fmt, skip=skip)


def replace_column(tab: pa.Table, name: str, values: list) -> pa.Table:
    i = tab.schema.get_field_index(name)
    return tab.set_column(i, tab.schema.field(i), pa.array(values, type=tab.schema.field(i).type))


def warehouse_fingerprint(project: Path) -> dict[str, tuple]:
    """Every table of the warehouse with its columns, row count and a content hash (order-independent)."""
    import duckdb

    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        out = {}
        for schema, name in con.execute("select table_schema, table_name from information_schema.tables "
                                        "order by 1, 2").fetchall():
            cols = tuple(r[0] for r in con.execute(f'describe "{schema}"."{name}"').fetchall())
            n, h = con.execute(f'select count(*), sum(hash(t)) from "{schema}"."{name}" t').fetchone()
            out[f"{schema}.{name}"] = (cols, n, h)
        return out
    finally:
        con.close()
