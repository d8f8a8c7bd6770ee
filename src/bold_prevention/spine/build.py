"""The Wave 0 person-level spine: one row per linked person as at a date, at a chosen linkage band.

:func:`build_spine` writes

``spine.person``       one row per person (pseudonymised ``person_id``) with demographics, latest geography and
                       deprivation, justice contact counts by dataset and period, first and last contact dates,
                       prison, civil possession and family court signals, and for every driver of the register
                       ``need_<driver>`` (flag), ``need_<driver>_score``, ``need_<driver>_dataset``,
                       ``need_<driver>_variable`` and ``need_<driver>_date`` (the evidence behind it);
``spine.person_need``  the same needs in long form, one row per person and driver with any evidence:
                       ``person_id, driver, value, score, evidence_table, evidence_dataset, evidence_variable,
                       evidence_date, assessed``;
``spine.spine_info``   the as-at date, band, XJS person id (``xjs_id``: published or improved, and its table
                       ``xjs_link_table``), register drivers and row counts of the build.

Only records dated on or before the as-at date are used (records with no date count towards demographics only).
Every transformation is a DuckDB-dialect SELECT that sqlglot transpiles to Spark and Trino (:func:`spine_plan`
returns them; :func:`transpiled_plan` shows them in another dialect). Demographics: ``sex`` is the person's most
frequent recorded sex (M/F; ties to the latest), ``ethnic_group`` the most frequent known ONS group of the recorded
ethnicity, ``age`` the age at the as-at date implied by the latest record that carries an age.
"""

from __future__ import annotations

import calendar
import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ..datafirst import MODEL
from ..errors import InputError
from ..linkage.pseudonym import check_project_key, record_key_fingerprint, recorded_key_fingerprint
from ..linkage.xjs import BANDS, XJS_IDS, build_person_records, check_xjs_link_table, person_paths
from ..project import Project
from ..warehouse.engine import date_literal, quote_ident, sql_literal, table_exists, tables, transaction
from ..warehouse.tables import PERSON, PERSON_RECORD
from .fingerprint import (
    changes,
    digest,
    frozen_memo,
    inputs_fingerprint,
    register_digest,
    spine_fingerprint,
    table_digest,
)
from .measured import EvidenceStatus, evidence_status
from .rules import DriverRule, load_rules
from .sources import PERSON_TABLES, RECORD_DATES, resolved_sql

__all__ = [
    "AGE_BANDS",
    "PERIODS",
    "SpineResult",
    "Step",
    "build_spine",
    "drop_key_dependents",
    "months_before",
    "records_fingerprint",
    "spine_fingerprint_of",
    "spine_plan",
    "transpiled_plan",
    "unmeasured_needs",
]

#: Justice contact periods: column suffix -> months (None = ever).
PERIODS: dict[str, int | None] = {"12m": 12, "5y": 60, "ever": None}

#: Age bands (lower bound inclusive) used across profiles.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("10-17", 10, 17), ("18-24", 18, 24), ("25-34", 25, 34), ("35-44", 35, 44), ("45-54", 45, 54),
    ("55-64", 55, 64), ("65+", 65, None),
)

#: Where an age and its date are recorded.
AGE_COLUMNS = {
    "mags_defendant_case": ("age_at_offence", "main_offence_date"),
    "crown_defendant_case": ("age_at_offence", "main_offence_date"),
    "prison_custodial_journey": ("age_at_reception", "reception_date"),
    "moj_probation_flatfile": ("age_at_offence", "referral_date"),
}

#: Criminal-justice datasets (contact with the criminal justice system: courts, prison, probation and the
#: offender assessments made under their supervision).
CJ_DATASETS = ("mags", "crown", "prison", "probation", "oasys")

POSSESSION_CLAIMS = ("PSL", "PPL", "PAC", "PMO")
POSSESSION_ORDERS = ("ORDER_OUTRIGHT", "ORDER_SUSPENDED")

ETHNIC_GROUP_SQL = """CASE
    WHEN LOWER(ethnicity_desc) LIKE 'white%' THEN 'White'
    WHEN LOWER(ethnicity_desc) LIKE 'mixed%' THEN 'Mixed'
    WHEN LOWER(ethnicity_desc) LIKE 'asian%' OR LOWER(ethnicity_desc) = 'chinese' THEN 'Asian'
    WHEN LOWER(ethnicity_desc) LIKE 'black%' THEN 'Black'
    WHEN LOWER(ethnicity_desc) IN ('arab', 'other ethnic group') THEN 'Other'
    ELSE 'Unknown' END"""


@dataclass(frozen=True)
class Step:
    """One step of the plan: ``sql`` (a SELECT) materialised as ``name`` (a temp table unless ``final``)."""

    name: str
    sql: str
    final: bool = False


@dataclass(frozen=True)
class SpineResult:
    as_at: date
    band: str
    persons: int
    needs_rows: int
    drivers: tuple[str, ...]
    seconds: float
    #: drivers not measured for some persons: dicts of driver, dataset, tables, variables, persons, reason
    unmeasured: tuple[dict, ...] = ()
    #: what a re-key dropped (tables and folders)
    dropped: tuple[str, ...] = ()
    #: the XJS person id the persons were built on (published or improved)
    xjs: str = "published"


def months_before(d: date, months: int) -> date:
    """``d`` minus ``months`` calendar months (day clipped to the month's length)."""
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _in(values) -> str:
    return "(" + ", ".join(sql_literal(v) for v in values) + ")"


def _age_band_sql(col: str) -> str:
    parts = []
    for label, lo, hi in AGE_BANDS:
        cond = f"{col} >= {lo}" + (f" AND {col} <= {hi}" if hi is not None else "")
        parts.append(f"WHEN {cond} THEN '{label}'")
    return "CASE " + " ".join(parts) + " ELSE 'Unknown' END"


