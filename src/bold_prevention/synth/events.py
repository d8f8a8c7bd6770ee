"""Criminal justice life events over the period, driven by the latent needs.

offences -> magistrates' cases -> some sent to the Crown Court (journey table) -> outcomes and sentences ->
custody spells (merged into custodial journeys) and releases, recalls / probation events with requirements ->
OASys assessments dated inside the sentence or supervision -> reoffending after release (with a known truth).

All steps are vectorised over cases, spells or assessments; the loops are over generations of
release -> reoffending -> new custody, and over tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ..datafirst import codes as K
from .common import (
    NA,
    add_years,
    age_at,
    choose,
    choose_rows,
    day,
    explode,
    rng_for,
    uniform_days,
    year_of,
    year_start,
)
from .params import NEEDS, SynthParams
from .population import Population

OFFENCE_GROUPS = K.OFFENCE_GROUP.values  # '01' .. '12', '99'
_G = {g: i for i, g in enumerate(OFFENCE_GROUPS)}
#: Base mix of principal offence groups among magistrates' cases.
GROUP_WEIGHTS = np.array([0.20, 0.015, 0.015, 0.20, 0.05, 0.08, 0.03, 0.05, 0.03, 0.02, 0.14, 0.16, 0.005])
#: Share of cases sent to the Crown Court by offence group.
CROWN_SHARE = np.array([0.12, 0.75, 0.80, 0.03, 0.05, 0.10, 0.12, 0.03, 0.05, 0.10, 0.0, 0.0, 0.02])
#: Offence type by group (index into OFFENCE_TYPE codes SNM, SM, EW, IO).
GROUP_TYPE = np.array([2, 3, 3, 2, 2, 2, 2, 2, 2, 2, 0, 1, 2], dtype=np.int8)
#: Home Office offence codes by group (5-digit class/subclass; illustrative, check against the HO lookup).
OFFENCE_CODES: dict[str, tuple[str, ...]] = {
    "01": ("00801", "00802", "10501", "10400", "00500"),
    "02": ("01901", "02001", "01700"),
    "03": ("03401", "03402"),
    "04": ("04601", "04900", "04400", "03900", "03700"),
    "05": ("05801", "05802", "05600"),
    "06": ("09201", "09206", "09207"),
    "07": ("08111", "08112", "08113"),
    "08": ("06600", "06500", "12500"),
    "09": ("08600", "07900", "08000"),
    "10": ("05200", "05300", "05400"),
    "11": ("14500", "12300", "16200", "15900"),
    "12": ("80300", "80400", "80700", "80901"),
    "99": ("99999",),
}
ALL_OFFENCE_CODES = tuple(c for g in OFFENCE_GROUPS for c in OFFENCE_CODES[g])
_CODE_START = np.cumsum([0] + [len(OFFENCE_CODES[g]) for g in OFFENCE_GROUPS])[:-1]
_CODE_COUNT = np.array([len(OFFENCE_CODES[g]) for g in OFFENCE_GROUPS])

PRISONS_MEN = ("HMP Pentonville", "HMP Wandsworth", "HMP Birmingham", "HMP Manchester", "HMP Leeds",
               "HMP Liverpool", "HMP Bristol", "HMP Cardiff", "HMP Swansea", "HMP Parc", "HMP Berwyn",
               "HMP Durham", "HMP Doncaster", "HMP Nottingham", "HMP Leicester", "HMP Exeter", "HMP Winchester",
               "HMP Lewes", "HMP Elmley", "HMP Norwich", "HMP Bedford", "HMP Bullingdon", "HMP Hewell",
               "HMP Altcourse", "HMP Forest Bank", "HMP Hull", "HMP Preston", "HMP Thameside", "HMP Belmarsh",
               "HMP Brixton", "HMP Peterborough", "HMYOI Feltham", "HMYOI Aylesbury")
PRISONS_WOMEN = ("HMP Bronzefield", "HMP Styal", "HMP New Hall", "HMP Eastwood Park", "HMP Peterborough",
                 "HMP Downview", "HMP Foston Hall", "HMP Low Newton")
PRISONS = tuple(dict.fromkeys(PRISONS_MEN + PRISONS_WOMEN))
#: Post-sentence supervision applies to sentences under two years from this day (Offender Rehabilitation Act 2014).
PSS_FROM = day(date(2015, 2, 1))

# code indices
MAGS_OUTCOMES = K.MAGS_OUTCOME.values  # CONV ACQ DIS WD CFT CFS
SENTENCES = K.SENTENCE.values  # CUS SSO CO FINE CD AD ODW
S_CUS, S_SSO, S_CO, S_FINE, S_CD, S_AD, S_ODW = range(7)
CROWN_OUTCOMES = K.CROWN_OUTCOME.values  # CONV ACQ DBJ BO WD
ADMISSION = K.ADMISSION_REASON.values  # SENTENCE REMAND RECALL HDC_RECALL
RELEASE = K.RELEASE_REASON.values  # CRD HDC PAROLE ECSL DTO RECALL_RELEASE IMMIGRATION_BAIL ERS
DISPOSALS = K.PROBATION_DISPOSAL.values
D_CO, D_SSO, D_CUS, D_LIC, D_PSS, D_PSR = range(6)
RQMNTS = K.RQMNT_CATEGORY.values
RQMNT_LABELS = tuple(lab for _, lab in K.RQMNT_CATEGORY.codes)
RQMNT_TERM = K.RQMNT_TERMINATION.values
AREAS = K.PROBATION_AREA.values


def _sorted_keys(person: np.ndarray, when: np.ndarray) -> np.ndarray:
    return np.sort(person.astype(np.int64) * 100_000 + when.astype(np.int64))


def count_before(keys: np.ndarray, person: np.ndarray, when: np.ndarray, *, inclusive: bool = False) -> np.ndarray:
    """How many (person, day) keys of a sorted key array fall strictly before ``when`` for the same person."""
    base = person.astype(np.int64) * 100_000
    lo = np.searchsorted(keys, base, side="left")
    hi = np.searchsorted(keys, base + when.astype(np.int64), side="right" if inclusive else "left")
    return (hi - lo).astype(np.int32)


@dataclass
class Cases:
    """Every case (one principal offence episode) heard at a magistrates' court, and what followed."""

    person: np.ndarray
    offence_day: np.ndarray
    generation: np.ndarray


