"""Compile a :class:`~bold_prevention.cohorts.spec.CohortSpec` to portable SQL steps.

Each step is a DuckDB-dialect SELECT that sqlglot transpiles to Spark and Trino. The entry step gives one row per
(person, index date); each inclusion or exclusion rule keeps the rows of the previous step that meet it, so the row
counts after each step are the attrition table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..datafirst import MODEL
from ..errors import InputError
from ..linkage.xjs import person_paths
from ..spine.build import months_before
from ..spine.sources import resolved_sql
from ..warehouse.engine import date_literal
from ..warehouse.tables import PERSON
from .spec import CohortSpec, Criterion, EntryEvent, Rule

__all__ = ["CohortStep", "compile_cohort", "events_sql"]


@dataclass(frozen=True)
class CohortStep:
    """``name`` (a temp table) holds ``person_id, index_date`` after ``rule`` (``kind``: entry, inclusion,
    exclusion)."""

    name: str
    sql: str
    rule: str
    kind: str


def _interval(days: int) -> str:
    return f"+ INTERVAL {days} DAY" if days >= 0 else f"- INTERVAL {-days} DAY"


def _columns(sql: str) -> list[str]:
    import sqlglot
    from sqlglot import exp

    return sorted({c.name for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)})


def events_sql(events: tuple[EntryEvent, ...], as_at: date) -> str:
    """SELECT person_id, event_date, event_id of the events (dated on or before the as-at date)."""
    a = date_literal(as_at)
    parts = []
    paths = person_paths()
    for ev in events:
        cols = [ev.date] if ev.date else []
        if ev.where:
            cols += _columns(ev.where)
        inner = resolved_sql(ev.table, cols)
        if ev.where:
            inner = f"SELECT * FROM ({inner}) r0 WHERE ({ev.where})"
        date_expr = f"r.{ev.date}" if ev.date else "r._record_date"
        via = ""
        if ev.via_where:
            pt = MODEL.table(paths[ev.table].person_table)
            rid = paths[pt.name].record_id
            via = (f" JOIN (SELECT {rid} AS _via_id FROM extract.{pt.name} WHERE ({ev.via_where})) v "
                   f"ON v._via_id = r._person_record_id")
        parts.append(
            f"SELECT r._person_id AS person_id, {date_expr} AS event_date, "
            f"'{ev.table}:' || r._record_id AS event_id FROM ({inner}) r{via} "
            f"WHERE {date_expr} <= {a}")
    return "\nUNION ALL\n".join(parts)


def _entry_sql(spec: CohortSpec, as_at: date, person_table: str = PERSON) -> str:
    if not spec.entry_events:
        return f"SELECT person_id, {date_literal(as_at)} AS index_date FROM {person_table}"
    ev = events_sql(spec.entry_events, as_at)
    lb = ""
    if spec.lookback_months:
        lb = f" AND e.event_date > {date_literal(months_before(as_at, spec.lookback_months))}"
    base = (f"SELECT e.person_id, e.event_date, e.event_id FROM ({ev}) e "
            f"JOIN {person_table} sp ON sp.person_id = e.person_id WHERE e.event_date IS NOT NULL{lb}")
    if spec.limit == "all":
        return f"SELECT DISTINCT person_id, event_date AS index_date FROM ({base}) b"
    order = "ASC" if spec.limit == "first" else "DESC"
    return f"""
SELECT person_id, event_date AS index_date FROM (
    SELECT b.*, ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date {order}, event_id) AS _rn
    FROM ({base}) b) s
