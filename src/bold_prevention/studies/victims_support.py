"""Study 5: victims' journeys through a support service (the shape of the sexual-violence support service study).

From a support service's case records (``support_referrals``, ``support_contacts``; the Wave 3 source ``support``,
synthetic with ``bold synth --sources support``): the journey from referral to assessment, contacts and case
closure; time to disengagement (Kaplan-Meier with lifelines through :mod:`bold_prevention.trajectories.survival`,
published through :func:`bold_prevention.outputs.survival_table`); what is associated with disengagement (a Cox
proportional hazards model on age under 25, referral by the police and, where the service is linked to the spine,
having a magistrates' court record); and the link to justice: the share of the people referred who appear in
magistrates' court data, at each linkage band.

Synthetic truth: the true hazard ratios of disengagement the generator used (``truth_support_hazard``) and the true
share of referred people with a magistrates' court record (``truth_support_service`` and ``truth_record``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..outputs import check_counts, check_model, survival_table
from ..trajectories.survival import kaplan_meier
from ._pilots import (
    BANDS,
    BandEstimate,
    band_filter,
    has_table,
    link_recall,
    linked_tables,
    methods_of,
    proportion_headline,
    recall_note,
)
from .base import Headline, StudyContext, StudyResult
from .registry import study

NAME = "victims_support"
TERMS = {"aged_under_25": "Aged under 25 at referral", "police_referral": "Referred by the police",
         "court_record": "Has a magistrates' court record"}
HOW_TO_LOAD = ("generate it with `bold synth --sources support` (or `--waves 3`), then load and link it with "
               "`bold link wave support --from FOLDER`")

def journeys(con: Any) -> pd.DataFrame:
    """One row per referral: ``referral_id``, ``duration`` (days, at least 0.5), ``observed`` (disengaged),
    ``aged_under_25``, ``police_referral``, ``assessed``, ``contacts``, ``referral_source``, ``crime_type``."""
    contacts = ("(SELECT COUNT(*) FROM extract.support_contacts c WHERE c.referral_id = r.referral_id)"
                if has_table(con, "extract", "support_contacts") else "NULL")
    last = ("GREATEST(MAX(referral_date), MAX(assessment_date), MAX(exit_date)"
            + (", (SELECT MAX(contact_date) FROM extract.support_contacts))"
               if has_table(con, "extract", "support_contacts") else ")"))
    df = con.execute(f"""
WITH e AS (SELECT {last} AS data_end FROM extract.support_referrals)
SELECT r.referral_id, r.referral_date, r.referral_source, r.crime_type, r.exit_reason,
       date_diff('day', r.referral_date, coalesce(r.exit_date, e.data_end)) AS days,
       coalesce(r.exit_reason = 'DISENGAGED', false) AS observed,
       r.age_at_referral < 25 AS aged_under_25, r.referral_source = 'POLICE' AS police_referral,
       r.assessment_date IS NOT NULL AS assessed, {contacts} AS contacts
FROM extract.support_referrals r, e
WHERE r.referral_date IS NOT NULL
ORDER BY r.referral_id""").fetchdf()
    df["duration"] = np.maximum(df["days"].astype(float), 0.5)
    return df


def court_records(con: Any, band: str) -> set[str]:
    """Referral ids linked at ``band`` to a spine person with a magistrates' court case linked at ``band``. At the
    ``low`` band the referrals whose best candidate reached only the low band (``spine.link_candidates``: kept by
    the wave linkage whatever band the spine was built at) count too."""
    from ..linkage.wave import LINK_CANDIDATES

    refs = (f"SELECT record_id, person_id FROM spine.person_record WHERE source_table = 'support_referrals' "
            f"AND {band_filter(band, 'band_joined')}")
    if band == "low" and has_table(con, *LINK_CANDIDATES.split(".")):
        refs += (f" UNION SELECT c.record_id, c.person_id FROM {LINK_CANDIDATES} c "
                 "WHERE c.source_table = 'support_referrals' AND c.band_joined = 'low' AND NOT EXISTS ("
                 "SELECT 1 FROM spine.person_record p WHERE p.source_table = 'support_referrals' "
                 "AND p.record_id = c.record_id)")
    rows = con.execute(f"""
