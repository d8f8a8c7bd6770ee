"""Wave 2 sources from the same persons and truth: DWP benefit spells and employment programmes, HMRC PAYE
employments with monthly pay and Child Benefit (claimant and children), NHS hospital episodes, A&E attendances and
mental-health contacts, National Drug Treatment Monitoring System episodes and ONS death registrations.

Every event is driven by the person's latent needs, offending, age, sex and area (the rates below), so linked
analyses recover the associations: a substance-misuse need raises drug treatment, an employment need lowers PAYE
employments and raises benefit spells, deaths are more frequent in the year after a treatment exit. A person's
death ends their Wave 2 events; the death is drawn after the last record the person has in any source (justice
records are generated without mortality), so no record follows its person's death.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from .common import NA, Frame, choose, choose_rows, coded, day, logistic, rng_for, uniform_days
from .params import SynthParams
from .population import ROLE_CHILD, ROLE_HEAD, ROLE_PARTNER, Population
from .wave_common import (
    ages,
    durations,
    hex_ids,
    lad_index_at,
    need_scores,
    nhs_number_column,
    nino_column,
    open_end,
    poisson_events,
)

BENEFITS = ("UC", "ESA", "JSA", "PIP")
PROGRAMMES = ("WP", "WHP", "RESTART", "KICKSTART", "SWAP")
_PROGRAMME_WINDOWS = {0: (date(2011, 6, 1), date(2017, 3, 31)), 1: (date(2017, 11, 1), date(2024, 12, 31)),
                      2: (date(2021, 6, 28), date(2024, 12, 31)), 3: (date(2020, 9, 1), date(2022, 3, 31)),
                      4: (date(2011, 1, 1), date(2024, 12, 31))}
CHAPTERS = ("II", "IV", "V", "VI", "IX", "X", "XI", "XIII", "XV", "XVIII", "XIX", "XX")
#: Diagnosis / cause codes (ICD-10, 3 characters) and their chapter index in CHAPTERS.
ICD = (("C34", 0), ("C18", 0), ("E11", 1), ("F10", 2), ("F11", 2), ("F20", 2), ("F32", 2), ("F03", 2), ("G40", 3),
       ("I21", 4), ("I25", 4), ("I64", 4), ("J44", 5), ("J18", 5), ("K70", 6), ("K35", 6), ("M54", 7), ("O80", 8),
       ("R07", 9), ("R55", 9), ("S72", 10), ("T40", 10), ("S06", 10), ("X42", 11), ("X70", 11), ("V89", 11))
_CODE = {c: i for i, (c, _) in enumerate(ICD)}
ICD_CODES = tuple(c for c, _ in ICD)
ICD_CHAPTER_OF = np.array([ch for _, ch in ICD])
MH_SERVICES = ("CMHT", "CRISIS", "TALK", "EIP", "LIAISON")
NDTMS_SOURCES = ("SELF", "GP", "PROB", "PRISON", "CJIT", "LA", "HOSP", "OTHER")
NDTMS_EXITS = ("CFREE", "COCC", "DROP", "TRANS", "PRIS", "DIED", "DECL")
SUBSTANCES = ("OPIATE", "CRACK", "COCAINE", "CANNABIS", "ALCOHOL", "BENZO", "AMPHET", "OTHER")
#: Share of drug rehabilitation (DRR) and alcohol treatment (ATR) requirements that probation refers to treatment
#: services (the rest reach treatment, if at all, by the other routes).
MANDATED_REFERRAL = (0.7, 0.55)


@dataclass
class WaveContext:
    """What the Wave 2 generators share: the period, offending counts and each person's last record day."""

    lo: int
    hi: int
    offending: np.ndarray
    last_record: np.ndarray
    death: np.ndarray | None = None
    #: Drug rehabilitation and alcohol treatment requirements: rows of (person, start day, 1 DRR | 2 ATR).
    requirements: np.ndarray | None = None


def _codes(names: tuple[str, ...]) -> np.ndarray:
    return np.array([_CODE[c] for c in names])


def _after_death(ctx: WaveContext, person: np.ndarray, when: np.ndarray) -> np.ndarray:
    return (ctx.death[person] != NA) & (when > ctx.death[person])


