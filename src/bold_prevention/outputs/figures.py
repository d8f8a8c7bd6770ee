"""Single figures in text (model cards, notes, JSON summaries, page captions) through the same rules as the tables.

A table goes through :mod:`.disclosure`; a number written into a sentence or a JSON field ("Based on 1,235 cases",
``"persons": 812``, ``"prevalence": 0.237``) must be protected the same way, or it undoes the table's rounding:

:func:`protected_count`
    ``None`` (withheld) below the threshold, otherwise rounded to the rule set's base.
:func:`protected_share`
    a proportion ``numerator / denominator``, withheld when the numerator, the denominator or the complement
    (denominator - numerator) is below the threshold. It is computed from the unrounded counts and published on a
    grid fixed by the published (rounded) denominator alone: a step of 1, 2 or 5 times a power of ten, the
    smallest for which ``step x denominator`` is at least twice the rounding base, so the share and the rounded
    denominator together leave at least two rounding bases of candidate numerators. Where the numerator is
    published as a rounded count too, the share is computed from the published counts instead (as
    :func:`~.disclosure.rate_table` does): a share from exact counts beside a rounded numerator could narrow it
    below the rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .rules import RuleSet, get_rules

__all__ = ["protected_count", "protected_share", "share_step", "Share"]


def protected_count(n: float | int | None, rules: RuleSet | str | None = None) -> int | None:
    """A count as it may be published: ``None`` when low (under the threshold, or a disclosive zero), otherwise
    rounded to the nearest multiple of the rounding base."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return None
    r = get_rules(rules)
    return None if r.is_low(n) else int(r.round_count(float(n)))


def share_step(published_denominator: float, rules: RuleSet | str | None = None, *,
               finest: float = 0.001) -> float:
    """The grid a share over this published denominator is published on: the smallest of 1, 2 or 5 times a power of
    ten (no finer than ``finest``) for which ``step x denominator`` is at least twice the rounding base."""
    r = get_rules(rules)
    if not r.round_base:
        return finest
    need = 2 * r.round_base / max(float(published_denominator), 1.0)
    if need >= 1:
        return 1.0
    prev = 1.0
    for exp in range(0, -10, -1):
        for m in (5, 2, 1):
            step = m * 10.0 ** exp
            if step < need:
                return max(prev, finest)
            prev = step
    return finest  # pragma: no cover


@dataclass(frozen=True)
class Share:
    """A published share: ``value`` on a grid of ``step`` (``decimals`` places suffice to show it)."""

    value: float
    step: float
    decimals: int
    from_published_counts: bool

    def text(self, *, percent: bool = False) -> str:
        if percent:
            return f"{100 * self.value:.{max(self.decimals - 2, 0)}f}%"
        return f"{self.value:.{self.decimals}f}"


def protected_share(numerator: int, denominator: int, rules: RuleSet | str | None = None, *,
                    numerator_published: bool = False, decimals: int = 3) -> Share | None:
    """The share ``numerator / denominator`` as it may be published, or ``None`` when withheld (numerator,
    denominator or complement under the threshold). See the module docstring for the precision."""
    r = get_rules(rules)
    x, n = int(numerator), int(denominator)
    if n <= 0 or r.is_low(x) or r.is_low(n) or r.is_low(n - x):
        return None
    n_pub = r.round_count(float(n))
    if numerator_published and r.round_base:
        value = r.round_count(float(x)) / n_pub
        return Share(round(value, decimals), 10.0 ** -decimals, decimals, True)
    step = share_step(n_pub, r, finest=10.0 ** -decimals)
    value = round(math.floor(x / n / step + 0.5) * step, decimals)
    dec = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    return Share(value, step, min(dec, decimals), False)
