"""Person timelines: every event of a linked person across all datasets, in date order (``spine.timeline``).

The timeline is the one table that the practitioners' single view, the pathway analyses, the survival curves and the
early-warning features all read. Each event comes from one extract table (``extract.<table>``) and reaches a person
through ``spine.person_record``: person tables (those with a record id) join on their own record id; detail and event
tables join through their parent's foreign key, and event tables of case-level datasets (family, civil) reach the
parties of the case through the party table's foreign key to the case.

The events are declared below as :class:`EventSpec` data; :func:`events` builds one Ibis expression (a union of one
select per spec) that runs on DuckDB or Spark, and :func:`build_timeline` materialises it.

``spine.timeline`` columns: ``person_id``, ``event_date``, ``dataset``, ``source_table``, ``record_id`` (the primary
key of the row in ``source_table``), ``event_type`` (a short stable code), ``description`` (plain words, no
identifiers) and ``band_joined`` (from the person record).

``spine.timeline_info`` records the fingerprint of the person records the timeline was built from (see
:mod:`bold_prevention.spine.fingerprint`): a timeline over person records that have since been rebuilt (other
extracts, band or pseudonymisation key) is refused by :func:`check_timeline_current` and :func:`person_timeline`,
and :func:`build_timeline` refuses person records older than the loaded extracts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from ..datafirst import MODEL, Table
from ..datafirst import codes as K
from ..errors import InputError
from ..warehouse.engine import table_exists, tables
from ._backend import backend_of, materialise, table

#: Columns of ``spine.timeline``, in order.
TIMELINE_COLUMNS = ("person_id", "event_date", "dataset", "source_table", "record_id", "event_type",
                    "description", "band_joined")
#: Internal columns carried by :func:`events` besides the timeline columns.
ROUTE_COLUMNS = ("person_table", "person_record_id", "event_rank")

PERSON_RECORD_HINT = ("build the person records first: run the linkage and spine steps "
                      "(`bold spine build`, or `bold demo` on synthetic data)")

Describe = Callable[[ir.Table], ir.StringValue]
Where = Callable[[ir.Table], ir.BooleanValue]


@dataclass(frozen=True)
class Extra:
    """Columns brought in from another table (for dates or descriptions), joined on ``on``."""

    table: str
    on: tuple[str, ...]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class EventSpec:
    """One kind of timeline event: which table, which date, which rows, and how it reads in plain words."""

    event_type: str
    table: str
    dates: tuple[str, ...]
    describe: Describe
    rank: int
    where: Where | None = None
    extras: tuple[Extra, ...] = ()
    #: Columns of the person table to carry (for the description), when the route joins one.
    person_columns: tuple[str, ...] = ()
    label: str = ""

    @property
    def dataset(self) -> str:
        return MODEL.table(self.table).dataset


@dataclass(frozen=True)
class Route:
    """How rows of ``table`` reach a person record of ``person_table``."""

    table: str
    person_table: str
    #: Columns of ``table`` that hold the key.
    key: tuple[str, ...]
    #: Columns of ``person_table`` matched to ``key``; empty when ``key`` is the person record id itself.
    person_key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def direct(self) -> bool:
        return not self.person_key


#: Rows of a person table that count as the person an event is about (civil: defendants who are people, since the
#: claimant is usually a landlord or lender).
PARTY_FILTERS: dict[str, Where] = {
    "civil_parties": lambda p: (p.party_role == "DEFT") & ~p.is_company.fill_null(False),
}


def route(table_name: str) -> Route:
    """The route from rows of ``table_name`` to person records, derived from the model's keys."""
    t = MODEL.table(table_name)
    if t.record_id:
        return Route(t.name, t.name, (t.record_id,))
    for fk in t.foreign_keys:
        parent = MODEL.table(fk.ref_table)
        if parent.record_id:
            if fk.ref_columns == (parent.record_id,):
                return Route(t.name, parent.name, fk.columns)
            return Route(t.name, parent.name, fk.columns, fk.ref_columns)
    # a case-level table (or an event of one): the parties of the case are the persons
    targets = [(fk.columns, fk.ref_table, fk.ref_columns) for fk in t.foreign_keys] or [
        (t.primary_key, t.name, t.primary_key)]
    for cols, ref_table, ref_cols in targets:
        for p in MODEL.person_tables():
            for pfk in p.foreign_keys:
                if pfk.ref_table == ref_table and pfk.ref_columns == ref_cols and p.record_id:
                    return Route(t.name, p.name, cols, pfk.columns)
    raise InputError(f"table {table_name} has no route to a person table in the Data First model",
                     hint="add a foreign key to its person table in bold_prevention.datafirst")


