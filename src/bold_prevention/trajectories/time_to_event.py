"""Declarative time-to-event analyses: any start event, end event, censoring, population and grouping.

A definition (YAML, or Python) says where follow-up starts, what ends it, what censors it and for whom::

    name: treatment_after_drr
    title: Time from a drug rehabilitation requirement to the start of structured treatment
    start:                                   # an event: timeline event types, or rows of a table
      name: drr_start
      table: moj_probation_rqmnts            # a Data First table that reaches a person, or a linked wave table
      date: rqmnt_start_date                 # a date column of it (default: the table's record date)
      where: "rqmnt_type_main_category_code = 'D'"
      attributes: [rqmnt_type_main_category_code]   # columns carried for group_by
    end: {name: treatment_start, table: ndtms_episodes, date: treatment_start_date}
    occurrence: all                          # first (one start per person) | all (every start event)
    same_day: true                           # an end event on the start day counts (default: false, later only)
    censor:
      max_days: 365                          # administrative censoring after this many days
      at_events: [death]                     # censored at the first of these after the start
      data_end: 2023-12-31                   # default: the latest date of the start and end events
    population: cohort_prison_leavers        # optional cohort table (results.<name>) restricting the persons
    group_by: rqmnt_type_main_category_code  # a start attribute, a cohort column or a spine.person column
    times: [21, 90, 182, 365]

An event written as a name (``start: drr_start``) refers to the events a study defines, or to a timeline event type
(``custody_release``); see :func:`known_event_names`. :func:`time_to_event` returns one row per start (person,
start date, group, duration, observed) at a linkage band; :func:`~.survival.kaplan_meier` (the one Kaplan-Meier,
lifelines) fits the curves. The shipped named analyses of :mod:`.survival` are definitions of this form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import sqlglot
from pydantic import Field, StringConstraints, field_validator, model_validator
from sqlglot import exp

from ..config import ConfigModel, IsoDate
from ..datafirst import MODEL
from ..datafirst.waves import WAVE_MODEL
from ..errors import InputError
from ..linkage.xjs import band_rank
from ..spine.sources import RECORD_DATES, resolved_sql
from ..warehouse.engine import table_exists
from ._backend import backend_of
from .timeline import EVENT_TYPES

__all__ = ["EventDefinition", "CensorDefinition", "TimeToEventDefinition", "time_to_event", "event_rows_sql",
           "known_event_names", "DURATION_COLUMNS"]

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Column = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]
DURATION_COLUMNS = ["person_id", "start_date", "group", "duration", "observed"]
_RANK_SQL = "CASE {c} WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"


def _safe_where(text: str) -> str:
    """A row condition: one SQL expression, no statements, subqueries or functions that reach outside the row."""
    try:
        e = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as err:
        raise ValueError(f"is not a valid SQL condition ({str(err).splitlines()[0]})") from None
    if isinstance(e, exp.Query | exp.Command | exp.DDL | exp.DML) or any(
            isinstance(n, exp.Query | exp.Subquery | exp.Table | exp.Command) for n in e.walk()):
        raise ValueError("must be a condition on the table's own columns (no queries, tables or statements)")
    return text


class EventDefinition(ConfigModel):
    """An event: timeline event ``types``, or rows of ``table`` dated by ``date`` (and filtered by ``where``)."""

    name: Name
    label: str = ""
    types: list[str] | None = None
    table: Column | None = None
    date: Column | None = None
    where: str | None = None
    attributes: list[Column] = Field(default_factory=list)

    @field_validator("where")
    @classmethod
    def _where(cls, v: str | None) -> str | None:
        return None if v is None else _safe_where(v)

    @field_validator("types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            bad = [t for t in v if t not in EVENT_TYPES]
            if bad or not v:
                raise ValueError(f"unknown timeline event type(s) {', '.join(bad) or '(none given)'}; known: "
                                 f"{', '.join(EVENT_TYPES)}")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> EventDefinition:
        if (self.types is None) == (self.table is None):
            raise ValueError("give either types: (timeline event types) or table: (with date:), not both or neither")
        if self.types is not None and (self.date or self.where or self.attributes):
            raise ValueError("date, where and attributes apply to a table: event, not to timeline types")
        if self.table is not None:
            if self.table not in MODEL.table_names and self.table not in WAVE_MODEL.table_names:
                raise ValueError(f"unknown table {self.table!r}: name a Data First or Wave table")
            if self.table in MODEL.table_names and self.table not in RECORD_DATES:
                raise ValueError(f"table {self.table!r} does not reach a person")
            cols = set(_columns(self.table))
            for c in [self.date, *self.attributes]:
                if c is not None and c not in cols:
                    raise ValueError(f"table {self.table} has no column {c!r}")
            if self.date is None and self.table in WAVE_MODEL.table_names:
                raise ValueError(f"say which date of {self.table} the event is (date: <column>)")
            if self.where is not None:
                bad = sorted({c.name for c in sqlglot.parse_one(self.where, read="duckdb").find_all(exp.Column)}
                             - cols)
                if bad:
                    raise ValueError(f"where: table {self.table} has no column(s) {', '.join(bad)}")
        return self


class CensorDefinition(ConfigModel):
    max_days: int | None = Field(default=None, ge=1)
    at_events: list[Name | EventDefinition] = Field(default_factory=list)
    data_end: IsoDate | None = None


class TimeToEventDefinition(ConfigModel):
    """A time-to-event analysis (see the module docstring)."""

    name: Name = "time_to_event"
    title: str = ""
    start: Name | EventDefinition
    end: Name | EventDefinition
    occurrence: Literal["first", "all"] = "first"
    same_day: bool = False
    censor: CensorDefinition = Field(default_factory=CensorDefinition)
    population: Column | None = None
    group_by: Column | None = None
    times: list[int] | None = None


def _columns(table: str) -> tuple[str, ...]:
    m = WAVE_MODEL if table in WAVE_MODEL.table_names else MODEL
    return m.table(table).column_names


def known_event_names() -> tuple[str, ...]:
    """Event names every definition may use without defining them: the timeline's event types."""
    return tuple(EVENT_TYPES)


