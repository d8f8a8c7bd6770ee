"""Performance measures for early-warning models, with bootstrap confidence intervals.

Discrimination (AUC, PR-AUC), overall accuracy (Brier score), calibration (calibration-in-the-large intercept,
calibration slope, observed/expected ratio) and a reliability curve, as standard validation reports give them.
Everything here takes arrays of outcomes and predicted probabilities and returns aggregates only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted as one half); NaN when only one class is present."""
    y = np.asarray(y, dtype=bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(np.asarray(p, dtype=float))
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (as scikit-learn computes it); NaN with no
    positive outcome."""
    y = np.asarray(y, dtype=bool)
    if not y.any():
        return float("nan")
    p = np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tps = np.cumsum(ys)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between predicted probability and outcome."""
    y = np.asarray(y, dtype=float)
    return float(np.mean((np.clip(np.asarray(p, dtype=float), 0, 1) - y) ** 2)) if len(y) else float("nan")


def calibration_intercept(y: np.ndarray, p: np.ndarray, iters: int = 50) -> float:
    """Calibration-in-the-large: the intercept ``a`` of ``logit P(y) = a + logit(p)`` (0 when calibrated)."""
    y = np.asarray(y, dtype=float)
    off = _logit(np.asarray(p, dtype=float))
    a = 0.0
    for _ in range(iters):
        q = 1 / (1 + np.exp(-np.clip(a + off, -35, 35)))
        g = np.sum(y - q)
        h = np.sum(q * (1 - q))
        if h <= 0:
            return float("nan")
        step = g / h
        a += step
        if abs(step) < 1e-10:
            break
    return float(a)


def _loglik(y: np.ndarray, eta: np.ndarray) -> float:
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def calibration_slope(y: np.ndarray, p: np.ndarray, iters: int = 100) -> float:
    """The slope ``b`` of ``logit P(y) = a + b logit(p)`` (1 when calibrated; below 1: predictions too extreme).

    Logistic regression by Newton's method with step halving (the log-likelihood never decreases).
    """
    y = np.asarray(y, dtype=float)
    x = _logit(np.asarray(p, dtype=float))
    if y.all() or not y.any() or np.ptp(x) == 0:
        return float("nan")
    X = np.column_stack([np.ones_like(x), x])
    beta = np.array([0.0, 1.0])
    ll = _loglik(y, X @ beta)
    for _ in range(iters):
        eta = X @ beta
        q = 1 / (1 + np.exp(-np.clip(eta, -35, 35)))
        w = q * (1 - q)
        H = X.T @ (X * w[:, None])
        g = X.T @ (y - q)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            return float("nan")
        t = 1.0
        while t > 1e-8:
            cand = beta + t * step
            cl = _loglik(y, X @ cand)
            if cl >= ll - 1e-12:
                break
            t /= 2
        beta, improved = cand, cl - ll
        ll = cl
        if np.max(np.abs(t * step)) < 1e-9 or abs(improved) < 1e-12:
            break
    return float(beta[1])


def observed_expected(y: np.ndarray, p: np.ndarray) -> float:
    """Observed events over expected events (sum of predicted probabilities)."""
    e = float(np.sum(p))
    return float(np.sum(y)) / e if e > 0 else float("nan")


METRICS = {
    "auc": auc,
    "pr_auc": pr_auc,
    "brier": brier,
    "calibration_intercept": calibration_intercept,
    "calibration_slope": calibration_slope,
    "observed_expected": observed_expected,
}


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap confidence interval."""

    value: float
    lower: float
    upper: float

    def as_dict(self) -> dict:
        return {k: (None if (isinstance(v, float) and math.isnan(v)) else round(v, 4)) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        return f"{self.value:.3f} ({self.lower:.3f} to {self.upper:.3f})"


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` resamples (with replacement) of ``range(n)``, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n))


def with_ci(y: np.ndarray, p: np.ndarray, *, n_boot: int = 200, seed: int = 0, level: float = 0.95,
            metrics: tuple[str, ...] = tuple(METRICS)) -> dict[str, Estimate]:
    """Each metric with a percentile bootstrap confidence interval (resampling rows of the test set)."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    point = {m: METRICS[m](y, p) for m in metrics}
    if len(y) == 0:
        return {m: Estimate(float("nan"), float("nan"), float("nan")) for m in metrics}
    idx = bootstrap_indices(len(y), n_boot, seed)
    boots = {m: np.array([METRICS[m](y[i], p[i]) for i in idx]) for m in metrics}
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {}
    for m in metrics:
        b = boots[m][~np.isnan(boots[m])]
        if len(b) < max(10, n_boot // 4) or math.isnan(point[m]):
            out[m] = Estimate(point[m], float("nan"), float("nan"))
        else:
            out[m] = Estimate(point[m], float(np.percentile(b, lo)), float(np.percentile(b, hi)))
    return out


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
