"""Survival curves that cannot be inverted: grouped steps with enough events, survival recomputed from the published
counts, an attacker who tries to recover event counts from the table, and ACRO's own verdict beside ours."""

from __future__ import annotations

import csv
import json
import math
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.outputs import (
    SUPPRESSED,
    LogEntry,
    get_rules,
    results_document,
    survival_table,
    write_results,
)
from bold_prevention.outputs.survival import acro_survival_verdict, product_limit

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::pandas.errors.SettingWithCopyWarning")


def _population(seed: int = 5, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"days": np.ceil(rng.exponential(200, n)), "event": rng.random(n) < 0.6,
                       "group": rng.choice(["A", "B"], n)})
    small = pd.DataFrame({"days": [5, 9, 20, 40, 41, 60, 70, 90], "event": [1] * 8, "group": ["C"] * 8})
    return pd.concat([df, small], ignore_index=True)


def _steps(curve: pd.DataFrame) -> pd.DataFrame:
    """The published steps of one curve (the time-0 row dropped)."""
    return curve[[float(t) > 0 for t in curve.index]]


def _truth(sub: pd.DataFrame, prev: float, t: float, first: bool) -> dict:
    inside = (sub.days <= t) & ((sub.days > prev) | first)
    return {"at_risk_start": int((sub.days > prev).sum()) if not first else len(sub),
            "at_risk_at": int((sub.days >= t).sum()), "events": int(sub.event[inside].sum()),
            "censored": int((~sub.event.astype(bool))[inside].sum())}


def _assert_curve_rules(out, df: pd.DataFrame, g: str, rules) -> None:
    sub = df[df.group == g]
    curve = out.data.xs(g, level=0)
    syms = out.symbols.xs(g, level=0)
    times = [float(t) for t in curve.index]
    assert times[0] == 0 and curve.iloc[0]["Survival"] == 1
    assert syms.iloc[0]["Events"] == syms.iloc[0]["Censored"] == "[z]"
    steps = _steps(curve)
    for k, (prev, t) in enumerate(zip(times, times[1:], strict=False)):
        tr = _truth(sub, prev, t, first=k == 0)
        assert tr["at_risk_at"] >= rules.survival_min_at_risk, f"time {t} has {tr['at_risk_at']} at risk"
        assert tr["events"] >= rules.survival_events, f"step at {t} holds only {tr['events']} events"
        row = curve.loc[t]
        assert row["At risk"] == rules.round_count(tr["at_risk_start"])
        assert row["Events"] == rules.round_count(tr["events"])
        if rules.is_low(tr["censored"]):
            assert syms.loc[t, "Censored"] == SUPPRESSED
        else:
            assert row["Censored"] == rules.round_count(tr["censored"])
    # the survival column is the product-limit of the published counts, nothing more
    s, lo, hi = product_limit(steps["At risk"], steps["Events"])
    np.testing.assert_allclose(steps["Survival"], s)
    np.testing.assert_allclose(steps["Lower 95% CI"], lo)
    np.testing.assert_allclose(steps["Upper 95% CI"], hi)


def test_steps_hold_enough_events_and_survival_comes_from_the_published_counts():
    from lifelines import KaplanMeierFitter

    df = _population()
    rules = get_rules()
    out = survival_table(df, "days", "event", group="group", title="Time to event")
    assert out.mask.xs("C", level=0).to_numpy().all()  # 8 people: the whole curve is suppressed
    assert out.status == "review"
    for g in ["A", "B"]:
        _assert_curve_rules(out, df, g, rules)
        # still close to the exact Kaplan-Meier curve: within a few points, and inside its own interval
        sub = df[df.group == g]
        km = KaplanMeierFitter().fit(sub.days, sub.event)
        steps = _steps(out.data.xs(g, level=0))
        for t, row in steps.iterrows():
            exact = float(km.survival_function_at_times(float(t)).iloc[0])
            assert abs(row["Survival"] - exact) < 0.05
            assert row["Lower 95% CI"] - 0.02 <= exact <= row["Upper 95% CI"] + 0.02
    assert any(e.action == "truncate" for e in out.log)
    # on a monthly grid: steps end only at grid times, under the same rules
    grid = list(range(30, 1500, 30))
    monthly = survival_table(df, "days", "event", group="group", title="Monthly", times=grid)
    for g in ["A", "B"]:
        assert {float(t) for t in monthly.data.xs(g, level=0).index} - {0.0} <= set(map(float, grid))
        _assert_curve_rules(monthly, df, g, rules)


