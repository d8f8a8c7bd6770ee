"""Early-warning models: train, evaluate, compare with the oracle, score, and write the model card.

For a use case (see :mod:`bold_prevention.early_warning.usecase`):

1. build the dataset (index events, features as of T0, outcomes) with :func:`~.features.build_dataset`;
2. split by time: the test set is the latest ``test_fraction`` of index events with a complete follow-up; the
   training set is the earlier events whose whole outcome window closed before the first test T0 (so no outcome
   seen in training happens after the test period begins);
3. fit a transparent baseline (logistic regression on the use case's few ``baseline`` predictors) and the primary
   model (scikit-learn ``HistGradientBoostingClassifier`` on every feature);
4. evaluate both on the test set: AUC, PR-AUC, Brier score, calibration intercept and slope, observed/expected,
   each with a bootstrap confidence interval; a reliability curve; performance by sex, age band and ethnicity; the
   same models re-evaluated with persons rebuilt at each linkage band (high, medium, low); and, on synthetic data,
   the oracle's AUC (the true outcome probabilities) beside the model's;
5. write the model card (markdown and JSON) and the model next to it under ``<project>/models/early_warning/``,
   and the scores of every index event (the primary model's) to ``results.early_warning_scores`` for the
   practitioners' single view.

The card and every other file written here hold aggregates only: no individual predictions or residuals.
Individual scores stay in the warehouse. The scores are decision support: no decision is taken by the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from ..errors import InputError
from ..files import atomic_dir, atomic_file
from ..project import Project
from ..trajectories._backend import backend_of
from ..warehouse.engine import table_exists, transaction
from . import actuarial as A
from . import export as X
from . import metrics as M
from .features import BANDS, GROUP_COLUMNS, Dataset, build_dataset, data_end_detail
from .usecase import ModelSpec, UseCase, load_use_case

SCORES_TABLE = "early_warning_scores"
SCORE_COLUMNS = ("person_id", "use_case", "t0", "score", "model_version")
#: The model must come within this AUC of the oracle on synthetic data.
ORACLE_TOLERANCE = 0.05
#: The goal on the true outcome (issue 22): the reoffending model within this AUC of the oracle at 200,000 persons.
ORACLE_GOAL_TRUE = 0.03
INTENDED_USE = (
    "Decision support only. The score ranks people by their estimated chance of the outcome so that "
    "practitioners can offer help earlier; a practitioner reads it alongside everything else they know. "
    "No decision about a person (eligibility, sanctions, sentencing, enforcement, housing allocation) may be "
    "taken automatically or on the score alone.")
NOT_INTENDED = (
    "Automated decisions of any kind; decisions about liberty, sentencing, enforcement or eligibility for "
    "services; use on people or periods unlike those it was trained on without re-evaluation; use outside the "
    "secure setting on individual records.")


# ------------------------------------------------------------------------------------------------ models
def _log1p_nonneg(x):
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0, None))


def _log1p_years(x):
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0, None) / 365.25)


def baseline_pipeline(uc: UseCase, seed: int = 0) -> Pipeline:
    """The transparent baseline: logistic regression on the use case's ``baseline`` predictors.

    Counts enter as log(1 + n), day gaps as log(1 + years), categories one-hot; missing values are imputed with a
    missing-value indicator; everything is standardised so the coefficients are comparable.
    """
    kinds = uc.feature_kinds()
    groups: dict[str, list[str]] = {"category": [], "count": [], "days": [], "plain": []}
    for f in uc.baseline:
        k = kinds[f]
        groups["category" if k == "category" else k if k in ("count", "days") else "plain"].append(f)
    parts = []
    if groups["category"]:
        parts.append(("category", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10,
                                                sparse_output=False), groups["category"]))
    if groups["count"]:
        parts.append(("count", make_pipeline(FunctionTransformer(_log1p_nonneg, feature_names_out="one-to-one"),
                                             StandardScaler()), groups["count"]))
    if groups["days"]:
        parts.append(("days", make_pipeline(FunctionTransformer(_log1p_years, feature_names_out="one-to-one"),
                                            SimpleImputer(strategy="median", add_indicator=True,
                                                          keep_empty_features=True),
                                            StandardScaler()), groups["days"]))
    if groups["plain"]:
        parts.append(("plain", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                           keep_empty_features=True),
                                             StandardScaler()), groups["plain"]))
    return Pipeline([("features", ColumnTransformer(parts, remainder="drop")),
                     ("model", LogisticRegression(C=1.0, max_iter=2000, random_state=seed))])


def _threads(n: int):
    """One thread for small data (thread start-up costs more than it saves, and a busy machine makes it worse)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1) if n < 50_000 else contextlib.nullcontext()