def _person_rows(present: set[str], as_at: date, person_record: str = PERSON_RECORD) -> str:
    """Person-level records of the seven datasets, in view at the as-at date."""
    a = date_literal(as_at)
    parts = []
    for table, ds in PERSON_TABLES.items():
        if table not in present:
            continue
        t = MODEL.table(table)
        rd = RECORD_DATES[table]
        sex = t.identifier_roles.get("sex")
        sex_sql = f"t.{sex}" if sex else "CAST(NULL AS VARCHAR)"
        eth = "t.ethnicity_desc" if "ethnicity_desc" in t.column_names else "CAST(NULL AS VARCHAR)"
        lsoa = "t.lsoa_residence" if "lsoa_residence" in t.column_names else "CAST(NULL AS VARCHAR)"
        if table in AGE_COLUMNS:
            age_col, age_date = AGE_COLUMNS[table]
            age = (f"CAST(FLOOR(t.{age_col} + DATE_DIFF('day', COALESCE(t.{age_date}, {rd.expr}), {a}) / 365.25)"
                   f" AS INTEGER)")
            age_at = f"COALESCE(t.{age_date}, {rd.expr})"
            age_ok = f"t.{age_col} BETWEEN 10 AND 100"
            age = f"CASE WHEN {age_ok} THEN {age} END"
        else:
            age, age_at = "CAST(NULL AS INTEGER)", "CAST(NULL AS DATE)"
        kind = "t.assessment_type" if table == "oasys_assessments_metadata" else "CAST(NULL AS VARCHAR)"
        join_d = ""
        if rd.date_table:
            on = " AND ".join(f"d.{b} = t.{a_}" for a_, b in rd.on)
            join_d = f" LEFT JOIN extract.{rd.date_table} d ON {on}"
        parts.append(
            f"SELECT pr.person_id, '{ds}' AS dataset, '{table}' AS source_table, t.row_id_hash AS record_id, "
            f"{rd.expr} AS record_date, {sex_sql} AS sex, {eth} AS ethnicity_desc, {lsoa} AS lsoa, "
            f"{age} AS age, {age_at} AS age_date, pr.band_joined, {kind} AS kind "
            f"FROM extract.{table} t JOIN {person_record} pr "
            f"ON pr.source_table = '{table}' AND pr.record_id = t.row_id_hash{join_d} "
            f"WHERE {rd.expr} <= {a} OR {rd.expr} IS NULL"
        )
    if not parts:
        raise InputError("the warehouse holds none of the Data First person tables",
                         hint="load the extracts with `bold load` first")
    return "\nUNION ALL\n".join(parts)


def _mode_sql(source: str, col: str, where: str, out: str) -> str:
    return f"""
SELECT person_id, {col} AS {out} FROM (
    SELECT person_id, {col},
           ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY n DESC, last_date DESC NULLS LAST, {col}) AS rn
    FROM (SELECT person_id, {col}, COUNT(*) AS n, MAX(record_date) AS last_date
          FROM {source} WHERE {where} GROUP BY person_id, {col}) g) r
WHERE rn = 1"""


def _contacts_sql(as_at: date) -> str:
    a = date_literal(as_at)
    cols = []
    for ds in PERSON_TABLES.values():
        for suffix, months in PERIODS.items():
            cond = f"dataset = '{ds}' AND record_date <= {a}"
            if months is not None:
                cond += f" AND record_date > {date_literal(months_before(as_at, months))}"
            cols.append(f"CAST(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS BIGINT) AS n_{ds}_{suffix}")
    w12 = date_literal(months_before(as_at, 12))
    cj = _in(CJ_DATASETS)
    cols += [
        f"CAST(SUM(CASE WHEN record_date <= {a} THEN 1 ELSE 0 END) AS BIGINT) AS n_records_ever",
        f"COUNT(DISTINCT CASE WHEN record_date <= {a} THEN dataset END) AS n_datasets",
        "MIN(record_date) AS first_contact_date",
        "MAX(record_date) AS last_contact_date",
        f"CAST(SUM(CASE WHEN dataset IN {cj} AND record_date <= {a} AND record_date > {w12} THEN 1 ELSE 0 END)"
        " AS BIGINT) AS n_cj_12m",
        f"MAX(CASE WHEN dataset IN {cj} THEN record_date END) AS last_cj_date",
        "MAX(CASE WHEN dataset = 'oasys' THEN record_date END) AS last_oasys_date",
        f"MAX(CASE WHEN dataset = 'oasys' AND kind <> 'BCS' AND record_date <= {a} THEN 1 ELSE 0 END) AS _full_oasys",
        "MAX(CASE band_joined WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END) AS _worst_band",
    ]
    return "SELECT person_id, " + ",\n  ".join(cols) + "\nFROM _sp_rec GROUP BY person_id"


def _prison_sql(as_at: date, person_record: str = PERSON_RECORD) -> str:
    a = date_literal(as_at)
    r = resolved_sql("prison_custodial_journey", ["reception_date", "release_date"], person_record=person_record)
    return f"""
SELECT _person_id AS person_id,
       MAX(CASE WHEN reception_date <= {a} AND (release_date IS NULL OR release_date > {a}) THEN 1 ELSE 0 END)
           AS _in_custody,
       MAX(CASE WHEN release_date <= {a} THEN release_date END) AS last_release_date
FROM ({r}) p
WHERE reception_date <= {a}
GROUP BY _person_id"""


def _civil_sql(as_at: date, person_record: str = PERSON_RECORD) -> tuple[str, str]:
    a = date_literal(as_at)
    w12 = date_literal(months_before(as_at, 12))
    poss = _in(POSSESSION_CLAIMS)
    parties = resolved_sql("civil_parties", ["case_number_hash", "party_role"], person_record=person_record)
    claims = f"""
SELECT p._person_id AS person_id,
       COUNT(DISTINCT CASE WHEN c.claim_type IN {poss} THEN c.case_number_hash END) AS n_possession_claims_ever,
       COUNT(DISTINCT CASE WHEN c.claim_type IN {poss} AND c.issue_date > {w12} THEN c.case_number_hash END)
           AS n_possession_claims_12m,
       COUNT(DISTINCT CASE WHEN c.claim_type = 'MON' THEN c.case_number_hash END) AS n_money_claims_ever,
       MAX(CASE WHEN c.claim_type IN {poss} THEN c.issue_date END) AS last_possession_claim_date
FROM ({parties}) p JOIN extract.civil_cases c ON c.case_number_hash = p.case_number_hash
WHERE p.party_role = 'DEFT' AND c.issue_date <= {a}
GROUP BY p._person_id"""
    events = f"""
SELECT p._person_id AS person_id,
       COUNT(DISTINCT CASE WHEN e.event_type IN {_in(POSSESSION_ORDERS)} THEN e.event_id_hash END)
           AS n_possession_orders_ever,
       COUNT(DISTINCT CASE WHEN e.event_type = 'WARRANT' THEN e.event_id_hash END) AS n_possession_warrants_ever,
       COUNT(DISTINCT CASE WHEN e.event_type = 'REPOSSESSION' THEN e.event_id_hash END) AS n_repossessions_ever,
       MAX(CASE WHEN e.event_type = 'REPOSSESSION' THEN e.event_date END) AS last_repossession_date
FROM ({parties}) p JOIN extract.civil_cases c ON c.case_number_hash = p.case_number_hash
JOIN extract.civil_events e ON e.case_number_hash = p.case_number_hash
WHERE p.party_role = 'DEFT' AND c.claim_type IN {poss} AND e.event_date <= {a}
GROUP BY p._person_id"""
    return claims, events


