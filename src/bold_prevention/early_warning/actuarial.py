"""A static actuarial scale beside the learned models: OGRS 3, scored with its published coefficients (not refitted).

OGRS 3 (the Offender Group Reconviction Scale, version 3) predicts proven reoffending within one and two years from
age, sex and criminal history only:

    logit p(1 year) = 1.40256 + age-sex term + 1.25112 * Copas rate + conviction-status term [+ offence term]

* Publication: P. Howard, B. Francis, K. Soothill and L. Humphreys (2009), *OGRS 3: the revised Offender Group
  Reconviction Scale*, Ministry of Justice Research Summary 7/09. The coefficients below are those of the Ministry of
  Justice's public implementation of that scale (the ``hmpps-arns-risk-actuarial-api`` service, Open Government
  Licence): the intercepts (1.40256 one year, 2.1217 two years), the Copas-rate weight (1.25112), the conviction
  status (0.12614 first sanction, 0.46306 repeat) and the age-sex terms for ages 18 and over.
* Not found / not used: the offence-category weights. They are published per Home Office offence code (for example
  0.2622, -0.1214, 0.0328, -0.6534 for particular codes), but the category table of the research summary could not be
  obtained offline and the data's offence groups do not map onto those codes, so the offence term is left out (taken
  as 0). The female age-sex terms for ages 10-11 differ in sign between two public copies; they never apply here
  (index events are releases from adult custody).

Inputs, from the use case's features at T0: ``age`` and ``sex`` (age-sex term; unknown sex takes the mean of the male
and female terms, unknown age the 30-34 term), ``prior_court_cases`` (court cases before T0, the one that led to this
custody included: one means a first sanction) and ``career_years`` (years since the first court case). The Copas rate
is ``ln(sanctions / (10 + years since the first sanction))``. Where the use case looks back a fixed window, the
history is that window's, not the whole career. The scale is *static*: nothing is learned from the data, so its
calibration shows how far the synthetic population is from the one OGRS 3 was built on; its AUC is the fair
comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NAME = "ogrs3"
TITLE = "OGRS 3 (static, published coefficients)"
PUBLICATION = ("Howard, Francis, Soothill and Humphreys (2009), OGRS 3: the revised Offender Group Reconviction Scale, "
               "Ministry of Justice Research Summary 7/09; coefficients of the Ministry of Justice's public "
               "implementation (hmpps-arns-risk-actuarial-api)")
NOT_FOUND = ("offence-category weights (published per Home Office offence code; the category table was not "
             "available and the data's offence groups do not map onto those codes): offence term left out",)
INTERCEPT_ONE_YEAR = 1.40256
INTERCEPT_TWO_YEAR = 2.1217
COPAS_WEIGHT = 1.25112
FIRST_SANCTION = 0.12614
REPEAT_SANCTION = 0.46306
#: (lowest age, male term, female term) for adults; each band runs to the next band's lowest age.
AGE_SEX = ((18, -0.6251, -0.8975), (21, -1.0515, -1.0285), (25, -1.1667, -1.0528), (30, -1.3260, -1.1291),
           (35, -1.3680, -1.4219), (40, -1.4997, -1.5247), (50, -2.0253, -2.4498))
#: What the scale reads from the features.
NEEDS = ("age", "sex", "prior_court_cases", "career_years")


def applies(columns) -> bool:
    """Whether a dataset with these columns has what OGRS 3 reads."""
    return set(NEEDS) <= set(columns)


def age_sex_term(age: pd.Series, sex: pd.Series) -> np.ndarray:
    """The OGRS 3 age-sex term (ages under 18 take the 18-20 band: index events are adult releases)."""
    a = pd.to_numeric(age, errors="coerce").to_numpy(float)
    a = np.where(np.isnan(a), 30.0, a)
    lows = np.array([b[0] for b in AGE_SEX])
    i = np.clip(np.searchsorted(lows, a, side="right") - 1, 0, len(AGE_SEX) - 1)
    male = np.array([b[1] for b in AGE_SEX])[i]
    female = np.array([b[2] for b in AGE_SEX])[i]
    s = sex.astype(str).to_numpy()
    return np.where(s == "M", male, np.where(s == "F", female, (male + female) / 2))


def copas_rate(sanctions: np.ndarray, years: np.ndarray) -> np.ndarray:
    """``ln(sanctions / (10 + years since the first sanction))`` (at least one sanction: the current one)."""
    n = np.maximum(np.nan_to_num(np.asarray(sanctions, float), nan=1.0), 1.0)
    y = np.clip(np.nan_to_num(np.asarray(years, float), nan=0.0), 0.0, None)
    return np.log(n / (10.0 + y))


def ogrs3(frame: pd.DataFrame, *, years: int = 1) -> np.ndarray:
    """OGRS 3 probabilities of proven reoffending within ``years`` (1 or 2) for each row of ``frame``."""
    # the Copas rate's own count (over the whole history) where the dataset has it, else the windowed count
    n = frame["copas_cases" if "copas_cases" in frame else "prior_court_cases"].to_numpy(float)
    first = np.nan_to_num(n, nan=1.0) <= 1
    eta = ((INTERCEPT_ONE_YEAR if years == 1 else INTERCEPT_TWO_YEAR)
           + age_sex_term(frame["age"], frame["sex"])
           + COPAS_WEIGHT * copas_rate(n, frame["career_years"].to_numpy(float))
           + np.where(first, FIRST_SANCTION, REPEAT_SANCTION))
    return 1.0 / (1.0 + np.exp(-eta))


def static_scores(frame: pd.DataFrame, window_months: int) -> dict[str, np.ndarray]:
    """The static scales that apply to ``frame`` (by name): OGRS 3 at the horizon nearest the outcome window."""
    if not applies(frame.columns):
        return {}
    return {NAME: ogrs3(frame, years=1 if window_months <= 18 else 2)}
