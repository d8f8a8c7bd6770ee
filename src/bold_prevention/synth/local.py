"""Later-wave sources: a local-authority resident index with service contacts (the pilot authorities), and a
pupil-level education extract (like the National Pupil Database) for persons of school age in England.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..datafirst import MODEL
from ..datafirst import codes as K
from .common import NA, Frame, age_at, choose, coded, day, explode, hex_ids, rng_for, uniform_days
from .params import NEEDS, SynthParams
from .population import NO_MOVE, Population

LA_SERVICES = K.LA_SERVICE.values  # HOUS TA HPR EH ASC CSC ASB CTS RENT DA
LA_OUTCOMES = ("Advice and information given", "Referred to partner agency", "Case opened", "No further action",
               "Assessment completed", "Placed in temporary accommodation", "Prevention duty accepted",
               "Relief duty accepted", "Support plan agreed", "Warning issued", "Award made", "Payment plan agreed",
               "Service declined")
#: Outcome choices per service (indices into LA_OUTCOMES).
_SERVICE_OUTCOMES = {
    0: (0, 1, 6, 3), 1: (5, 3), 2: (6, 7, 0, 3), 3: (4, 8, 12, 3), 4: (4, 8, 12, 3), 5: (4, 2, 3, 1),
    6: (9, 3, 1), 7: (10, 3), 8: (11, 2, 3), 9: (1, 8, 12, 4),
}


def local_authority_frames(pop: Population, P: SynthParams, seed: int) -> dict[str, Frame]:
    rng = rng_for(seed, "local-authority")
    lo, hi = (day(x) for x in MODEL.dataset("local_authority").coverage)
    lo, hi = max(lo, day(P.start)), min(hi, day(P.end))
    codes = pop.geo.lad_code.to_pylist()
    pilot = np.array([codes.index(c) for c in P.la_pilot_lads])
    # residence intervals of each household in the pilot authorities
    H, S = pop.addr_lsoa.shape
    in_pilot = np.isin(pop.geo.lad_index[pop.addr_lsoa], pilot)
    starts = np.concatenate([np.full((H, 1), lo), pop.move_day], axis=1)
    ends = np.concatenate([pop.move_day - 1, np.full((H, 1), hi)], axis=1)
    valid = starts <= hi
    ends = np.minimum(ends, hi)
    valid &= starts != NO_MOVE
    ip = in_pilot & valid
    big = np.iinfo(np.int32).max
    first = np.where(ip, starts, big).min(axis=1)
    last = np.where(ip, ends, -big).max(axis=1)
    ever = ip.any(axis=1)
    res = np.flatnonzero(ever[pop.household])
    res = res[pop.dob[res] <= last[pop.household[res]]]
    r_first = np.maximum(first[pop.household[res]], pop.dob[res]).astype(np.int32)
    r_last = last[pop.household[res]].astype(np.int32)
    dup = rng.random(len(res)) < P.la_duplicate_rate
    rec_person = np.concatenate([res, res[dup]])
    rec_first = np.concatenate([r_first, r_first[dup]])
    rec_last = np.concatenate([r_last, r_last[dup]])
    o = np.lexsort((np.arange(len(rec_person)), rec_person))
    rec_person, rec_first, rec_last = rec_person[o], rec_first[o], rec_last[o]
    nr = len(rec_person)
    rid = np.arange(nr)
    when = uniform_days(rng, np.maximum(rec_first, rec_last - 365), rec_last)
    resident_id = hex_ids(rid, "la_resident", seed, prefix="R", width=12)
    residents = Frame("la_residents", person=rec_person.astype(np.int32), when=when, group="local_authority",
                      key=rid)
    residents.columns = {
        "resident_id": resident_id,
        "household_id": hex_ids(pop.household[rec_person], "la_household", seed, prefix="H", width=12),
    }
    # service contacts over the residence, driven by needs
    primary = np.ones(nr, dtype=bool)
    primary[1:] = rec_person[1:] != rec_person[:-1]
    p = rec_person
    years = (rec_last - rec_first + 1) / 365.25
    s = pop.score[p]
    ni = {d: i for i, d in enumerate(NEEDS)}
    age = age_at(pop.dob[p], rec_last).astype(float)
    child = age < 18
    base = np.array([0.6, 0.1, 0.3, 0.4, 0.3, 0.15, 0.25, 0.6, 0.3, 0.15])
    eff = np.column_stack([
        1.2 * s[:, ni["accommodation"]] + 0.4 * s[:, ni["low_income"]],
        1.8 * s[:, ni["accommodation"]],
        1.4 * s[:, ni["accommodation"]],
        1.0 * s[:, ni["family"]] + np.where(child, 0.5, -0.5),
        1.0 * s[:, ni["physical_health"]] + 0.6 * s[:, ni["mental_health"]] + np.where(age >= 65, 1.2, -0.5),
        np.where(child, 1.2 * s[:, ni["family"]] + 0.8 * s[:, ni["domestic_abuse"]], -6.0),
        1.0 * s[:, ni["substance_misuse"]] + np.where(pop.male[p], 0.4, -0.2),
        1.4 * s[:, ni["low_income"]] + np.where(child, -6.0, 0.0),
        1.2 * s[:, ni["low_income"]] + 0.5 * s[:, ni["accommodation"]] + np.where(child, -6.0, 0.0),
        1.8 * s[:, ni["domestic_abuse"]],
    ])
    lam = P.la_contact_rate * base[None, :] * np.exp(eff) * years[:, None]
    lam = np.where(primary[:, None], lam, lam * 0.3)
    cnt = rng.poisson(lam)
    par, _ = explode(cnt.ravel())
    r = par // len(LA_SERVICES)
    svc = (par % len(LA_SERVICES)).astype(np.int16)
    cdate = uniform_days(rng, rec_first[r], rec_last[r])
    outcome = np.zeros(len(r), dtype=np.int16)
    for k, choices in _SERVICE_OUTCOMES.items():
        sel = svc == k
        outcome[sel] = np.asarray(choices)[rng.integers(0, len(choices), int(sel.sum()))]
    outcome = np.where(rng.random(len(r)) < 0.05, -1, outcome)
    o = np.lexsort((svc, cdate, r))
    r, svc, cdate, outcome = r[o], svc[o], cdate[o], outcome[o]
    contacts = Frame("la_service_contacts", columns={
        "contact_id": hex_ids(np.arange(len(r)), "la_contact", seed, prefix="C", width=12),
        "resident_id": resident_id.take(pa.array(r)),
        "service": coded(svc, LA_SERVICES),
        "contact_date": cdate,
        "outcome": coded(outcome, LA_OUTCOMES),
    })
    return {f.table: f for f in (residents, contacts)}


def education_frames(pop: Population, P: SynthParams, seed: int) -> dict[str, Frame]:
    rng = rng_for(seed, "education")
    lo_d, hi_d = MODEL.dataset("education").coverage
    hi = day(hi_d)
    first_year = lo_d.year if lo_d.month >= 9 else lo_d.year - 1
    last_year = hi_d.year - 1 if hi_d.month < 9 else hi_d.year
    dob = pop.dob.astype("datetime64[D]")
    by = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    bm = (dob.astype("datetime64[M]") - dob.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    start_year = by + 4 + (bm >= 9)  # reception year (age 4 on 31 August)
    y_from = np.maximum(start_year, first_year)
    y_to = np.minimum(start_year + 11, last_year)  # year 11
    in_school = y_to >= y_from
    # England only; about 7% attend independent schools (not in the extract)
    sept1 = ((y_from - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 243).astype(np.int32)
    home = pop.lsoa_at(np.arange(pop.n), np.clip(sept1, day(P.start), day(P.end)))
    pupils = np.flatnonzero(in_school & ~pop.geo.wales[home] & (rng.random(pop.n) >= 0.07))
    n = len(pupils)
    pmr = hex_ids(np.arange(n), "npd_pupil", seed, prefix="PMR", width=13)
    s = pop.score[pupils]
    need = pop.need[pupils]
    ni = {d: i for i, d in enumerate(NEEDS)}
    last_census = ((y_to[pupils] + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 17).astype(np.int32)
    fsm = rng.random(n) < np.where(need[:, ni["low_income"]], 0.85, 0.06)
    sen = np.where(need[:, ni["education"]],
                   np.where(need[:, ni["physical_health"]], choose(rng, (0.05, 0.55, 0.40), n),
                            choose(rng, (0.12, 0.75, 0.13), n)),
                   choose(rng, (0.96, 0.035, 0.005), n))
    pupil = Frame("npd_pupil", person=pupils.astype(np.int32), when=np.minimum(last_census, hi), group="education",
                  key=np.arange(n))
    pupil.columns = {
        "pupil_matching_reference": pmr,
        "fsm_ever": fsm,
        "sen_provision": coded(sen, ("N", "K", "E")),
    }
    # attendance: one row per pupil per academic year
    ny = (y_to[pupils] - y_from[pupils] + 1).astype(np.int64)
    par, k = explode(ny)
    year = (y_from[pupils][par] + k).astype(np.int64)
    age = (year - by[pupils][par] - (bm[pupils][par] >= 9)).astype(np.int64)  # age on 31 August
    sp = s[par]
    rate = P.npd_absence_base * np.exp(0.35 * sp[:, ni["mental_health"]] + 0.30 * sp[:, ni["family"]]
                                       + 0.25 * sp[:, ni["education"]] + 0.30 * sp[:, ni["low_income"]]
                                       + 0.20 * sp[:, ni["physical_health"]]
                                       + np.where(age >= 11, 0.25 * sp[:, ni["substance_misuse"]], 0.0)
                                       + 0.06 * np.clip(age - 10, 0, None)) * rng.gamma(4.0, 0.25, len(par))
    possible = rng.integers(300, 331, len(par))
    absent = rng.binomial(possible, np.clip(rate, 0, 0.9))
    miss = rng.random(len(par)) < 0.005
    attendance = Frame("npd_attendance", columns={
        "pupil_matching_reference": pmr.take(pa.array(par)),
        "academic_year": year,
        "sessions_possible": np.where(miss, NA, possible).astype(np.int64),
        "sessions_absent": np.where(miss, NA, absent).astype(np.int64),
        "persistent_absence": absent >= 0.1 * possible,
    })
    # exclusions
    ex_rate = P.npd_exclusion_rate * np.exp(0.5 * sp[:, ni["education"]] + 0.5 * sp[:, ni["family"]]
                                            + 0.4 * sp[:, ni["substance_misuse"]] + 0.3 * sp[:, ni["mental_health"]]
                                            + np.where(pop.male[pupils][par], 0.5, -0.3)) * np.where(
        age >= 11, 1.0, np.where(age >= 7, 0.25, 0.0))
    ep, _ = explode(rng.poisson(ex_rate))
    ys = ((year[ep] - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 246).astype(np.int32)  # ~4 Sep
    edate = uniform_days(rng, ys, ys + 315)
    ecat = np.where(rng.random(len(ep)) < 0.03, 1, 0)
    o = np.lexsort((edate, par[ep]))
    ep, edate, ecat = ep[o], edate[o], ecat[o]
    keep = edate <= hi
    exclusions = Frame("npd_exclusions", columns={
        "exclusion_id": hex_ids(np.arange(int(keep.sum())), "npd_exclusion", seed, prefix="EX", width=12),
        "pupil_matching_reference": pmr.take(pa.array(par[ep][keep])),
        "exclusion_start_date": edate[keep],
        "exclusion_category": coded(ecat[keep], ("FIXD", "PERM")),
    })
    # children in need referrals
    cin_rate = P.npd_cin_rate * np.exp(0.8 * sp[:, ni["family"]] + 0.8 * sp[:, ni["domestic_abuse"]]
                                       + 0.4 * sp[:, ni["substance_misuse"]] + 0.3 * sp[:, ni["low_income"]] - 0.5)
    cp, _ = explode(rng.poisson(cin_rate))
    ys = ((year[cp] - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 243).astype(np.int32)
    cdate = uniform_days(rng, ys, ys + 364)
    sc = sp[cp]
    w = np.column_stack([
        0.5 + np.clip(sc[:, ni["domestic_abuse"]], 0, None) + np.clip(sc[:, ni["family"]], 0, None),
        0.2 + np.clip(sc[:, ni["physical_health"]], 0, None), 0.2 + 0.5 * np.clip(sc[:, ni["mental_health"]], 0, None),
        0.4 + 0.5 * np.clip(sc[:, ni["family"]], 0, None), 0.3 + 0.5 * np.clip(sc[:, ni["family"]], 0, None),
        0.2 + 0.3 * np.clip(sc[:, ni["substance_misuse"]], 0, None), 0.1 + 0.4 * np.clip(sc[:, ni["low_income"]], 0,
                                                                                        None),
        np.full(len(cp), 0.15), np.full(len(cp), 0.2)])
    from .common import choose_rows

    needc = choose_rows(rng, w)
    o = np.lexsort((cdate, par[cp]))
    cp, cdate, needc = cp[o], cdate[o], needc[o]
    keep = cdate <= hi
    cin = Frame("npd_children_in_need", columns={
        "cin_episode_id": hex_ids(np.arange(int(keep.sum())), "npd_cin", seed, prefix="CIN", width=11),
        "pupil_matching_reference": pmr.take(pa.array(par[cp][keep])),
        "referral_date": cdate[keep],
        "primary_need_code": coded(needc[keep], K.CIN_NEED.values),
        "child_protection_plan": (rng.random(len(cp)) < 0.25)[keep],
    })
    return {f.table: f for f in (pupil, attendance, exclusions, cin)}