def _family_sql(as_at: date, person_record: str = PERSON_RECORD) -> str:
    a = date_literal(as_at)
    w12 = date_literal(months_before(as_at, 12))
    parties = resolved_sql("family_parties", ["case_number_hash", "role_model"], person_record=person_record)
    role = ("CASE WHEN p.role_model LIKE 'APL%' THEN 'Applicant' WHEN p.role_model LIKE 'RSP%' THEN 'Respondent' "
            "WHEN p.role_model LIKE 'CHLD%' THEN 'Child' ELSE 'Other' END")
    return f"""
SELECT person_id,
       COUNT(DISTINCT case_number_hash) AS n_family_cases_ever,
       COUNT(DISTINCT CASE WHEN receipt_date > {w12} THEN case_number_hash END) AS n_family_cases_12m,
       COUNT(DISTINCT CASE WHEN harm_alleged THEN case_number_hash END) AS n_family_harm_alleged,
       COUNT(DISTINCT CASE WHEN case_type = 'C' THEN case_number_hash END) AS n_family_public_law,
       COUNT(DISTINCT CASE WHEN case_type = 'P' THEN case_number_hash END) AS n_family_private_law,
       COUNT(DISTINCT CASE WHEN case_type = 'FLA' THEN case_number_hash END) AS n_family_domestic_abuse,
       COUNT(DISTINCT CASE WHEN role = 'Applicant' THEN case_number_hash END) AS n_family_as_applicant,
       COUNT(DISTINCT CASE WHEN role = 'Respondent' THEN case_number_hash END) AS n_family_as_respondent,
       COUNT(DISTINCT CASE WHEN role = 'Child' THEN case_number_hash END) AS n_family_as_child,
       MAX(receipt_date) AS last_family_case_date,
       MAX(CASE WHEN rn = 1 THEN role END) AS family_role_latest
FROM (
    SELECT p._person_id AS person_id, c.case_number_hash, c.receipt_date, c.case_type, c.harm_alleged,
           {role} AS role,
           ROW_NUMBER() OVER (PARTITION BY p._person_id ORDER BY c.receipt_date DESC, c.case_number_hash) AS rn
    FROM ({parties}) p JOIN extract.family_cases c ON c.case_number_hash = p.case_number_hash
    WHERE c.receipt_date <= {a}) f
GROUP BY person_id"""


#: Case-level evidence reaches every party of a case; for these person tables only parties meeting the condition
#: count as the person the evidence is about (a possession claim is evidence about the defendant, not the landlord).
EVIDENCE_PARTIES: dict[str, str] = {"civil_parties": "party_role = 'DEFT'"}


def _evidence_via(table: str) -> tuple[str, str] | None:
    pt = person_paths()[table].person_table
    if pt != table and pt in EVIDENCE_PARTIES:
        return pt, EVIDENCE_PARTIES[pt]
    return None


def _need_steps(rules: list[DriverRule], as_at: date, present: set[str],
                unmeasured: Mapping[tuple[str, int], str] | None = None,
                person_record: str = PERSON_RECORD) -> list[Step]:
    """Evidence rows per table, then per evidence item, then combined per driver (``_sp_need``).

    ``unmeasured`` maps (driver, evidence index) to the reason the item cannot be measured from the loaded extract:
    such an item reads no variable and gives the persons with records in its table a not-measured row instead."""
    unmeasured = unmeasured or {}
    a = date_literal(as_at)
    steps: list[Step] = []
    by_table: dict[str, list[tuple[int, DriverRule, int]]] = {}
    k = 0
    for rule in rules:
        for j, ev in enumerate(rule.derivation.evidence):
            by_table.setdefault(ev.table, []).append((k, rule, j))
            k += 1
    items = []
    for ti, (table, evs) in enumerate(by_table.items()):
        if table not in present:
            continue
        rd = RECORD_DATES[table]
        if rd.date_table and rd.date_table not in present:
            continue
        measured = [(kk, r, j) for kk, r, j in evs if (r.driver, j) not in unmeasured]
        cols = sorted({v for _, r, j in measured for v in r.derivation.evidence[j].variables})
        vals = []
        for kk, rule, j in measured:
            ev = rule.derivation.evidence[j]
            if rule.derivation.kind == "flag":
                # unknown (NULL: an item the expression reads is missing) stays NULL
                vals.append(f"CASE WHEN ({ev.expression}) THEN 1.0 WHEN NOT ({ev.expression}) THEN 0.0 END AS v{kk}")
            else:
                vals.append(f"CAST(({ev.expression}) AS DOUBLE) AS v{kk}")
        ev_name = f"_sp_ev{ti}"
        source = resolved_sql(table, cols, person_record=person_record)
        via = _evidence_via(table)
        if via:
            vt, vcond = via
            rid = person_paths()[vt].record_id
            source = (f"SELECT r0.* FROM ({source}) r0 JOIN (SELECT {rid} AS _via_id FROM extract.{vt} "
                      f"WHERE {vcond}) v ON v._via_id = r0._person_record_id")
        steps.append(Step(ev_name, f"SELECT _person_id, _record_id, _record_date{''.join(', ' + v for v in vals)} "
                                   f"FROM ({source}) r WHERE _record_date <= {a}"))
        for kk, rule, j in evs:
            ev = rule.derivation.evidence[j]
            meta = (f"'{rule.driver}' AS driver, {kk} AS item, '{table}' AS evidence_table, "
                    f"{sql_literal(ev.dataset)} AS evidence_dataset, "
                    f"{sql_literal(', '.join(ev.variables))} AS evidence_variable")
            window = ""
            if ev.when == "window":
                window = f" WHERE _record_date > {date_literal(months_before(as_at, ev.lookback_months))}"
            if (rule.driver, j) in unmeasured:
                # not measured: the persons with records in view, with no value and the reason
                items.append(f"""
SELECT _person_id AS person_id, CAST(NULL AS DOUBLE) AS value, MAX(_record_date) AS evidence_date, {meta},
       FALSE AS measured, {sql_literal(unmeasured[(rule.driver, j)])} AS unmeasured_reason
FROM {ev_name}{window} GROUP BY _person_id""")
                continue
            if ev.when == "latest":
                # the latest record on which the expression is known (not NULL); else the latest record
                agg, order = f"v{kk}", f"CASE WHEN v{kk} IS NULL THEN 1 ELSE 0 END, _record_date DESC, _record_id DESC"
            else:
                agg = f"SUM(v{kk}) OVER (PARTITION BY _person_id)" if rule.derivation.combine == "sum" else f"v{kk}"
                order = f"v{kk} DESC NULLS LAST, _record_date DESC, _record_id DESC"
            items.append(f"""
SELECT person_id, value, evidence_date, {meta}, TRUE AS measured, CAST(NULL AS VARCHAR) AS unmeasured_reason FROM (
    SELECT _person_id AS person_id, {agg} AS value, _record_date AS evidence_date,
           ROW_NUMBER() OVER (PARTITION BY _person_id ORDER BY {order}) AS _rn
    FROM {ev_name}{window}) s
WHERE _rn = 1""")
    if not items:
        steps.append(Step("_sp_need", "SELECT CAST(NULL AS VARCHAR) AS person_id, CAST(NULL AS VARCHAR) AS driver, "
                                      "CAST(NULL AS BOOLEAN) AS value, CAST(NULL AS DOUBLE) AS score, "
                                      "CAST(NULL AS VARCHAR) AS evidence_table, "
                                      "CAST(NULL AS VARCHAR) AS evidence_dataset, "
                                      "CAST(NULL AS VARCHAR) AS evidence_variable, "
                                      "CAST(NULL AS DATE) AS evidence_date, CAST(NULL AS BOOLEAN) AS assessed, "
                                      "CAST(NULL AS BOOLEAN) AS measured, CAST(NULL AS VARCHAR) AS unmeasured_reason "
                                      "WHERE 1 = 0"))
        return steps
    steps.append(Step("_sp_need_items", "\nUNION ALL\n".join(items)))
    sums = [r.driver for r in rules if r.derivation.combine == "sum"]
    score = "CASE WHEN driver IN " + _in(sums) + " THEN vsum ELSE vmax END" if sums else "vmax"
    thr = "CASE " + " ".join(f"WHEN driver = '{r.driver}' THEN {r.derivation.flag_threshold!r}" for r in rules) + \
        " END"
    steps.append(Step("_sp_need", f"""
SELECT person_id, driver, CASE WHEN m = 1 THEN COALESCE(score >= {thr}, FALSE) END AS value, score, evidence_table,
       evidence_dataset, evidence_variable, evidence_date, m = 1 AS assessed, m = 1 AS measured,
       CASE WHEN m = 0 THEN unmeasured_reason END AS unmeasured_reason
FROM (
    SELECT person_id, driver, CASE WHEN m = 1 THEN {score} END AS score, evidence_table, evidence_dataset,
           evidence_variable, evidence_date, m, unmeasured_reason
    FROM (
        SELECT i.*,
               ROW_NUMBER() OVER (PARTITION BY person_id, driver
                                  ORDER BY CASE WHEN measured THEN 0 ELSE 1 END, value DESC NULLS LAST,
                                           evidence_date DESC, item) AS _rn,
               MAX(CASE WHEN measured THEN value END) OVER (PARTITION BY person_id, driver) AS vmax,
               SUM(CASE WHEN measured THEN value END) OVER (PARTITION BY person_id, driver) AS vsum,
               MAX(CASE WHEN measured THEN 1 ELSE 0 END) OVER (PARTITION BY person_id, driver) AS m
        FROM _sp_need_items i) s
    WHERE _rn = 1) c"""))
    return steps


