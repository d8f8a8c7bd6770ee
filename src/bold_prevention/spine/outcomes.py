"""The six outcomes of the register, per person, over a window after an index date (``spine.person_outcome``).

:func:`build_outcomes` measures, for every spine person, each outcome in the window that follows the index date
(the ``as_at`` date: window start = the day after it, window end = ``window_months`` later), from the sources the
warehouse holds:

=========================  ==================  ===============================================================
outcome                    measure (kind)      definition in the window
=========================  ==================  ===============================================================
offending                  proven_reoffending  an offence committed in the window (offence date) proven by a
                           (proxy)             conviction at a magistrates' court or the Crown Court dated no
                                               later than 6 months after the window ends (the MoJ definition;
                                               Data First has no cautions, the PNC would be the gold standard)
ill_health_mortality       emergency_admission an emergency hospital admission (HES)
                           (gold), death       a death registered with its date in the window (ONS)
                           (gold), custody     a death or self-harm incident in custody (prison; the proxy)
                           (proxy)
in_work_poverty            low_pay_in_work     PAYE pay in the window averaging below the annual threshold per
                           (gold)              month paid (HMRC)
                           in_work_benefit     Universal Credit in payment while in a PAYE employment (DWP and
                           (gold)              HMRC)
                           oasys_wages_finance an OASys assessment in the window with wages as the main income
                           (proxy)             and significant financial problems
inactivity_unemployment    long_term_workless  no PAYE employment in the window and an out-of-work benefit
                           (gold)              spell (UC, JSA, ESA) of 12 months or more reaching into it
                           oasys_unemployed    an OASys assessment in the window: unemployed with a
                           (proxy)             significant employment history problem
homelessness               la_housing_contact  a local-authority housing options, temporary accommodation or
                           (gold)              homelessness contact (Wave 3 residents, when linked)
                           possession          a possession order, warrant or repossession for a defendant
                           (proxy)             (civil)
                           no_fixed_abode      no fixed abode or rough sleeping recorded by OASys in the window
                           (proxy)
child_outcomes             child_npd (gold)    a linked child (``spine.person_child``) persistently absent,
                                               excluded, referred as a child in need, on a protection plan or
                                               looked after in the window (NPD)
                           public_law (proxy)  a party to a public law family case received in the window
=========================  ==================  ===============================================================

Each measure is a row per person (``measure`` names it) and each outcome has a headline row
(``measure = 'outcome'``): the gold measures when every gold measure of the outcome is available, else the proxy
measures, else NULL. A person's value is true when any chosen measure is true, false when all are false and NULL
when one is unknown and none is true.

Unmeasured is not zero: a measure whose source is not loaded or not linked is NULL for everyone with the reason;
a window (with its waiting period) that ends after the data end is NULL for everyone ("window incomplete"); proxy
measures from OASys count only people assessed in the window; child outcomes count only people with a child found
in the NPD. The data end is ``data_end`` or, by default, the latest court result date in the extracts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..errors import InputError
from ..linkage.xjs import person_paths
from ..warehouse.engine import date_literal, sql_literal, tables, transaction
from ..warehouse.tables import PERSON
from .build import months_before
from .gold import LOW_PAY_THRESHOLD, OUT_OF_WORK, linked_sources
from .sources import resolved_sql

__all__ = ["MEASURES", "OUTCOMES", "Measure", "OutcomeResult", "build_outcomes", "months_after", "parse_window",
           "reoffending_sql"]

OUTCOMES = ("offending", "ill_health_mortality", "in_work_poverty", "inactivity_unemployment", "homelessness",
            "child_outcomes")
#: The waiting period after the reoffending window in which the offence must be proven (months).
REOFFENDING_WAIT_MONTHS = 6


def months_after(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months (day clipped to the month's length)."""
    return months_before(d, -months)


