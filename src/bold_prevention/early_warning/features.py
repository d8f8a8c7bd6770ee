"""Index events, features as of T0 and outcomes for an early-warning use case.

Leakage control is structural: every history feature is an aggregate over events joined to the index row with
``event_date < t0`` (strictly before T0), and the only other inputs are columns of the index record itself, which
are known at T0 (the offence a person is in prison for; the type of claim and the arrears claimed). Outcomes are the
only thing read after T0: an outcome event dated in ``(t0, t0 + window]``.

Everything up to the final modelling matrix is an Ibis expression (DuckDB or Spark); the result is a pandas frame
with one row per index event.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from ..datafirst import MODEL
from ..datafirst.codes import ethnic_group_of
from ..errors import InputError
from ..trajectories._backend import backend_of, drop_temp, materialise, table
from ..trajectories.timeline import EVENT_SPECS, EventSpec, events, person_records, spec_expr
from ..warehouse.engine import table_exists, tables
from .usecase import Condition, UseCase

Band = Literal["high", "medium", "low"]
BANDS: tuple[Band, ...] = ("high", "medium", "low")

#: Where age, sex and ethnicity are read from (timeline event type -> columns of its source table).
#: Age is ``age_column`` at ``age_date``; the record counts only if its event is dated before T0.
ATTRIBUTE_SOURCES: dict[str, dict[str, str | None]] = {
    "mags_case": {"age": "age_at_offence", "age_date": "main_offence_date", "sex": "gender",
                  "ethnicity": "ethnicity_desc"},
    "crown_case": {"age": "age_at_offence", "age_date": "main_offence_date", "sex": "gender",
                   "ethnicity": "ethnicity_desc"},
    "custody_start": {"age": "age_at_reception", "age_date": "reception_date", "sex": "gender",
                      "ethnicity": "ethnicity_desc"},
    "oasys_assessment": {"age": None, "age_date": None, "sex": "gender", "ethnicity": "ethnicity_desc"},
    "probation_start": {"age": None, "age_date": None, "sex": "gender", "ethnicity": "ethnicity_desc"},
}
UNKNOWN_ETHNICITY = ("Refusal", "Z_Dummy Ethnicity 04")
AGE_BANDS = ((0, 21, "under 21"), (21, 25, "21-24"), (25, 30, "25-29"), (30, 40, "30-39"), (40, 50, "40-49"),
             (50, 200, "50 and over"))

#: Columns of a dataset frame besides the features.
ID_COLUMNS = ("index_id", "person_id", "t0", "source_table", "record_id", "person_table", "person_record_id")
LABEL_COLUMNS = ("outcome", "observed", "outcome_date")
GROUP_COLUMNS = ("sex", "age_band", "ethnic_group")


@dataclass
class Dataset:
    """One row per index event: ids, T0, features, outcome and whether the follow-up is complete."""

    use_case: UseCase
    frame: pd.DataFrame
    data_end: date
    band: str
    #: Days allowed at the data end for events still to be recorded (see :func:`data_end_detail`).
    recording_lag_days: int | None = None
    #: The first date of the history sources (index events closer to it than the look-back are left out).
    history_start: date | None = None
    #: How the data end was set, in words (for the model card).
    data_end_rule: str | None = None

    @property
    def features(self) -> list[str]:
        return list(self.use_case.feature_kinds())

    @property
    def observed(self) -> pd.DataFrame:
        """Index events whose whole outcome window lies inside the data and whose whole look-back window does too
        (``history_complete``)."""
        f = self.frame
        return f[f["observed"] & f["history_complete"]] if "history_complete" in f else f[f["observed"]]


# ------------------------------------------------------------------------------------------------ person maps
def person_map(con: Any, band: Band | None = None) -> ir.Table:
    """Person records -> persons: ``spine.person_record`` (``band=None``) or the XJS clusters at ``band``.

    The XJS form reads ``extract.xjs_link`` (cluster_high, cluster_medium, cluster_low) so that one model can be
    evaluated with person records built at each linkage band; its ids are cluster ids, used only inside the
    evaluation and never written out.
    """
    backend = backend_of(con)
    if band is None:
        return person_records(backend)
    if band not in BANDS:
        raise InputError(f"unknown linkage band {band!r}", hint="use high, medium or low")
    if not table_exists(backend, "extract", "xjs_link"):
        raise InputError("the warehouse has no table extract.xjs_link, needed to rebuild persons at each band",
                         hint="load the XJS linking table with the extracts (`bold load SOURCE`)")
    x = table(backend, "extract", "xjs_link")
    mapping = {t.xjs_source: t.name for t in MODEL.xjs_tables()}
    return x.filter(x[f"cluster_{band}"].notnull()).select(
        source_table=x.source_dataset.substitute(mapping, else_=ibis.null("string")),
        record_id=x.row_id_hash.cast("string"),
        person_id=x[f"cluster_{band}"].cast("string"),
        band_joined=ibis.literal(band),
    )


def conditions_expr(t: ir.Table, conds: tuple[Condition, ...]) -> ir.BooleanValue:
    """All of ``conds`` on table ``t`` (true when there are none)."""
    out = ibis.literal(True)
    for c in conds:
        col = t[c.column]
        if c.min is not None:
            out = out & (col >= c.min)
        if c.max is not None:
            out = out & (col <= c.max)
        if c.values is not None:
            out = out & col.isin(list(c.values))
        if c.equals is not None:
            out = out & (col == c.equals)
    return out.fill_null(False)


def any_conditions(t: ir.Table, conds: tuple[Condition, ...]) -> ir.BooleanValue:
    """Any of ``conds`` (a need flag: true if any evidence is true), null when every column is null."""
    out = None
    allnull = None
    for c in conds:
        one = conditions_expr(t, (c,))
        isnull = t[c.column].isnull()
        out = one if out is None else (out | one)
        allnull = isnull if allnull is None else (allnull & isnull)
    return ibis.ifelse(allnull, ibis.null("boolean"), out)


# ------------------------------------------------------------------------------------------------ pieces
def _source_row(backend, source_table: str, cols: list[str]) -> ir.Table:
    t = table(backend, "extract", source_table)
    pk = MODEL.table(source_table).primary_key[0]
    return t.select(__src_pk=t[pk].cast("string"), **{c: t[c] for c in cols})


def _index(backend, uc: UseCase, pm: ir.Table) -> ir.Table:
    ev = events(backend, person_map=pm, event_types=[uc.index.event_type])
    ev = ev.select("person_id", "event_date", "source_table", "record_id", "person_table", "person_record_id")
    ev = ev.distinct()
    if uc.index.occurrence != "all":
        w = ibis.window(group_by=ev.person_id,
                        order_by=[ibis.desc(ev.event_date) if uc.index.occurrence == "last" else ev.event_date,
                                  ev.record_id, ev.person_record_id])
        ev = ev.mutate(__rn=ibis.row_number().over(w)).filter(lambda t: t.__rn == 0).drop("__rn")
    w = ibis.window(order_by=[ev.event_date, ev.person_id, ev.record_id, ev.person_record_id])
    return ev.select(index_id=ibis.row_number().over(w), person_id=ev.person_id, t0=ev.event_date,
                     source_table=ev.source_table, record_id=ev.record_id, person_table=ev.person_table,
                     person_record_id=ev.person_record_id)


def _history(backend, uc: UseCase, pm: ir.Table, idx: ir.Table) -> ir.Table | None:
    """Counts, last dates and the Copas rate over events strictly before T0 (one pass over a union of sources)."""
    types = sorted({t for c in uc.counts for t in c.event_types} | {t for d in uc.days_since_last
                                                                     for t in d.event_types}
                   | set(uc.copas_event_types))
    parts = []
    if types:
        parts.append(events(backend, person_map=pm, event_types=types).select(
            "person_id", "event_date", kind=ibis._.event_type))
    loaded = tables(backend, "extract")
    table_counts = [c for c in uc.counts if c.table and c.table in loaded]
    for c in table_counts:
        spec = EventSpec(f"count:{c.name}", c.table, (c.date,), describe=lambda t: ibis.literal(""), rank=0,
                         where=(lambda t, w=c.where: conditions_expr(t, w)) if c.where else None)
        parts.append(spec_expr(backend, spec, pm).select("person_id", "event_date", kind="event_type"))
    if not parts:
        return None
    ev = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    i = idx.select(__iid=idx.index_id, __pid=idx.person_id, __t0=idx.t0)
    j = ev.inner_join(i, [ev.person_id == i.__pid, ev.event_date < i.__t0])
    aggs: dict[str, ir.Value] = {}
    def within(months: int | None) -> ir.BooleanValue:
        return ibis.literal(True) if not months else (j.event_date >= j.__t0 - ibis.interval(months=months))

    fixed = within(uc.lookback_months)  # the use case's fixed look-back, for every history feature
    for c in uc.counts:
        if c.table and c.table not in loaded:
            continue
        cond = (j.kind == f"count:{c.name}") if c.table else j.kind.isin(list(c.event_types))
        cond = cond & (within(c.lookback_months) if c.lookback_months else fixed)
        aggs[c.name] = j.count(where=cond)
    for d in uc.days_since_last:
        aggs[f"__last_{d.name}"] = j.event_date.max(where=j.kind.isin(list(d.event_types)) & fixed)
    if uc.copas_event_types:
        cond = j.kind.isin(list(uc.copas_event_types)) & (ibis.literal(True) if uc.copas_whole_history else fixed)
        aggs["__copas_n"] = j.count(where=cond)
        aggs["__copas_first"] = j.event_date.min(where=cond)
    return j.group_by(j.__iid).aggregate(**aggs)


def reband(backend, idx: ir.Table, band: Band) -> tuple[ir.Table, ir.Table]:
    """The person map at ``band`` and the index events with ``person_id`` replaced by the XJS cluster of their
    person record at that band (the spine's person where the record has no cluster)."""
    pm = person_map(backend, band)
    p = pm.select(__pt=pm.source_table, __pr=pm.record_id, __band_pid=pm.person_id)
    j = idx.left_join(p, [idx.person_table == p.__pt, idx.person_record_id == p.__pr])
    return pm, j.mutate(person_id=j.__band_pid.fill_null(j.person_id)).drop("__pt", "__pr", "__band_pid")


def _link_score(backend, idx: ir.Table) -> ir.Table | None:
    """The linkage match score of the index person record (``extract.xjs_link.match_score``)."""
    if not table_exists(backend, "extract", "xjs_link"):
        return None
    x = table(backend, "extract", "xjs_link")
    mapping = {t.xjs_source: t.name for t in MODEL.xjs_tables()}
    x = x.select(__xt=x.source_dataset.substitute(mapping, else_=ibis.null("string")),
                 __xr=x.row_id_hash.cast("string"), __link=x.match_score.cast("float64"))
    x = x.distinct(on=["__xt", "__xr"], keep="first")
    i = idx.select(__iid=idx.index_id, __pt=idx.person_table, __pr=idx.person_record_id)
    j = i.inner_join(x, [i.__pt == x.__xt, i.__pr == x.__xr])
    return j.select(__iid=j.__iid, __link_score=j.__link)


def _attributes(backend, pm: ir.Table, idx: ir.Table) -> ir.Table | None:
    parts = []
    loaded = tables(backend, "extract")
    avail = {s.event_type for s in EVENT_SPECS if s.table in loaded}
    for etype, cols in ATTRIBUTE_SOURCES.items():
        spec = next(s for s in EVENT_SPECS if s.event_type == etype)
        if etype not in avail:
            continue
        ev = events(backend, person_map=pm, event_types=[etype]).select("person_id", "event_date", "record_id")
        wanted = [c for c in (cols["age"], cols["age_date"], cols["sex"], cols["ethnicity"]) if c]
        src = _source_row(backend, spec.table, wanted)
        j = ev.inner_join(src, ev.record_id == src.__src_pk)
        parts.append(j.select(
            person_id=j.person_id, event_date=j.event_date, record_id=j.record_id,
            age=j[cols["age"]].cast("float64") if cols["age"] else ibis.null("float64"),
            age_date=j[cols["age_date"]].cast("date") if cols["age_date"] else ibis.null("date"),
            sex=j[cols["sex"]].cast("string"),
            ethnicity=j[cols["ethnicity"]].cast("string"),
        ))
    if not parts:
        return None
    a = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    i = idx.select(__iid=idx.index_id, __pid=idx.person_id, __t0=idx.t0)
    j = a.inner_join(i, [a.person_id == i.__pid, a.event_date < i.__t0])
    key = j.event_date.cast("string").concat(j.record_id)
    age_now = j.age + j.__t0.delta(j.age_date, unit="day").cast("float64") / 365.25 + 0.5
    known_eth = j.ethnicity.notnull() & ~j.ethnicity.isin(list(UNKNOWN_ETHNICITY))
    return j.group_by(j.__iid).aggregate(
        __age=age_now.argmax(key, where=j.age.notnull() & j.age_date.notnull()),
        __sex_hist=j.sex.argmax(key, where=j.sex.isin(["M", "F"])),
        __eth=j.ethnicity.argmax(key, where=known_eth),
    )


def _index_attributes(backend, uc: UseCase, idx: ir.Table) -> ir.Table:
    """Columns of the index record (and of tables joined to it on a key), known at T0."""
    index_table = next(s.table for s in EVENT_SPECS if s.event_type == uc.index.event_type)
    own = sorted({a.column for a in uc.index_attributes if a.table is None} | {a.on for a in uc.index_attributes
                                                                              if a.on})
    src = _source_row(backend, index_table, own)
    out = idx.select(__iid=idx.index_id, __rec=idx.record_id, __ptab=idx.person_table, __prec=idx.person_record_id)
    out = out.left_join(src, out.__rec == src.__src_pk).drop("__src_pk")
    sel: dict[str, ir.Value] = {"__iid": out.__iid}
    for a in uc.index_attributes:
        if a.table is None:
            sel[a.name] = out[a.column]
    for other in sorted({a.table for a in uc.index_attributes if a.table}):
        attrs = [a for a in uc.index_attributes if a.table == other]
        ons = sorted({a.on for a in attrs})
        o = table(backend, "extract", other)
        keep = o.select(*[o[k].name(f"__on_{k}") for k in ons], *[o[a.column].name(f"__v_{a.name}") for a in attrs])
        keep = keep.distinct(on=[f"__on_{k}" for k in ons], keep="first") if len(ons) else keep
        out = out.left_join(keep, [out[k] == keep[f"__on_{k}"] for k in ons])
        for a in attrs:
            sel[a.name] = out[f"__v_{a.name}"]
    return out.select(**sel)


def _person_sex(backend, idx: ir.Table, person_table: str) -> ir.Table | None:
    """The sex recorded on the person record of the index event (when that table records it)."""
    t = MODEL.table(person_table)
    sex_col = t.identifier_roles.get("sex")
    if not sex_col:
        return None
    p = table(backend, "extract", person_table)
    p = p.select(__prec2=p[t.record_id].cast("string"), __psex=p[sex_col].cast("string"))
    i = idx.select(__iid=idx.index_id, __prec=idx.person_record_id)
    j = i.inner_join(p, i.__prec == p.__prec2)
    return j.select(__iid=j.__iid, __psex=j.__psex)


def _oasys(backend, uc: UseCase, pm: ir.Table, idx: ir.Table) -> ir.Table | None:
    if uc.oasys is None or not table_exists(backend, "extract", "oasys_assessments_metadata"):
        return None
    ev = events(backend, person_map=pm, event_types=["oasys_assessment"]).select("person_id", "event_date",
                                                                                  "record_id")
    i = idx.select(__iid=idx.index_id, __pid=idx.person_id, __t0=idx.t0)
    j = ev.inner_join(i, [ev.person_id == i.__pid, ev.event_date < i.__t0])
    latest = j.group_by(j.__iid).aggregate(
        __oasys_id=j.record_id.argmax(j.event_date.cast("string").concat(j.record_id)),
        __oasys_date=j.event_date.max(),
    )
    if not table_exists(backend, "extract", uc.oasys.table):
        return latest
    o = table(backend, "extract", uc.oasys.table)
    sel = {n: any_conditions(o, conds) for n, conds in uc.oasys.flags}
    sel.update({n: o[c].cast("float64") for n, c in uc.oasys.values})
    o = o.select(__oid=o.row_id_hash.cast("string"), **sel).distinct(on="__oid", keep="first")
    out = latest.left_join(o, latest.__oasys_id == o.__oid)
    return out.drop("__oid")


def _outcome_events(backend, uc: UseCase, pm: ir.Table) -> ir.Table:
    parts = []
    types = [s.event_type for s in uc.outcome.sources if s.event_type]
    if types:
        parts.append(events(backend, person_map=pm, event_types=types).select("person_id", "event_date"))
    for s in uc.outcome.sources:
        if s.table:
            if not table_exists(backend, "extract", s.table):
                continue
            spec = EventSpec("outcome", s.table, (s.date,), describe=lambda t: ibis.literal(""), rank=0,
                             where=(lambda t, c=s.where: conditions_expr(t, c)) if s.where else None)
            parts.append(spec_expr(backend, spec, pm).select("person_id", "event_date"))
    if not parts:
        raise InputError(f"use case {uc.name}: none of the outcome tables is loaded",
                         hint="load the extracts the outcome reads (see the use case file)")
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def data_end_detail(con: Any, uc: UseCase, pm: ir.Table | None = None) -> tuple[date, int | None]:
    """The last date up to which outcomes are fully observed, and the recording lag allowed for (days).

    An outcome source that names when its events reach the data (``recorded``: for an offence, the first hearing)
    ends at its latest recorded date less the ``outcome.lag_quantile`` quantile of the lag from event to record
    (events later than that may not have reached the data yet); any other source ends at its latest event. The
    data end is the earliest of these, so every source is complete up to it.
    """
    backend = backend_of(con)
    ends: list[date] = []
    lags: list[int] = []
    for s in uc.outcome.sources:
        if not (s.table and s.recorded and table_exists(backend, "extract", s.table)):
            continue
        t = table(backend, "extract", s.table)
        if s.where:
            t = t.filter(conditions_expr(t, s.where))
        t = t.filter(t[s.date].notnull() & t[s.recorded].notnull())
        lag = t[s.recorded].cast("date").delta(t[s.date].cast("date"), unit="day")
        row = t.aggregate(last=t[s.recorded].cast("date").max(),
                          lag=lag.clip(lower=0).quantile(uc.outcome.lag_quantile)).to_pyarrow().to_pylist()[0]
        if row["last"] is None:
            continue
        days = int(math.ceil(row["lag"] or 0))
        lags.append(days)
        ends.append(row["last"] - timedelta(days=days))
    if len(ends) < len(uc.outcome.sources):
        pm = pm if pm is not None else person_records(backend)
        oe = _outcome_events(backend, uc, pm)
        v = oe.event_date.max().to_pyarrow().as_py()
        if v is None:
            raise InputError(f"use case {uc.name}: the outcome tables hold no dated events",
                             hint="check the extracts were loaded in full")
        ends.append(v)
    return min(ends), (max(lags) if lags else None)


def data_end_of(con: Any, uc: UseCase, pm: ir.Table | None = None) -> date:
    """The last date up to which the outcome sources are complete (see :func:`data_end_detail`): follow-up after
    it is not observed."""
    return data_end_detail(con, uc, pm)[0]


def _outcomes(backend, uc: UseCase, pm: ir.Table, idx: ir.Table) -> ir.Table:
    oe = _outcome_events(backend, uc, pm)
    i = idx.select(__iid=idx.index_id, __pid=idx.person_id, __t0=idx.t0)
    j = oe.inner_join(i, [oe.person_id == i.__pid, oe.event_date > i.__t0,
                          oe.event_date <= i.__t0 + ibis.interval(months=uc.outcome.window_months)])
    return j.group_by(j.__iid).aggregate(__outcome_date=j.event_date.min())


# ------------------------------------------------------------------------------------------------ assembly
def build_dataset(con: Any, uc: UseCase, *, band: Band | None = None, data_end: date | None = None) -> Dataset:
    """Index events, features as of T0 and outcomes for ``uc``, as a pandas frame (one row per index event).

    ``band=None`` uses ``spine.person_record``; a band rebuilds persons from the XJS clusters at that band.
    ``data_end`` (default: the latest outcome event date) decides which index events have a complete follow-up.
    """
    backend = backend_of(con)
    pm = person_map(backend, band)
    tmp = f"_ew_index_{uuid.uuid4().hex[:8]}"
    idx = materialise(backend, _index(backend, uc, pm), "results", tmp, temp=True)
    try:
        if data_end is None:
            end, lag = data_end_detail(backend, uc, pm)
        else:
            end, lag = data_end, None
        start = _history_start(backend, uc, pm) if uc.lookback_months else None
        frame = idx.select(*ID_COLUMNS)
        hist_pm, hist_idx = reband(backend, idx, uc.history_band) if uc.history_band else (pm, idx)
        out_pm, out_idx = reband(backend, idx, uc.outcome.band) if uc.outcome.band else (pm, idx)
        parts: list[ir.Table] = [p for p in (
            _history(backend, uc, hist_pm, hist_idx), _attributes(backend, pm, idx),
            _index_attributes(backend, uc, idx), _oasys(backend, uc, pm, idx),
            _outcomes(backend, uc, out_pm, out_idx), _link_score(backend, idx) if uc.link_score else None)
            if p is not None]
        index_table = next(s.table for s in EVENT_SPECS if s.event_type == uc.index.event_type)
        from ..trajectories.timeline import route

        psex = _person_sex(backend, idx, route(index_table).person_table)
        if psex is not None:
            parts.append(psex)
        for p in parts:
            p = p.rename(__jid="__iid")
            frame = frame.left_join(p, frame.index_id == p.__jid).drop("__jid")
        frame = frame.order_by("index_id")
        df = frame.to_pyarrow().to_pandas(date_as_object=False)
    finally:
        drop_temp(backend, tmp)
    rule = (("given" if data_end is not None else "the latest outcome event") if lag is None else
            f"the latest court record less {lag} days, within which {uc.outcome.lag_quantile:.0%} of outcome "
            "events reach the data")
    return Dataset(use_case=uc, frame=_finish(df, uc, end, start), data_end=end, band=band or _band_of(backend),
                   recording_lag_days=lag, history_start=start, data_end_rule=rule)


def _history_start(backend, uc: UseCase, pm: ir.Table) -> date | None:
    """The first date of the history features' event types (the start of the data they can see)."""
    types = sorted({t for c in uc.counts for t in c.event_types} | {t for d in uc.days_since_last
                                                                     for t in d.event_types}
                   | set(uc.copas_event_types))
    if not types:
        return None
    v = events(backend, person_map=pm, event_types=types).event_date.min().to_pyarrow().as_py()
    return v


def _band_of(backend) -> str:
    pr = person_records(backend)
    try:
        v = pr.band.max().to_pyarrow().as_py()
    except Exception:  # older person_record without a band column
        v = None
    return str(v or "spine")


def _finish(df: pd.DataFrame, uc: UseCase, end: date, start: date | None = None) -> pd.DataFrame:
    """Turn the engine's aggregates into model features (pure column arithmetic on the small frame)."""
    t0 = pd.to_datetime(df["t0"])
    out = df[list(ID_COLUMNS)].copy()
    out["t0"] = t0
    out["age"] = df.get("__age", pd.Series(np.nan, index=df.index)).astype(float)
    out["age_band"] = age_band(out["age"])
    sex = df.get("__sex_hist", pd.Series(None, index=df.index, dtype=object))
    if "__psex" in df:
        psex = df["__psex"].where(df["__psex"].isin(["M", "F"]))
        sex = sex.where(sex.notna(), psex)
    out["sex"] = sex.where(sex.isin(["M", "F"]), "Unknown").astype(object)
    for c in uc.counts:
        out[c.name] = df[c.name].fillna(0).astype(float) if c.name in df else np.nan
    for d in uc.days_since_last:
        last = pd.to_datetime(df[f"__last_{d.name}"])
        out[d.name] = (t0 - last).dt.days.astype(float)
    if uc.copas_event_types:
        first = pd.to_datetime(df["__copas_first"])
        career = ((t0 - first).dt.days / 365.25).fillna(0.0).clip(lower=0)
        out["career_years"] = career
        out["copas_rate"] = np.log((df["__copas_n"].fillna(0).astype(float) + 1.0) / (career + 10.0))
        if uc.copas_whole_history:
            # not a feature: the court cases the Copas rate counts, for OGRS 3 (see .actuarial)
            out["copas_cases"] = df["__copas_n"].fillna(0).astype(float)
            out["age_at_first_case"] = out["age"] - ((t0 - first).dt.days / 365.25).clip(lower=0)
    for a in uc.index_attributes:
        v = df[a.name]
        if a.kind == "category":
            out[a.name] = v.astype(object).where(v.notna(), "Unknown").astype(str)
        else:
            v = pd.to_numeric(v.astype(float) if v.dtype == bool or v.dtype == object and
                              v.dropna().map(type).eq(bool).all() else v, errors="coerce").astype(float)
            out[a.name] = np.log1p(v.clip(lower=0)) if a.log else v
    if uc.oasys is not None:
        has = df["__oasys_date"].notna() if "__oasys_date" in df else pd.Series(False, index=df.index)
        out["has_oasys"] = has.astype(float)
        last = pd.to_datetime(df["__oasys_date"]) if "__oasys_date" in df else pd.Series(pd.NaT, index=df.index)
        out["days_since_oasys"] = (t0 - last).dt.days.astype(float)
        for n, _ in uc.oasys.flags:
            v = df[n] if n in df else pd.Series(np.nan, index=df.index)
            out[n] = v.astype(float)
        for n, _ in uc.oasys.values:
            out[n] = (df[n] if n in df else pd.Series(np.nan, index=df.index)).astype(float)
    eth = df.get("__eth", pd.Series(None, index=df.index, dtype=object))
    uniq = {v: ethnic_group_of(v) for v in eth.dropna().unique()}
    out["ethnic_group"] = eth.map(uniq).fillna("Unknown")
    od = pd.to_datetime(df["__outcome_date"]) if "__outcome_date" in df else pd.Series(pd.NaT, index=df.index)
    out["outcome_date"] = od
    out["outcome"] = od.notna()
    horizon = t0 + pd.DateOffset(months=uc.outcome.window_months)
    out["observed"] = (horizon <= pd.Timestamp(end)).to_numpy()
    if uc.lookback_months and start is not None and uc.early_index_events == "exclude":
        out["history_complete"] = (t0 - pd.DateOffset(months=uc.lookback_months) >= pd.Timestamp(start)).to_numpy()
    else:
        out["history_complete"] = True
    if uc.lookback_months and uc.early_index_events == "keep":
        seen = (t0 - pd.Timestamp(start)).dt.days / 365.25 if start is not None else pd.Series(np.inf, index=df.index)
        out["history_years"] = np.minimum(seen.clip(lower=0).to_numpy(float), uc.lookback_months / 12)
    if uc.link_score:
        out["link_score"] = (df["__link_score"] if "__link_score" in df
                             else pd.Series(np.nan, index=df.index)).astype(float)
    return out.reset_index(drop=True)


def age_band(age: pd.Series) -> pd.Series:
    """Age bands used for the baseline model and the subgroup tables ('Unknown' when age is missing)."""
    out = pd.Series("Unknown", index=age.index, dtype=object)
    for lo, hi, lab in AGE_BANDS:
        out[(age >= lo) & (age < hi)] = lab
    return out