WHERE _rn = 1"""


class _Compiler:
    def __init__(self, prev: str, as_at: date, person_table: str = PERSON) -> None:
        self.prev = prev
        self.as_at = as_at
        self.person_table = person_table
        self.joins: list[str] = []
        self.k = 0

    def leaf_where(self, c: Criterion) -> str:
        self.k += 1
        a = f"k{self.k}"
        self.joins.append(f"LEFT JOIN (SELECT person_id, 1 AS ok FROM {self.person_table} WHERE ({c.where})) {a} "
                          f"ON {a}.person_id = p.person_id")
        return f"COALESCE({a}.ok, 0)"

    def leaf_events(self, c: Criterion) -> str:
        self.k += 1
        a = f"k{self.k}"
        conds = []
        if c.start_days is not None:
            conds.append(f"ev.event_date >= q.index_date {_interval(c.start_days)}")
        if c.end_days is not None:
            conds.append(f"ev.event_date <= q.index_date {_interval(c.end_days)}")
        where = " AND ".join(conds) or "1 = 1"
        self.joins.append(f"""LEFT JOIN (
    SELECT q.person_id, q.index_date, COUNT(DISTINCT ev.event_id) AS n
    FROM {self.prev} q JOIN ({events_sql(c.events, self.as_at)}) ev ON ev.person_id = q.person_id
    WHERE {where}
    GROUP BY q.person_id, q.index_date) {a} ON {a}.person_id = p.person_id AND {a}.index_date = p.index_date""")
        n = f"COALESCE({a}.n, 0)"
        tests = []
        if c.at_least is not None:
            tests.append(f"{n} >= {c.at_least}")
        if c.at_most is not None:
            tests.append(f"{n} <= {c.at_most}")
        return f"CASE WHEN {' AND '.join(tests) or '1 = 1'} THEN 1 ELSE 0 END"

    def value(self, c: Criterion) -> str:
        if c.group:
            vals = [self.value(x) for x in c.of]
            total = " + ".join(f"({v})" for v in vals)
            need = {"all": len(vals), "any": 1}.get(c.group, c.group_n)
            return f"CASE WHEN {total} >= {need} THEN 1 ELSE 0 END"
        if c.where:
            return self.leaf_where(c)
        if c.outcome:
            return self.leaf_outcome(c)
        return self.leaf_events(c)

    def leaf_outcome(self, c: Criterion) -> str:
        """A condition on ``spine.person_outcome`` (built by ``bold spine outcomes``)."""
        self.k += 1
        a = f"k{self.k}"
        outcome, measure, value = c.outcome
        test = "value IS NULL" if value is None else f"value = {'TRUE' if value else 'FALSE'}"
        self.joins.append(f"LEFT JOIN (SELECT person_id, 1 AS ok FROM spine.person_outcome WHERE outcome = "
                          f"'{outcome}' AND measure = '{measure}' AND {test}) {a} ON {a}.person_id = p.person_id")
        return f"COALESCE({a}.ok, 0)"


def _rule_sql(rule: Rule, prev: str, as_at: date, *, exclude: bool, person_table: str = PERSON) -> str:
    comp = _Compiler(prev, as_at, person_table)
    v = comp.value(rule.criterion)
    keep = 0 if exclude else 1
    return (f"SELECT p.person_id, p.index_date FROM {prev} p\n" + "\n".join(comp.joins) +
            f"\nWHERE ({v}) = {keep}")


def _spine_columns_used(c: Criterion) -> list[str]:
    import sqlglot
    from sqlglot import exp

    out = []
    if c.where:
        out += [col.name for col in sqlglot.parse_one(c.where, read="duckdb").find_all(exp.Column)]
    for x in c.of:
        out += _spine_columns_used(x)
    return out


def check_spine_columns(spec: CohortSpec, columns: set[str]) -> None:
    """Every ``where`` of the spec reads columns of ``spine.person``."""
    for kind, rules in (("inclusion", spec.inclusion), ("exclusion", spec.exclusion)):
        for r in rules:
            bad = sorted({c for c in _spine_columns_used(r.criterion) if c not in columns})
            if bad:
                needs = [c for c in bad if c.startswith("need_")]
                hint = ("the register has no derivation for " + ", ".join(n[5:] for n in needs) +
                        "; add one, or rebuild the spine with a register that has it") if needs else (
                    "spine.person columns include: " + ", ".join(sorted(columns)[:40]) + ", ...")
                raise InputError(f"cohort {spec.name}, {kind} rule {r.name!r}: spine.person has no column "
                                 f"{', '.join(bad)}", hint=hint)


def compile_cohort(spec: CohortSpec, as_at: date, *, person_table: str = PERSON) -> list[CohortStep]:
    """The cohort's steps: entry, then one per inclusion and exclusion rule, in order.

    ``person_table`` is the person-level table the ``where`` rules read (``spine.person``; the truth-based
    cohort of :mod:`bold_prevention.cohorts.validity` uses a table of the same shape)."""
    steps = [CohortStep("_c_s0", _entry_sql(spec, as_at, person_table), "Entry: " + (
        "every person in the spine" if not spec.entry_events else
        ", ".join(e.table + (f" where {e.where}" if e.where else "") for e in spec.entry_events)), "entry")]
    for kind, rules in (("inclusion", spec.inclusion), ("exclusion", spec.exclusion)):
        for r in rules:
            prev = steps[-1].name
            steps.append(CohortStep(f"_c_s{len(steps)}", _rule_sql(r, prev, as_at, exclude=kind == "exclusion",
                                                                   person_table=person_table), r.name, kind))
    return steps


def transpile_cohort(spec: CohortSpec, as_at: date, dialect: str = "spark") -> list[tuple[str, str]]:
    """The cohort's SQL in another dialect: (step name, sql) pairs."""
    import sqlglot

    if not spec.inclusion and not spec.exclusion and not spec.entry_events and spec.population != "spine":
        raise InputError(f"cohort {spec.name} has no entry")
    return [(s.name, sqlglot.transpile(s.sql, read="duckdb", write=dialect,
                                       unsupported_level=sqlglot.ErrorLevel.RAISE)[0])
            for s in compile_cohort(spec, as_at)]