# --------------------------------------------------------------------------------------------- plain-word helpers
def _label(col: ir.StringValue, codelist: K.CodeList | dict, missing: str | None = "not recorded") -> ir.StringValue:
    """The plain-word label of a code (the code itself when unknown; ``missing`` when null)."""
    mapping = dict(codelist.codes) if hasattr(codelist, "codes") else dict(codelist)
    out = col.substitute(mapping, else_=col)
    return out if missing is None else out.fill_null(missing)


def _words(*parts: ir.StringValue | str) -> ir.StringValue:
    out: ir.StringValue | None = None
    for p in parts:
        v = ibis.literal(p) if isinstance(p, str) else p
        out = v if out is None else out.concat(v)
    return out


def _opt(prefix: str, col: ir.StringValue) -> ir.StringValue:
    """``prefix + col`` or an empty string when ``col`` is null."""
    return ibis.ifelse(col.isnull(), ibis.literal(""), ibis.literal(prefix).concat(col))


RELEASE_WORDS = {
    "CRD": "at the conditional release date", "HDC": "on home detention curfew", "PAROLE": "on parole",
    "ECSL": "on end of custody supervised licence", "DTO": "from a detention and training order",
    "RECALL_RELEASE": "after a recall", "IMMIGRATION_BAIL": "on immigration bail",
    "ERS": "under the early removal scheme",
}
ADMISSION_WORDS = {"SENTENCE": "sentenced", "REMAND": "on remand", "RECALL": "on recall",
                   "HDC_RECALL": "on recall from home detention curfew"}
FAMILY_ORDER_EVENTS = ("FL404", "FL406", "C43", "C32", "C35", "ORDNOM", "A76", "D37")
PSR = "Pre-Sentence Report"

_OFF = K.OFFENCE_GROUP
POSSESSION_CLAIM_TYPES = ("PSL", "PPL", "PAC", "PMO")
_CIVIL_KIND = {"CLAIM": ("civil_claim", "Possession claim issued"),
               "MONEY": ("money_claim", "Money or damages claim issued"),
               "ORDER_OUTRIGHT": ("civil_order", "Outright possession order made"),
               "ORDER_SUSPENDED": ("civil_order", "Suspended possession order made"),
               "NO_ORDER": ("civil_no_order", "Possession claim ended with no order"),
               "JUDGMENT": ("civil_judgment", "Judgment given"),
               "WARRANT": ("civil_warrant", "Warrant of possession issued"),
               "REPOSSESSION": ("civil_repossession", "Repossession by county court bailiffs")}


def _civil(kind: str, rank: int) -> EventSpec:
    etype, words = _CIVIL_KIND[kind]
    if kind == "CLAIM":
        where = lambda t: (t.event_type == "CLAIM") & (  # noqa: E731
            t.claim_type.isnull() | t.claim_type.isin(POSSESSION_CLAIM_TYPES))
    elif kind == "MONEY":
        where = lambda t: (t.event_type == "CLAIM") & (  # noqa: E731
            t.claim_type.notnull() & ~t.claim_type.isin(POSSESSION_CLAIM_TYPES))
    else:
        where = lambda t, c=kind: t.event_type == c  # noqa: E731
    return EventSpec(
        etype, "civil_events", ("event_date",), rank=rank, label=words, where=where,
        extras=(Extra("civil_cases", ("case_number_hash",), ("claim_type",)),),
        describe=lambda t, w=words: _words(w, " (", _label(t.claim_type, K.CIVIL_CLAIM_TYPE, "claim type not recorded"),
                                           ")"),
    )