SELECT DISTINCT r.record_id FROM ({refs}) r
WHERE EXISTS (SELECT 1 FROM spine.person_record m WHERE m.person_id = r.person_id
              AND m.source_table = 'mags_defendant_case' AND {band_filter(band, 'm.band_joined')})""").fetchall()
    return {r[0] for r in rows}


def _truth(ctx: StudyContext) -> dict[str, Any]:
    """The generator's hazard ratios and the true share of referrals whose person has a magistrates' case."""
    out: dict[str, Any] = {"hazard": {}, "court": None}
    if ctx.truth_dir is None:
        return out
    from .synthetic import has_view, population_connection

    t = population_connection(ctx.truth_dir)
    try:
        if has_view(t, "truth_support_hazard"):
            out["hazard"] = {k: float(v) for k, v in t.execute(
                "SELECT term, hazard_ratio FROM truth_support_hazard").fetchall()}
        if has_view(t, "truth_support_service") and has_view(t, "truth_record"):
            r = t.execute("""SELECT avg(CAST(person_id IN (SELECT person_id FROM truth_record
                                                         WHERE "table" = 'mags_defendant_case') AS DOUBLE))
                             FROM truth_support_service""").fetchone()[0]
            out["court"] = None if r is None else float(r)
    finally:
        t.close()
    return out


def _cox(df: pd.DataFrame, terms: list[str]):
    """The Cox model on the terms that vary (None when nothing varies, there are no events or it cannot be fitted
    cleanly: too few people, or a term that separates the events perfectly)."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    terms = [t for t in terms if df[t].nunique() > 1]
    if not terms or not df["observed"].any():
        return None
    X = df[["duration", "observed", *terms]].astype(float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)  # a doubtful fit is not published
            return CoxPHFitter().fit(X, duration_col="duration", event_col="observed")
    except (ConvergenceError, ConvergenceWarning, ValueError, np.linalg.LinAlgError):
        return None


@study(NAME, kinds=("journey", "survival", "association", "justice_link"),
       measures=("time_to_disengagement", "engaged_90_days", "hazard_ratios", "court_record_share"),
       sources=("support", "courts"))