def test_a_curve_with_too_few_events_is_suppressed_whole():
    df = pd.DataFrame({"days": np.arange(1, 41, dtype=float), "event": [1] * 7 + [0] * 33})
    out = survival_table(df, "days", "event", title="Few events")
    assert out.mask.to_numpy().all() and not out.publishable
    assert any(e.rule == "survival-min-events" and e.action == "suppress" for e in out.log)


@st.composite
def survival_data(draw):
    n = draw(st.integers(5, 80))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([5.0, 30.0, 200.0]))
    p_event = draw(st.floats(0.2, 1.0))
    groups = draw(st.sampled_from([["A"], ["A", "B"]]))
    return pd.DataFrame({"days": np.ceil(rng.exponential(scale, n)), "event": rng.random(n) < p_event,
                         "group": rng.choice(groups, n)})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(survival_data(), st.sampled_from(["default", "opensafely"]))
def test_every_published_curve_keeps_the_rules(df, profile):
    rules = get_rules(profile)
    out = survival_table(df, "days", "event", group="group", title="Random", rules=rules, acro_check=False)
    for g in out.data.index.get_level_values(0).unique():
        if out.mask.xs(g, level=0).to_numpy().all():
            assert (df.group == g).sum() < rules.survival_min_at_risk or any(
                e.rule == "survival-min-events" and e.action == "suppress" and e.row == g for e in out.log)
            continue
        _assert_curve_rules(out, df, g, rules)


# --- the attacker ------------------------------------------------------------------------------------------------------

def _window(published: float, base: int) -> range:
    """The integers that round (halves up) to a published count."""
    lo = math.ceil(published - base / 2)
    hi = math.ceil(published + base / 2) - 1
    return range(max(lo, 0), hi + 1)


def attack_event_counts(curve: pd.DataFrame, base: int, dec: int = 3) -> list[set[int]]:
    """From the published table alone: for each step, the event counts d consistent with the published (rounded)
    numbers at risk and events and with S_k / S_{k-1} = 1 - d / n, S rounded to ``dec`` decimals."""
    half = 0.5 * 10 ** -dec
    rows = [(float(t), r) for t, r in curve.iterrows()]
    found: list[set[int]] = []
    prev_s = 1.0
    prev_exact = True
    for _t, r in rows[1:]:
        s = round(float(r["Survival"]), dec)
        s_lo, s_hi = s - half, s + half
        p_lo, p_hi = (prev_s, prev_s) if prev_exact else (prev_s - half, prev_s + half)
        ratio_lo, ratio_hi = s_lo / p_hi, s_hi / max(p_lo, 1e-12)
        ns = _window(r["At risk"], base)
        ds = _window(r["Events"], base) if not pd.isna(r["Events"]) else range(0, ns.stop)
        found.append({d for d in ds if any(d <= n and ratio_lo - 1e-12 <= 1 - d / n <= ratio_hi + 1e-12
                                           for n in ns if n > 0)})
        prev_s, prev_exact = s, False
    return found


