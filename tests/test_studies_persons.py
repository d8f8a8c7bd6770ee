"""Study 1 on the improved XJS person id: the starts and treatment episodes of spine persons that share an improved
id are counted on one study person (property tests against a direct recomputation; no warehouse)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.studies.probation_treatment import as_study_persons

DAY0 = pd.Timestamp("2020-01-01")
MAX_DAYS = 365


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 8))
    persons = [f"p{i}" for i in range(n)]
    group = {p: f"g{draw(st.integers(0, max(n // 2, 1)))}" for p in persons}
    rows = []
    for p in persons:
        if draw(st.booleans()):
            start = draw(st.integers(0, 400))
            censor = draw(st.integers(0, MAX_DAYS))  # days from the start to its censoring (death, end of data)
            rows.append((p, start, censor))
    eps = [(p, draw(st.integers(0, 900))) for p in persons for _ in range(draw(st.integers(0, 2)))]
    return persons, group, rows, eps


def _time_to_event(rows, eps):
    """What ``time_to_event`` gives for each spine person: the first episode on or after the start, observed when
    it is no later than the censoring time."""
    out = []
    for p, start, censor in rows:
        waits = [d - start for q, d in eps if q == p and d >= start]
        w = min(waits) if waits else None
        observed = w is not None and w <= censor
        out.append({"person_id": p, "start_date": DAY0 + pd.Timedelta(days=start), "group": "x",
                    "duration": max(float(w if observed else censor), 0.5), "observed": observed,
                    "censor": censor})
    return pd.DataFrame(out, columns=["person_id", "start_date", "group", "duration", "observed", "censor"])


@settings(max_examples=40, deadline=None)
@given(worlds())
def test_starts_on_study_persons_match_a_direct_recomputation(w):
    persons, group, rows, eps = w
    d = _time_to_event(rows, eps)
    e = pd.DataFrame({"person_id": [p for p, _ in eps],
                      "tx_start": [DAY0 + pd.Timedelta(days=x) for _, x in eps]}, columns=["person_id", "tx_start"])
    m = pd.DataFrame({"person_id": persons, "study_person": [group[p] for p in persons]})
    got, got_eps = as_study_persons(d.drop(columns="censor"), e, m, MAX_DAYS)
    # one start per study person: its first (ties to the smaller spine id)
    assert got["study_person"].is_unique
    assert set(got["study_person"]) == {group[p] for p, _, _ in rows}
    assert set(got_eps["person_id"]) <= set(group.values())
    for _, r in got.iterrows():
        mine = sorted((s, p, c) for p, s, c in rows if group[p] == r["study_person"])
        start, first_p, censor = mine[0]
        assert r["person_id"] == first_p and r["start_date"] == DAY0 + pd.Timedelta(days=start)
        waits = [x - start for q, x in eps if group[q] == r["study_person"] and x >= start]
        w_ = min(waits) if waits else None
        own = d.set_index("person_id").loc[first_p]
        # observed when the group's first episode falls within the start's own censoring time
        expect = bool(own["observed"]) or (w_ is not None and w_ <= censor)
        assert bool(r["observed"]) == expect
        if expect:
            assert math.isclose(r["duration"], max(float(w_), 0.5))
        else:
            assert math.isclose(r["duration"], own["duration"])


@settings(max_examples=40, deadline=None)
@given(worlds())
def test_without_improved_ids_nothing_changes(w):
    persons, _group, rows, eps = w
    d = _time_to_event(rows, eps).drop(columns="censor")
    e = pd.DataFrame({"person_id": [p for p, _ in eps], "tx_start": [DAY0 + pd.Timedelta(days=x) for _, x in eps]},
                     columns=["person_id", "tx_start"])
    for m in (None, pd.DataFrame({"person_id": persons, "study_person": persons})):
        got, got_eps = as_study_persons(d, e, m, MAX_DAYS)
        pd.testing.assert_frame_equal(got.drop(columns="study_person"), d)
        assert np.array_equal(got["study_person"].to_numpy(), d["person_id"].to_numpy())
        assert sorted(got_eps["person_id"]) == sorted(e["person_id"])
