"""OASys assessments dated inside custody or supervision, and their answers.

Each assessment measures each need domain once: ``m = Bernoulli(sensitivity)`` for a person with the need,
``Bernoulli(1 - specificity)`` without it (``SynthParams.oasys_sensitivity`` / ``oasys_specificity``). The domain's
proxy rule in :data:`~bold_prevention.synth.params.OASYS_PROXY_RULES` is true exactly when ``m`` is (unless an item
it reads is missing); the other items follow ``m`` with the item probabilities below (documented in
``docs/synthetic-data.md``). Section totals are the sums of their items, so they agree with the answers.

The items and their codes are those of the published OASys catalogue (see ``datafirst/tables.py``): tick-box items
hold ``YES`` or nothing, and an assessment dated before ``SynthParams.oasys_v2_from`` answers the older tick-box
form of the items that also have a ``_v2_`` (``NO`` / ``YES``) form, a later one the ``_v2_`` form. Offending
history items (section 1, and the court appearances and age at first conviction of basic custody screening) are
computed from the person's generated convictions and custody plus the convictions before the period.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..datafirst import codes as K
from .common import NA, Frame, age_at, choose, coded, day, explode, hex_ids, mixture, rng_for, uniform_days
from .events import OFFENCE_GROUPS, Justice, count_before
from .params import NEEDS, SynthParams
from .population import Population

YN = K.YES_NO.values  # NO YES
YNM = K.YES_NO_M.values  # NO YES M
YES = K.YES_ONLY.values  # YES
S012 = K.SCALE_012.values  # 0 1 2 M
#: Offence group indices (into OFFENCE_GROUPS): violence, sexual, robbery, theft, weapons, fraud.
G_VIOL, G_SEX, G_ROB, G_THEFT, G_WEAP, G_FRAUD = 0, 1, 2, 3, 6, 9
#: Drug lookup weights (in K.DRUG_LOOKUP order) for a person's main drug: problem use, and other use.
DRUG_SEVERE = (0.3, 0.03, 0.03, 0.25, 0.07, 0.04, 0.04, 0.04, 0.0, 0.01, 0.12, 0.0, 0.0, 0.05, 0.02)
DRUG_OTHER = (0.02, 0.0, 0.01, 0.03, 0.12, 0.03, 0.03, 0.05, 0.01, 0.05, 0.6, 0.01, 0.01, 0.02, 0.01)
OPIATES = (0, 1, 2)  # heroin, methadone, other opiates
CRACK = 3
A_TYPES = K.ASSESSMENT_TYPE.values  # LAYER_1 LAYER_3 BCS
A_CTX = K.ASSESSMENT_CONTEXT.values  # PRE CUS COM REV TERM
T_L1, T_L3, T_BCS = 0, 1, 2
C_CUS, C_COM, C_REV, C_TERM = 1, 2, 3, 4


def assessments(pop: Population, P: SynthParams, seed: int, J: Justice) -> dict[str, np.ndarray]:
    """Assessment rows: person, date, type, context, the case of the sentence they belong to, and whether that
    sentence is a custodial one (the assessment belongs to a custodial journey)."""
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
    parts.append((person, bcs, T_BCS, C_CUS, case, True))
    l3 = rec + rng.integers(14, 57, len(rec))
    ok = l3 <= stay_end
    parts.append((person[ok], l3[ok], T_L3, C_CUS, case[ok], True))
    nrev = np.clip((stay_end - l3 - 1) // 365, 0, 6) * ok
    par, k = explode(nrev)
    parts.append((person[par], (l3[par] + 365 * (k + 1) + rng.integers(-20, 1, len(par))).astype(np.int32), T_L3,
                  C_REV, case[par], True))
    # licence supervision after release (inside the sentence)
    lic_end = sp["licence_end"].to_numpy().astype(np.int32)
    lic = (rel + 7 < lic_end) & (rng.random(len(rel)) < 0.6)
    ld = rel + rng.integers(7, 31, len(rel))
    lic &= ld <= lic_end
    parts.append((person[lic], ld[lic].astype(np.int32), T_L3, C_COM, case[lic], True))
    # community and suspended sentence orders: full or layer 1 assessment, six-month review, termination
    idx = np.flatnonzero(cr.order_end != NA)
    p = cases.person[idx]
    d0 = cr.sentence_day[idx]
    d_end = cr.order_end[idx]
    first = np.minimum(d0 + rng.integers(3, 31, len(idx)), d_end)
    t = np.where(rng.random(len(idx)) < 0.75, T_L3, T_L1)
    parts.append((p, first.astype(np.int32), t, C_COM, idx, False))
    rv_day = d0 + 150 + rng.integers(0, 30, len(idx))
    rv = (rng.random(len(idx)) < 0.5) & (rv_day <= d_end)
    parts.append((p[rv], rv_day[rv].astype(np.int32), T_L3, C_REV, idx[rv], False))
    tm_day = np.maximum(d_end - rng.integers(0, 15, len(idx)), first)
    tm = (rng.random(len(idx)) < 0.3) & (tm_day > first)
    parts.append((p[tm], tm_day[tm].astype(np.int32), T_L3, C_TERM, idx[tm], False))

    cols = {"person": [], "date": [], "type": [], "context": [], "case": [], "custodial": []}
    for person_, date_, type_, ctx_, case_, custodial_ in parts:
        n = len(person_)
        cols["custodial"].append(np.full(n, custodial_, dtype=bool))
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
    """Draw coded answers (as indices into a code list) with missing values.

    Every helper returns int8 indices; ``-1`` is a null (blank) answer.
    """

    def __init__(self, rng: np.random.Generator, miss: float, dk: float):
        self.rng = rng
        self.miss = miss
        self.dk = dk

    def _missing(self, n: int) -> np.ndarray:
        return self.rng.random(n) < self.miss

    def yn(self, p: np.ndarray) -> np.ndarray:
        """NO / YES (``YES_NO``), YES with probability p per row, null when missing."""
        p = np.asarray(p, dtype=float)
        v = (self.rng.random(len(p)) < p).astype(np.int8)
        v[self._missing(len(p))] = -1
        return v

    def yn_m(self, p: np.ndarray) -> np.ndarray:
        """NO / YES / M (``YES_NO_M``): a missing answer is the ``M`` code."""
        v = self.yn(p)
        return np.where(v < 0, 2, v).astype(np.int8)

    def yes_only(self, p: np.ndarray) -> np.ndarray:
        """A tick-box item (``YES_ONLY``): YES with probability p, else blank; a missing answer is blank."""
        p = np.asarray(p, dtype=float)
        yes = (self.rng.random(len(p)) < p) & ~self._missing(len(p))
        return np.where(yes, 0, -1).astype(np.int8)

    def flag(self, yes: np.ndarray, *, v2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One answer in the older tick-box form (rows not ``v2``) and the ``_v2_`` NO / YES form (rows ``v2``)."""
        miss = self._missing(len(yes))
        v1 = np.where(~v2 & yes & ~miss, 0, -1).astype(np.int8)
        v2_ = np.where(v2 & ~miss, yes.astype(np.int8), -1).astype(np.int8)
        return v1, v2_

    def scale(self, m: np.ndarray, p_if: tuple, p_not: tuple) -> np.ndarray:
        """0/1/2 per row from p_if where m else p_not; 3 (code 'M') when missing."""
        v = mixture(self.rng, m, p_if, p_not).astype(np.int8)
        v[self._missing(len(m))] = 3
        return v

    def category(self, cond: np.ndarray, p_if: tuple, p_not: tuple) -> np.ndarray:
        """A coded category drawn from p_if where cond else p_not; null when missing."""
        v = mixture(self.rng, cond, p_if, p_not).astype(np.int8)
        v[self._missing(len(cond))] = -1
        return v


