"""Gold-standard needs from the linked Wave 2 sources, kept beside the OASys proxy.

The register names, for each driver, the Wave 1-3 source that would replace its OASys proxy
(``replacement_sources``). Once a source has been loaded and linked to the spine (``bold link wave SOURCE``), its
records are rows of ``spine.person_record`` and :func:`apply_gold` measures the drivers it can measure as at the
spine's as-at date:

================  =========================================================================================
driver            gold standard (evidence in the look-back before the as-at date)
================  =========================================================================================
low_income        an income-related benefit (UC, JSA, ESA) in payment in the 12 months (DWP); with HMRC
                  linked also PAYE pay in the 12 months above zero and below the annual threshold
employment        no PAYE employment in the 12 months (HMRC) and an out-of-work benefit (UC, JSA, ESA) in
                  payment for at least 183 of its days (DWP): both sources are required
physical_health   an emergency admission for a physical condition (not mental health or maternity) in the 24
                  months (HES); with DWP linked also Personal Independence Payment in payment
mental_health     a mental-health service contact (MHSDS) or an admission for a mental or behavioural disorder
                  other than drugs and alcohol in the 24 months (HES)
substance_misuse  a drug or alcohol treatment episode open in the 24 months (NDTMS); with HES linked also an
                  admission for drugs or alcohol (F10, F11, T40, K70)
================  =========================================================================================

Every gold source covers the whole population (a person with no benefit spell has none), so a linked source gives
0 to people it holds no record for. A source that is not linked measures nobody: the gold value is NULL with the
reason (``spine.person_need_gold.reason``), never 0. The proxy (``need_<driver>`` from OASys) is left as it was;
``spine.person`` gains ``need_<driver>_gold`` beside it.

:func:`gold_report` compares the two for every driver: prevalence of each, agreement and Cohen's kappa among people
measured by both (people with a full OASys assessment), and the people the proxy misses (flagged by the gold
standard but never assessed by OASys, or assessed without the need). It is an internal analysis table
(``results.gold_vs_proxy``); :func:`gold_release_outputs` turns it into disclosure-checked counts for release.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from ..datafirst.waves import WAVE_MODEL, WAVE_SOURCES
from ..errors import InputError
from ..warehouse.engine import date_literal, sql_literal, table_exists
from .build import months_before

__all__ = ["GOLD_DRIVERS", "GoldDriver", "GoldResult", "apply_gold", "gold_release_outputs", "gold_report",
           "linked_sources", "LOW_PAY_THRESHOLD"]

#: Annual PAYE pay below which a person in work counts as on a low income (GBP; the personal allowance).
LOW_PAY_THRESHOLD = 12_570.0
#: Out-of-work benefits (DWP) and income-related benefits.
OUT_OF_WORK = ("UC", "JSA", "ESA")
SUBSTANCE_DIAGNOSES = ("F10", "F11", "T40", "K70")


@dataclass(frozen=True)
class GoldDriver:
    """How one driver is measured from Wave 2 sources: ``requires`` must all be linked; ``optional`` add evidence
    when linked. ``sql(as_at, linked)`` returns ``person_id, value, evidence_table, evidence_date`` rows for
    persons with evidence (others are 0)."""

    driver: str
    requires: tuple[str, ...]
    optional: tuple[str, ...]
    sql: Callable[[date, set[str]], str]
    description: str


def _rows(table: str, cols: str) -> str:
    """Rows of a linked wave table with their spine person (``person_id`` then ``cols`` of the table ``e``)."""
    t = WAVE_MODEL.table(table)
    rid = t.record_id or t.primary_key[0]
    return (f"SELECT pr.person_id, {cols} FROM extract.{table} e JOIN spine.person_record pr "
            f"ON pr.source_table = '{table}' AND pr.record_id = e.{rid}")


def _in(values) -> str:
    return "(" + ", ".join(sql_literal(v) for v in values) + ")"


def _overlap_days(start: str, end: str, lo: date, hi: date) -> str:
    """Days of [start, end] (end NULL: open) inside (lo, hi]."""
    a, b = date_literal(lo), date_literal(hi)
    return (f"GREATEST(DATE_DIFF('day', GREATEST({start}, {a} + INTERVAL 1 DAY), "
            f"LEAST(COALESCE({end}, {b}), {b})) + 1, 0)")


def _pay_12m(as_at: date) -> str:
    lo = months_before(as_at, 12)
    emp = "hmrc_paye_employments"
    return (f"SELECT pr.person_id, SUM(p.taxable_pay) AS pay, MAX(p.pay_month) AS last_month "
            f"FROM extract.hmrc_paye_pay p JOIN extract.{emp} e ON e.employment_id = p.employment_id "
            f"JOIN spine.person_record pr ON pr.source_table = '{emp}' AND pr.record_id = e.employment_id "
            f"WHERE p.pay_month > {date_literal(lo)} AND p.pay_month <= {date_literal(as_at)} GROUP BY pr.person_id")


def _low_income(as_at: date, linked: set[str]) -> str:
    lo = months_before(as_at, 12)
    parts = [f"""SELECT person_id, 1 AS value, 'dwp_benefit_spells' AS evidence_table,
       LEAST(COALESCE(spell_end_date, {date_literal(as_at)}), {date_literal(as_at)}) AS evidence_date