#: Every event kind of the timeline, in the order events of one day are listed.
EVENT_SPECS: tuple[EventSpec, ...] = (
    EventSpec("mags_case", "mags_defendant_case", ("first_hearing_date", "final_result_date", "main_offence_date"),
              rank=10, label="Magistrates' court case",
              describe=lambda t: _words("Magistrates' court case: ", _label(t.offence_group, _OFF),
                                        "; ", _label(t.outcome, K.MAGS_OUTCOME, "outcome not recorded"),
                                        _opt("; ", _label(t.sentence, K.SENTENCE, None)))),
    EventSpec("crown_case", "crown_defendant_case", ("receipt_date", "sentence_date", "main_offence_date"),
              rank=20, label="Crown Court case",
              describe=lambda t: _words("Crown Court case (", _label(t.case_type, K.CROWN_CASE_TYPE, "type not recorded"),
                                        "): ", _label(t.offence_group, _OFF),
                                        "; ", _label(t.outcome, K.CROWN_OUTCOME, "outcome not recorded"),
                                        _opt("; ", _label(t.sentence, K.SENTENCE, None)))),
    EventSpec("custody_start", "prison_custodial_journey", ("reception_date",), rank=30, label="Prison reception",
              describe=lambda t: _words("Received into prison ", _label(t.admission_reason, ADMISSION_WORDS),
                                        " (", _label(t.main_offence_group, _OFF), ")")),
    EventSpec("custody_incident", "prison_safety_in_custody", ("incident_date",), rank=35,
              label="Incident in custody",
              describe=lambda t: _words("Incident in custody: ", t.incident_type.fill_null("type not recorded"))),
    EventSpec("custody_release", "prison_custodial_journey", ("release_date",), rank=40, label="Release from prison",
              describe=lambda t: _words("Released from prison ", _label(t.release_reason, RELEASE_WORDS,
                                                                        "(reason not recorded)"))),
    EventSpec("pre_sentence_report", "moj_probation_flatfile", ("referral_date", "disposal_date"), rank=50,
              label="Pre-sentence report", where=lambda t: t.disposal_type_description == PSR,
              describe=lambda t: _words("Pre-sentence report requested (", _label(t.mo_category_description, _OFF),
                                        ")")),
    EventSpec("probation_start", "moj_probation_flatfile", ("disposal_date", "referral_date"), rank=55,
              label="Start of probation supervision",
              where=lambda t: t.disposal_type_description.fill_null("") != PSR,
              describe=lambda t: _words("Probation supervision started: ",
                                        t.disposal_type_description.fill_null("disposal not recorded"),
                                        " (", _label(t.mo_category_description, _OFF), ")")),
    EventSpec("requirement_start", "moj_probation_rqmnts", ("rqmnt_start_date", "rqmnt_commencement_date"),
              rank=60, label="Requirement imposed",
              describe=lambda t: _words("Requirement imposed: ", t.rqmnt_type_main_category_desc.fill_null(
                  _label(t.rqmnt_type_main_category_code, K.RQMNT_CATEGORY)))),
    EventSpec("requirement_end", "moj_probation_rqmnts", ("rqmnt_termination_date",), rank=65,
              label="Requirement ended",
              describe=lambda t: _words("Requirement ended (", t.rqmnt_type_main_category_desc.fill_null(
                  _label(t.rqmnt_type_main_category_code, K.RQMNT_CATEGORY)), "): ",
                  t.rqmnt_termination_reason_desc.fill_null("reason not recorded"))),
    EventSpec("probation_end", "moj_probation_flatfile", ("disposal_termination_date",), rank=70,
              label="End of probation supervision",
              where=lambda t: t.disposal_type_description.fill_null("") != PSR,
              describe=lambda t: _words("Probation supervision ended: ",
                                        t.disposal_type_description.fill_null("disposal not recorded"))),
    EventSpec("oasys_assessment", "oasys_assessments_metadata", ("assessment_date",), rank=75,
              label="OASys assessment",
              describe=lambda t: _words("OASys assessment: ", _label(t.assessment_type, K.ASSESSMENT_TYPE),
                                        ", ", _label(t.assessment_context, K.ASSESSMENT_CONTEXT).lower())),
    EventSpec("family_case", "family_cases", ("receipt_date",), rank=80, label="Family court case",
              person_columns=("role_model",),
              describe=lambda t: _words("Family court case received: ", _label(t.case_type, K.FAMILY_CASE_TYPE),
                                        ibis.ifelse(t.harm_alleged.fill_null(False), ibis.literal("; harm alleged"),
                                                    ibis.literal("")),
                                        " (", _label(t.role_model, K.FAMILY_ROLE, "role not recorded").lower(), ")")),
    EventSpec("family_order", "family_events", ("event_date",), rank=85, label="Family court order",
              where=lambda t: t.event_model.isin(FAMILY_ORDER_EVENTS),
              describe=lambda t: _words("Family court: ", _label(t.event_model, K.FAMILY_EVENT).lower())),
    _civil("MONEY", 89),
    _civil("CLAIM", 90),
    _civil("ORDER_OUTRIGHT", 91),
    _civil("ORDER_SUSPENDED", 91),
    _civil("NO_ORDER", 91),
    _civil("JUDGMENT", 91),
    _civil("WARRANT", 92),
    _civil("REPOSSESSION", 93),
    EventSpec("la_contact", "la_service_contacts", ("contact_date",), rank=95, label="Local authority contact",
              describe=lambda t: _words("Local authority contact: ", _label(t.service, K.LA_SERVICE),
                                        _opt("; ", t.outcome))),
    EventSpec("school_exclusion", "npd_exclusions", ("exclusion_start_date",), rank=96, label="School exclusion",
              describe=lambda t: _words("School exclusion: ",
                                        _label(t.exclusion_category, K.EXCLUSION_TYPE).lower())),
    EventSpec("cin_referral", "npd_children_in_need", ("referral_date",), rank=97,
              label="Children in need referral",
              describe=lambda t: _words("Children in need referral: ", _label(t.primary_need_code, K.CIN_NEED),
                                        ibis.ifelse(t.child_protection_plan.fill_null(False),
                                                    ibis.literal("; child protection plan"), ibis.literal("")))),
    EventSpec("persistent_absence", "npd_attendance", ("academic_year",), rank=98,
              label="Persistent absence from school", where=lambda t: t.persistent_absence.fill_null(False),
              describe=lambda t: _words("Persistently absent from school in academic year ",
                                        t.academic_year.cast("string"), "/",
                                        ((t.academic_year + 1) % 100).cast("string").lpad(2, "0"))),
)

