"""Wave 1 National Pupil Database modules for the pupils of ``npd_pupil``: the January school census by year
(local authority, year group, free school meals, SEND status and primary need), key stage 2 and 4 attainment,
looked-after episodes (CLA) and child protection plans. Rates follow the child's latent needs (education, family,
domestic abuse, low income, mental and physical health), which share much of their variance with the household's
adults, so parents' and children's measures are associated as they are in linked data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..datafirst import MODEL
from .common import (
    NA,
    Frame,
    choose,
    choose_rows,
    coded,
    day,
    explode,
    logistic,
    rng_for,
    uniform_days,
)
from .params import SynthParams
from .population import Population
from .wave_common import durations, hex_ids, lad_index_at, need_scores, open_end

SEN_NEEDS = ("SPLD", "MLD", "SLCN", "SEMH", "ASD", "PD", "OTH")


def _school_years(pop: Population, pupils: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Reception year, first and last academic year in the extract of each pupil (as ``education_frames``)."""
    lo_d, hi_d = MODEL.dataset("education").coverage
    first_year = lo_d.year if lo_d.month >= 9 else lo_d.year - 1
    last_year = hi_d.year - 1 if hi_d.month < 9 else hi_d.year
    dob = pop.dob[pupils].astype("datetime64[D]")
    by = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    bm = (dob.astype("datetime64[M]") - dob.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    start_year = by + 4 + (bm >= 9)
    return start_year, np.maximum(start_year, first_year), np.minimum(start_year + 11, last_year), day(hi_d)


def _sept1(year: np.ndarray) -> np.ndarray:
    return ((np.asarray(year, np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 243).astype(
        np.int32)


def npd_module_frames(pop: Population, P: SynthParams, seed: int, pupil: Frame) -> dict[str, Frame]:
    rng = rng_for(seed, "wave-npd")
    pupils = pupil.person.astype(np.int64)
    pmr = pupil.columns["pupil_matching_reference"]
    start_year, y_from, y_to, hi = _school_years(pop, pupils)
    s = need_scores(pop, pupils)
    # ------------------------------------------------------------------ census: one row per pupil per year
    ny = (y_to - y_from + 1).astype(np.int64)
    par, k = explode(np.maximum(ny, 0))
    year = y_from[par] + k
    ygroup = year - start_year[par]
    census_day = (_sept1(year + 1) - 243 + 17).astype(np.int32)  # third Thursday of January, roughly
    lad = lad_index_at(pop, pupils[par], np.clip(census_day, day(P.start), day(P.end)))
    sp = {d: v[par] for d, v in s.items()}
    fsm = rng.random(len(par)) < logistic(-2.6 + 1.6 * sp["low_income"])
    sen_lin = -2.2 + 1.3 * sp["education"] + 0.4 * sp["physical_health"] + 0.3 * sp["mental_health"]
    u = rng.random(len(par))
    p_any = logistic(sen_lin)
    p_ehcp = logistic(sen_lin - 2.3 + 0.8 * np.clip(sp["physical_health"], 0, None))
    sen = np.where(u < p_ehcp, 2, np.where(u < p_any, 1, 0))
    w = np.column_stack([np.full(len(par), 1.5), 1.0 + 0.5 * np.clip(sp["education"], 0, None),
                         np.where(ygroup < 4, 2.5, 0.8), 0.6 + 1.0 * np.clip(sp["mental_health"], 0, None)
                         + 0.5 * np.clip(sp["family"], 0, None), np.full(len(par), 0.8),
                         0.1 + 0.6 * np.clip(sp["physical_health"], 0, None), np.full(len(par), 0.3)])
    need = np.where(sen > 0, choose_rows(rng, w), -1)
    o = np.lexsort((year, par))
    census = Frame("npd_census", person=pupils[par][o].astype(np.int32), columns={
        "pupil_matching_reference": pmr.take(pa.array(par[o])),
        "academic_year": year[o].astype(np.int64),
        "la_code": pop.geo.lad_code.take(pa.array(lad[o].astype(np.int64))),
        "year_group": ygroup[o].astype(np.int64),
        "fsm_eligible": fsm[o],
        "sen_status": coded(sen[o], ("N", "K", "E")),
        "sen_primary_need": coded(need[o], SEN_NEEDS),
    })
    # ------------------------------------------------------------------ key stages 2 and 4
    rows = []
    for ks, offset in ((0, 6), (1, 11)):
        yr = start_year + offset
        ok = (yr >= y_from) & (yr <= y_to) & (_sept1(yr + 1) - 60 <= hi)
        idx = np.flatnonzero(ok)
        rows.append((idx, np.full(len(idx), ks), yr[idx]))
    ki = np.concatenate([r[0] for r in rows])
    kks = np.concatenate([r[1] for r in rows])
    kyr = np.concatenate([r[2] for r in rows])
    kp = {d: v[ki] for d, v in s.items()}
    ability = (-0.9 * kp["education"] - 0.35 * kp["low_income"] - 0.2 * kp["family"] - 0.15 * kp["mental_health"]
               + 0.6 * rng.standard_normal(len(ki)))
    ks2 = np.where(kks == 0, rng.random(len(ki)) < logistic(0.5 + 1.3 * ability), False)
    att8 = np.where(kks == 1, np.clip(np.round(47 + 12 * ability, 1), 0, 90), np.nan)
    absent = rng.random(len(ki)) < 0.03  # pupils absent from the tests or without results
    o = np.lexsort((kks, ki))
    ks = Frame("npd_key_stage", person=pupils[ki][o].astype(np.int32), columns={
        "pupil_matching_reference": pmr.take(pa.array(ki[o])),
        "key_stage": coded(kks[o], ("KS2", "KS4")),
        "academic_year": kyr[o].astype(np.int64),
        "ks2_rwm_expected": pa.array(ks2[o], mask=(kks[o] != 0) | absent[o]),
        "ks4_attainment8": np.where(absent[o], np.nan, att8[o]),
    })
    # ------------------------------------------------------------------ looked after and child protection
    lo_days = _sept1(y_from)
    hi_days = np.minimum(_sept1(y_to + 1) - 1, hi)
    risk = 1.1 * s["family"] + 0.8 * s["domestic_abuse"] + 0.4 * s["substance_misuse"] + 0.3 * s["low_income"] - 1.0
    frames = {census.table: census, ks.table: ks}
    for table, rate, median, prefix, cols in (
            ("npd_cla_episodes", P.npd_cla_rate, 420.0, "CLA", ("cla_episode_id", "episode_start_date",
                                                                 "episode_end_date")),
            ("npd_cp_plans", P.npd_cp_rate, 250.0, "CPP", ("cp_plan_id", "plan_start_date", "plan_end_date"))):
        ep, start = _events(rng, rate * np.exp(risk), lo_days, hi_days)
        end = start.astype(np.int64) + durations(rng, median, 0.8, len(ep))
        o = np.lexsort((start, ep))
        ep, start, end = ep[o], start[o], end[o]
        m = len(ep)
        f = Frame(table, person=pupils[ep].astype(np.int32), columns={
            cols[0]: hex_ids(np.arange(m), table, seed, prefix=prefix, width=12),
            "pupil_matching_reference": pmr.take(pa.array(ep)),
            cols[1]: start.astype(np.int32),
            cols[2]: open_end(end, hi),
        })
        if table == "npd_cla_episodes":
            f.columns["legal_status"] = coded(choose(rng, (0.2, 0.35, 0.35, 0.05, 0.05), m),
                                              ("C1", "C2", "V2", "E1", "L2"))
            reason = choose(rng, (0.1, 0.35, 0.1, 0.15, 0.3), m)
            f.columns["reason_ceased"] = coded(np.where(f.columns[cols[2]] == NA, -1, reason),
                                               ("E11", "E13", "E41", "E45", "E8"))
        else:
            sc = {d: v[ep] for d, v in s.items()}
            w = np.column_stack([1.0 + 0.5 * np.clip(sc["low_income"], 0, None),
                                 np.full(m, 0.3), 0.8 + 0.8 * np.clip(sc["domestic_abuse"], 0, None),
                                 np.full(m, 0.1), np.full(m, 0.2)])
            f.columns["initial_category"] = coded(choose_rows(rng, w), ("NEG", "PHY", "EMO", "SAB", "MUL"))
        frames[table] = f
    return frames


def _events(rng: np.random.Generator, rate: np.ndarray, lo: np.ndarray, hi: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    years = np.clip(hi.astype(np.int64) - lo + 1, 0, None) / 365.25
    par, _ = explode(rng.poisson(np.clip(rate, 0, 5) * years))
    return par, uniform_days(rng, lo[par], hi[par])