def _need_wide_sql(rules: list[DriverRule]) -> str:
    cols = []
    for r in rules:
        d = r.driver
        cols += [
            f"MAX(CASE WHEN driver = '{d}' AND measured THEN (CASE WHEN value THEN 1 ELSE 0 END) END) AS _n_{d}",
            f"MAX(CASE WHEN driver = '{d}' AND NOT measured THEN 1 END) AS _u_{d}",
            f"MAX(CASE WHEN driver = '{d}' THEN score END) AS need_{d}_score",
            f"MAX(CASE WHEN driver = '{d}' THEN evidence_dataset END) AS need_{d}_dataset",
            f"MAX(CASE WHEN driver = '{d}' THEN evidence_table END) AS need_{d}_table",
            f"MAX(CASE WHEN driver = '{d}' THEN evidence_variable END) AS need_{d}_variable",
            f"MAX(CASE WHEN driver = '{d}' THEN evidence_date END) AS need_{d}_date",
        ]
    if not cols:
        return "SELECT person_id FROM _sp_need GROUP BY person_id"
    return "SELECT person_id, " + ",\n  ".join(cols) + "\nFROM _sp_need GROUP BY person_id"


def spine_plan(as_at: date, band: str, rules: list[DriverRule], present: set[str],
               unmeasured: Mapping[tuple[str, int], str] | None = None, *,
               person_record: str = PERSON_RECORD) -> list[Step]:
    """Every step of the spine build, in order, for the tables ``present`` in the warehouse.

    ``unmeasured``: (driver, evidence index) -> reason, for evidence the loaded extract cannot measure
    (:func:`bold_prevention.spine.measured.evidence_status`); their persons get ``need_<driver>`` NULL.
    ``person_record``: the table of records and their persons the persons are built from (``spine.person_record``;
    another table shaped like it builds the persons it holds, as when a build carries the others over)."""
    a = date_literal(as_at)
    steps = [Step("_sp_rec", _person_rows(present, as_at, person_record))]
    steps.append(Step("_sp_sex", _mode_sql("_sp_rec", "sex", "sex IN ('M', 'F')", "sex")))
    steps.append(Step("_sp_eth", _mode_sql(f"(SELECT person_id, record_date, {ETHNIC_GROUP_SQL} AS eg FROM _sp_rec) e",
                                           "eg", "eg <> 'Unknown'", "ethnic_group")))
    steps.append(Step("_sp_age", """
SELECT person_id, age FROM (
    SELECT person_id, age, ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY age_date DESC, record_id DESC) AS rn
    FROM _sp_rec WHERE age IS NOT NULL AND age_date IS NOT NULL) r
WHERE rn = 1"""))
    steps.append(Step("_sp_geo", """
SELECT r.person_id, r.lsoa, r.record_date AS geography_date, r.dataset AS geography_dataset FROM (
    SELECT person_id, lsoa, record_date, dataset,
           ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY record_date DESC NULLS LAST, record_id DESC) AS rn
    FROM _sp_rec WHERE lsoa IS NOT NULL AND lsoa <> '') r
WHERE r.rn = 1"""))
    steps.append(Step("_sp_contacts", _contacts_sql(as_at)))
    joins = []
    extra_cols = []
    if "prison_custodial_journey" in present:
        steps.append(Step("_sp_prison", _prison_sql(as_at, person_record)))
        joins.append("LEFT JOIN _sp_prison pr ON pr.person_id = c.person_id")
        extra_cols += ["COALESCE(pr._in_custody, 0) = 1 AS in_custody", "pr.last_release_date"]
        custody = "COALESCE(pr._in_custody, 0) = 1"
    else:
        extra_cols += ["FALSE AS in_custody", "CAST(NULL AS DATE) AS last_release_date"]
        custody = "FALSE"
    civil_cols = ["n_possession_claims_ever", "n_possession_claims_12m", "n_money_claims_ever"]
    civil_ev_cols = ["n_possession_orders_ever", "n_possession_warrants_ever", "n_repossessions_ever"]
    if {"civil_parties", "civil_cases"} <= present:
        claims, events = _civil_sql(as_at, person_record)
        steps.append(Step("_sp_civil", claims))
        joins.append("LEFT JOIN _sp_civil cv ON cv.person_id = c.person_id")
        extra_cols += [f"COALESCE(cv.{x}, 0) AS {x}" for x in civil_cols] + ["cv.last_possession_claim_date"]
        if "civil_events" in present:
            steps.append(Step("_sp_civil_events", events))
            joins.append("LEFT JOIN _sp_civil_events ce ON ce.person_id = c.person_id")
            extra_cols += [f"COALESCE(ce.{x}, 0) AS {x}" for x in civil_ev_cols] + ["ce.last_repossession_date"]
        else:
            extra_cols += [f"0 AS {x}" for x in civil_ev_cols] + ["CAST(NULL AS DATE) AS last_repossession_date"]
    else:
        extra_cols += [f"0 AS {x}" for x in civil_cols + civil_ev_cols] + [
            "CAST(NULL AS DATE) AS last_possession_claim_date", "CAST(NULL AS DATE) AS last_repossession_date"]
    fam_cols = ["n_family_cases_ever", "n_family_cases_12m", "n_family_harm_alleged", "n_family_public_law",
                "n_family_private_law", "n_family_domestic_abuse", "n_family_as_applicant", "n_family_as_respondent",
                "n_family_as_child"]
    if {"family_parties", "family_cases"} <= present:
        steps.append(Step("_sp_family", _family_sql(as_at, person_record)))
        joins.append("LEFT JOIN _sp_family fm ON fm.person_id = c.person_id")
        extra_cols += [f"COALESCE(fm.{x}, 0) AS {x}" for x in fam_cols] + ["fm.last_family_case_date",
                                                                           "fm.family_role_latest"]
    else:
        extra_cols += [f"0 AS {x}" for x in fam_cols] + ["CAST(NULL AS DATE) AS last_family_case_date",
                                                         "CAST(NULL AS VARCHAR) AS family_role_latest"]
    steps += _need_steps(rules, as_at, present, unmeasured, person_record)
    steps.append(Step("_sp_need_wide", _need_wide_sql(rules)))
    need_cols = []
    for r in rules:
        d = r.driver
        need_cols += [f"CASE WHEN nw._u_{d} = 1 THEN NULL ELSE COALESCE(nw._n_{d}, 0) = 1 END AS need_{d}",
                      f"nw.need_{d}_score", f"nw.need_{d}_dataset",
                      f"nw.need_{d}_table", f"nw.need_{d}_variable", f"nw.need_{d}_date"]
    count = " + ".join(f"COALESCE(nw._n_{r.driver}, 0)" for r in rules) or "0"
    need_cols.append(f"{count} AS need_count")
    contact_cols = [f"c.n_{ds}_{p}" for ds in PERSON_TABLES.values() for p in PERIODS]
    band_lit = sql_literal(band)
    worst = "CASE c._worst_band WHEN 0 THEN 'high' WHEN 1 THEN 'medium' ELSE 'low' END"
    final = f"""
SELECT c.person_id, {a} AS as_at_date, {band_lit} AS band, {worst} AS weakest_band_joined,
       COALESCE(sx.sex, 'U') AS sex, ag.age, {_age_band_sql('ag.age')} AS age_band,
       COALESCE(eg.ethnic_group, 'Unknown') AS ethnic_group,
       CASE WHEN g.lsoa_vintage = 2021 THEN NULL ELSE geo.lsoa END AS lsoa11_code,
       g.lsoa21_code, g.lad_code, g.lad_name, g.region, g.country,
       g.imd_decile, g.imd_source, g.imd2025_decile, geo.geography_date, geo.geography_dataset,
       c.n_records_ever, c.n_datasets, c.first_contact_date, c.last_contact_date,
       {', '.join(contact_cols)},
       c.n_cj_12m, c.last_cj_date,
       (c.n_cj_12m > 0 OR {custody}) AS cj_contact_12m,
       c.n_oasys_ever > 0 AS has_oasys, c._full_oasys = 1 AS has_full_oasys, c.last_oasys_date,
       {', '.join(extra_cols)},
       {', '.join(need_cols)}
FROM _sp_contacts c
LEFT JOIN _sp_sex sx ON sx.person_id = c.person_id
LEFT JOIN _sp_eth eg ON eg.person_id = c.person_id
LEFT JOIN _sp_age ag ON ag.person_id = c.person_id
LEFT JOIN _sp_geo geo ON geo.person_id = c.person_id
LEFT JOIN spine.geo_lsoa g ON g.lsoa_code = geo.lsoa
LEFT JOIN _sp_need_wide nw ON nw.person_id = c.person_id
{' '.join(joins)}
WHERE c.n_records_ever > 0"""
    steps.append(Step(PERSON, final, final=True))
    steps.append(Step("spine.person_need", "SELECT n.* FROM _sp_need n JOIN spine.person p ON p.person_id = n.person_id",
                      final=True))
    return steps


