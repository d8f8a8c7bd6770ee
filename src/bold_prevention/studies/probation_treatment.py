"""Study 1, probation to treatment (the shape of "Pathways between probation and addiction treatment in England").

People sentenced to a community or suspended sentence order with a drug rehabilitation (DRR) or alcohol treatment
(ATR) requirement: the share starting structured treatment (NDTMS) within 3 weeks and within 6 months of the
requirement's start, the time to treatment start (Kaplan-Meier), how the treatment episode ended, by requirement
type, probation area, sex and age band; and the people on an order with an OASys drug or alcohol need who got
no such requirement. The definition is ``definitions/probation_treatment.yaml``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ..linkage.xjs import band_rank
from ..outputs import frequency_table, percentage_table, survival_table
from ..spine.sources import resolved_sql
from ..trajectories.time_to_event import time_to_event
from ..warehouse.engine import sql_literal
from ._pilots import IMPROVED_ID_NOTE, improved_persons, link_recall, recall_note, spine_xjs_id
from .base import StudyContext, StudyResult
from .registry import study
from .run import share_headline

TYPE_LABELS = {"D": "Drug rehabilitation (DRR)", "AT": "Alcohol treatment (ATR)"}
OUTCOMES = ("Within 3 weeks", "3 weeks to 6 months", "Not within 6 months")
COMPLETED = ("CFREE", "COCC")
EXIT_LABELS = {"CFREE": "Completed", "COCC": "Completed", "DROP": "Dropped out", "TRANS": "Transferred",
               "PRIS": "Other", "DIED": "Other", "DECL": "Other"}
_RANK = "CASE {c} WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"


def _codes(ctx: StudyContext) -> list[str]:
    return [str(c) for c in ctx.params.get("requirement_codes", ["D", "AT"])]


def data_end(con) -> date:
    """The end of follow-up: the latest NDTMS referral date (treatment data are complete up to it)."""
    v = con.execute("SELECT MAX(referral_date) FROM extract.ndtms_episodes").fetchone()[0]
    return v if v is not None else date.today()


def _treatment_episodes(con, band: str) -> pd.DataFrame:
    """Linked NDTMS episodes with a treatment start: person, start, discharge reason."""
    return con.execute(f"""
        SELECT pr.person_id, e.treatment_start_date AS tx_start, e.discharge_reason
        FROM extract.ndtms_episodes e JOIN spine.person_record pr
          ON pr.source_table = 'ndtms_episodes' AND pr.record_id = e.episode_id
        WHERE e.treatment_start_date IS NOT NULL AND {_RANK.format(c='pr.band_joined')} <= {band_rank(band)}
    """).df()


def _first_episode(d: pd.DataFrame, eps: pd.DataFrame, long_days: int) -> pd.Series:
    """The discharge reason of the first treatment episode starting within ``long_days`` of each start (NaN if
    none; 'OPEN' if still in treatment)."""
    if d.empty or eps.empty:
        return pd.Series([np.nan] * len(d), index=d.index, dtype=object)
    m = d[["person_id", "start_date"]].reset_index().merge(eps, on="person_id")
    m["tx_start"] = pd.to_datetime(m["tx_start"])
    m = m[(m["tx_start"] >= m["start_date"]) & (m["tx_start"] <= m["start_date"] + pd.Timedelta(days=long_days))]
    m = m.sort_values("tx_start").drop_duplicates("index")
    reason = m.set_index("index")["discharge_reason"].fillna("OPEN")
    return reason.reindex(d.index)


def as_study_persons(d: pd.DataFrame, eps: pd.DataFrame, persons: pd.DataFrame | None, max_days: float | None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The starts ``d`` (one per spine person, from :func:`time_to_event`) and treatment episodes ``eps`` on the
    study's persons (``persons``: ``person_id -> study_person``, see :func:`._pilots.improved_persons`): each study
    person's first start, observed when any of its episodes starts on or after it and no later than the start's
    censoring time (the same rule as :func:`time_to_event`). ``person_id`` stays the spine person of the start (for
    its area, sex and age); the episodes' ``person_id`` becomes the study person, as does ``study_person`` of the
    starts. Without ``persons`` both come back unchanged (``study_person`` is the spine person)."""
    d = d.copy()
    if persons is None or persons.empty:
        d["study_person"] = d["person_id"]
        return d, eps
    m = dict(zip(persons["person_id"].astype(str), persons["study_person"].astype(str), strict=True))
    d["study_person"] = d["person_id"].astype(str).map(m).fillna(d["person_id"].astype(str))
    d = (d.sort_values(["start_date", "person_id"], kind="mergesort").drop_duplicates("study_person")
         .sort_index().reset_index(drop=True))
    eps = eps.assign(person_id=eps["person_id"].astype(str).map(m).fillna(eps["person_id"].astype(str)))
    if eps.empty or d.empty:
        return d, eps
    j = d[["study_person", "start_date"]].reset_index().merge(eps[["person_id", "tx_start"]],
                                                             left_on="study_person", right_on="person_id")
    wait = (pd.to_datetime(j["tx_start"]) - pd.to_datetime(j["start_date"])).dt.days
    j = j.assign(wait=wait)[wait >= 0]
    first = j.groupby("index")["wait"].min().reindex(d.index)
    # the start's censoring time: its own duration when censored; when observed, the censoring time is at least
    # the duration (and an earlier episode of the same study person can only shorten it)
    limit = d["duration"].where(~d["observed"], np.inf)
    if max_days is not None:
        limit = limit.clip(upper=float(max_days))
    hit = first.notna() & (first <= limit)
    d["observed"] = d["observed"] | hit
    d["duration"] = np.where(hit, np.maximum(np.minimum(first.fillna(np.inf), d["duration"]), 0.5), d["duration"])
    return d, eps


