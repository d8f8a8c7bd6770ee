"""Time-to-event curves (Kaplan-Meier, lifelines) from ``spine.timeline``, by cohort, with numbers at risk.

:func:`durations` builds one row per person (or per start event): the time from a start event (release from
prison, a first possession claim) to the first later event of the chosen kind (a return to court, a repossession),
censored at the end of the data or at ``max_days``. The engine does this (Ibis); :func:`kaplan_meier` fits the
curves with lifelines on the resulting arrays and returns a tidy table at chosen times: survival, its confidence
interval, numbers at risk, events and censored.

Kaplan-Meier tables are hazard/survival outputs: before leaving the secure setting they go through
:func:`bold_prevention.outputs.disclosure.survival_table` (minimum numbers at risk), see
:mod:`bold_prevention.trajectories.export`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from ..errors import InputError
from ..warehouse.engine import table_exists
from ._backend import backend_of, table
from .pathways import _check_types, timeline_table
from .time_to_event import CensorDefinition, EventDefinition, TimeToEventDefinition, time_to_event


@dataclass(frozen=True)
class Analysis:
    """A named time-to-event analysis over timeline event types: a declarative definition
    (:class:`~.time_to_event.TimeToEventDefinition`) with a name, see :attr:`definition`."""

    name: str
    title: str
    start: tuple[str, ...]
    event: tuple[str, ...]

    def definition(self, *, max_days: int | None = None, cohort: str | None = None, group_by: str | None = None,
                   times: Sequence[float] | None = None) -> TimeToEventDefinition:
        """This analysis as a declarative time-to-event definition."""
        return TimeToEventDefinition(
            name=self.name, title=self.title,
            start=EventDefinition(name=f"{self.name}_start", types=list(self.start)),
            end=EventDefinition(name=f"{self.name}_end", types=list(self.event)),
            censor=CensorDefinition(max_days=max_days), population=cohort, group_by=group_by,
            times=None if times is None else [int(t) for t in times])


#: The shipped analyses.
ANALYSES: dict[str, Analysis] = {a.name: a for a in (
    Analysis("court_after_release", "Time from release from prison to the next court case",
             ("custody_release",), ("mags_case", "crown_case")),
    Analysis("custody_after_release", "Time from release from prison to the next reception into prison",
             ("custody_release",), ("custody_start",)),
    Analysis("court_after_court", "Time from a court case to the next court case (return to court)",
             ("mags_case", "crown_case"), ("mags_case", "crown_case")),
    Analysis("possession_after_claim", "Time from a first possession claim to repossession",
             ("civil_claim",), ("civil_repossession",)),
    Analysis("order_after_claim", "Time from a first possession claim to a possession order",
             ("civil_claim",), ("civil_order",)),
)}

DEFAULT_TIMES = (0, 30, 90, 180, 365, 730, 1095, 1825)


def _cohort(backend, cohort: str | None, group_by: str | None) -> ir.Table | None:
    """Person-level grouping (``__gid``, ``group``): a cohort table (``schema.table`` of person ids; the group is
    its name, or its column ``group_by``), a column of ``spine.person``, or both (the column, within the cohort)."""
    if cohort is None and group_by is None:
        return None
    members = None
    if cohort is not None:
        schema, _, name = cohort.partition(".")
        if not name:
            schema, name = "results", schema
        if not table_exists(backend, schema, name):
            raise InputError(f"no cohort table {schema}.{name} in the warehouse",
                             hint="build the cohort first (`bold cohort build SPEC`) or name an existing table")
        c = table(backend, schema, name)
        if "person_id" not in c.columns:
            raise InputError(f"{schema}.{name} has no person_id column", hint="name a table of person ids")
        if group_by is None:
            return c.select(__gid=c.person_id, group=ibis.literal(name)).distinct()
        if group_by in c.columns:
            return c.select(__gid=c.person_id, group=c[group_by].cast("string").fill_null("Unknown")).distinct()
        members = c.select(__mid=c.person_id).distinct()
    if not table_exists(backend, "spine", "person"):
        raise InputError("the warehouse has no table spine.person to group by", hint="run `bold spine build` first")
    p = table(backend, "spine", "person")
    if group_by not in p.columns:
        raise InputError(f"spine.person has no column {group_by!r}",
                         hint="group by a column of spine.person (for example sex, age_band, ethnic_group)")
    g = p.select(__gid=p.person_id, group=p[group_by].cast("string").fill_null("Unknown"))
    if members is not None:
        g = g.semi_join(members, g.__gid == members.__mid)
    return g


def durations(con: Any, *, start: Sequence[str], event: Sequence[str], occurrence: Literal["first", "all"] = "first",
              max_days: int | None = None, data_end: date | None = None, cohort: str | None = None,
              group_by: str | None = None) -> pd.DataFrame:
    """Days from each start event to the first later event (``observed``) or to the end of follow-up (censored).

    Columns: ``person_id``, ``start_date``, ``group``, ``duration`` (days, at least 0.5 so that same-day events
    count), ``observed`` (bool). ``data_end`` defaults to the latest date in the timeline.
    """
    _check_types(start, "start event types")
    _check_types(event, "event types")
    backend = backend_of(con)
    t = timeline_table(backend)
    end = data_end or t.event_date.max().to_pyarrow().as_py()
    if end is None:
        return pd.DataFrame(columns=["person_id", "start_date", "group", "duration", "observed"])
    s = t.filter(t.event_type.isin(list(start)))
    if occurrence == "first":
        s = s.group_by(person_id=s.person_id).aggregate(start_date=s.event_date.min())
    else:
        s = s.select(person_id=s.person_id, start_date=s.event_date).distinct()
    e = t.filter(t.event_type.isin(list(event))).select(__pid=t.person_id, __d=t.event_date)
    j = s.left_join(e, [s.person_id == e.__pid, e.__d > s.start_date])
    d = j.group_by([j.person_id, j.start_date]).aggregate(first_event=j.__d.min())
    grp = _cohort(backend, cohort, group_by)
    if grp is not None:
        d = d.inner_join(grp, d.person_id == grp.__gid).drop("__gid")
    else:
        d = d.mutate(group=ibis.literal("All"))
    d = d.filter(d.start_date <= ibis.literal(end))
    df = d.to_pyarrow().to_pandas(date_as_object=False)
    if df.empty:
        return pd.DataFrame(columns=["person_id", "start_date", "group", "duration", "observed"])
    sd = pd.to_datetime(df["start_date"])
    fe = pd.to_datetime(df["first_event"])
    stop = fe.where(fe.notna() & (fe <= pd.Timestamp(end)), pd.Timestamp(end))
    observed = fe.notna() & (fe <= pd.Timestamp(end))
    dur = (stop - sd).dt.days.astype(float)
    if max_days is not None:
        observed = observed & (dur <= max_days)
        dur = dur.clip(upper=max_days)
    out = pd.DataFrame({"person_id": df["person_id"], "start_date": sd, "group": df["group"].astype(str),
                        "duration": np.maximum(dur, 0.5), "observed": observed.to_numpy(bool)})
    return out.sort_values(["group", "person_id", "start_date"]).reset_index(drop=True)


def kaplan_meier(d: pd.DataFrame, *, times: Sequence[float] = DEFAULT_TIMES, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier survival at ``times`` for each group of :func:`durations` output.

    Columns: ``group``, ``time`` (days), ``survival``, ``lower``, ``upper`` (pointwise confidence interval),
    ``at_risk`` (people still followed at ``time``), ``events`` and ``censored`` (cumulative, up to ``time``).
    """
    from lifelines import KaplanMeierFitter

    rows = []
    for g, sub in d.groupby("group", sort=True):
        T = sub["duration"].to_numpy(float)
        E = sub["observed"].to_numpy(bool)
        kmf = KaplanMeierFitter(alpha=alpha).fit(T, E, label=str(g))
        sf = kmf.survival_function_at_times(list(times)).to_numpy()
        ci = kmf.confidence_interval_
        for i, tm in enumerate(times):
            at = ci.index <= tm
            lo = float(ci.iloc[np.flatnonzero(at)[-1], 0]) if at.any() else 1.0
            hi = float(ci.iloc[np.flatnonzero(at)[-1], 1]) if at.any() else 1.0
            rows.append({"group": str(g), "time": float(tm), "survival": float(sf[i]), "lower": lo, "upper": hi,
                         "at_risk": int((T >= tm).sum()), "events": int(((T <= tm) & E).sum()),
                         "censored": int(((T <= tm) & ~E).sum())})
    return pd.DataFrame(rows, columns=["group", "time", "survival", "lower", "upper", "at_risk", "events",
                                       "censored"])