def run(ctx: StudyContext) -> StudyResult:
    """Run study 5 at ``ctx.band`` (see the module docstring; the methods note is the definition's)."""
    con, band = ctx.con, ctx.band
    res = StudyResult(name=NAME, band=band, methods=methods_of(ctx))
    if not has_table(con, "extract", "support_referrals"):
        res.not_available.append("Support service records not available: extract.support_referrals is not loaded; "
                                 + HOW_TO_LOAD)
        return res
    df = journeys(con)
    if df.empty:
        res.not_available.append("Support service journeys not available: extract.support_referrals holds no "
                                 "referral with a date; " + HOW_TO_LOAD)
        return res
    population = f"{NAME}@{band}"
    src = "Support service case records" + (" linked to the spine" if "support_referrals" in linked_tables(con)
                                            else "")
    res.outputs.append(check_counts(
        df.assign(stage=np.where(df["assessed"], "Assessed", "Not assessed"),
                  closed=df["exit_reason"].fillna("Open")).groupby(["stage", "closed"]).size()
        .reset_index(name="n"), "n", "stage", "closed", title="Referrals by assessment and how the case closed",
        population=population, source=src,
        levels={"stage": ["Assessed", "Not assessed"],
                "closed": ["COMPLETED", "DISENGAGED", "REFERRED", "MOVED", "Open"]}))
    # time to disengagement (the one Kaplan-Meier), by referral route
    df["group"] = np.where(df["police_referral"], "Police referral", "Other referral")
    km_input = df[["group", "duration", "observed"]].copy()
    res.outputs.append(survival_table(km_input.assign(observed=km_input["observed"].astype(int)), "duration",
                                      "observed", group="group", title="Time to disengagement from the support "
                                      "service, by referral route", source=src, times=(30, 60, 90, 180, 365),
                                      acro_check=False))
    # all referrals: the published curve (checked) gives the interval, lifelines the estimate
    everyone = km_input.assign(group="All")
    checked = survival_table(everyone.assign(observed=everyone["observed"].astype(int)), "duration", "observed",
                             title="Time to disengagement from the support service", source=src,
                             times=(30, 60, 90, 180, 365), acro_check=False)
    res.outputs.append(checked)
    km = kaplan_meier(everyone, times=(90,))
    n_all, ev_all = len(everyone), int(everyone["observed"].sum())
    counts = check_counts(pd.DataFrame({"Measure": ["Referrals", "Disengaged"], "n": [n_all, ev_all]}), "n",
                          "Measure", title="Referrals and disengagements", margins=False, population=population)
    res.outputs.append(counts)
    value = lo = hi = None
    times = [float(t) for t in checked.data.index.get_level_values(1)]
    if 90.0 in times and bool((counts.symbols == "").all().all()):
        pos = times.index(90.0)
        if (checked.symbols.iloc[pos][["Survival", "Lower 95% CI", "Upper 95% CI"]] == "").all():
            value = round(100 * float(km["survival"].iloc[0]), 1)
            lo = min(round(100 * float(checked.data.iloc[pos]["Lower 95% CI"]), 1), value)
            hi = max(round(100 * float(checked.data.iloc[pos]["Upper 95% CI"]), 1), value)
    res.headlines.append(Headline(
        "engaged_90_days", "Still engaged 90 days after referral (Kaplan-Meier)", value, lo, hi, units="%",
        note="Kaplan-Meier estimate (lifelines); its 95% interval from the published curve (grouped steps, rounded "
             "counts), widened to hold the estimate; withheld where the curve's step at 90 days is not published"))

    truth = _truth(ctx)
    linked = "support_referrals" in linked_tables(con) and "mags_defendant_case" in linked_tables(con)
    terms = ["aged_under_25", "police_referral"]
    if linked:
        court = court_records(con, band)
        df["court_record"] = df["referral_id"].isin(court)
        if df["court_record"].any() and not df["court_record"].all():
            terms.append("court_record")
    else:
        res.not_available.append("Justice outcomes not available: the support service is not linked to the spine "
                                 "(or magistrates' court data are not loaded); " + HOW_TO_LOAD)
    cph = _cox(df, terms)
    model = None
    if cph is None:
        res.not_available.append("Cox model of disengagement not available: too few referrals or disengagements, "
                                 "or no covariate that varies")
    else:
        model = check_model(cph, title="Disengagement from the support service: Cox proportional hazards model",
                            source=src, subtitle="Hazard ratios of disengagement (associations, not effects)")
        res.outputs.append(model)
    for term in ("aged_under_25", "police_referral"):
        label = TERMS[term]
        pub = model is not None and term in model.symbols.index and model.symbols.loc[term, "Hazard ratio"] == ""
        d = model.data.loc[term] if pub else None
        res.headlines.append(Headline(
            f"hazard_ratio_{term}", f"Hazard ratio of disengagement: {label.lower()}",
            round(float(d["Hazard ratio"]), 3) if pub else None,
            round(math.exp(float(d["Lower 95% CI"])), 3) if pub else None,
            round(math.exp(float(d["Upper 95% CI"])), 3) if pub else None, units="hazard ratio",
            truth=truth["hazard"].get(term), note="Cox model (lifelines), 95% interval"))
    if linked:
        est, recalls = {}, {}
        for b in BANDS:
            c = court_records(con, b)
            # a referral counts only when it is linked: the upper limit carries the referrals' missed links
            recalls[b] = link_recall(con, "support_referrals", b)
            est[b] = BandEstimate(b, float(df["referral_id"].isin(c).sum()), float(len(df)),
                                  recall=recalls[b].recall if recalls[b] is not None else 1.0)
        note = ("interval: the union over the linkage bands of the 95% Wilson intervals, each upper limit with the "
                "referrals the linkage is expected to have missed added")
        h, outs = proportion_headline("court_record_share", "Referrals whose person appears in magistrates' court "
                                      "data", est, band, truth=truth["court"], title="Referred people with a "
                                      "magistrates' court record", population=population,
                                      note=note if any(recalls.values()) else "")
        res.texts.append(("Interval", "The share's interval carries sampling uncertainty (95% Wilson intervals of "
                          "the published counts) and linkage uncertainty: the union of the intervals at the high, "
                          "medium and low bands (a band the spine does not hold gives the estimate of the band "
                          "before it). " + recall_note(recalls, "the support referrals")))
        res.headlines.append(h)
        res.outputs.append(outs[2])
        g = df.assign(group=np.where(df["court_record"], "Court record", "No court record"))
        res.outputs.append(survival_table(g[["group", "duration"]].assign(observed=g["observed"].astype(int)),
                                          "duration", "observed", group="group", title="Time to disengagement, by "
                                          "whether the person appears in magistrates' court data", source=src,
                                          times=(30, 60, 90, 180, 365), acro_check=False))
    return res