def parse_window(text: str | int) -> int:
    """A window as months: ``12``, ``12m``, ``18m``, ``1y``, ``2y``."""
    if isinstance(text, int) and not isinstance(text, bool):
        months = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([my]?)\s*", str(text).lower())
        if not m:
            raise InputError(f"window {text!r} is not understood", hint="give months or years, e.g. 12m or 2y")
        months = int(m.group(1)) * (12 if m.group(2) == "y" else 1)
    if not 1 <= months <= 120:
        raise InputError(f"window of {months} months is out of range", hint="give 1 to 120 months, e.g. 12m")
    return months


@dataclass(frozen=True)
class Window:
    index: date
    start: date
    end: date
    data_end: date
    #: extra ``pmr, d`` selects of the loaded Wave 1 modules (CP plans, looked-after episodes), each ``UNION ALL``-led
    npd_modules: str = ""

    @property
    def s(self) -> str:
        return date_literal(self.start)

    @property
    def e(self) -> str:
        return date_literal(self.end)


@dataclass(frozen=True)
class Measure:
    """One measure of an outcome: ``requires`` wave sources (keys) or extract tables (``extract.``-prefixed);
    ``positives(w)`` gives ``person_id, evidence_date`` of persons with the outcome; ``population(w)`` (optional)
    gives the ``person_id`` of persons it measures (default: every spine person); ``wait_months`` after the
    window end must fall on or before the data end."""

    outcome: str
    measure: str
    kind: str  # gold | proxy
    source: str
    requires: tuple[str, ...]
    positives: Callable[[Window], str]
    population: Callable[[Window], str] | None = None
    wait_months: int = 0


def _wave_rows(table: str, cols: str, record_col: str) -> str:
    return (f"SELECT pr.person_id, {cols} FROM extract.{table} e JOIN spine.person_record pr "
            f"ON pr.source_table = '{table}' AND pr.record_id = e.{record_col}")


def _overlaps(start: str, end: str, w: Window) -> str:
    return f"{start} <= {w.e} AND COALESCE({end}, {w.e}) >= {w.s}"


def reoffending_sql(w: Window) -> str:
    """Persons with a proven reoffence: an offence dated in the window, convicted no later than the waiting period
    after the window (magistrates' offences and cases, Crown Court cases)."""
    proven = date_literal(months_after(w.end, REOFFENDING_WAIT_MONTHS))
    mags_off = resolved_sql("mags_defendant_offence", ["offence_date", "outcome", "row_id_hash"])
    mags = resolved_sql("mags_defendant_case", ["main_offence_date", "final_result_date", "outcome"])
    crown = resolved_sql("crown_defendant_case", ["main_offence_date", "sentence_date", "outcome"])
    return f"""
SELECT o._person_id AS person_id, o.offence_date AS evidence_date
FROM ({mags_off}) o JOIN extract.mags_defendant_case c ON c.row_id_hash = o.row_id_hash
WHERE o.offence_date >= {w.s} AND o.offence_date <= {w.e} AND COALESCE(o.outcome, c.outcome) = 'CONV'
  AND c.final_result_date <= {proven}
UNION ALL
SELECT _person_id, main_offence_date FROM ({mags}) m
WHERE main_offence_date >= {w.s} AND main_offence_date <= {w.e} AND outcome = 'CONV'
  AND final_result_date <= {proven}
UNION ALL
SELECT _person_id, main_offence_date FROM ({crown}) k
WHERE main_offence_date >= {w.s} AND main_offence_date <= {w.e} AND outcome = 'CONV'
  AND sentence_date <= {proven}"""


def _custody(w: Window) -> str:
    r = resolved_sql("prison_safety_in_custody", ["incident_type"])
    return (f"SELECT _person_id AS person_id, _record_date AS evidence_date FROM ({r}) x "
            f"WHERE incident_type IN ('Death', 'Self-harm') AND _record_date >= {w.s} AND _record_date <= {w.e}")