def _resolve(ref: str | EventDefinition, events: Mapping[str, EventDefinition], what: str) -> EventDefinition:
    if isinstance(ref, EventDefinition):
        return ref
    if ref in events:
        return events[ref]
    if ref in EVENT_TYPES:
        return EventDefinition(name=ref, types=[ref])
    raise InputError(f"{what}: unknown event {ref!r}",
                     hint=f"define it under events:, or use a timeline event type: {', '.join(EVENT_TYPES)}")


def _wave_record_expr(table: str) -> str:
    t = WAVE_MODEL.table(table)
    if t.record_id:
        return f"t.{t.record_id}"
    pk = t.primary_key
    return f"t.{pk[0]}" if len(pk) == 1 else "concat_ws('|', " + ", ".join(f"CAST(t.{c} AS VARCHAR)" for c in pk) + ")"


def _qualify(where: str, alias: str) -> str:
    e = sqlglot.parse_one(where, read="duckdb")
    for c in e.find_all(exp.Column):
        c.set("table", exp.to_identifier(alias))
    return e.sql(dialect="duckdb")


def event_rows_sql(event: EventDefinition, *, band: str | None = None) -> str:
    """SELECT of an event's rows with their person: ``person_id``, ``event_date``, ``record_id``,
    ``band_joined`` and the event's attributes, keeping only links at ``band`` or stronger."""
    if event.types is not None:
        types = ", ".join("'" + t + "'" for t in event.types)
        sql = (f"SELECT person_id, CAST(event_date AS DATE) AS event_date, record_id, band_joined "
               f"FROM spine.timeline WHERE event_type IN ({types}) AND event_date IS NOT NULL")
    else:
        attrs = "".join(f", t.{a} AS {a}" for a in event.attributes)
        where = f" AND ({_qualify(event.where, 't')})" if event.where else ""
        if event.table in WAVE_MODEL.table_names:
            sql = (f"SELECT pr.person_id, CAST(t.{event.date} AS DATE) AS event_date, "
                   f"CAST({_wave_record_expr(event.table)} AS VARCHAR) AS record_id, pr.band_joined{attrs} "
                   f"FROM extract.{event.table} t JOIN spine.person_record pr ON pr.source_table = '{event.table}' "
                   f"AND pr.record_id = CAST({_wave_record_expr(event.table)} AS VARCHAR) "
                   f"WHERE t.{event.date} IS NOT NULL{where}")
        else:
            cols = list(dict.fromkeys([*([event.date] if event.date else []), *event.attributes,
                                       *(sorted({c.name for c in sqlglot.parse_one(event.where).find_all(exp.Column)})
                                         if event.where else [])]))
            inner = resolved_sql(event.table, cols)
            d = f"t.{event.date}" if event.date else "t._record_date"
            where_t = f" AND ({_qualify(event.where, 't')})" if event.where else ""
            sql = (f"SELECT t._person_id AS person_id, CAST({d} AS DATE) AS event_date, "
                   f"CAST(t._record_id AS VARCHAR) AS record_id, t._band_joined AS band_joined{attrs} "
                   f"FROM ({inner}) t WHERE {d} IS NOT NULL{where_t}")
    if band is not None:
        rank = band_rank(band)
        sql = f"SELECT * FROM ({sql}) b WHERE {_RANK_SQL.format(c='b.band_joined')} <= {rank}"
    return sql