def grouped_folds(groups: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` cross-validation folds (training rows, held-out rows) in which every group (a person) lies wholly in
    one held-out fold, so that no person's rows are both fitted and scored (none when there is only one group)."""
    from sklearn.model_selection import GroupKFold

    g = np.asarray(groups)
    k = min(k, len(np.unique(g)))
    if k < 2:
        return []
    return list(GroupKFold(n_splits=k).split(np.zeros(len(g)), groups=g))


class BoostedModel:
    """``HistGradientBoostingClassifier`` on every feature, with the categories fixed at training time."""

    def __init__(self, features: list[str], categorical: list[str], seed: int = 0,
                 spec: ModelSpec | None = None) -> None:
        self.features = features
        self.categorical = categorical
        self.categories: dict[str, list[str]] = {}
        self.seed = seed
        self.spec = spec
        #: How the settings were chosen (for the model card): None with the fixed settings.
        self.tuning: dict | None = None
        self.model = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=800, max_depth=2, max_leaf_nodes=None, min_samples_leaf=20,
            l2_regularization=5.0, early_stopping=True, validation_fraction=0.2, n_iter_no_change=30,
            random_state=seed, categorical_features="from_dtype")

    def _matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        X = frame[self.features].copy()
        for c in self.categorical:
            X[c] = pd.Categorical(X[c].astype(str), categories=self.categories[c])
        return X

    def fit(self, frame: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None = None) -> BoostedModel:
        """Fit on ``frame``; with a :class:`ModelSpec`, settings are chosen by cross-validation over folds that
        keep each of ``groups`` (the person) in one fold."""
        # a feature with no value at all in training (a table not loaded) carries no information
        self.dropped = [f for f in self.features if f not in self.categorical and frame[f].isna().all()]
        self.features = [f for f in self.features if f not in self.dropped]
        for c in self.categorical:
            counts = frame[c].astype(str).value_counts()
            self.categories[c] = sorted(counts.index[:250])
        # smaller training sets get shallower trees and relatively larger leaves, so that they do not fit noise
        n = len(frame)
        # early stopping holds out a validation set: with few events of the rarer class it may hold none, so
        # small, imbalanced training sets get a fixed, short schedule instead
        rare = int(min(np.sum(y), len(y) - np.sum(y)))
        self.model.set_params(max_depth=2 if n < 10_000 else 3 if n < 100_000 else 4,
                              min_samples_leaf=int(np.clip(n // 50, 20, 200)),
                              early_stopping=rare >= 20, max_iter=800 if rare >= 20 else 100)
        X = self._matrix(frame)
        with _threads(n):
            if self.spec is not None and rare >= 20 * self.spec.cv_folds:
                self._tune(X, np.asarray(y, dtype=bool), groups)
            self.model.fit(X, y)
        return self

    def _tune(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None) -> None:
        """Choose depth, learning rate and the number of iterations by person-grouped cross-validation (mean log
        loss over the held-out folds, every iteration scored), then set them for a refit on every row."""
        from sklearn.base import clone

        spec = self.spec
        assert spec is not None
        folds = grouped_folds(np.arange(len(y)) if groups is None else np.asarray(groups), spec.cv_folds)
        if not folds:
            return
        results = []
        for depth in spec.max_depth:
            for rate in spec.learning_rate:
                m = clone(self.model).set_params(max_depth=depth, learning_rate=rate, max_iter=spec.max_iter,
                                                  early_stopping=False)
                loss = np.zeros(spec.max_iter)
                for tr, te in folds:
                    m.fit(X.iloc[tr], y[tr])
                    yt = y[te]
                    curve = [M.log_loss_of(yt, p[:, 1]) for p in m.staged_predict_proba(X.iloc[te])]
                    # a fold that stopped early (no further gain) keeps its last loss
                    curve += [curve[-1]] * (spec.max_iter - len(curve))
                    loss += np.asarray(curve) * len(te) / len(y)
                k = int(np.argmin(loss))
                results.append({"max_depth": depth, "learning_rate": rate, "iterations": k + 1,
                                "cv_log_loss": float(loss[k])})
        best = min(results, key=lambda r: (r["cv_log_loss"], r["max_depth"], -r["learning_rate"]))
        self.model.set_params(max_depth=best["max_depth"], learning_rate=best["learning_rate"],
                              max_iter=best["iterations"], early_stopping=False)
        self.tuning = {"chosen": best, "candidates": results, "folds": spec.cv_folds,
                       "rule": "person-grouped cross-validation on the training rows, lowest mean log loss"}

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        with _threads(len(frame)):
            return self.model.predict_proba(self._matrix(frame))


@dataclass
class TrainedModel:
    """A fitted use case: both models, the split, and the version that tags its scores."""

    use_case: UseCase
    version: str
    baseline: Pipeline
    primary: BoostedModel
    features: list[str]
    test_start: date
    train_end: date
    data_end: date
    band: str
    seed: int
    n_train: int
    train_prevalence: float

    def predict(self, frame: pd.DataFrame, which: str = "primary") -> np.ndarray:
        """Predicted probabilities for the rows of ``frame`` (``which``: primary or baseline)."""
        if which == "baseline":
            return self.baseline.predict_proba(frame[list(self.use_case.baseline)])[:, 1]
        return self.primary.predict_proba(frame)[:, 1]

    def baseline_coefficients(self) -> list[dict]:
        """The baseline's standardised coefficients and odds ratios (per standard deviation or category)."""
        names = self.baseline.named_steps["features"].get_feature_names_out()
        lr = self.baseline.named_steps["model"]
        rows = [{"term": "intercept", "coefficient": float(lr.intercept_[0]),
                 "odds_ratio": float(math.exp(lr.intercept_[0]))}]
        for n, c in zip(names, lr.coef_[0], strict=True):
            rows.append({"term": str(n).split("__", 1)[-1], "coefficient": float(c),
                         "odds_ratio": float(math.exp(c))})
        return rows


# ------------------------------------------------------------------------------------------------ split
def split_by_time(ds: Dataset) -> tuple[pd.DataFrame, pd.DataFrame, date, date]:
    """Train on earlier index events, test on later ones.

    The test set is the latest ``test_fraction`` of observed index events (T0 on or after ``test_start``); the
    training set is the observed events whose outcome window closed by ``test_start`` (T0 + window <=
    test_start), so training never sees an outcome from the test period.
    """
    uc = ds.use_case
    obs = ds.observed.sort_values(["t0", "index_id"])
    if len(obs) < 40:
        raise InputError(f"use case {uc.name}: only {len(obs)} index events have a complete follow-up",
                         hint="load more data (a longer period or more people) before training")
    test_start = obs["t0"].quantile(1 - uc.test_fraction, interpolation="lower")
    test = obs[obs["t0"] >= test_start]
    horizon = obs["t0"] + pd.DateOffset(months=uc.outcome.window_months)
    train = obs[horizon <= test_start]
    if len(train) < 30 or train["outcome"].nunique() < 2 or test["outcome"].nunique() < 2:
        raise InputError(
            f"use case {uc.name}: too few events to train and test ({len(train)} training and {len(test)} test "
            f"index events; {int(train['outcome'].sum())} and {int(test['outcome'].sum())} outcomes)",
            hint="load more data, or lower split.test_fraction in the use case file"
                 + (f"; index events within features.lookback_months ({uc.lookback_months}) of the start of the "
                    "data are left out, so a shorter look-back keeps more" if uc.lookback_months else ""))
    train_end = train["t0"].max()
    return train, test, test_start.date(), train_end.date()


def _version(uc: UseCase, train: pd.DataFrame, seed: int) -> str:
    h = hashlib.sha256()
    h.update(uc.fingerprint().encode())
    h.update(str(seed).encode())
    h.update(sklearn.__version__.encode())
    h.update(pd.util.hash_pandas_object(train[["index_id", "person_id", "t0", "outcome", *uc.feature_kinds()]],
                                        index=False).to_numpy().tobytes())
    return f"{uc.name}-{h.hexdigest()[:10]}"


def fit(ds: Dataset, *, seed: int = 0) -> tuple[TrainedModel, pd.DataFrame]:
    """Fit both models on the training period; return the model and the test frame."""
    uc = ds.use_case
    train, test, test_start, train_end = split_by_time(ds)
    y = train["outcome"].to_numpy(bool)
    kinds = uc.feature_kinds()
    feats = list(kinds)
    base = baseline_pipeline(uc, seed).fit(train[list(uc.baseline)], y)
    prim = BoostedModel(feats, [f for f in feats if kinds[f] == "category"], seed, uc.model).fit(
        train, y, groups=train["person_id"].astype(str).to_numpy())
    model = TrainedModel(use_case=uc, version=_version(uc, train, seed), baseline=base, primary=prim,
                         features=feats, test_start=test_start, train_end=train_end, data_end=ds.data_end,
                         band=ds.band, seed=seed, n_train=len(train), train_prevalence=float(y.mean()))
    return model, test


# ------------------------------------------------------------------------------------------------ evaluation
def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 4)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        return _clean(v.item())
    return v


class Checked:
    """The disclosure-checked outputs of one evaluation, collected for the release folder."""

    def __init__(self, use_case: str) -> None:
        self.prefix = use_case
        self.outputs: list = []

    def metrics(self, est: dict, *, n: int, events: int, title: str, name: str) -> dict:
        """The checked metrics as published; a metric that is not estimable says why (``note``) unless the whole
        output is withheld."""
        out = X.metrics_output(est, n=n, events=events, title=title, name=f"{self.prefix}_{name}")
        self.outputs.append(out)
        read = X.read_metrics(out)
        if "withheld" in read:
            return read
        for m, e in est.items():
            if getattr(e, "note", None):
                read[m] = {"value": None, "lower": None, "upper": None, "note": e.note}
        return read

    def add(self, *outs) -> None:
        self.outputs.extend(outs)


def _counts(n: int, events: int) -> dict:
    return X.published_counts(n, events)


def evaluate_frame(model: TrainedModel, test: pd.DataFrame, *, n_boot: int = 200,
                   checked: Checked | None = None) -> dict:
    """Both models' performance on ``test``, every number through disclosure control (aggregates only)."""
    checked = checked or Checked(model.use_case.name)
    y = test["outcome"].to_numpy(bool)
    title = model.use_case.title
    counts = _counts(len(y), int(y.sum()))
    out: dict[str, Any] = {**counts, "prevalence": X.published_share(int(y.sum()), len(y), numerator_published=True)}
    for which in ("primary", "baseline"):
        p = model.predict(test, which)
        est = M.with_ci(y, p, n_boot=n_boot, seed=model.seed)
        metrics = checked.metrics(est, n=len(y), events=int(y.sum()), title=f"{title}: {which} model, test period",
                                  name=f"{which}_test")
        groups = M.risk_groups(p, bins=10)
        observed, mean = X.reliability_outputs(y, p, groups, title=f"{title}: {which} model, reliability",
                                               name=f"{model.use_case.name}_{which}_reliability")
        checked.add(observed, mean)
        rel = M.reliability(y, p, bins=10, n_boot=n_boot, seed=model.seed).set_index("bin")
        obs_rows = {r["Group of predicted risk"]: r for r in X.read_rows(observed)}
        mean_rows = {r["Group of predicted risk"]: r for r in X.read_rows(mean)}
        reliability = []
        for b in sorted(obs_rows):
            o, m = obs_rows[b].get("Rate"), mean_rows.get(b, {}).get("Mean")
            o = next((v for k, v in obs_rows[b].items() if k != "Group of predicted risk"), None) if o is None else o
            m = next((v for k, v in mean_rows.get(b, {}).items() if k != "Group of predicted risk"), None) \
                if m is None else m
            if o is None or m is None or b not in rel.index:
                reliability.append({"bin": int(b), "withheld": X.WITHHELD})
                continue
            r = rel.loc[b]
            n_pub = X.published_count(int(r["n"]))
            lo, hi = X.observed_interval(o, n_pub)  # from the published rate and count, not the exact ones
            reliability.append({"bin": int(b), "n": n_pub, "mean_predicted": m, "observed": o,
                                "observed_lower": lo, "observed_upper": hi})
        subgroups = []
        for col in GROUP_COLUMNS:
            for val, g in test.assign(__p=p).groupby(col, sort=True):
                yg = g["outcome"].to_numpy(bool)
                e = M.with_ci(yg, g["__p"].to_numpy(float), n_boot=max(50, n_boot // 2), seed=model.seed,
                              metrics=("auc", "brier", "observed_expected"))
                mg = checked.metrics(e, n=len(yg), events=int(yg.sum()),
                                     title=f"{title}: {which} model, {col.replace('_', ' ')} {val}",
                                     name=f"{which}_{col}_{val}")
                row = {"group": col, "value": str(val)}
                if "withheld" in mg:
                    subgroups.append({**row, "withheld": mg["withheld"]})
                    continue
                subgroups.append({**row, **_counts(len(yg), int(yg.sum())),
                                  "auc": _get(mg, "auc", "value"), "auc_lower": _get(mg, "auc", "lower"),
                                  "auc_upper": _get(mg, "auc", "upper"), "brier": _get(mg, "brier", "value"),
                                  "observed_expected": _get(mg, "observed_expected", "value")})
        out[which] = {"metrics": metrics, "reliability": reliability, "subgroups": subgroups}
    return _clean(out)


def evaluate_static(model: TrainedModel, test: pd.DataFrame, scores: dict[str, np.ndarray], *, n_boot: int = 200,
                    checked: Checked | None = None) -> dict:
    """Static actuarial scales (see :mod:`.actuarial`) on the same test rows as the learned models, through
    disclosure control: ``{name: {"title", "source", "not_found", "metrics"}}``."""
    checked = checked or Checked(model.use_case.name)
    y = test["outcome"].to_numpy(bool)
    out = {}
    for name, p in scores.items():
        est = M.with_ci(y, p, n_boot=n_boot, seed=model.seed)
        out[name] = {"title": A.TITLE, "source": A.PUBLICATION, "not_found": list(A.NOT_FOUND),
                     "metrics": checked.metrics(est, n=len(y), events=int(y.sum()),
                                                title=f"{model.use_case.title}: {A.TITLE}, test period",
                                                name=f"{name}_test")}
    return _clean(out)


def evaluate_bands(con: Any, model: TrainedModel, *, n_boot: int = 100, bands=BANDS,
                   checked: Checked | None = None) -> list[dict]:
    """The same models evaluated with persons rebuilt at each linkage band (test period rows only)."""
    checked = checked or Checked(model.use_case.name)
    backend = backend_of(con)
    if not table_exists(backend, "extract", "xjs_link"):
        return [{"band": b, "withheld": "extract.xjs_link is not loaded"} for b in bands]
    rows = []
    for b in bands:
        ds = build_dataset(backend, model.use_case, band=b, data_end=model.data_end)
        test = ds.observed[ds.observed["t0"] >= pd.Timestamp(model.test_start)]
        y = test["outcome"].to_numpy(bool)
        row: dict[str, Any] = {"band": b, **_counts(len(y), int(y.sum()))}
        for which in ("primary", "baseline"):
            if len(test) == 0:
                row[which] = {"withheld": X.WITHHELD}
                continue
            est = M.with_ci(y, model.predict(test, which), n_boot=n_boot, seed=model.seed,
                            metrics=("auc", "pr_auc", "brier", "observed_expected"))
            row[which] = checked.metrics(est, n=len(y), events=int(y.sum()),
                                         title=f"{model.use_case.title}: {which} model, {b} linkage band",
                                         name=f"{which}_band_{b}")
        if "withheld" in row["primary"]:
            rows.append({"band": b, "withheld": X.WITHHELD})
            continue
        rows.append(_clean(row))
    return rows


def load_truth(path: str | Path, use_case: str) -> pd.DataFrame:
    """The true outcome probabilities of a synthetic population (``truth/truth_outcomes.parquet``)."""
    p = Path(path)
    f = p if p.is_file() else (p / "truth" / "truth_outcomes.parquet" if (p / "truth").is_dir()
                               else p / "truth_outcomes.parquet")
    if not f.is_file():
        raise InputError(f"no truth_outcomes.parquet at {p}",
                         hint="pass the synthetic population folder (it holds truth/truth_outcomes.parquet)")
    t = pd.read_parquet(f)
    need = {"use_case", "table", "record_id", "probability", "outcome"}
    if not need <= set(t.columns):
        raise InputError(f"{f} lacks columns {sorted(need - set(t.columns))}",
                         hint="regenerate the synthetic population with `bold synth`")
    return t[t["use_case"] == use_case]


def match_truth(frame: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the true ``true_probability``/``true_outcome`` of each index record (matched by table and
    record id: the person record of the index event, or its source row)."""
    tr = truth[["table", "record_id", "probability", "outcome"]].drop_duplicates(["table", "record_id"])
    tr = tr.rename(columns={"probability": "true_probability", "outcome": "true_outcome"})
    out = frame.copy()
    out["true_probability"] = np.nan
    out["true_outcome"] = pd.Series(pd.NA, index=out.index, dtype="boolean")
    for tcol, rcol in (("person_table", "person_record_id"), ("source_table", "record_id")):
        m = out[[tcol, rcol]].merge(tr, how="left", left_on=[tcol, rcol], right_on=["table", "record_id"],
                                    suffixes=("", "_t"))
        m.index = out.index
        fill = out["true_probability"].isna() & m["true_probability"].notna()
        out.loc[fill, "true_probability"] = m.loc[fill, "true_probability"]
        out.loc[fill, "true_outcome"] = m.loc[fill, "true_outcome"].astype(bool)
    return out


def truth_end(truth: pd.DataFrame, uc: UseCase) -> date | None:
    """The last day the synthetic truth covers for ``uc``: its latest T0 plus the outcome window (None when the
    truth has no T0). Index events after ``truth_end - window`` have no true outcome to be scored against."""
    if "t0" not in truth or truth.empty:
        return None
    last = pd.to_datetime(truth["t0"]).max()
    return None if pd.isna(last) else (last + pd.DateOffset(months=uc.outcome.window_months)).date()


def _withheld_if_low(*counts: int) -> bool:
    return any(X.published_count(int(c)) is None for c in counts)


def oracle_comparison(model: TrainedModel, test: pd.DataFrame, truth: pd.DataFrame, *,
                      n_boot: int = 200, checked: Checked | None = None, extra: dict[str, np.ndarray] | None = None
                      ) -> dict:
    """The models against the oracle (the synthetic truth's probabilities) on the test rows matched to the truth,
    scored against the outcome the linked data show and against the true outcome.

    Each gap (oracle AUC minus model AUC) has a paired bootstrap interval: every resample draws the same test rows
    for the oracle and the model. ``extra``: further scores of the test rows (by name, aligned with ``test``; for
    example a static actuarial scale) compared the same way. The card says how many test rows matched: when the
    truth covers the whole test period (see :func:`truth_end`), all of them.
    """
    checked = checked or Checked(model.use_case.name)
    m = match_truth(test, truth)
    keep = m["true_probability"].notna().to_numpy()
    m = m[keep]
    y = m["outcome"].to_numpy(bool)
    if len(m) == 0 or _withheld_if_low(y.sum(), (~y).sum()):
        return {"withheld": "too few test rows matched the truth table"}
    yt = m["true_outcome"].astype(bool).to_numpy()
    title = model.use_case.title
    seed = model.seed
    out: dict[str, Any] = {"test_rows": X.published_count(len(test)), "matched": X.published_count(len(m)),
                           "all_test_rows": bool(len(m) == len(test)),
                           "label_agreement": X.published_share(int((y == yt).sum()), len(m))}
    truth_p = m["true_probability"].to_numpy(float)
    scores = {"primary": model.predict(m, "primary"), "baseline": model.predict(m, "baseline")}
    for k, v in (extra or {}).items():
        scores[k] = np.asarray(v, dtype=float)[keep]
    # against the linked outcome (what the models are trained and tested on)
    est = M.with_ci(y, truth_p, n_boot=n_boot, seed=seed, metrics=("auc", "brier"))
    out["oracle"] = checked.metrics(est, n=len(y), events=int(y.sum()), title=f"{title}: oracle (synthetic truth)",
                                    name="oracle")
    for which, p in scores.items():
        d = M.paired_bootstrap(y, truth_p, p, n_boot=n_boot, seed=seed)
        e = M.with_ci(y, p, n_boot=n_boot, seed=seed, metrics=("auc", "brier"))
        r = checked.metrics({"auc": e["auc"], "brier": e["brier"], "gap": d.difference}, n=len(y),
                            events=int(y.sum()), title=f"{title}: {which} on the oracle's rows", name=f"oracle_{which}")
        if "withheld" in r:
            out[which] = r
            continue
        gap = _get(r, "gap", "value")
        out[which] = {"auc": r["auc"], "brier": r["brier"], "gap": r["gap"], "gap_to_oracle": gap,
                      "within_tolerance": None if gap is None else bool(gap <= ORACLE_TOLERANCE)}
    out["tolerance"] = ORACLE_TOLERANCE
    # against the true outcome: the oracle and every score on the same rows, paired
    if _withheld_if_low(yt.sum(), (~yt).sum()):
        out["true_outcome"] = {"withheld": X.WITHHELD}
    else:
        t: dict[str, Any] = {}
        ot = M.with_ci(yt, truth_p, n_boot=n_boot, seed=seed, metrics=("auc",))
        t["oracle"] = checked.metrics(ot, n=len(yt), events=int(yt.sum()),
                                      title=f"{title}: oracle on the true outcome", name="oracle_true")
        for which, p in scores.items():
            d = M.paired_bootstrap(yt, truth_p, p, n_boot=n_boot, seed=seed)
            t[which] = checked.metrics({"auc": d.b, "gap": d.difference}, n=len(yt), events=int(yt.sum()),
                                       title=f"{title}: {which} on the true outcome", name=f"oracle_true_{which}")
        out["true_outcome"] = t
        out["goal_true_outcome"] = ORACLE_GOAL_TRUE
        out["oracle_auc_true_outcome"] = _get(t, "oracle", "auc", "value")
        for which in scores:
            if isinstance(out.get(which), dict) and "withheld" not in out[which]:
                out[which]["auc_true_outcome"] = _get(t, which, "auc", "value")
                out[which]["gap_true_outcome"] = _get(t, which, "gap", "value")
    return _clean(out)


# ------------------------------------------------------------------------------------------------ scores
def write_scores(con: Any, model: TrainedModel, ds: Dataset) -> int:
    """Replace this use case's rows of ``results.early_warning_scores`` with scores of every index event.

    Index events without a complete follow-up are scored too: they are the ones a practitioner can still act on.
    """
    backend = backend_of(con)
    p = model.predict(ds.frame)
    df = pd.DataFrame({"person_id": ds.frame["person_id"].astype(str), "use_case": model.use_case.name,
                       "t0": ds.frame["t0"].dt.date, "score": p.astype(float), "model_version": model.version})
    df = df.sort_values(["person_id", "t0"]).drop_duplicates(["person_id", "t0"], keep="last")
    c = backend.con
    c.register("_ew_scores", df)
    try:
        c.execute("create schema if not exists results")
        c.execute(f"create table if not exists results.{SCORES_TABLE} (person_id varchar, use_case varchar, "
                  "t0 date, score double, model_version varchar)")
        with transaction(c):
            c.execute(f"delete from results.{SCORES_TABLE} where use_case = ?", [model.use_case.name])
            c.execute(f"insert into results.{SCORES_TABLE} select person_id, use_case, cast(t0 as date), score, "
                      "model_version from _ew_scores")
    finally:
        c.unregister("_ew_scores")
    return len(df)


# ------------------------------------------------------------------------------------------------ card
def model_dir(project: Project, use_case: str) -> Path:
    return project.models_dir / "early_warning" / use_case


def _card(model: TrainedModel, ds: Dataset, evaluation: dict, bands: list[dict], oracle: dict | None,
          checked: Checked) -> dict:
    uc = model.use_case
    kinds = uc.feature_kinds()
    desc = {c.name: c.description for c in uc.counts} | {d.name: d.description for d in uc.days_since_last} | {
        a.name: a.description for a in uc.index_attributes}
    desc |= {"age": "Age at T0 from the latest record dated before T0", "age_band": "Age band at T0",
             "sex": "Sex from the latest record dated before T0 (or the index person record)",
             "copas_rate": "Copas rate: log((court cases + 1) / (years since the first + 10))",
             "career_years": "Years from the first court case to T0", "has_oasys": "An OASys assessment before T0",
             "days_since_oasys": "Days from the latest OASys assessment before T0"}
    obs = ds.observed
    return _clean({
        "model_version": model.version,
        "use_case": {"name": uc.name, "title": uc.title, "purpose": uc.purpose,
                     "prediction_time": f"T0 = each {uc.index.event_type} event"
                     + ("" if uc.index.occurrence == "all" else f" ({uc.index.occurrence} per person)"),
                     "outcome": uc.outcome.label, "window_months": uc.outcome.window_months},
        "intended_use": INTENDED_USE,
        "not_intended_for": NOT_INTENDED,
        "data": {"person_records": f"band {model.band}", "data_end": str(model.data_end),
                 "data_end_rule": ds.data_end_rule or "the latest outcome event",
                 "history_lookback": (f"{uc.lookback_months} months before T0 (index events within "
                                      f"{uc.lookback_months} months of the start of the data, "
                                      f"{ds.history_start}, left out)"
                                      if uc.lookback_months else "all history before T0"),
                 "index_events": X.published_count(len(ds.frame)),
                 "observed_index_events": X.published_count(len(obs)),
                 "persons": X.published_count(int(ds.frame["person_id"].nunique())),
                 "train_period": f"T0 up to {model.train_end} (outcome windows closed by {model.test_start})",
                 "test_period": f"T0 from {model.test_start} to {obs['t0'].max().date() if len(obs) else ''}",
                 "n_train": X.published_count(model.n_train),
                 "train_prevalence": X.published_share(round(model.train_prevalence * model.n_train),
                                                       model.n_train)},
        "features": [{"name": f, "kind": kinds[f], "description": desc.get(f, f.replace("_", " "))}
                     for f in model.features],
        "leakage_control": "Every history feature aggregates events dated strictly before T0; index-record "
                           "attributes are known at T0; outcomes are read only in (T0, T0 + window].",
        "models": {
            "primary": {"type": "HistGradientBoostingClassifier (scikit-learn " + sklearn.__version__ + ")",
                        "features": model.features, "iterations": int(model.primary.model.n_iter_),
                        "max_depth": model.primary.model.max_depth,
                        "learning_rate": model.primary.model.learning_rate,
                        "settings_chosen_by": (getattr(model.primary, "tuning", None) or {}).get(
                            "rule", "fixed settings, early stopping on a fifth of the training rows"),
                        "cross_validation": [{k: r[k] for k in ("max_depth", "learning_rate", "iterations")}
                                             | {"cv_log_loss": r["cv_log_loss"]}
                                             for r in (getattr(model.primary, "tuning", None) or {}).get(
                                                 "candidates", [])]},
            "baseline": {"type": "LogisticRegression on standardised predictors", "predictors": list(uc.baseline),
                         "coefficients": _coefficients(model, checked)},
        },
        "evaluation": evaluation,
        "linkage_bands": bands,
        "oracle": oracle,
        "ethics": "Ethnicity is not a model input; it is used only to report performance by group. Scores "
                  "reflect recorded justice contact, which reflects policing and prosecution as well as "
                  "behaviour: check subgroup calibration before any use.",
        "limitations": list(uc.limitations) + [
            "Trained and tested on one data snapshot; performance drifts as practice and populations change: "
            "re-evaluate on each new snapshot (`bold ew evaluate`).",
            "Every number in this card passed disclosure control (bold_prevention.outputs): counts are rounded to "
            f"the nearest {X.rules().round_base} and withheld ([c]) below {X.rules().threshold}; prevalences are "
            "withheld when their outcomes, non-outcomes or total are below that, and shown no more precisely than "
            "the rounded counts allow; metrics of groups with too few people, outcomes or non-outcomes are "
            "withheld."],
        "disclosure": "Aggregates only: no individual predictions or residuals. Individual scores stay in the "
                      "warehouse table results.early_warning_scores.",
    })


def _coefficients(model: TrainedModel, checked: Checked) -> list[dict]:
    coefs = model.baseline_coefficients()
    out = X.coefficients_output(coefs, n_train=model.n_train, title=f"{model.use_case.title}: baseline coefficients",
                                name=f"{model.use_case.name}_baseline_coefficients")
    checked.add(out)
    rows = []
    for r in X.read_rows(out):
        if r.get("Coefficient") is None:
            rows.append({"term": r["Term"], "withheld": "too few residual degrees of freedom"})
        else:
            rows.append({"term": r["Term"], "coefficient": r["Coefficient"], "odds_ratio": r["Odds ratio"]})
    return rows


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _c(v: Any) -> str:
    return "[c]" if v is None else str(v)


def _fmt(e: Any) -> str:
    """An estimate as published: value (lower to upper), "[c]" when withheld, "not estimable (why)", or "n/a"."""
    if not isinstance(e, dict) or not e or "withheld" in e:
        return "[c]"
    if e.get("note"):
        return f"not estimable ({e['note']})"
    if not _is_num(e.get("value")):
        return "n/a"
    lo, hi = e.get("lower"), e.get("upper")
    return f"{e['value']:.3f}" + (f" ({lo:.3f} to {hi:.3f})" if _is_num(lo) and _is_num(hi) else "")


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def card_summary(card: dict) -> dict:
    """What a command prints about a card, as text: the headline, the test-period table (measure, primary,
    baseline), a line per linkage band and the oracle lines. Whatever the card withholds or cannot estimate reads
    as such ("[c]", "not estimable (...)"), never as an error."""
    ev = card.get("evaluation") or {}

    def shown(v: Any) -> str:  # counts on the card are rounded, or withheld (None) below the threshold
        return f"{v:,}" if _is_num(v) else "fewer than the threshold"

    rows = []
    for m in M.METRICS:
        rows.append((m.replace("_", " ").replace("pr auc", "PR AUC").replace("auc", "AUC"),
                     *(_fmt(_get(ev, which, "metrics", m)) if "withheld" not in (_get(ev, which, "metrics") or {})
                       else "[c]" for which in ("primary", "baseline"))))
    bands = []
    for b in card.get("linkage_bands") or []:
        if "withheld" in b:
            bands.append(f"band {b.get('band')}: {b['withheld']}")
        else:
            bands.append(f"band {b.get('band')}: AUC {_fmt(_get(b, 'primary', 'auc'))} (primary), "
                         f"{_fmt(_get(b, 'baseline', 'auc'))} (baseline) on {shown(b.get('n'))} index events")
    oracle = []
    o = card.get("oracle")
    if o and "withheld" in o:
        oracle.append(f"oracle comparison: {o['withheld']}")
    elif o:
        ok = _get(o, "primary", "within_tolerance")
        oracle.append(f"oracle AUC {_fmt(o.get('oracle', {}).get('auc'))}; model {_fmt(_get(o, 'primary', 'auc'))} "
                      f"(gap {_fmt(_get(o, 'primary', 'gap'))}; "
                      + ("n/a" if ok is None else "within" if ok else "NOT within")
                      + f" {o.get('tolerance')}); baseline {_fmt(_get(o, 'baseline', 'auc'))}")
        t = o.get("true_outcome") or {}
        if t and "withheld" not in t:
            oracle.append(f"on the true outcome ({shown(o.get('matched'))} of {shown(o.get('test_rows'))} test index "
                          f"events): oracle AUC {_fmt(_get(t, 'oracle', 'auc'))}; gap of the model "
                          f"{_fmt(_get(t, 'primary', 'gap'))}, of the baseline {_fmt(_get(t, 'baseline', 'gap'))}"
                          + "".join(f", of the {k} {_fmt(_get(t, k, 'gap'))}" for k in t
                                    if k not in ("oracle", "primary", "baseline") and isinstance(t[k], dict)
                                    and "gap" in t[k]))
        elif t:
            oracle.append(f"on the true outcome: {t['withheld']}")
    static = []
    for name, st in (ev.get("static") or {}).items():
        mets = (st or {}).get("metrics") or {}
        static.append(f"static scale {name}: AUC " + ("[c]" if "withheld" in mets else _fmt(mets.get("auc")))
                      + ", calibration slope "
                      + ("[c]" if "withheld" in mets else _fmt(mets.get("calibration_slope"))))
    return {"headline": f"tested on {shown(ev.get('n'))} index events ({shown(ev.get('events'))} outcomes)",
            "table": rows, "bands": bands, "static": static, "oracle": oracle}


def card_markdown(card: dict) -> str:
    """The model card as markdown."""
    uc = card["use_case"]
    ev = card["evaluation"]
    lines = [f"# Model card: {uc['title']}", "", f"Model version `{card['model_version']}`", "",
             "## Intended use", "", card["intended_use"], "", f"Not for: {card['not_intended_for']}", "",
             "## Use case", "", uc["purpose"], "", f"- Prediction time: {uc['prediction_time']}",
             f"- Outcome: {uc['outcome']} (window {uc['window_months']} months)", "", "## Data", ""]
    lines += [f"- {k.replace('_', ' ')}: {_c(v)}" for k, v in card["data"].items()]
    lines += ["", "## Features", "", card["leakage_control"], "", "| feature | kind | description |",
              "|---|---|---|"]
    lines += [f"| {f['name']} | {f['kind']} | {f['description']} |" for f in card["features"]]
    prim = (card.get("models") or {}).get("primary") or {}
    if prim.get("max_depth") is not None:
        lines += ["", f"Primary model: gradient boosting, trees of depth {prim['max_depth']}, learning rate "
                  f"{prim.get('learning_rate')}, {prim.get('iterations')} iterations; settings: "
                  f"{prim.get('settings_chosen_by')}."]
    lines += ["", "## Performance on the test period", "",
              f"{_c(ev['n'])} index events, {_c(ev['events'])} outcomes"
              + ("" if ev.get("prevalence") is None else f" (prevalence {ev['prevalence']:g})")
              + ". 95% bootstrap intervals in brackets; [c]: withheld by disclosure control.", "",
              "| measure | primary (gradient boosting) | baseline (logistic) |", "|---|---|---|"]
    for m in M.METRICS:
        lines.append(f"| {m.replace('_', ' ')} | {_fmt(ev['primary']['metrics'].get(m))} | "
                     f"{_fmt(ev['baseline']['metrics'].get(m))} |")
    for name, st in (ev.get("static") or {}).items():
        lines += ["", f"### Static actuarial scale: {st.get('title', name)}", "",
                  f"Scored with published coefficients, not fitted to these data: {st.get('source', '')}. "
                  f"Not found or not used: {'; '.join(st.get('not_found') or []) or 'none'}.", "",
                  "| measure | value (95% interval) |", "|---|---|"]
        mets = st.get("metrics") or {}
        lines += [f"| {m.replace('_', ' ')} | {'[c]' if 'withheld' in mets else _fmt(mets.get(m))} |"
                  for m in M.METRICS]
    lines += ["", "### Reliability (primary model)", "", "| group of predicted risk | n | mean predicted | "
              "observed (95% interval) |", "|---|---|---|---|"]
    for r in ev["primary"]["reliability"]:
        if "withheld" in r:
            lines.append(f"| {r['bin']} | [c] | [c] | [c] |")
        else:
            ci = ("" if r.get("observed_lower") is None
                  else f" ({r['observed_lower']:.3f} to {r['observed_upper']:.3f})")
            lines.append(f"| {r['bin']} | {_c(r['n'])} | {r['mean_predicted']:.3f} | {r['observed']:.3f}{ci} |")
    lines += ["", "### By sex, age band and ethnicity (primary model)", "",
              "| group | value | n | outcomes | AUC (95% interval) | observed / expected |", "|---|---|---|---|---|---|"]
    for r in ev["primary"]["subgroups"]:
        if "withheld" in r:
            lines.append(f"| {r['group']} | {r['value']} | [c] | [c] | [c] | [c] |")
        else:
            auc = "n/a" if r.get("auc") is None else (
                f"{r['auc']:.3f}" + (f" ({r['auc_lower']:.3f} to {r['auc_upper']:.3f})"
                                     if r.get("auc_lower") is not None else ""))
            oe = "n/a" if r.get("observed_expected") is None else f"{r['observed_expected']:.2f}"
            lines.append(f"| {r['group']} | {r['value']} | {_c(r['n'])} | {_c(r['events'])} | {auc} | {oe} |")
    lines += ["", "## Sensitivity to linkage", "", "The same models, with persons rebuilt from the XJS clusters "
              "at each linkage band (test period only).", "",
              "| band | n | outcomes | AUC primary | AUC baseline | observed / expected (primary) |",
              "|---|---|---|---|---|---|"]
    for r in card["linkage_bands"]:
        if "withheld" in r:
            lines.append(f"| {r['band']} | [c] | [c] | [c] | [c] | {r['withheld']} |")
        else:
            lines.append(f"| {r['band']} | {_c(r['n'])} | {_c(r['events'])} | {_fmt(r['primary'].get('auc'))} | "
                         f"{_fmt(r['baseline'].get('auc'))} | {_fmt(r['primary'].get('observed_expected'))} |")
    if card.get("oracle"):
        o = card["oracle"]
        lines += ["", "## Comparison with the oracle (synthetic data)", ""]
        if "withheld" in o:
            lines.append(o["withheld"])
        else:
            which_rows = ("all" if o.get("all_test_rows") else f"{_c(o.get('matched'))} of {_c(o.get('test_rows'))}")
            lines += [f"On {which_rows} test index events (matched to the synthetic truth), the oracle (the true "
                      "outcome probabilities) and the models, against the outcome as the linked data show it "
                      "(what the models are trained and evaluated on) and against the true outcome. Gaps are the "
                      "oracle's AUC minus the model's, with 95% paired bootstrap intervals (the same resampled rows "
                      "for both).", "",
                      "| | AUC (linked outcome) | gap to oracle (linked) | Brier | AUC (true outcome) | "
                      "gap to oracle (true outcome) |", "|---|---|---|---|---|---|"]
            t = o.get("true_outcome") or {}
            lines.append(f"| oracle | {_fmt(_get(o, 'oracle', 'auc'))} | | {_fmt(_get(o, 'oracle', 'brier'))} | "
                         f"{_fmt(_get(t, 'oracle', 'auc'))} | |")
            for which in [k for k in o if isinstance(o[k], dict) and ("gap" in o[k] or k in ("primary", "baseline"))
                          and k not in ("oracle", "true_outcome")]:
                lines.append(f"| {which} | {_fmt(_get(o, which, 'auc'))} | {_fmt(_get(o, which, 'gap'))} | "
                             f"{_fmt(_get(o, which, 'brier'))} | {_fmt(_get(t, which, 'auc'))} | "
                             f"{_fmt(_get(t, which, 'gap'))} |")
            agree = "[c]" if o.get("label_agreement") is None else f"{100 * o['label_agreement']:g}%"
            ok = _get(o, "primary", "within_tolerance")
            lines += ["", f"Labels of the linked data agree with the true outcome for {agree} of "
                      "these index events. Tolerance: the primary model must come within "
                      f"{o.get('tolerance')} of the oracle AUC (linked outcome): "
                      + ("not assessable." if ok is None else "met." if ok else "NOT met.")]
            if o.get("goal_true_outcome") is not None:
                g = _get(t, "primary", "gap", "value")
                lines.append(f"Goal on the true outcome: a gap under {o['goal_true_outcome']}: "
                             + ("not assessable." if g is None else "met." if g < o["goal_true_outcome"]
                                else "not met."))
    lines += ["", "## Transparent baseline", "", "| term | coefficient | odds ratio |", "|---|---|---|"]
    lines += [f"| {c['term']} | [c] | [c] |" if "withheld" in c else
              f"| {c['term']} | {c['coefficient']:.3f} | {c['odds_ratio']:.3f} |"
              for c in card["models"]["baseline"]["coefficients"]]
    lines += ["", "## Ethical considerations", "", card["ethics"], "", "## Limitations", ""]
    lines += [f"- {x}" for x in card["limitations"]]
    lines += ["", "## Disclosure", "", card["disclosure"], ""]
    return "\n".join(lines)


def write_model(project: Project, model: TrainedModel, card: dict, outputs: list | None = None) -> Path:
    """Write the model and its card (markdown and JSON) under ``models/early_warning/<use case>/<version>/``, with
    ``release/`` (report, spreadsheet, output-checking files) of the checked ``outputs``."""
    folder = model_dir(project, model.use_case.name) / model.version
    with atomic_dir(folder, overwrite=True) as tmp:
        if outputs:
            from ..outputs.ledger import ReleaseLedger

            X.write_model_release(outputs, tmp / "release", title=f"Model results: {model.use_case.title}",
                                  ledger=ReleaseLedger.for_project(project))
        with open(tmp / "model.pkl", "wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        (tmp / "model_card.json").write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        (tmp / "model_card.md").write_text(card_markdown(card), encoding="utf-8")
    with atomic_file(model_dir(project, model.use_case.name) / "latest.json") as fh:
        json.dump({"model_version": model.version}, fh)
    return folder


def load_model(project: Project, use_case: str, version: str | None = None) -> TrainedModel:
    """The latest (or a named) trained model of ``use_case``."""
    d = model_dir(project, use_case)
    if version is None:
        latest = d / "latest.json"
        if not latest.is_file():
            raise InputError(f"no trained model for use case {use_case} in {project.root}",
                             hint=f"run `bold ew train {use_case}` first")
        version = json.loads(latest.read_text(encoding="utf-8"))["model_version"]
    f = d / version / "model.pkl"
    if not f.is_file():
        raise InputError(f"model {version} not found at {f}", hint=f"run `bold ew train {use_case}` again")
    with open(f, "rb") as fh:
        return pickle.load(fh)  # our own artefact, in the project folder


# ------------------------------------------------------------------------------------------------ entry points
@dataclass
class Report:
    """What a training or evaluation run produced."""

    model: TrainedModel
    card: dict
    folder: Path | None
    scores_written: int = 0
    outputs: list = field(default_factory=list)


Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def train(con: Any, use_case: str | UseCase, *, project: Project | None = None, seed: int = 0,
          n_boot: int = 200, truth: str | Path | None = None, bands: bool = True, data_end: date | None = None,
          write_scores_table: bool = True, progress: Progress = _noop) -> Report:
    """Build the dataset, fit both models, evaluate them, write the model card, the model and the scores."""
    uc = use_case if isinstance(use_case, UseCase) else load_use_case(use_case)
    truth_frame = load_truth(truth, uc.name) if truth is not None else None
    rule = None
    if data_end is None and truth_frame is not None:
        # evaluated against the synthetic truth: the test period must lie inside what the truth covers, so that
        # every test row has a true outcome
        end = truth_end(truth_frame, uc)
        auto, lag = data_end_detail(con, uc)
        if end is not None and end < auto:
            data_end = end
            rule = (f"the end of the synthetic truth's coverage ({end}), before the data's own end ({auto}: the "
                    + (f"latest court record less {lag} days)" if lag is not None else "latest outcome event)"))
    progress(f"building index events, features and outcomes for {uc.name}")
    ds = build_dataset(con, uc, data_end=data_end)
    if rule:
        ds.data_end_rule = rule
    progress(f"{len(ds.frame)} index events ({len(ds.observed)} with complete follow-up); fitting models")
    model, test = fit(ds, seed=seed)
    return _evaluate_and_write(con, model, ds, test, project=project, n_boot=n_boot, truth=truth_frame,
                               bands=bands, write_scores_table=write_scores_table, progress=progress)


def evaluate(con: Any, use_case: str, *, project: Project, version: str | None = None, n_boot: int = 200,
             truth: str | Path | None = None, bands: bool = True, data_end: date | None = None,
             progress: Progress = _noop) -> Report:
    """Re-evaluate a trained model on the warehouse as it is now (test period: T0 on or after the model's
    test start), optionally against the synthetic truth, and rewrite its card."""
    model = load_model(project, use_case, version)
    progress(f"rebuilding the dataset for {model.use_case.name}")
    ds = build_dataset(con, model.use_case, data_end=data_end or model.data_end)
    test = ds.observed[ds.observed["t0"] >= pd.Timestamp(model.test_start)]
    if test["outcome"].nunique() < 2:
        raise InputError(f"the test period of {model.version} holds no usable index events",
                         hint=f"retrain with `bold ew train {use_case}`")
    truth_frame = load_truth(truth, model.use_case.name) if truth is not None else None
    return _evaluate_and_write(con, model, ds, test, project=project, n_boot=n_boot, truth=truth_frame,
                               bands=bands, write_scores_table=False, progress=progress)


def _evaluate_and_write(con, model: TrainedModel, ds: Dataset, test: pd.DataFrame, *, project, n_boot, truth,
                        bands, write_scores_table, progress) -> Report:
    checked = Checked(model.use_case.name)
    progress(f"evaluating {model.version} on {len(test)} test index events")
    evaluation = evaluate_frame(model, test, n_boot=n_boot, checked=checked)
    static = A.static_scores(test, model.use_case.outcome.window_months)
    if static:
        evaluation["static"] = evaluate_static(model, test, static, n_boot=n_boot, checked=checked)
    band_rows: list[dict] = []
    if bands:
        progress("re-evaluating with persons rebuilt at each linkage band")
        band_rows = evaluate_bands(con, model, n_boot=max(50, n_boot // 2), checked=checked)
    oracle = None
    if truth is not None and not isinstance(truth, pd.DataFrame):
        truth = load_truth(truth, model.use_case.name)
    if truth is not None:
        progress("comparing with the oracle (synthetic truth)")
        oracle = oracle_comparison(model, test, truth, n_boot=n_boot, checked=checked, extra=static)
    card = _card(model, ds, evaluation, band_rows, oracle, checked)
    folder = write_model(project, model, card, checked.outputs) if project is not None else None
    n = write_scores(con, model, ds) if write_scores_table else 0
    return Report(model=model, card=card, folder=folder, scores_written=n, outputs=checked.outputs)