def median_time(d: pd.DataFrame) -> pd.DataFrame:
    """Median time to event per group (NaN where survival never falls to one half), with numbers."""
    from lifelines import KaplanMeierFitter

    rows = []
    for g, sub in d.groupby("group", sort=True):
        kmf = KaplanMeierFitter().fit(sub["duration"].to_numpy(float), sub["observed"].to_numpy(bool))
        m = kmf.median_survival_time_
        rows.append({"group": str(g), "persons": int(len(sub)), "events": int(sub["observed"].sum()),
                     "median_days": float(m) if np.isfinite(m) else float("nan")})
    return pd.DataFrame(rows)


def analysis(con: Any, name: str, *, cohort: str | None = None, group_by: str | None = None,
             max_days: int | None = None, times: Sequence[float] = DEFAULT_TIMES,
             data_end: date | None = None) -> tuple[Analysis, pd.DataFrame, pd.DataFrame]:
    """Run a shipped analysis: its definition, the Kaplan-Meier table and the medians."""
    if name not in ANALYSES:
        raise InputError(f"unknown time-to-event analysis {name!r}", hint=f"use one of: {', '.join(ANALYSES)}")
    a = ANALYSES[name]
    if cohort is not None and "." in cohort:
        d = durations(con, start=a.start, event=a.event, max_days=max_days, data_end=data_end, cohort=cohort,
                      group_by=group_by)
    else:
        d = time_to_event(con, a.definition(max_days=max_days, cohort=cohort, group_by=group_by),
                          data_end=data_end or _timeline_end(con))
    return a, kaplan_meier(d, times=times), median_time(d)


def _timeline_end(con: Any) -> date | None:
    """The latest date in the timeline (the default end of follow-up of the named analyses)."""
    t = timeline_table(con)
    return t.event_date.max().to_pyarrow().as_py()


def run_definition(con: Any, definition: TimeToEventDefinition, *, events=(), band: str | None = None,
                   data_end: date | None = None, times: Sequence[float] | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run a declarative time-to-event definition: (durations, Kaplan-Meier table, medians)."""
    d = time_to_event(con, definition, events=events, band=band, data_end=data_end)
    t = times if times is not None else (definition.times or DEFAULT_TIMES)
    return d, kaplan_meier(d, times=t), median_time(d)