def offence_rates(pop: Population, P: SynthParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Base case rate per person and calendar year of the period (cases per year), and the years."""
    rng = rng_for(seed, "offending")
    years = np.arange(P.start.year, P.end.year + 1)
    mid = (year_start(years) + 182).astype(np.int32)
    w = np.array([P.offence_need_weights[d] for d in NEEDS], dtype=np.float32)
    lin = pop.score @ w + np.where(pop.male, P.offence_male_effect, 0.0).astype(np.float32)
    het = rng.gamma(P.offence_heterogeneity_shape, 1.0 / P.offence_heterogeneity_shape, pop.n).astype(np.float32)
    person_rate = P.offence_base_rate * np.exp(lin) * het
    ages = np.array([a for a, _ in P.offence_age_curve])
    effects = np.array([e for _, e in P.offence_age_curve], dtype=np.float32)
    rate = np.empty((pop.n, len(years)), dtype=np.float32)
    for j, m in enumerate(mid):
        a = age_at(pop.dob, np.full(pop.n, m, dtype=np.int32))
        band = np.searchsorted(ages, a, side="right") - 1
        eff = np.where(band >= 0, effects[np.clip(band, 0, None)], -np.inf)
        rate[:, j] = np.minimum(person_rate * np.exp(eff), P.offence_max_rate)
    return rate, years


def base_cases(pop: Population, P: SynthParams, seed: int, rate: np.ndarray, years: np.ndarray) -> Cases:
    rng = rng_for(seed, "base-cases")
    counts = rng.poisson(rate)
    person, ordinal = explode(counts.ravel())
    yidx = person % len(years)
    person = (person // len(years)).astype(np.int32)
    ys = year_start(years)
    ye = year_start(years + 1) - 1
    d = uniform_days(rng, ys[yidx], ye[yidx])
    tenth = add_years(pop.dob[person], 10)
    d = np.maximum(d, tenth)
    keep = d <= day(P.end)
    return Cases(person=person[keep], offence_day=d[keep].astype(np.int32),
                 generation=np.zeros(int(keep.sum()), dtype=np.int8))


# ---------------------------------------------------------------------------------------------------- courts
@dataclass
class CourtResult:
    """Per-case court columns (all arrays aligned with the cases)."""

    group: np.ndarray
    code: np.ndarray
    n_offences: np.ndarray
    first_hearing: np.ndarray
    mags_final: np.ndarray
    plea: np.ndarray
    mags_outcome: np.ndarray
    mags_sentence: np.ndarray
    to_crown: np.ndarray
    crown_type: np.ndarray  # -1 none, 0 T, 1 S, 2 A
    crown_receipt: np.ndarray
    crown_plea: np.ndarray
    crown_outcome: np.ndarray
    crown_sentence: np.ndarray
    crown_sentence_day: np.ndarray
    custody_days: np.ndarray
    breach: np.ndarray
    convicted: np.ndarray
    sentence: np.ndarray  # final sentence (-1 none)
    sentence_day: np.ndarray
    remanded: np.ndarray
    order_length: np.ndarray  # community / suspended sentence order length in days (0 otherwise)
    order_end: np.ndarray  # the day the order ended (early on breach or revocation), NA otherwise


def court(pop: Population, P: SynthParams, cases: Cases, prior_at_case: np.ndarray, rng: np.random.Generator
          ) -> CourtResult:
    n = len(cases.person)
    p = cases.person
    sc = pop.score[p]
    ni = {d: i for i, d in enumerate(NEEDS)}
    male = pop.male[p]
    # principal offence group, shaped by needs and sex
    w = np.tile(GROUP_WEIGHTS, (n, 1))
    w[:, _G["04"]] *= np.exp(0.35 * sc[:, ni["substance_misuse"]] + 0.3 * sc[:, ni["low_income"]]) * np.where(
        male, 1.0, 1.6)
    w[:, _G["06"]] *= np.exp(0.6 * sc[:, ni["substance_misuse"]])
    w[:, _G["01"]] *= np.exp(0.4 * sc[:, ni["domestic_abuse"]] + 0.2 * sc[:, ni["mental_health"]]) * np.where(
        male, 1.2, 0.8)
    w[:, _G["10"]] *= np.exp(0.3 * sc[:, ni["low_income"]])
    w[:, _G["12"]] *= np.where(male, 1.2, 0.7)
    w[:, _G["02"]] *= np.where(male, 1.0, 0.05)
    group = choose_rows(rng, w)
    code = (_CODE_START[group] + (rng.random(n) * _CODE_COUNT[group]).astype(np.int64)).astype(np.int16)
    n_off = (1 + np.minimum(rng.poisson(0.5, n), 5)).astype(np.int8)
    first = (cases.offence_day + 1 + np.minimum(rng.exponential(40, n), 174)).astype(np.int32)
    plea = choose(rng, (0.68, 0.14, 0.18), n)  # G NG N
    to_crown = rng.random(n) < CROWN_SHARE[group]
    convicted_m = (plea == 0) | (rng.random(n) < P.mags_conviction_rate - 0.68)
    not_conv = choose(rng, (0.2, 0.25, 0.55), n) + 1  # ACQ DIS WD
    mags_outcome = np.where(convicted_m, 0, not_conv).astype(np.int16)
    mags_outcome = np.where(to_crown, np.where(plea == 0, 5, 4), mags_outcome).astype(np.int16)  # CFS / CFT
    mags_final = np.where(
        to_crown, first + rng.exponential(10, n).astype(np.int32),
        first + np.where(rng.random(n) < 0.5, 0, rng.exponential(35, n)).astype(np.int32)).astype(np.int32)

    # magistrates' sentences
    lp = np.log1p(prior_at_case)
    nd = pop.need[p]
    need_load = nd[:, [ni["substance_misuse"], ni["accommodation"], ni["mental_health"]]].sum(axis=1)
    p_cus = np.clip(P.mags_custody_rate * np.exp(0.25 * lp + 0.15 * need_load), 0, 0.5)
    sw = np.column_stack([
        p_cus, np.full(n, 0.06), 0.14 * np.exp(0.2 * need_load), np.full(n, 0.45), np.full(n, 0.15),
        np.full(n, 0.02), np.full(n, 0.08)])
    motoring = group == _G["12"]
    sw[motoring] = (0.01, 0.01, 0.02, 0.85, 0.04, 0.02, 0.05)
    sw[:, 1:] *= (1 - sw[:, :1]) / sw[:, 1:].sum(axis=1, keepdims=True)
    mags_sentence = np.where(mags_outcome == 0, choose_rows(rng, sw), -1).astype(np.int16)
    mags_len = np.array([14, 28, 42, 56, 84, 112, 126, 182], dtype=np.int32)[choose(rng, (
        0.15, 0.2, 0.1, 0.15, 0.15, 0.1, 0.05, 0.1), n)]

    # Crown Court: trials and committals for sentence, plus appeals against magistrates' convictions
    appeal = (mags_outcome == 0) & (rng.random(n) < P.appeal_rate)
    crown_type = np.where(to_crown, np.where(plea == 0, 1, 0), np.where(appeal, 2, -1)).astype(np.int8)
    receipt = np.where(crown_type == 2, mags_final + rng.integers(14, 60, n),
                       mags_final + rng.integers(1, 28, n)).astype(np.int32)
    cplea = np.where(crown_type == 1, 0, choose(rng, (0.55, 0.40, 0.05), n)).astype(np.int16)  # G NG MIX
    trial_conv = rng.random(n) < 0.55
    c_not = choose(rng, (0.70, 0.15, 0.05, 0.10), n)  # ACQ DBJ BO WD
    c_not = np.array([1, 2, 3, 4])[c_not]
    conv_c = (cplea != 1) | trial_conv
    conv_c = np.where(crown_type == 2, rng.random(n) < 0.6, conv_c)
    crown_outcome = np.where(conv_c, 0, c_not).astype(np.int16)
    crown_outcome = np.where(crown_type < 0, -1, crown_outcome).astype(np.int16)
    delay = np.where(crown_type == 1, rng.integers(20, 60, n),
                     np.where(cplea == 1, rng.integers(120, 400, n), rng.integers(30, 120, n)))
    crown_sday = np.where((crown_type >= 0) & (crown_outcome == 0), receipt + delay, NA).astype(np.int32)
    grave = np.isin(group, (_G["02"], _G["03"]))
    p_ccus = np.clip(P.crown_custody_rate * np.exp(0.25 * lp + 0.1 * need_load) * np.where(grave, 1.5, 1.0), 0, 0.95)
    cw = np.column_stack([p_ccus, np.full(n, 0.20), np.full(n, 0.15), np.full(n, 0.05), np.full(n, 0.03),
                          np.full(n, 0.0), np.full(n, 0.02)])
    cw[:, 1:] *= (1 - cw[:, :1]) / cw[:, 1:].sum(axis=1, keepdims=True)
    crown_sentence = np.where((crown_type >= 0) & (crown_outcome == 0), choose_rows(rng, cw), -1).astype(np.int16)
    crown_sentence = np.where(crown_type == 2, np.where(crown_outcome == 0, mags_sentence, -1), crown_sentence)
    crown_len = np.clip(np.exp(np.log(P.crown_sentence_median_days) + P.crown_sentence_sigma * rng.standard_normal(n)
                               + np.where(grave, 0.7, 0.0)), 30, 36500).astype(np.int32)

    # final sentence of the case and its day
    final_in_crown = (crown_type == 0) | (crown_type == 1)
    sentence = np.where(final_in_crown, crown_sentence, mags_sentence).astype(np.int16)
    sentence_day = np.where(final_in_crown, crown_sday, np.where(mags_sentence >= 0, mags_final, NA)).astype(np.int32)
    # no immediate custody under 15 (a community sentence instead)
    young = age_at(pop.dob[p], np.where(sentence_day == NA, cases.offence_day, sentence_day)) < 15
    sentence = np.where(young & (sentence == S_CUS), S_CO, sentence).astype(np.int16)
    mags_sentence = np.where(young & (mags_sentence == S_CUS), S_CO, mags_sentence).astype(np.int16)
    crown_sentence = np.where(young & (crown_sentence == S_CUS), S_CO, crown_sentence).astype(np.int16)
    custody_days = np.where(sentence == S_CUS, np.where(final_in_crown, crown_len, mags_len), 0).astype(np.int32)
    convicted = sentence >= 0
    remanded = final_in_crown & (sentence == S_CUS) & (rng.random(n) < P.remand_share)
    remanded &= age_at(pop.dob[p], first) >= 15  # no remand in custody under 15 here
    breach = rng.random(n) < 0.04
    # community and suspended sentence orders: length and (sometimes early) end
    is_sso = sentence == S_SSO
    is_order = ((sentence == S_CO) | is_sso) & (sentence_day != NA)
    order_length = np.where(is_sso, np.array([365, 547, 730])[choose(rng, (0.5, 0.2, 0.3), n)],
                            np.array([182, 365, 365, 547, 730, 1095])[choose(rng, (0.1, 0.4, 0.1, 0.15, 0.2, 0.05),
                                                                              n)])
    order_length = np.where(is_order, order_length, 0).astype(np.int32)
    early = rng.random(n) < 0.22
    end_day = np.where(early, sentence_day + 30 + (rng.random(n) * (order_length - 30)).astype(np.int32),
                       sentence_day + order_length)
    order_end = np.where(is_order, end_day, NA).astype(np.int32)
    return CourtResult(
        group=group, code=code, n_offences=n_off, first_hearing=first, mags_final=mags_final, plea=plea,
        mags_outcome=mags_outcome, mags_sentence=mags_sentence, to_crown=to_crown, crown_type=crown_type,
        crown_receipt=receipt, crown_plea=cplea, crown_outcome=crown_outcome, crown_sentence=crown_sentence,
        crown_sentence_day=crown_sday, custody_days=custody_days, breach=breach, convicted=convicted,
        sentence=sentence, sentence_day=sentence_day, remanded=remanded, order_length=order_length,
        order_end=order_end)


def _concat_court(parts: list[CourtResult]) -> CourtResult:
    return CourtResult(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in CourtResult.__dataclass_fields__})


# ---------------------------------------------------------------------------------------------------- custody
def custody_spells(pop: Population, P: SynthParams, cases: Cases, cr: CourtResult, case_index: np.ndarray,
                   rng: np.random.Generator) -> pd.DataFrame:
    """Sentence spells (and recall spells) for custodial sentences among the given cases."""
    i = case_index[cr.sentence[case_index] == S_CUS]
    i = i[cr.sentence_day[i] != NA]
    person = cases.person[i]
    sday = cr.sentence_day[i]
    length = cr.custody_days[i]
    rec = np.where(cr.remanded[i], cr.first_hearing[i], sday).astype(np.int32)
    served = np.maximum((length * P.release_point).astype(np.int32), 1)
    release = np.maximum(rec + served, sday + 1)
    n = len(i)
    age = age_at(pop.dob[person], sday)
    reason = np.zeros(n, dtype=np.int16)  # CRD
    hdc = (length >= 84) & (length <= 1460) & (rng.random(n) < 0.25)
    cut = np.minimum(135, served // 2)
    release = np.where(hdc, np.maximum(release - cut, sday + 1), release)
    reason[hdc] = 1
    parole = (length > 1460) & (rng.random(n) < 0.3)
    reason[parole] = 2
    u = rng.random(n)
    reason[(u < 0.02) & ~hdc] = 3  # ECSL
    reason[(u > 0.99) & ~hdc] = 7  # ERS
    reason[age < 18] = 4  # DTO
    licence_end = sday + length
    pss = (length < 730) & (sday >= PSS_FROM)
    licence_end = np.where(pss, licence_end + 365, licence_end).astype(np.int32)
    spells = pd.DataFrame({
        "person": person, "reception": rec, "release": release.astype(np.int32),
        "admission": np.where(cr.remanded[i], 1, 0).astype(np.int16), "release_reason": reason,
        "sentence_day": sday, "length": length, "group": cr.group[i], "case": i, "recall": False,
        "licence_end": licence_end,
    })
    # recalls while on licence
    sc = pop.score[person]
    ni = {d: k for k, d in enumerate(NEEDS)}
    p_rec = np.clip(P.recall_rate * np.exp(0.4 * sc[:, ni["substance_misuse"]] + 0.4 * sc[:, ni["accommodation"]]
                                           + 0.2 * sc[:, ni["mental_health"]]), 0, 0.7)
    gap = licence_end - release
    recall = (gap > 21) & (rng.random(n) < p_rec)
    r_day = release + 7 + (rng.random(n) * np.minimum(gap - 14, 365).clip(1)).astype(np.int32)
    fixed = rng.random(n) < 0.6
    r_len = np.where(fixed, 28, rng.integers(60, 365, n)).astype(np.int32)
    r_rel = np.minimum(r_day + r_len, np.maximum(licence_end, r_day + 28)).astype(np.int32)
    rs = pd.DataFrame({
        "person": person[recall], "reception": r_day[recall].astype(np.int32), "release": r_rel[recall],
        "admission": np.full(int(recall.sum()), 2, dtype=np.int16),
        "release_reason": np.full(int(recall.sum()), 5, dtype=np.int16),
        "sentence_day": sday[recall], "length": length[recall], "group": cr.group[i][recall], "case": i[recall],
        "recall": True, "licence_end": licence_end[recall],
    })
    return pd.concat([spells, rs], ignore_index=True)


def merge_journeys(spells: pd.DataFrame) -> pd.DataFrame:
    """Merge overlapping spells of a person into custodial journeys (vectorised: sort + running maximum)."""
    s = spells.sort_values(["person", "reception", "release"], kind="stable").reset_index(drop=True)
    run_max = s.groupby("person", sort=False)["release"].cummax()
    prev_max = run_max.groupby(s["person"], sort=False).shift(1)
    new = prev_max.isna() | (s["reception"] > prev_max)
    s["journey"] = np.cumsum(new.to_numpy()) - 1
    g = s.groupby("journey", sort=True)
    first = g.head(1).set_index("journey")
    last_idx = g["release"].idxmax()
    j = first[["person", "reception", "admission", "sentence_day", "length", "group", "case", "recall"]].copy()
    j["release"] = s.loc[last_idx.to_numpy(), "release"].to_numpy()
    j["release_reason"] = s.loc[last_idx.to_numpy(), "release_reason"].to_numpy()
    j["spells"] = g.size().to_numpy()
    return j.reset_index(drop=True), s


# ---------------------------------------------------------------------------------------------------- pipeline
@dataclass
class Justice:
    cases: Cases
    court: CourtResult
    spells: pd.DataFrame
    journeys: pd.DataFrame
    outcomes: pd.DataFrame
    conviction_keys: np.ndarray
    custody_keys: np.ndarray


def _release_hazard(pop: Population, P: SynthParams, person: np.ndarray, release: np.ndarray,
                    priors: np.ndarray) -> np.ndarray:
    w = np.array([P.release_need_weights[d] for d in NEEDS], dtype=np.float32)
    age = age_at(pop.dob[person], release).astype(np.float32)
    lin = (pop.need[person].astype(np.float32) @ w + np.where(pop.male[person], P.release_male_effect, 0.0)
           + P.release_prior_effect * np.log1p(priors) + P.release_age_effect * np.clip(age - 25, 0, None) / 10)
    return (P.release_hazard_base * np.exp(lin)).astype(np.float64)


def _base_window(rate: np.ndarray, years: np.ndarray, person: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Integrated base case rate over the 365 days after each release."""
    y1 = year_of(r + 1)
    end1 = year_start(y1 + 1) - 1
    ov1 = np.minimum(r + 365, end1) - r
    ov2 = 365 - ov1
    j1 = y1 - years[0]
    out = np.zeros(len(person))
    ok1 = (j1 >= 0) & (j1 < len(years))
    out[ok1] += rate[person[ok1], j1[ok1]] * ov1[ok1] / 365.25
    j2 = j1 + 1
    ok2 = (j2 >= 0) & (j2 < len(years)) & (ov2 > 0)
    out[ok2] += rate[person[ok2], j2[ok2]] * ov2[ok2] / 365.25
    return out


def simulate_justice(pop: Population, P: SynthParams, seed: int) -> Justice:
    """Run the offending, court, custody and reoffending process for every person."""
    rate, years = offence_rates(pop, P, seed)
    cases = base_cases(pop, P, seed, rate, years)
    end = day(P.end)
    court_parts: list[CourtResult] = []
    spell_parts: list[pd.DataFrame] = []
    extras = []  # (person, release, hazard) of releases given a post-release hazard
    done_release: set = set()
    all_person = cases.person
    all_day = cases.offence_day
    all_gen = cases.generation
    new_idx = np.arange(len(all_person))
    journeys = None
    for gen in range(P.release_generations + 1):
        rng = rng_for(seed, f"court-{gen}")
        c = Cases(all_person, all_day, all_gen)
        # prior record at each new case: convictions before the period plus earlier cases in it
        case_keys = _sorted_keys(all_person, all_day)
        sub = Cases(all_person[new_idx], all_day[new_idx], all_gen[new_idx])
        prior = pop.prior_convictions[sub.person] + count_before(case_keys, sub.person, sub.offence_day)
        cr_new = court(pop, P, sub, prior, rng)
        court_parts.append(cr_new)
        cr_all = _concat_court(court_parts)
        spell_parts.append(custody_spells(pop, P, c, cr_all, new_idx, rng))
        spells = pd.concat(spell_parts, ignore_index=True)
        journeys, _ = merge_journeys(spells)
        if gen == P.release_generations:
            break
        # post-release hazard for releases not yet given one
        jr = journeys[(journeys["release"] <= end)]
        keys = jr["person"].to_numpy().astype(np.int64) * 100_000 + jr["release"].to_numpy()
        fresh = ~np.isin(keys, np.fromiter(done_release, dtype=np.int64, count=len(done_release)))
        jr = jr[fresh]
        if len(jr) == 0:
            break
        done_release.update(keys[fresh].tolist())
        person = jr["person"].to_numpy().astype(np.int32)
        rel = jr["release"].to_numpy().astype(np.int32)
        conv = cr_all.convicted
        ck = _sorted_keys(all_person[conv], cr_all.sentence_day[conv])
        priors = pop.prior_convictions[person] + count_before(ck, person, rel)
        hz = _release_hazard(pop, P, person, rel, priors)
        extras.append(pd.DataFrame({"person": person, "release": rel, "hazard": hz}))
        rng = rng_for(seed, f"reoffend-{gen}")
        k = rng.poisson(hz)
        par, _ = explode(k)
        d = (rel[par] + 1 + (rng.random(len(par)) * 365).astype(np.int32)).astype(np.int32)
        keep = d <= end
        if not keep.any():
            break
        new_idx = np.arange(len(all_person), len(all_person) + int(keep.sum()))
        all_person = np.concatenate([all_person, person[par][keep]])
        all_day = np.concatenate([all_day, d[keep]])
        all_gen = np.concatenate([all_gen, np.full(int(keep.sum()), gen + 1, dtype=np.int8)])
    cases = Cases(all_person, all_day, all_gen)
    cr = _concat_court(court_parts)
    spells = pd.concat(spell_parts, ignore_index=True)
    journeys, spells = merge_journeys(spells)

    # ------------------------------------------------------------------ truth: reoffending within 12 months
    cutoff = day(P.outcome_cutoff)
    tj = journeys[(journeys["release"] <= cutoff) & (journeys["release"] >= day(P.start))]
    person = tj["person"].to_numpy().astype(np.int32)
    rel = tj["release"].to_numpy().astype(np.int32)
    lam = _base_window(rate, years, person, rel)
    if extras:
        ex = pd.concat(extras, ignore_index=True)
        q = pd.DataFrame({"row": np.arange(len(person)), "person": person, "release": rel})
        m = q.merge(ex, on="person", suffixes=("", "_x"))
        ov = (np.minimum(m["release"] + 365, m["release_x"] + 365) - np.maximum(m["release"], m["release_x"])).clip(0)
        add = np.bincount(m["row"].to_numpy(), weights=(m["hazard"] * ov / 365.0).to_numpy(), minlength=len(person))
        lam = lam + add
    prob = 1.0 - np.exp(-lam)
    case_keys = _sorted_keys(cases.person, cases.offence_day)
    after = count_before(case_keys, person, rel + 366) - count_before(case_keys, person, rel + 1)
    outcomes = pd.DataFrame({"journey": tj.index.to_numpy(), "person": person, "t0": rel, "probability": prob,
                             "outcome": after > 0})
    conv = cr.convicted
    return Justice(cases=cases, court=cr, spells=spells, journeys=journeys, outcomes=outcomes,
                   conviction_keys=_sorted_keys(cases.person[conv], cr.sentence_day[conv]),
                   custody_keys=_sorted_keys(journeys["person"].to_numpy(), journeys["reception"].to_numpy()))
