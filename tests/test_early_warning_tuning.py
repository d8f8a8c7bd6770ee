"""Gradient-boosting settings chosen by person-grouped cross-validation on the training rows (use case ``model:``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.early_warning import metrics as M
from bold_prevention.early_warning import train as E
from bold_prevention.early_warning.usecase import ModelSpec, load_use_case, parse_use_case
from bold_prevention.errors import InputError


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=80), st.integers(2, 6))
def test_grouped_folds_keep_each_person_in_one_held_out_fold(groups, k):
    g = np.array([f"p{x}" for x in groups])
    folds = E.grouped_folds(g, k)
    if len(set(groups)) < 2:
        assert folds == []
        return
    held = np.concatenate([te for _, te in folds])
    assert sorted(held) == list(range(len(g)))  # every row held out exactly once
    for tr, te in folds:
        assert not set(g[tr]) & set(g[te])  # no person both fitted and scored


def _frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.integers(0, 5, size=n).astype(float)
    person = rng.integers(0, n // 2, size=n).astype(str)
    p = 1 / (1 + np.exp(-(x + 0.3 * z - 1)))
    return pd.DataFrame({"x": x, "z": z, "person_id": person}), rng.random(n) < p


def test_tuning_chooses_the_lowest_cross_validated_loss_and_refits_on_every_row():
    f, y = _frame(1200)
    spec = ModelSpec(max_depth=(1, 3), learning_rate=(0.1,), max_iter=60, cv_folds=3)
    m = E.BoostedModel(["x", "z"], [], 0, spec).fit(f, y, groups=f["person_id"].to_numpy())
    t = m.tuning
    assert t is not None and len(t["candidates"]) == 2
    best = min(t["candidates"], key=lambda r: r["cv_log_loss"])
    assert t["chosen"] == best
    assert 1 <= best["iterations"] <= 60
    hgb = m.model
    assert (hgb.max_depth, hgb.learning_rate, hgb.early_stopping) == (best["max_depth"], 0.1, False)
    assert hgb.n_iter_ == best["iterations"]  # refitted on all rows, no rows held back
    again = E.BoostedModel(["x", "z"], [], 0, spec).fit(f, y, groups=f["person_id"].to_numpy())
    assert np.array_equal(m.predict_proba(f), again.predict_proba(f))  # deterministic
    # the cross-validated loss is a real log loss of held-out rows: not below that of the refitted model in-sample
    assert best["cv_log_loss"] >= M.log_loss_of(y, m.predict_proba(f)[:, 1]) - 0.02


def test_without_enough_events_the_fixed_settings_are_used():
    f, y = _frame(120, seed=1)
    y = np.zeros(len(y), bool)
    y[:30] = True
    m = E.BoostedModel(["x", "z"], [], 0, ModelSpec(cv_folds=5)).fit(f, y, groups=f["person_id"].to_numpy())
    assert m.tuning is None


def test_log_loss_of_matches_its_definition():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.4])
    want = -np.mean(np.log([0.9, 0.8, 0.6, 0.6]))
    assert M.log_loss_of(y, p) == pytest.approx(want)
    assert np.isfinite(M.log_loss_of(np.array([1, 0]), np.array([0.0, 1.0])))


def _raw() -> dict:
    from importlib import resources

    import yaml

    res = resources.files("bold_prevention.early_warning.use_cases") / "reoffending_12m_after_release.yaml"
    return yaml.safe_load(res.read_text())


def test_the_shipped_reoffending_use_case_tunes_its_model():
    uc = load_use_case("reoffending_12m_after_release")
    assert uc.model is not None and 1 in uc.model.max_depth and uc.model.cv_folds >= 2
    assert load_use_case("possession_12m_after_claim").model is None


@pytest.mark.parametrize("model, words", [
    ({"max_depth": [0, 2]}, "max_depth"), ({"learning_rate": [1.5]}, "learning_rate"),
    ({"cv_folds": 1}, "cv_folds"), ({"max_iter": 3}, "max_iter"), ({"max_depth": [2], "depth": 3}, "depth"),
])
def test_bad_model_settings_are_refused(model, words):
    d = _raw()
    d["model"] = model
    with pytest.raises(InputError) as e:
        parse_use_case(d, source="x.yaml")
    assert words in str(e.value)
