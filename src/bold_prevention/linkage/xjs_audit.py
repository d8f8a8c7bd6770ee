"""Audit the XJS table itself: re-link the justice identities with the toolkit's own model and compare.

Data First's cross-justice (XJS) table is the spine's person id, and nobody publishes its precision or recall.
:func:`audit_xjs` (``bold link xjs-audit``):

1. deduplicates the identities of every XJS person record (``linkage.identity_<table>``) with the toolkit's own
   Splink model (:func:`~.run.link_tables`, a dedupe);
2. compares the two partitions at XJS's medium band: **splits** - pairs of XJS persons that the model joins with
   high confidence (a record of each scored at or above the high threshold) - and **merges** - XJS persons whose
   records the model puts in two or more persons even at the low band;
3. estimates XJS's pairwise precision and recall, with Wilson intervals, from a clerical-review sample of record
   pairs (``left_key, right_key, label``: keys are ``<source_dataset>:<row_id_hash>``) and, on the synthetic
   population, against the truth;
4. offers an improved person id: XJS's medium clusters joined wherever the model links two of them with high
   confidence (connected components). It is written as ``linkage.xjs_link_improved``, shaped exactly like
   ``extract.xjs_link`` (the medium and low clusters and ``estimated_xjs_id`` replaced), so the spine can be built
   on it: ``build_person_records(con, band="medium", link_table="linkage.xjs_link_improved")``.

Identifiers stay in the private scratch database of the linkage step; the audit reports counts and rates only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ..datafirst import MODEL
from ..errors import InputError
from ..warehouse.engine import sql_literal
from ..warehouse.engine import tables as warehouse_tables
from .config import LinkConfig, SideConfig
from .qa import wilson_interval
from .splink_model import Guards, Thresholds, quiet_splink
from .xjs import XJS_IDS

Progress = Callable[[str], None]
IMPROVED_TABLE = XJS_IDS["improved"]
_ROLES = ("forename", "middle_names", "surname", "date_of_birth", "sex", "postcode")


def _identities_sql(present: set[tuple[str, str]]) -> str:
    parts = []
    for t in MODEL.xjs_tables():
        if ("linkage", f"identity_{t.name}") not in present:
            continue
        roles = t.identifier_roles
        cols = ", ".join(f"cast({roles[r]} as varchar) as {r}" if r in roles else f"cast(null as varchar) as {r}"
                         for r in _ROLES)
        parts.append(f"select '{t.xjs_source}:' || cast({t.record_id} as varchar) as record_key, {cols} "
                     f"from linkage.identity_{t.name}")
    if not parts:
        raise InputError("the warehouse has no justice identities (linkage.identity_<table>) to audit XJS with",
                         hint="load the Data First extracts with `bold load` first")
    return " union all ".join(parts)


def _pair_counts(con, a: str, b: str | None = None) -> int:
    """Pairs of records in the same cluster of column ``a`` (and of ``b``, when given) of table ``__audit``."""
    keys = f"{a}, {b}" if b else a
    return int(con.execute(f"select coalesce(sum(n * (n - 1) / 2), 0) from (select count(*) as n from __audit "
                           f"where {a} is not null {'and ' + b + ' is not null' if b else ''} group by {keys})"
                           ).fetchall()[0][0])


def _pairs_with(con, source: str, a: str, b: str | None = None) -> int:
    """Like :func:`_pair_counts`, counting only pairs with at least one record of ``source``."""
    keys = f"{a}, {b}" if b else a
    lit = sql_literal(source)
    return int(con.execute(f"""select coalesce(sum(n * (n - 1) / 2 - m * (m - 1) / 2), 0) from (
        select count(*) as n, count(*) filter (where source_dataset <> {lit}) as m from __audit
        where {a} is not null {'and ' + b + ' is not null' if b else ''} group by {keys})""").fetchall()[0][0])


def _prf(tp: int, pred: int, true: int) -> dict[str, Any]:
    p = tp / pred if pred else None
    r = tp / true if true else None
    f1 = 2 * p * r / (p + r) if p and r else None
    return {"precision": None if p is None else round(p, 5), "recall": None if r is None else round(r, 5),
            "f1": None if f1 is None else round(f1, 5), "true_positive_pairs": tp, "predicted_pairs": pred,
            "true_pairs": true}


def _components(con, edges_sql: str, nodes_sql: str) -> pa.Table:
    """Connected components: ``node`` -> ``component`` (the smallest node label of its component)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = [r[0] for r in con.execute(f"select distinct node from ({nodes_sql}) order by 1").fetchall()]
    index = {n: i for i, n in enumerate(nodes)}
    edges = con.execute(edges_sql).fetchall()
    rows = np.array([index[a] for a, _ in edges], np.int64)
    cols = np.array([index[b] for _, b in edges], np.int64)
    n = len(nodes)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=False) if n else (0, np.array([], np.int64))
    smallest: dict[int, str] = {}
    for i, lab in enumerate(label):
        smallest.setdefault(int(lab), nodes[i])  # nodes are sorted: the first seen is the smallest
    return pa.table({"node": pa.array(nodes, pa.string()),
                     "component": pa.array([smallest[int(lab)] for lab in label], pa.string())})