def _admission(w: Window) -> str:
    rows = _wave_rows("hes_apc_episodes", "e.admission_date, e.admission_method", "episode_id")
    return (f"SELECT person_id, admission_date AS evidence_date FROM ({rows}) h WHERE admission_method = 'EM' "
            f"AND admission_date >= {w.s} AND admission_date <= {w.e}")


def _death(w: Window) -> str:
    rows = _wave_rows("ons_death_registrations", "e.date_of_death", "registration_id")
    return (f"SELECT person_id, date_of_death AS evidence_date FROM ({rows}) d "
            f"WHERE date_of_death >= {w.s} AND date_of_death <= {w.e}")


def _pay_months(w: Window) -> str:
    emp = _wave_rows("hmrc_paye_employments", "e.employment_id", "employment_id")
    return (f"SELECT x.person_id, p.pay_month, SUM(p.taxable_pay) AS pay FROM ({emp}) x "
            f"JOIN extract.hmrc_paye_pay p ON p.employment_id = x.employment_id "
            f"WHERE p.pay_month >= {date_literal(w.start.replace(day=1))} AND p.pay_month <= {w.e} "
            f"GROUP BY x.person_id, p.pay_month")


def _low_pay(w: Window) -> str:
    return (f"SELECT person_id, MAX(pay_month) AS evidence_date FROM ({_pay_months(w)}) m "
            f"GROUP BY person_id HAVING SUM(pay) > 0 AND AVG(pay) * 12 < {LOW_PAY_THRESHOLD!r}")


def _in_work_benefit(w: Window) -> str:
    uc = _wave_rows("dwp_benefit_spells", "e.benefit_type, e.spell_start_date, e.spell_end_date", "spell_id")
    return f"""SELECT u.person_id, MAX(m.pay_month) AS evidence_date
FROM ({uc}) u JOIN ({_pay_months(w)}) m ON m.person_id = u.person_id
WHERE u.benefit_type = 'UC' AND {_overlaps('u.spell_start_date', 'u.spell_end_date', w)} AND m.pay > 0
  AND u.spell_start_date <= m.pay_month + INTERVAL 1 MONTH AND COALESCE(u.spell_end_date, {w.e}) >= m.pay_month
GROUP BY u.person_id"""


def _workless(w: Window) -> str:
    sp = _wave_rows("dwp_benefit_spells", "e.benefit_type, e.spell_start_date, e.spell_end_date", "spell_id")
    emp = _wave_rows("hmrc_paye_employments", "e.start_date, e.end_date", "employment_id")
    return f"""SELECT s.person_id, MAX(LEAST(COALESCE(s.spell_end_date, {w.e}), {w.e})) AS evidence_date
FROM ({sp}) s
WHERE s.benefit_type IN {tuple(OUT_OF_WORK)!r} AND {_overlaps('s.spell_start_date', 's.spell_end_date', w)}
  AND DATE_DIFF('day', s.spell_start_date, LEAST(COALESCE(s.spell_end_date, {w.e}), {w.e})) >= 365
  AND NOT EXISTS (SELECT 1 FROM ({emp}) x WHERE x.person_id = s.person_id
                  AND {_overlaps('x.start_date', 'x.end_date', w)})
GROUP BY s.person_id"""


def _oasys(cols: list[str], expr: str) -> Callable[[Window], tuple[str, str]]:
    def rows(w: Window) -> str:
        r = resolved_sql("oasys_assessments_details_core_risk", cols)
        return f"SELECT * FROM ({r}) x WHERE _record_date >= {w.s} AND _record_date <= {w.e}"

    def positives(w: Window) -> str:
        return (f"SELECT _person_id AS person_id, _record_date AS evidence_date FROM ({rows(w)}) y "
                f"QUALIFY ROW_NUMBER() OVER (PARTITION BY _person_id ORDER BY _record_date DESC, _record_id DESC) = 1"
                f" AND COALESCE({expr}, FALSE)")

    def population(w: Window) -> str:
        return f"SELECT DISTINCT _person_id AS person_id FROM ({rows(w)}) y"

    return positives, population


