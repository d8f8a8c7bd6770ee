"""Pathways (sequences, transitions, flows, funnels) and time-to-event curves on a hand-made timeline."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from bold_prevention.errors import InputError
from bold_prevention.trajectories import pathways as P
from bold_prevention.trajectories import survival as S
from helpers_trajectories import Warehouse

D = date
DATASET = {"mags_case": "mags", "crown_case": "crown", "custody_start": "prison", "custody_release": "prison",
           "probation_start": "probation", "civil_claim": "civil", "civil_order": "civil", "civil_warrant": "civil",
           "civil_repossession": "civil"}

EVENTS = [
    ("P1", D(2020, 1, 1), "mags_case"), ("P1", D(2020, 2, 1), "mags_case"), ("P1", D(2020, 3, 1), "crown_case"),
    ("P1", D(2020, 4, 1), "custody_start"), ("P1", D(2020, 10, 1), "probation_start"),
    ("P1", D(2020, 10, 1), "custody_release"), ("P1", D(2021, 6, 1), "mags_case"),
    ("P2", D(2020, 1, 5), "mags_case"), ("P2", D(2020, 2, 5), "crown_case"), ("P2", D(2020, 3, 5), "custody_start"),
    ("P2", D(2021, 3, 5), "custody_release"),
    ("P3", D(2019, 1, 1), "civil_claim"), ("P3", D(2019, 2, 1), "civil_order"), ("P3", D(2019, 4, 1), "civil_warrant"),
    ("P3", D(2019, 5, 1), "civil_repossession"),
    ("P4", D(2019, 1, 1), "civil_claim"), ("P4", D(2019, 3, 1), "civil_order"),
    ("P5", D(2019, 6, 1), "civil_claim"), ("P5", D(2019, 5, 1), "civil_warrant"),
    ("P6", D(2020, 1, 1), "mags_case"),
]


@pytest.fixture(scope="module")
def con():
    w = Warehouse()
    rows = pd.DataFrame([{"person_id": p, "event_date": d, "dataset": DATASET[t], "source_table": "x",
                          "record_id": f"r{k:02d}", "event_type": t, "description": t, "band_joined": "high"}
                         for k, (p, d, t) in enumerate(EVENTS)])
    w.con.register("_t", rows)
    w.con.execute("create table spine.timeline as select person_id, cast(event_date as date) as event_date, dataset, "
                  "source_table, record_id, event_type, description, band_joined from _t")
    w.con.execute("create table spine.person as select * from (values ('P1','M'),('P2','F'),('P3','F'),('P4','M'),"
                  "('P5','F'),('P6','M')) t(person_id, sex)")
    w.con.execute("create table results.leavers as select * from (values ('P1'), ('P2')) t(person_id)")
    return w.con


def test_frequent_sequences_collapse_repeats_within_the_window(con):
    df = P.frequent_sequences(con, window_days=365)
    got = dict(zip(df["sequence"], df["persons"], strict=True))
    assert got == {"civil": 3, "mags > crown > prison > probation": 1, "mags > crown > prison": 1, "mags": 1}
    assert df["sequence"].iloc[0] == "civil"
    assert df["share"].sum() == pytest.approx(1.0)
    short = P.frequent_sequences(con, window_days=365, max_length=2)
    assert dict(zip(short["sequence"], short["persons"], strict=True))["mags > crown"] == 2
    assert short["length"].max() == 2


def test_sequences_from_an_anchor_event(con):
    df = P.frequent_sequences(con, level="event_type", start_event_types=["civil_claim"], window_days=365)
    got = dict(zip(df["sequence"], df["persons"], strict=True))
    # P5's warrant came before the claim that anchors the window
    assert got == {"civil_claim > civil_order > civil_warrant > civil_repossession": 1,
                   "civil_claim > civil_order": 1, "civil_claim": 1}


def test_transition_matrix_counts_rates_and_days(con):
    m = P.transition_matrix(con)
    got = {(r.from_state, r.to_state): r.transitions for r in m.itertuples()}
    assert got == {("mags", "mags"): 1, ("mags", "crown"): 2, ("crown", "prison"): 2, ("prison", "prison"): 2,
                   ("prison", "probation"): 1, ("probation", "mags"): 1, ("civil", "civil"): 5}
    rates = m.groupby("from_state")["rate"].sum()
    assert np.allclose(rates.to_numpy(), 1.0)
    row = m.set_index(["from_state", "to_state"])
    assert row.loc[("mags", "crown"), "rate"] == pytest.approx(2 / 3)
    assert row.loc[("mags", "crown"), "median_days"] == 30
    assert row.loc[("civil", "civil"), "median_days"] == 31
    assert row.loc[("prison", "probation"), "median_days"] == 0
    wide = P.transition_rates(m)
    assert wide.loc["prison", "probation"] == pytest.approx(1 / 3)
    collapsed = P.transition_matrix(con, collapse_repeats=True)
    assert not (collapsed["from_state"] == collapsed["to_state"]).any()


def test_flows_between_steps(con):
    f = P.flows(con, steps=2, window_days=365)
    got = {(r.step, r.from_state, r.to_state): r.persons for r in f.itertuples()}
    assert got == {(1, "mags", "crown"): 2, (2, "crown", "prison"): 2}


def test_possession_funnel(con):
    f = P.funnel(con, "possession")
    assert f["persons"].tolist() == [3, 2, 1, 1]
    assert f["conversion"].tolist()[1:] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert f["conversion_from_first"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 1 / 3])
    assert f["median_days"].tolist()[1:] == [45, 59, 30]
    assert f["median_days_from_first"].iloc[3] == 120


def test_justice_funnel_and_gap_limit(con):
    f = P.funnel(con, "justice")
    assert f["persons"].tolist() == [3, 2, 2, 1]
    assert f["median_days"].iloc[1] == pytest.approx(45.5)
    g = P.funnel(con, "justice", max_gap_days=40)
    assert g["persons"].tolist() == [3, 1, 1, 0]


def test_bad_requests_say_what_to_do(con):
    with pytest.raises(InputError, match="unknown funnel"):
        P.funnel(con, "nope")
    with pytest.raises(InputError, match="unknown event type"):
        P.frequent_sequences(con, start_event_types=["arrest"])
    with pytest.raises(InputError, match="level"):
        P.transition_matrix(con, level="month")
    with pytest.raises(InputError, match="spine.timeline"):
        P.frequent_sequences(Warehouse().con)


def test_durations_censoring_and_kaplan_meier(con):
    d = S.durations(con, start=["custody_release"], event=["mags_case", "crown_case"])
    got = {r.person_id: (r.duration, r.observed) for r in d.itertuples()}
    # P1 back in court 243 days after release; P2 followed to the end of the data (2021-06-01): 88 days
    assert got == {"P1": (243.0, True), "P2": (88.0, False)}
    km = S.kaplan_meier(d, times=(0, 90, 365))
    assert km["survival"].tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert km["at_risk"].tolist() == [2, 1, 0]
    assert km["events"].tolist() == [0, 0, 1]
    assert km["censored"].tolist() == [0, 1, 1]
    capped = S.durations(con, start=["custody_release"], event=["mags_case"], max_days=200)
    assert capped.set_index("person_id").loc["P1", "observed"] == False  # noqa: E712
    assert capped["duration"].max() == 200


def test_km_matches_lifelines_by_group(con):
    d = S.durations(con, start=["civil_claim"], event=["civil_order"], group_by="sex")
    assert set(d["group"]) == {"F", "M"}
    km = S.kaplan_meier(d, times=(30, 60))
    for g, sub in d.groupby("group"):
        ref = KaplanMeierFitter().fit(sub["duration"], sub["observed"]).survival_function_at_times([30, 60])
        assert km[km["group"] == g]["survival"].to_numpy() == pytest.approx(ref.to_numpy())


def test_cohort_and_named_analyses(con):
    d = S.durations(con, start=["mags_case"], event=["custody_start"], cohort="results.leavers")
    assert set(d["person_id"]) == {"P1", "P2"} and set(d["group"]) == {"leavers"}
    a, km, med = S.analysis(con, "possession_after_claim")
    assert a.start == ("civil_claim",)
    assert med.loc[0, "persons"] == 3 and med.loc[0, "events"] == 1
    with pytest.raises(InputError, match="unknown time-to-event"):
        S.analysis(con, "nope")
    with pytest.raises(InputError, match="cohort table"):
        S.durations(con, start=["mags_case"], event=["crown_case"], cohort="results.none")
