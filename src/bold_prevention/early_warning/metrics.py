"""Performance measures for early-warning models, with confidence intervals that say when they cannot be estimated.

Discrimination (AUC, PR-AUC) and the Brier score come from scikit-learn (``roc_auc_score``,
``average_precision_score``, ``brier_score_loss``), with percentile bootstrap intervals over the test rows.
Calibration (the calibration-in-the-large intercept and the calibration slope, both from a logistic regression of
the outcome on the logit of the predicted probability) is fitted with statsmodels' binomial GLM, with its Wald
interval. Where the fit does not exist - every row has the same outcome, every prediction is the same, or the
outcomes are (quasi-)completely separated by the predicted risk, so the maximum-likelihood slope is infinite - the
estimate is *not estimable* with the reason, never a number with an absurd interval.

Everything here takes arrays of outcomes and predicted probabilities and returns aggregates only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

EPS = 1e-6
#: A calibration coefficient (on the logit scale) beyond this, or with a standard error beyond
#: :data:`MAX_STANDARD_ERROR`, is a fit running away towards separation: reported as not estimable.
MAX_COEFFICIENT = 25.0
MAX_STANDARD_ERROR = 10.0
Z95 = 1.959963984540054
#: Observed/expected needs at least this many expected outcomes (sum of predicted probabilities).
MIN_EXPECTED = 1.0

NOT_ESTIMABLE_ONE_CLASS = "every row has the same outcome"
NOT_ESTIMABLE_CONSTANT = "every prediction is the same"
NOT_ESTIMABLE_SEPARATION = "perfect separation: the predicted risk splits outcomes from non-outcomes exactly"
NOT_ESTIMABLE_RUNAWAY = "quasi-complete separation: the fit does not converge to a finite value"
NOT_ESTIMABLE_NO_OUTCOME = "no row has the outcome"
NOT_ESTIMABLE_FEW_EXPECTED = "fewer than one outcome expected"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _arrays(y, p, *, probability: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes as booleans and scores as finite floats (clipped to [0, 1] where they are ``probability``)."""
    y = np.asarray(y, dtype=bool)
    p = np.nan_to_num(np.asarray(p, dtype=float), nan=0.5, posinf=1.0, neginf=0.0)
    return y, (np.clip(p, 0.0, 1.0) if probability else p)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (scikit-learn; ties count one half); NaN when only one class is present."""
    y, p = _arrays(y, p)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, p))


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn); NaN with no positive outcome."""
    y, p = _arrays(y, p)
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, p))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between predicted probability and outcome (scikit-learn)."""
    y, p = _arrays(y, p, probability=True)
    return float(brier_score_loss(y, p, pos_label=True)) if len(y) else float("nan")


def log_loss_of(y: np.ndarray, p: np.ndarray) -> float:
    """Mean log loss (probabilities clipped away from 0 and 1); used to choose model settings by cross-validation."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def observed_expected(y: np.ndarray, p: np.ndarray) -> float:
    """Observed events over expected events (sum of predicted probabilities); NaN when fewer than
    :data:`MIN_EXPECTED` outcomes are expected (the ratio would be unbounded)."""
    y, p = _arrays(y, p, probability=True)
    e = float(np.sum(p))
    return float(np.sum(y)) / e if e >= MIN_EXPECTED else float("nan")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval, or why it is not estimable (``note``; value and limits NaN)."""

    value: float
    lower: float
    upper: float
    note: str | None = None

    @classmethod
    def not_estimable(cls, why: str) -> Estimate:
        return cls(float("nan"), float("nan"), float("nan"), why)

    def as_dict(self) -> dict:
        d = {k: (None if math.isnan(v) else round(v, 4)) for k, v in
             (("value", self.value), ("lower", self.lower), ("upper", self.upper))}
        if self.note:
            d["note"] = self.note
        return d

    def __str__(self) -> str:
        if self.note:
            return f"not estimable ({self.note})"
        if math.isnan(self.value):
            return "n/a"
        if math.isnan(self.lower) or math.isnan(self.upper):
            return f"{self.value:.3f}"
        return f"{self.value:.3f} ({self.lower:.3f} to {self.upper:.3f})"


def separation(y: np.ndarray, p: np.ndarray) -> str | None:
    """Why a logistic calibration fit of ``y`` on logit(``p``) has no finite maximum-likelihood estimate, or None.

    One outcome class only; every prediction the same; or complete / quasi-complete separation (every outcome's
    predicted risk at or above every non-outcome's, or at or below it).
    """
    y, p = _arrays(y, p, probability=True)
    if len(y) == 0 or y.all() or not y.any():
        return NOT_ESTIMABLE_ONE_CLASS
    x = _logit(p)
    if np.ptp(x) == 0:
        return NOT_ESTIMABLE_CONSTANT
    if x[y].min() >= x[~y].max() or x[y].max() <= x[~y].min():
        return NOT_ESTIMABLE_SEPARATION
    return None


def _glm(y: np.ndarray, exog: np.ndarray, offset: np.ndarray | None):
    from statsmodels.genmod.families import Binomial  # not statsmodels.api: seconds to import
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            res = GLM(y.astype(float), exog, family=Binomial(), offset=offset).fit(maxiter=100)
        except (PerfectSeparationError, PerfectSeparationWarning):
            return None, NOT_ESTIMABLE_SEPARATION
        except (ConvergenceWarning, np.linalg.LinAlgError, ValueError):
            return None, NOT_ESTIMABLE_RUNAWAY
    return res, None


def _coefficient(res, i: int) -> Estimate:
    b, se = float(res.params[i]), float(res.bse[i])
    if not (math.isfinite(b) and math.isfinite(se)) or abs(b) > MAX_COEFFICIENT or se > MAX_STANDARD_ERROR:
        return Estimate.not_estimable(NOT_ESTIMABLE_RUNAWAY)
    return Estimate(b, b - Z95 * se, b + Z95 * se)


def calibration_intercept_estimate(y: np.ndarray, p: np.ndarray) -> Estimate:
    """Calibration-in-the-large: ``a`` in ``logit P(y) = a + logit(p)`` (0 when calibrated), statsmodels GLM with
    logit(p) as offset, Wald 95% interval; not estimable with one outcome class."""
    y, p = _arrays(y, p, probability=True)
    if len(y) == 0 or y.all() or not y.any():
        return Estimate.not_estimable(NOT_ESTIMABLE_ONE_CLASS)
    res, why = _glm(y, np.ones((len(y), 1)), _logit(p))
    return Estimate.not_estimable(why) if res is None else _coefficient(res, 0)


def calibration_slope_estimate(y: np.ndarray, p: np.ndarray) -> Estimate:
    """The calibration slope: ``b`` in ``logit P(y) = a + b logit(p)`` (1 when calibrated; below 1: predictions
    too extreme), statsmodels GLM, Wald 95% interval; not estimable under separation (see :func:`separation`)."""
    why = separation(y, p)
    if why:
        return Estimate.not_estimable(why)
    y, p = _arrays(y, p, probability=True)
    x = _logit(p)
    res, why = _glm(y, np.column_stack([np.ones_like(x), x]), None)
    return Estimate.not_estimable(why) if res is None else _coefficient(res, 1)


def calibration_intercept(y: np.ndarray, p: np.ndarray) -> float:
    """Point value of :func:`calibration_intercept_estimate` (NaN when not estimable)."""
    return calibration_intercept_estimate(y, p).value


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """Point value of :func:`calibration_slope_estimate` (NaN when not estimable)."""
    return calibration_slope_estimate(y, p).value


METRICS = {
    "auc": auc,
    "pr_auc": pr_auc,
    "brier": brier,
    "calibration_intercept": calibration_intercept,
    "calibration_slope": calibration_slope,
    "observed_expected": observed_expected,
}
#: Metrics with a model-based (Wald) interval from one fit instead of a bootstrap.
FITTED = {"calibration_intercept": calibration_intercept_estimate, "calibration_slope": calibration_slope_estimate}


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` resamples (with replacement) of ``range(n)``, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n))


def bootstrap_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each row is drawn in each resample (``n_boot`` x ``n``): a resample as row weights."""
    return np.stack([np.bincount(i, minlength=n) for i in idx]).astype(float) if len(idx) else np.zeros((0, n))


def weighted_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """AUC of ``p`` under each row of weights ``w`` (``k`` x ``n``), all at once; equal to scikit-learn's
    ``roc_auc_score(y, p, sample_weight=w[k])`` (ties count one half), NaN where a class has no weight."""
    y, p = _arrays(y, p)
    w = np.atleast_2d(np.asarray(w, dtype=float))
    order = np.argsort(p, kind="mergesort")
    ps, ys, ws = p[order], y[order], w[:, order]
    starts = np.r_[0, np.flatnonzero(np.diff(ps)) + 1]
    pos = np.add.reduceat(np.where(ys, ws, 0.0), starts, axis=1) if len(ps) else np.zeros((len(w), 0))
    neg = np.add.reduceat(np.where(ys, 0.0, ws), starts, axis=1) if len(ps) else np.zeros((len(w), 0))
    below = np.cumsum(neg, axis=1) - neg
    u = np.sum(pos * (below + 0.5 * neg), axis=1)
    w1, w0 = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((w1 > 0) & (w0 > 0), u / (w1 * w0), np.nan)


def weighted_average_precision(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average precision of ``p`` under each row of weights ``w``, all at once; equal to scikit-learn's
    ``average_precision_score(y, p, sample_weight=w[k])``, NaN where the outcomes have no weight."""
    y, p = _arrays(y, p)
    w = np.atleast_2d(np.asarray(w, dtype=float))
    if len(p) == 0:
        return np.full(len(w), np.nan)
    order = np.argsort(-p, kind="mergesort")
    ps, ys, ws = p[order], y[order], w[:, order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tps = np.cumsum(np.where(ys, ws, 0.0), axis=1)[:, last]
    fps = np.cumsum(np.where(ys, 0.0, ws), axis=1)[:, last]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tps + fps > 0, tps / (tps + fps), 0.0)
        recall = tps / tps[:, -1:]
        ap = np.sum(np.diff(np.c_[np.zeros(len(w)), recall], axis=1) * precision, axis=1)
    return np.where(tps[:, -1] > 0, ap, np.nan)


def _replicates(metric: str, y: np.ndarray, p: np.ndarray, idx: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The metric on each bootstrap resample (vectorised over resamples where the metric is a weighted sum)."""
    if metric == "auc":
        return weighted_auc(y, p, counts)
    if metric == "pr_auc":
        return weighted_average_precision(y, p, counts)
    p = np.clip(p, 0.0, 1.0) if metric in ("brier", "observed_expected") else p
    if metric == "brier":
        return counts @ ((p - y) ** 2) / len(y)
    if metric == "observed_expected":
        e = counts @ p
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.where(e >= MIN_EXPECTED, (counts @ y.astype(float)) / e, np.nan)
    return np.array([METRICS[metric](y[i], p[i]) for i in idx])


def _why_not(metric: str, y: np.ndarray, p: np.ndarray) -> str:
    if metric == "observed_expected":
        return NOT_ESTIMABLE_FEW_EXPECTED
    if metric == "pr_auc":
        return NOT_ESTIMABLE_NO_OUTCOME
    return NOT_ESTIMABLE_ONE_CLASS


def _percentile(point: float, boots: np.ndarray, n_boot: int, level: float, why: str) -> Estimate:
    if math.isnan(point):
        return Estimate.not_estimable(why)
    b = boots[np.isfinite(boots)]
    if len(b) < max(10, n_boot // 4):
        return Estimate(point, float("nan"), float("nan"), None)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return Estimate(point, float(min(point, np.percentile(b, lo))), float(max(point, np.percentile(b, hi))))


def with_ci(y: np.ndarray, p: np.ndarray, *, n_boot: int = 200, seed: int = 0, level: float = 0.95,
            metrics: tuple[str, ...] = tuple(METRICS)) -> dict[str, Estimate]:
    """Each metric with a 95% interval: percentile bootstrap over the rows for discrimination, the Brier score and
    observed/expected; the GLM's Wald interval for the calibration intercept and slope. Intervals are finite, or
    the estimate says why it is not estimable."""
    y, p = _arrays(y, p)
    if len(y) == 0:
        return {m: Estimate.not_estimable("no rows") for m in metrics}
    out: dict[str, Estimate] = {}
    idx = bootstrap_indices(len(y), n_boot, seed)
    counts = bootstrap_counts(idx, len(y))
    for m in metrics:
        if m in FITTED:
            out[m] = FITTED[m](y, p)
            continue
        out[m] = _percentile(METRICS[m](y, p), _replicates(m, y, p, idx, counts), n_boot, level,
                             _why_not(m, y, p))
    return out


@dataclass(frozen=True)
class PairedDifference:
    """Metric of ``a`` minus metric of ``b`` on the same rows, with the paired bootstrap interval."""

    a: Estimate
    b: Estimate
    difference: Estimate


def paired_bootstrap(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, *, metric: str = "auc", n_boot: int = 200,
                     seed: int = 0, level: float = 0.95) -> PairedDifference:
    """``metric(y, p_a) - metric(y, p_b)`` with a paired percentile bootstrap: each resample draws the same rows for
    both scores, so the interval of the difference allows for their correlation."""
    y, p_a = _arrays(y, p_a)
    _, p_b = _arrays(y, p_b)
    f = METRICS[metric]
    if len(y) == 0:
        ne = Estimate.not_estimable("no rows")
        return PairedDifference(ne, ne, ne)
    idx = bootstrap_indices(len(y), n_boot, seed)
    counts = bootstrap_counts(idx, len(y))
    ba, bb = _replicates(metric, y, p_a, idx, counts), _replicates(metric, y, p_b, idx, counts)
    pa, pb = f(y, p_a), f(y, p_b)
    why = _why_not(metric, y, p_a)
    return PairedDifference(_percentile(pa, ba, n_boot, level, why), _percentile(pb, bb, n_boot, level, why),
                            _percentile(pa - pb, ba - bb, n_boot, level, why))


def risk_groups(p: np.ndarray, bins: int = 10) -> np.ndarray:
    """Groups (1 = lowest) of predicted risk: tenths by default (fewer when many predictions are tied)."""
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return np.zeros(0, dtype=int)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    return np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0)) + 1


def reliability(y: np.ndarray, p: np.ndarray, *, bins: int = 10, n_boot: int = 200, seed: int = 0,
                level: float = 0.95) -> pd.DataFrame:
    """The reliability curve: predicted against observed risk in groups (tenths) of predicted risk.

    Columns: ``bin``, ``n``, ``events``, ``mean_predicted``, ``observed``, ``observed_lower``, ``observed_upper``
    (bootstrap interval of the observed rate within the group) and ``observed_expected``.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return pd.DataFrame(columns=["bin", "n", "events", "mean_predicted", "observed", "observed_lower",
                                     "observed_upper", "observed_expected"])
    which = risk_groups(p, bins) - 1
    rng = np.random.default_rng(seed)
    rows = []
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    for b in range(int(which.max()) + 1):
        m = which == b
        n = int(m.sum())
        if n == 0:
            continue
        yb = y[m]
        boots = yb[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        rows.append({"bin": b + 1, "n": n, "events": int(yb.sum()), "mean_predicted": float(p[m].mean()),
                     "observed": float(yb.mean()), "observed_lower": float(np.percentile(boots, lo)),
                     "observed_upper": float(np.percentile(boots, hi)),
                     "observed_expected": float(yb.sum() / p[m].sum()) if p[m].sum() > 0 else float("nan")})
    return pd.DataFrame(rows)


def subgroup_table(frame: pd.DataFrame, score: str, *, by: tuple[str, ...], outcome: str = "outcome",
                   n_boot: int = 100, seed: int = 0) -> pd.DataFrame:
    """Performance by subgroup: for each column in ``by`` and each of its values, n, events, AUC (with CI),
    Brier score, mean predicted and observed risk, and the observed/expected ratio."""
    rows = []
    for col in by:
        for val, g in frame.groupby(col, sort=True, dropna=False):
            y = g[outcome].to_numpy(bool)
            p = g[score].to_numpy(float)
            est = with_ci(y, p, n_boot=n_boot, seed=seed, metrics=("auc",))["auc"]
            rows.append({"group": col, "value": str(val), "n": int(len(g)), "events": int(y.sum()),
                         "auc": est.value, "auc_lower": est.lower, "auc_upper": est.upper,
                         "brier": brier(y, p), "mean_predicted": float(p.mean()), "observed": float(y.mean()),
                         "observed_expected": observed_expected(y, p)})
    return pd.DataFrame(rows)