def audit_xjs(con: duckdb.DuckDBPyConnection, *, truth_dir: str | Path | None = None,
              review: str | Path | None = None, thresholds: Thresholds | None = None,
              write_improved: bool = True, split: bool = False,
              progress: Progress | None = None) -> dict[str, Any]:
    """Audit ``extract.xjs_link`` against the toolkit's own dedupe of the justice identities (see the module
    docstring). ``con`` is the project's warehouse connection. Returns the report.

    ``split``: also break XJS persons whose records the model puts in different persons even at its low band
    (the improved id then both joins and splits; where the model's own recall is weak, as for civil parties
    without dates of birth, splitting costs recall)."""
    from .run import link_tables

    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    thresholds = thresholds or Thresholds()
    present = warehouse_tables(con)
    if ("extract", "xjs_link") not in present:
        raise InputError("the warehouse has no extract.xjs_link table (the XJS linking dataset)",
                         hint="load the Data First extracts, including xjs_link, with `bold load` first")
    scratch = duckdb.connect()
    try:
        ident = con.sql(_identities_sql(present)).to_arrow_table()
        xjs = con.sql("""select source_dataset || ':' || row_id_hash as record_key, source_dataset, row_id_hash,
                                coalesce(cluster_high, 'r:' || source_dataset || ':' || row_id_hash) as xjs_high,
                                coalesce(cluster_medium, estimated_xjs_id, 'r:' || source_dataset || ':'
                                         || row_id_hash) as xjs_medium,
                                coalesce(cluster_low, cluster_medium, estimated_xjs_id, 'r:' || source_dataset
                                         || ':' || row_id_hash) as xjs_low
                         from extract.xjs_link""").to_arrow_table()
        scratch.register("__ident_arrow", ident)
        scratch.execute("create table __raw_0 as select * from __ident_arrow")
        scratch.register("__xjs_arrow", xjs)
        scratch.execute("create table __xjs as select * from __xjs_arrow")
        roles = {r: r for r in _ROLES}
        cfg = LinkConfig(left=SideConfig(path=Path("justice_identities"), id_column="record_key", name="justice",
                                         columns=roles),
                         thresholds=thresholds, guards=Guards())
        quiet_splink()
        say(f"re-linking {ident.num_rows:,} justice identities with the toolkit's model")
        res = link_tables(scratch, cfg, inputs=["__raw_0"], progress=say)
        # every XJS record with its model cluster at each band
        scratch.execute(f"""create or replace table __audit as
            select x.*, h.cluster_id as model_high, m.cluster_id as model_medium, l.cluster_id as model_low
            from __xjs x
            left join {res.clusters['high']} h on h.record_id = x.record_key
            left join {res.clusters['medium']} m on m.record_id = x.record_key
            left join {res.clusters['low']} l on l.record_id = x.record_key""")
        # the persons the improved id starts from: XJS's medium persons, refined by the model's low-band persons
        # when splitting
        base = ("case when model_low is null then xjs_medium else xjs_medium || '|' || model_low end" if split
                else "xjs_medium")
        scratch.execute(f"create or replace table __audit_s as select *, {base} as base_medium from __audit")
        scratch.execute("drop table __audit")
        scratch.execute("alter table __audit_s rename to __audit")
        # splits: XJS medium persons joined by a high-confidence model pair
        scratch.execute(f"""create or replace table __split_edges as
            select distinct least(a.base_medium, b.base_medium) as c1, greatest(a.base_medium, b.base_medium) as c2
            from {res.pairs} p join __audit a on a.record_key = p.left_id join __audit b on b.record_key = p.right_id
            where p.match_probability >= {thresholds.high!r} and a.base_medium <> b.base_medium""")
        split_edges, split_persons = scratch.execute("""
            select count(distinct (least(a.xjs_medium, b.xjs_medium), greatest(a.xjs_medium, b.xjs_medium))),
                   count(distinct a.xjs_medium) + 0 from __split_edges e
            join __audit a on a.base_medium = e.c1 join __audit b on b.base_medium = e.c2
            where a.xjs_medium <> b.xjs_medium""").fetchall()[0]
        split_persons = scratch.execute("""select count(*) from (
            select a.xjs_medium from __split_edges e join __audit a on a.base_medium in (e.c1, e.c2)
            join __audit b on b.base_medium in (e.c1, e.c2) where a.xjs_medium <> b.xjs_medium group by 1)"""
                                        ).fetchall()[0][0]
        merged_persons = scratch.execute("""select count(*) from (select xjs_medium from __audit
            where model_low is not null group by 1 having count(distinct model_low) > 1)""").fetchall()[0][0]
        persons = scratch.execute("select count(distinct xjs_medium) from __audit").fetchall()[0][0]
        # the improved id: XJS medium clusters joined by high-confidence model pairs
        comp = _components(scratch, "select c1, c2 from __split_edges",
                           "select base_medium as node from __audit")
        scratch.register("__comp", comp)
        scratch.execute("""create or replace table __audit2 as
            select a.*, c.component as improved_medium from __audit a join __comp c on c.node = a.base_medium""")
        scratch.execute("drop table __audit")
        scratch.execute("alter table __audit2 rename to __audit")
        # low band: XJS low clusters joined the same way (a merged medium person joins its low clusters)
        comp_low = _components(scratch, """select distinct a.xjs_low, b.xjs_low from __audit a join __audit b
                                           on a.improved_medium = b.improved_medium and a.xjs_low < b.xjs_low""",
                               "select xjs_low as node from __audit")
        scratch.register("__comp_low", comp_low)
        improved_persons = scratch.execute("select count(distinct improved_medium) from __audit").fetchall()[0][0]
        report: dict[str, Any] = {
            "records": int(xjs.num_rows), "identities": int(ident.num_rows),
            "xjs_persons_medium": int(persons), "improved_persons_medium": int(improved_persons),
            "splits": {"xjs_person_pairs_joined_by_model_high": int(split_edges),
                       "xjs_persons_involved": int(split_persons)},
            "merges": {"xjs_persons_split_by_model_low": int(merged_persons)},
            "model": {"em_sessions": res.summary["model"]["em_sessions"],
                      "pairs_by_band": res.summary["pairs"]["by_band"]},
            "thresholds": thresholds.as_dict(), "split": split,
        }
        if review is not None:
            report["clerical_review"] = _review_estimates(scratch, Path(review))
        if truth_dir is not None:
            report["against_truth"] = _truth_scores(scratch, Path(truth_dir))
        if write_improved:
            scratch.execute("""create or replace table __improved as
                select x.source_dataset, x.row_id_hash, a.improved_medium, cl.component as improved_low
                from __xjs x join __audit a using (record_key) join __comp_low cl on cl.node = a.xjs_low""")
            improved = scratch.sql("select * from __improved").to_arrow_table()
    finally:
        scratch.close()
    if write_improved:
        con.register("__xjs_improved_arrow", improved)
        try:
            con.execute("create schema if not exists linkage")
            con.execute(f"""create or replace table {IMPROVED_TABLE} as
                select x.* replace ('I' || md5(i.improved_medium)[1:15] as estimated_xjs_id,
                                    'I' || md5(i.improved_medium)[1:15] as cluster_medium,
                                    'I' || md5(i.improved_low)[1:15] as cluster_low)
                from extract.xjs_link x join __xjs_improved_arrow i
                  on i.source_dataset = x.source_dataset and i.row_id_hash = x.row_id_hash""")
        finally:
            con.unregister("__xjs_improved_arrow")
        report["improved_table"] = IMPROVED_TABLE
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def _truth_scores(scratch, truth_dir: Path) -> dict[str, Any]:
    truth = truth_dir / "truth_record.parquet"
    if not truth.exists():
        raise InputError(f"no truth table at {truth}", hint="give the truth folder of a synthetic population")
    tables = {t.name: t.xjs_source for t in MODEL.xjs_tables()}
    case = " ".join(f"when '{k}' then '{v}'" for k, v in tables.items())
    scratch.execute(f"""create or replace table __truth as
        select (case "table" {case} end) || ':' || record_id as record_key, cast(person_id as varchar) as person
        from read_parquet('{truth.as_posix()}') where "table" in ({', '.join(f"'{k}'" for k in tables)})""")
    scratch.execute("create or replace table __audit_t as select a.*, t.person from __audit a "
                    "left join __truth t using (record_key)")
    scratch.execute("alter table __audit rename to __audit_keep")
    scratch.execute("alter table __audit_t rename to __audit")
    try:
        true_pairs = _pair_counts(scratch, "person")
        out = {}
        for name, col in (("xjs_medium", "xjs_medium"), ("xjs_high", "xjs_high"), ("xjs_low", "xjs_low"),
                          ("model_medium", "model_medium"), ("improved_medium", "improved_medium")):
            out[name] = _prf(_pair_counts(scratch, col, "person"), _pair_counts(scratch, col), true_pairs)
        # by source: pairs with at least one record of the source (family and civil parties have weak identifiers)
        by_source: dict[str, Any] = {}
        sources = [r[0] for r in scratch.execute("select distinct source_dataset from __audit order by 1").fetchall()]
        for src in sources:
            row = {}
            for name in ("xjs_medium", "model_medium", "improved_medium"):
                row[name] = _prf(_pairs_with(scratch, src, name, "person"), _pairs_with(scratch, src, name),
                                 _pairs_with(scratch, src, "person"))
            by_source[src] = row
        out["by_source"] = by_source
        return out
    finally:
        scratch.execute("drop table __audit")
        scratch.execute("alter table __audit_keep rename to __audit")


