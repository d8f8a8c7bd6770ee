"""Civil possession claims in the synthetic population: the funnel narrows like the MoJ statistics, the household's
needs show in what the court file records (claim type, arrears), and the true chance of repossession rests mostly
on those recorded facts, with a modest hidden part."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from bold_prevention.synth import SynthParams
from bold_prevention.synth.civil import E_NONE, civil_frames, possession_claims, stage_probabilities
from bold_prevention.synth.common import NA, day, rng_for
from bold_prevention.synth.population import build_population

PERSONS = 100_000
POSSESSION = ("PSL", "PPL", "PAC", "PMO")


def _frames(persons: int, seed: int, params: SynthParams | None = None):
    P = params or SynthParams()
    pop = build_population(persons, seed, P)
    frames, truth = civil_frames(pop, P, seed)
    c, e, p = frames["civil_cases"].columns, frames["civil_events"].columns, frames["civil_parties"]
    cases = pd.DataFrame({"case": c["case_number_hash"].to_numpy(zero_copy_only=False),
                          "claim_type": c["claim_type"].to_numpy(zero_copy_only=False),
                          "issue": np.asarray(c["issue_date"]), "arrears": np.asarray(c["arrears_amount"])})
    events = pd.DataFrame({"case": e["case_number_hash"].to_numpy(zero_copy_only=False),
                           "event_type": e["event_type"].to_numpy(zero_copy_only=False),
                           "day": np.asarray(e["event_date"])})
    first = events.pivot_table(index="case", columns="event_type", values="day", aggfunc="min")
    cases = cases.join(first, on="case")
    cases = cases[cases["claim_type"].isin(POSSESSION)].copy()
    cases["order"] = cases[["ORDER_OUTRIGHT", "ORDER_SUSPENDED"]].notna().any(axis=1)
    cases["outright"] = cases["ORDER_OUTRIGHT"].notna()
    cases["warrant"] = cases["WARRANT"].notna()
    cases["repossession"] = cases["REPOSSESSION"].notna()
    # the defendant who is the head (the first person party of the case) and their latent needs
    party_case = p.columns["case_number_hash"].to_numpy(zero_copy_only=False)
    person_party = ~p.non_person
    head = pd.DataFrame({"case": party_case[person_party], "person": p.person[person_party]}).drop_duplicates("case")
    cases = cases.merge(head, on="case")
    for need in ("low_income", "accommodation"):
        cases[f"s_{need}"] = pop.s(need)[cases["person"].to_numpy()]
        cases[f"need_{need}"] = pop.has(need)[cases["person"].to_numpy()]
    truth = truth.assign(case=party_case[truth["party"].to_numpy()]).merge(
        cases[["case", "claim_type", "arrears"]], on="case")
    return pop, cases, truth


@pytest.fixture(scope="module")
def civil():
    return _frames(PERSONS, 21)


def test_the_funnel_narrows_at_each_stage_as_in_the_moj_statistics(civil):
    _, cases, _ = civil
    # claims issued early enough that their later stages lie inside the data
    early = cases[cases["issue"] <= day(date(2021, 12, 31))]
    assert len(early) > 2000
    order, warrant, repo = early["order"].mean(), early["warrant"].mean(), early["repossession"].mean()
    assert 0.60 <= order <= 0.72
    assert 0.30 <= warrant <= 0.42
    assert 0.10 <= repo <= 0.16
    assert order > warrant > repo
    # a warrant only after an order; a repossession only after a warrant
    assert not (early["warrant"] & ~early["order"]).any()
    assert not (early["repossession"] & ~early["warrant"]).any()


def test_arrears_rise_with_low_income_and_accommodation_need(civil):
    _, cases, _ = civil
    rent = cases[cases["claim_type"].isin(("PSL", "PPL", "PMO"))].copy()
    assert rent["arrears"].notna().all() and (rent["arrears"] > 0).all()
    assert cases.loc[cases["claim_type"] == "PAC", "arrears"].isna().all()  # the accelerated procedure claims none
    rent["rel"] = np.log(rent["arrears"]) - rent.groupby("claim_type")["arrears"].transform(
        lambda a: np.log(a).mean())
    need = rent["s_low_income"] + rent["s_accommodation"]
    assert np.corrcoef(rent["rel"], need)[0, 1] > 0.3
    flagged = rent["need_low_income"] | rent["need_accommodation"]
    assert rent.loc[flagged, "rel"].mean() > rent.loc[~flagged, "rel"].mean() + 0.2


def test_higher_arrears_bring_outright_orders_and_repossessions(civil):
    _, cases, _ = civil
    social = cases[(cases["claim_type"] == "PSL") & cases["order"]]
    hi = social["arrears"] >= social["arrears"].median()
    assert social.loc[hi, "outright"].mean() > social.loc[~hi, "outright"].mean() + 0.1
    psl = cases[cases["claim_type"] == "PSL"]
    hi = psl["arrears"] >= psl["arrears"].median()
    assert psl.loc[hi, "repossession"].mean() > 1.5 * psl.loc[~hi, "repossession"].mean()


def test_claim_type_follows_tenure(civil):
    _, cases, _ = civil
    share = cases.groupby("need_low_income")["claim_type"].value_counts(normalize=True).unstack()
    assert share.loc[True, "PSL"] > share.loc[False, "PSL"]
    assert share.loc[True, "PMO"] < share.loc[False, "PMO"]
    overall = cases["claim_type"].value_counts(normalize=True)
    assert 0.3 < overall["PSL"] < 0.5 and 0.08 < overall["PMO"] < 0.25


def _expected_auc(p_true: np.ndarray, score: np.ndarray) -> float:
    """AUC in expectation over outcomes drawn from ``p_true`` (free of outcome sampling noise)."""
    y = np.r_[np.ones(len(p_true)), np.zeros(len(p_true))]
    return float(roc_auc_score(y, np.r_[score, score], sample_weight=np.r_[p_true, 1 - p_true]))


def test_the_true_probability_rests_mostly_on_the_claim(civil):
    _, _, truth = civil
    assert len(truth) > 2000
    p = truth["probability"].to_numpy()
    # the best score from the claim alone: the mean true probability per claim type and twentieth of arrears
    band = truth.groupby("claim_type")["arrears"].transform(
        lambda a: pd.qcut(a, 20, labels=False, duplicates="drop") if a.notna().any() else 0)
    cell = truth["claim_type"] + ":" + band.fillna(-1).astype(int).astype(str)
    from_claim = truth.groupby(cell)["probability"].transform("mean").to_numpy()
    oracle, claim = _expected_auc(p, p), _expected_auc(p, from_claim)
    assert oracle > 0.7
    assert oracle - claim < 0.03
    # and yet not all of it: a hidden part remains
    assert np.std(p - from_claim) > 0.005


def test_the_truth_is_calibrated_against_the_realised_outcomes(civil):
    _, _, truth = civil
    p, y = truth["probability"].to_numpy(), truth["outcome"].to_numpy(float)
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(y.mean() - p.mean()) < 4 * se
    assert 0.05 < p.mean() < 0.12


@settings(max_examples=40, deadline=None)
@given(ctype=st.lists(st.integers(0, 3), min_size=1, max_size=20),
       z=st.floats(-3, 3), dz=st.floats(0.01, 2), hidden=st.floats(-2, 2), dh=st.floats(0.01, 2))
def test_repossession_risk_rises_with_arrears_and_hidden_need(ctype, z, dz, hidden, dh):
    P = SynthParams()
    t = np.array(ctype)
    n = len(t)
    base = stage_probabilities(P, t, np.full(n, z), np.full(n, hidden))["repo12"]
    more_arrears = stage_probabilities(P, t, np.full(n, z + dz), np.full(n, hidden))["repo12"]
    more_hidden = stage_probabilities(P, t, np.full(n, z), np.full(n, hidden + dh))["repo12"]
    assert ((base > 0) & (base < 1)).all()
    assert (more_arrears > base).all() and (more_hidden > base).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_claim_runs_claim_order_warrant_repossession_in_order(seed):
    P = SynthParams()
    pop = build_population(3000, seed % 1000, P)
    rng = rng_for(seed, "test-civil")
    n = 400
    defendant = pop.hh_first[rng.integers(0, len(pop.hh_first), n)]
    issue = rng.integers(day(date(2012, 1, 1)), day(date(2023, 1, 1)), n)
    c = possession_claims(rng, pop, P, defendant, issue.astype(np.int32))
    order, warrant, repo = c["order_d"].to_numpy(), c["warrant_d"].to_numpy(), c["repo_d"].to_numpy()
    has_w, has_r = warrant != NA, repo != NA
    assert (order > c["issue"]).all()
    assert (warrant[has_w] > order[has_w]).all() and (repo[has_r] > warrant[has_r]).all()
    assert (has_w[has_r]).all()  # a repossession needs a warrant
    no_order = c["order_t"].to_numpy() == E_NONE
    assert not has_w[no_order].any()  # and a warrant needs an order
    within = has_r & (repo - c["issue"].to_numpy() <= 365)
    assert (c["repo12"].to_numpy() == within).all()
    assert ((c["p"] > 0) & (c["p"] < 1)).all()
