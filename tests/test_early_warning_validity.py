"""Early-warning validity (issue 22 part 6): the data end allows for the lag between offence and first hearing, history
features look back a fixed window, and OGRS 3 with its published coefficients stands beside the learned models."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.early_warning import actuarial as A
from bold_prevention.early_warning.features import build_dataset, data_end_detail
from bold_prevention.early_warning.usecase import load_use_case, parse_use_case
from bold_prevention.errors import InputError
from helpers_trajectories import Warehouse, ew_world

REOFF = "reoffending_12m_after_release"


def _court(wh: Warehouse, table: str, recorded: str, last: date, lags: list[int], offset: int = 0) -> None:
    rows = [{"main_offence_date": last - timedelta(days=lag + i % 3), recorded: last - timedelta(days=i % 3)}
            for i, lag in enumerate(lags)]
    for i, r in enumerate(rows):
        r["defendant_case_id" if table == "mags_defendant_case" else "case_id"] = i + offset
    wh.extract(table, rows)


def test_data_end_allows_for_the_recording_lag():
    wh = Warehouse()
    lags = list(range(0, 200))  # offence to first hearing: 0 to 199 days
    _court(wh, "mags_defendant_case", "first_hearing_date", date(2024, 12, 31), lags)
    _court(wh, "crown_defendant_case", "receipt_date", date(2024, 12, 20), [5] * 50, offset=1000)
    uc = load_use_case(REOFF)
    end, lag = data_end_detail(wh.con, uc)
    q = int(math.ceil(np.quantile(np.array(lags) + np.arange(200) % 3 * 0, 0.95)))
    assert abs(lag - q) <= 2  # the 95th percentile of the mags lag (the larger of the two sources)
    assert end == min(date(2024, 12, 31) - timedelta(days=lag), date(2024, 12, 20) - timedelta(days=5))
    assert end < date(2024, 12, 31) - timedelta(days=150)  # well before the latest offence


@pytest.mark.parametrize(("change", "message"), [
    ({"lag_quantile": 0.2}, "lag_quantile"),
    ({"sources": [{"table": "mags_defendant_case", "date": "main_offence_date", "recorded": "nope"}]}, "nope"),
    ({"sources": [{"table": "mags_defendant_case", "date": "main_offence_date", "recorded": "age_at_offence"}]},
     "not a date column"),
])
def test_bad_recording_settings_are_refused(change, message):
    data = {"name": "x", "index": {"event_type": "custody_release"},
            "outcome": {"window_months": 12, "sources": [{"table": "mags_defendant_case",
                                                          "date": "main_offence_date"}], **change},
            "features": {"counts": {"prior": {"event_types": ["mags_case"]}}}, "baseline": ["prior"]}
    with pytest.raises(InputError, match=message):
        parse_use_case(data)
    data["features"]["lookback_months"] = -3
    with pytest.raises(InputError):
        parse_use_case(data)


@pytest.fixture(scope="module")
def world():
    return ew_world(600, seed=7)


def test_fixed_lookback_keeps_history_from_growing_with_the_calendar(world):
    shipped = load_use_case(REOFF)
    assert shipped.lookback_months == 60
    # the window with early index events excluded and the Copas rate inside the window
    uc = dataclasses.replace(shipped, early_index_events="exclude", copas_whole_history=False, history_band=None)
    whole = dataclasses.replace(uc, lookback_months=None)
    ds = build_dataset(world.wh.con, uc)
    all_ = build_dataset(world.wh.con, whole)
    a = ds.frame.set_index("index_id")
    b = all_.frame.set_index("index_id")
    assert (a["prior_court_cases"] <= b["prior_court_cases"]).all()
    assert (a["career_years"] <= 5.0 + 1e-9).all()  # the Copas career is inside the window
    late = a["days_since_last_court_case"].dropna()
    assert (late <= 366 * 5).all()
    # index events within the window of the start of the data are left out of training and testing
    start = pd.Timestamp(ds.history_start)
    early = a["t0"] < start + pd.DateOffset(months=60)
    assert (~a.loc[early, "history_complete"]).all() and a.loc[~early, "history_complete"].all()
    assert set(ds.observed["index_id"]) == set(a.index[a["observed"] & a["history_complete"]])
    assert b["history_complete"].all()


def test_ogrs3_published_values():
    # a man of 25 at his first sanction, no earlier career: 1.40256 - 1.1667 + 1.25112 ln(1/10) + 0.12614
    f = pd.DataFrame({"age": [25.0], "sex": ["M"], "prior_court_cases": [1.0], "career_years": [0.0]})
    eta = A.INTERCEPT_ONE_YEAR - 1.1667 + A.COPAS_WEIGHT * math.log(1 / 10) + A.FIRST_SANCTION
    assert A.ogrs3(f)[0] == pytest.approx(1 / (1 + math.exp(-eta)))
    assert A.ogrs3(f, years=2)[0] > A.ogrs3(f)[0]
    assert "Research Summary 7/09" in A.PUBLICATION and A.NOT_FOUND


@settings(max_examples=80, deadline=None)
@given(age=st.floats(18, 90), sex=st.sampled_from(["M", "F", "Unknown"]), n=st.integers(1, 60),
       years=st.floats(0, 40), more=st.integers(1, 20))
def test_ogrs3_rises_with_history_and_falls_with_age(age, sex, n, years, more):
    def p(a, k, y):
        return A.ogrs3(pd.DataFrame({"age": [a], "sex": [sex], "prior_court_cases": [float(k)],
                                     "career_years": [y]}))[0]
    base = p(age, n, years)
    assert 0 < base < 1
    assert p(age, n + more, years) > base  # more sanctions in the same career: higher
    assert p(age, n, years + 5) < base  # the same sanctions over a longer career: lower
    assert p(age + 15, n, years) <= base + 1e-12  # older: no higher


def test_static_scale_applies_only_with_its_inputs():
    f = pd.DataFrame({"age": [30.0], "sex": ["F"], "prior_court_cases": [3.0], "career_years": [2.0]})
    assert set(A.static_scores(f, 12)) == {"ogrs3"}
    assert A.static_scores(f.drop(columns="career_years"), 12) == {}


def test_early_index_events_kept_with_the_years_the_window_sees(world):
    uc = load_use_case(REOFF)
    assert uc.early_index_events == "keep" and "history_years" in uc.feature_kinds()
    ds = build_dataset(world.wh.con, uc)
    f = ds.frame
    assert f["history_complete"].all()  # nothing left out for its short history
    assert set(ds.observed["index_id"]) == set(f.loc[f["observed"], "index_id"])
    seen = (f["t0"] - pd.Timestamp(ds.history_start)).dt.days / 365.25
    assert np.allclose(f["history_years"], np.minimum(seen.clip(lower=0), 5.0))
    assert f["history_years"].between(0, 5.0).all()
    # counts stay inside the window; the Copas rate and age at the first case read the whole history
    whole = build_dataset(world.wh.con, dataclasses.replace(uc, lookback_months=None)).frame.set_index("index_id")
    a = f.set_index("index_id")
    assert (a["prior_court_cases"] <= whole["prior_court_cases"]).all()
    assert np.allclose(a["career_years"], whole["career_years"])
    assert np.allclose(a["copas_cases"], whole["prior_court_cases"])
    has = a["age"].notna() & (a["copas_cases"] > 0)
    assert (a.loc[has, "age_at_first_case"] <= a.loc[has, "age"] + 1e-9).all()


def test_history_and_outcomes_at_the_low_band_find_what_a_stricter_band_missed():
    merged = ew_world(400, seed=11, false_merge_rate=0.3)
    uc = load_use_case(REOFF)
    assert uc.history_band == "low" and uc.outcome.band == "low"
    spine = dataclasses.replace(uc, history_band=None, outcome=dataclasses.replace(uc.outcome, band=None))
    a = build_dataset(merged.wh.con, uc).frame.set_index("index_id")
    b = build_dataset(merged.wh.con, spine).frame.set_index("index_id")
    assert list(a.index) == list(b.index)  # the same index events: only what is counted for them changes
    # the low band's clusters hold the spine's persons (bands nest), so counts and outcomes can only grow
    assert (a["prior_court_cases"] >= b["prior_court_cases"]).all()
    assert (a["outcome"] >= b["outcome"]).all()
    assert (a["prior_court_cases"] > b["prior_court_cases"]).any()  # the merges were found


@pytest.mark.parametrize(("where", "change", "message"), [
    ("features", {"history_band": "lowest"}, "history_band"),
    ("features", {"early_index_events": "drop"}, "early_index_events"),
    ("outcome", {"band": "nope"}, "band"),
])
def test_bad_band_and_window_settings_are_refused(where, change, message):
    data = {"name": "x", "index": {"event_type": "custody_release"},
            "outcome": {"window_months": 12, "sources": [{"table": "mags_defendant_case",
                                                          "date": "main_offence_date"}]},
            "features": {"counts": {"prior": {"event_types": ["mags_case"]}}}, "baseline": ["prior"]}
    data[where].update(change)
    with pytest.raises(InputError, match=message):
        parse_use_case(data)


def test_link_score_is_the_index_person_records_match_score(world):
    uc = dataclasses.replace(load_use_case(REOFF), link_score=True)
    assert "link_score" in uc.feature_kinds()
    f = build_dataset(world.wh.con, uc).frame
    assert np.allclose(f["link_score"], 0.98)  # the world links every record with score 0.98
