"""The Wave 0 spine join: every Data First record joined to its cross-justice (XJS) person at a chosen band.

:func:`build_person_records` creates ``spine.person_record``, one row per (person, table, record):

``person_id``         pseudonymised person id: HMAC (``linkage.pseudonym``) of the XJS cluster id at the band;
``source_dataset``    the XJS ``source_dataset`` key of the person-level record the row reaches its person through;
``source_table``      the Data First table of the record;
``record_id``         the record's key in that table (``row_id_hash`` for the person tables, the table's own key
                      for detail and event tables);
``match_score``       the XJS match score of the person-level record;
``band_joined``       the strictest band (high > medium > low) at which the record still falls in the person's
                      cluster (see below);
``band``              the band the person ids were built at;
``person_record_id``  the ``row_id_hash`` of the person-level record (equal to ``record_id`` for person tables).

Person tables (those with an XJS ``source_dataset``) join ``extract.xjs_link`` on ``row_id_hash``. Detail and event
tables reach a person through the foreign keys of the Data First model: a key to a person table (OASys answers,
offences, requirements, incidents), a person table's key to them (family and civil cases, reached through their
parties) or a key they share with a person table (family and civil events, reached through the parties of the same
case). Case-level records therefore belong to every party of the case.

Bands. XJS gives a cluster id per record at three thresholds; a person at band *b* is a cluster at *b*. The clusters
are nested in practice (a high cluster lies inside one medium cluster, a medium cluster inside one low cluster); a
person at the medium band may hold several high clusters. The person's *core* at a stricter band is its largest
cluster at that band (ties: the smallest cluster id), so ``band_joined`` is ``high`` for records in the core high
cluster, ``medium`` for records in the core medium cluster but outside the core high cluster, and ``low`` otherwise.

Records with no cluster at the chosen band are persons on their own (at medium the published
``estimated_xjs_id`` is used first; at low the medium cluster is used first).

All transformations are DuckDB-dialect SQL that sqlglot transpiles to Spark and Trino (see :func:`person_record_sql`);
the only step outside SQL is the keyed hash of the distinct cluster ids, done in Python with the project's
pseudonymisation key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import pyarrow as pa

from ..datafirst import MODEL, DataFirstModel, Table
from ..errors import InputError
from ..warehouse.engine import sql_literal
from ..warehouse.engine import tables as warehouse_tables
from ..warehouse.tables import PERSON_RECORD, PERSON_RECORD_INFO
from .pseudonym import ID_LENGTH, pseudonym_key

__all__ = [
    "BANDS",
    "XJS_IDS",
    "PersonPath",
    "build_person_records",
    "check_xjs_link_table",
    "person_paths",
    "person_record_sql",
    "pseudonymise_clusters",
    "xjs_link_table",
]

#: Linkage bands, strictest first.
BANDS = ("high", "medium", "low")
_RANK = {b: i for i, b in enumerate(BANDS)}

#: The person ids the spine can be built on: the published XJS table, or the improved id of ``bold link xjs-audit``
#: (XJS's medium clusters joined wherever the toolkit's model links two of them with high confidence).
XJS_IDS: dict[str, str] = {"published": "extract.xjs_link", "improved": "linkage.xjs_link_improved"}
#: What each id's table is, and what to do when it is missing.
_XJS_ID_MISSING = {
    "published": ("the XJS linking dataset",
                  "load the Data First extracts, including xjs_link, with `bold load` first"),
    "improved": ("the improved XJS person id",
                 "run `bold link xjs-audit` first (it writes the improved id), or build the spine on the published "
                 "XJS id (`bold spine build --xjs published`)"),
}


def xjs_link_table(xjs: str) -> str:
    """The table of the XJS person id ``xjs`` (``published`` or ``improved``, see :data:`XJS_IDS`)."""
    if xjs not in XJS_IDS:
        raise InputError(f"XJS person id {xjs!r} is not known", hint=f"use one of {', '.join(XJS_IDS)}")
    return XJS_IDS[xjs]


def check_xjs_link_table(con, xjs: str) -> str:
    """:func:`xjs_link_table` of ``xjs``, checked to exist in the warehouse ``con`` (else an InputError naming the
    command that writes it)."""
    table = xjs_link_table(xjs)
    schema, _, name = table.rpartition(".")
    if name not in warehouse_tables(con, schema):
        what, hint = _XJS_ID_MISSING[xjs]
        raise InputError(f"the warehouse has no {table} table ({what})", hint=hint)
    return table


#: Columns of ``spine.person_record`` in order.
PERSON_RECORD_COLUMNS = ("person_id", "source_dataset", "source_table", "record_id", "match_score", "band_joined",
                         "band", "person_record_id")


@dataclass(frozen=True)
class PersonPath:
    """How the rows of ``table`` reach a person-level (XJS) record of ``person_table``.

    ``on`` pairs columns of ``table`` with columns of ``person_table`` (``t.a = p.b``). ``direct`` is true when the
    single pair points at the person table's record id, so the person table itself need not be read.
    ``many`` is true when a row may reach several person-level records (a case and its parties).
    """

    table: str
    person_table: str
    record_id: str
    on: tuple[tuple[str, str], ...]
    direct: bool
    many: bool


def _pk(t: Table) -> str:
    if t.record_id:
        return t.record_id
    if len(t.primary_key) != 1:
        raise ValueError(f"table {t.name} has a composite key; it cannot be a person record")
    return t.primary_key[0]


def person_paths(model: DataFirstModel = MODEL) -> dict[str, PersonPath]:
    """For every table of a dataset that has XJS person tables, how its rows reach a person.

    Tables with no route (the linking tables themselves) are left out.
    """
    person = {t.name: t for t in model.xjs_tables()}
    out: dict[str, PersonPath] = {}
    for t in person.values():
        rid = _pk(t)
        out[t.name] = PersonPath(t.name, t.name, rid, ((rid, rid),), True, False)
    for t in model.tables:
        if t.name in person or len(t.primary_key) != 1:
            continue
        path = None
        # 1. a foreign key to a person table
        for fk in t.foreign_keys:
            if fk.ref_table in person:
                p = person[fk.ref_table]
                on = tuple(zip(fk.columns, fk.ref_columns, strict=True))
                direct = len(on) == 1 and on[0][1] == _pk(p)
                path = PersonPath(t.name, p.name, t.primary_key[0], on, direct, not direct)
                break
        # 2. a person table's foreign key to this table (a case and its parties)
        if path is None:
            for p in person.values():
                for fk in p.foreign_keys:
                    if fk.ref_table == t.name:
                        on = tuple(zip(fk.ref_columns, fk.columns, strict=True))
                        path = PersonPath(t.name, p.name, t.primary_key[0], on, False, True)
                        break
                if path:
                    break
        # 3. a key shared with a person table (events of a case, reached through the parties of that case)
        if path is None:
            for fk in t.foreign_keys:
                for p in person.values():
                    for pfk in p.foreign_keys:
                        if pfk.ref_table == fk.ref_table and pfk.ref_columns == fk.ref_columns:
                            on = tuple(zip(fk.columns, pfk.columns, strict=True))
                            path = PersonPath(t.name, p.name, t.primary_key[0], on, False, True)
                            break
                    if path:
                        break
                if path:
                    break
        if path is not None:
            out[t.name] = path
    return out


def _cluster_exprs() -> dict[str, str]:
    single = "('r:' || source_dataset || ':' || row_id_hash)"
    return {
        "high": f"COALESCE(cluster_high, {single})",
        "medium": f"COALESCE(cluster_medium, estimated_xjs_id, {single})",
        "low": f"COALESCE(cluster_low, cluster_medium, estimated_xjs_id, {single})",
    }


def _check_band(band: str) -> None:
    if band not in BANDS:
        raise InputError(f"linkage band {band!r} is not known", hint=f"use one of {', '.join(BANDS)}")


def xjs_clusters_sql(band: str, *, model: DataFirstModel = MODEL, link_table: str = "extract.xjs_link") -> str:
    """SELECT of the XJS person-level records with their cluster at ``band`` and ``band_joined``.

    Columns: source_dataset, source_table, row_id_hash, match_score, cluster_id, band_joined.
    """
    _check_band(band)
    ce = _cluster_exprs()
    table_of = " ".join(f"WHEN {sql_literal(t.xjs_source)} THEN {sql_literal(t.name)}" for t in model.xjs_tables())
    base = f"""
        SELECT source_dataset, CASE source_dataset {table_of} END AS source_table, row_id_hash,
               CAST(match_score AS DOUBLE) AS match_score,
               {ce['high']} AS c_high, {ce['medium']} AS c_medium, {ce['low']} AS c_low
        FROM {link_table}
    """
    if band == "high":
        return f"""
        SELECT source_dataset, source_table, row_id_hash, match_score, c_high AS cluster_id,
               'high' AS band_joined
        FROM ({base}) x WHERE source_table IS NOT NULL"""
    # the core cluster at each stricter band: the largest one (ties: smallest id) inside the person's cluster
    if band == "medium":
        return f"""
        WITH x AS ({base}),
        sizes AS (SELECT c_medium, c_high, COUNT(*) AS n FROM x GROUP BY c_medium, c_high),
        core_high AS (
            SELECT c_medium, c_high FROM (
                SELECT c_medium, c_high,
                       ROW_NUMBER() OVER (PARTITION BY c_medium ORDER BY n DESC, c_high) AS rn
                FROM sizes) s
            WHERE rn = 1)
        SELECT x.source_dataset, x.source_table, x.row_id_hash, x.match_score, x.c_medium AS cluster_id,
               CASE WHEN x.c_high = ch.c_high THEN 'high' ELSE 'medium' END AS band_joined
        FROM x JOIN core_high ch ON ch.c_medium = x.c_medium
        WHERE x.source_table IS NOT NULL"""
    return f"""
        WITH x AS ({base}),
        msizes AS (SELECT c_low, c_medium, COUNT(*) AS n FROM x GROUP BY c_low, c_medium),
        core_medium AS (
            SELECT c_low, c_medium FROM (
                SELECT c_low, c_medium,
                       ROW_NUMBER() OVER (PARTITION BY c_low ORDER BY n DESC, c_medium) AS rn
                FROM msizes) s
            WHERE rn = 1),
        hsizes AS (SELECT c_medium, c_high, COUNT(*) AS n FROM x GROUP BY c_medium, c_high),
        core_high AS (
            SELECT c_medium, c_high FROM (
                SELECT c_medium, c_high,
                       ROW_NUMBER() OVER (PARTITION BY c_medium ORDER BY n DESC, c_high) AS rn
                FROM hsizes) s
            WHERE rn = 1)
        SELECT x.source_dataset, x.source_table, x.row_id_hash, x.match_score, x.c_low AS cluster_id,
               CASE WHEN x.c_medium = cm.c_medium AND x.c_high = ch.c_high THEN 'high'
                    WHEN x.c_medium = cm.c_medium THEN 'medium'
                    ELSE 'low' END AS band_joined
        FROM x JOIN core_medium cm ON cm.c_low = x.c_low
        JOIN core_high ch ON ch.c_medium = cm.c_medium
        WHERE x.source_table IS NOT NULL"""


def person_record_sql(band: str, tables: list[str] | None = None, *, model: DataFirstModel = MODEL,
                      clusters: str = "_xjs_clusters", pseudonyms: str = "_xjs_pseudonyms",
                      target: str = PERSON_RECORD) -> str:
    """The CREATE statement of ``spine.person_record`` from the clusters and pseudonym tables.

    ``clusters`` is the materialised result of :func:`xjs_clusters_sql`; ``pseudonyms`` maps ``cluster_id`` to
    ``person_id``. ``tables`` restricts the detail and event tables to those present in the warehouse.
    """
    _check_band(band)
    paths = person_paths(model)
    band_rank = "CASE band_joined WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END"
    persons = f"""
        SELECT ps.person_id, c.source_dataset, c.source_table, c.row_id_hash AS record_id, c.match_score,
               c.band_joined, {sql_literal(band)} AS band, c.row_id_hash AS person_record_id
        FROM {clusters} c JOIN {pseudonyms} ps ON ps.cluster_id = c.cluster_id"""
    parts = [persons]
    for name, path in paths.items():
        if path.table == path.person_table:
            continue
        if tables is not None and (name not in tables or path.person_table not in tables and not path.direct):
            continue
        if path.direct:
            sel = f"""
        SELECT pr.person_id, pr.source_dataset, {sql_literal(name)} AS source_table, t.{path.record_id} AS record_id,
               pr.match_score, pr.band_joined, pr.band, pr.person_record_id
        FROM extract.{name} t JOIN persons pr
          ON pr.source_table = {sql_literal(path.person_table)} AND pr.record_id = t.{path.on[0][0]}"""
            parts.append(sel)
            continue
        on = " AND ".join(f"t.{a} = p.{b}" for a, b in path.on)
        rid = _pk(model.table(path.person_table))
        # one row per (person, record): a person may hold two parties of one case
        sel = f"""
        SELECT person_id, MIN(source_dataset) AS source_dataset, {sql_literal(name)} AS source_table, record_id,
               MAX(match_score) AS match_score,
               CASE MIN({band_rank}) WHEN 0 THEN 'high' WHEN 1 THEN 'medium' ELSE 'low' END AS band_joined,
               {sql_literal(band)} AS band, MIN(person_record_id) AS person_record_id
        FROM (
            SELECT pr.person_id, pr.source_dataset, t.{path.record_id} AS record_id, pr.match_score,
                   pr.band_joined, pr.person_record_id
            FROM extract.{name} t JOIN extract.{path.person_table} p ON {on}
            JOIN persons pr ON pr.source_table = {sql_literal(path.person_table)} AND pr.record_id = p.{rid}) d
        GROUP BY person_id, record_id"""
        parts.append(sel)
    cols = ", ".join(PERSON_RECORD_COLUMNS)
    body = "\n        UNION ALL\n".join(f"SELECT {cols} FROM ({p}) u{i}" for i, p in enumerate(parts[1:]))
    union = f"SELECT {cols} FROM persons" + (f"\n        UNION ALL\n{body}" if body else "")
    return f"CREATE OR REPLACE TABLE {target} AS\n        WITH persons AS ({persons})\n        {union}"


def pseudonymise_clusters(cluster_ids: pa.Array | list[str], *, key: bytes | None = None,
                          domain: str = "person") -> pa.Array:
    """``linkage.pseudonym.pseudonymise`` of each cluster id, fast (the HMAC state of the key is reused)."""
    k = key if key is not None else pseudonym_key()
    base = hmac.new(k, f"{domain}\x1f".encode(), hashlib.sha256)
    vals = cluster_ids.to_pylist() if isinstance(cluster_ids, pa.Array | pa.ChunkedArray) else list(cluster_ids)
    out = []
    for v in vals:
        if v is None:
            out.append(None)
            continue
        h = base.copy()
        h.update(str(v).encode("utf-8"))
        out.append(h.hexdigest()[:ID_LENGTH])
    return pa.array(out, type=pa.string())


def _connection(con):
    from ..warehouse.engine import connection

    return connection(con)


def fetch_arrow(con, sql: str) -> pa.Table:
    """The result of ``sql`` as an Arrow table, on DuckDB (``sql().to_arrow_table()``) or the Spark connection."""
    rel = con.sql(sql)
    if hasattr(rel, "to_arrow_table"):
        return rel.to_arrow_table()
    return rel.arrow()


def build_person_records(con, *, band: str = "medium", model: DataFirstModel = MODEL,
                         link_table: str = "extract.xjs_link") -> None:
    """Create or replace ``spine.person_record``: every Data First record joined to its XJS person at ``band``.

    ``con`` is the warehouse connection (DuckDB, the Spark connection, an Ibis DuckDB backend, or a project).
    Needs ``extract.xjs_link``; detail tables are joined when they are loaded. Person ids are the HMAC of the
    cluster id (key from ``$BOLD_PSEUDONYM_KEY``). ``link_table`` may name a table shaped like ``xjs_link`` with
    other person ids, such as the improved ids of ``bold link xjs-audit`` (``linkage.xjs_link_improved``).
    The fingerprint ``bold spine build`` recorded of the person records (``spine.person_record_info``) is dropped,
    so the next spine build rebuilds them from the id it is asked for.
    """
    _check_band(band)
    con, close = _connection(con)
    try:
        key = pseudonym_key()
        present = warehouse_tables(con, "extract")
        schema, _, name = link_table.rpartition(".")
        if name not in warehouse_tables(con, schema or "main"):
            ids = {v: k for k, v in XJS_IDS.items()}
            if link_table in ids:
                check_xjs_link_table(con, ids[link_table])
            raise InputError(f"the warehouse has no {link_table} table (a table shaped like extract.xjs_link)",
                             hint="give a table the warehouse holds, or build on the published XJS table")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _xjs_clusters AS "
                    f"{xjs_clusters_sql(band, model=model, link_table=link_table)}")
        ids = fetch_arrow(con, "SELECT DISTINCT cluster_id FROM _xjs_clusters ORDER BY cluster_id")
        cluster_col = ids.column("cluster_id")
        pseud = pa.table({"cluster_id": cluster_col.combine_chunks() if cluster_col.num_chunks else cluster_col,
                          "person_id": pseudonymise_clusters(cluster_col, key=key)})
        con.register("_xjs_pseudonym_arrow", pseud)
        con.execute("CREATE OR REPLACE TEMP TABLE _xjs_pseudonyms AS SELECT cluster_id, person_id "
                    "FROM _xjs_pseudonym_arrow")
        if hasattr(con, "unregister"):
            con.unregister("_xjs_pseudonym_arrow")
        # the recorded fingerprint of the person records (``bold spine build``) no longer describes them
        con.execute(f"DROP TABLE IF EXISTS {PERSON_RECORD_INFO}")
        con.execute(person_record_sql(band, sorted(present), model=model))
        con.execute("DROP TABLE IF EXISTS _xjs_clusters")
        con.execute("DROP TABLE IF EXISTS _xjs_pseudonyms")
    finally:
        if close:
            con.close()


def band_rank(band: str) -> int:
    """0 for high, 1 for medium, 2 for low."""
    _check_band(band)
    return _RANK[band]
