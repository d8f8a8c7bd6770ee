"""Unmeasured is not zero: which derivation evidence the loaded extract can measure.

An evidence item of a driver reads variables of one Data First table. It is *unmeasured* when the table holds rows
but one of those variables is missing from ``extract.<table>`` or has no value in any row (an optional, inferred
Data First name that the extract calls something else is loaded as an empty column). The spine then records the
persons whose only evidence for the driver comes from unmeasured items as not measured: ``spine.person_need`` rows
with ``measured`` false and the reason, and ``need_<driver>`` NULL on ``spine.person`` (never "assessed, no need").
A driver measured from several tables or datasets is measured for every person with a record in a measured one.

A table that is not loaded, or has no rows, holds no records for anyone: its items are ``no records``, not
unmeasured (the load reports the missing table itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..warehouse.engine import quote_ident, table_exists, tables
from .rules import DriverRule

__all__ = ["EvidenceStatus", "evidence_status", "format_unmeasured", "unmeasured_by_driver"]

MEASURED, UNMEASURED, NO_RECORDS = "measured", "unmeasured", "no records"


@dataclass(frozen=True)
class EvidenceStatus:
    """Whether evidence item ``item`` (0-based) of ``driver`` can be measured from the loaded extract."""

    driver: str
    item: int
    table: str
    dataset: str
    variables: tuple[str, ...]
    state: str  # measured | unmeasured | no records
    reason: str | None = None
    #: the variables with no values (missing or entirely empty)
    empty: tuple[str, ...] = ()

    @property
    def unmeasured(self) -> bool:
        return self.state == UNMEASURED


def _absent_in_file(con) -> set[tuple[str, str]]:
    """(table, column) pairs the latest load of each table reported as not in the file (loaded as empty)."""
    try:
        if not (table_exists(con, "meta", "quality_results") and table_exists(con, "meta", "snapshots")):
            return set()
        rows = con.execute("""
            SELECT q.table_name, q.column_name FROM meta.quality_results q
            JOIN (SELECT table_name, load_id FROM meta.snapshots WHERE status = 'loaded'
                  QUALIFY ROW_NUMBER() OVER (PARTITION BY table_name ORDER BY loaded_at DESC, load_id DESC) = 1) s
              ON s.table_name = q.table_name AND s.load_id = q.load_id
            WHERE q.check_name = 'columns' AND q.status = 'warn' AND q.column_name IS NOT NULL""").fetchall()
    except Exception:  # a warehouse without the loader's records: reasons say "no values"
        return set()
    return {(r[0], r[1]) for r in rows}


def evidence_status(con, rules: Iterable[DriverRule], present: set[str] | None = None) -> list[EvidenceStatus]:
    """The state of every evidence item of ``rules`` in the warehouse ``con`` (one query per table read)."""
    rules = list(rules)
    if present is None:
        present = tables(con, "extract")
    wanted: dict[str, set[str]] = {}
    for r in rules:
        for ev in r.derivation.evidence:
            if ev.table in present:
                wanted.setdefault(ev.table, set()).update(ev.variables)
    counts: dict[str, tuple[int, dict[str, int]]] = {}
    for table, variables in sorted(wanted.items()):
        cols = {row[0] for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'extract' AND table_name = ?",
            [table]).fetchall()}
        have = sorted(v for v in variables if v in cols)
        sel = ", ".join(["COUNT(*)"] + [f"COUNT({quote_ident(v)})" for v in have])
        row = con.execute(f"SELECT {sel} FROM extract.{quote_ident(table)}").fetchall()[0]
        counts[table] = (int(row[0]), {v: int(n) for v, n in zip(have, row[1:], strict=True)})
    absent_file = _absent_in_file(con) if counts else set()
    out = []
    for r in rules:
        for j, ev in enumerate(r.derivation.evidence):
            base = dict(driver=r.driver, item=j, table=ev.table, dataset=ev.dataset, variables=ev.variables)
            if ev.table not in counts or counts[ev.table][0] == 0:
                why = "not loaded" if ev.table not in present else "no rows"
                out.append(EvidenceStatus(**base, state=NO_RECORDS, reason=f"extract.{ev.table}: {why}"))
                continue
            _rows, nonnull = counts[ev.table]
            empty = tuple(v for v in ev.variables if nonnull.get(v, 0) == 0)
            if not empty:
                out.append(EvidenceStatus(**base, state=MEASURED))
                continue
            parts = []
            for v in empty:
                if v not in nonnull:
                    parts.append(f"{v} is not a column of extract.{ev.table}")
                elif (ev.table, v) in absent_file:
                    parts.append(f"{v} was not in the loaded {ev.table} file (loaded as empty)")
                else:
                    parts.append(f"{v} has no values in extract.{ev.table}")
            out.append(EvidenceStatus(**base, state=UNMEASURED, reason="; ".join(parts), empty=empty))
    return out


def unmeasured_by_driver(statuses: Iterable[EvidenceStatus]) -> dict[str, dict[str, list[EvidenceStatus]]]:
    """``{driver: {dataset: [unmeasured items]}}``: every driver and dataset with an unmeasured evidence item.

    Persons whose records for the driver are only in those items' tables are not measured for it."""
    out: dict[str, dict[str, list[EvidenceStatus]]] = {}
    for s in statuses:
        if s.unmeasured:
            out.setdefault(s.driver, {}).setdefault(s.dataset, []).append(s)
    return out


def format_unmeasured(unmeasured: dict[str, dict[str, list[EvidenceStatus]]]) -> list[str]:
    """One line per unmeasured driver: the driver, its datasets and the missing or empty variables."""
    lines = []
    for driver, per in unmeasured.items():
        parts = []
        for ds, items in per.items():
            variables = sorted({f"{s.table}.{v}" for s in items for v in s.empty})
            parts.append(f"{ds} (no values for {', '.join(variables)})")
        lines.append(f"{driver}: not measured from {'; '.join(parts)}")
    return lines