def _la_housing(w: Window) -> str:
    rows = ("SELECT pr.person_id, c.service, c.contact_date FROM extract.la_service_contacts c "
            "JOIN spine.person_record pr ON pr.source_table = 'la_residents' AND pr.record_id = c.resident_id")
    return (f"SELECT person_id, contact_date AS evidence_date FROM ({rows}) x WHERE service IN ('HOUS', 'TA', 'HPR') "
            f"AND contact_date >= {w.s} AND contact_date <= {w.e}")


def _possession(w: Window) -> str:
    r = resolved_sql("civil_events", ["event_type"])
    party = person_paths()["civil_parties"].record_id
    return (f"SELECT x._person_id AS person_id, x._record_date AS evidence_date FROM ({r}) x "
            f"JOIN extract.civil_parties p ON p.{party} = x._person_record_id AND p.party_role = 'DEFT' "
            f"WHERE x.event_type IN ('ORDER_OUTRIGHT', 'ORDER_SUSPENDED', 'WARRANT', 'REPOSSESSION') "
            f"AND x._record_date >= {w.s} AND x._record_date <= {w.e}")


def _nfa(w: Window) -> str:
    core = resolved_sql("oasys_assessments_details_core_risk", ["question_3_3"])
    bcs = resolved_sql("oasys_assessments_details_tr_bcs", ["question_tr_bcs33"])
    return (f"SELECT _person_id AS person_id, _record_date AS evidence_date FROM ({core}) a "
            f"WHERE question_3_3 = 'YES' AND _record_date >= {w.s} AND _record_date <= {w.e} UNION ALL "
            f"SELECT _person_id, _record_date FROM ({bcs}) b WHERE question_tr_bcs33 IN ('NFA', 'ROUGH') "
            f"AND _record_date >= {w.s} AND _record_date <= {w.e}")


def _children_pupils() -> str:
    return "SELECT DISTINCT person_id, child_pupil_ref FROM spine.person_child WHERE child_pupil_ref IS NOT NULL"


def _child_npd(w: Window) -> str:
    y0, y1 = _academic_year(w.start), _academic_year(w.end)
    parts = [
        f"SELECT pupil_matching_reference AS pmr, MAKE_DATE(CAST(academic_year AS INTEGER) + 1, 7, 31) AS d "
        f"FROM extract.npd_attendance WHERE persistent_absence AND academic_year BETWEEN {y0} AND {y1}",
        f"SELECT pupil_matching_reference, exclusion_start_date FROM extract.npd_exclusions "
        f"WHERE exclusion_start_date >= {w.s} AND exclusion_start_date <= {w.e}",
        f"SELECT pupil_matching_reference, referral_date FROM extract.npd_children_in_need "
        f"WHERE referral_date >= {w.s} AND referral_date <= {w.e}",
    ]
    return f"""SELECT c.person_id, MAX(LEAST(x.d, {w.e})) AS evidence_date
FROM ({_children_pupils()}) c JOIN ({' UNION ALL '.join(parts)}{w.npd_modules}) x ON x.pmr = c.child_pupil_ref
GROUP BY c.person_id"""


def _academic_year(d: date) -> int:
    return d.year if d.month >= 9 else d.year - 1


def _public_law(w: Window) -> str:
    r = resolved_sql("family_cases", ["case_type"])
    return (f"SELECT _person_id AS person_id, _record_date AS evidence_date FROM ({r}) f "
            f"WHERE case_type = 'C' AND _record_date >= {w.s} AND _record_date <= {w.e}")


_WAGES = _oasys(["question_5_1", "question_5_2"], "question_5_1 = 'WAGES' AND question_5_2 = '2'")
_UNEMP = _oasys(["question_4_2", "question_4_3"], "question_4_2 = 'YES' AND question_4_3 = '2'")

