"""A victims' support service (Wave 3, ``bold synth --sources support`` or ``--waves 3``): referrals, needs
assessment, contacts, case closure and its reason, for people of the same synthetic population.

Who is referred: adults (16 and over at referral) with a probability that rises with their latent domestic-abuse and
mental-health need scores and is higher for women; one referral per person referred, on a day drawn uniformly over
the period. The service records the identifiers it holds (name, date of birth, postcode, sex; drawn by
:func:`bold_prevention.synth.identifiers.person_columns` with the local-authority error profile).

Journeys are competing risks in days from referral:

* **disengagement** (the study's event): exponential with daily hazard :data:`BASE_DISENGAGE_HAZARD` multiplied by
  the true hazard ratios :data:`TRUE_HAZARD_RATIOS` of the two things the service records about the referral (aged
  under 25 at referral; referred by the police), so a Cox model on those two covariates recovers them;
* **completion** of the support plan: 60 days plus a gamma(4, 30) time (median about 170 days);
* **referral on** to another service (10% of referrals, 14 to 120 days) and **moving away** (5%, 30 to 300 days).

The first of these closes the case (``exit_date``, ``exit_reason``); a case still open at the end of the period has
no exit. The needs assessment falls 1 + gamma(2, 5) days after referral (none when the case closed first); contacts
follow a Poisson process (one per fortnight on average) from referral to closure.

Truth: ``truth_support_service`` (each referral's true person, latent days to disengagement and the cause that
closed it, open cases included) and ``truth_support_hazard`` (the true hazard ratios).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .common import NA, Frame, age_at, choose, coded, explode, rng_for, uniform_days
from .params import NEEDS
from .population import Population
from .wave_common import hex_ids

#: Daily hazard of disengaging for a referral with neither risk factor (median about 231 days).
BASE_DISENGAGE_HAZARD = 0.003
#: True hazard ratios of disengagement (the study's Cox model should recover them).
TRUE_HAZARD_RATIOS = {"aged_under_25": 1.8, "police_referral": 0.6}
SOURCES = ("POLICE", "SELF", "HEALTH", "AGENCY")
CRIMES = ("SV", "DA", "VIOL", "OTHER")
EXITS = ("COMPLETED", "DISENGAGED", "REFERRED", "MOVED")
CONTACTS = ("PHONE", "F2F", "ISVA", "GROUP")
#: Base probability of a referral over the period (before the need and sex effects).
REFERRAL_BASE = 0.015


def support_frames(pop: Population, seed: int, lo: int, hi: int) -> tuple[dict[str, Frame], dict[str, pa.Table],
                                                                           np.ndarray]:
    """The support-service frames (``support_referrals``, ``support_contacts``), the truth tables and the true
    person index of each referral."""
    rng = rng_for(seed, "support-service")
    ni = {d: i for i, d in enumerate(NEEDS)}
    s = pop.score.astype(np.float64)
    ref_day = uniform_days(rng, np.full(pop.n, lo, np.int64), np.full(pop.n, hi, np.int64)).astype(np.int64)
    age = age_at(pop.dob, ref_day.astype(np.int32)).astype(np.int64)
    p = REFERRAL_BASE * np.exp(1.0 * s[:, ni["domestic_abuse"]] + 0.4 * s[:, ni["mental_health"]]
                               + np.where(pop.male, 0.0, 0.8))
    chosen = np.flatnonzero((age >= 16) & (rng.random(pop.n) < np.clip(p, 0, 0.5)))
    n = len(chosen)
    rday = ref_day[chosen]
    rage = age[chosen]
    source = choose(rng, (0.45, 0.25, 0.15, 0.15), n)
    da = s[chosen, ni["domestic_abuse"]]
    crime = np.where(rng.random(n) < np.clip(0.3 + 0.1 * da, 0.05, 0.8), 1, choose(rng, (0.6, 0.0, 0.25, 0.15), n))
    young = rage < 25
    police = source == 0
    hr = (np.where(young, TRUE_HAZARD_RATIOS["aged_under_25"], 1.0)
          * np.where(police, TRUE_HAZARD_RATIOS["police_referral"], 1.0))
    t_dis = rng.exponential(1.0 / (BASE_DISENGAGE_HAZARD * hr))
    t_done = 60.0 + rng.gamma(4.0, 30.0, n)
    t_ref = np.where(rng.random(n) < 0.10, rng.uniform(14, 120, n), np.inf)
    t_move = np.where(rng.random(n) < 0.05, rng.uniform(30, 300, n), np.inf)
    times = np.column_stack([t_done, t_dis, t_ref, t_move])
    cause = times.argmin(axis=1)
    t_exit = np.maximum(1, np.ceil(times[np.arange(n), cause])).astype(np.int64)
    exit_day = rday + t_exit
    open_case = exit_day > hi
    t_assess = 1 + np.round(rng.gamma(2.0, 5.0, n)).astype(np.int64)
    assessed = (t_assess < t_exit) & (rday + t_assess <= hi)
    ids = hex_ids(np.arange(n), "support_referral", seed, prefix="SR", width=12)
    referrals = Frame("support_referrals", person=chosen.astype(np.int32), when=rday.astype(np.int32),
                      group="local_authority", key=np.arange(n))
    referrals.columns = {
        "referral_id": ids,
        "age_at_referral": rage,
        "referral_date": rday.astype(np.int32),
        "referral_source": coded(source, SOURCES),
        "crime_type": coded(crime, CRIMES),
        "assessment_date": np.where(assessed, rday + t_assess, NA).astype(np.int32),
        "exit_date": np.where(open_case, NA, exit_day).astype(np.int32),
        "exit_reason": coded(np.where(open_case, -1, cause), EXITS),
    }
    # contacts: a Poisson process from referral to closure (or the end of the period)
    last = np.minimum(exit_day, hi)
    span = np.maximum(last - rday, 0)
    par, _ = explode(rng.poisson(span / 14.0))
    cday = uniform_days(rng, rday[par] + 1, np.maximum(last[par], rday[par] + 1))
    keep = cday <= last[par]
    par, cday = par[keep], cday[keep]
    o = np.lexsort((cday, par))
    par, cday = par[o], cday[o]
    contacts = Frame("support_contacts", person=chosen[par].astype(np.int32), when=cday.astype(np.int32),
                     group="local_authority", key=np.arange(len(par)), columns={
        "contact_id": hex_ids(np.arange(len(par)), "support_contact", seed, prefix="SC", width=12),
        "referral_id": ids.take(pa.array(par)),
        "contact_date": cday.astype(np.int32),
        "contact_type": coded(choose(rng, (0.5, 0.3, 0.15, 0.05), len(par)), CONTACTS),
    })
    truth = {
        "truth_support_service": pa.table({
            "referral_id": ids,
            "latent_days_to_disengagement": pa.array(np.round(t_dis, 3)),
            "closing_cause": coded(cause, EXITS),
            "days_to_closure": pa.array(t_exit),
        }),
        "truth_support_hazard": pa.table({
            "term": pa.array(list(TRUE_HAZARD_RATIOS), pa.string()),
            "hazard_ratio": pa.array(list(TRUE_HAZARD_RATIOS.values()), pa.float64()),
        }),
    }
    return {f.table: f for f in (referrals, contacts)}, truth, chosen


__all__ = ["support_frames", "TRUE_HAZARD_RATIOS", "BASE_DISENGAGE_HAZARD"]
