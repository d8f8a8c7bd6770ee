"""Render the simulated justice process as Data First-shaped frames: magistrates', Crown Court, journeys,
prisons, probation (events and requirements) and OASys (metadata and every detail table)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from ..datafirst import codes as K
from .common import (
    NA,
    Frame,
    age_at,
    choose,
    coded,
    day,
    explode,
    hex_ids,
    rng_for,
    uniform_days,
)
from .events import (
    _CODE_COUNT,
    _CODE_START,
    ALL_OFFENCE_CODES,
    D_CO,
    D_CUS,
    D_PSR,
    D_PSS,
    D_SSO,
    DISPOSALS,
    GROUP_TYPE,
    OFFENCE_GROUPS,
    PRISONS,
    PRISONS_MEN,
    PRISONS_WOMEN,
    RQMNT_LABELS,
    RQMNT_TERM,
    RQMNTS,
    S_CO,
    S_CUS,
    S_SSO,
    Justice,
)
from .oasys import oasys_frames
from .params import NEEDS, SynthParams
from .population import Population


def _cov(P: SynthParams, table: str) -> tuple[int, int]:
    from ..datafirst import MODEL

    a, b = MODEL.dataset_of(table).coverage
    return max(day(a), day(P.start)), min(day(b), day(P.end))


def _clip_future(d: np.ndarray, end: int) -> np.ndarray:
    return np.where((d != NA) & (d > end), NA, d).astype(np.int32)


def justice_frames(pop: Population, P: SynthParams, seed: int, J: Justice) -> dict[str, Frame]:
    frames: dict[str, Frame] = {}
    rng = rng_for(seed, "justice-render")
    cases, cr = J.cases, J.court
    n_cases = len(cases.person)
    idx = np.arange(n_cases)

    # ------------------------------------------------------------------ magistrates' cases
    lo, hi = _cov(P, "mags_defendant_case")
    m = idx[(cr.first_hearing <= hi) & (cases.offence_day >= lo)]
    final = _clip_future(cr.mags_final[m], hi)
    pending = final == NA
    outcome = np.where(pending, -1, cr.mags_outcome[m])
    sentence = np.where(pending, -1, cr.mags_sentence[m])
    breach = cr.breach[m]
    proc = np.where(breach, 1, np.where(rng.random(len(m)) < 0.01, 2, 0))
    f = Frame("mags_defendant_case", person=cases.person[m], when=cr.first_hearing[m], group="justice", key=m)
    f.columns = {
        "row_id_hash": hex_ids(m, "mags_defendant_case", seed),
        "case_id_hash": hex_ids(m, "mags_case", seed),
        "defendant_id_hash": hex_ids(m, "mags_defendant", seed),
        "estimated_defendant_id": None,
        "main_offence_date": cases.offence_day[m],
        "first_hearing_date": cr.first_hearing[m],
        "final_result_date": final,
        "main_offence_code": coded(cr.code[m], ALL_OFFENCE_CODES),
        "offence_group": coded(cr.group[m], OFFENCE_GROUPS),
        "offence_type": coded(GROUP_TYPE[cr.group[m]], K.OFFENCE_TYPE.values),
        "proceedings_type_desc": coded(proc, K.PROCEEDINGS_TYPE.values),
        "breach_marker": coded(np.where(breach, 0, 1), K.BREACH_MARKER.values),  # Y / N
        "plea": coded(cr.plea[m], K.MAGS_PLEA.values),
        "outcome": coded(outcome, K.MAGS_OUTCOME.values),
        "sentence": coded(sentence, K.SENTENCE.values),
        "committed_to_crown": cr.to_crown[m],
        "age_at_offence": age_at(pop.dob[cases.person[m]], cases.offence_day[m]).astype(np.int64),
    }
    frames[f.table] = f
    mags_rows = m

    # offences of each magistrates' case
    par, ordinal = explode(cr.n_offences[m])
    pc = m[par]
    same = rng.random(len(par)) < 0.6
    grp = np.where((ordinal == 0) | same, cr.group[pc], choose(rng, np.ones(len(OFFENCE_GROUPS) - 1), len(par)))
    code = np.where(ordinal == 0, cr.code[pc],
                    _CODE_START[grp] + (rng.random(len(par)) * _CODE_COUNT[grp]).astype(np.int64))
    odate = np.where(ordinal == 0, cases.offence_day[pc],
                     np.maximum(cases.offence_day[pc] - rng.integers(0, 30, len(par)), lo)).astype(np.int32)
    off_outcome = np.where(pending[par], -1, cr.mags_outcome[pc])
    drop = (ordinal > 0) & (off_outcome == 0) & (rng.random(len(par)) < 0.1)
    off_outcome = np.where(drop, 3, off_outcome)  # some further charges withdrawn
    oid = np.cumsum(np.ones(len(par), dtype=np.int64)) - 1
    frames["mags_defendant_offence"] = Frame("mags_defendant_offence", columns={
        "offence_id_hash": hex_ids(oid, "mags_offence", seed),
        "row_id_hash": hex_ids(pc, "mags_defendant_case", seed),
        "offence_seq": (ordinal + 1).astype(np.int64),
        "offence_date": odate,
        "offence_code": coded(code, ALL_OFFENCE_CODES),
        "offence_group": coded(grp, OFFENCE_GROUPS),
        "plea": coded(cr.plea[pc], K.MAGS_PLEA.values),
        "outcome": coded(off_outcome, K.MAGS_OUTCOME.values),
    })

    # ------------------------------------------------------------------ Crown Court
    lo, hi = _cov(P, "crown_defendant_case")
    c = idx[(cr.crown_type >= 0) & (cr.crown_receipt >= lo) & (cr.crown_receipt <= hi)]
    sday = cr.crown_sentence_day[c]
    decided = (sday != NA) & (sday <= hi) | ((cr.crown_outcome[c] > 0) & (cr.crown_receipt[c] + 120 <= hi))
    c_out = np.where(decided, cr.crown_outcome[c], -1)
    c_sent = np.where(decided & (sday != NA), cr.crown_sentence[c], -1)
    f = Frame("crown_defendant_case", person=cases.person[c], when=cr.crown_receipt[c], group="justice", key=c)
    f.columns = {
        "row_id_hash": hex_ids(c, "crown_defendant_case", seed),
        "defendant_on_case_id_hash": hex_ids(c, "crown_doc", seed),
        "estimated_defendant_id": None,
        "case_type": coded(cr.crown_type[c], K.CROWN_CASE_TYPE.values),
        "receipt_date": cr.crown_receipt[c],
        "main_offence_date": cases.offence_day[c],
        "main_offence_code": coded(cr.code[c], ALL_OFFENCE_CODES),
        "offence_group": coded(cr.group[c], OFFENCE_GROUPS),
        "plea": coded(np.where(cr.crown_type[c] == 2, -1, cr.crown_plea[c]), K.CROWN_PLEA.values),
        "outcome": coded(c_out, K.CROWN_OUTCOME.values),
        "sentence": coded(c_sent, K.SENTENCE.values),
        "sentence_date": np.where(c_sent >= 0, sday, NA).astype(np.int32),
        "custodial_period_days": np.where(c_sent == S_CUS, cr.custody_days[c], NA).astype(np.int64),
        "age_at_offence": age_at(pop.dob[cases.person[c]], cases.offence_day[c]).astype(np.int64),
    }
    frames[f.table] = f
    par, ordinal = explode(cr.n_offences[c])
    pc = c[par]
    res = np.where(ordinal == 0, c_out[par], np.where(rng.random(len(par)) < 0.15, 4, c_out[par]))
    res = np.where(c_out[par] < 0, -1, res)
    grp = cr.group[pc]
    code = np.where(ordinal == 0, cr.code[pc], _CODE_START[grp] + (rng.random(len(par)) * _CODE_COUNT[grp]).astype(
        np.int64))
    frames["crown_defendant_offence"] = Frame("crown_defendant_offence", columns={
        "defendant_on_offence_id_hash": hex_ids(np.arange(len(par)), "crown_offence", seed),
        "row_id_hash": hex_ids(pc, "crown_defendant_case", seed),
        "offence_seq": (ordinal + 1).astype(np.int64),
        "offence_code": coded(code, ALL_OFFENCE_CODES),
        "offence_group": coded(grp, OFFENCE_GROUPS),
        "result": coded(res, K.CROWN_OUTCOME.values),
    })

    # ------------------------------------------------------------------ magistrates' -> Crown journeys
    jc = c[np.isin(c, mags_rows) & (cr.crown_type[c] != 2)]
    appeals = c[np.isin(c, mags_rows) & (cr.crown_type[c] == 2)]
    jc = np.sort(np.concatenate([jc, appeals]))
    frames["mags_crown_journey"] = Frame("mags_crown_journey", columns={
        "mags_row_id_hash": hex_ids(jc, "mags_defendant_case", seed),
        "crown_row_id_hash": hex_ids(jc, "crown_defendant_case", seed),
        "mc_case_id_hash": hex_ids(jc, "mags_case", seed),
        "cc_defendant_on_case_id_hash": hex_ids(jc, "crown_doc", seed),
        "estimated_match_score": np.round(1 - rng.beta(1, 40, len(jc)), 4),
    })

    # ------------------------------------------------------------------ prison journeys and incidents
    jr = J.journeys
    lo, hi = _cov(P, "prison_custodial_journey")
    sel = ((jr["reception"] <= hi) & (jr["release"] >= lo)).to_numpy()
    jidx = np.flatnonzero(sel)
    person = jr["person"].to_numpy()[jidx].astype(np.int32)
    rec = jr["reception"].to_numpy()[jidx].astype(np.int32)
    rel = jr["release"].to_numpy()[jidx].astype(np.int32)
    out = rel > hi
    sday = jr["sentence_day"].to_numpy()[jidx].astype(np.int32)
    unsentenced = sday > hi  # remanded, not yet sentenced at the end of the extract
    male = pop.male[person]
    est_m = np.array([PRISONS.index(x) for x in PRISONS_MEN])[rng.integers(0, len(PRISONS_MEN), len(jidx))]
    est_w = np.array([PRISONS.index(x) for x in PRISONS_WOMEN])[rng.integers(0, len(PRISONS_WOMEN), len(jidx))]
    f = Frame("prison_custodial_journey", person=person, when=rec, group="justice", key=jidx)
    f.columns = {
        "row_id_hash": hex_ids(jidx, "prison_custodial_journey", seed),
        "estimated_offender_id": None,
        "reception_date": rec,
        "admission_reason": coded(jr["admission"].to_numpy()[jidx], K.ADMISSION_REASON.values),
        "sentence_date": np.where(unsentenced, NA, sday).astype(np.int32),
        "sentence_length_days": np.where(unsentenced, NA, jr["length"].to_numpy()[jidx]).astype(np.int64),
        "main_offence_group": coded(jr["group"].to_numpy()[jidx], OFFENCE_GROUPS),
        "release_date": np.where(out, NA, rel).astype(np.int32),
        "release_reason": coded(np.where(out, -1, jr["release_reason"].to_numpy()[jidx]), K.RELEASE_REASON.values),
        "establishment": coded(np.where(male, est_m, est_w), PRISONS),
        "age_at_reception": age_at(pop.dob[person], rec).astype(np.int64),
    }
    frames[f.table] = f
    sc = pop.score[person]
    ni = {d: i for i, d in enumerate(NEEDS)}
    stay_end = np.minimum(rel, hi)
    days_in = (stay_end - rec + 1).clip(1)
    lam = 0.25 * np.exp(0.6 * sc[:, ni["mental_health"]] + 0.3 * sc[:, ni["substance_misuse"]]) * days_in / 365
    k = rng.poisson(lam)
    par, _ = explode(k)
    p_self = np.clip(0.35 + 0.15 * sc[par, ni["mental_health"]], 0.05, 0.9)
    itype = np.where(rng.random(len(par)) < p_self, 0, choose(rng, (0.2, 0.4, 0.399, 0.001), len(par)) + 1)
    frames["prison_safety_in_custody"] = Frame("prison_safety_in_custody", columns={
        "incident_id_hash": hex_ids(np.arange(len(par)), "prison_incident", seed),
        "row_id_hash": hex_ids(jidx[par], "prison_custodial_journey", seed),
        "incident_date": uniform_days(rng, rec[par], stay_end[par]),
        "incident_type": coded(itype, K.CUSTODY_INCIDENT.values),
    })

    # ------------------------------------------------------------------ probation events
    pf, req = _probation(pop, P, seed, J, rng)
    frames.update(pf)
    frames.update(req)

    # ------------------------------------------------------------------ OASys
    frames.update(oasys_frames(pop, P, seed, J))
    return frames


def _probation(pop: Population, P: SynthParams, seed: int, J: Justice, rng: np.random.Generator
               ) -> tuple[dict[str, Frame], dict[str, Frame]]:
    cases, cr = J.cases, J.court
    lo, hi = _cov(P, "moj_probation_flatfile")
    idx = np.arange(len(cases.person))
    conv = idx[(cr.sentence >= 0) & (cr.sentence_day != NA)]
    s = cr.sentence[conv]
    parts = []
    # community and suspended sentence orders
    co = conv[(s == S_CO) | (s == S_SSO)]
    is_sso = cr.sentence[co] == S_SSO
    length = cr.order_length[co]
    d0 = cr.sentence_day[co]
    term = cr.order_end[co]
    parts.append(dict(case=co, dtype=np.where(is_sso, D_SSO, D_CO), ref=d0 - rng.integers(0, 3, len(co)),
                      disp=d0, term=term, length=length, recalls=np.zeros(len(co), dtype=np.int64)))
    # custodial sentences (the probation event spans custody and licence)
    sp = J.spells[~J.spells["recall"]]
    cus_case = sp["case"].to_numpy()
    rec_counts = J.spells[J.spells["recall"]].groupby("case").size()
    recalls = rec_counts.reindex(cus_case, fill_value=0).to_numpy()
    cl = sp["length"].to_numpy().astype(np.int32)
    cs = sp["sentence_day"].to_numpy().astype(np.int32)
    lic_end = sp["licence_end"].to_numpy().astype(np.int32)
    parts.append(dict(case=cus_case, dtype=np.full(len(sp), D_CUS), ref=cs, disp=cs, term=cs + cl, length=cl,
                      recalls=recalls))
    pss = lic_end > cs + cl
    parts.append(dict(case=cus_case[pss], dtype=np.full(int(pss.sum()), D_PSS), ref=(cs + cl)[pss],
                      disp=(cs + cl)[pss], term=lic_end[pss], length=np.full(int(pss.sum()), 365),
                      recalls=np.zeros(int(pss.sum()), dtype=np.int64)))
    # pre-sentence reports
    psr = conv[(cr.crown_type[conv] >= 0) & (cr.crown_type[conv] < 2) | (rng.random(len(conv)) < 0.06)]
    ref = np.where(cr.crown_type[psr] >= 0, cr.crown_receipt[psr], cr.first_hearing[psr]).astype(np.int32)
    ref = np.minimum(ref, cr.sentence_day[psr])
    parts.append(dict(case=psr, dtype=np.full(len(psr), D_PSR), ref=ref, disp=np.full(len(psr), NA, dtype=np.int32),
                      term=cr.sentence_day[psr], length=np.full(len(psr), NA, dtype=np.int64),
                      recalls=np.zeros(len(psr), dtype=np.int64)))
    ev = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
    keep = (ev["ref"] >= lo) & (ev["ref"] <= hi)
    ev = {k: v[keep] for k, v in ev.items()}
    n = len(ev["case"])
    eid = np.arange(n)
    person = cases.person[ev["case"]]
    term = _clip_future(ev["term"].astype(np.int32), hi)
    disp = _clip_future(ev["disp"].astype(np.int32), hi)
    lsoa = pop.lsoa_at(person, ev["ref"])
    lad = pop.geo.lad_index[lsoa]
    wales = pop.geo.wales[lsoa]
    london = pop.geo.london[lsoa]
    area = np.where(wales, np.where(ev["ref"] < day(date(2014, 6, 1)), 9, 7),
                    np.where(london, np.where(ev["dtype"] == D_CO, 0, 1), 2 + (lad % 5)))
    age = age_at(pop.dob[person], cases.offence_day[ev["case"]]).astype(np.int64)
    outlier = rng.random(n) < 0.001
    age = np.where(outlier, age + 100, age)
    f = Frame("moj_probation_flatfile", person=person, when=ev["ref"].astype(np.int32), group="justice", key=eid)
    f.columns = {
        "row_id_hash": hex_ids(eid, "moj_probation_flatfile", seed),
        "event_id_hash": hex_ids(eid, "probation_event", seed),
        "estimated_offender_id": None,
        "referral_date": ev["ref"].astype(np.int32),
        "disposal_type_description": coded(ev["dtype"], DISPOSALS),
        "disposal_date": disp,
        "disposal_termination_date": term,
        "length_in_days": ev["length"].astype(np.int64),
        "mo_code": coded(cr.code[ev["case"]], ALL_OFFENCE_CODES),
        "mo_category_description": coded(cr.group[ev["case"]], OFFENCE_GROUPS),
        "recall_count": ev["recalls"].astype(np.int64),
        "probation_area_desc": coded(area, K.PROBATION_AREA.values),
        "age_at_offence": age,
    }
    # requirements of community and suspended sentence orders
    order = np.flatnonzero(np.isin(ev["dtype"], (D_CO, D_SSO)) & (ev["disp"] <= hi))
    nreq = 1 + rng.binomial(2, 0.35, len(order))
    par, _ = explode(nreq)
    e = order[par]
    pp = person[e]
    nd = pop.need[pp].astype(float)
    ni = {d: i for i, d in enumerate(NEEDS)}
    w = np.tile(np.array([3, 3, 0.6, 0.2, 0.8, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1, 0.3]), (len(e), 1))
    w[:, 2] += 2 * nd[:, ni["domestic_abuse"]]
    w[:, 6] += 1.0 * nd[:, ni["accommodation"]]
    w[:, 7] += 1.5 * nd[:, ni["mental_health"]]
    w[:, 8] += 2.0 * nd[:, ni["substance_misuse"]]
    w[:, 9] += 1.0 * nd[:, ni["substance_misuse"]]
    from .common import choose_rows

    rtype = choose_rows(rng, w)
    start = ev["disp"][e].astype(np.int32)
    commence = np.where(rng.random(len(e)) < 0.4, NA, start + rng.integers(1, 21, len(e))).astype(np.int32)
    length = np.where(rtype == 0, rng.integers(40, 300, len(e)),
                      np.where(rtype == 1, rng.integers(10, 60, len(e)), rng.integers(3, 24, len(e))))
    rdays = np.where(rtype == 0, 365, np.where(rtype == 1, 365, length * 30))
    rterm = np.minimum(start + rdays, ev["term"][e]).astype(np.int32)
    rterm = np.maximum(rterm, start)
    reason = choose(rng, (0.65, 0.10, 0.10, 0.10, 0.05), len(e))
    rterm_c = _clip_future(rterm, hi)
    reason = np.where(rterm_c == NA, -1, reason)
    req = Frame("moj_probation_rqmnts", columns={
        "rqmnt_id_hash": hex_ids(np.arange(len(e)), "probation_rqmnt", seed),
        "event_id_hash": hex_ids(e, "probation_event", seed),
        "estimated_offender_id": None,
        "rqmnt_type_main_category_code": coded(rtype, RQMNTS),
        "rqmnt_type_main_category_desc": coded(rtype, RQMNT_LABELS),
        "rqmnt_start_date": start,
        "rqmnt_commencement_date": _clip_future(commence, hi),
        "rqmnt_termination_date": rterm_c,
        "rqmnt_termination_reason_desc": coded(reason, RQMNT_TERM),
        "length": length.astype(np.int64),
    })
    req.parent = e  # the event row of each requirement (carries the event's estimated offender id)
    return {f.table: f}, {req.table: req}


__all__ = ["justice_frames", "pa"]