def transpiled_plan(as_at: date, band: str, rules: list[DriverRule], present: set[str], *,
                    dialect: str = "spark", unmeasured: Mapping[tuple[str, int], str] | None = None
                    ) -> list[tuple[str, str]]:
    """The spine plan's SQL in another dialect (``spark``, ``trino``): (name, sql) pairs."""
    import sqlglot

    return [(s.name, sqlglot.transpile(s.sql, read="duckdb", write=dialect,
                                       unsupported_level=sqlglot.ErrorLevel.RAISE)[0])
            for s in spine_plan(as_at, band, rules, present, unmeasured)]


def _present(con) -> set[str]:
    return tables(con, "extract")


def _info_json(con, table: str, column: str = "fingerprint") -> dict | None:
    """The JSON fingerprint recorded in ``spine.<table>`` (None when the table or the column is missing)."""
    if not table_exists(con, "spine", table):
        return None
    cols = {r[0] for r in con.execute(
        f"SELECT column_name FROM information_schema.columns WHERE table_schema = 'spine' AND table_name = '{table}'"
    ).fetchall()}
    if column not in cols:
        return None
    row = con.execute(f"SELECT {column} FROM spine.{table}").fetchall()
    try:
        return json.loads(row[0][0]) if row and row[0][0] else None
    except ValueError:
        return None


def records_fingerprint(con) -> dict | None:
    """The fingerprint ``spine.person_record`` was built from (inputs, band, key), or None."""
    return _info_json(con, "person_record_info")


def spine_fingerprint_of(con) -> dict | None:
    """The fingerprint the current ``spine.person`` was built from (inputs, register, band, as-at date, key)."""
    return _info_json(con, "spine_info")


def xjs_fingerprint(con, xjs: str) -> str:
    """The fingerprint of the XJS person id ``xjs``: ``published`` (its table's content is among the extract
    inputs), or ``improved <digest>`` with a digest of the content of the improved id's table."""
    if xjs == "published":
        return xjs
    schema, _, name = XJS_IDS[xjs].partition(".")
    return f"{xjs} {table_digest(con, schema, name)[:16]}"