FROM ({_rows('dwp_benefit_spells', 'e.benefit_type, e.spell_start_date, e.spell_end_date')}) s
WHERE benefit_type IN {_in(OUT_OF_WORK)} AND {_overlap_days('spell_start_date', 'spell_end_date', lo, as_at)} > 0"""]
    if "hmrc" in linked:
        parts.append(f"""SELECT person_id, 1 AS value, 'hmrc_paye_pay' AS evidence_table, last_month AS evidence_date
FROM ({_pay_12m(as_at)}) p WHERE pay > 0 AND pay < {LOW_PAY_THRESHOLD!r}""")
    return " UNION ALL ".join(parts)


def _employment(as_at: date, linked: set[str]) -> str:
    lo = months_before(as_at, 12)
    a = date_literal(as_at)
    days = _overlap_days("spell_start_date", "spell_end_date", lo, as_at)
    emp_days = _overlap_days("start_date", "end_date", lo, as_at)
    return f"""SELECT b.person_id, 1 AS value, 'dwp_benefit_spells' AS evidence_table, b.evidence_date
FROM (SELECT person_id, SUM({days}) AS days, MAX(LEAST(COALESCE(spell_end_date, {a}), {a})) AS evidence_date
      FROM ({_rows('dwp_benefit_spells', 'e.benefit_type, e.spell_start_date, e.spell_end_date')}) s
      WHERE benefit_type IN {_in(OUT_OF_WORK)} AND spell_start_date <= {a} GROUP BY person_id) b
WHERE b.days >= 183 AND NOT EXISTS (
    SELECT 1 FROM ({_rows('hmrc_paye_employments', 'e.start_date, e.end_date')}) w
    WHERE w.person_id = b.person_id AND {emp_days} > 0)"""


def _physical(as_at: date, linked: set[str]) -> str:
    lo = months_before(as_at, 24)
    a, lo_ = date_literal(as_at), date_literal(lo)
    parts = [f"""SELECT person_id, 1 AS value, 'hes_apc_episodes' AS evidence_table, admission_date AS evidence_date
FROM ({_rows('hes_apc_episodes', 'e.admission_date, e.admission_method, e.diagnosis_chapter')}) h
WHERE admission_method = 'EM' AND COALESCE(diagnosis_chapter NOT IN ('V', 'XV'), TRUE)
  AND admission_date > {lo_} AND admission_date <= {a}"""]
    if "dwp" in linked:
        parts.append(f"""SELECT person_id, 1 AS value, 'dwp_benefit_spells' AS evidence_table,
       LEAST(COALESCE(spell_end_date, {a}), {a}) AS evidence_date
FROM ({_rows('dwp_benefit_spells', 'e.benefit_type, e.spell_start_date, e.spell_end_date')}) s
WHERE benefit_type = 'PIP' AND {_overlap_days('spell_start_date', 'spell_end_date', lo, as_at)} > 0""")
    return " UNION ALL ".join(parts)


def _mental(as_at: date, linked: set[str]) -> str:
    lo = months_before(as_at, 24)
    a, lo_ = date_literal(as_at), date_literal(lo)
    return f"""SELECT person_id, 1 AS value, 'mhsds_contacts' AS evidence_table, contact_date AS evidence_date