#: Every measure, by outcome (see the module docstring).
MEASURES: tuple[Measure, ...] = (
    Measure("offending", "proven_reoffending", "proxy", "mags+crown",
            ("extract.mags_defendant_case", "extract.mags_defendant_offence", "extract.crown_defendant_case"),
            reoffending_sql, wait_months=REOFFENDING_WAIT_MONTHS),
    Measure("ill_health_mortality", "emergency_admission", "gold", "hes", ("hes",), _admission),
    Measure("ill_health_mortality", "death", "gold", "deaths", ("deaths",), _death),
    Measure("ill_health_mortality", "custody_death_or_self_harm", "proxy", "prison",
            ("extract.prison_safety_in_custody",), _custody),
    Measure("in_work_poverty", "low_pay_in_work", "gold", "hmrc", ("hmrc",), _low_pay),
    Measure("in_work_poverty", "in_work_benefit", "gold", "dwp+hmrc", ("dwp", "hmrc"), _in_work_benefit),
    Measure("in_work_poverty", "oasys_wages_finance", "proxy", "oasys",
            ("extract.oasys_assessments_details_core_risk",), _WAGES[0], _WAGES[1]),
    Measure("inactivity_unemployment", "long_term_workless", "gold", "dwp+hmrc", ("dwp", "hmrc"), _workless),
    Measure("inactivity_unemployment", "oasys_unemployed", "proxy", "oasys",
            ("extract.oasys_assessments_details_core_risk",), _UNEMP[0], _UNEMP[1]),
    Measure("homelessness", "la_housing_contact", "gold", "local_authority",
            ("extract.la_service_contacts", "linked.la_residents"), _la_housing),
    Measure("homelessness", "possession", "proxy", "civil",
            ("extract.civil_events", "extract.civil_parties"), _possession),
    Measure("homelessness", "no_fixed_abode", "proxy", "oasys",
            ("extract.oasys_assessments_details_core_risk", "extract.oasys_assessments_details_tr_bcs"), _nfa),
    Measure("child_outcomes", "child_npd", "gold", "npd", ("spine.person_child", "extract.npd_attendance",
                                                            "extract.npd_exclusions", "extract.npd_children_in_need"),
            _child_npd, lambda w: f"SELECT DISTINCT person_id FROM ({_children_pupils()}) c"),
    Measure("child_outcomes", "public_law", "proxy", "family", ("extract.family_cases",), _public_law),
)


@dataclass
class OutcomeResult:
    index_date: date
    window_start: date
    window_end: date
    data_end: date
    persons: int
    rows: int
    #: measure -> None (measured) or the reason it is NULL for everyone
    measures: dict[str, str | None] = field(default_factory=dict)
    #: outcome -> {"kind": gold|proxy|None, "positive": n, "measured": n}
    headline: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0


def _tables(con) -> set[str]:
    return {f"{s}.{t}" for s, t in tables(con)}


def _default_data_end(con, have: set[str]) -> date:
    parts = []
    if "extract.mags_defendant_case" in have:
        parts.append("SELECT MAX(final_result_date) AS d FROM extract.mags_defendant_case")
    if "extract.crown_defendant_case" in have:
        parts.append("SELECT MAX(sentence_date) FROM extract.crown_defendant_case")
    if not parts:
        raise InputError("the warehouse holds no court extracts to set the data end from",
                         hint="give the data end with --data-end YYYY-MM-DD")
    d = con.execute(f"SELECT MAX(d) FROM ({' UNION ALL '.join(parts)})").fetchall()[0][0]
    if d is None:
        raise InputError("the court extracts hold no result dates to set the data end from",
                         hint="give the data end with --data-end YYYY-MM-DD")
    return d