def _areas(con, band: str, codes: list[str]) -> pd.DataFrame:
    inner = resolved_sql("moj_probation_rqmnts", ["rqmnt_start_date", "event_id_hash",
                                                  "rqmnt_type_main_category_code"])
    lit = ", ".join(sql_literal(c) for c in codes)
    return con.execute(f"""
        SELECT r._person_id AS person_id, CAST(r.rqmnt_start_date AS DATE) AS start_date,
               ANY_VALUE(COALESCE(f.probation_area_desc, 'Not known')) AS area
        FROM ({inner}) r JOIN extract.moj_probation_flatfile f ON f.event_id_hash = r.event_id_hash
        WHERE r.rqmnt_type_main_category_code IN ({lit}) AND {_RANK.format(c='r._band_joined')} <= {band_rank(band)}
        GROUP BY 1, 2""").df()


def _outcome(d: pd.DataFrame, short: int, long_: int) -> pd.Series:
    early = d["observed"] & (d["duration"] <= short)
    late = d["observed"] & (d["duration"] <= long_) & ~early
    return pd.Series(np.where(early, OUTCOMES[0], np.where(late, OUTCOMES[1], OUTCOMES[2])), index=d.index)


def _shares(d: pd.DataFrame, end: date, short: int, long_: int) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of starting within ``short`` and ``long_`` days, among starts followed that long."""
    out = {}
    for key, days in (("started_3w", short), ("started_6m", long_)):
        full = d[pd.to_datetime(d["start_date"]) + pd.Timedelta(days=days) <= pd.Timestamp(end)]
        out[key] = (int((full["observed"] & (full["duration"] <= days)).sum()), int(len(full)))
    return out


def truth(truth_dir, *, codes: list[str], end: date, short: int, long_: int) -> dict[str, float]:
    """The synthetic truth: the same shares (and completion) with every record at its true person."""
    from .synthetic import has_view, population_connection

    con = population_connection(truth_dir)
    try:
        if not (has_view(con, "ndtms_episodes") and has_view(con, "moj_probation_rqmnts")):
            return {}
        lit = ", ".join(sql_literal(c) for c in codes)
        df = con.execute(f"""
            WITH rq AS (
              SELECT tr.person_id, CAST(r.rqmnt_start_date AS DATE) AS start_date
              FROM moj_probation_rqmnts r JOIN moj_probation_flatfile f ON f.event_id_hash = r.event_id_hash
              JOIN truth_record tr ON tr."table" = 'moj_probation_flatfile' AND tr.record_id = f.row_id_hash
              WHERE r.rqmnt_type_main_category_code IN ({lit}) AND r.rqmnt_start_date IS NOT NULL
              QUALIFY row_number() OVER (PARTITION BY tr.person_id ORDER BY r.rqmnt_start_date, r.rqmnt_id_hash) = 1),
            tx AS (
              SELECT tr.person_id, CAST(e.treatment_start_date AS DATE) AS d, e.discharge_reason
              FROM ndtms_episodes e JOIN truth_record tr ON tr."table" = 'ndtms_episodes'
                AND tr.record_id = e.episode_id WHERE e.treatment_start_date IS NOT NULL)
            SELECT rq.person_id, rq.start_date,
                   (SELECT MIN(tx.d) FROM tx WHERE tx.person_id = rq.person_id AND tx.d >= rq.start_date) AS first_tx,
                   (SELECT arg_min(coalesce(tx.discharge_reason, 'OPEN'), tx.d) FROM tx
                     WHERE tx.person_id = rq.person_id AND tx.d >= rq.start_date
                       AND tx.d <= rq.start_date + {long_}) AS reason
            FROM rq WHERE rq.start_date <= DATE '{end.isoformat()}'""").df()
    finally:
        con.close()
    if df.empty:
        return {}
    sd = pd.to_datetime(df["start_date"])
    wait = (pd.to_datetime(df["first_tx"]) - sd).dt.days
    out: dict[str, float] = {}
    for key, days in (("started_3w", short), ("started_6m", long_)):
        full = sd + pd.Timedelta(days=days) <= pd.Timestamp(end)
        if full.sum():
            out[key] = 100.0 * float(((wait <= days) & full).sum()) / float(full.sum())
    fin = df["reason"].notna() & (df["reason"] != "OPEN") & (sd + pd.Timedelta(days=long_) <= pd.Timestamp(end))
    if fin.sum():
        out["completed"] = 100.0 * float(df.loc[fin, "reason"].isin(COMPLETED).sum()) / float(fin.sum())
    return out


def _unmet_need(con, band: str, codes: list[str]) -> pd.DataFrame | None:
    """Persons on a community or suspended sentence order with an OASys drug or alcohol (substance misuse) need,
    and whether any of their orders carried a DRR or ATR requirement."""
    ev = resolved_sql("moj_probation_flatfile", ["disposal_type_description", "event_id_hash"])
    lit = ", ".join(sql_literal(c) for c in codes)
    return con.execute(f"""
        WITH orders AS (
          SELECT DISTINCT e._person_id AS person_id, e.event_id_hash FROM ({ev}) e
          WHERE e.disposal_type_description IN ('Community Order', 'Suspended Sentence Order')
            AND {_RANK.format(c='e._band_joined')} <= {band_rank(band)}),
        need AS (
          SELECT person_id FROM spine.person_need
          WHERE driver = 'substance_misuse' AND value AND evidence_dataset = 'oasys')
        SELECT o.person_id,
               bool_or(r.rqmnt_type_main_category_code IN ({lit})) AS has_requirement
        FROM orders o JOIN need n ON n.person_id = o.person_id
        LEFT JOIN extract.moj_probation_rqmnts r ON r.event_id_hash = o.event_id_hash
        GROUP BY o.person_id""").df()


@study("probation_treatment", kinds=("shares", "exits", "unmet_need"),
       measures=("started_3w", "started_6m", "time_to_treatment", "completed", "unmet_need"),
       sources=("probation", "ndtms", "oasys", "deaths"))
def run(ctx: StudyContext) -> StudyResult:
    spec, con, p = ctx.spec, ctx.con, ctx.params
    short, long_ = int(p.get("short_days", 21)), int(p.get("long_days", 182))
    codes = _codes(ctx)
    end = data_end(con)
    res = StudyResult(spec.name, ctx.band)
    tte = spec.analysis("time_to_treatment").time_to_event
    if "deaths" in ctx.missing_sources and tte.censor.at_events:
        tte = tte.model_copy(update={"censor": tte.censor.model_copy(update={"at_events": []})})
        res.not_available.append("censoring at death: deaths are not linked, so follow-up is censored only at the "
                                 "end of the data")
    d = time_to_event(con, tte, events=spec.events_by_name(), band=ctx.band, data_end=end)
    eps = _treatment_episodes(con, ctx.band)
    persons = improved_persons(con)
    d, eps = as_study_persons(d, eps, persons, tte.censor.max_days)
    if persons is not None:
        res.texts.append(("Persons", IMPROVED_ID_NOTE))
    elif spine_xjs_id(con) != "improved":
        res.texts.append(("Persons", "Persons: the spine's persons, built on the published XJS person id. A "
                          "requirement on one XJS fragment of a person and a treatment episode linked to another "
                          "do not meet, so the shares are too low; run `bold link xjs-audit` (the improved person "
                          "id) and rerun the study."))
    code_col = tte.group_by or "rqmnt_type_main_category_code"
    d["Requirement"] = d[code_col].map(TYPE_LABELS).fillna("Other") if code_col in d else "All"
    rules = p.get("rules")
    # headlines
    tr = truth(ctx.truth_dir, codes=codes, end=end, short=short, long_=long_) if ctx.truth_dir else {}
    sh = _shares(d, end, short, long_)
    # a start counts only when its NDTMS episode is linked: the upper limits carry the episodes' missed links
    rc = link_recall(con, "ndtms_episodes", ctx.band)
    recall = rc.recall if rc is not None else None
    note = ("Interval: the 95% Wilson interval of the published counts; its upper limit with the treatment "
            "episodes the linkage is expected to have missed added.") if recall is not None else ""
    res.headlines.append(share_headline("started_3w", f"Started structured treatment within {short} days of the "
                                        "requirement", *sh["started_3w"], truth=tr.get("started_3w"), rules=rules,
                                        recall=recall, note=note))
    res.headlines.append(share_headline("started_6m", f"Started structured treatment within {long_} days of the "
                                        "requirement", *sh["started_6m"], truth=tr.get("started_6m"), rules=rules,
                                        recall=recall, note=note))
    res.texts.append(("Interval", "Each share's interval carries sampling uncertainty (95% Wilson interval of the "
                      "published counts) and the sensitivity to the linkage band is shown by band. "
                      + recall_note({ctx.band: rc}, "the NDTMS treatment episodes")))
    d["reason"] = _first_episode(d.assign(person_id=d["study_person"]), eps, long_)
    full = d[pd.to_datetime(d["start_date"]) + pd.Timedelta(days=long_) <= pd.Timestamp(end)].copy()
    fin = full[full["reason"].notna() & (full["reason"] != "OPEN")]
    res.headlines.append(share_headline("completed", "Treatment episodes (started within 6 months) that ended in "
                                        "completion", int(fin["reason"].isin(COMPLETED).sum()), int(len(fin)),
                                        truth=tr.get("completed"), rules=rules))
    # tables
    src = "NDTMS episodes linked to nDelius requirements (synthetic)"
    if not d.empty:
        res.outputs.append(survival_table(d.assign(observed=d["observed"].astype(int)), "duration", "observed",
                                          group="Requirement", title="Time from requirement start to structured "
                                          "treatment start (Kaplan-Meier)", name="pt_time_to_treatment",
                                          times=[7, 14, 21, 28, 42, 56, 91, 182, 273, 365], rules=rules,
                                          source=src, acro_check=bool(p.get("acro_check", False))))
    full["Outcome"] = _outcome(full, short, long_)
    if not full.empty:
        by_type = frequency_table(full, "Requirement", "Outcome", title="People with a DRR or ATR requirement: "
                                  "when they started structured treatment", name="pt_outcome_by_type",
                                  levels={"Outcome": list(OUTCOMES)}, rules=rules, source=src)
        res.outputs += [by_type, percentage_table(by_type, of="row", name="pt_outcome_by_type_pct")]
        areas = _areas(con, ctx.band, codes)
        full = full.merge(areas, on=["person_id", "start_date"], how="left")
        full["area"] = full["area"].fillna("Not known")
        full["Started within 6 months"] = np.where(full["Outcome"] != OUTCOMES[2], "Yes", "No")
        person = con.execute("SELECT person_id, sex AS \"Sex\", age_band AS \"Age band\" FROM spine.person").df()
        full = full.merge(person, on="person_id", how="left")
        for col, nm, title in (("area", "pt_started_by_area", "probation area"), ("Sex", "pt_started_by_sex", "sex"),
                               ("Age band", "pt_started_by_age", "age band")):
            t = frequency_table(full.rename(columns={"area": "Probation area"}),
                                "Probation area" if col == "area" else col, "Started within 6 months",
                                title=f"Started structured treatment within 6 months, by {title}", name=nm,
                                levels={"Started within 6 months": ["Yes", "No"]}, rules=rules, source=src)
            res.outputs.append(t)
        ex = full[full["reason"].notna()].copy()
        if not ex.empty:
            ex["Exit"] = ex["reason"].map(EXIT_LABELS).fillna("Still in treatment")
            res.outputs.append(frequency_table(ex, "Requirement", "Exit", title="How the first treatment episode "
                                               "(started within 6 months) ended", name="pt_exits",
                                               levels={"Exit": ["Completed", "Dropped out", "Transferred", "Other",
                                                                "Still in treatment"]}, rules=rules, source=src))
    # unmet need (OASys)
    if "oasys" in ctx.missing_sources:
        res.not_available.append("people with an OASys drug or alcohol need and no requirement: OASys is not "
                                 "loaded")
    else:
        un = _unmet_need(con, ctx.band, codes)
        if un is not None and not un.empty:
            un["Requirement"] = np.where(un["has_requirement"].fillna(False), "DRR or ATR", "Neither")
            t = frequency_table(un, "Requirement", title="People on a community or suspended sentence order with an "
                                "OASys drug or alcohol need, by whether they got a DRR or ATR", name="pt_unmet_need",
                                levels={"Requirement": ["DRR or ATR", "Neither"]}, rules=rules,
                                source="nDelius and OASys (synthetic)")
            res.outputs += [t, percentage_table(t, name="pt_unmet_need_pct")]
            n_none = int((un["Requirement"] == "Neither").sum())
            res.headlines.append(share_headline("unmet_need", "People on an order with an OASys drug or alcohol "
                                                "need who got no DRR or ATR", n_none, int(len(un)), rules=rules,
                                                note="No synthetic truth: OASys records a need, not the latent one."))
    res.texts.append(("Follow-up", f"Follow-up ends at the latest NDTMS referral date ({end.isoformat()}); each "
                      f"share counts only people whose requirement started at least {short} (or {long_}) days "
                      "before it."))
    return res