def _km(durations, events) -> pd.DataFrame:
    """The exact Kaplan-Meier curve at each distinct time (lifelines, the project's one estimator)."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(durations, events)
    et = kmf.event_table
    et = et[et.removed > 0]
    return pd.DataFrame({"time": et.index.to_numpy(float), "n": et.at_risk.to_numpy(float),
                         "d": et.observed.to_numpy(float),
                         "s": kmf.survival_function_.loc[et.index].iloc[:, 0].to_numpy(float)})


def _naive_table(sub: pd.DataFrame, base: int) -> pd.DataFrame:
    """What used to be published: the exact Kaplan-Meier estimate to 3 decimals beside at-risk and event counts
    rounded to 5, at every event time while 10 are at risk."""
    km = _km(sub.days.to_numpy(float), sub.event.to_numpy(int))
    km = km[(km.d > 0) & (km.n >= 10)]
    rnd = get_rules().round_count
    rows = [(0.0, rnd(len(sub)), 0, 1.0)] + [(t, rnd(n), rnd(d), round(s, 3))
                                            for t, n, d, s in zip(km.time, km.n, km.d, km.s, strict=True)]
    return pd.DataFrame(rows, columns=["t", "At risk", "Events", "Survival"]).set_index("t"), km


def test_the_attack_recovers_small_event_counts_from_an_exact_curve():
    """The attacker is real: on the old kind of table it pins event counts of 1 to 9 exactly."""
    df = _population()
    sub = df[df.group == "A"]
    table, km = _naive_table(sub, 5)
    found = attack_event_counts(table, 5)
    true = km.d.astype(int).tolist()
    pinned_small = [d for d, f in zip(true, found, strict=True) if d < 10 and d in f and max(f) - min(f) <= 4
                    and max(f) < 10]
    exact = [d for d, f in zip(true, found, strict=True) if f == {d}]
    assert len(pinned_small) > len(true) // 2
    assert len(exact) > len(true) // 2


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(40, 400), st.sampled_from([None, 30]))
def test_the_attack_learns_nothing_from_a_published_curve(seed, n, every):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"days": np.ceil(rng.exponential(150, n)), "event": rng.random(n) < 0.7, "group": "A"})
    rules = get_rules()
    times = None if every is None else list(range(every, 3000, every))
    out = survival_table(df, "days", "event", group="group", title="Attacked", times=times, acro_check=False)
    if not out.publishable:
        return
    curve = out.data.xs("A", level=0)
    found = attack_event_counts(curve, rules.round_base)
    times_ = [float(t) for t in curve.index]
    for k, (f, (prev, t)) in enumerate(zip(found, zip(times_, times_[1:], strict=False), strict=True)):
        true = _truth(df, prev, t, first=k == 0)["events"]
        assert true >= rules.threshold  # no step publishes fewer events than the threshold
        # no step is shown to hold fewer events than the threshold, pinned to a width of 4 or less
        assert not (f and max(f) < rules.threshold and max(f) - min(f) <= 4)
        # and the survival column adds nothing: the published events themselves are always consistent with it
        assert int(curve.loc[t, "Events"]) in f
    _assert_curve_rules(out, df, "A", rules)


# --- ACRO's own verdict ----------------------------------------------------------------------------------------------

acro = pytest.importorskip("acro")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(survival_data())
def test_results_json_status_agrees_with_acro_on_random_data(tmp_path_factory, df):
    out = survival_table(df, "days", "event", group="group", title="Random curves")
    entry = results_document([out])["results"][out.name]
    assert entry["acro_verdict"] == entry["status"] == out.status
    # ACRO run directly on each group's microdata says the same
    for _g, sub in df.groupby("group"):
        verdict, _ = acro_survival_verdict(sub.days.to_numpy(), sub.event.to_numpy(), get_rules())
        assert verdict == entry["status"]


def test_acro_verdict_is_recorded_in_results_json_and_the_check_log(tmp_path):
    df = _population()
    out = survival_table(df, "days", "event", group="group", title="Time to event")
    folder = write_results([out], tmp_path / "checking")
    doc = json.loads((folder / "results.json").read_text())
    entry = doc["results"][out.name]
    assert entry["status"] == "review" and entry["acro_verdict"] == "review"
    assert entry["fair"]["check_status"][LogEntry("acro-survival-check", "", "").check] == "review"
    with open(folder / "check_log.csv", newline="") as fh:
        lines = [r for r in csv.DictReader(fh) if r["rule"] == "acro-survival-check"]
    assert {r["row"] for r in lines} == {"A", "B", "C", ""}
    assert all("verdict: review" in r["reason"] for r in lines)
    records = acro.record.load_records(str(folder))  # ACRO still reads the folder
    assert out.name in records.get_keys()


def test_acro_unavailable_is_recorded_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "acro", None)  # importing acro now fails
    df = _population()
    out = survival_table(df, "days", "event", group="group", title="No ACRO")
    entry = results_document([out])["results"][out.name]
    assert entry["acro_verdict"] == "unavailable"
    assert entry["status"] == "review"