def _availability(m: Measure, w: Window, have: set[str], linked: dict[str, str | None], con) -> str | None:
    for r in m.requires:
        if r.startswith("linked."):
            t = r.split(".", 1)[1]
            if not con.execute("SELECT COUNT(*) FROM spine.person_record WHERE source_table = ?", [t]
                               ).fetchall()[0][0]:
                return (f"{t} is not linked to the spine (the local-authority residents are linked by the "
                        "pipeline's la_residents stage, `bold demo`)")
        elif "." in r:
            if r not in have:
                what = ("no person-to-child relation (run `bold spine children`)" if r == "spine.person_child"
                        else f"{r} is not loaded")
                return what
        elif linked.get(r) is not None:
            return linked[r]
    need = months_after(w.end, m.wait_months)
    if need > w.data_end:
        wait = f" with its {m.wait_months}-month waiting period" if m.wait_months else ""
        return (f"window incomplete: the window{wait} ends on {need.isoformat()}, after the data end "
                f"{w.data_end.isoformat()}")
    return None


def build_outcomes(con, *, as_at: date, window_months: int = 12, data_end: date | None = None,
                   progress: Callable[[str], None] | None = None) -> OutcomeResult:
    """Build ``spine.person_outcome`` (long form: ``person_id, outcome, measure, window_start, window_end, value,
    source, proxy_or_gold, evidence_date, reason``) for every spine person over the ``window_months`` after
    ``as_at`` (see the module docstring); also ``spine.outcome_info`` (the window, data end and measures)."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    window_months = parse_window(window_months)
    have = _tables(con)
    if PERSON not in have:
        raise InputError("no spine has been built in this warehouse",
                         hint="run `bold spine build --as-at YYYY-MM-DD` first")
    linked = linked_sources(con)
    end = data_end or _default_data_end(con, have)
    w = Window(as_at, as_at + timedelta(days=1), months_after(as_at, window_months), end)
    modules: list[str] = []
    if "extract.npd_cp_plans" in have:
        modules.append(f" UNION ALL SELECT pupil_matching_reference, GREATEST(plan_start_date, {w.s}) "
                       f"FROM extract.npd_cp_plans WHERE {_overlaps('plan_start_date', 'plan_end_date', w)}")
    if "extract.npd_cla_episodes" in have:
        modules.append(f" UNION ALL SELECT pupil_matching_reference, GREATEST(episode_start_date, {w.s}) "
                       f"FROM extract.npd_cla_episodes WHERE {_overlaps('episode_start_date', 'episode_end_date', w)}")
    w = Window(w.index, w.start, w.end, w.data_end, "".join(modules))
    res = OutcomeResult(as_at, w.start, w.end, end, 0, 0)
    parts = []
    for m in MEASURES:
        why = _availability(m, w, have, linked, con)
        res.measures[m.measure] = why
        meta = (f"{sql_literal(m.outcome)} AS outcome, {sql_literal(m.measure)} AS measure, {w.s} AS window_start, "
                f"{w.e} AS window_end, {sql_literal(m.source)} AS source, {sql_literal(m.kind)} AS proxy_or_gold")
        if why is not None:
            parts.append(f"SELECT p.person_id, {meta}, CAST(NULL AS BOOLEAN) AS value, CAST(NULL AS DATE) AS "
                         f"evidence_date, {sql_literal(why)} AS reason FROM spine.person p")
            continue
        say(f"measuring {m.outcome}: {m.measure}")
        pos = m.positives(w)
        pop = (f"LEFT JOIN ({m.population(w)}) q ON q.person_id = p.person_id" if m.population else "")
        in_pop = "q.person_id IS NOT NULL" if m.population else "TRUE"
        no_pop = {"child_outcomes": "no linked child found in the NPD"}.get(m.outcome, "not assessed in the window")
        parts.append(f"""SELECT p.person_id, {meta},
       CASE WHEN x.person_id IS NOT NULL THEN TRUE WHEN {in_pop} THEN FALSE END AS value, x.evidence_date,
       CASE WHEN x.person_id IS NULL AND NOT ({in_pop}) THEN {sql_literal(no_pop)} END AS reason
