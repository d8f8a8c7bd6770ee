"""Attack b: invert a published Kaplan-Meier table to recover the number of events at each reported step.

Between two reported points the curve falls by the ratio ``rho = S_k / S_{k-1}`` (known to within the rounding of
the published survival). Splitting tied events does not change a Kaplan-Meier product, so ``rho`` is a product of
``(m - 1) / m`` over the events, where ``m`` is the number at risk at each event; those numbers are distinct and lie
between ``n_k - D + 1`` (the number at risk at the reported time ``n_k``, less the events tied there) and
``n_max`` (the number at risk just after the previous point, at most the previous published at-risk and at most
``n_k + D + C``). The product telescopes to bounds: ``1 - D / n_k <= rho <= 1 - D / n_max``, so

    n_k (1 - rho_hi) <= D <= n_max (1 - rho_lo)

with ``n_k`` and ``n_max`` taken from the rounding intervals of the published at-risk numbers. The published (rounded)
events narrow it further. A step is reported when the inversion tells more than the published events column alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .findings import Finding
from .reader import PUBLISHED, Release, Table

AT_RISK, EVENTS, CENSORED, SURVIVAL = "At risk", "Events", "Censored", "Survival"


def _interval(t: Table, i: int, col: str) -> tuple[float, float]:
    j = t.cols.index(col)
    if t.status[i, j] != PUBLISHED:
        return 0.0, math.inf
    v = t.values[i, j]
    b = t.rules.get("round_base") or 0
    if not b:
        return v, v
    return max(0.0, v - b // 2), v + math.ceil(b / 2) - 1


def _steps(t: Table) -> list[list[int]]:
    """Row indices of each group's curve, in order."""
    groups: dict[str, list[int]] = {}
    for i, parts in enumerate(t.row_parts):
        groups.setdefault(parts[0] if len(parts) > 1 else "", []).append(i)
    return list(groups.values())


def from_published_counts(t: Table, rows: list[int], dec: int) -> bool:
    """Whether a curve's survival column is just the product-limit over its published (rounded) counts: then it
    says nothing the counts do not, and reading it as the true curve would mislead the intruder."""
    ja, je, js = t.cols.index(AT_RISK), t.cols.index(EVENTS), t.cols.index(SURVIVAL)
    s = 1.0
    for i in rows[1:]:
        if t.status[i, ja] != PUBLISHED or t.status[i, je] != PUBLISHED or t.values[i, ja] <= 0:
            return False
        s *= 1 - t.values[i, je] / t.values[i, ja]
        if t.status[i, js] == PUBLISHED and abs(round(s, dec) - t.values[i, js]) > 0.6 * 10.0 ** (-dec):
            return False
    return len(rows) > 1


def km_table_bounds(t: Table) -> list[tuple[int, float, float, float, float]]:
    """(row, lower, upper, published lower, published upper) of the events at each reported step."""
    if not all(c in t.cols for c in (AT_RISK, EVENTS, CENSORED, SURVIVAL)):
        return []
    js = t.cols.index(SURVIVAL)
    dec = t.decimals(js) or 3
    h = 0.5 * 10.0 ** (-dec)
    out = []
    for rows in _steps(t):
        if from_published_counts(t, rows, dec):
            continue
        for prev, i in zip(rows, rows[1:], strict=False):
            if t.status[i, js] != PUBLISHED or t.status[prev, js] != PUBLISHED:
                continue
            s0, s1 = t.values[prev, js], t.values[i, js]
            h0 = 0.0 if (prev == rows[0] and s0 == 1.0) else h  # the curve starts at exactly 1
            if s0 - h0 <= 0:
                continue
            rho_lo = max(0.0, (s1 - h) / (s0 + h0))
            rho_hi = min(1.0, (s1 + h) / (s0 - h0))
            nk_lo, nk_hi = _interval(t, i, AT_RISK)
            nk_lo = max(nk_lo, float(t.rules.get("survival_min_at_risk", 1)))
            np_lo, np_hi = _interval(t, prev, AT_RISK)
            d_lo, d_hi = _interval(t, i, EVENTS)
            c_lo, c_hi = _interval(t, i, CENSORED)
            n_max = min(np_hi, nk_hi + d_hi + c_hi)
            lo = max(d_lo, math.ceil(nk_lo * (1 - rho_hi) - 1e-9))
            hi = min(d_hi, math.floor(n_max * (1 - rho_lo) + 1e-9))
            if lo <= hi:
                out.append((i, float(lo), float(hi), d_lo, d_hi))
    return out


def km_attack(releases: Release | Iterable[Release], *, only_gain: bool = True) -> list[Finding]:
    """Bounds on the events at each reported step of every survival table. With ``only_gain`` only the steps where
    the inversion narrows what the published events column says."""
    rels = [releases] if isinstance(releases, Release) else list(releases)
    out: list[Finding] = []
    for rel in rels:
        for t in rel.tables.values():
            if t.kind != "survival":
                continue
            for i, lo, hi, plo, phi in km_table_bounds(t):
                if only_gain and hi - lo >= phi - plo:
                    continue
                out.append(Finding(t.release, t.name, t.rows[i], EVENTS, lo, hi, "km",
                                   f"published events in [{plo:g}, {phi:g}]"))
    return out


def published_small_events(releases: Release | Iterable[Release]) -> list[Finding]:
    """The published events of survival tables as bounds from their rounding alone (no attack): a published
    rounded count of 0 or 5 already says the true count is small."""
    rels = [releases] if isinstance(releases, Release) else list(releases)
    out = []
    for rel in rels:
        for t in rel.tables.values():
            if t.kind != "survival" or EVENTS not in t.cols:
                continue
            for i in range(t.shape[0]):
                if t.status[i, t.cols.index(EVENTS)] == PUBLISHED and t.row_parts[i][-1] not in ("0", "0.0"):
                    lo, hi = _interval(t, i, EVENTS)
                    out.append(Finding(t.release, t.name, t.rows[i], EVENTS, lo, hi, "published"))
    return out
