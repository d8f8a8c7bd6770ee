"""Where each Data First table's rows meet the spine: their person (through ``spine.person_record``) and their date.

Every table that reaches a person (see :func:`bold_prevention.linkage.xjs.person_paths`) has a *record date*: the
date the spine uses to place a row in time (as-at filtering, look-back windows, latest record). It is the table's
own date column, or its parent's where the table has none (OASys answers take their assessment's date, parties take
their case's receipt or issue date).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..datafirst import MODEL, DataFirstModel
from ..linkage.xjs import person_paths
from ..warehouse.tables import PERSON_RECORD

__all__ = ["RECORD_DATES", "PERSON_TABLES", "RecordDate", "resolved_sql"]


@dataclass(frozen=True)
class RecordDate:
    """The record date of a table: ``expr`` over alias ``t`` (the table) and ``d`` (``date_table``, if any)."""

    expr: str
    date_table: str | None = None
    on: tuple[tuple[str, str], ...] = ()
    #: the columns ``expr`` reads, as (alias, column) pairs (checked against the model by the tests)
    reads: tuple[tuple[str, str], ...] = ()


def _own(*cols: str) -> RecordDate:
    expr = f"t.{cols[0]}" if len(cols) == 1 else "COALESCE(" + ", ".join(f"t.{c}" for c in cols) + ")"
    return RecordDate(expr=expr, reads=tuple(("t", c) for c in cols))


def _parent(table: str, on: tuple[tuple[str, str], ...], *cols: str) -> RecordDate:
    expr = f"d.{cols[0]}" if len(cols) == 1 else "COALESCE(" + ", ".join(f"d.{c}" for c in cols) + ")"
    return RecordDate(expr=expr, date_table=table, on=on, reads=tuple(("d", c) for c in cols))


_RID = (("row_id_hash", "row_id_hash"),)
_CASE = (("case_number_hash", "case_number_hash"),)

#: The record date of every table that reaches a person.
RECORD_DATES: dict[str, RecordDate] = {
    "mags_defendant_case": _own("first_hearing_date", "main_offence_date", "final_result_date"),
    "mags_defendant_offence": RecordDate(
        "COALESCE(t.offence_date, d.first_hearing_date, d.main_offence_date)", "mags_defendant_case", _RID,
        (("t", "offence_date"), ("d", "first_hearing_date"), ("d", "main_offence_date"))),
    "crown_defendant_case": _own("receipt_date", "main_offence_date", "sentence_date"),
    "crown_defendant_offence": _parent("crown_defendant_case", _RID, "receipt_date", "main_offence_date",
                                       "sentence_date"),
    "prison_custodial_journey": _own("reception_date"),
    "prison_safety_in_custody": _own("incident_date"),
    "moj_probation_flatfile": _own("referral_date", "disposal_date"),
    "moj_probation_rqmnts": _own("rqmnt_start_date", "rqmnt_commencement_date"),
    "oasys_assessments_metadata": _own("assessment_date"),
    **{t: _parent("oasys_assessments_metadata", _RID, "assessment_date") for t in (
        "oasys_assessments_details_core_risk", "oasys_assessments_details_bcs", "oasys_assessments_details_tr_bcs",
        "oasys_assessments_details_sara", "oasys_assessments_details_rmp", "oasys_assessments_details_saq",
        "oasys_assessments_details_skillschecker")},
    "family_cases": _own("receipt_date"),
    "family_events": _own("event_date"),
    "family_parties": _parent("family_cases", _CASE, "receipt_date"),
    "civil_cases": _own("issue_date"),
    "civil_events": _own("event_date"),
    "civil_parties": _parent("civil_cases", _CASE, "issue_date"),
}

#: The person-level tables of the seven Data First datasets, with the spine's short dataset name.
PERSON_TABLES: dict[str, str] = {
    "mags_defendant_case": "mags",
    "crown_defendant_case": "crown",
    "prison_custodial_journey": "prison",
    "moj_probation_flatfile": "probation",
    "oasys_assessments_metadata": "oasys",
    "family_parties": "family",
    "civil_parties": "civil",
}


def resolved_sql(table: str, columns: list[str] | tuple[str, ...] = (), *, model: DataFirstModel = MODEL,
                 person_record: str = PERSON_RECORD) -> str:
    """SELECT of a table's rows with their person: ``_person_id``, ``_record_id``, ``_record_date``,
    ``_band_joined``, ``_person_record_id`` (the person-level record the row reaches its person through) and the
    requested columns of the table (unqualified, as in the table)."""
    paths = person_paths(model)
    if table not in paths or table not in RECORD_DATES:
        raise KeyError(f"table {table} does not reach a person")
    path = paths[table]
    rd = RECORD_DATES[table]
    cols = "".join(f", t.{c}" for c in dict.fromkeys(columns))
    join_d = ""
    if rd.date_table:
        on = " AND ".join(f"d.{b} = t.{a}" for a, b in rd.on)
        join_d = f" LEFT JOIN extract.{rd.date_table} d ON {on}"
    return (
        f"SELECT pr.person_id AS _person_id, t.{path.record_id} AS _record_id, {rd.expr} AS _record_date, "
        f"pr.band_joined AS _band_joined, pr.person_record_id AS _person_record_id{cols} "
        f"FROM extract.{table} t JOIN {person_record} pr "
        f"ON pr.source_table = '{table}' AND pr.record_id = t.{path.record_id}{join_d}"
    )