def _require(backend, event: EventDefinition) -> None:
    if event.types is not None:
        if not table_exists(backend, "spine", "timeline"):
            raise InputError("the warehouse has no table spine.timeline", hint="run `bold timeline build` first")
        return
    if not table_exists(backend, "extract", event.table):
        raise InputError(f"event {event.name}: the warehouse has no table extract.{event.table}",
                         hint="load the source that holds it (`bold load`, or `bold link wave SOURCE` for a wave "
                              "source)")
    if not table_exists(backend, "spine", "person_record"):
        raise InputError("the warehouse has no table spine.person_record", hint="run `bold spine build` first")


def _group_sql(backend, d: TimeToEventDefinition, start: EventDefinition) -> tuple[str, str]:
    """(JOIN clause, group expression) for the population and group_by of ``d``."""
    join = ""
    group = "'All'"
    if d.population is not None:
        name = d.population if d.population.startswith("cohort_") or table_exists(backend, "results", d.population) \
            else f"cohort_{d.population}"
        if not table_exists(backend, "results", name):
            raise InputError(f"no cohort table results.{name} in the warehouse",
                             hint="build the cohort first (`bold cohort build SPEC`) or name an existing table")
        join += f" JOIN (SELECT DISTINCT person_id AS __cid FROM results.{name}) c ON c.__cid = s.person_id"
        group = f"'{name}'"
        if d.group_by is not None and d.group_by in _table_columns(backend, "results", name):
            join = join.replace("SELECT DISTINCT person_id AS __cid",
                                f"SELECT person_id AS __cid, ANY_VALUE(CAST({d.group_by} AS VARCHAR)) AS __g") \
                .replace(f"FROM results.{name})", f"FROM results.{name} GROUP BY person_id)")
            return join, "COALESCE(c.__g, 'Unknown')"
    if d.group_by is None:
        return join, group
    if d.group_by in start.attributes:
        return join, f"COALESCE(CAST(s.{d.group_by} AS VARCHAR), 'Unknown')"
    if not table_exists(backend, "spine", "person"):
        raise InputError("the warehouse has no table spine.person to group by", hint="run `bold spine build` first")
    if d.group_by not in _table_columns(backend, "spine", "person"):
        raise InputError(f"group_by {d.group_by!r} is neither an attribute of the start event nor a column of "
                         "spine.person", hint="group by a start attribute (attributes:) or a spine.person column "
                         "(sex, age_band, ethnic_group)")
    join += " LEFT JOIN spine.person sp ON sp.person_id = s.person_id"
    return join, f"COALESCE(CAST(sp.{d.group_by} AS VARCHAR), 'Unknown')"


def _table_columns(backend, schema: str, name: str) -> list[str]:
    from ._backend import table

    return list(table(backend, schema, name).columns)


def _run_sql(backend, sql: str) -> pd.DataFrame:
    if getattr(backend, "name", "") == "duckdb":
        return backend.con.execute(sql).df()
    return backend.sql(sql, dialect="duckdb").to_pyarrow().to_pandas()


