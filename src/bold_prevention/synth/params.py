"""Every parameter of the synthetic population, documented in one place.

:class:`SynthParams` is a frozen dataclass; :meth:`SynthParams.validate` checks it and raises
:class:`~bold_prevention.errors.InputError` naming the parameter. Override any value with
``SynthParams().replace(name=value)`` or ``SynthParams.from_dict({...})``.

The model in brief (see ``docs/synthetic-data.md``):

* **Persons and households.** Households of 1-6 people (adults, partners, children; twins and juniors who share a
  parent's forename), home 2011 LSOAs drawn uniformly over England and Wales with ``la_pilot_share`` of households
  placed in the pilot local authorities (so the local-authority file has enough residents), household moves over
  2011-2024.
* **Latent needs.** Nine drivers (the annex's eight plus domestic abuse). A person's need score is a Gaussian
  copula: ``score = sqrt(icc) * Z_household + sqrt(1 - icc) * Z_person + deprivation_effect * dep`` where both Z are
  multivariate normal with the correlation matrix :data:`NEED_CORRELATION` and ``dep = (5.5 - imd_decile) / 4.5``
  (+1 most deprived, -1 least). The need flag is ``score >= threshold``, the threshold set so that the share of
  eligible persons with the need equals ``need_prevalence``.
* **Offending.** Poisson cases per person-year with rate ``offence_base_rate * exp(sum(offence_need_weights * score)
  + male_effect + age_curve(age)) * G`` where ``G ~ Gamma(shape, 1/shape)`` concentrates repeat contact among
  people with many needs. Every case is heard at a magistrates' court; some are sent to the Crown Court.
* **Reoffending after release.** Each prison release adds ``Poisson(Lambda_extra)`` offences spread evenly over the
  next 365 days, ``Lambda_extra = release_hazard_base * exp(...)``. The truth probability of a new offence within 12
  months is ``1 - exp(-(Lambda_base + Lambda_extra))`` (base process plus every post-release hazard overlapping the
  window), and the outcome is whether the generated data holds such an offence: exact by construction.
* **OASys measurement.** For each assessment and domain a measured indicator ``m ~ Bernoulli(sensitivity)`` if the
  person has the need, ``Bernoulli(1 - specificity)`` if not; the domain's proxy rule (:data:`OASYS_PROXY_RULES`) is
  true exactly when ``m`` is true and the items it reads are not missing. Other items follow ``m`` with the item
  probabilities in ``oasys.py``. With the defaults (sensitivity 0.98, specificity 0.99), a proxy's prevalence
  among assessed people is within about 1 percentage point of the true prevalence (bias =
  ``-(1-sens)*p + (1-spec)*(1-p) - missing``).
* **XJS.** Records are detached from their true person's cluster with the missed-link rates and persons are joined
  to a confusable person (twin, same-name relative, same surname) with the false-merge rates; the bands nest
  (high is strictest: most missed links, fewest false merges).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from ..errors import InputError

#: The latent needs (drivers): the annex's eight plus domestic abuse.
NEEDS: tuple[str, ...] = (
    "mental_health",
    "physical_health",
    "low_income",
    "substance_misuse",
    "employment",
    "education",
    "accommodation",
    "family",
    "domestic_abuse",
)

#: Latent correlation of the needs (Gaussian copula), in the order of :data:`NEEDS`.
#: Values are judgement, chosen so that the drivers co-occur as the annex describes (income, employment and
#: accommodation strongly; substance misuse with accommodation, mental health and family; family with domestic abuse).
NEED_CORRELATION: tuple[tuple[float, ...], ...] = (
    # mh    ph    inc   sub   emp   edu   acc   fam   da
    (1.00, 0.35, 0.30, 0.40, 0.35, 0.20, 0.35, 0.35, 0.40),  # mental_health
    (0.35, 1.00, 0.25, 0.20, 0.35, 0.15, 0.15, 0.15, 0.15),  # physical_health
    (0.30, 0.25, 1.00, 0.30, 0.50, 0.40, 0.45, 0.30, 0.30),  # low_income
    (0.40, 0.20, 0.30, 1.00, 0.35, 0.25, 0.45, 0.40, 0.40),  # substance_misuse
    (0.35, 0.35, 0.50, 0.35, 1.00, 0.40, 0.35, 0.25, 0.20),  # employment
    (0.20, 0.15, 0.40, 0.25, 0.40, 1.00, 0.25, 0.20, 0.15),  # education
    (0.35, 0.15, 0.45, 0.45, 0.35, 0.25, 1.00, 0.35, 0.35),  # accommodation
    (0.35, 0.15, 0.30, 0.40, 0.25, 0.20, 0.35, 1.00, 0.50),  # family
    (0.40, 0.15, 0.30, 0.40, 0.20, 0.15, 0.35, 0.50, 1.00),  # domestic_abuse
)

#: Proxy rules: the OASys core-risk answers that measure each domain (portable SQL over
#: ``oasys_assessments_details_core_risk``). The generator makes each rule true exactly when the measured
#: indicator is positive (unless an item it reads is missing), so its sensitivity and specificity are the
#: ``oasys_sensitivity`` and ``oasys_specificity`` of the domain, less missing answers. Accommodation, low income,
#: substance misuse, mental health and physical health read variables of the published OASys catalogue (psychiatric
#: treatment in both its tick-box and ``_v2_`` forms); employment, education, family and domestic abuse read the
#: model's inferred section 4 and 6 items, for which the published list gives no variable.
OASYS_PROXY_RULES: dict[str, str] = {
    "accommodation": "question_3_3 = 'YES' OR question_3_4 = '2'",
    "low_income": "question_5_2 = '2' OR question_5_5 = '2'",
    "employment": "question_4_2 = 'YES'",
    "education": "question_4_7 IN ('1', '2')",
    "family": "question_6_1 = '2'",
    "domestic_abuse": "question_6_7_da_victim = 'YES' OR question_6_7_da_perpetrator = 'YES'",
    "substance_misuse": "question_13_3_10_1 = 'YES' OR question_13_3_9_1 = 'YES'",
    "mental_health": "question_10_6 = '2' OR question_10_7_psychtreat = 'YES' OR question_10_7_v2_psychtreat = 'YES'",
    "physical_health": "question_13_3_1_1 = 'YES'",
}

#: Source groups for identifier quality and XJS error multipliers.
SOURCE_GROUPS: tuple[str, ...] = ("justice", "family", "civil", "local_authority", "education")


def _needs(**kw: float) -> dict[str, float]:
    return {n: float(kw[n]) for n in NEEDS}


def _profile(**kw: float) -> dict[str, float]:
    base = dict(
        forename_missing=0.005, forename_nickname=0.04, forename_initial=0.005, forename_typo=0.02,
        middle_missing=0.25, surname_missing=0.003, surname_typo=0.02, surname_old=0.15,
        dob_missing=0.005, dob_transposed=0.01, dob_day_error=0.01, dob_year_error=0.005,
        postcode_missing=0.08, postcode_stale=0.06, postcode_typo=0.01,
        sex_unknown=0.005, sex_error=0.003, ethnicity_missing=0.05,
    )
    base.update(kw)
    return base


@dataclass(frozen=True)
class SynthParams:
    """All parameters of :func:`bold_prevention.synth.generate` (defaults are the documented model)."""

    # ---------------------------------------------------------------------------------------------- time
    #: First and last day of the simulated period (Data First coverage 2011-2024).
    start: date = date(2011, 1, 1)
    end: date = date(2024, 12, 31)
    #: Reference date for ages in household construction (the middle of the period).
    reference_date: date = date(2018, 1, 1)

    # ---------------------------------------------------------------------------------------------- households
    #: Probability of a household of 1, 2, ... 6 persons (England and Wales census shape, mean about 2.4).
    household_size_probs: tuple[float, ...] = (0.30, 0.34, 0.15, 0.13, 0.05, 0.03)
    #: Share of households with 2+ persons headed by a couple (the rest: a lone parent).
    couple_share: float = 0.72
    #: Probability that a household with 2+ children has twins (same date of birth, same surname).
    twin_rate: float = 0.04
    #: Probability that a son is given his father's forename (same-name relatives at one address).
    junior_rate: float = 0.08
    #: Probability that a partner married during the period (surname changes at the marriage date).
    marriage_in_period_rate: float = 0.15
    #: Share of persons with a middle name.
    middle_name_share: float = 0.6
    #: Probability that a household lives in London (E09) is raised for non-White groups: ethnic group shares
    #: (White, Mixed, Asian, Black, Other) in London and elsewhere.
    ethnic_shares_london: tuple[float, ...] = (0.55, 0.05, 0.20, 0.13, 0.07)
    ethnic_shares_elsewhere: tuple[float, ...] = (0.87, 0.02, 0.07, 0.02, 0.02)

    # ---------------------------------------------------------------------------------------------- geography
    #: Pilot local authorities of the local-authority resident file (Barking and Dagenham by default).
    la_pilot_lads: tuple[str, ...] = ("E09000002",)
    #: Share of households placed in the pilot local authorities (an oversample, so the LA file is useful).
    la_pilot_share: float = 0.10
    #: Household moves per year (Poisson), before need effects.
    move_rate: float = 0.07
    #: Log-rate effect of the household's accommodation and low-income need scores on moving.
    move_need_effect: float = 0.45
    #: Share of moves within the same local authority.
    move_within_lad: float = 0.65
    #: Most moves a household makes in the period (further moves are dropped).
    max_moves: int = 6

    # ---------------------------------------------------------------------------------------------- needs
    #: Share of eligible persons with each need (England and Wales general-population orders of magnitude).
    need_prevalence: Mapping[str, float] = field(default_factory=lambda: _needs(
        mental_health=0.16, physical_health=0.20, low_income=0.18, substance_misuse=0.05, employment=0.06,
        education=0.14, accommodation=0.03, family=0.08, domestic_abuse=0.06))
    #: Shift of the latent score per unit of deprivation (dep = +1 in IMD decile 1, -1 in decile 10).
    deprivation_effect: Mapping[str, float] = field(default_factory=lambda: _needs(
        mental_health=0.25, physical_health=0.25, low_income=0.55, substance_misuse=0.30, employment=0.40,
        education=0.40, accommodation=0.40, family=0.25, domestic_abuse=0.25))
    #: Share of the latent variance shared within a household (intra-household correlation).
    household_icc: Mapping[str, float] = field(default_factory=lambda: _needs(
        mental_health=0.15, physical_health=0.10, low_income=0.75, substance_misuse=0.20, employment=0.30,
        education=0.35, accommodation=0.80, family=0.60, domestic_abuse=0.60))
    #: Latent correlation matrix (rows/columns in the order of :data:`NEEDS`).
    need_correlation: tuple[tuple[float, ...], ...] = NEED_CORRELATION

    # ---------------------------------------------------------------------------------------------- offending
    #: Base cases per person-year at the peak ages (before need, sex and heterogeneity effects).
    offence_base_rate: float = 0.010
    #: Highest case rate of any person-year (caps the heavy tail of the rate distribution).
    offence_max_rate: float = 2.0
    #: Log-rate weight of each need score in the offending rate.
    offence_need_weights: Mapping[str, float] = field(default_factory=lambda: _needs(
        mental_health=0.20, physical_health=-0.10, low_income=0.20, substance_misuse=0.60, employment=0.30,
        education=0.25, accommodation=0.35, family=0.20, domestic_abuse=0.30))
    #: Log-rate effect of being male.
    offence_male_effect: float = 1.6
    #: Gamma shape of the person-level heterogeneity (smaller = more concentrated repeat offending).
    offence_heterogeneity_shape: float = 1.0
    #: Log-rate by age band (lower bound of band -> effect); no offences under 10.
    offence_age_curve: tuple[tuple[int, float], ...] = (
        (10, -2.0), (14, -0.4), (18, 0.0), (25, -0.3), (35, -0.8), (45, -1.4), (55, -2.2), (65, -3.2))
    #: Years of offending history before the period that count towards prior convictions (per unit rate).
    prior_years: float = 6.0

    # ---------------------------------------------------------------------------------------------- courts
    #: Share of magistrates' cases convicted (the rest acquitted, dismissed or withdrawn).
    mags_conviction_rate: float = 0.82
    #: Share of convictions appealed to the Crown Court.
    appeal_rate: float = 0.01
    #: Crown Court conviction rate among trials.
    crown_conviction_rate: float = 0.80
    #: Share of Crown Court custodial cases remanded in custody from the first hearing.
    remand_share: float = 0.30

    # ---------------------------------------------------------------------------------------------- custody
    #: Base probability of immediate custody for a magistrates' conviction (raised by prior convictions).
    mags_custody_rate: float = 0.02
    #: Base probability of immediate custody for a Crown Court conviction.
    crown_custody_rate: float = 0.35
    #: Median Crown Court custodial sentence (days) and log-normal spread.
    crown_sentence_median_days: float = 540.0
    crown_sentence_sigma: float = 0.8
    #: Share of the sentence served before automatic release.
    release_point: float = 0.5
    #: Probability of recall to custody after a release on licence (before need effects).
    recall_rate: float = 0.12

    # ---------------------------------------------------------------------------------------------- reoffending
    #: Expected extra offences in the 12 months after a release (before effects).
    release_hazard_base: float = 0.10
    #: Log effects on the post-release hazard: need flags, male, per prior conviction (log1p), per decade of age
    #: above 25.
    release_need_weights: Mapping[str, float] = field(default_factory=lambda: _needs(
        mental_health=0.15, physical_health=0.0, low_income=0.10, substance_misuse=0.50, employment=0.25,
        education=0.10, accommodation=0.45, family=0.10, domestic_abuse=0.10))
    release_male_effect: float = 0.25
    release_prior_effect: float = 0.25
    release_age_effect: float = -0.25
    #: Generations of release -> reoffending -> new custody simulated.
    release_generations: int = 3
    #: Releases later than this are not given a truth outcome (their 12 months must lie inside the data).
    outcome_cutoff: date = date(2023, 6, 30)

    # ---------------------------------------------------------------------------------------------- OASys
    #: Domain-level sensitivity P(measured | need) and specificity P(not measured | no need) of OASys answers.
    #: OASys assessors record needs from an interview and from the records they hold (case files, pre-sentence
    #: reports, previous assessments), so a domain's recorded answer agrees with the need for about 98% of the
    #: people who have it and 99% of those who do not. With these values a proxy's measurement bias
    #: ``-(1 - sens) * p + (1 - spec) * (1 - p)`` stays within about 0.6 percentage points at the prevalences among
    #: assessed people (13-45%), and the per-assessment error no longer caps the F1 of cohorts that need three
    #: domains at once near 0.9 (earlier values 0.94-0.96 / 0.97-0.98 gave employment a built-in bias of +1.9 points
    #: and the multiple-disadvantage cohort an F1 of about 0.89).
    oasys_sensitivity: Mapping[str, float] = field(default_factory=lambda: _needs(
        mental_health=0.98, physical_health=0.98, low_income=0.98, substance_misuse=0.98, employment=0.98,
        education=0.98, accommodation=0.98, family=0.98, domestic_abuse=0.98))
    oasys_specificity: Mapping[str, float] = field(default_factory=lambda: _needs(
        mental_health=0.99, physical_health=0.99, low_income=0.99, substance_misuse=0.99, employment=0.99,
        education=0.99, accommodation=0.99, family=0.99, domestic_abuse=0.99))
    #: Probability that an answered OASys item is missing (null, or the 'M' code on 0-1-2 scales).
    oasys_missing_rate: float = 0.015
    #: Probability of "don't know" on the transfer screening items coded DK / NO / YES.
    oasys_dk_rate: float = 0.03
    #: Assessments on or after this day answer the ``_v2_`` (NO / YES) form of the items that have one (e.g.
    #: question_10_7_v2_psychtreat); earlier ones the tick-box form (YES or blank). The real changeover date is not
    #: published; this is an assumption.
    oasys_v2_from: date = date(2016, 4, 1)

    # ---------------------------------------------------------------------------------------------- civil
    #: Possession claims per household-year (before need effects); the household head is the defendant.
    possession_base_rate: float = 0.0015
    #: Log-rate weights of the head's low-income and accommodation need scores (and substance misuse).
    possession_income_weight: float = 0.9
    possession_accommodation_weight: float = 0.9
    possession_substance_weight: float = 0.3
    #: Claim types in the order PSL (social landlord), PPL (private landlord), PAC (accelerated procedure, no
    #: arrears claimed), PMO (mortgage): shares at a low-income score of 0, and each type's log-odds shift per unit
    #: of the head's low-income score (low income: social renting more likely, a mortgage less likely).
    possession_type_shares: tuple[float, ...] = (0.27, 0.26, 0.20, 0.27)
    possession_type_income_effect: tuple[float, ...] = (0.25, 0.0, 0.0, -0.5)
    #: Median monthly rent or mortgage payment (GBP) by claim type, and its log-normal spread between households.
    possession_monthly_payment: tuple[float, ...] = (450.0, 900.0, 900.0, 700.0)
    possession_payment_sigma: float = 0.15
    #: Arrears claimed, in months of rent or payment: the median by claim type at need scores of 0 (0 for the
    #: accelerated procedure, which claims none); log-months weights of the head's low-income, accommodation and
    #: substance-misuse need scores; residual log spread. The amount claimed is months x monthly payment. Claimants'
    #: income and accommodation scores are about 1.5, so the median claim is about 6 months of social rent (GBP 2,900),
    #: 4 months of private rent (GBP 3,600) and 11 months of mortgage payments (GBP 7,800).
    arrears_months_median: tuple[float, ...] = (2.0, 1.4, 0.0, 5.0)
    arrears_income_weight: float = 0.30
    arrears_accommodation_weight: float = 0.30
    arrears_substance_weight: float = 0.15
    arrears_sigma: float = 0.6
    #: The possession process (see ``civil.stage_probabilities``), with ``z`` = log(months of arrears / the claim
    #: type's median): log-odds of no order by claim type and per unit of z; of an outright (rather than suspended)
    #: order by claim type and per unit of z; of a warrant after an outright / a suspended order and per unit of z;
    #: of bailiffs repossessing once a warrant is issued and per unit of z. With the defaults about 66% of claims
    #: lead to an order (64% of them outright), 36% to a warrant and 12% to a repossession (MoJ mortgage and
    #: landlord possession statistics: each stage a fraction of the one before).
    possession_no_order_logit: tuple[float, ...] = (0.45, 0.25, -1.45, 0.7)
    possession_no_order_arrears: float = -1.0
    possession_outright_logit: tuple[float, ...] = (-1.6, -0.7, 2.9, -1.8)
    possession_outright_arrears: float = 1.2
    possession_warrant_logit: tuple[float, ...] = (-0.1, -1.6)
    possession_warrant_arrears: float = 0.8
    possession_eviction_logit: float = -1.6
    possession_eviction_arrears: float = 0.6
    #: Hidden component of the warrant and repossession steps (no extract records it): log-odds weights of the
    #: head's substance-misuse and mental-health need scores, plus a normal term with this spread.
    possession_hidden_substance_weight: float = 0.10
    possession_hidden_mental_health_weight: float = 0.05
    possession_hidden_sigma: float = 0.15
    #: Share of repossessions that fall within 12 months of the claim after an outright / a suspended order.
    possession_within_year: tuple[float, ...] = (0.85, 0.30)
    #: Money claims per adult-year (before the low-income effect) and their low-income log weight.
    money_claim_rate: float = 0.004
    money_claim_income_weight: float = 0.8

    # ---------------------------------------------------------------------------------------------- family
    #: Private-law (child arrangements) cases per household-year with children, before the family-need effect.
    private_law_rate: float = 0.0018
    #: Public-law (care) cases per household-year with children, before need effects.
    public_law_rate: float = 0.00015
    #: Family Law Act (domestic abuse injunction) applications per adult-year, before the domestic-abuse effect.
    fla_rate: float = 0.0005
    #: Divorces per couple-year.
    divorce_rate: float = 0.006
    #: Log-rate weight of the family, domestic abuse, substance and mental health need scores in family cases.
    family_need_weight: float = 1.0
    family_da_weight: float = 0.8
    family_substance_weight: float = 0.5
    family_mental_weight: float = 0.3

    # ---------------------------------------------------------------------------------------------- LA, NPD
    #: Local-authority service contacts per resident-year, by service, before need effects.
    la_contact_rate: float = 0.05
    #: Probability that a resident appears twice in the resident index (two systems, two references).
    la_duplicate_rate: float = 0.03
    #: Baseline share of sessions absent, and the weights of need scores on absence.
    npd_absence_base: float = 0.045
    #: Suspensions per pupil-year (secondary age) before need effects.
    npd_exclusion_rate: float = 0.03
    #: Children-in-need referrals per pupil-year before need effects.
    npd_cin_rate: float = 0.01

    # ---------------------------------------------------------------------------------------------- Waves 1 and 2
    #: (Used only when wave sources are asked for: ``bold synth --waves`` / ``--sources``.)
    #: Looked-after episodes and child protection plans per pupil-year, before need effects.
    npd_cla_rate: float = 0.003
    npd_cp_rate: float = 0.005
    #: Drug treatment referrals per person-year (16-80) before the substance-misuse, offending and sex effects.
    ndtms_rate: float = 0.0008
    #: Deaths per person-year at age 50 before need effects (the rate grows about 9% per year of age).
    death_base_rate: float = 0.002
    #: Probability of death in the 12 months after leaving drug treatment (excess mortality after exit).
    death_after_treatment_exit: float = 0.02
    #: Benefit spells per adult-year (18-66) before need effects: jobseeker (JSA, later UC), health (ESA, later
    #: UC), disability (PIP).
    dwp_jobseeker_rate: float = 0.03
    dwp_health_rate: float = 0.01
    dwp_pip_rate: float = 0.006
    #: Share of DWP and HMRC event records with the NINO missing, and with one digit mistyped.
    nino_missing_rate: float = 0.02
    nino_mistyped_rate: float = 0.01
    #: PAYE employments started per person-year (16-70) before need effects (RTI from 6 April 2013).
    paye_employment_rate: float = 0.03
    #: Share of households with children that do not claim Child Benefit.
    child_benefit_opt_out: float = 0.1
    #: Hospital admissions, A&E attendances and mental-health episodes of care per person-year before effects.
    hes_admission_rate: float = 0.06
    ae_attendance_rate: float = 0.2
    mh_episode_rate: float = 0.004
    #: Share of hospital and mental-health records without an NHS number.
    nhs_number_missing_rate: float = 0.005

    # ---------------------------------------------------------------------------------------------- identifiers
    #: Identifier error rates per source group (see :func:`_profile` for the keys). Family and civil records are
    #: sparser and weaker, as the Data First user guide warns.
    identifier_quality: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: {
        "justice": _profile(),
        "family": _profile(forename_missing=0.04, forename_nickname=0.08, forename_typo=0.04, middle_missing=0.7,
                           surname_missing=0.03, surname_typo=0.04, dob_missing=0.30, dob_transposed=0.02,
                           dob_day_error=0.02, postcode_missing=0.45, postcode_stale=0.12, sex_unknown=0.30),
        "civil": _profile(forename_missing=0.08, forename_nickname=0.10, forename_initial=0.10, forename_typo=0.04,
                          middle_missing=0.85, surname_missing=0.01, surname_typo=0.04, dob_missing=0.75,
                          postcode_missing=0.05, postcode_stale=0.05, sex_unknown=0.85),
        "local_authority": _profile(forename_nickname=0.05, forename_typo=0.02, middle_missing=0.4,
                                    dob_missing=0.03, postcode_missing=0.01, postcode_stale=0.02),
        "education": _profile(forename_nickname=0.01, forename_typo=0.005, surname_typo=0.005, surname_old=0.0,
                              dob_missing=0.0, dob_transposed=0.002, dob_day_error=0.002, dob_year_error=0.0,
                              postcode_missing=0.02, postcode_stale=0.05, sex_unknown=0.0, sex_error=0.0),
    })

    # ---------------------------------------------------------------------------------------------- XJS
    #: Share of records (of persons with 2+ records) split off their true person's cluster, per band, for the
    #: criminal justice sources; family and civil records are multiplied by ``xjs_weak_source_multiplier``.
    xjs_missed_link_rate: Mapping[str, float] = field(
        default_factory=lambda: {"high": 0.08, "medium": 0.04, "low": 0.02})
    #: Share of persons in XJS whose cluster also holds another true person's records, per band.
    xjs_false_merge_rate: Mapping[str, float] = field(
        default_factory=lambda: {"high": 0.002, "medium": 0.008, "low": 0.025})
    xjs_weak_source_multiplier: float = 2.5
    #: Match-score thresholds that define the bands (records linked at a band score at least its threshold).
    xjs_thresholds: Mapping[str, float] = field(
        default_factory=lambda: {"high": 0.99, "medium": 0.95, "low": 0.80})

    # ---------------------------------------------------------------------------------------------- methods
    def replace(self, **changes: Any) -> SynthParams:
        """A copy with some parameters changed (validated)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InputError(f"unknown synthetic-data parameter(s): {', '.join(unknown)}",
                             hint="see bold_prevention.synth.params.SynthParams for the parameter names")
        p = dataclasses.replace(self, **changes)
        p.validate()
        return p

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SynthParams:
        """Build from a mapping (e.g. a manifest's ``parameters``); dates may be ISO strings."""
        kw: dict[str, Any] = {}
        names = {f.name: f for f in dataclasses.fields(cls)}
        for k, v in values.items():
            if k not in names:
                raise InputError(f"unknown synthetic-data parameter {k!r}",
                                 hint="see bold_prevention.synth.params.SynthParams for the parameter names")
            default = getattr(cls(), k)
            if isinstance(default, date) and isinstance(v, str):
                v = date.fromisoformat(v)
            elif isinstance(default, tuple) and isinstance(v, list):
                v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            kw[k] = v
        p = cls(**kw)
        p.validate()
        return p

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (dates as ISO strings, tuples as lists), for the manifest."""

        def conv(v: Any) -> Any:
            if isinstance(v, date):
                return v.isoformat()
            if isinstance(v, Mapping):
                return {str(k): conv(x) for k, x in v.items()}
            if isinstance(v, tuple | list):
                return [conv(x) for x in v]
            return v

        return {f.name: conv(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def _validate_possession(self, bad, prob, positive, real) -> None:
        """The per-claim-type tuples and spreads of the possession process."""
        def tuple_of(name: str, size: int, check) -> None:
            v = getattr(self, name)
            if not isinstance(v, tuple | list) or len(v) != size:
                raise bad(name, f"must have {size} values" + (" (PSL, PPL, PAC, PMO)" if size == 4 else ""))
            for i, x in enumerate(v):
                check(f"{name}[{i}]", x)

        tuple_of("possession_type_shares", 4, prob)
        if abs(sum(self.possession_type_shares) - 1) > 1e-6 or min(self.possession_type_shares) <= 0:
            raise bad("possession_type_shares", "must be positive shares summing to 1")
        for name in ("possession_type_income_effect", "possession_no_order_logit", "possession_outright_logit"):
            tuple_of(name, 4, real)
        tuple_of("possession_monthly_payment", 4, lambda n, x: positive(n, x, allow_zero=False))
        tuple_of("arrears_months_median", 4, positive)
        tuple_of("possession_warrant_logit", 2, real)
        tuple_of("possession_within_year", 2, prob)
        for name in ("possession_payment_sigma", "arrears_sigma", "possession_hidden_sigma"):
            positive(name, getattr(self, name))

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first invalid parameter."""

        def bad(name: str, why: str) -> InputError:
            return InputError(f"synthetic-data parameter {name} {why}",
                              hint="fix the value (see the documentation in bold_prevention/synth/params.py)")

        def prob(name: str, v: Any, *, open_upper: bool = False) -> None:
            if not isinstance(v, int | float) or isinstance(v, bool) or math.isnan(v) or v < 0 or v > 1 or (
                    open_upper and v >= 1):
                raise bad(name, f"must be a probability between 0 and 1 (got {v!r})")

        def positive(name: str, v: Any, *, allow_zero: bool = True) -> None:
            if not isinstance(v, int | float) or isinstance(v, bool) or math.isnan(v) or math.isinf(v) or v < 0 or (
                    not allow_zero and v == 0):
                raise bad(name, f"must be a {'non-negative' if allow_zero else 'positive'} number (got {v!r})")

        def needs_map(name: str, m: Any, check) -> None:
            if not isinstance(m, Mapping) or set(m) != set(NEEDS):
                raise bad(name, f"must give a value for each need: {', '.join(NEEDS)}")
            for k, v in m.items():
                check(f"{name}[{k}]", v)

        def real(name: str, v: Any) -> None:
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
                raise bad(name, f"must be a finite number (got {v!r})")

        if not (isinstance(self.start, date) and isinstance(self.end, date) and self.start < self.end):
            raise bad("start/end", "must be dates with start before end")
        if not (self.start <= self.reference_date <= self.end):
            raise bad("reference_date", "must lie between start and end")
        if not (self.start < self.outcome_cutoff <= self.end):
            raise bad("outcome_cutoff", "must lie between start and end")
        if not isinstance(self.oasys_v2_from, date):
            raise bad("oasys_v2_from", "must be a date")
        for name in ("household_size_probs", "ethnic_shares_london", "ethnic_shares_elsewhere"):
            v = getattr(self, name)
            if not v or any(not isinstance(x, int | float) or x < 0 for x in v) or abs(sum(v) - 1) > 1e-6:
                raise bad(name, "must be non-negative probabilities summing to 1")
        if len(self.ethnic_shares_london) != 5 or len(self.ethnic_shares_elsewhere) != 5:
            raise bad("ethnic_shares_*", "must have 5 values (White, Mixed, Asian, Black, Other)")
        for name in ("couple_share", "twin_rate", "junior_rate", "marriage_in_period_rate", "middle_name_share",
                     "la_pilot_share", "move_within_lad", "mags_conviction_rate", "appeal_rate",
                     "crown_conviction_rate", "remand_share", "mags_custody_rate", "crown_custody_rate",
                     "release_point", "recall_rate", "oasys_missing_rate", "oasys_dk_rate", "la_duplicate_rate",
                     "npd_absence_base", "death_after_treatment_exit", "nino_missing_rate",
                     "nino_mistyped_rate", "child_benefit_opt_out", "nhs_number_missing_rate"):
            prob(name, getattr(self, name))
        if self.release_point <= 0:
            raise bad("release_point", "must be above 0")
        for name in ("move_rate", "offence_base_rate", "offence_max_rate", "prior_years", "release_hazard_base",
                     "possession_base_rate", "money_claim_rate", "private_law_rate", "public_law_rate", "fla_rate",
                     "divorce_rate", "la_contact_rate", "npd_exclusion_rate", "npd_cin_rate",
                     "xjs_weak_source_multiplier", "npd_cla_rate", "npd_cp_rate", "ndtms_rate", "death_base_rate",
                     "dwp_jobseeker_rate", "dwp_health_rate", "dwp_pip_rate", "paye_employment_rate",
                     "hes_admission_rate", "ae_attendance_rate", "mh_episode_rate"):
            positive(name, getattr(self, name))
        positive("offence_heterogeneity_shape", self.offence_heterogeneity_shape, allow_zero=False)
        positive("crown_sentence_median_days", self.crown_sentence_median_days, allow_zero=False)
        positive("crown_sentence_sigma", self.crown_sentence_sigma)
        for name in ("move_need_effect", "offence_male_effect", "release_male_effect", "release_prior_effect",
                     "release_age_effect", "possession_income_weight", "possession_accommodation_weight",
                     "possession_substance_weight", "arrears_income_weight", "arrears_accommodation_weight",
                     "arrears_substance_weight", "possession_no_order_arrears", "possession_outright_arrears",
                     "possession_warrant_arrears", "possession_eviction_logit", "possession_eviction_arrears",
                     "possession_hidden_substance_weight", "possession_hidden_mental_health_weight",
                     "money_claim_income_weight", "family_need_weight", "family_da_weight",
                     "family_substance_weight", "family_mental_weight"):
            real(name, getattr(self, name))
        self._validate_possession(bad, prob, positive, real)
        if not isinstance(self.max_moves, int) or not 0 <= self.max_moves <= 20:
            raise bad("max_moves", "must be an integer between 0 and 20")
        if not isinstance(self.release_generations, int) or not 1 <= self.release_generations <= 10:
            raise bad("release_generations", "must be an integer between 1 and 10")
        needs_map("need_prevalence", self.need_prevalence, lambda n, v: prob(n, v, open_upper=True))
        for n, v in self.need_prevalence.items():
            if v <= 0:
                raise bad(f"need_prevalence[{n}]", "must be above 0")
        needs_map("deprivation_effect", self.deprivation_effect, real)
        needs_map("household_icc", self.household_icc, prob)
        needs_map("offence_need_weights", self.offence_need_weights, real)
        needs_map("release_need_weights", self.release_need_weights, real)
        needs_map("oasys_sensitivity", self.oasys_sensitivity, prob)
        needs_map("oasys_specificity", self.oasys_specificity, prob)
        corr = np.asarray(self.need_correlation, dtype=float)
        if corr.shape != (len(NEEDS), len(NEEDS)):
            raise bad("need_correlation", f"must be a {len(NEEDS)}x{len(NEEDS)} matrix in the order {NEEDS}")
        if not np.allclose(corr, corr.T) or not np.allclose(np.diag(corr), 1.0) or np.abs(corr).max() > 1:
            raise bad("need_correlation", "must be symmetric with 1 on the diagonal and values in [-1, 1]")
        if np.linalg.eigvalsh(corr).min() <= 1e-9:
            raise bad("need_correlation", "must be positive definite (a valid correlation matrix)")
        if not self.la_pilot_lads or any(not isinstance(c, str) for c in self.la_pilot_lads):
            raise bad("la_pilot_lads", "must list at least one local authority code (e.g. E09000002)")
        ages = [a for a, _ in self.offence_age_curve]
        if not ages or ages != sorted(ages) or ages[0] < 10:
            raise bad("offence_age_curve", "must list (age, effect) pairs in increasing age, starting at 10 or above")
        if set(self.identifier_quality) != set(SOURCE_GROUPS):
            raise bad("identifier_quality", f"must give a profile for each source group: {', '.join(SOURCE_GROUPS)}")
        keys = set(_profile())
        for g, prof in self.identifier_quality.items():
            if set(prof) != keys:
                missing = sorted(keys - set(prof))
                extra = sorted(set(prof) - keys)
                raise bad(f"identifier_quality[{g}]", f"has missing keys {missing} or unknown keys {extra}")
            for k, v in prof.items():
                prob(f"identifier_quality[{g}][{k}]", v)
        bands = ("high", "medium", "low")
        for name in ("xjs_missed_link_rate", "xjs_false_merge_rate", "xjs_thresholds"):
            m = getattr(self, name)
            if not isinstance(m, Mapping) or set(m) != set(bands):
                raise bad(name, "must give a value for each band: high, medium, low")
            for k, v in m.items():
                prob(f"{name}[{k}]", v)
        miss, merge, thr = self.xjs_missed_link_rate, self.xjs_false_merge_rate, self.xjs_thresholds
        if not miss["high"] >= miss["medium"] >= miss["low"]:
            raise bad("xjs_missed_link_rate", "must not increase from high to medium to low (high is strictest)")
        if not merge["high"] <= merge["medium"] <= merge["low"]:
            raise bad("xjs_false_merge_rate", "must not decrease from high to medium to low (low merges most)")
        if not thr["high"] > thr["medium"] > thr["low"] > 0:
            raise bad("xjs_thresholds", "must decrease strictly from high to medium to low, above 0")
        if miss["high"] * max(1.0, self.xjs_weak_source_multiplier) >= 1:
            raise bad("xjs_weak_source_multiplier", "makes a missed-link rate reach 1")
        if merge["low"] > 0.5:
            raise bad("xjs_false_merge_rate", "must be at most 0.5")