#: Event types in the order of :data:`EVENT_SPECS` (a code may come from several specs).
EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(s.event_type for s in EVENT_SPECS))
#: Plain-word label of each event type.
EVENT_LABELS: dict[str, str] = {s.event_type: (s.label if s.event_type != "civil_order" else "Possession order")
                                for s in EVENT_SPECS}
EVENT_LABELS["civil_claim"] = "Possession claim issued"


def _event_date(t: ir.Table, spec: EventSpec) -> ir.DateValue:
    if spec.table == "npd_attendance":  # yearly records: dated at the end of the academic year they describe
        return ibis.date(t.academic_year + 1, 7, 31)
    cols = [t[c] for c in spec.dates]
    return cols[0] if len(cols) == 1 else ibis.coalesce(*cols)


def spec_expr(backend, spec: EventSpec, person_map: ir.Table) -> ir.Table:
    """One spec's events, with the person they belong to."""
    tmodel: Table = MODEL.table(spec.table)
    t = table(backend, "extract", spec.table)
    for ex in spec.extras:
        other = table(backend, "extract", ex.table)
        renamed = other.select(*[other[k].name(f"__x_{k}") for k in ex.on], *[other[c] for c in ex.columns])
        pred = [t[k] == renamed[f"__x_{k}"] for k in ex.on]
        t = t.left_join(renamed, pred).drop(*[f"__x_{k}" for k in ex.on])
    if spec.where is not None:
        t = t.filter(spec.where(t))
    r = route(spec.table)
    if r.direct:
        t = t.mutate(__person_record_id=t[r.key[0]].cast("string"))
    else:
        p = table(backend, "extract", r.person_table)
        pmodel = MODEL.table(r.person_table)
        if r.person_table in PARTY_FILTERS:
            p = p.filter(PARTY_FILTERS[r.person_table](p))
        pcols = [p[pmodel.record_id].cast("string").name("__person_record_id"),
                 *[p[k].name(f"__p_{k}") for k in r.person_key],
                 *[p[c] for c in spec.person_columns]]
        p = p.select(*pcols).distinct()
        t = t.inner_join(p, [t[k] == p[f"__p_{pk}"] for k, pk in zip(r.key, r.person_key, strict=True)])
        t = t.drop(*[f"__p_{pk}" for pk in r.person_key])
    pk = tmodel.primary_key
    rec = t[pk[0]].cast("string") if len(pk) == 1 else _words(
        *[p for i, c in enumerate(pk) for p in ((["|"] if i else []) + [t[c].cast("string")])])
    ev = t.select(
        event_date=_event_date(t, spec).cast("date"),
        dataset=ibis.literal(tmodel.dataset),
        source_table=ibis.literal(spec.table),
        record_id=rec,
        event_type=ibis.literal(spec.event_type),
        description=spec.describe(t).cast("string"),
        person_table=ibis.literal(r.person_table),
        person_record_id=t.__person_record_id,
        event_rank=ibis.literal(spec.rank).cast("int32"),
    ).filter(lambda e: e.event_date.notnull())
    pm = person_map.filter(person_map.source_table == r.person_table)
    pm = pm.select(__pm_record_id=pm.record_id, person_id=pm.person_id, band_joined=pm.band_joined)
    joined = ev.inner_join(pm, ev.person_record_id == pm.__pm_record_id)
    return joined.select(*TIMELINE_COLUMNS, *ROUTE_COLUMNS)