def _ensure_person_records(con, band: str, rebuild: bool, inputs: dict[str, str], key: str,
                           say: Callable[[str], None], *, xjs: str = "published", xjs_fp: str = "published") -> None:
    """Build ``spine.person_record`` unless the one there was built from the same extract content, band, key and
    XJS person id."""
    want = {"inputs": inputs, "band": band, "key": key, "xjs": xjs_fp}
    if not rebuild and table_exists(con, "spine", "person_record"):
        old = records_fingerprint(con)
        what = changes(old, want)
        if not what:
            say("person records up to date")
            return
        say("rebuilding person records: " + "; ".join(what))
    build_person_records(con, band=band, link_table=XJS_IDS[xjs])
    _record_info(con, band, xjs, inputs, key, xjs_fp)


def _record_info(con, band: str, xjs: str, inputs: dict[str, str], key: str, xjs_fp: str) -> None:
    want = {"inputs": inputs, "band": band, "key": key, "xjs": xjs_fp}
    con.execute(f"CREATE OR REPLACE TABLE spine.person_record_info AS SELECT {sql_literal(band)} AS band, "
                f"{sql_literal(xjs)} AS xjs_id, "
                f"{sql_literal(digest(inputs))} AS inputs_digest, {sql_literal(key)} AS key_fingerprint, "
                f"{sql_literal(json.dumps(want, sort_keys=True))} AS fingerprint, CURRENT_TIMESTAMP AS built_at")


#: Temporary tables of a build that carries persons over from a spine at another band.
_CARRY_TEMPS = ("_sp_cl", "_sp_ps", "_sp_carry", "_sp_map", "_sp_cl_new", "_sp_pr_new")


def _carry_source(con, prefix: str, fingerprint: Mapping) -> str | None:
    """The band of the spine kept as ``spine.<prefix>person`` (with its ``person_need``, ``person_record``,
    ``spine_info`` and ``person_record_info``) when it was built from what ``fingerprint`` describes but for the
    band, on the published XJS id and with no linked Wave 1-2 records; else None (nothing can be carried over)."""
    for t in ("person", "person_need", "person_record", "spine_info", "person_record_info"):
        if not table_exists(con, "spine", prefix + t):
            return None
    old = _info_json(con, prefix + "spine_info")
    rec = _info_json(con, prefix + "person_record_info")
    if not old or not rec or old.get("band") not in BANDS:
        return None
    same = {k: v for k, v in fingerprint.items() if k != "band"}
    if changes(old, same) or old.get("xjs", "published") != "published" or fingerprint.get("xjs") != "published":
        return None
    if changes(rec, {"inputs": same["inputs"], "band": old["band"], "key": same["key"]}) or \
            rec.get("xjs", "published") != "published":
        return None
    if _wave_linked(con, f"spine.{prefix}person_record"):
        return None
    return old["band"]


def _carried_person_records(con, *, band: str, prefix: str, present: set[str], key: str,
                            say: Callable[[str], None]) -> int:
    """``spine.person_record`` at ``band`` in two parts: the persons whose person-level XJS records (each with the
    same band joined) are exactly those of one person of the kept spine ``spine.<prefix>*`` get that person's
    records under their own id; the others are built from their clusters as :func:`build_person_records` builds
    every person. Leaves ``_sp_pr_new`` (the records of the persons built, for the spine plan) and ``_sp_map``
    (kept person id ``p_old`` -> ``p_new``). Returns the number of persons carried over."""
    from ..linkage.pseudonym import pseudonym_key
    from ..linkage.xjs import PERSON_RECORD_COLUMNS, fetch_arrow, person_record_sql, pseudonymise_clusters
    from ..linkage.xjs import xjs_clusters_sql as clusters_sql

    kept = f"spine.{prefix}person_record"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sp_cl AS {clusters_sql(band)}")
    ids = fetch_arrow(con, "SELECT DISTINCT cluster_id FROM _sp_cl ORDER BY cluster_id")
    col = ids.column("cluster_id")
    import pyarrow as pa

    con.register("_sp_ps_arrow", pa.table({
        "cluster_id": col.combine_chunks() if col.num_chunks else col,
        "person_id": pseudonymise_clusters(col, key=pseudonym_key())}))
    con.execute("CREATE OR REPLACE TEMP TABLE _sp_ps AS SELECT cluster_id, person_id FROM _sp_ps_arrow")
    con.unregister("_sp_ps_arrow")
    # a cluster is carried over when all its records belong to one kept person, with the same band joined, and
    # that person has no other records
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _sp_carry AS
WITH j AS (
    SELECT c.cluster_id, o.person_id AS p_old, COALESCE(o.band_joined = c.band_joined, FALSE) AS same_joined
    FROM _sp_cl c LEFT JOIN {kept} o
      ON o.source_table = c.source_table AND o.record_id = c.row_id_hash AND o.person_record_id = o.record_id),
kept_n AS (SELECT p_old, COUNT(*) AS n FROM j WHERE p_old IS NOT NULL GROUP BY p_old),
whole AS (
    SELECT cluster_id, MIN(p_old) AS p_old, COUNT(*) AS n FROM j GROUP BY cluster_id
    HAVING COUNT(DISTINCT p_old) = 1 AND COUNT(p_old) = COUNT(*) AND BOOL_AND(same_joined))