def time_to_event(con: Any, definition: TimeToEventDefinition | Mapping[str, Any], *,
                  events: Mapping[str, EventDefinition] | Sequence[EventDefinition] = (), band: str | None = None,
                  data_end: date | None = None) -> pd.DataFrame:
    """One row per start: ``person_id``, ``start_date``, ``group``, ``duration`` (days, at least 0.5 so that
    same-day events count), ``observed`` (the end event happened before censoring), plus the start event's
    attributes. Only links at ``band`` or stronger are used (all the spine holds when ``None``)."""
    d = definition if isinstance(definition, TimeToEventDefinition) else \
        TimeToEventDefinition.model_validate(dict(definition))
    evs = events if isinstance(events, Mapping) else {e.name: e for e in events}
    start = _resolve(d.start, evs, f"time-to-event {d.name}: start")
    end = _resolve(d.end, evs, f"time-to-event {d.name}: end")
    censors = [_resolve(c, evs, f"time-to-event {d.name}: censor") for c in d.censor.at_events]
    backend = backend_of(con)
    for e in (start, end, *censors):
        _require(backend, e)
    if band is not None:
        band_rank(band)
    attrs = "".join(f", s.{a}" for a in start.attributes)
    if d.occurrence == "first":
        starts = (f"SELECT * FROM ({event_rows_sql(start, band=band)}) x "
                  "QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY event_date, record_id) = 1")
    else:
        starts = (f"SELECT * FROM ({event_rows_sql(start, band=band)}) x "
                  "QUALIFY row_number() OVER (PARTITION BY person_id, record_id, event_date ORDER BY band_joined) = 1")
    op = ">=" if d.same_day else ">"
    join, group = _group_sql(backend, d, start)
    cens = ""
    cens_col = "CAST(NULL AS DATE)"
    if censors:
        union = " UNION ALL ".join(f"SELECT person_id, event_date FROM ({event_rows_sql(c, band=band)}) z"
                                   for c in censors)
        cens = (f" LEFT JOIN LATERAL (SELECT MIN(k.event_date) AS censor_date FROM ({union}) k "
                f"WHERE k.person_id = s.person_id AND k.event_date >= s.event_date) kk ON TRUE")
        cens_col = "kk.censor_date"
    sql = f"""
WITH s AS ({starts}), e AS ({event_rows_sql(end, band=band)})
SELECT s.person_id, s.event_date AS start_date, {group} AS "group"{attrs},
       (SELECT MIN(e.event_date) FROM e WHERE e.person_id = s.person_id AND e.event_date {op} s.event_date)
         AS first_event, {cens_col} AS censor_date
FROM s{join}{cens}"""
    df = _run_sql(backend, sql)
    end_day = data_end or d.censor.data_end
    if end_day is None:
        row = _run_sql(backend, f"SELECT GREATEST((SELECT MAX(event_date) FROM ({event_rows_sql(start)}) a), "
                                f"(SELECT MAX(event_date) FROM ({event_rows_sql(end)}) b)) AS m")
        m = row["m"].iloc[0] if len(row) else None
        end_day = None if m is None or pd.isna(m) else pd.Timestamp(m).date()
    cols = DURATION_COLUMNS + list(start.attributes)
    if df.empty or end_day is None:
        return pd.DataFrame(columns=cols)
    end_ts = pd.Timestamp(end_day)
    sd = pd.to_datetime(df["start_date"])
    df = df[sd <= end_ts].reset_index(drop=True)
    sd = pd.to_datetime(df["start_date"])
    fe = pd.to_datetime(df["first_event"])
    stop = pd.Series(end_ts, index=df.index)
    cd = pd.to_datetime(df["censor_date"])
    stop = stop.where(~(cd.notna() & (cd < stop)), cd)
    observed = fe.notna() & (fe <= stop)
    stop = stop.where(~observed, fe)
    dur = (stop - sd).dt.days.astype(float)
    if d.censor.max_days is not None:
        observed = observed & (dur <= d.censor.max_days)
        dur = dur.clip(upper=float(d.censor.max_days))
    out = pd.DataFrame({"person_id": df["person_id"].astype(str), "start_date": sd, "group": df["group"].astype(str),
                        "duration": np.maximum(dur.to_numpy(float), 0.5), "observed": observed.to_numpy(bool)})
    for a in start.attributes:
        out[a] = df[a].to_numpy()
    return out.sort_values(["group", "person_id", "start_date"]).reset_index(drop=True)[cols]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "analysis"
