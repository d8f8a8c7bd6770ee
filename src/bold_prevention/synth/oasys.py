"""OASys assessments dated inside custody or supervision, and their answers.

Each assessment measures each need domain once: ``m = Bernoulli(sensitivity)`` for a person with the need,
``Bernoulli(1 - specificity)`` without it (``SynthParams.oasys_sensitivity`` / ``oasys_specificity``). The domain's
proxy rule in :data:`~bold_prevention.synth.params.OASYS_PROXY_RULES` is true exactly when ``m`` is (unless an item
it reads is missing); the other items follow ``m`` with the item probabilities below (documented in
``docs/synthetic-data.md``). Section totals are the sums of their items, so they agree with the answers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..datafirst import codes as K
from .common import NA, Frame, age_at, choose, coded, day, explode, hex_ids, rng_for, uniform_days
from .events import OFFENCE_GROUPS, Justice, count_before, last_before
from .params import NEEDS, SynthParams
from .population import Population

YN = K.YES_NO.values  # NO YES
YND = K.YES_NO_DK.values  # NO YES DK NA
S012 = K.SCALE_012.values  # 0 1 2 M
A_TYPES = K.ASSESSMENT_TYPE.values  # LAYER_1 LAYER_3 BCS
A_CTX = K.ASSESSMENT_CONTEXT.values  # PRE CUS COM REV TERM
T_L1, T_L3, T_BCS = 0, 1, 2
C_CUS, C_COM, C_REV, C_TERM = 1, 2, 3, 4


def assessments(pop: Population, P: SynthParams, seed: int, J: Justice) -> dict[str, np.ndarray]:
    """Assessment rows: person, date, type, context and the case of the sentence they belong to."""
    rng = rng_for(seed, "oasys-dates")
    lo, hi = day(P.start), day(P.end)
    cases, cr = J.cases, J.court
    parts = []
    # custody: basic custody screening at reception, a full assessment within eight weeks, yearly reviews
    sp = J.spells[~J.spells["recall"]]
    person = sp["person"].to_numpy().astype(np.int32)
    rec = sp["reception"].to_numpy().astype(np.int32)
    rel = sp["release"].to_numpy().astype(np.int32)
    case = sp["case"].to_numpy()
    stay_end = np.minimum(rel, hi)
    bcs = np.minimum(rec + rng.integers(0, 4, len(rec)), stay_end)
    parts.append((person, bcs, T_BCS, C_CUS, case))
    l3 = rec + rng.integers(14, 57, len(rec))
    ok = l3 <= stay_end
    parts.append((person[ok], l3[ok], T_L3, C_CUS, case[ok]))
    nrev = np.clip((stay_end - l3 - 1) // 365, 0, 6) * ok
    par, k = explode(nrev)
    parts.append((person[par], (l3[par] + 365 * (k + 1) + rng.integers(-20, 1, len(par))).astype(np.int32), T_L3,
                  C_REV, case[par]))
    # licence supervision after release (inside the sentence)
    lic_end = sp["licence_end"].to_numpy().astype(np.int32)
    lic = (rel + 7 < lic_end) & (rng.random(len(rel)) < 0.6)
    ld = rel + rng.integers(7, 31, len(rel))
    lic &= ld <= lic_end
    parts.append((person[lic], ld[lic].astype(np.int32), T_L3, C_COM, case[lic]))
    # community and suspended sentence orders: full or layer 1 assessment, six-month review, termination
    idx = np.flatnonzero(cr.order_end != NA)
    p = cases.person[idx]
    d0 = cr.sentence_day[idx]
    d_end = cr.order_end[idx]
    first = np.minimum(d0 + rng.integers(3, 31, len(idx)), d_end)
    t = np.where(rng.random(len(idx)) < 0.75, T_L3, T_L1)
    parts.append((p, first.astype(np.int32), t, C_COM, idx))
    rv_day = d0 + 150 + rng.integers(0, 30, len(idx))
    rv = (rng.random(len(idx)) < 0.5) & (rv_day <= d_end)
    parts.append((p[rv], rv_day[rv].astype(np.int32), T_L3, C_REV, idx[rv]))
    tm_day = np.maximum(d_end - rng.integers(0, 15, len(idx)), first)
    tm = (rng.random(len(idx)) < 0.3) & (tm_day > first)
    parts.append((p[tm], tm_day[tm].astype(np.int32), T_L3, C_TERM, idx[tm]))

    cols = {"person": [], "date": [], "type": [], "context": [], "case": []}
    for person_, date_, type_, ctx_, case_ in parts:
        n = len(person_)
        cols["person"].append(person_.astype(np.int32))
        cols["date"].append(np.asarray(date_, dtype=np.int32))
        cols["type"].append(np.broadcast_to(np.asarray(type_, dtype=np.int8), (n,)).copy())
        cols["context"].append(np.full(n, ctx_, dtype=np.int8))
        cols["case"].append(np.asarray(case_, dtype=np.int64))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    keep = (out["date"] >= lo) & (out["date"] <= hi)
    out = {k: v[keep] for k, v in out.items()}
    order = np.lexsort((out["date"], out["person"]))
    return {k: v[order] for k, v in out.items()}


class _Answers:
    """Helpers that draw coded answers with missing values."""

    def __init__(self, rng: np.random.Generator, miss: float, dk: float):
        self.rng = rng
        self.miss = miss
        self.dk = dk

    def yn(self, p: np.ndarray, *, missing: bool = True) -> np.ndarray:
        """YES with probability p per row (index into YES_NO), null when missing."""
        v = (self.rng.random(len(p)) < p).astype(np.int8)
        if missing:
            v[self.rng.random(len(p)) < self.miss] = -1
        return v

    def force_yes(self, v: np.ndarray, cond: np.ndarray) -> np.ndarray:
        return np.where(cond & (v >= 0), 1, v).astype(np.int8)

    def scale(self, m: np.ndarray, p_if: tuple, p_not: tuple, *, missing: bool = True) -> np.ndarray:
        """0/1/2 per row from p_if where m else p_not; 3 (code 'M') when missing."""
        a = choose(self.rng, p_if, len(m))
        b = choose(self.rng, p_not, len(m))
        v = np.where(m, a, b).astype(np.int8)
        if missing:
            v[self.rng.random(len(m)) < self.miss] = 3
        return v

    def ynd(self, p: np.ndarray) -> np.ndarray:
        """YES/NO with DK and NA codes (basic custody screening)."""
        v = (self.rng.random(len(p)) < p).astype(np.int8)
        u = self.rng.random(len(p))
        v[u < self.dk] = 2
        v[(u >= self.dk) & (u < self.dk + 0.01)] = 3
        return v


def _val(v: np.ndarray) -> np.ndarray:
    """Numeric value of a 0/1/2 answer (missing counts 0)."""
    return np.where(v == 3, 0, v).astype(np.int64)


def _yes(v: np.ndarray) -> np.ndarray:
    return (v == 1).astype(np.int64)


def oasys_frames(pop: Population, P: SynthParams, seed: int, J: Justice) -> dict[str, Frame]:
    A = assessments(pop, P, seed, J)
    rng = rng_for(seed, "oasys-answers")
    n = len(A["person"])
    aid = np.arange(n)
    person = A["person"]
    need = pop.need[person]
    ni = {d: i for i, d in enumerate(NEEDS)}
    sens = np.array([P.oasys_sensitivity[d] for d in NEEDS])
    spec = np.array([P.oasys_specificity[d] for d in NEEDS])
    u = rng.random((n, len(NEEDS)))
    M = np.where(need, u < sens, u < 1 - spec)
    m = {d: M[:, i] for d, i in ni.items()}
    ans = _Answers(rng, P.oasys_missing_rate, P.oasys_dk_rate)
    frames: dict[str, Frame] = {}

    ph, mh = m["physical_health"], m["mental_health"]
    health = np.where(ph & mh, 2, np.where(ph | mh, 1, 0))
    health = np.where((health == 2) & (rng.random(n) < 0.2), 3, health)
    f = Frame("oasys_assessments_metadata", person=person, when=A["date"], group="justice", key=aid)
    f.columns = {
        "row_id_hash": hex_ids(aid, "oasys_assessments_metadata", seed),
        "estimated_offender_id": None,
        "assessment_date": A["date"],
        "assessment_type": coded(A["type"], A_TYPES),
        "assessment_context": coded(A["context"], A_CTX),
        "level_healthcare_req_elm": coded(np.where(rng.random(n) < 0.02, -1, health), K.HEALTHCARE_LEVEL.values),
    }
    frames[f.table] = f
    rid = f.columns["row_id_hash"]

    full = A["type"] != T_BCS
    fi = np.flatnonzero(full)
    frames["oasys_assessments_details_core_risk"] = _core(pop, J, A, fi, {k: v[fi] for k, v in m.items()}, ans,
                                                           rid, rng)
    # basic custody screening (part 1 for every screening, part 2 for most)
    bi = np.flatnonzero(~full)
    mb = {k: v[bi] for k, v in m.items()}
    yesif = lambda cond, a, b: np.where(cond, a, b)  # noqa: E731
    frames["oasys_assessments_details_bcs"] = Frame("oasys_assessments_details_bcs", columns={
        "row_id_hash": rid.take(pa.array(bi)),
        "question_bcs24": coded(ans.ynd(yesif(mb["accommodation"], 0.15, 0.95)), YND),
        "question_bcs25": coded(ans.ynd(yesif(mb["accommodation"], 0.6, 0.05)), YND),
        "question_bcs28": coded(ans.ynd(yesif(mb["accommodation"], 0.35, 0.01)), YND),
        "question_bcs33": coded(ans.ynd(yesif(mb["low_income"] | mb["employment"], 0.85, 0.3)), YND),
        "question_bcs34": coded(ans.ynd(yesif(mb["low_income"], 0.55, 0.9)), YND),
        "question_bcs56": coded(ans.ynd(yesif(mb["low_income"], 0.75, 0.08)), YND),
        "question_bcs78": coded(ans.ynd(yesif(mb["physical_health"], 0.85, 0.05)), YND),
        "question_bcs80": coded(ans.ynd(yesif(mb["mental_health"], 0.85, 0.05)), YND),
        "question_bcs81": coded(ans.ynd(yesif(mb["substance_misuse"], 0.8, 0.06)), YND),
        "question_bcs91": coded(ans.ynd(yesif(mb["substance_misuse"], 0.35, 0.04)), YND),
    })
    ti = bi[rng.random(len(bi)) < 0.7]
    mt = {k: v[ti] for k, v in m.items()}
    frames["oasys_assessments_details_tr_bcs"] = Frame("oasys_assessments_details_tr_bcs", columns={
        "row_id_hash": rid.take(pa.array(ti)),
        "question_tr_bcs309": coded(ans.ynd(yesif(mt["accommodation"], 0.3, 0.9)), YND),
        "question_tr_bcs33": coded(ans.ynd(yesif(mt["low_income"], 0.6, 0.4)), YND),
        "question_tr_bcs37": coded(ans.ynd(yesif(mt["employment"], 0.2, 0.5)), YND),
        "question_tr_bcs38": coded(ans.ynd(yesif(mt["low_income"], 0.6, 0.05)), YND),
        "question_tr_bcs801": coded(ans.ynd(yesif(mt["substance_misuse"], 0.7, 0.03)), YND),
        "question_tr_bcs807": coded(ans.ynd(yesif(mt["mental_health"], 0.6, 0.03)), YND),
    })
    # SARA: where domestic abuse is indicated or the offence was violent
    viol = np.isin(J.court.group[A["case"]], (0, 2))  # groups 01 and 03
    si = fi[(m["domestic_abuse"][fi] & (rng.random(len(fi)) < 0.85)) | (viol[fi] & (rng.random(len(fi)) < 0.3))]
    da = m["domestic_abuse"][si]
    frames["oasys_assessments_details_sara"] = Frame("oasys_assessments_details_sara", columns={
        "row_id_hash": rid.take(pa.array(si)),
        "question_sr45_1_1": coded(ans.yn(yesif(da, 0.8, 0.05)), YN),
        "question_sr45_1_2": coded(ans.yn(yesif(viol[si], 0.35, 0.1)), YN),
        "question_sr89_1": coded(ans.yn(yesif(da, 0.35, 0.02)), YN),
        "question_sr93_1": coded(ans.yn(yesif(viol[si], 0.12, 0.03)), YN),
    })
    ri = fi[(A["type"][fi] == 1) & (rng.random(len(fi)) < 0.5)]
    frames["oasys_assessments_details_rmp"] = Frame("oasys_assessments_details_rmp", columns={
        "row_id_hash": rid.take(pa.array(ri)),
        "question_rmp_15": coded(ans.yn(yesif(m["accommodation"][ri], 0.7, 0.04)), YN),
        "question_rmp_28_0_3_1": coded(ans.yn(yesif(m["substance_misuse"][ri], 0.7, 0.04)), YN),
    })
    qi = fi[rng.random(len(fi)) < 0.55]
    frames["oasys_assessments_details_saq"] = Frame("oasys_assessments_details_saq", columns={
        "row_id_hash": rid.take(pa.array(qi)),
        "question_saqc20_1": coded(ans.yn(yesif(m["accommodation"][qi], 0.75, 0.08)), YN),
        "question_saqc20_2": coded(ans.yn(yesif(m["low_income"][qi], 0.75, 0.12)), YN),
    })
    ki = fi[rng.random(len(fi)) < 0.4]
    frames["oasys_assessments_details_skillschecker"] = Frame("oasys_assessments_details_skillschecker", columns={
        "row_id_hash": rid.take(pa.array(ki)),
        "question_sc8": coded(ans.yn(yesif(m["education"][ki], 0.75, 0.08)), YN),
    })
    return frames


def _core(pop: Population, J: Justice, A: dict, fi: np.ndarray, m: dict, ans: _Answers, rid: pa.Array,
          rng: np.random.Generator) -> Frame:
    n = len(fi)
    person = A["person"][fi]
    when = A["date"][fi]
    case = A["case"][fi]
    cr = J.court
    # section 1: offending history at the assessment date
    prev_conv = pop.prior_convictions[person] + count_before(J.conviction_keys, person, when)
    prev_cus = (pop.prior_convictions[person] // 5) + count_before(J.custody_keys, person, when)
    last = last_before(J.conviction_keys, person, when)
    first_case_age = _age_first(pop, J, person, int(when.max()) if len(when) else 0)
    age_first = np.where(pop.prior_convictions[person] > 0,
                         np.clip(first_case_age - rng.integers(1, 8, n), 10, None), first_case_age)
    grp = cr.group[case]
    acc, inc, emp, edu = m["accommodation"], m["low_income"], m["employment"], m["education"]
    fam, da, sub, mh, ph = m["family"], m["domestic_abuse"], m["substance_misuse"], m["mental_health"], m["physical_health"]
    yesif = lambda cond, a, b: np.where(cond, a, b)  # noqa: E731

    # section 3 accommodation: proxy = 3_3 YES or 3_4 '2'
    q3_3 = ans.yn(yesif(acc, 0.45, 0.0))
    q3_4 = ans.scale(acc, (0, 0.3, 0.7), (0.85, 0.15, 0))
    q3_4 = np.where(acc & (q3_3 == 0) & (q3_4 != 3), 2, q3_4).astype(np.int8)
    q3_1_1 = np.where(q3_3 == 1, 1, ans.yn(yesif(acc, 0.3, 0.01)))
    q3_5 = ans.scale(acc, (0.1, 0.3, 0.6), (0.85, 0.13, 0.02))
    q3_6 = ans.scale(acc, (0.25, 0.5, 0.25), (0.9, 0.09, 0.01))
    q3_98 = ans.yn(yesif(acc, 0.3, 0.02))
    q3_99 = ans.yn(yesif(acc, 0.6, 0.05))
    q3_tot = np.minimum(_val(q3_4) + _val(q3_5) + _val(q3_6) + 2 * _yes(q3_3), 8)
    # section 4 education, training and employability
    q4_2 = ans.yn(yesif(emp, 1.0, 0.0))
    q4_3 = ans.scale(emp, (0.05, 0.35, 0.6), (0.7, 0.3, 0))
    q4_7 = ans.scale(edu, (0, 0.4, 0.6), (1, 0, 0))
    q4_tot = np.minimum(2 * _yes(q4_2) + _val(q4_3) + 2 * _val(q4_7) + rng.integers(0, 2, n), 10)
    # section 5 finance: proxy = 5_2 '2' or 5_5 '2'
    q5_1 = ans.yn(yesif(inc | emp, 0.85, 0.25))
    q5_2 = ans.scale(inc, (0, 0.25, 0.75), (0.8, 0.2, 0))
    q5_3 = ans.scale(inc, (0.4, 0.4, 0.2), (0.85, 0.15, 0))
    q5_4 = ans.scale(inc, (0.3, 0.4, 0.3), (0.85, 0.15, 0))
    q5_5 = ans.scale(inc, (0.3, 0.3, 0.4), (0.8, 0.2, 0))
    q5_5 = np.where(inc & (q5_2 != 2) & (q5_5 != 3), 2, q5_5).astype(np.int8)
    q5_tot = np.minimum(_val(q5_2) + _val(q5_3) + _val(q5_4) + _val(q5_5) + _yes(q5_1), 9)
    # section 6 relationships and domestic abuse
    q6_1 = ans.scale(fam, (0, 0, 1), (0.75, 0.25, 0))
    female = ~pop.male[person]
    victim = ans.yn(yesif(da, np.where(female, 0.8, 0.35), 0.0))
    perp = ans.yn(yesif(da, np.where(female, 0.25, 0.8), 0.0))
    perp = np.where(da & (victim == 0) & (perp == 0), 1, perp).astype(np.int8)
    q6_tot = np.minimum(2 * _val(q6_1) + 2 * _yes(victim) + 2 * _yes(perp) + rng.integers(0, 3, n), 10)
    q7_tot = np.clip(np.round(2 + 2.0 * sub + 1.0 * acc + 1.0 * emp + rng.normal(0, 1.5, n)), 0, 10).astype(np.int64)
    # section 8 drugs and 9 alcohol: proxy = 8_2_current_use '2' or 9_1 '2'
    drugs_main = rng.random(n) < 0.65
    q8_2 = ans.scale(sub & drugs_main, (0, 0.0, 1.0), (0.85, 0.15, 0))
    q8_2 = np.where(sub & ~drugs_main & (rng.random(n) < 0.3) & (q8_2 != 3), 2, q8_2).astype(np.int8)
    q9_1 = ans.scale(sub & ~drugs_main, (0, 0, 1.0), (0.85, 0.15, 0))
    q9_1 = np.where(sub & drugs_main & (rng.random(n) < 0.25) & (q9_1 != 3), 2, q9_1).astype(np.int8)
    q8_1 = np.where(_val(q8_2) > 0, 1, ans.yn(yesif(sub, 0.9, 0.3)))
    severe = sub & drugs_main
    drug = np.where(severe, choose(rng, (0.3, 0.03, 0.03, 0.25, 0.07, 0.04, 0.04, 0.04, 0.0, 0.01, 0.12, 0.0, 0.0,
                                         0.05, 0.02), n),
                    choose(rng, (0.02, 0.0, 0.01, 0.03, 0.12, 0.03, 0.03, 0.05, 0.01, 0.05, 0.6, 0.01, 0.01, 0.02,
                                 0.01), n))
    drug = np.where(q8_1 == 1, drug, -1)
    inject = np.where(severe & np.isin(drug, (0, 2, 3)), choose(rng, (0.6, 0.25, 0.15), n), 0)
    inject = np.where(q8_1 == 1, inject, -1)
    q8_tot = np.minimum(4 * _val(q8_2) // 2 * 2 + _yes(q8_1) + 2 * (inject > 0) + rng.integers(0, 2, n), 10)
    q9_tot = np.minimum(4 * _val(q9_1) + rng.integers(0, 3, n), 10)
    # section 10 emotional wellbeing: proxy = 10_6 '2' or 10_7_v2_current YES
    q10_6 = ans.scale(mh, (0, 0.35, 0.65), (0.8, 0.2, 0))
    q10_7c = ans.yn(yesif(mh, 0.4, 0.0))
    q10_7c = np.where(mh & (q10_6 == 1), 1, q10_7c).astype(np.int8)
    q10_7c = np.where(mh & (q10_6 == 0), 1, q10_7c).astype(np.int8)
    q10_7h = ans.yn(yesif(mh, 0.7, 0.1))
    q10_5 = ans.yn(yesif(mh, 0.45, 0.05))
    q10_tot = np.minimum(2 * _val(q10_6) + 2 * _yes(q10_7c) + _yes(q10_7h) + 2 * _yes(q10_5) + rng.integers(0, 2, n),
                         10)
    q11 = np.clip(np.round(6 + 2 * sub + 1.5 * mh + 1.0 * fam + rng.normal(0, 3, n)), 0, 20).astype(np.int64)
    q12 = np.clip(np.round(3 + 1 * sub + 0.5 * acc + rng.normal(0, 2, n)), 0, 10).astype(np.int64)
    q13p = ans.yn(yesif(ph, 1.0, 0.0))
    q13d = ans.yn(yesif(ph, 0.4, 0.03))
    alc = sub & ~drugs_main
    cols = {
        "row_id_hash": rid.take(pa.array(fi)),
        "question_1_10": age_first.astype(np.int64),
        "question_1_11": np.minimum(prev_conv, 99).astype(np.int64),
        "question_1_12": np.minimum(prev_cus, 99).astype(np.int64),
        "question_1_29": last,
        "question_2_3_physicalviol": coded(ans.yn(np.isin(grp, (0, 2)).astype(float) * 0.9), YN),
        "question_2_9_financial": coded(ans.yn(np.where(np.isin(grp, (2, 3, 9)), 0.9, 0.05)), YN),
        "question_2_10_alcho": coded(ans.yn(yesif(alc, 0.6, 0.05)), YN),
        "question_2_10_drugs": coded(ans.yn(yesif(sub & drugs_main, 0.6, 0.04)), YN),
        "question_3_1_1": coded(q3_1_1, YN),
        "question_3_3": coded(q3_3, YN),
        "question_3_4": coded(q3_4, S012),
        "question_3_5": coded(q3_5, S012),
        "question_3_6": coded(q3_6, S012),
        "question_3_98": coded(q3_98, YN),
        "question_3_99": coded(q3_99, YN),
        "question_3_tot": q3_tot,
        "question_4_2": coded(q4_2, YN),
        "question_4_3": coded(q4_3, S012),
        "question_4_7": coded(q4_7, S012),
        "question_4_tot": q4_tot,
        "question_5_1": coded(q5_1, YN),
        "question_5_2": coded(q5_2, S012),
        "question_5_3": coded(q5_3, S012),
        "question_5_4": coded(q5_4, S012),
        "question_5_5": coded(q5_5, S012),
        "question_5_tot": q5_tot,
        "question_6_1": coded(q6_1, S012),
        "question_6_7_da_victim": coded(victim, YN),
        "question_6_7_da_perpetrator": coded(perp, YN),
        "question_6_tot": q6_tot,
        "question_7_tot": q7_tot,
        "question_8_1": coded(q8_1, YN),
        "question_8_2_main_drug": coded(drug, K.DRUG_LOOKUP.values),
        "question_8_2_current_use": coded(q8_2, S012),
        "question_8_4": coded(inject, K.INJECTING.values),
        "question_8_tot": q8_tot.astype(np.int64),
        "question_9_1": coded(q9_1, S012),
        "question_9_tot": q9_tot.astype(np.int64),
        "question_10_5": coded(q10_5, YN),
        "question_10_6": coded(q10_6, S012),
        "question_10_7_v2_current": coded(q10_7c, YN),
        "question_10_7_v2_history": coded(q10_7h, YN),
        "question_10_tot": q10_tot,
        "question_11_tot": q11,
        "question_12_tot": q12,
        "question_13_3_physical": coded(q13p, YN),
        "question_13_3_disability": coded(q13d, YN),
    }
    return Frame("oasys_assessments_details_core_risk", columns=cols)


def _age_first(pop: Population, J: Justice, person: np.ndarray, end: int) -> np.ndarray:
    """Age at the person's first case in the period."""
    first = np.full(pop.n, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(first, J.cases.person, J.cases.offence_day)
    f = first[person]
    f = np.where(f == np.iinfo(np.int32).max, end, f)
    return np.clip(age_at(pop.dob[person], f.astype(np.int32)), 10, 99).astype(np.int64)


__all__ = ["oasys_frames", "assessments", "OFFENCE_GROUPS", "uniform_days"]