SELECT w.cluster_id, w.p_old FROM whole w JOIN kept_n k ON k.p_old = w.p_old AND k.n = w.n""")
    con.execute("CREATE OR REPLACE TEMP TABLE _sp_map AS SELECT k.p_old, ps.person_id AS p_new "
                "FROM _sp_carry k JOIN _sp_ps ps ON ps.cluster_id = k.cluster_id")
    con.execute("CREATE OR REPLACE TEMP TABLE _sp_cl_new AS SELECT c.* FROM _sp_cl c "
                "WHERE NOT EXISTS (SELECT 1 FROM _sp_carry k WHERE k.cluster_id = c.cluster_id)")
    carried = con.execute("SELECT COUNT(*) FROM _sp_map").fetchall()[0][0]
    say(f"person records: {carried:,} persons the same as at the kept band, the others built")
    con.execute("DROP TABLE IF EXISTS spine.person_record_info")
    con.execute(person_record_sql(band, sorted(present), clusters="_sp_cl_new", pseudonyms="_sp_ps"))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sp_pr_new AS SELECT * FROM {PERSON_RECORD}")
    cols = ", ".join("m.p_new" if c == "person_id" else sql_literal(band) if c == "band" else f"o.{c}"
                     for c in PERSON_RECORD_COLUMNS)
    con.execute(f"INSERT INTO {PERSON_RECORD} ({', '.join(PERSON_RECORD_COLUMNS)}) "
                f"SELECT {cols} FROM {kept} o JOIN _sp_map m ON m.p_old = o.person_id")
    return int(carried)


def _carry_rows(con, table: str, kept: str, band: str) -> None:
    """Add to ``spine.<table>`` the kept spine's rows of the persons carried over (``_sp_map``), under their id at
    ``band``."""
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'spine' AND table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]
    sel = ", ".join("m.p_new" if c == "person_id" else sql_literal(band) if c == "band" else f"o.{quote_ident(c)}"
                    for c in cols)
    con.execute(f"INSERT INTO spine.{table} SELECT {sel} FROM spine.{kept} o JOIN _sp_map m ON m.p_old = o.person_id")


#: Tables of the spine schema that do not depend on the pseudonymisation key (shipped reference data).
KEY_FREE_SPINE_TABLES = ("geo_lsoa",)


def _warehouse_folder(con) -> Path | None:
    try:
        row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    except Exception:  # noqa: BLE001 - not DuckDB
        return None
    return Path(row[0][0]).parent if row and row[0][0] else None


def drop_key_dependents(con, *, models_dir: Path | None = None) -> list[str]:
    """Drop everything built under the pseudonymisation key: every ``spine`` table but the shipped reference
    (person records, the spine, its needs, timelines), every ``results`` table (cohorts, profiles, places,
    early-warning scores) and the early-warning models under ``models_dir`` (default: the warehouse's project
    folder's ``models/``). Returns what was dropped."""
    dropped = []
    for schema in ("spine", "results"):
        if not con.execute(f"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{schema}'"
                           ).fetchall()[0][0]:
            continue
        rows = con.execute(f"SELECT table_name, table_type FROM information_schema.tables "
                           f"WHERE table_schema = '{schema}' ORDER BY table_name").fetchall()
        for name, kind in rows:
            if schema == "spine" and name in KEY_FREE_SPINE_TABLES:
                continue
            con.execute(f"DROP {'VIEW' if 'VIEW' in str(kind).upper() else 'TABLE'} IF EXISTS {schema}.\"{name}\"")
            dropped.append(f"{schema}.{name}")
    if models_dir is None:
        folder = _warehouse_folder(con)
        models_dir = folder / "models" if folder else None
    if models_dir is not None and (models_dir / "early_warning").is_dir():
        shutil.rmtree(models_dir / "early_warning")
        dropped.append(str(models_dir / "early_warning"))
    return dropped


def _connection(con_or_project):
    from ..warehouse.engine import connection as conn

    return conn(con_or_project)


def _need_measure(con, statuses: list[EvidenceStatus]) -> None:
    """``spine.need_measure``: every evidence item's state, with the persons it leaves not measured."""
    rows = " UNION ALL ".join(
        f"SELECT {sql_literal(s.driver)} AS driver, {s.item} AS item, {sql_literal(s.dataset)} AS dataset, "
        f"{sql_literal(s.table)} AS evidence_table, {sql_literal(', '.join(s.variables))} AS variables, "
        f"{sql_literal(s.state)} AS state, {sql_literal(', '.join(s.empty))} AS empty_variables, "
        f"CAST({sql_literal(s.reason)} AS VARCHAR) AS reason" for s in statuses)
    if not rows:
        rows = ("SELECT CAST(NULL AS VARCHAR) AS driver, 0 AS item, CAST(NULL AS VARCHAR) AS dataset, "
                "CAST(NULL AS VARCHAR) AS evidence_table, CAST(NULL AS VARCHAR) AS variables, "
                "CAST(NULL AS VARCHAR) AS state, CAST(NULL AS VARCHAR) AS empty_variables, "
                "CAST(NULL AS VARCHAR) AS reason WHERE 1 = 0")
    con.execute(f"""
CREATE OR REPLACE TABLE spine.need_measure AS
SELECT m.*, CAST(COALESCE(u.n, 0) AS BIGINT) AS persons_unmeasured
FROM ({rows}) m
LEFT JOIN (SELECT driver, evidence_table, COUNT(*) AS n FROM spine.person_need WHERE NOT measured
           GROUP BY driver, evidence_table) u
  ON u.driver = m.driver AND u.evidence_table = m.evidence_table AND m.state = 'unmeasured'
ORDER BY m.driver, m.item""")


def unmeasured_needs(con) -> list[dict]:
    """Drivers the current spine could not measure for some persons: one row per driver and dataset with
    ``driver, dataset, tables, variables, persons`` (persons whose ``need_<driver>`` is NULL for that reason).
    Empty when every driver was measured (or the spine predates the record)."""
    if not table_exists(con, "spine", "need_measure"):
        return []
    rows = con.execute("SELECT driver, dataset, evidence_table, empty_variables, persons_unmeasured, reason "
                       "FROM spine.need_measure WHERE state = 'unmeasured' ORDER BY driver, dataset, item").fetchall()
    out: dict[tuple[str, str], dict] = {}
    for d, ds, table, variables, n, reason in rows:
        g = out.setdefault((d, ds), {"driver": d, "dataset": ds, "tables": [], "variables": [], "persons": 0,
                                     "reason": []})
        for key, v in (("tables", table), ("variables", variables), ("reason", reason)):
            if v and v not in g[key]:
                g[key].append(v)
        g["persons"] += int(n or 0)
    return [{**g, "tables": ", ".join(g["tables"]), "variables": ", ".join(g["variables"]),
             "reason": "; ".join(g["reason"])} for g in out.values()]


def _wave_linked(con, person_record: str = PERSON_RECORD) -> bool:
    """Whether ``person_record`` holds records of a linked Wave 1-2 source (``bold link wave``)."""
    from ..datafirst.waves import WAVE_SOURCES

    tables = ", ".join(sql_literal(s.person_table) for s in WAVE_SOURCES.values())
    return bool(con.execute(f"SELECT COUNT(*) FROM {person_record} WHERE source_table IN ({tables})"
                            ).fetchall()[0][0])


def build_spine(con_or_project, *, as_at: date, band: str = "medium", register=None,
                rebuild_records: bool = False, rekey: bool = False, link_table: str = "published",
                carry_from: str | None = None, progress: Callable[[str], None] | None = None) -> SpineResult:
    """Build ``spine.person`` (and ``spine.person_need``) as at ``as_at`` at linkage ``band``.

    ``link_table``: the XJS person id the persons are built on: ``"published"`` (``extract.xjs_link``, the
    default) or ``"improved"`` (``linkage.xjs_link_improved``, written by ``bold link xjs-audit``: XJS's medium
    clusters joined where the toolkit's model links them with high confidence); the table names themselves are
    accepted too. It is recorded in ``spine.spine_info`` (``xjs_id``, ``xjs_link_table``) and in the fingerprints,
    so person records are rebuilt, and cohorts built on the other id refused, when it changes.

    ``con_or_project``: a warehouse connection, an Ibis DuckDB backend, a :class:`~bold_prevention.project.Project`
    or a project folder. ``register``: the register (None: the shipped one), a YAML path, or rules from
    :func:`bold_prevention.spine.rules.load_rules`. ``spine.person_record`` is rebuilt when missing or when the
    content of the loaded extracts, the band or the pseudonymisation key differ from those it was built from (or
    always with ``rebuild_records``); ``spine.spine_info`` records the fingerprints of the build
    (:mod:`bold_prevention.spine.fingerprint`).

    The key in ``$BOLD_PSEUDONYM_KEY`` must be the one the warehouse recorded at its first build; ``rekey``
    accepts a different key and first drops everything built under the old one (:func:`drop_key_dependents`).
    Drivers whose evidence the loaded extract cannot measure are NULL with the reason
    (:mod:`bold_prevention.spine.measured`), listed in :attr:`SpineResult.unmeasured`.

    ``carry_from``: the prefix of a spine kept aside at another band (``spine.<prefix>person``, ``person_need``,
    ``person_record``, ``spine_info``, ``person_record_info``, as band sensitivity keeps the current spine). When it
    was built from the same extracts, register, as-at date, key and published XJS id, a person whose XJS records are
    exactly those of one kept person (each joined at the same band) has the same records, needs and facts, so the
    kept rows are carried over under the person's id at ``band``; only the other persons go through the plan (most
    persons are the same at every band). The result is the same as building every person; anything else (a stale
    or wave-linked kept spine, the improved XJS id, a rebuild or re-key, Spark) builds every person.
    """
    if not isinstance(as_at, date) or isinstance(as_at, datetime):
        if isinstance(as_at, datetime):
            as_at = as_at.date()
        else:
            try:
                as_at = date.fromisoformat(str(as_at))
            except ValueError as e:
                raise InputError(f"as-at date {as_at!r} is not a date", hint="give a date as YYYY-MM-DD") from e
    if band not in BANDS:
        raise InputError(f"linkage band {band!r} is not known", hint=f"use one of {', '.join(BANDS)}")
    xjs = {table: name for name, table in XJS_IDS.items()}.get(link_table, link_table)
    if xjs not in XJS_IDS:
        raise InputError(f"XJS person id {link_table!r} is not known",
                         hint=f"use one of {', '.join(XJS_IDS)} (the tables {', '.join(XJS_IDS.values())})")
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    rules = load_rules(register)
    models_dir = None
    if isinstance(con_or_project, Project):
        models_dir = con_or_project.models_dir
    con, close = _connection(con_or_project)
    try:
        present = _present(con)
        if "xjs_link" not in present:
            raise InputError("the warehouse has no extract.xjs_link table (the XJS linking dataset)",
                             hint="load the Data First extracts, including xjs_link, with `bold load` first")
        check_xjs_link_table(con, xjs)
        key = check_project_key(con, rekey=rekey)
        dropped: list[str] = []
        if rekey:
            say("dropping everything built under the old pseudonymisation key")
            dropped = drop_key_dependents(con, models_dir=models_dir)
        say("fingerprinting the loaded extracts")
        inputs = inputs_fingerprint(con)
        say(f"joining records to XJS persons ({xjs} id) at the {band} band")
        xjs_fp = xjs_fingerprint(con, xjs)
        fingerprint = spine_fingerprint(inputs=inputs, register=register_digest(rules), band=band, as_at=as_at,
                                        key=key, xjs=xjs_fp)
        duck = not hasattr(con, "spark")
        kept_band = None
        if carry_from is not None and duck and not (rebuild_records or rekey):
            kept_band = _carry_source(con, carry_from, fingerprint)
        person_record = PERSON_RECORD
        if kept_band is not None and kept_band != band:
            _carried_person_records(con, band=band, prefix=carry_from, present=present, key=key, say=say)
            _record_info(con, band, xjs, inputs, key, xjs_fp)
            person_record = "_sp_pr_new"
        else:
            kept_band = None
            _ensure_person_records(con, band, rebuild_records or rekey, inputs, key, say, xjs=xjs, xjs_fp=xjs_fp)
        if recorded_key_fingerprint(con) != key:
            record_key_fingerprint(con, key)
        if not table_exists(con, "spine", "geo_lsoa"):
            say("installing the shipped geography and deprivation reference")
            from ..geography.reference import install_geography

            install_geography(con)
        say("checking which needs the loaded extract can measure")
        statuses = frozen_memo(con, ("evidence_status", register_digest(rules), tuple(sorted(present))),
                               lambda: evidence_status(con, rules, present))
        unmeasured = {(s.driver, s.item): s.reason or "not measured" for s in statuses if s.unmeasured}
        plan = spine_plan(as_at, band, rules, present, unmeasured, person_record=person_record)
        for step in plan:
            if step.final:
                continue
            say(f"step {step.name}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {step.name} AS {step.sql}")
        say("writing spine.person and spine.person_need")
        with transaction(con):
            for step in plan:
                if step.final:
                    con.execute(f"CREATE OR REPLACE TABLE {step.name} AS {step.sql}")
                    if kept_band is not None:
                        t = step.name.partition(".")[2]
                        _carry_rows(con, t, carry_from + t, band)
            persons = con.execute("SELECT COUNT(*) FROM spine.person").fetchall()[0][0]
            needs = con.execute("SELECT COUNT(*) FROM spine.person_need").fetchall()[0][0]
            _need_measure(con, statuses)
            drivers = ", ".join(r.driver for r in rules)
            con.execute(
                f"CREATE OR REPLACE TABLE spine.spine_info AS SELECT {date_literal(as_at)} AS as_at_date, "
                f"{sql_literal(band)} AS band, {sql_literal(xjs)} AS xjs_id, {sql_literal(XJS_IDS[xjs])} AS "
                f"xjs_link_table, {sql_literal(drivers)} AS drivers, {persons} AS persons, "
                f"{needs} AS need_rows, CURRENT_TIMESTAMP AS built_at, "
                f"{sql_literal(fingerprint['register'])} AS register_digest, {sql_literal(key)} AS key_fingerprint, "
                f"{sql_literal(digest(inputs))} AS inputs_digest, "
                f"{sql_literal(json.dumps(fingerprint, sort_keys=True))} AS fingerprint")
            gaps = unmeasured_needs(con)
        for step in plan:
            if not step.final:
                con.execute(f"DROP TABLE IF EXISTS {step.name}")
        if kept_band is not None:
            for t in _CARRY_TEMPS:
                con.execute(f"DROP TABLE IF EXISTS {t}")
        if duck and _wave_linked(con):
            say("measuring the gold-standard needs of the linked Wave 2 sources")
            from .gold import apply_gold

            apply_gold(con, as_at=as_at)
        return SpineResult(as_at, band, int(persons), int(needs), tuple(r.driver for r in rules),
                           time.perf_counter() - t0, tuple(gaps), tuple(dropped), xjs)
    finally:
        if close:
            con.close()