def ndtms_frames(pop: Population, P: SynthParams, seed: int, ctx: WaveContext) -> tuple[dict[str, Frame], np.ndarray]:
    """Drug treatment episodes; returns the frames and each episode's (person, exit day) for mortality."""
    rng = rng_for(seed, "wave-ndtms")
    n = pop.n
    s = need_scores(pop, np.arange(n))
    offend = ctx.offending > 0
    mid = np.full(n, (ctx.lo + ctx.hi) // 2, np.int32)
    age = ages(pop, np.arange(n), mid)
    rate = P.ndtms_rate * np.exp(1.7 * s["substance_misuse"] + 0.3 * s["mental_health"] + 0.2 * s["accommodation"]
                                 + np.where(offend, 0.8, 0.0) + np.where(pop.male, 0.3, -0.3))
    rate = np.where((age >= 16) & (age <= 80), rate, 0.0)
    lo = np.maximum(ctx.lo, pop.dob + 16 * 365).astype(np.int32)
    par, ref = poisson_events(rng, rate, lo, np.full(n, ctx.hi, np.int32))
    person = par.astype(np.int64)
    mandated = np.zeros(len(person), np.int8)  # 0: other referral, 1: DRR, 2: ATR (probation referral)
    if ctx.requirements is not None and len(ctx.requirements):
        # a drug rehabilitation (DRR) or alcohol treatment (ATR) requirement: probation refers the person, who is
        # assessed within days; some never reach treatment services (the pathway the probation study measures)
        rq = ctx.requirements
        rrng = rng_for(seed, "wave-ndtms-mandated")
        kind = rq[:, 2].astype(np.int8)
        referred = rrng.random(len(rq)) < np.where(kind == 1, MANDATED_REFERRAL[0], MANDATED_REFERRAL[1])
        delay = np.round(rrng.gamma(1.5, 6.0, len(rq))).astype(np.int64)
        rday = rq[:, 1].astype(np.int64) + delay
        keep = referred & (rday <= ctx.hi)
        person = np.concatenate([person, rq[keep, 0].astype(np.int64)])
        ref = np.concatenate([np.asarray(ref, np.int64), rday[keep]])
        mandated = np.concatenate([mandated, kind[keep]])
    m = len(person)
    sp = {k: v[person] for k, v in s.items()}
    triage = ref + rng.integers(0, 15, m)
    starts = rng.random(m) >= 0.06
    tstart = np.where(starts, triage + rng.integers(0, 22, m), NA).astype(np.int64)
    length = durations(rng, 180.0, 0.9, m) * np.where(sp["substance_misuse"] > 1.5, 2, 1)
    disc = np.where(starts, tstart + length, triage + rng.integers(5, 60, m))
    young = ages(pop, person, ref) < 25
    opi = logistic(1.6 * sp["substance_misuse"] - 2.8 + np.where(young, -1.0, 0.3))
    w = np.column_stack([opi * 3, opi * 1.2, 0.5 + 0 * opi, np.where(young, 2.0, 0.5), np.full(m, 2.2),
                         np.full(m, 0.15), np.full(m, 0.2), np.full(m, 0.2)])
    prim = choose_rows(rng, w)
    sec = np.where(rng.random(m) < 0.45, choose_rows(rng, w), -1)
    sec = np.where(sec == prim, -1, sec)
    crim = offend[person]
    src_w = np.column_stack([np.full(m, 3.0), np.full(m, 1.5), np.where(crim, 2.5, 0.05), np.where(crim, 1.5, 0.0),
                             np.where(crim, 1.0, 0.02), np.full(m, 0.5), np.full(m, 0.4), np.full(m, 0.6)])
    source = choose_rows(rng, src_w)
    source = np.where(mandated > 0, 2, source)  # PROB
    prim = np.where(mandated == 2, 4, np.where((mandated == 1) & (prim == 4), 0, prim))  # ATR: alcohol; DRR: drugs
    complete = logistic(0.8 - 0.6 * sp["substance_misuse"] - 0.3 * sp["accommodation"] + np.where(prim <= 1, -0.8, 0))
    u = rng.random(m)
    reason = np.where(u < complete, np.where(prim <= 1, 0, choose(rng, (0.6, 0.4), m)),
                      choose(rng, (0, 0, 0.6, 0.2, 0.12, 0, 0.08), m)).astype(np.int16)
    reason = np.where(starts, reason, 6)  # declined before treatment
    exit_day = disc.astype(np.int64)
    open_ = exit_day > ctx.hi
    o = np.lexsort((ref, person))
    person, ref, triage, tstart, exit_day, open_ = person[o], ref[o], triage[o], tstart[o], exit_day[o], open_[o]
    prim, sec, source, reason, starts = prim[o], sec[o], source[o], reason[o], starts[o]
    return {"ndtms_episodes": dict(person=person, ref=ref, triage=triage, tstart=tstart, exit=exit_day,
                                   open=open_, prim=prim, sec=sec, source=source, reason=reason)}, \
        np.column_stack([person, np.where(open_, NA, exit_day)])


def ndtms_render(pop: Population, P: SynthParams, seed: int, ctx: WaveContext, e: dict) -> Frame:
    rng = rng_for(seed, "wave-ndtms-ids")
    keep = ~_after_death(ctx, e["person"], e["ref"])
    e = {k: v[keep] for k, v in e.items()}
    person = e["person"]
    m = len(person)
    died = (ctx.death[person] != NA) & (e["exit"] >= ctx.death[person])
    exit_day = np.where(died, ctx.death[person], e["exit"])
    reason = np.where(died, 5, e["reason"])
    exit_day = np.where(e["open"] & ~died, NA, exit_day).astype(np.int32)
    reason = np.where(exit_day == NA, -1, reason)
    triage = np.minimum(e["triage"], np.where(exit_day == NA, e["triage"], exit_day))
    tstart = np.where((e["tstart"] != NA) & ((exit_day == NA) | (e["tstart"] <= exit_day)), e["tstart"], NA)
    tstart = np.where(tstart > ctx.hi, NA, tstart)
    names = pop.names
    fi = _initial(names.vocab, pop.forename[person], rng, missing=0.02, wrong=0.01)
    si = _initial(names.vocab, pop.surname[person], rng, missing=0.02, wrong=0.01)
    lad = lad_index_at(pop, person, e["ref"])
    stale = rng.random(m) < 0.04
    lad = np.where(stale, lad_index_at(pop, person, np.maximum(e["ref"] - 730, ctx.lo)), lad)
    la = pop.geo.lad_code.take(pa.array(lad.astype(np.int64)))
    la_missing = rng.random(m) < 0.03
    if la_missing.any():
        la = pa.array(np.where(la_missing, None, np.asarray(la.to_numpy(zero_copy_only=False), dtype=object)),
                      pa.string())
    f = Frame("ndtms_episodes", person=person.astype(np.int32), when=e["ref"].astype(np.int32), group="local_authority",
              key=np.arange(m))
    f.columns = {
        "episode_id": hex_ids(np.arange(m), "ndtms_episode", seed, prefix="NDT", width=12),
        "forename_initial": fi, "surname_initial": si, "local_authority": la,
        "referral_date": e["ref"].astype(np.int32),
        "referral_source": coded(e["source"], NDTMS_SOURCES),
        "triage_date": triage.astype(np.int32),
        "treatment_start_date": tstart.astype(np.int32),
        "discharge_date": exit_day,
        "discharge_reason": coded(reason, NDTMS_EXITS),
        "primary_substance": coded(e["prim"], SUBSTANCES),
        "secondary_substance": coded(e["sec"], SUBSTANCES),
    }
    return f


def _initial(vocab: pa.Array, idx: np.ndarray, rng: np.random.Generator, *, missing: float, wrong: float) -> pa.Array:
    from .identifiers import to_matrix

    first, _ = to_matrix(vocab, 1)
    letters = first[idx, 0].copy()
    letters = np.where((letters >= ord("a")) & (letters <= ord("z")), letters - 32, letters).astype(np.uint8)
    bad = rng.random(len(idx)) < wrong
    letters[bad] = (ord("A") + rng.integers(0, 26, int(bad.sum()))).astype(np.uint8)
    out = np.where(rng.random(len(idx)) < missing, None, letters.view("S1").astype(str).astype(object))
    return pa.array(out, pa.string())


def deaths(pop: Population, P: SynthParams, seed: int, ctx: WaveContext, exits: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Day of death of every person (NA: alive at the end) and the underlying cause (index into ICD)."""
    rng = rng_for(seed, "wave-deaths")
    n = pop.n
    s = need_scores(pop, np.arange(n))
    start = np.maximum(ctx.lo, pop.dob).astype(np.int64)
    age_mid = ages(pop, np.arange(n), np.full(n, (ctx.lo + ctx.hi) // 2, np.int32)).astype(float)
    hz = P.death_base_rate * np.exp(0.088 * (np.clip(age_mid, 0, 100) - 50) + 0.35 * s["physical_health"]
                                    + 0.35 * s["substance_misuse"] + 0.15 * s["mental_health"]
                                    + np.where(pop.male, 0.3, 0.0) + 0.3 * (ctx.offending > 0))
    hz = np.minimum(hz, 0.5)
    t = start + np.round(rng.exponential(1.0 / hz) * 365.25).astype(np.int64)
    death = np.where(t <= ctx.hi, t, NA).astype(np.int64)
    cause_extra = np.zeros(n, bool)
    # excess mortality in the year after leaving drug treatment (loss of tolerance, overdose)
    if len(exits):
        ep, ex = exits[:, 0].astype(np.int64), exits[:, 1].astype(np.int64)
        ok = ex != NA
        ep, ex = ep[ok], ex[ok]
        hit = rng.random(len(ep)) < P.death_after_treatment_exit
        d2 = ex[hit] + rng.integers(1, 366, int(hit.sum()))
        pp = ep[hit]
        keep = d2 <= ctx.hi
        pp, d2 = pp[keep], d2[keep]
        cur = np.where(death[pp] == NA, np.iinfo(np.int64).max, death[pp])
        better = d2 < cur
        order = np.argsort(d2)  # earliest first wins
        pp, d2, better = pp[order], d2[order], better[order]
        sel_p, first = np.unique(pp[better], return_index=True)
        death[sel_p] = d2[better][first]
        cause_extra[sel_p] = True
    # no record may follow a death: a death before the person's last record is moved after it (or dropped)
    last = ctx.last_record.astype(np.int64)
    clash = (death != NA) & (last != NA) & (death < last)
    moved = last[clash] + 1 + rng.integers(0, 365, int(clash.sum()))
    death[clash] = np.where(moved <= ctx.hi, moved, NA)
    died = death != NA
    # underlying cause
    w = np.column_stack([
        np.full(n, 1.0) + 0.3 * np.clip(age_mid - 50, 0, None) / 10,  # C34
        np.full(n, 0.6) + 0.2 * np.clip(age_mid - 50, 0, None) / 10,  # C18
        0.3 + 0.4 * np.clip(s["physical_health"], 0, None),  # E11
        0.2 + 1.5 * np.clip(s["substance_misuse"], 0, None),  # F10
        0.05 + 1.2 * np.clip(s["substance_misuse"] - 1, 0, None),  # F11
        0.05 + 0.3 * np.clip(s["mental_health"] - 1, 0, None),  # F20
        np.full(n, 0.05),  # F32
        np.where(age_mid > 75, 2.0, 0.02),  # F03
        np.full(n, 0.15),  # G40
        np.full(n, 1.5), np.full(n, 1.8), np.full(n, 1.0),  # I21 I25 I64
        0.8 + 0.5 * np.clip(s["physical_health"], 0, None), np.full(n, 0.8),  # J44 J18
        0.1 + 1.0 * np.clip(s["substance_misuse"], 0, None), np.full(n, 0.02),  # K70 K35
        np.full(n, 0.01), np.full(n, 0.0), np.full(n, 0.2), np.full(n, 0.05),  # M54 O80 R07 R55
        np.where(age_mid > 75, 0.6, 0.05), 0.02 + 0.6 * np.clip(s["substance_misuse"] - 1, 0, None),  # S72 T40
        np.full(n, 0.15),  # S06
        0.02 + 2.0 * np.clip(s["substance_misuse"] - 1, 0, None),  # X42
        0.05 + 0.8 * np.clip(s["mental_health"] - 1, 0, None),  # X70
        np.where(age_mid < 40, 0.3, 0.05),  # V89
    ])
    cause = np.full(n, -1, np.int16)
    d = np.flatnonzero(died)
    cause[d] = choose_rows(rng, w[d])
    overdose = died & cause_extra
    cause[overdose] = np.where(rng.random(int(overdose.sum())) < 0.7, _CODE["X42"], _CODE["F11"])
    return death.astype(np.int32), cause


def deaths_frame(pop: Population, P: SynthParams, seed: int, ctx: WaveContext, cause: np.ndarray) -> Frame:
    rng = rng_for(seed, "wave-deaths-render")
    person = np.flatnonzero(ctx.death != NA)
    dd = ctx.death[person].astype(np.int64)
    reg = dd + np.round(rng.gamma(2.0, 3.0, len(person))).astype(np.int64) + np.where(
        rng.random(len(person)) < 0.04, rng.integers(60, 400, len(person)), 0)  # inquests register later
    keep = reg <= ctx.hi
    person, dd, reg = person[keep], dd[keep], reg[keep]
    c = cause[person]
    m = len(person)
    f = Frame("ons_death_registrations", person=person.astype(np.int32), when=dd.astype(np.int32),
              group="local_authority", key=np.arange(m))
    f.columns = {
        "registration_id": hex_ids(np.arange(m), "ons_death", seed, prefix="DR", width=12),
        "nhs_number": nhs_number_column(person, seed, rng, missing=0.01),
        "date_of_death": dd.astype(np.int32),
        "date_of_registration": reg.astype(np.int32),
        "underlying_cause": coded(c, ICD_CODES),
        "cause_chapter": coded(ICD_CHAPTER_OF[c], CHAPTERS),
    }
    return f


def _people_frame(table: str, id_col: str, prefix: str, person: np.ndarray, when: np.ndarray, key_col: str,
                  key: pa.Array, seed: int, group: str) -> Frame:
    f = Frame(table, person=person.astype(np.int32), when=when.astype(np.int32), group=group,
              key=np.arange(len(person)))
    f.columns = {id_col: hex_ids(np.arange(len(person)), table, seed, prefix=prefix, width=12), key_col: key}
    return f


def dwp_frames(pop: Population, P: SynthParams, seed: int, ctx: WaveContext) -> dict[str, Frame]:
    rng = rng_for(seed, "wave-dwp")
    n = pop.n
    s = need_scores(pop, np.arange(n))
    offend = (ctx.offending > 0).astype(float)
    lo = np.maximum(ctx.lo, pop.dob + 18 * 365).astype(np.int32)
    hi = np.minimum(np.full(n, ctx.hi), pop.dob + 66 * 365).astype(np.int32)
    hi = np.where(ctx.death != NA, np.minimum(hi, ctx.death), hi).astype(np.int32)
    rates = (
        P.dwp_jobseeker_rate * np.exp(1.3 * s["employment"] + 0.6 * s["low_income"] + 0.4 * offend),
        P.dwp_health_rate * np.exp(1.0 * s["physical_health"] + 0.8 * s["mental_health"] + 0.5 * s["employment"]
                                   + 0.3 * s["substance_misuse"]),
        P.dwp_pip_rate * np.exp(1.4 * s["physical_health"] + 0.6 * s["mental_health"]),
    )
    parts = []
    for kind, rate in enumerate(rates):
        par, start = poisson_events(rng, rate, lo, hi)
        parts.append((par, start, np.full(len(par), kind)))
    person = np.concatenate([p[0] for p in parts]).astype(np.int64)
    start = np.concatenate([p[1] for p in parts]).astype(np.int64)
    kind = np.concatenate([p[2] for p in parts])
    m = len(person)
    uc_from = day(date(2016, 1, 1)) + (person % 4) * 365  # Universal Credit full service rolled out 2016-2019
    benefit = np.where(kind == 0, np.where(start >= uc_from, 0, 2), np.where(kind == 1, np.where(
        start >= uc_from + 365, 0, 1), 3))
    pip_from = day(date(2013, 4, 8))
    start = np.where(benefit == 3, np.maximum(start, pip_from), start)
    med = np.select([benefit == 0, benefit == 1, benefit == 2], [300.0, 700.0, 120.0], 1500.0)
    length = np.round(med * np.exp(0.8 * rng.standard_normal(m))).astype(np.int64) + 1
    end = start + length
    end = np.where(ctx.death[person] != NA, np.minimum(end, ctx.death[person]), end)
    keep = (start <= ctx.hi) & ~_after_death(ctx, person, start)  # a PIP start moved to its launch can pass a death
    person, start, end, benefit = person[keep], start[keep], end[keep], benefit[keep]
    o = np.lexsort((start, person))
    person, start, end, benefit = person[o], start[o], end[o], benefit[o]
    m = len(person)
    nino, _state = nino_column(person, seed, rng, missing=P.nino_missing_rate, mistyped=P.nino_mistyped_rate)
    spells = Frame("dwp_benefit_spells", person=person.astype(np.int32))
    spells.columns = {
        "spell_id": hex_ids(np.arange(m), "dwp_spell", seed, prefix="SP", width=12), "nino": nino,
        "benefit_type": coded(benefit, BENEFITS), "spell_start_date": start.astype(np.int32),
        "spell_end_date": open_end(end, ctx.hi),
    }
    # employment programme starts from long unemployment spells
    long_ = np.flatnonzero((benefit != 3) & (end - start > 180) & (rng.random(m) < 0.2))
    pstart = start[long_] + rng.integers(180, 366, len(long_))
    windows = np.array([[day(a), day(b)] for a, b in _PROGRAMME_WINDOWS.values()])
    avail = (pstart[:, None] >= windows[None, :, 0]) & (pstart[:, None] <= windows[None, :, 1])
    young = ages(pop, person[long_], pstart) < 25
    avail[:, 3] &= young
    w = avail * np.array([3.0, 2.0, 3.0, 2.0, 0.5])[None, :]
    ok = (w.sum(axis=1) > 0) & (pstart <= ctx.hi) & ~_after_death(ctx, person[long_], pstart)
    long_, pstart, w = long_[ok], pstart[ok], w[ok]
    prog = choose_rows(rng, w)
    pp = person[long_]
    k = len(pp)
    pn, _ = nino_column(pp, seed, rng, missing=P.nino_missing_rate, mistyped=P.nino_mistyped_rate)
    progs = Frame("dwp_employment_programmes", person=pp.astype(np.int32))
    progs.columns = {
        "programme_start_id": hex_ids(np.arange(k), "dwp_programme", seed, prefix="PS", width=12), "nino": pn,
        "programme": coded(prog, PROGRAMMES),
        "referral_date": (pstart - rng.integers(5, 40, k)).astype(np.int32),
        "start_date": pstart.astype(np.int32),
    }
    cust = np.unique(np.concatenate([person, pp]))
    first = np.full(n, np.iinfo(np.int32).max, np.int64)
    np.minimum.at(first, person, start)
    when = np.minimum(first[cust], ctx.hi)
    customers = _people_frame("dwp_customers", "customer_ref", "CU", cust, when, "nino",
                              nino_column(cust, seed, rng, missing=0.0, mistyped=0.0)[0], seed, "education")
    return {f.table: f for f in (customers, spells, progs)}


def hmrc_frames(pop: Population, P: SynthParams, seed: int, ctx: WaveContext) -> dict[str, Frame]:
    rng = rng_for(seed, "wave-hmrc")
    n = pop.n
    s = need_scores(pop, np.arange(n))
    offend = (ctx.offending > 0).astype(float)
    rti = day(date(2013, 4, 6))
    lo = np.maximum(rti, pop.dob + 16 * 365).astype(np.int32)
    hi = np.minimum(np.full(n, ctx.hi), pop.dob + 70 * 365).astype(np.int32)
    hi = np.where(ctx.death != NA, np.minimum(hi, ctx.death), hi).astype(np.int32)
    rate = P.paye_employment_rate * np.exp(-1.3 * s["employment"] - 0.4 * s["low_income"] - 0.3 * s["education"]
                                           - 0.4 * offend - 0.2 * s["substance_misuse"])
    par, start = poisson_events(rng, rate, lo, hi)
    person = par.astype(np.int64)
    m = len(person)
    length = durations(rng, 900.0, 1.0, m)
    end = start.astype(np.int64) + length
    end = np.where(ctx.death[person] != NA, np.minimum(end, ctx.death[person]), end)
    o = np.lexsort((start, person))
    person, start, end = person[o], start[o].astype(np.int64), end[o]
    emp_id = hex_ids(np.arange(m), "hmrc_employment", seed, prefix="EM", width=12)
    employer = hex_ids(rng.integers(0, max(1000, n // 20), m), "hmrc_employer", seed, prefix="ER", width=8)
    nino, _ = nino_column(person, seed, rng, missing=P.nino_missing_rate, mistyped=P.nino_mistyped_rate)
    emps = Frame("hmrc_paye_employments", person=person.astype(np.int32))
    emps.columns = {"employment_id": emp_id, "nino": nino, "employer_paye_ref": employer,
                    "start_date": start.astype(np.int32), "end_date": open_end(end, ctx.hi)}
    # monthly pay: every month the employment covers (its first day), up to the extract end
    mstart = start.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    mend = np.minimum(end, ctx.hi).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    cnt = np.maximum(mend - mstart + 1, 0)
    from .common import explode

    ep, k = explode(cnt)
    mi = mstart[ep] + k  # months since 1970-01
    m0 = int(mi.min()) if len(mi) else 0
    first_day = np.arange(m0, int(mi.max()) + 1 if len(mi) else 1).astype("datetime64[M]").astype(
        "datetime64[D]").astype(np.int32)
    month = first_day[mi - m0]
    del mi
    sp = {d: v[person] for d, v in s.items()}
    level = 1900.0 * np.exp(-0.35 * sp["low_income"] - 0.25 * sp["education"] - 0.2 * sp["employment"]
                            + 0.3 * rng.standard_normal(m))
    pay = np.round(level[ep] * np.exp(0.15 * rng.standard_normal(len(ep))), 2)
    pay_frame = Frame("hmrc_paye_pay", columns={"employment_id": emp_id.take(pa.array(ep)), "pay_month": month,
                                                "taxable_pay": pay})
    frames = {emps.table: emps, pay_frame.table: pay_frame}
    # Child Benefit: the mother (or the parent heading the household) claims for the household's children
    frames.update(_child_benefit(pop, P, seed, ctx, rng))
    cb_claimants = frames["hmrc_child_benefit_claims"].person
    ind = np.unique(np.concatenate([person, cb_claimants.astype(np.int64)]))
    first = np.full(n, np.iinfo(np.int32).max, np.int64)
    np.minimum.at(first, person, start)
    ind_frame = _people_frame("hmrc_individuals", "individual_ref", "IN", ind, np.minimum(first[ind], ctx.hi),
                              "nino", nino_column(ind, seed, rng, missing=0.0, mistyped=0.0)[0], seed, "education")
    frames[ind_frame.table] = ind_frame
    return frames


def child_parent_pairs(pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """(child, parent) person pairs: each child of a household with its head and, in couples, the partner."""
    child = np.flatnonzero(pop.role == ROLE_CHILD)
    head = pop.hh_first[pop.household[child]].astype(np.int64)
    partner = head + 1
    has_partner = (partner < pop.n) & (pop.role[np.minimum(partner, pop.n - 1)] == ROLE_PARTNER) & \
        (pop.household[np.minimum(partner, pop.n - 1)] == pop.household[child])
    c = np.concatenate([child, child[has_partner]])
    p = np.concatenate([head, partner[has_partner]])
    o = np.lexsort((p, c))
    return c[o], p[o]


def _child_benefit(pop: Population, P: SynthParams, seed: int, ctx: WaveContext, rng: np.random.Generator
                   ) -> dict[str, Frame]:
    child, parent = child_parent_pairs(pop)
    # the claimant: a female parent if there is one, else the head
    female = ~pop.male[parent]
    score = np.where(female, 0, 1) * 2 + np.where(pop.role[parent] == ROLE_HEAD, 0, 1)
    o = np.lexsort((score, child))
    child, parent = child[o], parent[o]
    first = np.ones(len(child), bool)
    first[1:] = child[1:] != child[:-1]
    child, claimant = child[first], parent[first]
    # children under 16 at some time in the period; a share of households never claim (high income charge)
    end16 = pop.dob[child].astype(np.int64) + int(16 * 365.25)
    ok = (end16 >= ctx.lo) & (pop.dob[child] <= ctx.hi)
    hh = pop.household[child]
    opt_out = (rng.random(len(pop.hh_first)) < P.child_benefit_opt_out)[hh]
    ok &= ~opt_out & (pop.role[claimant] != ROLE_CHILD)
    child, claimant = child[ok], claimant[ok]
    cstart = np.maximum(pop.dob[child].astype(np.int64) + rng.integers(10, 90, len(child)), ctx.lo)
    cend = end16[ok]
    # one claim per claimant
    claims, inv = np.unique(claimant, return_inverse=True)
    k = len(claims)
    c_start = np.full(k, np.iinfo(np.int64).max)
    np.minimum.at(c_start, inv, cstart)
    c_end = np.zeros(k, np.int64)
    np.maximum.at(c_end, inv, cend)
    death_c = ctx.death[claims]
    c_end = np.where(death_c != NA, np.minimum(c_end, death_c), c_end)
    nkids = np.bincount(inv, minlength=k)
    keep_claim = c_start <= np.minimum(ctx.hi, c_end)
    claim_id = hex_ids(np.arange(k), "hmrc_cb_claim", seed, prefix="CB", width=12)
    nino, _ = nino_column(claims, seed, rng, missing=P.nino_missing_rate, mistyped=P.nino_mistyped_rate)
    kc = np.flatnonzero(keep_claim)
    cl = Frame("hmrc_child_benefit_claims", person=claims[kc].astype(np.int32))
    cl.columns = {"claim_id": claim_id.take(pa.array(kc)), "nino": nino.take(pa.array(kc)),
                  "claim_start_date": c_start[kc].astype(np.int32),
                  "claim_end_date": open_end(c_end[kc], ctx.hi), "children": nkids[kc].astype(np.int64)}
    kk = np.flatnonzero(keep_claim[inv] & (cstart <= ctx.hi))
    ch = Frame("hmrc_child_benefit_children", person=child[kk].astype(np.int32),
               when=np.minimum(cstart[kk], ctx.hi).astype(np.int32), group="education", key=np.arange(len(kk)))
    ch.columns = {"child_ref": hex_ids(np.arange(len(kk)), "hmrc_cb_child", seed, prefix="CH", width=12),
                  "claim_id": claim_id.take(pa.array(inv[kk])),
                  "child_start_date": cstart[kk].astype(np.int32)}
    ch.parent = claims[inv[kk]]  # the claimant of each child (claimant-child pairs for the truth)
    return {cl.table: cl, ch.table: ch}


def nhs_frames(pop: Population, P: SynthParams, seed: int, ctx: WaveContext) -> dict[str, Frame]:
    rng = rng_for(seed, "wave-nhs")
    n = pop.n
    s = need_scores(pop, np.arange(n))
    offend = (ctx.offending > 0).astype(float)
    age_mid = ages(pop, np.arange(n), np.full(n, (ctx.lo + ctx.hi) // 2, np.int32)).astype(float)
    lo = np.maximum(ctx.lo, pop.dob).astype(np.int32)
    hi = np.where(ctx.death != NA, np.minimum(ctx.hi, ctx.death), ctx.hi).astype(np.int32)
    age_eff = 0.03 * np.abs(age_mid - 35)
    female_adult = ~pop.male & (age_mid >= 18) & (age_mid <= 45)
    out: dict[str, Frame] = {}
    # admitted patient care
    rate = P.hes_admission_rate * np.exp(age_eff + 0.6 * s["physical_health"] + 0.35 * s["substance_misuse"]
                                         + 0.25 * s["mental_health"] + np.where(female_adult, 0.4, 0.0))
    ap, adm = poisson_events(rng, rate, lo, hi)
    m = len(ap)
    dx = _choose_diagnoses(rng, s, age_mid, female_adult, ap)
    meth = np.where(ICD_CHAPTER_OF[dx] == 8, 2, np.where(rng.random(m) < 0.55, 1, 0))
    los = np.where(rng.random(m) < 0.35, 0, durations(rng, 4.0, 1.0, m))
    dis = adm.astype(np.int64) + los
    o = np.lexsort((adm, ap))
    ap, adm, dis, dx, meth = ap[o], adm[o], dis[o], dx[o], meth[o]
    apc = Frame("hes_apc_episodes", person=ap.astype(np.int32))
    apc.columns = {"episode_id": hex_ids(np.arange(m), "hes_apc", seed, prefix="AP", width=12),
                   "nhs_number": nhs_number_column(ap, seed, rng, missing=P.nhs_number_missing_rate),
                   "admission_date": adm.astype(np.int32), "discharge_date": open_end(dis, ctx.hi),
                   "admission_method": coded(meth, ("EL", "EM", "MAT")),
                   "diagnosis_chapter": coded(ICD_CHAPTER_OF[dx], CHAPTERS),
                   "primary_diagnosis": coded(dx, ICD_CODES)}
    out[apc.table] = apc
    # A&E
    rate = P.ae_attendance_rate * np.exp(0.4 * s["substance_misuse"] + 0.3 * s["mental_health"]
                                         + 0.3 * s["physical_health"] + 0.3 * offend + 0.2 * s["accommodation"]
                                         + np.where(age_mid < 5, 0.5, 0.0) + np.where(age_mid > 75, 0.6, 0.0))
    ep, arr = poisson_events(rng, rate, lo, hi)
    k = len(ep)
    dxe = _choose_diagnoses(rng, s, age_mid, female_adult, ep)
    chap = np.where(rng.random(k) < 0.3, -1, ICD_CHAPTER_OF[dxe])  # A&E diagnoses are often uncoded
    o = np.lexsort((arr, ep))
    ep, arr, chap = ep[o], arr[o], chap[o]
    ae = Frame("hes_ae_attendances", person=ep.astype(np.int32))
    ae.columns = {"attendance_id": hex_ids(np.arange(k), "hes_ae", seed, prefix="AE", width=12),
                  "nhs_number": nhs_number_column(ep, seed, rng, missing=P.nhs_number_missing_rate),
                  "arrival_date": arr.astype(np.int32),
                  "attendance_category": coded(choose(rng, (0.9, 0.05, 0.05), k), ("1", "2", "3")),
                  "diagnosis_chapter": coded(chap, CHAPTERS)}
    out[ae.table] = ae
    # mental-health contacts: episodes of care, each with several contacts
    rate = P.mh_episode_rate * np.exp(1.6 * s["mental_health"] + 0.3 * s["substance_misuse"])
    mp, mstart = poisson_events(rng, rate, lo, hi)
    nc = 1 + rng.poisson(np.exp(0.3 * s["mental_health"][mp]) * 2)
    from .common import explode

    cp, _ = explode(nc)
    cdate = (mstart[cp].astype(np.int64) + rng.integers(0, 180, len(cp)))
    pp = mp[cp]
    svc = np.where(s["mental_health"][pp] > 2.0, choose(rng, (0.5, 0.2, 0.05, 0.15, 0.1), len(cp)),
                   choose(rng, (0.3, 0.05, 0.55, 0.02, 0.08), len(cp)))
    keep = (cdate <= hi[pp])
    pp, cdate, svc = pp[keep], cdate[keep], svc[keep]
    o = np.lexsort((cdate, pp))
    pp, cdate, svc = pp[o], cdate[o], svc[o]
    mh = Frame("mhsds_contacts", person=pp.astype(np.int32))
    mh.columns = {"contact_id": hex_ids(np.arange(len(pp)), "mhsds_contact", seed, prefix="MH", width=12),
                  "nhs_number": nhs_number_column(pp, seed, rng, missing=P.nhs_number_missing_rate),
                  "contact_date": cdate.astype(np.int32), "service_type": coded(svc, MH_SERVICES)}
    out[mh.table] = mh
    patients = np.unique(np.concatenate([ap, ep, pp]).astype(np.int64))
    first = np.full(n, ctx.hi, np.int64)
    for who, d in ((ap, adm), (ep, arr), (pp, cdate)):
        np.minimum.at(first, who.astype(np.int64), d.astype(np.int64))
    pf = _people_frame("nhs_patients", "patient_ref", "PT", patients, first[patients], "nhs_number",
                       nhs_number_column(patients, seed, rng, missing=0.0), seed, "education")
    out[pf.table] = pf
    return out


#: Rows per block when drawing diagnoses (the weights matrix of a block stays small).
_BLOCK = 1 << 18


def _choose_diagnoses(rng: np.random.Generator, s: dict[str, np.ndarray], age_mid: np.ndarray,
                      female_adult: np.ndarray, who: np.ndarray) -> np.ndarray:
    """A diagnosis (index into ICD) per event of person ``who``: ``choose_rows`` over the diagnosis weights (the
    same draws), computed in blocks of rows so that no (events x diagnoses) matrix is held whole."""
    m = len(who)
    u = rng.random(m)
    out = np.empty(m, np.int16)
    for a in range(0, m, _BLOCK):
        idx = who[a:a + _BLOCK]
        sp = {d: s[d][idx] for d in ("substance_misuse", "mental_health", "physical_health")}
        c = np.cumsum(_diagnosis_weights(sp, age_mid[idx], female_adult[idx], len(idx)), axis=1)
        uu = u[a:a + _BLOCK] * c[:, -1]
        out[a:a + _BLOCK] = np.minimum((c < uu[:, None]).sum(axis=1), c.shape[1] - 1)
    return out


def _diagnosis_weights(sp: dict[str, np.ndarray], age: np.ndarray, female_adult: np.ndarray, m: int) -> np.ndarray:
    old = np.clip(age - 50, 0, None) / 10
    sub = np.clip(sp["substance_misuse"], 0, None)
    mhs = np.clip(sp["mental_health"], 0, None)
    phs = np.clip(sp["physical_health"], 0, None)
    one = np.ones(m)
    return np.column_stack([
        0.2 + 0.3 * old, 0.1 + 0.2 * old, 0.2 + 0.4 * phs,  # C34 C18 E11
        0.1 + 1.2 * sub, 0.02 + 0.8 * np.clip(sub - 1, 0, None), 0.02 + 0.3 * np.clip(mhs - 1, 0, None),  # F10 F11 F20
        0.1 + 0.6 * mhs, np.where(age > 75, 0.5, 0.0), 0.15 * one,  # F32 F03 G40
        0.2 + 0.3 * old, 0.2 + 0.3 * old, 0.1 + 0.3 * old,  # I21 I25 I64
        0.3 + 0.5 * phs, 0.6 * one, 0.05 + 0.6 * sub, 0.4 * one,  # J44 J18 K70 K35
        0.6 * one + 0.3 * phs, np.where(female_adult, 3.0, 0.0),  # M54 O80
        1.0 * one, 0.6 * one,  # R07 R55
        np.where(age > 75, 0.6, 0.1), 0.05 + 0.6 * sub + 0.3 * mhs, 0.3 * one,  # S72 T40 S06
        0.01 * one, 0.01 * one, 0.05 * one,  # X42 X70 V89 (causes of death, rare as hospital diagnoses)
    ])


def wave2_frames(pop: Population, P: SynthParams, seed: int, ctx: WaveContext, sources: tuple[str, ...]
                 ) -> tuple[dict[str, Frame], dict[str, np.ndarray]]:
    """The Wave 2 frames of the chosen sources, and truth arrays (death day and cause of every person)."""
    episodes, exits = ndtms_frames(pop, P, seed, ctx)
    death, cause = deaths(pop, P, seed, ctx, exits)
    ctx.death = death
    frames: dict[str, Frame] = {}
    if "ndtms" in sources:
        f = ndtms_render(pop, P, seed, ctx, episodes["ndtms_episodes"])
        frames[f.table] = f
    if "deaths" in sources:
        f = deaths_frame(pop, P, seed, ctx, cause)
        frames[f.table] = f
    if "dwp" in sources:
        frames.update(dwp_frames(pop, P, seed, ctx))
    if "hmrc" in sources:
        frames.update(hmrc_frames(pop, P, seed, ctx))
    if "hes" in sources:
        frames.update(nhs_frames(pop, P, seed, ctx))
    return frames, {"death": death, "cause": cause}


__all__ = ["WaveContext", "wave2_frames", "child_parent_pairs", "ROLE_PARTNER", "uniform_days"]
