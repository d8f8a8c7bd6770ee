"""Load a Wave 1-2 source under its data contracts and link it to the spine (``bold link wave SOURCE``).

:func:`load_wave_source` stages each table of the source (``<folder>/<table>.parquet|csv``, or the ``waves/``
folder of a synthetic population), runs the contract checks of :mod:`bold_prevention.warehouse.quality`, applies
the failure policy (every wave source is non-critical: a broken or missing table is left out, never blocking) and
the wave checks below, then writes ``extract.<table>`` (analysis columns) and ``linkage.identity_<table>`` (record
id and identifiers) in one transaction.

Wave checks (each reported with the table and column, never an identifier value):

* **no usable key**: a person table whose rows all lack a date of birth or every name and national number is
  refused (left out); a source cannot be linked without one;
* **outside the period**: a table none of whose main dates falls in the spine's period is refused;
* **dates out of order** (a benefit spell ending before it starts): reported by the contract's date-order check;
  the table is loaded, and the rows are never linked (they are counted in the link result);
* **death before an event**: when deaths are linked, a death registration whose linked spine person has a later
  linked event is refused (removed from the spine) and counted, unless the death's link is stronger (a higher match
  score) than every such event's: then those weaker event links are the suspect ones, and they are unlinked and
  counted instead.

:func:`link_wave_source` links the source's person table with
:func:`bold_prevention.linkage.wave.link_source_to_spine` (the NDTMS attributor with its initials, date of birth
and local authority comparisons) and attaches the event tables through the national number (NINO, NHS number) or
the pupil reference, at the band of their person's link. Four things make a wave link more than a pairwise
score (docs/waves.md, "Linkage quality"):

* the spine's identities are completed from their spine person's other identities (a civil or family party's
  name takes the person's date of birth, sex and forename where it has none), so a namesake with another date of
  birth, or a relative of the other sex at the same address, is seen to differ;
* a source that is a register of persons (one record per person: :func:`holds_one_record_per_person`) has its
  links scored as one assignment among the competing pairs
  (:func:`bold_prevention.linkage.wave.exclusive_scores_sql`): a lone candidate of a spine person the source is
  expected to hold gains, a spine person claimed by several records loses;
* the postcode area counts only where the full postcodes differ (not twice for the same address);
* a spine person known only from court forms without a date of birth still has an age: an adult party was at
  least 16 at the case date, a child party under 18 (:func:`implied_birth_ranges`); every candidate pair of such a
  person is weighed by whether the record's date of birth fits (a Bayes factor estimated from the data,
  :func:`bold_prevention.linkage.wave.birth_range_evidence`), and the share of spine persons expected in a register
  is counted among the persons its dates of birth can reach (a source of adults holds no young child).

The model is built within :func:`~.splink_model.model_options` (:func:`wave_model_options`): a woman's changed
surname (forename and date of birth agreeing) costs less than another person's surname; for pupils, dates of
birth 4 years apart are a hard non-match. Pupils' links are then weighed by child-party evidence
(:func:`weigh_child_party_evidence`) and refused where the spine person was an adult party before the pupil was
16 (:func:`refuse_children_as_adult_parties`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from ..datafirst.waves import WAVE_MODEL, WAVE_SOURCES, WaveSource
from ..errors import InputError
from ..warehouse.contracts import WAVE_EVENT_DATES, WAVE_KEY_COLUMNS, decide, wave_contract
from ..warehouse.engine import sql_literal, table_exists, transaction
from ..warehouse.quality import (
    CheckResult,
    data_checks,
    foreign_key_check,
    plan_columns,
    primary_key_check,
    q,
)
from ..warehouse.readers import FileInfo, TableFiles
from .splink_model import BANDS, Thresholds, model_options
from .xjs import band_rank

Progress = Callable[[str], None]
_SUFFIX = {".parquet": "parquet", ".csv": "csv"}


@dataclass
class WaveLoad:
    source: str
    tables: dict[str, str] = field(default_factory=dict)  # table -> loaded | degraded | missing | refused
    rows: dict[str, int] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "tables": self.tables, "rows": self.rows, "problems": self.problems,
                "checks": [c.to_dict() for c in self.checks if c.status != "pass"]}


def source_of(key: str) -> WaveSource:
    if key not in WAVE_SOURCES:
        raise InputError(f"unknown wave source {key!r}", hint=f"choose one of: {', '.join(WAVE_SOURCES)}")
    return WAVE_SOURCES[key]


#: Person tables that are registers of persons (one record per person) without a national number that says so.
_REGISTERS = ("npd_pupil", "ons_death_registrations")


def holds_one_record_per_person(src: WaveSource) -> bool:
    """Whether the source's person table holds at most one record per person: a register keyed by a national number
    (DWP customers and HMRC individuals by NINO, NHS patients by NHS number), pupils by their pupil reference and
    death registrations. Their links are scored as one assignment among competitors (``exclusive``); a table of
    episodes or referrals (NDTMS, a support service) can hold one person many times and is not."""
    return src.strength != "weak" and (src.person_key is not None or src.person_table in _REGISTERS)


def _tables_of(src: WaveSource) -> list[str]:
    return [t.name for d in src.datasets for t in WAVE_MODEL.dataset(d).tables]


def _find(folder: Path, table: str) -> TableFiles | None:
    for base in (folder, folder / "waves"):
        for suf, fmt in _SUFFIX.items():
            p = base / f"{table}{suf}"
            if p.is_file():
                return TableFiles(table, fmt, [p])
    return None


def _inspect(tf: TableFiles, con) -> FileInfo:
    """The columns of a wave file (CSV read as text, typed by the contract); an unreadable file is an error that
    names the file, never its content."""
    info = FileInfo(tf.table, tf.fmt, tf.files, delimiter="," if tf.fmt == "csv" else None)
    try:
        cols = con.execute(f"describe select * from {info.relation_sql()}").fetchall()
        info.columns = {c[0]: c[1] for c in cols}
    except duckdb.Error:
        info.error = f"{tf.label} cannot be read as {tf.fmt} (corrupted, empty or not {tf.fmt})"
    return info


def spine_period(con) -> tuple[date, date]:
    """The spine's period: the Data First coverage up to the spine's as-at date where recorded."""
    start, end = date(2011, 1, 1), date(2024, 12, 31)
    if table_exists(con, "meta", "spine_builds"):
        try:
            r = con.execute("select max(as_at) from meta.spine_builds").fetchone()
            if r and r[0]:
                end = r[0]
        except duckdb.Error:
            pass
    return start, end


def load_wave_source(con: duckdb.DuckDBPyConnection, source: str, folder: str | Path, *,
                     snapshot_date: date | None = None, progress: Progress | None = None) -> WaveLoad:
    """Stage, check and load the tables of one wave source (see the module docstring)."""
    say = progress or (lambda _m: None)
    src = source_of(source)
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"source folder {folder} does not exist",
                         hint="pass the folder holding the wave files (or a synthetic population folder)")
    res = WaveLoad(source)
    snap = snapshot_date or date.today()
    lo, hi = spine_period(con)
    staged: dict[str, Any] = {}
    con.execute("create schema if not exists extract")
    con.execute("create schema if not exists linkage")
    con.execute("create schema if not exists wave_staging")
    try:
        for name in _tables_of(src):
            tf = _find(folder, name)
            if tf is None:
                res.tables[name] = "missing"
                res.problems.append(f"{name}: no file {name}.parquet or {name}.csv in {folder}; the {source} source is "
                                    "loaded without it (non-critical)")
                continue
            say(f"checking {name}")
            contract = wave_contract(name)
            info = _inspect(tf, con)
            if info.error:
                res.tables[name] = "degraded"
                res.problems.append(f"{name}: {info.error}")
                continue
            plan, schema = plan_columns(contract, info)
            res.checks.extend(schema)
            if plan.schema_break:
                res.tables[name] = "degraded"
                res.problems.append(f"{name}: " + "; ".join(c.message for c in schema if c.blocking))
                continue
            stg = f"wave_staging.{q(name)}"
            con.execute(f"create or replace table {stg} as select {plan.select_sql(contract)} "
                        f"from {info.relation_sql()}")
            rows = con.execute(f"select count(*) from {stg}").fetchone()[0]
            checks = data_checks(con, stg, contract, plan, rows=rows, today=date.today(), snapshot_date=snap)
            if rows and all(k in plan.present for k in contract.primary_key):
                checks.append(primary_key_check(con, stg, contract, plan, rows=rows))
            for fk in contract.foreign_keys:
                parent = f"wave_staging.{q(fk.ref_table)}" if fk.ref_table in staged else (
                    f"extract.{q(fk.ref_table)}" if table_exists(con, "extract", fk.ref_table) else None)
                if rows and parent:
                    checks.append(foreign_key_check(con, stg, contract, fk, parent, plan, rows=rows))
            checks = _wave_checks(con, stg, name, contract, plan, rows, lo, hi) + checks  # reported first
            res.checks.extend(checks)
            d = decide(contract, checks)
            if d.decision in ("degrade", "block"):
                res.tables[name] = "refused"
                res.problems.append(d.reason)
                continue
            res.tables[name] = "loaded"
            res.rows[name] = int(rows)
            staged[name] = (contract, plan)
        with transaction(con):
            for name, (contract, plan) in staged.items():
                stg = f"wave_staging.{q(name)}"
                cols = [c for c in contract.analysis_columns if c in plan.present or c in plan.filled]
                con.execute(f"create or replace table extract.{q(name)} as select {', '.join(q(c) for c in cols)}, "
                            f"date '{snap.isoformat()}' as snapshot_date from {stg}")
                ident = [c for c in (*contract.id_columns, *contract.identifier_columns, contract.sex_column)
                         if c and c in plan.present]
                ident = list(dict.fromkeys(ident))
                if contract.identifier_columns and plan.identifiers:
                    con.execute(f"create or replace table linkage.{q('identity_' + name)} as select "
                                f"{', '.join(q(c) for c in ident)} from {stg}")
            for name, status in res.tables.items():
                if status != "loaded":
                    con.execute(f"drop table if exists extract.{q(name)}")
                    con.execute(f"drop table if exists linkage.{q('identity_' + name)}")
    finally:
        con.execute("drop schema if exists wave_staging cascade")
    return res


def _wave_checks(con, stg: str, name: str, contract, plan, rows: int, lo: date, hi: date) -> list[CheckResult]:
    out: list[CheckResult] = []
    if not rows:
        return out
    keys = [c for c in WAVE_KEY_COLUMNS.get(name, ()) if c in plan.present]
    if name in WAVE_KEY_COLUMNS:
        dob = "date_of_birth" in plan.present
        usable = (f"date_of_birth is not null and ({' or '.join(f'{q(k)} is not null' for k in keys)})"
                  if dob and keys else "false")
        n_ok = con.execute(f"select count(*) filter (where {usable}) from {stg}").fetchone()[0]
        if n_ok == 0:
            out.append(CheckResult(name, "usable_key", "fail", f"{name}: no record has a usable key (a date of birth "
                                   f"with a name or national number): the source cannot be linked", failing=rows,
                                   total=rows, threshold="at least one linkable record", blocking=True))
        else:
            out.append(CheckResult(name, "usable_key", "pass" if n_ok == rows else "warn",
                                   f"{name}: {rows - n_ok:,} of {rows:,} record(s) without a usable key will not link",
                                   failing=rows - n_ok, total=rows, threshold="reported"))
    col = WAVE_EVENT_DATES.get(name)
    if col and col in plan.present:
        expr = (f"make_date(cast({q(col)} as integer), 9, 1)" if col == "academic_year" else q(col))
        n_in = con.execute(f"select count(*) filter (where {expr} between date '{lo}' and date '{hi}'), "
                           f"count({q(col)}) from {stg}").fetchone()
        if n_in[1] and n_in[0] == 0:
            out.append(CheckResult(name, "spine_period", "fail", f"{name}.{col}: none of the {n_in[1]:,} dates falls "
                                   f"in the spine's period ({lo} to {hi}): its people cannot be the spine's",
                                   column=col, failing=n_in[1], total=n_in[1], threshold="some in the period",
                                   blocking=True))
        elif n_in[1]:
            out.append(CheckResult(name, "spine_period", "pass" if n_in[0] == n_in[1] else "warn",
                                   f"{name}.{col}: {n_in[1] - n_in[0]:,} date(s) outside the spine's period",
                                   column=col, failing=n_in[1] - n_in[0], total=n_in[1], threshold="reported"))
    return out


@dataclass
class WaveSourceLink:
    source: str
    person_table: str
    records: int
    linked: dict[str, int]
    band: str
    events: dict[str, dict[str, int]] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: Records that took the stronger link of another source's record with the same national number.
    borrowed: int = 0
    #: Evidence weighed after the pairwise model (child sources: :func:`weigh_child_party_evidence`).
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: National numbers that identify one person across wave sources (a NINO across DWP and HMRC, an NHS number across
#: NHS patients and death registrations).
NATIONAL_NUMBERS = ("nino", "nhs_number")


def _replace_links(con: duckdb.DuckDBPyConnection, best, person_table: str, dataset: str, res) -> None:
    """Replace the source's links in ``spine.person_record`` by ``best`` (person_id, record_id, match_score,
    band_joined), keeping those at least as strict as the spine's band, in one transaction; ``res.linked`` counts
    them by band."""
    keep = band_rank(res.band)
    ranks = ", ".join(f"('{b}', {band_rank(b)})" for b in BANDS)
    con.register("__wave_links", best)
    try:
        with transaction(con):
            con.execute("delete from spine.person_record where source_table = ?", [person_table])
            con.execute(f"""
                insert into spine.person_record (person_id, source_dataset, source_table, record_id, match_score,
                                                 band_joined, band, person_record_id)
                select w.person_id, {sql_literal(dataset)}, {sql_literal(person_table)}, w.record_id, w.match_score,
                       w.band_joined, {sql_literal(res.band)}, w.record_id
                from __wave_links w join (values {ranks}) b(name, rank) on b.name = w.band_joined
                where b.rank <= {keep}""")
    finally:
        con.unregister("__wave_links")
    counts = dict(con.execute("select band_joined, count(*) from spine.person_record where source_table = ? "
                              "group by 1", [person_table]).fetchall())
    res.linked = {b: int(counts.get(b, 0)) for b in BANDS}


def borrow_national_number_links(con: duckdb.DuckDBPyConnection, source: str, res, thresholds: Thresholds) -> int:
    """Give each record of ``source``'s person table the stronger of its own link and the link of another wave
    source's person record with the same national number (NINO, NHS number) and the same date of birth or the same
    forename and surname (so a mistyped number that belongs to someone else lends nothing). DWP and HMRC are
    joined by the NINO in the real data shares, HES and deaths by the NHS number: a person whose benefit record
    links to the spine is the person whose PAYE record carries the same NINO, whatever the PAYE record's own
    demographics score against a spine identity that holds only a name. Sources linked earlier lend to those
    linked later (link a source again to let it borrow from one linked after it). Rewrites the source's rows of
    ``spine.person_record`` and ``res`` (its best pairs and counts); returns the number of records whose link was
    borrowed. Identifiers are compared here, in the linkage layer, and never leave it."""
    import pyarrow.compute as pc

    person = source_of(source).person_table
    mine = {c[0] for c in con.execute(f"describe linkage.{q('identity_' + person)}").fetchall()}
    keys = [k for k in NATIONAL_NUMBERS if k in mine]
    if not keys or res.pairs is None:
        return 0
    rid = WAVE_MODEL.table(person).record_id
    linked = {r[0] for r in con.execute("select distinct source_table from spine.person_record").fetchall()}
    parts = []
    for other in sorted({s.person_table for s in WAVE_SOURCES.values()} & linked - {person}):
        if not table_exists(con, "linkage", f"identity_{other}"):
            continue
        theirs = {c[0] for c in con.execute(f"describe linkage.{q('identity_' + other)}").fetchall()}
        orid = WAVE_MODEL.table(other).record_id
        for k in keys:
            if k not in theirs or not {"date_of_birth", "forename", "surname"} <= mine & theirs:
                continue
            parts.append(f"""
                select t.{q(rid)} as record_id, r.person_id, r.match_score, r.band_joined
                from linkage.{q('identity_' + person)} t
                join linkage.{q('identity_' + other)} u on u.{q(k)} = t.{q(k)}
                 and (t.date_of_birth = u.date_of_birth or (upper(trim(t.forename)) = upper(trim(u.forename))
                      and upper(trim(t.surname)) = upper(trim(u.surname))))
                join spine.person_record r on r.source_table = '{other}' and r.record_id = u.{q(orid)}
                where t.{q(k)} is not null""")
    if not parts:
        return 0
    con.register("__own_links", res.pairs)
    try:
        best = con.sql(f"""
            with c as (select record_id, person_id, match_score, band_joined, false as lent from __own_links
                       union all select *, true from ({' union all '.join(parts)}) x),
            b as (select * from c qualify row_number() over (partition by record_id
                                                             order by match_score desc, lent, person_id) = 1)
            select person_id, record_id, match_score, {thresholds.band_sql('match_score')} as band_joined, lent
            from b
            {"qualify row_number() over (partition by person_id order by match_score desc, record_id) = 1"
             if source == "deaths" else ""}""").to_arrow_table()
    finally:
        con.unregister("__own_links")
    n = int(pc.sum(best.column("lent")).as_py() or 0)
    if not n:
        return 0
    best = best.drop(["lent"])
    _replace_links(con, best, person, WAVE_MODEL.table(person).dataset, res)
    res.pairs = best
    return n


#: Person tables of sources about children (pupils): their links get the age-plausibility guards.
CHILD_PERSON_TABLES = ("npd_pupil",)
#: Dates of birth this many years apart or more (not a single slip) are a hard non-match for a child's record:
#: a pupil is not a parent or a much older sibling of the same name at the same address.
CHILD_GENERATION_YEARS = 4
#: A child's record never links to a spine person who was a party in an adult role (a civil claimant or
#: defendant, a family applicant or respondent) at a date when the child was younger than this.
ADULT_PARTY_MIN_AGE = 16
#: Party tables, their case table and date, and the condition on the party row for an adult role.
_ADULT_PARTY_ROLES = (
    ("civil_parties", "civil_cases", "issue_date", "coalesce(not p.is_company, true)"),
    ("family_parties", "family_cases", "receipt_date", "p.role_model not like 'CHLD%'"),
)


def wave_model_options(src: WaveSource) -> dict[str, Any]:
    """The :func:`~.splink_model.model_options` a wave source's model is built with: the ``changed`` surname level
    (a woman's surname that differs while her forename and date of birth agree) for every source compared on
    names, dates of birth and sex (not the NDTMS attributor's initials); and for sources about children, dates of
    birth :data:`CHILD_GENERATION_YEARS` years apart as a hard non-match."""
    opts: dict[str, Any] = {"surname_changes": src.strength != "weak"}
    if src.person_table in CHILD_PERSON_TABLES:
        opts["generation_years"] = CHILD_GENERATION_YEARS
    return opts


#: Child parties: the party table, its case table and date, and the condition on the party row for a child role.
_CHILD_PARTY_ROLES = (("family_parties", "family_cases", "receipt_date", "p.role_model like 'CHLD%'"),)
#: Fewest high-band links from which the share of a child source's persons who are child parties is estimated.
MIN_LINKS_FOR_EVIDENCE = 20


def _party_dates_sql(con, roles: tuple[tuple[str, str, str, str], ...]) -> str | None:
    from ..datafirst import MODEL

    parts = []
    for party, case, col, cond in roles:
        if not (table_exists(con, "extract", party) and table_exists(con, "extract", case)):
            continue
        prid = MODEL.table(party).record_id
        parts.append(f"select r.person_id, c.{q(col)} as d from spine.person_record r "
                     f"join extract.{q(party)} p on r.source_table = '{party}' and r.record_id = p.{q(prid)} "
                     f"join extract.{q(case)} c using (case_number_hash) where {cond} and c.{q(col)} is not null")
    return " union all ".join(parts) if parts else None


def implied_birth_ranges(con: duckdb.DuckDBPyConnection, *, adult_min_age: int = ADULT_PARTY_MIN_AGE,
                         child_max_age: int = 18) -> Any:
    """Each spine person's date of birth as implied by their court roles alone: a party in an adult role
    (:data:`_ADULT_PARTY_ROLES`: a civil claimant or defendant, a family applicant or respondent) was at least
    ``adult_min_age`` at the case date, so was born on or before it less that many years (``born_before``, the
    earliest such bound); a child party in a family case (:data:`_CHILD_PARTY_ROLES`) was under ``child_max_age``
    at the case date, so was born after it less that many years (``born_after``, the latest such bound). An Arrow
    table ``person_id, born_after, born_before`` (dates, either null where no role bounds it) of the persons with a
    role; the dates are case dates shifted, never a date of birth. Used as age evidence for spine persons known
    by name alone (:func:`bold_prevention.linkage.wave.birth_range_evidence`)."""
    import pyarrow as pa

    adult = _party_dates_sql(con, _ADULT_PARTY_ROLES)
    child = _party_dates_sql(con, _CHILD_PARTY_ROLES)
    parts = ([f"select person_id, null::date as born_after, cast(d - interval '{int(adult_min_age)}' year as date) "
              f"as born_before from ({adult}) a"] if adult else []) + (
             [f"select person_id, cast(d - interval '{int(child_max_age)}' year as date) as born_after, null::date "
              f"as born_before from ({child}) c"] if child else [])
    if not parts:
        return pa.table({"person_id": pa.array([], pa.string()), "born_after": pa.array([], pa.date32()),
                         "born_before": pa.array([], pa.date32())})
    return con.sql(f"select person_id, max(born_after) as born_after, min(born_before) as born_before "
                   f"from ({' union all '.join(parts)}) x group by 1 order by 1").to_arrow_table()


def _birth_ranges_for(con: duckdb.DuckDBPyConnection, person_table: str) -> Any:
    """The implied birth ranges a source's pairs are weighed by: for a source about children (pupils), only the
    adult roles' bound, because their child-party roles are weighed by :func:`weigh_child_party_evidence` (not
    twice)."""
    import pyarrow as pa

    ranges = implied_birth_ranges(con)
    if person_table in CHILD_PERSON_TABLES:
        ranges = ranges.set_column(ranges.schema.get_field_index("born_after"), "born_after",
                                   pa.nulls(ranges.num_rows, pa.date32()))
    return ranges


def weigh_child_party_evidence(con: duckdb.DuckDBPyConnection, person_table: str, res, thresholds: Thresholds
                               ) -> dict[str, Any]:
    """Update each best link of a child source's record (a pupil with a date of birth) by whether its spine person
    was a child party (a child in a family case) to a case dated while the pupil was under 18: evidence the
    pairwise model does not see, and the only age evidence a spine person known from family court forms (a name,
    no date of birth) carries.

    A Bayes factor, estimated from the data: ``a`` is the share of the pupils linked at the high band whose spine
    person is such a child party, ``b`` the share of all spine persons who are child parties in any case; a link
    whose person is one has its odds multiplied by ``a / b``, any other by ``(1 - a) / (1 - b)``. Not applied
    (``applied: False``) with fewer than :data:`MIN_LINKS_FOR_EVIDENCE` high-band links or no child parties.
    Rewrites the table's rows of ``spine.person_record`` at the spine's band and ``res.pairs``/``res.linked``."""
    out: dict[str, Any] = {"applied": False}
    parties = _party_dates_sql(con, _CHILD_PARTY_ROLES)
    if res.pairs is None or parties is None or not table_exists(con, "linkage", f"identity_{person_table}"):
        return out
    t = WAVE_MODEL.table(person_table)
    dob = t.identifier_roles.get("date_of_birth")
    if not dob:
        return out
    con.register("__child_pairs", res.pairs)
    try:
        con.execute(f"""create or replace temp table __child_ev as
            select w.*, exists (select 1 from ({parties}) a where a.person_id = w.person_id
                                and a.d >= i.{q(dob)} and a.d < i.{q(dob)} + to_years(18)) as child_party,
                   i.{q(dob)} is not null as has_dob
            from __child_pairs w left join linkage.{q('identity_' + person_table)} i on i.{q(t.record_id)} = w.record_id""")
    finally:
        con.unregister("__child_pairs")
    try:
        n_high, a_hits = con.execute("select count(*), count(*) filter (where child_party) from __child_ev "
                                     "where band_joined = 'high' and has_dob").fetchall()[0]
        persons, child = con.execute(f"""select count(distinct person_id), (select count(distinct person_id)
            from ({parties}) x) from spine.person_record where source_table in ({_justice_tables_sql()})""").fetchall()[0]
        out.update(high_links=int(n_high), spine_persons=int(persons), child_party_persons=int(child))
        if n_high < MIN_LINKS_FOR_EVIDENCE or not child or not persons:
            return out
        # shares kept away from 0 and 1 (one pseudo-count each way), so no factor is infinite
        a = (a_hits + 1) / (n_high + 2)
        b = (child + 1) / (persons + 2)
        yes, no = a / b, (1 - a) / (1 - b)
        out.update(applied=True, share_linked=round(a, 4), share_spine=round(b, 4), factor_child_party=round(yes, 3),
                   factor_other=round(no, 3))
        best = con.sql(f"""
            with s as (select person_id, record_id, case when not has_dob then match_score else
                              least(greatest(match_score, 1e-9), 1 - 1e-9) end as p, has_dob, child_party
                       from __child_ev),
            u as (select person_id, record_id, case when not has_dob then p else
                         p * f / (p * f + 1 - p) end as match_score
                  from (select *, case when child_party then {yes!r} else {no!r} end as f from s))
            select person_id, record_id, match_score, {thresholds.band_sql('match_score')} as band_joined
            from u where match_score >= {thresholds.low!r}""").to_arrow_table()
    finally:
        con.execute("drop table if exists __child_ev")
    _replace_links(con, best, person_table, t.dataset, res)
    res.pairs = best
    return out


def refuse_children_as_adult_parties(con: duckdb.DuckDBPyConnection, person_table: str, *,
                                     min_age: int = ADULT_PARTY_MIN_AGE) -> list[str]:
    """Unlink each record of a child source (``person_table``, a pupil) from its spine person where that person
    was a party in an adult role (:data:`_ADULT_PARTY_ROLES`) to a case dated before the child's ``min_age``-th
    birthday (the child's date of birth, where the record holds one): a pupil is not a civil claimant or a parent
    in a family case. The record is left unlinked rather than given to the next candidate (it is counted). Returns
    the record ids unlinked."""
    if not table_exists(con, "linkage", f"identity_{person_table}"):
        return []
    rid = WAVE_MODEL.table(person_table).record_id
    roles = WAVE_MODEL.table(person_table).identifier_roles
    if "date_of_birth" not in roles:
        return []
    adult_dates = _party_dates_sql(con, _ADULT_PARTY_ROLES)
    if adult_dates is None:
        return []
    bad = con.execute(f"""
        select distinct r.record_id from spine.person_record r
        join linkage.{q('identity_' + person_table)} i on i.{q(rid)} = r.record_id
        join ({adult_dates}) a on a.person_id = r.person_id
        where r.source_table = ? and i.{q(roles['date_of_birth'])} is not null
          and a.d < i.{q(roles['date_of_birth'])} + to_years({int(min_age)})""", [person_table]).fetchall()
    if bad:
        con.executemany("delete from spine.person_record where source_table = ? and record_id = ?",
                        [(person_table, b[0]) for b in bad])
    return [str(b[0]) for b in bad]


def _event_id_expr(table: str) -> str:
    pk = WAVE_MODEL.table(table).primary_key
    return q(pk[0]) if len(pk) == 1 else "concat_ws('|', " + ", ".join(f"cast({q(c)} as varchar)" for c in pk) + ")"


def _bad_order_sql(table: str) -> str:
    orders = WAVE_MODEL.table(table).date_orders
    if not orders:
        return "false"
    return " or ".join(f"coalesce({q(o.earlier)} > {q(o.later)}, false)" for o in orders)


def link_wave_source(con: duckdb.DuckDBPyConnection, source: str, *, model_path: str | Path | None = None,
                     retrain: bool = False, truth_dir: str | Path | None = None,
                     thresholds: Thresholds | None = None, progress: Progress | None = None) -> WaveSourceLink:
    """Link a loaded wave source's persons to the spine and attach its event records (see the module docstring)."""
    from .wave import link_source_to_spine

    t0 = time.perf_counter()
    src = source_of(source)
    person = src.person_table
    weak = src.strength == "weak"
    with model_options(**wave_model_options(src)):
        res = link_source_to_spine(con, person, model_path=model_path, retrain=retrain, thresholds=thresholds,
                                   progress=progress, attributor=weak, keep_pairs=True,
                                   one_per_person=source == "deaths", postcode_area=source != "npd",
                                   complete_identities=True, exclusive=holds_one_record_per_person(src),
                                   birth_ranges=None if weak else _birth_ranges_for(con, person))
    refused_adult = 0
    evidence: dict[str, Any] = {}
    if person in CHILD_PERSON_TABLES:
        evidence = weigh_child_party_evidence(con, person, res, thresholds or Thresholds())
        gone = refuse_children_as_adult_parties(con, person)
        refused_adult = len(gone)
        if gone and res.pairs is not None:
            import pyarrow as pa
            import pyarrow.compute as pc

            res.pairs = res.pairs.filter(pc.invert(pc.is_in(res.pairs.column("record_id"),
                                                            value_set=pa.array(sorted(gone)))))
    borrowed = borrow_national_number_links(con, source, res, thresholds or Thresholds())
    if res.quality.get("birth_ranges"):
        evidence = {**evidence, "birth_ranges": res.quality["birth_ranges"]}
    out = WaveSourceLink(source, person, res.records, res.linked, res.band, borrowed=borrowed, evidence=evidence)
    if person in CHILD_PERSON_TABLES:
        out.refused["children_linked_to_adult_parties"] = refused_adult
        if refused_adult:
            counts = dict(con.execute("select band_joined, count(*) from spine.person_record where source_table = ? "
                                      "group by 1", [person]).fetchall())
            out.linked = {b: int(counts.get(b, 0)) for b in BANDS}
    pid = WAVE_MODEL.table(person).record_id
    with transaction(con):
        for ev in src.event_tables:
            if not table_exists(con, "extract", ev):
                out.events[ev] = {"records": 0, "linked": 0, "unattached": 0, "dates_out_of_order": 0}
                continue
            con.execute("delete from spine.person_record where source_table = ?", [ev])
            rid = _event_id_expr(ev)
            bad = _bad_order_sql(ev)
            if src.person_key:
                k = src.person_key
                if not table_exists(con, "linkage", f"identity_{ev}"):
                    continue
                base = (f"select {rid} as record_id, i.{q(k)} as k, ({bad}) as bad from extract.{q(ev)} e "
                        f"join linkage.{q('identity_' + ev)} i using ({', '.join(q(c) for c in WAVE_MODEL.table(ev).primary_key)})")
                persons = (f"select i.{q(k)} as k, r.person_id, r.match_score, r.band_joined, r.band "
                           f"from linkage.{q('identity_' + person)} i join spine.person_record r "
                           f"on r.source_table = '{person}' and r.record_id = i.{q(pid)} "
                           f"qualify row_number() over (partition by i.{q(k)} order by r.match_score desc) = 1")
            else:  # NPD modules (the pupil reference), support contacts (the referral): the key to the person table
                fk = next((f.columns[0] for f in WAVE_MODEL.table(ev).foreign_keys if f.ref_table == person),
                          "pupil_matching_reference")
                base = (f"select {rid} as record_id, {q(fk)} as k, ({bad}) as bad "
                        f"from extract.{q(ev)}")
                persons = (f"select r.record_id as k, r.person_id, r.match_score, r.band_joined, r.band "
                           f"from spine.person_record r where r.source_table = '{person}'")
            ds = WAVE_MODEL.table(ev).dataset
            con.execute(f"""
                insert into spine.person_record (person_id, source_dataset, source_table, record_id, match_score,
                                                 band_joined, band, person_record_id)
                select p.person_id, '{ds}', '{ev}', b.record_id, p.match_score, p.band_joined, p.band, b.record_id
                from ({base}) b join ({persons}) p on p.k = b.k where not b.bad""")
            n = con.execute(f"select count(*), count(*) filter (where bad), count(*) filter (where k is null) "
                            f"from ({base})").fetchone()
            linked = con.execute("select count(*) from spine.person_record where source_table = ?", [ev]).fetchone()[0]
            out.events[ev] = {"records": int(n[0]), "linked": int(linked), "dates_out_of_order": int(n[1]),
                              "without_key": int(n[2])}
        if source == "deaths":
            deaths, events = _refuse_deaths_before_events(con)
            out.refused["deaths_before_a_linked_event"] = deaths
            out.refused["events_after_a_stronger_death"] = events
    if truth_dir is not None:
        from .wave import score_against_truth

        out.quality = link_quality(con, person, truth_dir, res.pairs)
        out.quality["overall"] = score_against_truth(con, person, truth_dir)
    out.seconds = time.perf_counter() - t0
    return out


def _refuse_deaths_before_events(con) -> tuple[int, int]:
    """Resolve linked wave events dated after their spine person's linked death: the weaker link of the two is
    the suspect one. A death whose link is no stronger than a later event's is refused (removed from the spine);
    otherwise the later events whose links are weaker than the death's are unlinked. Returns (deaths refused,
    events unlinked)."""
    parts = []
    for ev, col in WAVE_EVENT_DATES.items():
        if ev in ("ons_death_registrations",) or col == "academic_year" or not table_exists(con, "extract", ev):
            continue
        rid = _event_id_expr(ev)
        parts.append(f"select r.person_id, '{ev}' as source_table, r.record_id, r.match_score, e.{q(col)} as d "
                     f"from extract.{q(ev)} e join spine.person_record r "
                     f"on r.source_table = '{ev}' and r.record_id = {rid}")
    if not parts or not table_exists(con, "extract", "ons_death_registrations"):
        return 0, 0
    clash = f"""
        select r.record_id as death_id, r.match_score as death_score, x.source_table, x.record_id,
               x.match_score as event_score
        from spine.person_record r
        join extract.ons_death_registrations d on d.registration_id = r.record_id
        join ({' union all '.join(parts)}) x on x.person_id = r.person_id and x.d > d.date_of_death
        where r.source_table = 'ons_death_registrations'"""
    bad = con.execute(f"select distinct death_id from ({clash}) c where coalesce(event_score, 1) >= "
                      "coalesce(death_score, 1)").fetchall()
    if bad:
        con.executemany("delete from spine.person_record where source_table = 'ons_death_registrations' "
                        "and record_id = ?", bad)
    weak = con.execute(f"select distinct source_table, record_id from ({clash}) c").fetchall()
    if weak:
        con.executemany("delete from spine.person_record where source_table = ? and record_id = ?", weak)
    return len(bad), len(weak)


def link_quality(con, table: str, truth_dir: str | Path, pairs) -> dict[str, Any]:
    """Precision, recall and F1 of the best link of each record at each band (all three, whatever the spine's
    band), overall and by sex, age band and ethnic group of the true person (synthetic truth; evaluation only)."""
    truth = Path(truth_dir)
    tr, tp = truth / "truth_record.parquet", truth / "truth_person.parquet"
    if not tr.exists() or not tp.exists():
        raise InputError(f"no truth tables in {truth}", hint="give the truth folder of a synthetic population")
    s = duckdb.connect()
    try:
        s.register("best", pairs)
        s.execute(f"create table tr as select * from read_parquet('{tr.as_posix()}')")
        s.execute(f"create table tp as select * from read_parquet('{tp.as_posix()}')")
        # the spine's own records (the justice tables), never another wave source's links, which may be wrong
        spine = con.sql("select person_id, source_table, record_id from spine.person_record "
                        f"where source_table in ({_justice_tables_sql()})").to_arrow_table()
        s.register("spine_rec", spine)
        s.execute("""create table spine_true as select distinct r.person_id, t.person_id as true_person
                     from spine_rec r join tr t on t."table" = r.source_table and t.record_id = r.record_id""")
        s.execute(f"""create table src as select t.record_id, t.person_id as true_person, p.sex,
                       case when date_diff('year', p.date_of_birth, date '2018-01-01') < 18 then '0-17'
                            when date_diff('year', p.date_of_birth, date '2018-01-01') < 25 then '18-24'
                            when date_diff('year', p.date_of_birth, date '2018-01-01') < 45 then '25-44'
                            when date_diff('year', p.date_of_birth, date '2018-01-01') < 65 then '45-64'
                            else '65+' end as age_band, p.ethnic_group,
                       t.person_id in (select true_person from spine_true) as findable
                     from tr t join tp p using (person_id) where t."table" = '{table}'""")
        s.execute("""create table judged as select b.record_id, b.band_joined, exists (
                        select 1 from spine_true st where st.person_id = b.person_id and st.true_person = src.true_person)
                        as correct from best b join src using (record_id)""")
        out: dict[str, Any] = {"bands": {}, "by": {}}
        for band in BANDS:
            ok = ", ".join(f"'{b}'" for b in BANDS if band_rank(b) <= band_rank(band))
            out["bands"][band] = _prf(s, f"band_joined in ({ok})", "true")
            for g in ("sex", "age_band", "ethnic_group"):
                groups = [r[0] for r in s.execute(f"select distinct {g} from src order by 1").fetchall()]
                out["by"].setdefault(band, {})[g] = {
                    str(v): _prf(s, f"band_joined in ({ok})", f"src.{g} = '{v}'" if v is not None else
                                 f"src.{g} is null") for v in groups}
        return out
    finally:
        s.close()


def _justice_tables_sql() -> str:
    from ..datafirst import MODEL

    return ", ".join(f"'{t.name}'" for t in MODEL.xjs_tables())


def _prf(s, band_cond: str, group_cond: str) -> dict[str, Any]:
    links, correct = s.execute(f"select count(*), count(*) filter (where correct) from judged j "
                               f"join src using (record_id) where {band_cond} and {group_cond}").fetchone()
    findable = s.execute(f"select count(*) from src where findable and {group_cond}").fetchone()[0]
    p = correct / links if links else None
    r = correct / findable if findable else None
    f1 = 2 * p * r / (p + r) if p and r else None
    return {"links": int(links), "correct": int(correct), "findable": int(findable),
            "precision": None if p is None else round(p, 4), "recall": None if r is None else round(r, 4),
            "f1": None if f1 is None else round(f1, 4)}


# --------------------------------------------------------------------------------------------- children and parents
#: Child record sources: table -> (record id column, condition on the extract table for child rows or None).
CHILD_TABLES: dict[str, tuple[str, str | None]] = {
    "hmrc_child_benefit_children": ("child_ref", None),
    "npd_pupil": ("pupil_matching_reference", None),
    "family_parties": ("row_id_hash", "role_model LIKE 'CHLD%'"),
}


def _child_identity_sql(con, table: str) -> str | None:
    rid, cond = CHILD_TABLES[table]
    if not table_exists(con, "linkage", f"identity_{table}"):
        return None
    roles = WAVE_MODEL.table(table).identifier_roles
    where = ""
    if cond:
        if not table_exists(con, "extract", table):
            return None
        where = f" where i.{q(rid)} in (select {q(rid)} from extract.{q(table)} where {cond})"
    norm = ("case when i.{f} is null or i.{s} is null or i.{d} is null then null else "
            "upper(trim(i.{f})) || '|' || upper(trim(i.{s})) || '|' || cast(i.{d} as varchar) end").format(
        f=q(roles["forename"]), s=q(roles["surname"]), d=q(roles["date_of_birth"]))
    return (f"select '{table}' as child_table, cast(i.{q(rid)} as varchar) as child_record_id, {norm} as k, "
            f"year(i.{q(roles['date_of_birth'])}) as birth_year from linkage.{q('identity_' + table)} i{where}")


def child_records(con: duckdb.DuckDBPyConnection) -> Any:
    """Every child record of the loaded child sources (Child Benefit children, NPD pupils, children who are parties
    to family cases) with a pseudonymised ``child_id`` (an HMAC, domain ``child``, of the child's standardised
    forename, surname and date of birth, so one child has one id across the sources; a record lacking one of them
    gets an id of its own), the child's ``birth_year`` and ``pupil_ref`` (the pupil matching reference of the NPD
    pupil with the same id, where there is one). Identifiers are read here, in the linkage layer, and never
    returned. An Arrow table: ``child_table, child_record_id, child_id, birth_year, pupil_ref``."""
    import pyarrow as pa

    from .pseudonym import pseudonymise_many

    parts = [s for s in (_child_identity_sql(con, t) for t in CHILD_TABLES) if s]
    schema = pa.schema([("child_table", pa.string()), ("child_record_id", pa.string()), ("child_id", pa.string()),
                        ("birth_year", pa.int64()), ("pupil_ref", pa.string())])
    if not parts:
        return schema.empty_table()
    rows = con.sql(" union all ".join(parts)).to_arrow_table()
    keys = [k if k is not None else f"{t}\x1f{r}" for k, t, r in zip(
        rows.column("k").to_pylist(), rows.column("child_table").to_pylist(),
        rows.column("child_record_id").to_pylist(), strict=True)]
    ids = pseudonymise_many(keys, domain="child")
    s = duckdb.connect()
    try:
        s.register("r", pa.table({"child_table": rows.column("child_table"),
                                  "child_record_id": rows.column("child_record_id"), "child_id": ids,
                                  "birth_year": rows.column("birth_year")}))
        return s.sql("""select r.child_table, r.child_record_id, r.child_id, cast(r.birth_year as bigint) as birth_year,
                        p.pupil_ref from r left join (select child_id, min(child_record_id) as pupil_ref from r
                        where child_table = 'npd_pupil' group by child_id) p using (child_id)""").to_arrow_table()
    finally:
        s.close()


def household_pupils(con: duckdb.DuckDBPyConnection, *, min_gap: int = 15, max_gap: int = 55) -> Any:
    """Spine persons and the NPD pupils who live at their address: the pupil's postcode and surname equal to those
    of one of the person's justice identity records, the person ``min_gap`` to ``max_gap`` years older. A weak
    relation (an address and a surname, no parent recorded): its band is ``low``. An Arrow table of
    ``person_id, child_record_id`` (the pupil matching reference); identifiers are never returned."""
    from ..datafirst import MODEL

    if not (table_exists(con, "linkage", "identity_npd_pupil") and table_exists(con, "spine", "person_record")):
        import pyarrow as pa

        return pa.table({"person_id": pa.array([], pa.string()), "child_record_id": pa.array([], pa.string())})
    adults = []
    for jt in MODEL.xjs_tables():
        if not table_exists(con, "linkage", f"identity_{jt.name}"):
            continue
        r = jt.identifier_roles
        if not {"surname", "date_of_birth", "postcode"} <= set(r):
            continue
        adults.append(f"select p.person_id, upper(trim(i.{q(r['surname'])})) as surname, "
                      f"upper(replace(i.{q(r['postcode'])}, ' ', '')) as postcode, i.{q(r['date_of_birth'])} as dob "
                      f"from linkage.{q('identity_' + jt.name)} i join spine.person_record p "
                      f"on p.source_table = '{jt.name}' and p.record_id = i.{q(jt.record_id)}")
    if not adults:
        import pyarrow as pa

        return pa.table({"person_id": pa.array([], pa.string()), "child_record_id": pa.array([], pa.string())})
    return con.sql(f"""
        with a as (select distinct * from ({' union all '.join(adults)}) x
                   where surname is not null and postcode is not null and dob is not null),
        c as (select pupil_matching_reference as child_record_id, upper(trim(surname)) as surname,
                     upper(replace(postcode, ' ', '')) as postcode, date_of_birth as dob
              from linkage.identity_npd_pupil where surname is not null and postcode is not null
                and date_of_birth is not null)
        select distinct a.person_id, c.child_record_id from a join c using (surname, postcode)
        where date_diff('year', a.dob, c.dob) between {int(min_gap)} and {int(max_gap)}
        order by 1, 2""").to_arrow_table()