FROM ({_rows('mhsds_contacts', 'e.contact_date')}) m WHERE contact_date > {lo_} AND contact_date <= {a}
UNION ALL
SELECT person_id, 1 AS value, 'hes_apc_episodes' AS evidence_table, admission_date AS evidence_date
FROM ({_rows('hes_apc_episodes', 'e.admission_date, e.diagnosis_chapter, e.primary_diagnosis')}) h
WHERE diagnosis_chapter = 'V' AND COALESCE(primary_diagnosis NOT IN ('F10', 'F11'), TRUE)
  AND admission_date > {lo_} AND admission_date <= {a}"""


def _substance(as_at: date, linked: set[str]) -> str:
    lo = months_before(as_at, 24)
    a, lo_ = date_literal(as_at), date_literal(lo)
    parts = [f"""SELECT person_id, 1 AS value, 'ndtms_episodes' AS evidence_table,
       LEAST(COALESCE(discharge_date, {a}), {a}) AS evidence_date
FROM ({_rows('ndtms_episodes', 'e.referral_date, e.discharge_date')}) n
WHERE referral_date <= {a} AND COALESCE(discharge_date, {a}) > {lo_}"""]
    if "hes" in linked:
        parts.append(f"""SELECT person_id, 1 AS value, 'hes_apc_episodes' AS evidence_table,
       admission_date AS evidence_date
FROM ({_rows('hes_apc_episodes', 'e.admission_date, e.primary_diagnosis')}) h
WHERE primary_diagnosis IN {_in(SUBSTANCE_DIAGNOSES)} AND admission_date > {lo_} AND admission_date <= {a}""")
    return " UNION ALL ".join(parts)


#: The gold standard of each driver the Wave 2 sources measure (register order).
GOLD_DRIVERS: dict[str, GoldDriver] = {g.driver: g for g in (
    GoldDriver("mental_health", ("hes",), (), _mental,
               "mental-health service contact or mental-health admission in 24 months (NHS)"),
    GoldDriver("physical_health", ("hes",), ("dwp",), _physical,
               "emergency physical-health admission (NHS) or PIP (DWP) in 24 months"),
    GoldDriver("low_income", ("dwp",), ("hmrc",), _low_income,
               "income-related benefit (DWP) or low PAYE pay (HMRC) in 12 months"),
    GoldDriver("substance_misuse", ("ndtms",), ("hes",), _substance,
               "drug or alcohol treatment (NDTMS) or a drugs or alcohol admission (NHS) in 24 months"),
    GoldDriver("employment", ("hmrc", "dwp"), (), _employment,
               "no PAYE employment (HMRC) and an out-of-work benefit for 6 of 12 months (DWP)"),
)}


def linked_sources(con) -> dict[str, str | None]:
    """``{source: None}`` for every Wave 1-2 source linked to the spine, else ``{source: reason}``.

    A source is linked when its person table has rows in ``spine.person_record`` (``bold link wave SOURCE``
    ran after the last rebuild of the person records) and its tables are loaded."""
    if not table_exists(con, "spine", "person_record"):
        raise InputError("the warehouse has no spine.person_record", hint="build the spine first: "
                         "`bold spine build --as-at YYYY-MM-DD`")
    linked = {r[0] for r in con.execute("SELECT DISTINCT source_table FROM spine.person_record").fetchall()}
    out: dict[str, str | None] = {}
    for key, src in WAVE_SOURCES.items():
        if not table_exists(con, "extract", src.person_table):
            out[key] = f"{key} is not loaded (run `bold link wave {key} --from FOLDER`)"
        elif src.person_table not in linked:
            out[key] = (f"{key} is loaded but not linked to the current spine (run `bold link wave {key} --from "
                        "FOLDER` after `bold spine build`)")
        else:
            out[key] = None
    return out


def _spine_as_at(con) -> date:
    if not table_exists(con, "spine", "spine_info"):
        raise InputError("no spine has been built in this warehouse",
                         hint="run `bold spine build --as-at YYYY-MM-DD` first")
    return con.execute("SELECT as_at_date FROM spine.spine_info").fetchall()[0][0]


@dataclass
class GoldResult:
    as_at: date
    #: driver -> None (measured) or the reason it is not measured
    drivers: dict[str, str | None] = field(default_factory=dict)
    rows: int = 0


def apply_gold(con, *, as_at: date | None = None, progress: Callable[[str], None] | None = None) -> GoldResult:
    """Measure every driver of :data:`GOLD_DRIVERS` that the linked sources allow, as at the spine's date.

    Writes ``spine.person_need_gold`` (``person_id, driver, value, measured, source, evidence_table,
    evidence_date, reason``: one row per spine person and driver) and adds ``need_<driver>_gold`` to
    ``spine.person`` (NULL where the gold source is not linked). The OASys proxy columns are untouched.
    """
    say = progress or (lambda _m: None)
    as_at = as_at or _spine_as_at(con)
    status = linked_sources(con)
    linked = {k for k, v in status.items() if v is None}
    res = GoldResult(as_at)
    parts = []
    for g in GOLD_DRIVERS.values():
        missing = [s for s in g.requires if s not in linked]
        if missing:
            reason = "; ".join(status[s] or s for s in missing)
            res.drivers[g.driver] = reason
            parts.append(f"""SELECT p.person_id, {sql_literal(g.driver)} AS driver, CAST(NULL AS BOOLEAN) AS value,
       FALSE AS measured, CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS evidence_table,
       CAST(NULL AS DATE) AS evidence_date, {sql_literal(reason)} AS reason FROM spine.person p""")
            continue
        res.drivers[g.driver] = None
        used = [s for s in (*g.requires, *g.optional) if s in linked]
        say(f"gold standard for {g.driver} from {', '.join(used)}")
        ev = g.sql(as_at, linked)
        parts.append(f"""SELECT p.person_id, {sql_literal(g.driver)} AS driver, COALESCE(e.value, 0) = 1 AS value,
       TRUE AS measured, {sql_literal('+'.join(used))} AS source, e.evidence_table, e.evidence_date,
       CAST(NULL AS VARCHAR) AS reason
