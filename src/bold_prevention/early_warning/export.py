"""Model results through disclosure control: every number of a model card is a disclosure-checked output.

:func:`evaluation_outputs` turns a model's evaluation (test-period metrics of both models, the reliability curve, the
performance by sex, age band and ethnicity, the linkage bands, the oracle comparison, the baseline coefficients) into
:class:`~bold_prevention.outputs.CheckedOutput` objects: model metrics are published only with enough cases, events
and non-events; counts are checked and rounded; the mean predicted risk per group is a checked magnitude table;
coefficients pass the degrees-of-freedom rule. No individual prediction or residual goes in (the disclosure module
refuses them). :func:`read_metrics` and :func:`read_rows` read the published values back for the model card, and
:func:`write_model_release` writes the HTML report, the accessible spreadsheet and the output-checking folder.

The card's own figures go through the same rules (:mod:`bold_prevention.outputs.figures`): :func:`published_count`
rounds a count or withholds it below the threshold, :func:`published_counts` withholds an outcome count whose
complement (non-outcomes) is low, and :func:`published_share` publishes a prevalence only when its numerator,
denominator and complement reach the threshold, at a precision that cannot give the count back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..outputs import (
    CheckedOutput,
    check_counts,
    check_model,
    check_model_metrics,
    get_rules,
    magnitude_table,
    rate_table,
    write_release,
)
from ..outputs.figures import protected_count, protected_share
from ..outputs.intervals import wilson
from .metrics import Estimate

WITHHELD = "withheld by disclosure control (too few cases, outcomes or non-outcomes)"


def rules():
    """The project's disclosure rules (default profile)."""
    return get_rules()


def metrics_output(est: Mapping[str, Estimate], *, n: int, events: int, title: str, name: str) -> CheckedOutput:
    """Point estimates and bootstrap limits of model metrics, checked for the number of cases and events."""
    vals: dict[str, float] = {}
    for m, e in est.items():
        for suffix, v in (("", e.value), (" lower", e.lower), (" upper", e.upper)):
            if not (isinstance(v, float) and math.isnan(v)):
                vals[f"{m}{suffix}"] = float(v)
    if not vals:
        vals = {"auc": float("nan")}
    return check_model_metrics(vals, n=int(n), n_events=int(events), title=title, name=name)


def read_metrics(out: CheckedOutput) -> dict[str, Any]:
    """``{metric: {value, lower, upper}}`` from a checked metrics output, or ``{"withheld": reason}``."""
    data, sym = out.data["Value"], out.symbols["Value"]
    if (sym != "").all():
        return {"withheld": WITHHELD}
    res: dict[str, dict] = {}
    for k in data.index:
        base, _, part = str(k).rpartition(" ")
        if part in ("lower", "upper") and base:
            res.setdefault(base, {})[part] = _num(data[k])
        else:
            res.setdefault(str(k), {})["value"] = _num(data[k])
    return {m: {"value": v.get("value"), "lower": v.get("lower"), "upper": v.get("upper")} for m, v in res.items()}


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, 4)


def read_rows(out: CheckedOutput) -> list[dict]:
    """Rows of a checked table as dicts (published values; None where withheld), index levels included."""
    frame = out.data.copy()
    mask = out.symbols != ""
    frame = frame.astype(object).where(~mask, None)
    frame = frame.reset_index()
    return [{str(k): (_num(v) if isinstance(v, float | np.floating | int | np.integer) and not isinstance(v, bool)
                      else v) for k, v in r.items()} for r in frame.to_dict("records")]


def published_count(n: int) -> int | None:
    """A count as published: None when low, else rounded by the rules."""
    return protected_count(n, rules())


def published_counts(n: int, events: int) -> dict[str, int | None]:
    """``{"n", "events"}`` as published: each rounded or withheld, and the outcome count withheld too when the
    non-outcomes (``n - events``) are below the threshold (the two rounded counts would bound them)."""
    r = rules()
    return {"n": published_count(n), "events": None if r.is_low(n - events) else published_count(events)}


def published_share(numerator: int, denominator: int, *, numerator_published: bool = False) -> float | None:
    """A prevalence (share) as published, or None when withheld; see :func:`~bold_prevention.outputs.figures.
    protected_share` (computed from the exact counts, on a grid set by the published denominator; from the published
    counts where the numerator is published as a count too)."""
    sh = protected_share(numerator, denominator, rules(), numerator_published=numerator_published)
    return None if sh is None else sh.value


def observed_interval(observed: float, published_n: int | None) -> tuple[float | None, float | None]:
    """Wilson 95% interval of a published observed rate over its published (rounded) count: from published figures
    only, so it cannot narrow the counts behind them."""
    if observed is None or not published_n:
        return None, None
    lo, hi = wilson(float(observed) * published_n, float(published_n))
    return float(lo), float(hi)


def reliability_outputs(y: np.ndarray, p: np.ndarray, bins: np.ndarray, *, title: str, name: str
                        ) -> tuple[CheckedOutput, CheckedOutput]:
    """The reliability curve: observed rate per group of predicted risk (a checked rate) and the mean predicted risk
    (a checked magnitude table)."""
    df = pd.DataFrame({"Group of predicted risk": bins, "outcome": y.astype(int), "predicted risk": p, "one": 1})
    lv = {"Group of predicted risk": sorted(set(bins))}
    ev = check_counts(df, "outcome", "Group of predicted risk", title=f"{title}: outcomes", margins=False,
                      levels=lv, name=f"{name}_events")
    n = check_counts(df, "one", "Group of predicted risk", title=f"{title}: index events", margins=False, levels=lv,
                     name=f"{name}_n")
    observed = rate_table(ev, n, per=1, title=f"{title}: observed rate", name=f"{name}_observed", decimals=3)
    mean = magnitude_table(df, "predicted risk", "Group of predicted risk", stat="mean", margins=False, levels=lv,
                           title=f"{title}: mean predicted risk", name=f"{name}_predicted")
    return observed, mean


def coefficients_output(coefs: list[dict], *, n_train: int, title: str, name: str) -> CheckedOutput:
    """The baseline's coefficients and odds ratios, checked for residual degrees of freedom."""
    frame = pd.DataFrame({"Coefficient": [c["coefficient"] for c in coefs],
                          "Odds ratio": [c["odds_ratio"] for c in coefs]},
                         index=pd.Index([c["term"] for c in coefs], name="Term", dtype=object))
    return check_model(frame, dof=int(n_train - len(coefs)), n_obs=int(n_train), title=title, name=name)


def write_model_release(outputs: list[CheckedOutput], folder: str | Path, *, title: str, ledger=None) -> Path:
    """The report, spreadsheet and output-checking files of a model's results (aggregates only), audited with the
    project's earlier releases when ``ledger`` is given."""
    paths = write_release(outputs, folder, title=title, overwrite=True, charts=False, ledger=ledger,
                          subtitle="Early-warning model: performance on the test period (decision support only)",
                          command="bold ew train")
    return paths.folder
