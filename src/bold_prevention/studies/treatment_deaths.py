"""Study 4, deaths after contact with drug and alcohol treatment (the shape of the national suicide study).

People with a drug or alcohol treatment contact (an NDTMS referral, treatment start or discharge) linked to the
spine: deaths, and suicides by ICD-10 underlying cause, within 12 months of a contact in the study period; crude rates per
100,000 against the general population (all registered deaths over a population estimate), with confidence
intervals; and the share of those who died who had criminal justice contact. The definition is
``definitions/treatment_deaths.yaml``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ..linkage.xjs import band_rank
from ..outputs import frequency_table, percentage_table
from ._pilots import link_recall, recall_note
from .base import StudyContext, StudyResult
from .registry import study
from .run import share_headline

_RANK = "CASE {c} WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"
PER = 100_000.0
#: ICD-10 underlying causes counted as suicide: intentional self-harm (X60-X84) and events of undetermined intent
#: (Y10-Y34), as ONS does for people aged 15 and over.
SUICIDE_SQL = ("(substr({c}, 1, 1) = 'X' AND substr({c}, 2, 2) BETWEEN '60' AND '84') OR "
               "(substr({c}, 1, 1) = 'Y' AND substr({c}, 2, 2) BETWEEN '10' AND '34')")
#: Drug-related poisoning and mental and behavioural disorders due to drugs or alcohol (a simplified ONS definition).
DRUG_SQL = ("substr({c}, 1, 3) IN ('X40', 'X41', 'X42', 'X43', 'X44', 'F10', 'F11', 'F12', 'F13', 'F14', 'F15', "
            "'F16', 'F18', 'F19', 'T40', 'K70')")
CAUSES = ("Suicide", "Drug or alcohol related", "Other causes")
JUSTICE = ("n_mags_ever", "n_crown_ever", "n_prison_ever", "n_probation_ever")


def windows(con, follow_days: int, lag_days: int) -> tuple[date, date, date]:
    """(first index date, last index date, end of follow-up): deaths are complete to the latest date of death less
    the registration lag, and each person is followed ``follow_days`` from their first contact."""
    first, = con.execute("SELECT MIN(referral_date) FROM extract.ndtms_episodes").fetchone()
    last_death, = con.execute("SELECT MAX(date_of_death) FROM extract.ons_death_registrations").fetchone()
    end = (last_death or date.today()) - timedelta(days=lag_days)
    return first or end, end - timedelta(days=follow_days), end


def _cause(c: str) -> str:
    return (f"CASE WHEN {c} IS NULL THEN NULL WHEN {SUICIDE_SQL.format(c=c)} THEN '{CAUSES[0]}' "
            f"WHEN {DRUG_SQL.format(c=c)} THEN '{CAUSES[1]}' ELSE '{CAUSES[2]}' END")


def cohort(con, band: str, first: date, last: date, follow_days: int) -> pd.DataFrame:
    """One row per linked person who has a Data First record: first treatment contact in [first, last], death
    within ``follow_days`` (date, cause group), justice contact, sex and age band."""
    r = band_rank(band)
    just = " OR ".join(f"COALESCE(p.{c}, 0) > 0" for c in JUSTICE)
    return con.execute(f"""
        WITH tx AS (
          SELECT pr.person_id, MIN(c.d) AS index_date, MAX(c.d) AS last_contact
          FROM extract.ndtms_episodes e JOIN spine.person_record pr
            ON pr.source_table = 'ndtms_episodes' AND pr.record_id = e.episode_id,
            LATERAL (SELECT UNNEST([e.referral_date, e.treatment_start_date, e.discharge_date]) AS d) c
          WHERE {_RANK.format(c='pr.band_joined')} <= {r} AND c.d BETWEEN DATE '{first}' AND DATE '{last}'
          GROUP BY 1),
        df AS (SELECT DISTINCT person_id FROM spine.person_record WHERE source_table IN ({_spine_tables()})),
        dd AS (
          SELECT pr.person_id, MIN(d.date_of_death) AS date_of_death, arg_min(d.underlying_cause, d.date_of_death) AS cause
          FROM extract.ons_death_registrations d JOIN spine.person_record pr
            ON pr.source_table = 'ons_death_registrations' AND pr.record_id = d.registration_id
          WHERE {_RANK.format(c='pr.band_joined')} <= {r} GROUP BY 1)
        SELECT tx.person_id, tx.index_date,
               dd.date_of_death >= tx.index_date AND dd.date_of_death <= tx.last_contact + {int(follow_days)} AS died,
               {_cause('dd.cause')} AS cause,
               ({just}) AS justice, COALESCE(p.sex, 'U') AS sex, COALESCE(p.age_band, 'Not known') AS age_band
        FROM tx JOIN df ON df.person_id = tx.person_id LEFT JOIN dd ON dd.person_id = tx.person_id
        LEFT JOIN spine.person p ON p.person_id = tx.person_id
    """).df().assign(died=lambda d: d["died"].fillna(False).astype(bool))


def general_deaths(con, start: date, end: date) -> tuple[int, pd.DataFrame]:
    """All registered deaths (linked or not) with a date of death in [start, end], and their cause groups."""
    df = con.execute(f"""SELECT {_cause('underlying_cause')} AS cause FROM extract.ons_death_registrations
                         WHERE date_of_death BETWEEN DATE '{start}' AND DATE '{end}'""").df()
    return len(df), df


def truth(truth_dir, *, first: date, last: date, end: date, follow_days: int) -> dict[str, float]:
    """The synthetic truth: the same rates with every NDTMS episode at its true person and the true deaths
    (``truth_death``), over the same population (people in treatment who have a Data First record)."""
    from .synthetic import has_view, population_connection

    con = population_connection(truth_dir)
    try:
        if not (has_view(con, "ndtms_episodes") and has_view(con, "truth_death")):
            return {}
        df = con.execute(f"""
            WITH tx AS (
              SELECT tr.person_id, MIN(c.d) AS index_date, MAX(c.d) AS last_contact
              FROM ndtms_episodes e JOIN truth_record tr ON tr."table" = 'ndtms_episodes'
                AND tr.record_id = e.episode_id,
                LATERAL (SELECT UNNEST([CAST(e.referral_date AS DATE), CAST(e.treatment_start_date AS DATE),
                                        CAST(e.discharge_date AS DATE)]) AS d) c
              WHERE c.d BETWEEN DATE '{first}' AND DATE '{last}' GROUP BY 1),
            df AS (SELECT DISTINCT person_id FROM truth_record WHERE "table" IN ({_spine_tables()}))
            SELECT tx.person_id,
                   COALESCE(d.date_of_death >= tx.index_date AND d.date_of_death <= tx.last_contact + {follow_days},
                            FALSE) AS died,
                   {_cause('d.underlying_cause')} AS cause
            FROM tx JOIN df ON df.person_id = tx.person_id
            LEFT JOIN truth_death d ON d.person_id = tx.person_id""").df()
        n_pop = None
        manifest = truth_dir.parent / "manifest.json"
        if manifest.is_file():
            n_pop = json.loads(manifest.read_text(encoding="utf-8")).get("persons")
        gen = con.execute(f"SELECT count(*) FROM truth_death WHERE date_of_death BETWEEN DATE '{end - timedelta(days=364)}' "
                          f"AND DATE '{end}'").fetchone()[0]
    finally:
        con.close()
    out: dict[str, float] = {}
    if len(df):
        died = df["died"].astype(bool)
        out["deaths_12m"] = PER * float(died.sum()) / len(df)
        out["suicides_12m"] = PER * float((died & (df["cause"] == CAUSES[0])).sum()) / len(df)
    if n_pop:
        out["general_deaths"] = PER * float(gen) / float(n_pop)
    return out


def _spine_tables() -> str:
    """The tables whose persons the spine holds (the Data First model's), as an SQL list."""
    from ..datafirst import MODEL

    return ", ".join(f"'{t}'" for t in MODEL.table_names)


def population_estimate(ctx: StudyContext) -> int | None:
    """The population the general rate is over: the ``population_estimate`` parameter (a mid-year estimate), or
    on synthetic data the synthetic population's size (its stand-in)."""
    v = ctx.params.get("population_estimate")
    if isinstance(v, int | float) and v > 0:
        return int(v)
    if ctx.truth_dir is not None:
        m = ctx.truth_dir.parent / "manifest.json"
        if m.is_file():
            n = json.loads(m.read_text(encoding="utf-8")).get("persons")
            return int(n) if n else None
    return None


@study("treatment_deaths", kinds=("rates", "comparison", "causes", "justice_share"),
       measures=("died_12m", "suicide_12m", "general_rate", "justice_contact"),
       sources=("ndtms", "deaths", "justice"))
def run(ctx: StudyContext) -> StudyResult:
    spec, con, p = ctx.spec, ctx.con, ctx.params
    follow, lag = int(p.get("follow_up_days", 365)), int(p.get("registration_lag_days", 90))
    rules = p.get("rules")
    res = StudyResult(spec.name, ctx.band)
    first, last, end = windows(con, follow, lag)
    df = cohort(con, ctx.band, first, last, follow)
    tr = truth(ctx.truth_dir, first=first, last=last, end=end, follow_days=follow) if ctx.truth_dir else {}
    n = len(df)
    died = df["died"]
    # a death counts only when its registration is linked: the upper limits carry the deaths' missed links
    rc = link_recall(con, "ons_death_registrations", ctx.band)
    recall = rc.recall if rc is not None else None
    note = ("Interval: the 95% Wilson interval of the published counts; its upper limit with the death "
            "registrations the linkage is expected to have missed added.") if recall is not None else ""
    res.headlines.append(share_headline("deaths_12m", "Deaths within 12 months of a treatment contact, per "
                                        "100,000 people", int(died.sum()), n, per=PER, units="per 100,000",
                                        decimals=0, truth=tr.get("deaths_12m"), rules=rules, recall=recall,
                                        note=note))
    sui = died & (df["cause"] == CAUSES[0])
    res.headlines.append(share_headline("suicides_12m", "Suicides within 12 months of a treatment contact, "
                                        "per 100,000 people", int(sui.sum()), n, per=PER, units="per 100,000",
                                        decimals=0, truth=tr.get("suicides_12m"), rules=rules, recall=recall,
                                        note=note))
    res.texts.append(("Interval", "Each rate's interval carries sampling uncertainty (95% Wilson interval of the "
                      "published counts) and the sensitivity to the linkage band is shown by band. "
                      + recall_note({ctx.band: rc}, "the death registrations")))
    pop = population_estimate(ctx)
    g_start = end - timedelta(days=follow - 1)
    if pop:
        g, gdf = general_deaths(con, g_start, end)
        res.headlines.append(share_headline("general_deaths", "General population: deaths in the latest 12 months, "
                                            "per 100,000 people", g, pop, per=PER, units="per 100,000", decimals=0,
                                            truth=tr.get("general_deaths"), rules=rules,
                                            note="All registered deaths over the population estimate (crude, not "
                                                 "standardised for age or sex)."))
    else:
        res.not_available.append("the general population rate: no population estimate (give the parameter "
                                 "population_estimate, a mid-year estimate, or run on a synthetic population with "
                                 "--truth)")
    if "justice" in ctx.missing_sources:
        res.not_available.append("the share with justice contact: the spine is not built")
    elif died.sum():
        dj = df[died]
        res.headlines.append(share_headline("justice_contact", "Of those who died within 12 months: share with "
                                            "criminal justice contact", int(dj["justice"].fillna(False).sum()),
                                            len(dj), rules=rules))
    src = "NDTMS episodes and ONS death registrations linked to the justice spine (synthetic)"
    if n:
        d2 = df.assign(Outcome=np.where(died, df["cause"].fillna(CAUSES[2]), "Alive at 12 months"),
                       Sex=df["sex"], **{"Age band": df["age_band"]})
        levels = {"Outcome": [*CAUSES, "Alive at 12 months"]}
        for col, nm in (("Sex", "td_outcome_by_sex"), ("Age band", "td_outcome_by_age")):
            t = frequency_table(d2, col, "Outcome", title=f"People in treatment: death within 12 months by cause, "
                                f"by {col.lower()}", name=nm, levels=levels, rules=rules, source=src)
            res.outputs += [t, percentage_table(t, of="row", name=f"{nm}_pct")]
        dj = d2[died].assign(**{"Justice contact": np.where(df.loc[died, "justice"].fillna(False), "Yes", "No")})
        if len(dj):
            res.outputs.append(frequency_table(dj, "Outcome", "Justice contact", title="Deaths within 12 months of "
                                               "treatment contact, by cause and criminal justice contact",
                                               name="td_deaths_justice", levels={"Outcome": list(CAUSES),
                                                                                 "Justice contact": ["Yes", "No"]},
                                               rules=rules, source=src))
    res.texts.append(("Study period", f"First treatment contacts from {first.isoformat()} to {last.isoformat()}; "
                      f"deaths to {end.isoformat()} (the latest date of death less {lag} days for late "
                      f"registrations). The general population rate counts deaths from {g_start.isoformat()} to "
                      f"{end.isoformat()}."))
    return res
