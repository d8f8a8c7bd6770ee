"""Validity of the spine against a synthetic population's truth (``<synthetic>/truth/``).

Synthetic data only: the truth folder holds each person's latent needs (``truth_person.parquet``) and the true
person of every record (``truth_record.parquet``). Two checks:

* :func:`driver_validity` — for people with an OASys assessment on or before the as-at date, the prevalence of each
  driver in the spine (``need_<driver>``) against the prevalence of the true latent need (``need_<driver>`` of
  ``truth_person``) among the true persons with an assessment; proxies measure what they claim when the two agree.
* :func:`truth_spine` — a table shaped like ``spine.person`` for the true persons (true age, latent needs, criminal
  justice contact from their true records), on which cohort specs can be evaluated to score a cohort
  (:func:`bold_prevention.cohorts.validity.cohort_validity`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from ..errors import InputError
from ..warehouse.engine import date_literal
from .build import CJ_DATASETS, months_before
from .sources import PERSON_TABLES, RECORD_DATES

__all__ = ["driver_validity", "load_truth", "spine_truth_map", "truth_spine"]

TRUTH_DRIVERS = ("mental_health", "physical_health", "low_income", "substance_misuse", "employment", "education",
                 "accommodation", "family", "domestic_abuse")


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def load_truth(con, truth_dir: str | Path) -> None:
    """Load the truth tables into temp tables ``_truth_person`` and ``_truth_record``."""
    d = Path(truth_dir)
    if (d / "truth").is_dir():
        d = d / "truth"
    for name in ("truth_person", "truth_record"):
        p = d / f"{name}.parquet"
        if not p.exists():
            raise InputError(f"no {p}", hint="give the synthetic output folder (or its truth/ folder)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _{name} AS SELECT * FROM read_parquet('{p.as_posix()}')")


def _spine_state(con) -> tuple[date, str]:
    row = _rows(con, "SELECT as_at_date, band FROM spine.spine_info")
    if not row:
        raise InputError("no spine has been built", hint="run `bold spine build` first")
    return row[0][0], row[0][1]


def spine_truth_map(con) -> None:
    """``_spine_truth``: each spine person's modal true person (by person-level records), and the share of its
    records that belong to that true person."""
    con.execute("""
CREATE OR REPLACE TEMP TABLE _spine_truth AS
SELECT person_id, truth_person_id, share FROM (
    SELECT person_id, truth_person_id, n * 1.0 / SUM(n) OVER (PARTITION BY person_id) AS share,
           ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY n DESC, truth_person_id) AS rn
    FROM (SELECT pr.person_id, tr.person_id AS truth_person_id, COUNT(*) AS n
          FROM spine.person_record pr
          JOIN _truth_record tr ON tr."table" = pr.source_table AND tr.record_id = pr.record_id
          WHERE pr.record_id = pr.person_record_id
          GROUP BY pr.person_id, tr.person_id) c) r
WHERE rn = 1""")


def truth_spine(con, as_at: date) -> None:
    """``_truth_spine``: one row per true person with any person-level record dated on or before ``as_at``:
    person_id (the true id), age, has_oasys, has_full_oasys, cj_contact_12m, in_custody and need_<driver> (latent)."""
    a = date_literal(as_at)
    w12 = date_literal(months_before(as_at, 12))
    parts = []
    for table, ds in PERSON_TABLES.items():
        rd = RECORD_DATES[table]
        join_d = ""
        if rd.date_table:
            on = " AND ".join(f"d.{b} = t.{x}" for x, b in rd.on)
            join_d = f" LEFT JOIN extract.{rd.date_table} d ON {on}"
        kind = "t.assessment_type" if table == "oasys_assessments_metadata" else "CAST(NULL AS VARCHAR)"
        parts.append(f"SELECT tr.person_id, '{ds}' AS dataset, {rd.expr} AS record_date, {kind} AS kind "
                     f"FROM extract.{table} t "
                     f"JOIN _truth_record tr ON tr.\"table\" = '{table}' AND tr.record_id = t.row_id_hash{join_d}")
    cj = ", ".join(f"'{d}'" for d in CJ_DATASETS)
    custody = (f"SELECT tr.person_id FROM extract.prison_custodial_journey t JOIN _truth_record tr "
               f"ON tr.\"table\" = 'prison_custodial_journey' AND tr.record_id = t.row_id_hash "
               f"WHERE t.reception_date <= {a} AND (t.release_date IS NULL OR t.release_date > {a})")
    needs = ", ".join(f"tp.need_{d}" for d in TRUTH_DRIVERS)
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _truth_spine AS
WITH rec AS ({' UNION ALL '.join(parts)}),
agg AS (
    SELECT person_id,
           MAX(CASE WHEN dataset = 'oasys' THEN 1 ELSE 0 END) AS oasys,
           MAX(CASE WHEN dataset = 'oasys' AND kind <> 'BCS' THEN 1 ELSE 0 END) AS oasys_full,
           MAX(CASE WHEN dataset IN ({cj}) AND record_date > {w12} THEN 1 ELSE 0 END) AS cj12
    FROM rec WHERE record_date <= {a} GROUP BY person_id),
cust AS (SELECT DISTINCT person_id FROM ({custody}) c)
SELECT agg.person_id, CAST(FLOOR(DATE_DIFF('day', tp.date_of_birth, {a}) / 365.25) AS INTEGER) AS age,
       tp.sex, agg.oasys = 1 AS has_oasys, agg.oasys_full = 1 AS has_full_oasys, cust.person_id IS NOT NULL AS in_custody,
       (agg.cj12 = 1 OR cust.person_id IS NOT NULL) AS cj_contact_12m, {needs}
FROM agg JOIN _truth_person tp ON tp.person_id = agg.person_id
LEFT JOIN cust ON cust.person_id = agg.person_id""")