FROM spine.person p
LEFT JOIN (SELECT person_id, MIN(evidence_date) AS evidence_date FROM ({pos}) z GROUP BY person_id) x
  ON x.person_id = p.person_id {pop}""")
    con.execute("CREATE OR REPLACE TEMP TABLE _oc_measures AS " + "\nUNION ALL\n".join(parts))
    # headline: gold when every gold measure of the outcome is available, else proxy, else NULL
    choice = {}
    for o in OUTCOMES:
        ms = [m for m in MEASURES if m.outcome == o]
        gold = [m for m in ms if m.kind == "gold"]
        proxy = [m for m in ms if m.kind == "proxy"]
        if gold and all(res.measures[m.measure] is None for m in gold):
            choice[o] = ("gold", gold, None)
        elif proxy and all(res.measures[m.measure] is None for m in proxy):
            missing = "; ".join(res.measures[m.measure] for m in gold if res.measures[m.measure])
            choice[o] = ("proxy", proxy, f"proxy: {missing}" if missing else None)
        else:
            why = "; ".join(sorted({res.measures[m.measure] for m in ms if res.measures[m.measure]}))
            choice[o] = (None, [], why)
    heads = []
    for o, (kind, ms, note) in choice.items():
        meta = f"{sql_literal(o)} AS outcome, 'outcome' AS measure, {w.s} AS window_start, {w.e} AS window_end"
        if kind is None:
            heads.append(f"SELECT p.person_id, {meta}, CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS "
                         f"proxy_or_gold, CAST(NULL AS BOOLEAN) AS value, CAST(NULL AS DATE) AS evidence_date, "
                         f"{sql_literal(note)} AS reason FROM spine.person p")
            continue
        names = ", ".join(sql_literal(m.measure) for m in ms)
        src = "+".join(dict.fromkeys(s for m in ms for s in m.source.split("+")))
        heads.append(f"""SELECT person_id, {meta}, {sql_literal(src)} AS source, {sql_literal(kind)} AS proxy_or_gold,
       CASE WHEN BOOL_OR(value) THEN TRUE WHEN COUNT(value) = COUNT(*) THEN FALSE END AS value,
       MIN(CASE WHEN value THEN evidence_date END) AS evidence_date,
       CASE WHEN NOT COALESCE(BOOL_OR(value), FALSE) AND COUNT(value) < COUNT(*)
            THEN STRING_AGG(DISTINCT reason, '; ') ELSE {sql_literal(note)} END AS reason
FROM _oc_measures WHERE outcome = {sql_literal(o)} AND measure IN ({names}) GROUP BY person_id""")
    try:
        with transaction(con):
            con.execute(f"""CREATE OR REPLACE TABLE spine.person_outcome AS
SELECT person_id, outcome, measure, window_start, window_end, value, source, proxy_or_gold, evidence_date, reason
FROM (SELECT * FROM _oc_measures UNION ALL {' UNION ALL '.join(f'SELECT * FROM ({h})' for h in heads)}) a
ORDER BY person_id, outcome, measure""")
            con.execute(f"""CREATE OR REPLACE TABLE spine.outcome_info AS SELECT {date_literal(as_at)} AS index_date,
{w.s} AS window_start, {w.e} AS window_end, {window_months} AS window_months, {date_literal(end)} AS data_end,
CURRENT_TIMESTAMP AS built_at""")
    finally:
        con.execute("DROP TABLE IF EXISTS _oc_measures")
    res.persons = int(con.execute("SELECT COUNT(*) FROM spine.person").fetchall()[0][0])
    res.rows = int(con.execute("SELECT COUNT(*) FROM spine.person_outcome").fetchall()[0][0])
    for o, (kind, _ms, _n) in choice.items():
        pos, meas = con.execute("SELECT COUNT(*) FILTER (WHERE value), COUNT(value) FROM spine.person_outcome "
                                "WHERE outcome = ? AND measure = 'outcome'", [o]).fetchall()[0]
        res.headline[o] = {"kind": kind, "positive": int(pos), "measured": int(meas)}
    res.seconds = time.perf_counter() - t0
    return res