def _val(v: np.ndarray) -> np.ndarray:
    """Numeric value of a 0/1/2 answer (missing counts 0)."""
    return np.where(v == 3, 0, v).astype(np.int64)


def _yes(v: np.ndarray, code: int = 1) -> np.ndarray:
    """1 where an answer is YES (index 1 of YES_NO / YES_NO_M; pass code=0 for YES_ONLY)."""
    return (v == code).astype(np.int64)


def _after(v: np.ndarray) -> np.ndarray:
    """A NO / YES answer moved one place on, for code lists that put another code first (``DK / NO / YES``)."""
    return np.where(v < 0, -1, v + 1).astype(np.int8)


def _tick(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """True where either form of a versioned item says YES."""
    return (v1 == 0) | (v2 == 1)


def _sorted_keys(person: np.ndarray, when: np.ndarray) -> np.ndarray:
    return np.sort(person.astype(np.int64) * 100_000 + when.astype(np.int64))


def _history(pop: Population, J: Justice, A: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Offending history at each assessment: convictions, custody, offence categories, breaches, first conviction."""
    person, when, case = A["person"], A["date"], A["case"]
    cases, cr = J.cases, J.court
    prior = pop.prior_convictions[person].astype(np.int64)
    convictions = prior + count_before(J.conviction_keys, person, when, inclusive=True)
    # custodial sentences before the current one (the assessment's own custodial journey does not count)
    custody = count_before(J.custody_keys, person, when, inclusive=True) - A["custodial"]
    prev_custody = prior // 5 + np.maximum(custody, 0)
    conv = cr.convicted
    categories = np.zeros(len(person), dtype=np.int64)
    for g in range(len(OFFENCE_GROUPS)):
        sel = conv & (cr.group == g)
        if sel.any():
            keys = _sorted_keys(cases.person[sel], cr.sentence_day[sel])
            categories += count_before(keys, person, when, inclusive=True) > 0
    categories += rng.binomial(np.minimum(prior, 5), 0.35)
    bk = _sorted_keys(cases.person[cr.breach], cases.offence_day[cr.breach])
    breached = (count_before(bk, person, when) > 0) | (rng.random(len(person)) < np.where(prior > 0, 0.15, 0.0))
    conviction_day = cr.sentence_day[case]
    conviction_day = np.where((conviction_day == NA) | (conviction_day > when), NA, conviction_day).astype(np.int32)
    first_case_age = _age_first(pop, J, person, int(when.max()) if len(when) else 0)
    age_first = np.where(prior > 0, np.clip(first_case_age - rng.integers(1, 8, len(person)), 10, None),
                         first_case_age)
    return {"convictions": convictions, "prev_custody": prev_custody, "categories": categories,
            "breached": breached, "conviction_day": conviction_day, "age_first": age_first}


def _weighted(x: np.ndarray, one: int, two: int) -> np.ndarray:
    """A 0/1/2 weighted score index: 1 from ``one``, 2 from ``two``."""
    return np.where(x >= two, 2, np.where(x >= one, 1, 0)).astype(np.int8)


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
    # each person's substance of choice (drugs rather than alcohol) and main drug, the same at every assessment
    prng = rng_for(seed, "oasys-person")
    drugs_pref = (prng.random(pop.n) < 0.65)[person]
    drug_severe = choose(prng, DRUG_SEVERE, pop.n)[person]
    drug_other = choose(prng, DRUG_OTHER, pop.n)[person]
    hist = _history(pop, J, A, rng)
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
    sub = m["substance_misuse"]
    drugs_main = sub & drugs_pref
    drug = np.where(drugs_main, drug_severe, drug_other)
    ctx = _Context(A=A, m=m, hist=hist, drugs_main=drugs_main, drug=drug, v2=A["date"] >= day(P.oasys_v2_from))

    full = A["type"] != T_BCS
    fi = np.flatnonzero(full)
    frames["oasys_assessments_details_core_risk"] = _core(pop, J, ctx.take(fi), ans, rid.take(pa.array(fi)), rng)
    # basic custody screening: part 1 at every screening, part 2 (transfer screening) at most
    bi = np.flatnonzero(~full)
    frames["oasys_assessments_details_bcs"] = _bcs(ctx.take(bi), ans, rid.take(pa.array(bi)), rng)
    ti = bi[rng.random(len(bi)) < 0.7]
    frames["oasys_assessments_details_tr_bcs"] = _tr_bcs(ctx.take(ti), ans, rid.take(pa.array(ti)), rng)
    yesif = lambda cond, a, b: np.where(cond, a, b)  # noqa: E731
    # SARA: where domestic abuse is indicated or the offence was violent
    viol = np.isin(J.court.group[A["case"]], (G_VIOL, G_ROB))
    si = fi[(m["domestic_abuse"][fi] & (rng.random(len(fi)) < 0.85)) | (viol[fi] & (rng.random(len(fi)) < 0.3))]
    da, vi = m["domestic_abuse"][si], viol[si]
    rating = ans.category(da, (0.1, 0.2, 0.7), (0.85, 0.1, 0.05))
    present = np.where(rating < 0, -1, (rating == 2) | ((rating == 1) & (rng.random(len(si)) < 0.5))).astype(np.int8)
    sr = K.SARA_RATING.values
    frames["oasys_assessments_details_sara"] = Frame("oasys_assessments_details_sara", columns={
        "row_id_hash": rid.take(pa.array(si)),
        "question_sr45_1_1": coded(rating, sr),
        "question_sr45_1_2": coded(present, YN),
        "question_sr89_1": coded(ans.category(da, (0.3, 0.4, 0.3), (0.7, 0.2, 0.1)), sr),
        "question_sr93_1": coded(ans.category(da | vi, (0.4, 0.35, 0.25), (0.75, 0.2, 0.05)), sr),
    })
    ri = fi[(A["type"][fi] == T_L3) & (rng.random(len(fi)) < 0.5)]
    frames["oasys_assessments_details_rmp"] = Frame("oasys_assessments_details_rmp", columns={
        "row_id_hash": rid.take(pa.array(ri)),
        "question_rmp_15": coded(ans.yes_only(np.full(len(ri), 0.05)), YES),
        "question_rmp_28_0_3_1": coded(ans.yes_only(yesif(m["accommodation"][ri], 0.75, 0.1)), YES),
    })
    qi = fi[rng.random(len(fi)) < 0.55]
    debt = ans.yn(yesif(m["low_income"][qi], 0.7, 0.1))
    linked = np.where(debt == 1, ans.yn(np.full(len(qi), 0.45)), np.where(debt == 0, 0, -1)).astype(np.int8)
    frames["oasys_assessments_details_saq"] = Frame("oasys_assessments_details_saq", columns={
        "row_id_hash": rid.take(pa.array(qi)),
        "question_saqc20_1": coded(debt, YN),
        "question_saqc20_2": coded(linked, YN),
    })
    ki = fi[rng.random(len(fi)) < 0.4]
    money = m["education"][ki] | m["low_income"][ki]
    frames["oasys_assessments_details_skillschecker"] = Frame("oasys_assessments_details_skillschecker", columns={
        "row_id_hash": rid.take(pa.array(ki)),
        "question_sc8": coded(ans.category(money, (0.1, 0.25, 0.35, 0.3), (0.45, 0.4, 0.1, 0.05)),
                              K.CONFIDENCE_4.values),
    })
    return frames


class _Context:
    """Per-assessment inputs of the answer generators, restricted to a subset of assessments by :meth:`take`."""

    def __init__(self, *, A: dict, m: dict, hist: dict, drugs_main: np.ndarray, drug: np.ndarray, v2: np.ndarray):
        self.A, self.m, self.hist = A, m, hist
        self.drugs_main, self.drug, self.v2 = drugs_main, drug, v2

    def take(self, idx: np.ndarray) -> _Context:
        return _Context(A={k: v[idx] for k, v in self.A.items()}, m={k: v[idx] for k, v in self.m.items()},
                        hist={k: v[idx] for k, v in self.hist.items()}, drugs_main=self.drugs_main[idx],
                        drug=self.drug[idx], v2=self.v2[idx])


def _drug_use(c: _Context, ans: _Answers, rng: np.random.Generator, ever: np.ndarray) -> dict[str, np.ndarray]:
    """Main drug (drug_lookup index) and injecting history (INJECTING index) where drugs were ever misused."""
    n = len(ever)
    opiate = np.isin(c.drug, OPIATES)
    injectable = opiate | (c.drug == CRACK)
    inject = np.where(c.drugs_main & injectable, choose(rng, (0.6, 0.25, 0.15), n), 0)
    inject = np.where(ans._missing(n), 3, inject)
    return {"drug": np.where(ever, c.drug, -1), "inject": np.where(ever, inject, -1).astype(np.int8),
            "opiate": opiate}


def _bcs(c: _Context, ans: _Answers, rid: pa.Array, rng: np.random.Generator) -> Frame:
    n = len(c.v2)
    m, h = c.m, c.hist
    acc, inc, emp, sub = m["accommodation"], m["low_income"], m["employment"], m["substance_misuse"]
    unwell = m["physical_health"] | m["mental_health"]
    yesif = lambda cond, a, b: np.where(cond, a, b)  # noqa: E731
    status = ans.category(acc, (0.1, 0.4, 0.25, 0.25), (0.93, 0.06, 0.01, 0.0))  # PERM TEMP NFA ROUGH
    housed = status < 2
    tenure = np.where(housed, ans.category(inc, (0.35, 0.25, 0.25, 0.15), (0.15, 0.12, 0.5, 0.23)), -1)
    appearances = np.minimum(h["convictions"], 99)
    q81 = ans.scale(c.drugs_main, (0.05, 0.25, 0.7), (0.88, 0.1, 0.02))
    q81 = np.where(sub & ~c.drugs_main & (q81 == 0) & (rng.random(n) < 0.3), 1, q81).astype(np.int8)
    ever = ans.yn(yesif(sub, 0.9, 0.3))
    ever = np.where(np.isin(q81, (1, 2)), 1, ever).astype(np.int8)
    du = _drug_use(c, ans, rng, ever == 1)
    cols = {
        "row_id_hash": rid,
        "question_bcs24": appearances.astype(np.int64),
        "question_bcs25": rng.binomial(appearances, 0.85).astype(np.int64),
        "question_bcs28": np.minimum(h["age_first"], 99).astype(np.int64),
        "question_bcs33": coded(status, K.ACCOMMODATION_STATUS.values),
        "question_bcs36": coded(tenure, K.ACCOMMODATION_TENURE.values),
        "question_bcs37": coded(ans.yn(yesif(acc, 0.25, 0.93)), YN),
        "question_bcs38": coded(ans.yn(yesif(inc, 0.5, 0.12)), YN),
        "question_bcs39": coded(ans.yn(yesif(acc, 0.2, 0.95)), YN),
        "question_bcs43": coded(ans.yn(yesif(acc, 0.85, 0.05)), YN),
        "question_bcs45": coded(ans.yn(yesif(inc | emp, 0.55, 0.88)), YN),
        "question_bcs46": coded(ans.yn(np.full(n, 0.03)), YN),
        "question_bcs47": coded(ans.yn(yesif(inc, 0.02, 0.08)), YN),
        "question_bcs48": coded(ans.yn(yesif(inc, 0.2, 0.45)), YN),
        "question_bcs49": coded(ans.yn(yesif(inc, 0.4, 0.12)), YN),
        "question_bcs52": coded(ans.yn(yesif(inc, 0.45, 0.07)), YN),
        "question_bcs53": coded(ans.yn(np.full(n, 0.08)), YN),
        "question_bcs55": coded(ans.yn(yesif(inc, 0.55, 0.92)), YN),
        "question_bcs56": coded(ans.yn(yesif(inc, 0.75, 0.06)), YN),
        "question_bcs78": coded(ans.yn(yesif(unwell, 0.85, 0.06)), YN),
        "question_bcs80": coded(ans.yn(yesif(unwell, 0.75, 0.35)), YN),
        "question_bcs81": coded(q81, S012),
        "question_bcs82": coded(ans.yn(yesif(sub & ~c.drugs_main, 0.8, yesif(sub, 0.2, 0.04))), YN),
        "question_bcs84": coded(ever, YN),
        "question_bcs86": coded(du["inject"], K.INJECTING.values),
        "question_bcs87": coded(du["drug"], K.DRUG_LOOKUP.values),
        "question_bcs88": coded(ans.yn(yesif(c.drugs_main, 0.85, yesif(sub, 0.3, 0.06))), YN),
        "question_bcs90": coded(ans.yn(yesif(c.drugs_main & du["opiate"], 0.45, 0.01)), YN),
        "question_bcs91": coded(ans.yn(yesif(unwell, 0.8, 0.08)), YN),
    }
    return Frame("oasys_assessments_details_bcs", columns=cols)


def _tr_bcs(c: _Context, ans: _Answers, rid: pa.Array, rng: np.random.Generator) -> Frame:
    n = len(c.v2)
    m = c.m
    acc, inc = m["accommodation"], m["low_income"]
    unwell = m["physical_health"] | m["mental_health"]
    yesif = lambda cond, a, b: np.where(cond, a, b)  # noqa: E731
    status = ans.category(acc, (0.1, 0.4, 0.3, 0.2), (0.93, 0.06, 0.01, 0.0))  # PERM TEMP NFA ROUGH
    no_home = status >= 2
    # NA = Not Applicable / NO / YES (no tenancy for people of no fixed abode); N/A / NO / YES likewise
    tenancy = np.where(no_home, 0, _after(ans.yn(yesif(acc, 0.5, 0.05))))
    suitable = np.where(no_home, 0, _after(ans.yn(yesif(acc, 0.25, 0.93))))
    dk = rng.random(n) < ans.dk
    hb = np.where(dk, 0, _after(ans.yn(yesif(inc, 0.5, 0.12))))  # DK / NO / YES
    u = rng.random(n)
    screened = np.where(u < ans.dk, 0, np.where(u < ans.dk + 0.1, 1, 2))  # DK / NO / YES
    cols = {
        "row_id_hash": rid,
        "question_tr_bcs309": coded(tenancy, K.NA_NO_YES.values),
        "question_tr_bcs33": coded(status, K.ACCOMMODATION_STATUS.values),
        "question_tr_bcs37": coded(suitable, K.NSA_NO_YES.values),
        "question_tr_bcs38": coded(hb, K.DK_NO_YES.values),
        "question_tr_bcs43": coded(ans.yn(yesif(acc, 0.85, 0.05)), YN),
        "question_tr_bcs45": coded(ans.yn(yesif(inc, 0.5, 0.85)), YN),
        "question_tr_bcs801": coded(screened, K.DK_NO_YES.values),
        "question_tr_bcs807": coded(ans.yn(yesif(unwell, 0.75, 0.05)), YN),
        "question_tr_bcs91": coded(ans.yn(yesif(unwell, 0.8, 0.08)), YN),
    }
    return Frame("oasys_assessments_details_tr_bcs", columns=cols)


def _core(pop: Population, J: Justice, c: _Context, ans: _Answers, rid: pa.Array, rng: np.random.Generator
          ) -> Frame:
    n = len(c.v2)
    A, h, m, v2 = c.A, c.hist, c.m, c.v2
    person = A["person"]
    grp = J.court.group[A["case"]]
    acc, inc, emp, edu = m["accommodation"], m["low_income"], m["employment"], m["education"]
    fam, da, sub, mh, ph = m["family"], m["domestic_abuse"], m["substance_misuse"], m["mental_health"], m["physical_health"]
    yesif = lambda cond, a, b: np.where(cond, a, b)  # noqa: E731
    viol = np.isin(grp, (G_VIOL, G_ROB))
    contact = viol | (grp == G_SEX)
    acquisitive = np.isin(grp, (G_ROB, G_THEFT, G_FRAUD))
    drugs_main = c.drugs_main
    alc_main = sub & ~drugs_main

    # section 1 offending history
    prev_cus = np.minimum(h["prev_custody"], 9)
    cats = np.minimum(h["categories"], 9)
    # section 2 the current offence; motivation items in the tick-box or the v2 form by assessment date
    add1, add2 = ans.flag(rng.random(n) < yesif(sub & acquisitive, 0.7, yesif(sub, 0.15, 0.02)), v2=v2)
    fin1, fin2 = ans.flag(rng.random(n) < yesif(acquisitive, 0.9, 0.05), v2=v2)
    q2_14 = ans.yn_m(yesif(h["convictions"] >= 3, 0.6, 0.1))

    # section 3 accommodation: proxy = 3_3 YES or 3_4 '2'
    q3_3 = ans.yn_m(yesif(acc, 0.45, 0.0))
    q3_4 = ans.scale(acc, (0, 0.3, 0.7), (0.85, 0.15, 0))
    q3_4 = np.where(acc & (q3_3 == 0) & (q3_4 != 3), 2, q3_4).astype(np.int8)
    q3_1_1 = np.where(q3_3 == 1, choose(rng, (0, 0, 0, 0, 0.15, 0, 0.4, 0.45, 0), n),
                      ans.category(acc, (0, 0.2, 0.25, 0.25, 0.15, 0.05, 0.1, 0, 0),
                                   (0.3, 0.22, 0.28, 0.15, 0.01, 0.01, 0, 0, 0.03))).astype(np.int8)
    planned = A["custodial"] & (A["context"] != C_COM) & (rng.random(n) < 0.4)
    q3_5 = ans.scale(acc, (0.1, 0.3, 0.6), (0.85, 0.13, 0.02))
    q3_6 = ans.scale(acc, (0.25, 0.5, 0.25), (0.9, 0.09, 0.01))
    q3_tot = np.minimum(_val(q3_4) + _val(q3_5) + _val(q3_6) + 2 * _yes(q3_3), 8)
    # section 4 education, training and employability
    q4_2 = ans.yn(yesif(emp, 1.0, 0.0))
    q4_3 = ans.scale(emp, (0.05, 0.35, 0.6), (0.7, 0.3, 0))
    q4_7 = ans.scale(edu, (0, 0.4, 0.6), (1, 0, 0))
    q4_tot = np.minimum(2 * _yes(q4_2) + _val(q4_3) + 2 * _val(q4_7) + rng.integers(0, 2, n), 10)
    # section 5 finance: proxy = 5_2 '2' or 5_5 '2'
    q5_1 = ans.category(inc | emp, (0.05, 0.6, 0.01, 0.04, 0.12, 0.13, 0.05), (0.7, 0.12, 0.05, 0.01, 0.04, 0.03, 0.05))
    q5_2 = ans.scale(inc, (0, 0.25, 0.75), (0.8, 0.2, 0))
    q5_3 = ans.scale(inc, (0.4, 0.4, 0.2), (0.85, 0.15, 0))
    q5_4 = ans.scale(inc & acquisitive, (0.3, 0.4, 0.3), (0.9, 0.08, 0.02))
    q5_5 = ans.scale(inc, (0.3, 0.3, 0.4), (0.8, 0.2, 0))
    q5_5 = np.where(inc & (q5_2 != 2) & (q5_5 != 3), 2, q5_5).astype(np.int8)
    no_income = K.INCOME_SOURCE.values.index("NONE")
    q5_tot = np.minimum(_val(q5_2) + _val(q5_3) + _val(q5_4) + _val(q5_5) + (q5_1 == no_income), 9)
    # section 6 relationships and domestic abuse
    q6_1 = ans.scale(fam, (0, 0, 1), (0.75, 0.25, 0))
    female = ~pop.male[person]
    victim = ans.yn(yesif(da, np.where(female, 0.8, 0.35), 0.0))
    perp = ans.yn(yesif(da, np.where(female, 0.25, 0.8), 0.0))
    perp = np.where(da & (victim == 0) & (perp == 0), 1, perp).astype(np.int8)
    q6_tot = np.minimum(2 * _val(q6_1) + 2 * _yes(victim) + 2 * _yes(perp) + rng.integers(0, 3, n), 10)
    q7_tot = np.clip(np.round(2 + 2.0 * sub + 1.0 * acc + 1.0 * emp + rng.normal(0, 1.5, n)), 0, 10).astype(np.int64)
    # sections 8 and 9 drugs and alcohol, and section 13's "misuse affects risks or needs":
    # proxy = 13_3_10_1 YES (drugs) or 13_3_9_1 YES (alcohol); a person's main substance always shows
    co_use = rng.random(n) < 0.25
    drugs13 = ans.yes_only((sub & (drugs_main | co_use)).astype(float))
    alcohol13 = ans.yes_only((alc_main | (sub & co_use)).astype(float))
    q8_4 = np.where(drugs_main, ans.scale(drugs_main, (0, 0.25, 0.75), (0, 0, 1)),
                    ans.scale(alc_main, (0.6, 0.3, 0.1), (0.85, 0.13, 0.02))).astype(np.int8)
    q9_1 = np.where(alc_main, ans.scale(alc_main, (0, 0.25, 0.75), (0, 0, 1)),
                    ans.scale(sub, (0.55, 0.3, 0.15), (0.85, 0.14, 0.01))).astype(np.int8)
    q8_1 = np.where(_val(q8_4) > 0, 1, ans.yn(yesif(sub, 0.9, 0.3))).astype(np.int8)
    q8_tot = np.minimum(2 * _val(q8_4) + _yes(q8_1) + 2 * _yes(drugs13, 0) + rng.integers(0, 2, n), 10)
    q9_tot = np.minimum(3 * _val(q9_1) + 2 * _yes(alcohol13, 0) + rng.integers(0, 3, n), 10)
    # section 10 emotional well-being: proxy = 10_6 '2' or currently receiving psychiatric treatment (either form)
    q10_6 = ans.scale(mh, (0, 0.35, 0.65), (0.8, 0.2, 0))
    treat = mh & ((rng.random(n) < 0.4) | np.isin(q10_6, (0, 1)))
    treat1, treat2 = ans.flag(treat, v2=v2)
    q10_7 = {"psychtreat": (treat1, treat2)}
    for item, p_if, p_not in (("childhood", 0.4, 0.1), ("histpsych", 0.7, 0.1), ("medication", 0.6, 0.08),
                              ("patient", 0.2, 0.01)):
        cond = (mh | fam) if item == "childhood" else mh
        q10_7[item] = ans.flag(rng.random(n) < yesif(cond, p_if, p_not), v2=v2)
    headinj = np.where(v2, -1, ans.yes_only(np.full(n, 0.05))).astype(np.int8)
    q10_5 = ans.yn(yesif(mh, 0.45, 0.05))
    q10_tot = np.minimum(2 * _val(q10_6) + 2 * _tick(treat1, treat2) + _tick(*q10_7["histpsych"])
                         + 2 * _yes(q10_5) + rng.integers(0, 2, n), 10)
    q11 = np.clip(np.round(6 + 2 * sub + 1.5 * mh + 1.0 * fam + rng.normal(0, 3, n)), 0, 20).astype(np.int64)
    q12 = np.clip(np.round(3 + 1 * sub + 0.5 * acc + rng.normal(0, 2, n)), 0, 10).astype(np.int64)
    # section 13: the first answer of each consideration carries the measure; the other two follow it
    def grid(first: np.ndarray) -> dict[int, np.ndarray]:
        yes = first == 0
        return {1: first, 2: ans.yes_only(yes * 0.6), 3: ans.yes_only(yes * 0.35)}

    q13 = {1: grid(ans.yes_only(ph.astype(float))), 9: grid(alcohol13), 10: grid(drugs13)}
    cols = {
        "row_id_hash": rid,
        "question_1_10": prev_cus.astype(np.int64),
        "question_1_10_1": coded(_weighted(prev_cus, 1, 3), K.WEIGHTED_012.values),
        "question_1_11": coded(h["breached"].astype(np.int8), K.BREACHES.values),
        "question_1_12": cats.astype(np.int64),
        "question_1_12_1": coded(_weighted(cats, 2, 4), K.WEIGHTED_012.values),
        "question_1_29": h["conviction_day"],
        "question_2_2_weapon": coded(ans.yes_only(yesif(grp == G_WEAP, 0.9, yesif(viol, 0.25, 0.01))), YES),
        "question_2_3_directcont": coded(ans.yes_only(yesif(contact, 0.9, 0.05)), YES),
        "question_2_3_physicalviol": coded(ans.yes_only(yesif(viol, 0.85, 0.0)), YES),
        "question_2_3_repeatvict": coded(ans.yes_only(yesif(viol & da, 0.5, yesif(viol, 0.08, 0.0))), YES),
        "question_2_3_resptovictim": coded(ans.yes_only(yesif(contact, 0.2, 0.02)), YES),
        "question_2_9_addiction": coded(add1, YES),
        "question_2_9_financial": coded(fin1, YES),
        "question_2_9_v2_addiction": coded(add2, YN),
        "question_2_9_v2_financial": coded(fin2, YN),
        "question_2_10_alcho": coded(ans.yes_only(yesif(alc_main, 0.6, yesif(sub, 0.15, 0.04))), YES),
        "question_2_10_drugs": coded(ans.yes_only(yesif(drugs_main, 0.6, 0.03)), YES),
        "question_2_11": coded(ans.yn(np.full(n, 0.75)), YN),
        "question_2_13": coded(ans.yn(yesif(h["convictions"] >= 3, 0.25, 0.08)), YN),
        "question_2_14": coded(q2_14, YNM),
        "question_3_1_1": coded(q3_1_1, K.ACCOMMODATION_TYPE.values),
        "question_3_1_2": coded(planned.astype(np.int8), K.ACCOMMODATION_PLAN.values),
        "question_3_3": coded(q3_3, YNM),
        "question_3_4": coded(q3_4, S012),
        "question_3_5": coded(q3_5, S012),
        "question_3_6": coded(q3_6, S012),
        "question_3_98": coded(ans.yn(yesif(acc, 0.3, 0.02)), YN),
        "question_3_99": coded(ans.yn(yesif(acc, 0.6, 0.05)), YN),
        "question_3_tot": q3_tot,
        "question_4_2": coded(q4_2, YN),
        "question_4_3": coded(q4_3, S012),
        "question_4_7": coded(q4_7, S012),
        "question_4_tot": q4_tot,
        "question_5_1": coded(q5_1, K.INCOME_SOURCE.values),
        "question_5_2": coded(q5_2, S012),
        "question_5_3": coded(q5_3, S012),
        "question_5_4": coded(q5_4, S012),
        "question_5_5": coded(q5_5, S012),
        "question_5_98": coded(ans.yn(yesif(inc, 0.25, 0.02)), YN),
        "question_5_99": coded(ans.yn(yesif(inc, 0.55, 0.05)), YN),
        "question_5_tot": q5_tot.astype(np.int64),
        "question_6_1": coded(q6_1, S012),
        "question_6_7_da_victim": coded(victim, YN),
        "question_6_7_da_perpetrator": coded(perp, YN),
        "question_6_tot": q6_tot,
        "question_7_tot": q7_tot,
        "question_8_1": coded(q8_1, YN),
        "question_8_4": coded(q8_4, S012),
        "question_8_tot": q8_tot.astype(np.int64),
        "question_9_1": coded(q9_1, S012),
        "question_9_tot": q9_tot.astype(np.int64),
        "question_10_5": coded(q10_5, YN),
        "question_10_6": coded(q10_6, S012),
        "question_10_7_childhood": coded(q10_7["childhood"][0], YES),
        "question_10_7_histheadinj": coded(headinj, YES),
        "question_10_7_histpsych": coded(q10_7["histpsych"][0], YES),
        "question_10_7_medication": coded(q10_7["medication"][0], YES),
        "question_10_7_patient": coded(q10_7["patient"][0], YES),
        "question_10_7_psychtreat": coded(treat1, YES),
        "question_10_7_v2_childhood": coded(q10_7["childhood"][1], YN),
        "question_10_7_v2_histpsych": coded(q10_7["histpsych"][1], YN),
        "question_10_7_v2_medication": coded(q10_7["medication"][1], YN),
        "question_10_7_v2_patient": coded(q10_7["patient"][1], YN),
        "question_10_7_v2_psychtreat": coded(treat2, YN),
        "question_10_tot": q10_tot.astype(np.int64),
        "question_11_tot": q11,
        "question_12_tot": q12,
    }
    for row, answers in q13.items():
        for k, v in answers.items():
            cols[f"question_13_3_{row}_{k}"] = coded(v, YES)
    return Frame("oasys_assessments_details_core_risk", columns=cols)


def _age_first(pop: Population, J: Justice, person: np.ndarray, end: int) -> np.ndarray:
    """Age at the person's first case in the period."""
    first = np.full(pop.n, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(first, J.cases.person, J.cases.offence_day)
    f = first[person]
    f = np.where(f == np.iinfo(np.int32).max, end, f)
    return np.clip(age_at(pop.dob[person], f.astype(np.int32)), 10, 99).astype(np.int64)


__all__ = ["oasys_frames", "assessments", "OFFENCE_GROUPS", "uniform_days"]
