"""Declarative cohort specifications (YAML), in the spirit of OHDSI ATLAS / Circe cohort definitions.

A cohort is the set of spine persons who meet the criteria, each with an index date and an end date::

    name: prison_leavers_nfa                 # lower_case identifier; results.cohort_<name>
    title: Prison leavers with no fixed abode
    description: ...
    as_at: 2024-12-31                        # optional: the spine's as-at date it was written for
    entry:                                   # who enters, and their index date
      population: spine                      # everyone in spine.person, index date = the as-at date
      # or entry events (the index date is the event's date):
      events:
        - table: prison_custodial_journey    # any table that reaches a person
          date: release_date                 # a date column of that table (default: its record date)
          where: "release_date IS NOT NULL"  # SQL over that table's columns
          via_where: "party_role = 'DEFT'"   # optional: over the person-level record the row reaches its
                                             # person through (e.g. the civil party of a case)
      lookback_months: 12                    # entry events in the 12 months up to the as-at date
      limit: last                            # first | last | all (one index date per qualifying event)
    inclusion:                               # named rules, applied in order (attrition is reported)
      - name: Aged 18 or over
        where: "age >= 18"                   # SQL over spine.person columns
      - name: No fixed abode around release
        any:                                 # any | all | at_least: n (with of:)
          - event:
              table: oasys_assessments_details_core_risk
              where: "question_3_3 = 'YES'"
              window: {start_days: -365, end_days: 30}   # relative to the index date (null: unbounded)
              occurrences: {at_least: 1}                 # at_least / at_most
    exclusion:                               # rules that remove persons, in order
      - name: In custody at the as-at date
        where: "in_custody"
    follow_up_days: 365                      # exit: end date = index date + follow-up

:func:`load_spec` reads and checks a spec; :func:`shipped_specs` lists the cohorts that ship with the toolkit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import sqlglot
from pydantic import BeforeValidator
from sqlglot import exp

from ..config import ConfigModel, Document, IsoDate, read_document, validate_config
from ..datafirst import MODEL
from ..errors import InputError
from ..spine.sources import RECORD_DATES

__all__ = ["CohortSpec", "Criterion", "EntryEvent", "Rule", "load_spec", "shipped_specs", "spec_path"]

LIMITS = ("first", "last", "all")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class EntryEvent:
    table: str
    where: str | None = None
    date: str | None = None
    via_where: str | None = None


@dataclass(frozen=True)
class Criterion:
    """A leaf (``where`` over spine fields, or ``events`` counted in a window) or a group of criteria."""

    where: str | None = None
    events: tuple[EntryEvent, ...] = ()
    start_days: int | None = None
    end_days: int | None = None
    at_least: int | None = None
    at_most: int | None = None
    group: str | None = None  # all | any | at_least
    group_n: int | None = None
    of: tuple[Criterion, ...] = ()
    name: str = ""
    #: a condition on an outcome of ``spine.person_outcome`` (``bold spine outcomes``): (outcome, measure, value)
    #: with value true, false or None (not measured)
    outcome: tuple[str, str, bool | None] | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    criterion: Criterion


@dataclass(frozen=True)
class CohortSpec:
    name: str
    title: str
    description: str = ""
    as_at: date | None = None
    population: str | None = "spine"
    entry_events: tuple[EntryEvent, ...] = ()
    lookback_months: int | None = None
    limit: str = "first"
    inclusion: tuple[Rule, ...] = ()
    exclusion: tuple[Rule, ...] = ()
    follow_up_days: int | None = None
    source: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)


# ------------------------------------------------------------------------------------------------ the schema
def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, dict) else v


class EventSchema(ConfigModel):
    table: str
    where: str | None = None
    date: str | None = None
    via_where: str | None = None


class WindowSchema(ConfigModel):
    start_days: int | None = None
    end_days: int | None = None


class OccurrencesSchema(ConfigModel):
    at_least: int | None = None
    at_most: int | None = None
    exactly: int | None = None


class OutcomeSchema(ConfigModel):
    name: str
    measure: str = "outcome"
    value: bool | None = True


class CriterionSchema(ConfigModel):
    name: str | None = None
    where: str | None = None
    outcome: OutcomeSchema | None = None
    event: EventSchema | None = None
    events: Annotated[list[EventSchema], BeforeValidator(_as_list)] | None = None
    window: WindowSchema | None = None
    occurrences: OccurrencesSchema | None = None
    any: list[CriterionSchema] | None = None
    all: list[CriterionSchema] | None = None
    at_least: int | None = None
    of: list[CriterionSchema] | None = None


class EntrySchema(ConfigModel):
    population: str | None = None
    events: Annotated[list[EventSchema], BeforeValidator(_as_list)] | None = None
    lookback_months: int | None = None
    limit: str = "first"


class CohortSpecSchema(ConfigModel):
    """The keys and types of a cohort spec (the meaning is checked by :func:`parse_spec`)."""

    name: str
    title: str | None = None
    description: str | None = None
    as_at: IsoDate | None = None
    entry: EntrySchema | None = None
    inclusion: list[CriterionSchema] | None = None
    exclusion: list[CriterionSchema] | None = None
    follow_up_days: int | None = None
    source: str | None = None
    notes: str | None = None


_HINT = "fix each problem listed above (docs/spine-and-cohorts.md describes cohort specs)"


def _sql_expr(text: Any, *, where: str) -> tuple[str, set[str]]:
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: a SQL condition is required", hint="e.g. where: \"age >= 18\"")
    try:
        trees = [t for t in sqlglot.parse(text, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError as e:
        raise InputError(f"{where}: {text!r} is not a valid SQL condition",
                         hint="write one SQL condition over the named columns") from e
    if len(trees) != 1:
        raise InputError(f"{where}: {text!r} must be one condition", hint="combine conditions with AND / OR")
    tree = trees[0]
    if isinstance(tree, exp.Select | exp.Subquery) or any(True for _ in tree.find_all(exp.Select, exp.Subquery)):
        raise InputError(f"{where}: {text!r} may not contain a query", hint="use columns, literals and functions")
    if isinstance(tree, exp.Command | exp.Create | exp.Drop | exp.Insert | exp.Delete | exp.Update):
        raise InputError(f"{where}: {text!r} must be a condition, not a statement")
    return text.strip(), {c.name for c in tree.find_all(exp.Column)}


def _int(v: Any, *, where: str, what: str, allow_none: bool = True) -> int | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"{where}: {what} {v!r} is not a whole number", hint=f"give {what} as a whole number")
    return v


def _event(raw: Any, *, where: str) -> EntryEvent:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: an event must be a mapping with `table:`", hint="see docs/spine-and-cohorts.md")
    unknown = set(raw) - {"table", "where", "date", "via_where"}
    if unknown:
        raise InputError(f"{where}: unknown event settings {', '.join(sorted(unknown))}",
                         hint="an event has table, where, date and via_where")
    name = raw.get("table")
    try:
        t = MODEL.table(str(name))
    except KeyError as e:
        raise InputError(f"{where}: table {name!r} is not in the Data First model",
                         hint="use a table name such as prison_custodial_journey") from e
    if t.name not in RECORD_DATES:
        raise InputError(f"{where}: table {t.name} does not reach a person through the XJS spine",
                         hint="use a Data First table linked through xjs_link (or one of its detail tables)")
    cond = None
    if raw.get("where") is not None:
        cond, cols = _sql_expr(raw["where"], where=f"{where} (where)")
        bad = sorted(c for c in cols if c not in t.column_names or t.column(c).identifier)
        if bad:
            raise InputError(f"{where}: {', '.join(bad)} not analysis columns of {t.name}",
                             hint=f"columns of {t.name}: {', '.join(t.analysis_columns)}")
    dcol = raw.get("date")
    if dcol is not None and (dcol not in t.column_names or t.column(dcol).dtype != "date"):
        raise InputError(f"{where}: {dcol!r} is not a date column of {t.name}",
                         hint=f"date columns of {t.name}: {', '.join(t.date_columns) or '(none)'}")
    via = None
    if raw.get("via_where") is not None:
        from ..linkage.xjs import person_paths

        pt = MODEL.table(person_paths()[t.name].person_table)
        via, cols = _sql_expr(raw["via_where"], where=f"{where} (via_where)")
        bad = sorted(c for c in cols if c not in pt.column_names or pt.column(c).identifier)
        if bad:
            raise InputError(f"{where}: via_where reads {', '.join(bad)}, not analysis columns of {pt.name}",
                             hint=f"via_where is a condition on {pt.name}, the record {t.name} reaches a person "
                             "through")
    return EntryEvent(t.name, cond, dcol, via)


def _criterion(raw: Any, *, where: str) -> Criterion:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a criterion must be a mapping", hint="use where:, event:, any:, all: or at_least:")
    name = str(raw.get("name", ""))
    keys = set(raw) - {"name"}
    groups = keys & {"any", "all", "at_least"}
    if groups:
        if "at_least" in groups:
            n = _int(raw["at_least"], where=where, what="at_least", allow_none=False)
            items = raw.get("of")
            if not isinstance(items, list) or not items:
                raise InputError(f"{where}: at_least needs a list under `of:`", hint="at_least: 3\nof: [...]")
            if n < 1 or n > len(items):
                raise InputError(f"{where}: at_least {n} of {len(items)} criteria is impossible",
                                 hint="choose a number between 1 and the number of criteria")
            extra = keys - {"at_least", "of"}
            kind = "at_least"
        else:
            if len(groups) > 1:
                raise InputError(f"{where}: use one of any / all per criterion")
            kind = groups.pop()
            items = raw[kind]
            n = None
            extra = keys - {kind}
            if not isinstance(items, list) or not items:
                raise InputError(f"{where}: {kind} needs a list of criteria")
        if extra:
            raise InputError(f"{where}: unknown settings {', '.join(sorted(extra))}")
        of = tuple(_criterion(c, where=f"{where} > {c.get('name', i + 1) if isinstance(c, dict) else i + 1}")
                   for i, c in enumerate(items))
        return Criterion(group=kind, group_n=n, of=of, name=name)
    if "where" in keys and len(keys) == 1:
        cond, cols = _sql_expr(raw["where"], where=where)
        return Criterion(where=cond, name=name)
    if "outcome" in keys and len(keys) == 1:
        from ..spine.outcomes import MEASURES, OUTCOMES

        o = raw["outcome"]
        if not isinstance(o, dict) or set(o) - {"name", "measure", "value"} or "name" not in o:
            raise InputError(f"{where}: outcome takes name, measure and value",
                             hint="e.g. outcome: {name: offending, value: true}")
        oname, measure, value = o["name"], o.get("measure", "outcome"), o.get("value", True)
        if oname not in OUTCOMES:
            raise InputError(f"{where}: outcome {oname!r} is not known", hint=f"use one of {', '.join(OUTCOMES)}")
        known = ["outcome"] + [m.measure for m in MEASURES if m.outcome == oname]
        if measure not in known:
            raise InputError(f"{where}: {oname} has no measure {measure!r}", hint=f"use one of {', '.join(known)}")
        if value is not None and not isinstance(value, bool):
            raise InputError(f"{where}: outcome value {value!r} must be true, false or null (not measured)")
        return Criterion(outcome=(oname, measure, value), name=name)
    if "event" in keys or "events" in keys:
        evs = raw.get("events") or [raw.get("event")]
        if not isinstance(evs, list):
            evs = [evs]
        window = raw.get("window") or {}
        if not isinstance(window, dict) or set(window) - {"start_days", "end_days"}:
            raise InputError(f"{where}: window must be a mapping of start_days and end_days",
                             hint="e.g. window: {start_days: -365, end_days: 0}")
        occ = raw.get("occurrences") or {"at_least": 1}
        if not isinstance(occ, dict) or set(occ) - {"at_least", "at_most", "exactly"}:
            raise InputError(f"{where}: occurrences takes at_least, at_most or exactly",
                             hint="e.g. occurrences: {at_least: 1}")
        lo = _int(occ.get("exactly", occ.get("at_least")), where=where, what="occurrences")
        hi = _int(occ.get("exactly", occ.get("at_most")), where=where, what="occurrences")
        extra = keys - {"event", "events", "window", "occurrences"}
        if extra:
            raise InputError(f"{where}: unknown settings {', '.join(sorted(extra))}")
        s = _int(window.get("start_days"), where=where, what="start_days")
        e = _int(window.get("end_days"), where=where, what="end_days")
        if s is not None and e is not None and s > e:
            raise InputError(f"{where}: the window starts ({s}) after it ends ({e})",
                             hint="start_days must not be greater than end_days")
        return Criterion(events=tuple(_event(x, where=where) for x in evs), start_days=s, end_days=e,
                         at_least=lo if lo is not None else (None if hi is not None else 1), at_most=hi, name=name)
    raise InputError(f"{where}: a criterion needs where:, outcome:, event:, events:, any:, all: or at_least:",
                     hint="see docs/spine-and-cohorts.md")


def _rules(raw: Any, *, where: str) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError(f"{where} must be a list of named rules", hint="- name: ...\n  where: ...")
    out = []
    for i, r in enumerate(raw, 1):
        if not isinstance(r, dict) or not r.get("name"):
            raise InputError(f"{where} rule {i} needs a `name:`", hint="name every rule; it labels the attrition table")
        out.append(Rule(str(r["name"]), _criterion(r, where=f"{where} rule {r['name']!r}")))
    return tuple(out)


def parse_spec(raw: Any, *, source: str = "spec", document: Document | None = None) -> CohortSpec:
    """Check a parsed spec and return it as a :class:`CohortSpec`.

    Keys and types are checked first, every problem at once (with its line when ``document`` holds the file's
    lines); then the meaning (tables, columns, SQL conditions), one problem at a time.
    """
    if not isinstance(raw, dict):
        raise InputError(f"cohort spec {source} must be a mapping", hint="see docs/spine-and-cohorts.md")
    validate_config(raw, CohortSpecSchema, source=source, document=document, hint=_HINT)
    known = {"name", "title", "description", "as_at", "entry", "inclusion", "exclusion", "follow_up_days", "source",
             "notes"}
    unknown = set(raw) - known
    if unknown:
        raise InputError(f"cohort spec {source}: unknown settings {', '.join(sorted(unknown))}",
                         hint=f"known settings: {', '.join(sorted(known))}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"cohort spec {source}: name {name!r} must be a lower_case identifier",
                         hint="e.g. name: prison_leavers_nfa")
    where = f"cohort {name}"
    as_at = raw.get("as_at")
    if isinstance(as_at, str):
        try:
            as_at = date.fromisoformat(as_at)
        except ValueError as e:
            raise InputError(f"{where}: as_at {as_at!r} is not a date", hint="give YYYY-MM-DD") from e
    elif as_at is not None and not isinstance(as_at, date):
        raise InputError(f"{where}: as_at {as_at!r} is not a date", hint="give YYYY-MM-DD")
    entry = raw.get("entry") or {"population": "spine"}
    if not isinstance(entry, dict):
        raise InputError(f"{where}: entry must be a mapping", hint="entry: {population: spine} or entry: {events: ...}")
    unknown = set(entry) - {"population", "events", "lookback_months", "limit"}
    if unknown:
        raise InputError(f"{where}: unknown entry settings {', '.join(sorted(unknown))}",
                         hint="entry takes population, events, lookback_months and limit")
    events = entry.get("events")
    population = entry.get("population")
    if events and population:
        raise InputError(f"{where}: entry takes either population: spine or events:, not both")
    if not events:
        if population not in (None, "spine"):
            raise InputError(f"{where}: entry population {population!r} is not known", hint="use population: spine")
        population = "spine"
        evs: tuple[EntryEvent, ...] = ()
    else:
        if not isinstance(events, list):
            events = [events]
        evs = tuple(_event(e, where=f"{where} entry event {i}") for i, e in enumerate(events, 1))
    limit = entry.get("limit", "first")
    if limit not in LIMITS:
        raise InputError(f"{where}: entry limit {limit!r} is not known", hint=f"use one of {', '.join(LIMITS)}")
    lookback = _int(entry.get("lookback_months"), where=where, what="lookback_months")
    if lookback is not None and lookback <= 0:
        raise InputError(f"{where}: lookback_months must be positive")
    follow = _int(raw.get("follow_up_days"), where=where, what="follow_up_days")
    return CohortSpec(
        name=name, title=str(raw.get("title") or name), description=str(raw.get("description") or "").strip(),
        as_at=as_at, population=population if not evs else None, entry_events=evs, lookback_months=lookback,
        limit=limit, inclusion=_rules(raw.get("inclusion"), where=f"{where} inclusion"),
        exclusion=_rules(raw.get("exclusion"), where=f"{where} exclusion"), follow_up_days=follow,
        source=str(raw.get("source") or ""), raw=raw,
    )


def specs_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("specs")))


def shipped_specs() -> dict[str, Path]:
    """The cohort specs that ship with the toolkit: name -> path."""
    return {p.stem: p for p in sorted(specs_dir().glob("*.yaml"))}


def spec_path(spec: str | Path) -> Path:
    """A spec file path, or the path of a shipped spec named ``spec``."""
    p = Path(spec)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    shipped = shipped_specs()
    if str(spec) in shipped:
        return shipped[str(spec)]
    raise InputError(f"no cohort spec {spec!r}", hint=f"give a YAML file, or one of: {', '.join(shipped)}")


def load_spec(spec: str | Path | dict) -> CohortSpec:
    """Read and check a cohort spec: a YAML path, a shipped spec's name, or a parsed mapping."""
    if isinstance(spec, dict):
        return parse_spec(spec)
    path = spec_path(spec)
    if not path.is_file():
        raise InputError(f"cohort spec {path} not found", hint="check the path, or use a shipped spec name")
    doc = read_document(path, what="cohort spec")
    return parse_spec(doc.data, source=str(path), document=doc)