def _review_estimates(scratch, path: Path) -> dict[str, Any]:
    """XJS's (and the improved id's) precision and recall from a clerical sample of labelled record pairs."""
    from .qa import REVIEW_DECISIONS

    if not path.is_file():
        raise InputError(f"review file {path} not found",
                         hint="give a CSV of left_key, right_key, label (keys: <source_dataset>:<row_id_hash>)")
    scratch.execute(f"create or replace table __rev_raw as select * from read_csv('{path.as_posix()}', "
                    "all_varchar = true)")
    cols = [r[0] for r in scratch.execute("describe __rev_raw").fetchall()]
    if not {"left_key", "right_key", "label"} <= set(cols):
        raise InputError(f"review file {path.name}: needs columns left_key, right_key and label",
                         hint="one row per reviewed record pair; label is match or non-match")
    yes = ", ".join(f"'{k}'" for k, v in REVIEW_DECISIONS.items() if v)
    no = ", ".join(f"'{k}'" for k, v in REVIEW_DECISIONS.items() if not v)
    scratch.execute(f"""create or replace table __rev as
        select a.xjs_medium = b.xjs_medium as xjs_joins, a.improved_medium = b.improved_medium as improved_joins,
               lower(trim(r.label)) in ({yes}) as is_match
        from __rev_raw r join __audit a on a.record_key = r.left_key join __audit b on b.record_key = r.right_key
        where lower(trim(r.label)) in ({yes}, {no})""")
    out: dict[str, Any] = {"reviewed_pairs": int(scratch.execute("select count(*) from __rev").fetchall()[0][0])}
    for name in ("xjs", "improved"):
        joined, tp, matches = scratch.execute(f"""select count(*) filter (where {name}_joins),
            count(*) filter (where {name}_joins and is_match), count(*) filter (where is_match) from __rev"""
                                              ).fetchall()[0]
        p = tp / joined if joined else math.nan
        r = tp / matches if matches else math.nan
        out[name] = {"precision": None if math.isnan(p) else round(p, 5),
                     "precision_ci95": [round(x, 5) for x in wilson_interval(tp, joined)] if joined else None,
                     "recall": None if math.isnan(r) else round(r, 5),
                     "recall_ci95": [round(x, 5) for x in wilson_interval(tp, matches)] if matches else None,
                     "reviewed_joined": int(joined), "reviewed_matches": int(matches)}
    return out