def available_specs(backend, specs: Sequence[EventSpec] = EVENT_SPECS) -> tuple[list[EventSpec], list[str]]:
    """The specs whose tables are loaded, and a note for each one skipped."""
    ok: list[EventSpec] = []
    skipped: list[str] = []
    loaded = tables(backend, "extract")
    for s in specs:
        needed = {s.table, route(s.table).person_table, *(e.table for e in s.extras)}
        missing = sorted(n for n in needed if n not in loaded)
        if missing:
            skipped.append(f"{s.event_type} from {s.table}: extract.{', extract.'.join(missing)} not loaded")
        else:
            ok.append(s)
    return ok, skipped


def person_records(backend) -> ir.Table:
    """``spine.person_record`` (``source_table``, ``record_id``, ``person_id``, ``band_joined``, ...)."""
    if not table_exists(backend, "spine", "person_record"):
        raise InputError("the warehouse has no table spine.person_record", hint=PERSON_RECORD_HINT)
    return table(backend, "spine", "person_record")


def events(con: Any, *, person_map: ir.Table | None = None, event_types: Sequence[str] | None = None,
           specs: Sequence[EventSpec] = EVENT_SPECS) -> ir.Table:
    """Every event of every linked person, as an (unsorted) Ibis expression.

    ``person_map`` maps person records to persons (columns ``source_table``, ``record_id``, ``person_id``,
    ``band_joined``); by default ``spine.person_record``. Besides the timeline columns the result carries
    ``person_table`` and ``person_record_id`` (the person record the event reached the person through) and
    ``event_rank`` (the order of events of one day).
    """
    backend = backend_of(con)
    pm = person_map if person_map is not None else person_records(backend)
    chosen = [s for s in specs if event_types is None or s.event_type in set(event_types)]
    if event_types is not None:
        unknown = sorted(set(event_types) - set(EVENT_TYPES))
        if unknown:
            raise InputError(f"unknown event type(s) {', '.join(unknown)}",
                             hint=f"use one of: {', '.join(EVENT_TYPES)}")
    ok, _ = available_specs(backend, chosen)
    if not ok:
        raise InputError("none of the extract tables the timeline reads is loaded",
                         hint="load the extracts first (`bold load SOURCE`)")
    exprs = [spec_expr(backend, s, pm) for s in ok]
    return exprs[0].union(*exprs[1:]) if len(exprs) > 1 else exprs[0]


@dataclass(frozen=True)
class TimelineSummary:
    """What :func:`build_timeline` wrote."""

    rows: int
    persons: int
    by_event_type: dict[str, int]
    skipped: tuple[str, ...]


def timeline_expr(con: Any, *, person_map: ir.Table | None = None) -> ir.Table:
    """The ``spine.timeline`` expression: events in person and date order, with the contract's columns."""
    ev = events(con, person_map=person_map)
    ev = ev.order_by([ev.person_id, ev.event_date, ev.event_rank, ev.source_table, ev.record_id])
    return ev.select(*TIMELINE_COLUMNS)


