"""Early-warning metrics: scikit-learn for discrimination, statsmodels for calibration, and intervals that are
finite or say why the measure is not estimable (property tests over random scores and outcomes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from bold_prevention.early_warning import metrics as M

PROBS = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.5, 1e-12, 1 - 1e-12]))


@st.composite
def scored(draw, min_size=1, max_size=60):
    n = draw(st.integers(min_size, max_size))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    kind = draw(st.sampled_from(["random", "separated", "constant", "ties"]))
    if kind == "random":
        p = np.array(draw(st.lists(PROBS, min_size=n, max_size=n)), dtype=float)
    elif kind == "separated":  # the outcome decides the score: complete separation
        lo, hi = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
        p = np.where(y, hi, lo)
    elif kind == "constant":
        p = np.full(n, draw(PROBS))
    else:
        p = np.array(draw(st.lists(st.sampled_from([0.1, 0.2, 0.3]), min_size=n, max_size=n)), dtype=float)
    return y, p


def _sane(e: M.Estimate) -> None:
    for v in (e.value, e.lower, e.upper):
        assert not math.isinf(v)
    if e.note:  # not estimable: no number at all, and a reason
        assert math.isnan(e.value) and math.isnan(e.lower) and math.isnan(e.upper)
        assert str(e).startswith("not estimable (")
        return
    if not math.isnan(e.value) and not math.isnan(e.lower):
        assert e.lower <= e.value <= e.upper
    s = str(e)
    assert "e+" not in s and "inf" not in s


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scored())
def test_every_interval_is_finite_or_not_estimable(data):
    y, p = data
    est = M.with_ci(y, p, n_boot=30, seed=1)
    assert set(est) == set(M.METRICS)
    for e in est.values():
        _sane(e)
    for m in ("calibration_intercept", "calibration_slope"):
        e = est[m]
        if not e.note:  # a fitted calibration coefficient is a plausible number on the logit scale
            assert abs(e.value) <= M.MAX_COEFFICIENT and e.upper - e.lower <= 2 * M.Z95 * M.MAX_STANDARD_ERROR
    if 0 < y.sum() < len(y):
        assert 0 <= est["auc"].value <= 1
    else:
        assert est["auc"].note and est["calibration_slope"].note == M.NOT_ESTIMABLE_ONE_CLASS


@settings(max_examples=60, deadline=None)
@given(st.integers(4, 80), st.floats(0.0, 1.0), st.integers(0, 2**31))
def test_separated_outcomes_are_reported_as_separation(n, cut, seed):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    y = p > cut
    if y.all() or not y.any():
        y[0], y[-1] = True, False
        p[0], p[-1] = 0.99, 0.01
        y = p > cut if 0 < (p > cut).sum() < n else y
    e = M.calibration_slope_estimate(y, p)
    if M.separation(y, p):
        assert e.note in (M.NOT_ESTIMABLE_SEPARATION, M.NOT_ESTIMABLE_ONE_CLASS, M.NOT_ESTIMABLE_CONSTANT)
        assert "not estimable" in str(e)
    _sane(e)


def test_near_separation_is_not_an_absurd_interval():
    # a handful of rows that a very steep slope nearly separates: the kind of data that once gave
    # "-2.926 to 198720336817717.344"
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1], bool)
    p = np.array([0.01, 0.02, 0.03, 0.5, 0.51, 0.97, 0.98, 0.99])
    e = M.calibration_slope_estimate(y, p)
    _sane(e)
    assert e.note or (e.upper - e.lower) < 2 * M.Z95 * M.MAX_STANDARD_ERROR


def test_calibration_of_a_calibrated_score():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.9, 20000)
    y = rng.random(20000) < p
    a, b = M.calibration_intercept_estimate(y, p), M.calibration_slope_estimate(y, p)
    assert a.lower <= 0 <= a.upper and b.lower <= 1 <= b.upper
    assert M.calibration_slope(y, np.clip(p * 1.5, 0, 0.99)) < 1  # too extreme predictions: slope below 1


@settings(max_examples=60, deadline=None)
@given(scored(min_size=2), st.integers(0, 1000))
def test_vectorised_bootstrap_replicates_equal_scikit_learn(data, seed):
    y, p = data
    counts = M.bootstrap_counts(M.bootstrap_indices(len(y), 4, seed), len(y))
    auc = M.weighted_auc(y, p, counts)
    ap = M.weighted_average_precision(y, p, counts)
    for k, w in enumerate(counts):
        pos, neg = w[y].sum(), w[~y].sum()
        if pos > 0 and neg > 0:
            assert auc[k] == pytest.approx(roc_auc_score(y, p, sample_weight=w))
        else:
            assert np.isnan(auc[k])
        if pos > 0:
            assert ap[k] == pytest.approx(average_precision_score(y, p, sample_weight=w))


@settings(max_examples=40, deadline=None)
@given(scored(min_size=2), st.integers(0, 1000))
def test_paired_bootstrap_difference(data, seed):
    y, p = data
    q = np.clip(p + np.random.default_rng(seed).normal(0, 0.2, len(p)), 0, 1)
    d = M.paired_bootstrap(y, p, q, n_boot=30, seed=seed)
    for e in (d.a, d.b, d.difference):
        _sane(e)
    if not d.a.note and not d.b.note:
        assert d.difference.value == pytest.approx(d.a.value - d.b.value)
    same = M.paired_bootstrap(y, p, p, n_boot=30, seed=seed).difference
    assert same.note or (same.value == 0 and same.lower == 0 and same.upper == 0)