POPULATIONS = {"oasys": "has_oasys", "oasys_full": "has_full_oasys"}


def population_column(population: str) -> str:
    if population not in POPULATIONS:
        raise InputError(f"validity population {population!r} is not known",
                         hint="use oasys (any OASys record) or oasys_full (a layer 1 or layer 3 assessment)")
    return POPULATIONS[population]


def driver_validity(con, truth_dir: str | Path, *, drivers: list[str] | None = None,
                    population: str = "oasys") -> pa.Table:
    """Driver prevalence in the spine against the true latent prevalence, for people with an OASys assessment.

    ``population``: ``oasys`` (any OASys record, including a basic custody screening) or ``oasys_full`` (a layer 1
    or layer 3 assessment, the ones with the core sections the needs are read from).

    Columns: driver, spine_persons (spine persons with an assessment), spine_prevalence, truth_persons (true
    persons with an assessment), truth_prevalence, difference_pp (spine - truth, percentage points), and, over the
    spine persons matched to their true person, sensitivity and specificity of the flag.
    """
    as_at, _band = _spine_state(con)
    load_truth(con, truth_dir)
    truth_spine(con, as_at)
    spine_truth_map(con)
    cols = {r[0] for r in _rows(con, "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                     "'spine' AND table_name = 'person'")}
    ds = [d for d in (drivers or TRUTH_DRIVERS) if f"need_{d}" in cols]
    has = population_column(population)
    out = []
    for d in ds:
        sp = _rows(con, f"SELECT COUNT(*), AVG(CASE WHEN need_{d} THEN 1.0 ELSE 0.0 END) FROM spine.person "
                        f"WHERE {has}")[0]
        tr = _rows(con, f"SELECT COUNT(*), AVG(CASE WHEN need_{d} THEN 1.0 ELSE 0.0 END) FROM _truth_spine "
                        f"WHERE {has}")[0]
        conf = _rows(con, f"""
SELECT SUM(CASE WHEN tp.need_{d} AND sp.need_{d} THEN 1 ELSE 0 END),
       SUM(CASE WHEN tp.need_{d} THEN 1 ELSE 0 END),
       SUM(CASE WHEN NOT tp.need_{d} AND NOT sp.need_{d} THEN 1 ELSE 0 END),
       SUM(CASE WHEN NOT tp.need_{d} THEN 1 ELSE 0 END)
FROM spine.person sp JOIN _spine_truth m ON m.person_id = sp.person_id
JOIN _truth_person tp ON tp.person_id = m.truth_person_id WHERE sp.{has}""")[0]
        tp_, pos, tn, neg = (int(x or 0) for x in conf)
        out.append({"driver": d, "spine_persons": int(sp[0]), "spine_prevalence": float(sp[1] or 0),
                    "truth_persons": int(tr[0]), "truth_prevalence": float(tr[1] or 0),
                    "difference_pp": 100 * (float(sp[1] or 0) - float(tr[1] or 0)),
                    "sensitivity": tp_ / pos if pos else None, "specificity": tn / neg if neg else None,
                    "population": population})
    return pa.Table.from_pylist(out)
