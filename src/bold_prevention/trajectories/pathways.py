"""Pathways through services, read from ``spine.timeline``: frequent sequences, transitions, flows and funnels.

* :func:`frequent_sequences`: the most frequent sequences of service contact within a window from each person's
  first event (or first event of chosen types), with consecutive repeats collapsed (``mags > mags > crown`` reads
  ``mags > crown``), as TraMineR's ``seqefsub``/``seqfplot`` count them;
* :func:`transition_matrix`: how often a contact with one service is followed by a contact with another (counts,
  row shares and the median days between them), like TraMineR's ``seqtrate``;
* :func:`flows`: persons moving from the service at step *k* to the service at step *k + 1* (for a Sankey chart);
* :func:`funnel`: the share of people reaching each stage of a staged process (possession claim -> order ->
  warrant -> repossession; magistrates -> Crown Court -> custody -> probation) and the median days between stages.

Every function returns a small pandas frame of aggregates computed by the engine (Ibis expressions over the
timeline). They are for analysis inside the secure setting; anything that leaves it goes through
:mod:`bold_prevention.outputs` (see :mod:`bold_prevention.trajectories.export`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..errors import InputError
from ..warehouse.engine import table_exists
from ._backend import backend_of, table
from .timeline import EVENT_LABELS, EVENT_TYPES, rank_expr

Level = Literal["dataset", "event_type"]
SEP = " > "


@dataclass(frozen=True)
class Stage:
    """One stage of a funnel: reached by the first event of ``event_types`` on or after the previous stage."""

    name: str
    event_types: tuple[str, ...]


#: The shipped funnels.
FUNNELS: dict[str, tuple[Stage, ...]] = {
    "possession": (
        Stage("Claim issued", ("civil_claim",)),
        Stage("Possession order", ("civil_order",)),
        Stage("Warrant of possession", ("civil_warrant",)),
        Stage("Repossession", ("civil_repossession",)),
    ),
    "justice": (
        Stage("Magistrates' court", ("mags_case",)),
        Stage("Crown Court", ("crown_case",)),
        Stage("Custody", ("custody_start",)),
        Stage("Probation", ("probation_start",)),
    ),
}


def timeline_table(con: Any) -> ir.Table:
    """``spine.timeline``, or a clear error saying how to build it."""
    backend = backend_of(con)
    if not table_exists(backend, "spine", "timeline"):
        raise InputError("the warehouse has no table spine.timeline", hint="run `bold timeline build` first")
    return table(backend, "spine", "timeline")


def _check_types(types: Sequence[str] | None, what: str) -> None:
    if types is None:
        return
    bad = sorted(set(types) - set(EVENT_TYPES))
    if bad:
        raise InputError(f"{what}: unknown event type(s) {', '.join(bad)}", hint=f"use: {', '.join(EVENT_TYPES)}")


def _state(t: ir.Table, level: Level) -> ir.StringValue:
    if level not in ("dataset", "event_type"):
        raise InputError(f"unknown level {level!r}", hint="use dataset or event_type")
    return t[level]


def _order(t: ir.Table) -> list:
    return [t.event_date, rank_expr(t.event_type), t.source_table, t.record_id]


def _windowed(t: ir.Table, *, start_event_types: Sequence[str] | None, window_days: int | None,
              event_types: Sequence[str] | None) -> ir.Table:
    """Events from each person's anchor (first event, or first of ``start_event_types``) to the window's end."""
    _check_types(start_event_types, "start event types")
    _check_types(event_types, "event types")
    if event_types:
        t = t.filter(t.event_type.isin(list(event_types)))
    src = t.filter(t.event_type.isin(list(start_event_types))) if start_event_types else t
    a = src.group_by(__apid=src.person_id).aggregate(__anchor=src.event_date.min())
    j = t.inner_join(a, t.person_id == a.__apid).drop("__apid")
    j = j.filter(j.event_date >= j.__anchor)
    if window_days is not None:
        if window_days <= 0:
            raise InputError(f"window must be a positive number of days, got {window_days}",
                             hint="for example --window-days 365")
        j = j.filter(j.event_date <= j.__anchor + ibis.interval(days=window_days))
    return j


def frequent_sequences(con: Any, *, level: Level = "dataset", window_days: int | None = 365,
                       start_event_types: Sequence[str] | None = None, event_types: Sequence[str] | None = None,
                       max_length: int = 5, top: int = 20, collapse_repeats: bool = True) -> pd.DataFrame:
    """The ``top`` most frequent sequences of service contact within ``window_days`` of each person's anchor.

    Columns: ``sequence`` (states joined by ``' > '``), ``length``, ``persons``, ``share`` (of persons with any
    event in the window).
    """
    if max_length < 1:
        raise InputError("max_length must be at least 1", hint="for example --max-length 5")
    t = _windowed(timeline_table(con), start_event_types=start_event_types, window_days=window_days,
                  event_types=event_types)
    t = t.mutate(__state=_state(t, level), __rank=rank_expr(t.event_type))
    w = ibis.window(group_by=t.person_id, order_by=[t.event_date, t.__rank, t.source_table, t.record_id])
    if collapse_repeats:
        t = t.mutate(__prev=t.__state.lag().over(w))
        t = t.filter(t.__prev.isnull() | (t.__prev != t.__state))
    w2 = ibis.window(group_by=t.person_id, order_by=[t.event_date, t.__rank, t.source_table, t.record_id])
    t = t.mutate(__pos=ibis.row_number().over(w2))
    t = t.filter(t.__pos < max_length)
    per = t.group_by(t.person_id).aggregate(
        sequence=t.__state.group_concat(SEP, order_by=[t.__pos]), length=t.count())
    counts = per.group_by(["sequence", "length"]).aggregate(persons=per.count())
    df = counts.to_pyarrow().to_pandas()
    total = int(df["persons"].sum()) if len(df) else 0
    df = df.sort_values(["persons", "sequence"], ascending=[False, True]).head(top).reset_index(drop=True)
    df["share"] = df["persons"] / total if total else 0.0
    return df[["sequence", "length", "persons", "share"]]


def transition_matrix(con: Any, *, level: Level = "dataset", collapse_repeats: bool = False,
                      window_days: int | None = None, start_event_types: Sequence[str] | None = None,
                      event_types: Sequence[str] | None = None) -> pd.DataFrame:
    """Transitions between consecutive contacts of each person.

    Long form: ``from_state``, ``to_state``, ``transitions``, ``persons`` (people making that transition at least
    once), ``rate`` (share of transitions out of ``from_state`` that go to ``to_state``) and ``median_days``.
    """
    t = timeline_table(con)
    if window_days is not None or start_event_types:
        t = _windowed(t, start_event_types=start_event_types, window_days=window_days, event_types=event_types)
    else:
        _check_types(event_types, "event types")
        if event_types:
            t = t.filter(t.event_type.isin(list(event_types)))
    t = t.mutate(__state=_state(t, level), __rank=rank_expr(t.event_type))
    w = ibis.window(group_by=t.person_id, order_by=[t.event_date, t.__rank, t.source_table, t.record_id])
    if collapse_repeats:
        t = t.mutate(__prev=t.__state.lag().over(w))
        t = t.filter(t.__prev.isnull() | (t.__prev != t.__state))
        w = ibis.window(group_by=t.person_id, order_by=[t.event_date, t.__rank, t.source_table, t.record_id])
    t = t.mutate(__from=t.__state.lag().over(w), __from_date=t.event_date.lag().over(w))
    t = t.filter(t.__from.notnull())
    gap = t.event_date.delta(t.__from_date, unit="day")
    agg = t.group_by(from_state=t.__from, to_state=t.__state).aggregate(
        transitions=t.count(), persons=t.person_id.nunique(), median_days=gap.median())
    df = agg.to_pyarrow().to_pandas()
    if df.empty:
        return pd.DataFrame(columns=["from_state", "to_state", "transitions", "persons", "rate", "median_days"])
    df["rate"] = df["transitions"] / df.groupby("from_state")["transitions"].transform("sum")
    df = df.sort_values(["from_state", "to_state"]).reset_index(drop=True)
    return df[["from_state", "to_state", "transitions", "persons", "rate", "median_days"]]


def transition_rates(matrix: pd.DataFrame, value: str = "rate") -> pd.DataFrame:
    """The long transition table as a square matrix (rows: from, columns: to)."""
    if matrix.empty:
        return pd.DataFrame()
    states = sorted(set(matrix["from_state"]) | set(matrix["to_state"]))
    wide = matrix.pivot(index="from_state", columns="to_state", values=value).reindex(index=states, columns=states)
    return wide.fillna(0)


def flows(con: Any, *, level: Level = "dataset", steps: int = 3, window_days: int | None = 365,
          start_event_types: Sequence[str] | None = None, collapse_repeats: bool = True) -> pd.DataFrame:
    """Persons moving from the state at step *k* to the state at step *k + 1* (steps 1..``steps``), for a Sankey.

    Columns: ``step`` (k), ``from_state``, ``to_state``, ``persons``.
    """
    if steps < 1:
        raise InputError("steps must be at least 1", hint="for example --steps 3")
    t = _windowed(timeline_table(con), start_event_types=start_event_types, window_days=window_days,
                  event_types=None)
    t = t.mutate(__state=_state(t, level), __rank=rank_expr(t.event_type))
    w = ibis.window(group_by=t.person_id, order_by=[t.event_date, t.__rank, t.source_table, t.record_id])
    if collapse_repeats:
        t = t.mutate(__prev=t.__state.lag().over(w))
        t = t.filter(t.__prev.isnull() | (t.__prev != t.__state))
        w = ibis.window(group_by=t.person_id, order_by=[t.event_date, t.__rank, t.source_table, t.record_id])
    t = t.mutate(__pos=ibis.row_number().over(w) + 1, __next=t.__state.lead().over(w))
    t = t.filter((t.__pos <= steps) & t.__next.notnull())
    agg = t.group_by(step=t.__pos, from_state=t.__state, to_state=t.__next).aggregate(persons=t.person_id.nunique())
    df = agg.to_pyarrow().to_pandas()
    return df.sort_values(["step", "persons", "from_state", "to_state"], ascending=[True, False, True, True]
                          ).reset_index(drop=True)


def funnel(con: Any, stages: str | Sequence[Stage] = "possession", *, max_gap_days: int | None = None
           ) -> pd.DataFrame:
    """Conversion through a staged process, per person.

    Stage 1 is each person's first event of its types; stage *k* is their first event of stage *k*'s types on or
    after the date of stage *k - 1* (and within ``max_gap_days`` of it, if given). Columns: ``stage``, ``name``,
    ``persons``, ``conversion`` (from the previous stage), ``conversion_from_first``, ``median_days`` (from the
    previous stage) and ``median_days_from_first``.
    """
    if isinstance(stages, str):
        if stages not in FUNNELS:
            raise InputError(f"unknown funnel {stages!r}", hint=f"use one of: {', '.join(FUNNELS)}")
        stages = FUNNELS[stages]
    stages = tuple(stages)
    if len(stages) < 2:
        raise InputError("a funnel needs at least two stages", hint="list two or more stages")
    for s in stages:
        _check_types(s.event_types, f"funnel stage {s.name!r}")
    t = timeline_table(con)
    first = t.filter(t.event_type.isin(list(stages[0].event_types)))
    reached = first.group_by(person_id=first.person_id).aggregate(d0=first.event_date.min())
    cur = reached
    for k, s in enumerate(stages[1:], start=1):
        ev = t.filter(t.event_type.isin(list(s.event_types))).select(__pid=t.person_id, __d=t.event_date)
        prev = cur.select(person_id=cur.person_id, __prev=cur[f"d{k - 1}"])
        j = ev.inner_join(prev, [ev.__pid == prev.person_id, ev.__d >= prev.__prev])
        if max_gap_days is not None:
            j = j.filter(j.__d <= j.__prev + ibis.interval(days=max_gap_days))
        nxt = j.group_by(__p=j.person_id).aggregate(**{f"d{k}": j.__d.min()})
        cur = cur.left_join(nxt, cur.person_id == nxt.__p).drop("__p")
    aggs: dict[str, ir.Value] = {}
    for k in range(len(stages)):
        aggs[f"n{k}"] = cur[f"d{k}"].count()
        if k:
            aggs[f"m{k}"] = cur[f"d{k}"].delta(cur[f"d{k - 1}"], unit="day").median()
            aggs[f"f{k}"] = cur[f"d{k}"].delta(cur.d0, unit="day").median()
    row = cur.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    rows = []
    n0 = row["n0"] or 0
    for k, s in enumerate(stages):
        n = row[f"n{k}"] or 0
        prev = row[f"n{k - 1}"] if k else None
        rows.append({"stage": k + 1, "name": s.name, "persons": int(n),
                     "conversion": (n / prev if prev else None) if k else 1.0,
                     "conversion_from_first": n / n0 if n0 else None,
                     "median_days": row.get(f"m{k}") if k else None,
                     "median_days_from_first": row.get(f"f{k}") if k else None})
    return pd.DataFrame(rows)


def state_labels(level: Level) -> dict[str, str]:
    """Plain-word labels of the states at ``level``."""
    if level == "event_type":
        return dict(EVENT_LABELS)
    from ..datafirst import MODEL

    return {d.key: d.title for d in MODEL.datasets}