def _records_fingerprint(backend) -> str | None:
    """The fingerprint ``spine.person_record`` was built from (JSON text), or None when none is recorded."""
    if not table_exists(backend, "spine", "person_record_info"):
        return None
    t = table(backend, "spine", "person_record_info")
    if "fingerprint" not in t.columns:
        return None
    values = t.fingerprint.to_pyarrow().to_pylist()
    return values[0] if values else None


def _loads(text: str | None) -> dict | None:
    import json

    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def check_timeline_current(con: Any) -> None:
    """Refuse a ``spine.timeline`` built from person records that have since been rebuilt, naming what changed."""
    from ..spine.fingerprint import changes

    backend = backend_of(con)
    if not table_exists(backend, "spine", "timeline"):
        return
    current = _records_fingerprint(backend)
    if table_exists(backend, "spine", "timeline_info"):
        vals = table(backend, "spine", "timeline_info").records_fingerprint.to_pyarrow().to_pylist()
        built = vals[0] if vals else None
    else:
        built = None if current is None else ""
    if built == current:
        return
    what = changes(_loads(built), _loads(current) or {}) if current else ["the person records have been dropped"]
    raise InputError("spine.timeline was built from earlier person records: since then " + "; ".join(what),
                     hint="rebuild the timeline: `bold timeline build`")


def _check_records_current(backend) -> None:
    """Refuse person records older than the loaded extracts (DuckDB; other engines are not checked)."""
    from ..spine.fingerprint import changes, inputs_fingerprint

    fp = _loads(_records_fingerprint(backend))
    if fp is None or getattr(backend, "name", "") != "duckdb":
        return
    what = changes(fp, {"inputs": inputs_fingerprint(backend.con)})
    if what:
        raise InputError("spine.person_record is out of date: " + "; ".join(what),
                         hint="rebuild the spine first (`bold spine build --as-at YYYY-MM-DD`), then the timeline")


def build_timeline(con: Any) -> TimelineSummary:
    """Create or replace ``spine.timeline`` from ``extract.*`` and ``spine.person_record``.

    Tables that are not loaded (for example the local-authority file before it is linked) are skipped and named in
    the summary. The table is replaced in one statement, so readers never see a partial timeline. Person records
    older than the loaded extracts are refused; ``spine.timeline_info`` records the fingerprint of the person
    records used.
    """
    backend = backend_of(con)
    person_records(backend)  # clear error first
    _check_records_current(backend)
    _, skipped = available_specs(backend)
    out = materialise(backend, timeline_expr(backend), "spine", "timeline")
    fp = _records_fingerprint(backend)
    if getattr(backend, "name", "") == "duckdb":
        backend.con.execute("CREATE OR REPLACE TABLE spine.timeline_info AS SELECT CAST(? AS VARCHAR) "
                            "AS records_fingerprint, CURRENT_TIMESTAMP AS built_at", [fp])
    elif fp is not None:  # the same route as the timeline itself (from the one-row person-record info)
        info = table(backend, "spine", "person_record_info")
        materialise(backend, info.select(records_fingerprint=info.fingerprint), "spine", "timeline_info")
    counts = out.group_by("event_type").aggregate(n=out.count()).to_pyarrow().to_pylist()
    persons = int(out.person_id.nunique().to_pyarrow().as_py())
    by = {r["event_type"]: int(r["n"]) for r in sorted(counts, key=lambda r: EVENT_TYPES.index(r["event_type"]))}
    return TimelineSummary(rows=sum(by.values()), persons=persons, by_event_type=by, skipped=tuple(skipped))


def person_timeline(con: Any, person_id: str) -> list[dict]:
    """One person's timeline (from ``spine.timeline``) as a list of rows in date order."""
    backend = backend_of(con)
    if not table_exists(backend, "spine", "timeline"):
        raise InputError("the warehouse has no table spine.timeline", hint="run `bold timeline build` first")
    check_timeline_current(backend)
    t = table(backend, "spine", "timeline")
    t = t.filter(t.person_id == person_id)
    t = t.order_by([t.event_date, rank_expr(t.event_type), t.source_table, t.record_id])
    return t.to_pyarrow().to_pylist()


def rank_expr(event_type: ir.StringValue) -> ir.IntegerValue:
    """The order of events of one day, from their type (as in :data:`EVENT_SPECS`)."""
    ranks = {s.event_type: s.rank for s in EVENT_SPECS}
    return event_type.substitute(ranks, else_=ibis.literal(999)).cast("int32")
