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
   confidence (connected components), on the evidence below. It is written as ``linkage.xjs_link_improved``,
   shaped exactly like ``extract.xjs_link`` (the medium and low clusters and ``estimated_xjs_id`` replaced), so the
   spine can be built on it: ``build_person_records(con, band="medium", link_table="linkage.xjs_link_improved")``.
   With ``split`` the starting persons are XJS's refined by the model's low band (``True``), or only where a part
   contradicts the rest of its XJS person (``"contradictions"``).

The evidence a join needs (``evidence=True``, the default; see :func:`tuned_joins`). Family and civil court
parties often have a name and no date of birth, and the model's high-confidence pairs between such records are
mostly namesakes and relatives at one address (a father and his junior, a mother and her child). A high-confidence
pair joins two persons only when:

* **a name needs a second field**: if either record lacks a date of birth, the forenames agree (exactly or as the
  same canonical name: a forename disagreement between relatives is decisive) *and* the full postcodes agree;
* **ages are plausible**: the two persons' dates of birth (each the median of its records') are less than
  :attr:`JoinEvidence.dob_spread_years` apart (the generation guard's years), and fit the ages the joined
  person's court roles imply - an adult party
  (a civil claimant or defendant, a family applicant or respondent) was at least
  :attr:`JoinEvidence.adult_party_min_age` at the case date, a child party under
  :attr:`JoinEvidence.child_party_max_age` (a year's slack for a slipped date) - checked on the whole person as
  joins accumulate (strongest first), so a chain of joins cannot make a person both a child and a parent;
* **a name is not ambiguous**: a person with no date of birth whose name-only pairs reach two persons that cannot
  be one (a father and a junior of the same name at the same address) joins neither.

Identifiers stay in the private scratch database of the linkage step; the audit reports counts and rates only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
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


@dataclass(frozen=True)
class JoinEvidence:
    """What a high-confidence model pair needs before it joins two persons of the improved id (module docstring)."""

    #: A party in an adult role was at least this old at the case date.
    adult_party_min_age: int = 16
    #: A child party was younger than this at the case date (plus one year's slack for a slipped date of birth).
    child_party_max_age: int = 18
    #: Dates of birth this many years apart or more are two people (None: the model's generation guard's years).
    dob_spread_years: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"adult_party_min_age": self.adult_party_min_age, "child_party_max_age": self.child_party_max_age,
                "dob_spread_years": self.dob_spread_years}


#: Court parties whose role implies an age: the party table, its case table and case date, the condition on the
#: party row for a child role, and the condition for a party that is a person (not a company).
PARTY_AGE_ROLES: tuple[tuple[str, str, str, str, str], ...] = (
    ("family_parties", "family_cases", "receipt_date", "p.role_model like 'CHLD%'", "true"),
    ("civil_parties", "civil_cases", "issue_date", "false", "coalesce(not p.is_company, true)"),
)


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
    """Connected components: ``node`` -> ``component`` (the smallest node label of its component). ``nodes_sql``
    selects ``node``; ``edges_sql`` selects two node columns (edges whose ends are not nodes are left out)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # the nodes numbered in sort order, so the smallest node of a component is the one with the smallest number
    con.execute(f"""create or replace temp table __cc_nodes as
        select node, cast(row_number() over (order by node) - 1 as bigint) as i
        from (select distinct node from ({nodes_sql}) where node is not null)""")
    nodes = con.sql("select node from __cc_nodes order by i").to_arrow_table().column("node").combine_chunks()
    ends = con.execute(f"""select a.i as x, b.i as y from ({edges_sql}) as e(u, v)
        join __cc_nodes a on a.node = e.u join __cc_nodes b on b.node = e.v""").fetchnumpy()
    con.execute("drop table __cc_nodes")
    n = len(nodes)
    if not n:
        return pa.table({"node": pa.array([], pa.string()), "component": pa.array([], pa.string())})
    rows, cols = np.asarray(ends["x"], np.int64), np.asarray(ends["y"], np.int64)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    _, first = np.unique(label, return_index=True)  # the smallest node number of each component (labels 0..k-1)
    return pa.table({"node": nodes.cast(pa.string()), "component": nodes.take(pa.array(first[label])).cast(pa.string())})


def split_counts(scratch) -> tuple[int, int]:
    """What the model's high-confidence joins between starting persons (``scratch.__split_edges``: pairs ``c1, c2``
    of ``__audit.base_medium``) say about XJS's medium persons: the pairs of XJS persons they join, and the XJS
    persons involved (each XJS person among the records of a join's two starting persons, where those records hold
    two or more XJS persons)."""
    scratch.execute("create or replace temp table __base_xjs as select distinct base_medium, xjs_medium from __audit")
    pairs = scratch.execute("""
        select count(distinct (least(a.xjs_medium, b.xjs_medium), greatest(a.xjs_medium, b.xjs_medium)))
        from __split_edges e join __base_xjs a on a.base_medium = e.c1 join __base_xjs b on b.base_medium = e.c2
        where a.xjs_medium <> b.xjs_medium""").fetchall()[0][0]
    persons = scratch.execute("""
        with e as (select row_number() over () as e, c1, c2 from __split_edges),
        m as (select e.e, x.xjs_medium from e join __base_xjs x on x.base_medium = e.c1
              union select e.e, x.xjs_medium from e join __base_xjs x on x.base_medium = e.c2),
        multi as (select e from m group by e having count(*) > 1)
        select count(distinct m.xjs_medium) from m join multi using (e)""").fetchall()[0][0]
    scratch.execute("drop table __base_xjs")
    return int(pairs), int(persons)


def audit_xjs(con: duckdb.DuckDBPyConnection, *, truth_dir: str | Path | None = None,
              review: str | Path | None = None, thresholds: Thresholds | None = None,
              write_improved: bool = True, split: bool | str = False, evidence: bool | JoinEvidence = True,
              progress: Progress | None = None) -> dict[str, Any]:
    """Audit ``extract.xjs_link`` against the toolkit's own dedupe of the justice identities (see the module
    docstring). ``con`` is the project's warehouse connection. Returns the report (``timings_s``: the seconds of
    each phase, the re-linking's own steps under ``relink_steps``).

    ``split``: also break XJS persons whose records the model puts in different persons even at its low band
    (the improved id then both joins and splits; where the model's own recall is weak, as for civil parties
    without dates of birth, splitting costs recall). ``split="contradictions"``: break an XJS person only where
    one of the model's low-band persons inside it contradicts the rest (dates of birth a generation apart, or
    court-role ages that rule each other out; :func:`contradiction_splits`), which keeps the recall of name-only
    parties.

    ``evidence``: the evidence a high-confidence pair needs to join two persons (:class:`JoinEvidence`; True: the
    defaults; False: every high-confidence pair joins, as before the evidence was tuned for court parties)."""
    from .run import link_tables

    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    timings: dict[str, Any] = {}
    mark = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - mark[0], 2)
        mark[0] = now

    thresholds = thresholds or Thresholds()
    if split not in (False, True, "contradictions"):
        raise InputError(f"split mode {split!r} is not known", hint="use true, false or 'contradictions'")
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
        # the join evidence reads the identities as the re-linking standardised them (same records, same options)
        scratch.execute("create view __audit_std as select * from __std_0")
        lap("relink")
        # every XJS record with its model cluster at each band
        scratch.execute(f"""create or replace table __audit as
            select x.*, h.cluster_id as model_high, m.cluster_id as model_medium, l.cluster_id as model_low
            from __xjs x
            left join {res.clusters['high']} h on h.record_id = x.record_key
            left join {res.clusters['medium']} m on m.record_id = x.record_key
            left join {res.clusters['low']} l on l.record_id = x.record_key""")
        # the persons the improved id starts from: XJS's medium persons, refined by the model's low-band persons
        # when splitting
        ev = evidence if isinstance(evidence, JoinEvidence) else JoinEvidence()
        spread = ev.dob_spread_years or cfg.guards.generation_years
        contradicted = 0
        if split == "contradictions":
            evidence_tables(con, scratch, cfg.left.options(), ev)
            contradicted = contradiction_splits(scratch, spread)
            base = "case when s.model_low is null then a.xjs_medium else a.xjs_medium || '|' || s.model_low end"
            scratch.execute(f"""create or replace table __audit_s as select a.*, {base} as base_medium from __audit a
                left join __contradicted s on s.xjs_medium = a.xjs_medium and s.model_low = a.model_low""")
        else:
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
        split_edges, split_persons = split_counts(scratch)
        merged_persons = scratch.execute("""select count(*) from (select xjs_medium from __audit
            where model_low is not null group by 1 having count(distinct model_low) > 1)""").fetchall()[0][0]
        persons = scratch.execute("select count(distinct xjs_medium) from __audit").fetchall()[0][0]
        lap("compare")
        # the improved id: XJS medium clusters joined by high-confidence model pairs (with the evidence they need)
        joins: dict[str, Any] | None = None
        edges = "__split_edges"
        if evidence is not False:
            say("weighing the evidence of the model's high-confidence joins")
            joins = tuned_joins(con, scratch, res.pairs, high=thresholds.high, options=cfg.left.options(),
                                evidence=ev, generation_years=cfg.guards.generation_years)
            edges = "__join_edges"
            lap("join_evidence")
        comp = _components(scratch, f"select c1, c2 from {edges}",
                           "select base_medium as node from __audit")
        scratch.register("__comp", comp)
        scratch.execute("""create or replace table __audit2 as
            select a.*, c.component as improved_medium from __audit a join __comp c on c.node = a.base_medium""")
        scratch.execute("drop table __audit")
        scratch.execute("alter table __audit2 rename to __audit")
        # low band: XJS low clusters joined the same way (a merged medium person joins its low clusters)
        # (each low cluster joined to the smallest of its improved person's: the same components as every pair)
        comp_low = _components(scratch, """select distinct xjs_low, min(xjs_low) over (partition by improved_medium)
                                           from __audit""", "select xjs_low as node from __audit")
        scratch.register("__comp_low", comp_low)
        improved_persons = scratch.execute("select count(distinct improved_medium) from __audit").fetchall()[0][0]
        lap("improved_id")
        report: dict[str, Any] = {
            "records": int(xjs.num_rows), "identities": int(ident.num_rows),
            "xjs_persons_medium": int(persons), "improved_persons_medium": int(improved_persons),
            "splits": {"xjs_person_pairs_joined_by_model_high": int(split_edges),
                       "xjs_persons_involved": int(split_persons)},
            "merges": {"xjs_persons_split_by_model_low": int(merged_persons)},
            "model": {"em_sessions": res.summary["model"]["em_sessions"],
                      "pairs_by_band": res.summary["pairs"]["by_band"]},
            "thresholds": thresholds.as_dict(), "split": split,
            "merges_split_on_contradictions": contradicted if split == "contradictions" else None,
            "joins": joins if joins is not None else {"evidence": None},
        }
        if review is not None:
            report["clerical_review"] = _review_estimates(scratch, Path(review))
            lap("clerical_review")
        if truth_dir is not None:
            report["against_truth"] = _truth_scores(scratch, Path(truth_dir))
            lap("truth_scores")
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
    lap("write_improved")
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["timings_s"] = {**timings, "relink_steps": res.summary.get("timings_s", {})}
    return report


def _party_ages_sql(con, ev: JoinEvidence) -> str | None:
    """SELECT of ``record_key, born_after, born_before``: the dates of birth the court role of each party record of
    the warehouse ``con`` allows (:data:`PARTY_AGE_ROLES`); None when no party table is loaded with its cases."""
    present = warehouse_tables(con)
    parts = []
    for party, case, when, child, person in PARTY_AGE_ROLES:
        if ("extract", party) not in present or ("extract", case) not in present:
            continue
        t = MODEL.table(party)
        fk = next((f for f in t.foreign_keys if f.ref_table == case), None)
        if fk is None or not t.xjs_source:
            continue
        on = " and ".join(f"c.{b} = p.{a}" for a, b in zip(fk.columns, fk.ref_columns, strict=True))
        parts.append(f"""select {sql_literal(t.xjs_source + ':')} || cast(p.{t.record_id} as varchar) as record_key,
                c.{when} as d, ({child}) as child
            from extract.{party} p join extract.{case} c on {on}
            where c.{when} is not null and ({person})""")
    if not parts:
        return None
    return (f"select record_key, "
            f"case when child then cast(d - to_years({ev.child_party_max_age + 1}) as date) end as born_after, "
            f"case when child then cast(d + to_years(1) as date) "
            f"else cast(d - to_years({ev.adult_party_min_age}) as date) end as born_before "
            f"from ({' union all '.join(parts)}) x")


def _years(a: date, b: date) -> float:
    return (b - a).days / 365.25


@dataclass(frozen=True)
class _Person:
    """What a (partly joined) person's records say about its age: their dates of birth (sorted) and the dates of
    birth its court roles allow (``born_after``, ``born_before``; None: no bound)."""

    dobs: tuple[date, ...]
    born_after: date | None
    born_before: date | None

    @property
    def dob(self) -> date | None:
        """The person's date of birth: the median of its records' (one wrong record among several does not move
        it; of two, the earlier)."""
        return self.dobs[(len(self.dobs) - 1) // 2] if self.dobs else None

    def fits(self, d: date | None) -> bool:
        return d is None or ((self.born_after is None or d >= self.born_after)
                             and (self.born_before is None or d <= self.born_before))

    @classmethod
    def start(cls, dobs: list[date] | None, born_after: date | None, born_before: date | None) -> _Person:
        """A starting person; court roles that contradict each other or the person's own date of birth (records
        the published XJS id already put together wrongly) are not used."""
        p = cls(tuple(sorted(dobs or ())), born_after, born_before)
        if (born_after is not None and born_before is not None and born_after > born_before) or not p.fits(p.dob):
            return cls(p.dobs, None, None)
        return p


def _merge(x: _Person, y: _Person, spread: int) -> tuple[_Person | None, str | None]:
    """``x`` and ``y`` as one person, or the reason they cannot be one: ``dates_of_birth`` (their dates of birth
    ``spread`` years or more apart) or ``ages`` (a date of birth, or a court role, that another court role rules
    out)."""
    if x.dob is not None and y.dob is not None and abs(_years(x.dob, y.dob)) >= spread:
        return None, "dates_of_birth"

    def pick(f, *vals):
        vals = [v for v in vals if v is not None]
        return f(vals) if vals else None

    m = _Person(tuple(sorted(x.dobs + y.dobs)), pick(max, x.born_after, y.born_after),
                pick(min, x.born_before, y.born_before))
    if (m.born_after is not None and m.born_before is not None and m.born_after > m.born_before) \
            or not m.fits(m.dob) or not m.fits(x.dob) or not m.fits(y.dob):
        return None, "ages"
    return m, None


def evidence_tables(con, scratch, options, evidence: JoinEvidence) -> None:
    """``__audit_std`` (the standardised identities of ``__raw_0``) and ``__party_ages`` (the birth ranges the
    court roles of the warehouse ``con`` imply) in ``scratch``, once."""
    from .standardise import standardise

    have = warehouse_tables(scratch, "main")
    if "__audit_std" not in have:
        standardise(scratch, "__raw_0", id_column="record_key", columns={r: r for r in _ROLES}, out="__audit_std",
                    options=options, label="justice identities")
    if "__party_ages" in have:
        return
    ages_sql = _party_ages_sql(con, evidence)
    if ages_sql is not None:
        scratch.register("__party_ages_arrow", con.sql(ages_sql).to_arrow_table())
        scratch.execute("create or replace table __party_ages as select * from __party_ages_arrow")
        scratch.unregister("__party_ages_arrow")
    else:
        scratch.execute("create or replace table __party_ages (record_key varchar, born_after date, "
                        "born_before date)")


def contradiction_splits(scratch, spread: int) -> int:
    """The parts of XJS medium persons (``xjs_medium`` of ``scratch.__audit``) that contradict the rest: the
    records of each XJS person grouped by the model's low-band person (``model_low``); the largest part (ties: the
    smallest id) is the core, and each other part, largest first, joins it unless their dates of birth are
    ``spread`` years apart or their court-role ages rule each other out (:func:`_merge`). Writes
    ``__contradicted`` (``xjs_medium, model_low``: the parts split off) and returns how many there are."""
    rows = scratch.execute("""
        with multi as (select xjs_medium from __audit where model_low is not null group by 1
                       having count(distinct model_low) > 1)
        select a.xjs_medium, a.model_low, count(*) as n, list(s.dob) filter (where s.dob is not null),
               max(g.born_after), min(g.born_before)
        from __audit a join multi using (xjs_medium) join __audit_std s on s.unique_id = a.record_key
        left join __party_ages g on g.record_key = a.record_key
        where a.model_low is not null group by 1, 2 order by 1, 3 desc, 2""").fetchall()
    split: list[tuple[str, str]] = []
    core: tuple[str, _Person] | None = None
    for xjs, part, _n, dobs, after, before in rows:
        p = _Person.start(dobs, after, before)
        if core is None or core[0] != xjs:
            core = (xjs, p)
            continue
        merged, _why = _merge(core[1], p, spread)
        if merged is None:
            split.append((xjs, part))
        else:
            core = (xjs, merged)
    scratch.register("__contradicted_arrow", pa.table({"xjs_medium": pa.array([a for a, _ in split], pa.string()),
                                                        "model_low": pa.array([b for _, b in split], pa.string())}))
    scratch.execute("create or replace table __contradicted as select * from __contradicted_arrow")
    scratch.unregister("__contradicted_arrow")
    return len(split)


def tuned_joins(con, scratch, pairs: str, *, high: float, options, evidence: JoinEvidence,
                generation_years: int) -> dict[str, Any]:
    """Which of the model's high-confidence pairs (table ``pairs`` of ``scratch``) join two of the starting persons
    (``base_medium`` of ``scratch.__audit``), on the evidence of the module docstring. Writes ``__join_edges``
    (``c1, c2``) to ``scratch`` and returns counts: the persons' pairs the model joins, those kept, and those
    refused by reason (``name_only``, ``dates_of_birth``, ``ages``, ``ambiguous``). ``con`` is the warehouse (read
    for the court parties' roles and case dates); ``scratch`` holds the identities (``__raw_0``)."""
    spread = evidence.dob_spread_years or generation_years
    evidence_tables(con, scratch, options, evidence)
    # each pair of starting persons the model joins: dated when some pair of their records has two dates of birth;
    # named when a pair without one agrees on forename (or its canonical form) and full postcode
    scratch.execute(f"""create or replace table __join_cand as
        select least(a.base_medium, b.base_medium) as c1, greatest(a.base_medium, b.base_medium) as c2,
               max(p.match_probability) as p,
               bool_or(l.dob is not null and r.dob is not null) as dated,
               bool_or((l.dob is null or r.dob is null)
                       and (l.forename = r.forename or l.forename_canonical = r.forename_canonical)
                       and l.postcode = r.postcode) as named
        from {pairs} p join __audit a on a.record_key = p.left_id join __audit b on b.record_key = p.right_id
        join __audit_std l on l.unique_id = p.left_id join __audit_std r on r.unique_id = p.right_id
        where p.match_probability >= {high!r} and a.base_medium <> b.base_medium
        group by 1, 2""")
    total, name_only = scratch.execute("select count(*), count(*) filter (where not dated and not coalesce(named, "
                                       "false)) from __join_cand").fetchall()[0]
    cand = scratch.execute("""select c1, c2, dated from __join_cand where dated or coalesce(named, false)
                              order by dated desc, p desc, c1, c2""").fetchall()
    stats = {r[0]: _Person.start(*r[1:]) for r in scratch.execute("""
        with n as (select c1 as node from __join_cand union select c2 from __join_cand)
        select a.base_medium, list(s.dob) filter (where s.dob is not null), max(g.born_after), min(g.born_before)
        from __audit a join n on n.node = a.base_medium join __audit_std s on s.unique_id = a.record_key
        left join __party_ages g on g.record_key = a.record_key group by 1""").fetchall()}
    refused = {"name_only": int(name_only), "dates_of_birth": 0, "ages": 0, "ambiguous": 0}
    # a person with no date of birth whose name-only joins reach two persons that cannot be one joins neither
    reach: dict[str, set[str]] = {}
    for a, b, dated in cand:
        if not dated:
            reach.setdefault(a, set()).add(b)
            reach.setdefault(b, set()).add(a)
    ambiguous = set()
    for node, targets in reach.items():
        if stats[node].dobs or len(targets) < 2:
            continue
        ts = sorted(targets)
        if any(_merge(stats[t1], stats[t2], spread)[0] is None for i, t1 in enumerate(ts) for t2 in ts[i + 1:]):
            ambiguous.add(node)
    # joins strongest first (dated before name-only), each checked against the whole person built so far
    parent: dict[str, str] = {}
    person = dict(stats)

    def root(n: str) -> str:
        while parent.get(n, n) != n:
            parent[n] = parent.get(parent[n], parent[n])
            n = parent[n]
        return n

    kept: list[tuple[str, str]] = []
    for a, b, dated in cand:
        if not dated and (a in ambiguous or b in ambiguous):
            refused["ambiguous"] += 1
            continue
        ra, rb = root(a), root(b)
        if ra != rb:
            merged, why = _merge(person[ra], person[rb], spread)
            if merged is None:
                refused[why] += 1
                continue
            keep, gone = sorted((ra, rb))
            parent[gone] = keep
            person[keep] = merged
        kept.append((a, b))
    scratch.register("__join_edges_arrow", pa.table({"c1": pa.array([k[0] for k in kept], pa.string()),
                                                      "c2": pa.array([k[1] for k in kept], pa.string())}))
    scratch.execute("create or replace table __join_edges as select * from __join_edges_arrow")
    scratch.unregister("__join_edges_arrow")
    return {"evidence": {**evidence.as_dict(), "dob_spread_years": spread},
            "person_pairs_joined_by_model_high": int(total), "kept": len(kept), "refused": refused}


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