FROM spine.person p LEFT JOIN (
    SELECT person_id, value, evidence_table, evidence_date FROM ({ev}) x
    QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY evidence_date DESC NULLS LAST, evidence_table) = 1
) e ON e.person_id = p.person_id""")
    con.execute("CREATE OR REPLACE TABLE spine.person_need_gold AS " + "\nUNION ALL\n".join(parts))
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                      "'spine' AND table_name = 'person'").fetchall()}
    old = [f"need_{d}_gold" for d in GOLD_DRIVERS if f"need_{d}_gold" in cols]
    excl = f" EXCLUDE ({', '.join(old)})" if old else ""
    wide = ", ".join(f"MAX(CASE WHEN driver = '{d}' THEN value END) AS need_{d}_gold" for d in GOLD_DRIVERS)
    con.execute(f"""CREATE OR REPLACE TABLE spine.person AS
SELECT p.*{excl}, {', '.join(f'g.need_{d}_gold' for d in GOLD_DRIVERS)}
FROM spine.person p LEFT JOIN (SELECT person_id, {wide} FROM spine.person_need_gold GROUP BY person_id) g
  ON g.person_id = p.person_id""")
    res.rows = int(con.execute("SELECT COUNT(*) FROM spine.person_need_gold").fetchall()[0][0])
    return res


def _kappa(a: list[bool], b: list[bool]) -> float | None:
    if not a:
        return None
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) < 2:
        return 1.0 if a == b else None  # every person in one class: kappa is undefined unless all agree
    k = float(cohen_kappa_score(a, b))
    return None if math.isnan(k) else round(k, 4)


def gold_report(con, *, write: bool = True) -> list[dict]:
    """Gold standard against the OASys proxy for every driver of :data:`GOLD_DRIVERS` (see the module docstring).

    One dict per driver: ``persons``, ``proxy_assessed`` (persons the proxy measured: a full OASys assessment),
    ``proxy_positive``, ``proxy_prevalence`` (among the assessed), ``gold_measured``, ``gold_positive``,
    ``gold_prevalence``, ``both`` (measured by both), ``agreement``, ``kappa`` (Cohen's, scikit-learn),
    ``proxy_only``, ``gold_only`` (positive by one only, among both), ``missed_never_assessed`` (gold positive,
    never assessed by OASys), ``missed_share`` (of gold positives), ``reason`` (why the gold is not measured).
    Written to ``results.gold_vs_proxy`` unless ``write`` is false.
    """
    if not table_exists(con, "spine", "person_need_gold"):
        raise InputError("the spine has no gold-standard needs (spine.person_need_gold)",
                         hint="link a Wave 2 source with `bold link wave SOURCE --from FOLDER`, then run "
                              "`bold spine gold-report`")
    out = []
    for d in GOLD_DRIVERS:
        rows = con.execute("""
            SELECT g.value AS gold, g.measured, n.value AS proxy, COALESCE(n.measured, FALSE) AS assessed
            FROM spine.person_need_gold g
            LEFT JOIN spine.person_need n ON n.person_id = g.person_id AND n.driver = g.driver
            WHERE g.driver = ?""", [d]).fetchall()
        reason = con.execute("SELECT MAX(reason) FROM spine.person_need_gold WHERE driver = ?", [d]).fetchall()[0][0]
        persons = len(rows)
        assessed = [r for r in rows if r[3] and r[2] is not None]
        gold_m = [r for r in rows if r[1]]
        both = [r for r in rows if r[1] and r[3] and r[2] is not None]
        gp = sum(1 for r in gold_m if r[0])
        pp = sum(1 for r in assessed if r[2])
        a, b = [bool(r[2]) for r in both], [bool(r[0]) for r in both]
        agree = sum(1 for x, y in zip(a, b, strict=True) if x == y)
        missed = sum(1 for r in gold_m if r[0] and not r[3])
        out.append({
            "driver": d, "persons": persons, "proxy_assessed": len(assessed), "proxy_positive": pp,
            "proxy_prevalence": round(pp / len(assessed), 4) if assessed else None,
            "gold_measured": len(gold_m), "gold_positive": gp,
            "gold_prevalence": round(gp / len(gold_m), 4) if gold_m else None,
            "both": len(both), "agreement": round(agree / len(both), 4) if both else None,
            "kappa": _kappa(a, b),
            "proxy_only": sum(1 for x, y in zip(a, b, strict=True) if x and not y),
            "gold_only": sum(1 for x, y in zip(a, b, strict=True) if y and not x),
            "missed_never_assessed": missed if gold_m else None,
            "missed_share": round(missed / gp, 4) if gp else None,
            "reason": reason,
        })
    if write:
        con.execute("CREATE SCHEMA IF NOT EXISTS results")
        import pyarrow as pa

        t = pa.Table.from_pylist(out)
        con.register("_gold_report_arrow", t)
        try:
            con.execute("CREATE OR REPLACE TABLE results.gold_vs_proxy AS SELECT * FROM _gold_report_arrow")
        finally:
            con.unregister("_gold_report_arrow")
    return out


def gold_release_outputs(con, *, rules=None) -> list:
    """Disclosure-checked outputs of the comparison: persons by driver and by proxy and gold status (measured by
    both), and the prevalence of each measure as rates from checked counts (``population`` keys name the
    populations, so the release audit sees how the tables relate)."""
    import pandas as pd

    from ..outputs import check_counts, rate_table

    rows = con.execute("""
        SELECT g.driver,
               CASE WHEN NOT COALESCE(n.measured, FALSE) OR n.value IS NULL THEN 'not assessed'
                    WHEN n.value THEN 'proxy: need' ELSE 'proxy: no need' END AS proxy,
               CASE WHEN g.value THEN 'gold: need' ELSE 'gold: no need' END AS gold, COUNT(*) AS n
        FROM spine.person_need_gold g
        LEFT JOIN spine.person_need n ON n.person_id = g.person_id AND n.driver = g.driver
        WHERE g.measured GROUP BY ALL""").fetchdf()
    if rows.empty:
        raise InputError("no driver is measured by a gold-standard source",
                         hint="link a Wave 2 source with `bold link wave SOURCE --from FOLDER` first")
    levels = {"proxy": ["proxy: need", "proxy: no need", "not assessed"], "gold": ["gold: need", "gold: no need"]}
    cross = check_counts(rows, "n", ["driver", "proxy"], "gold", title="Persons by driver, OASys proxy and gold "
                         "standard", name="gold_vs_proxy", levels=levels, rules=rules,
                         population="spine persons measured by the gold standard")
    pos = rows[rows.gold == "gold: need"].groupby("driver", as_index=False)["n"].sum()
    tot = rows.groupby("driver", as_index=False)["n"].sum()
    drivers = {"driver": list(pd.unique(tot.driver))}
    num = check_counts(pos, "n", "driver", title="Persons with the need (gold standard)", name="gold_positive",
                       rules=rules, margins=False, population="spine persons measured by the gold standard",
                       levels=drivers)
    den = check_counts(tot, "n", "driver", title="Persons measured (gold standard)", name="gold_measured",
                       rules=rules, margins=False, population="spine persons measured by the gold standard",
                       levels=drivers)
    rate = rate_table(num, den, title="Prevalence (gold standard, per 100 persons)", name="gold_prevalence")
    return [cross, rate]
