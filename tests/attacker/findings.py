"""Findings: what an attack learnt about one cell, and how tests judge them against the truth."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NARROW = 4  # a bound this wide or narrower pins a count (rounding to 5 itself leaves a width of 4)


@dataclass(frozen=True)
class Finding:
    """The attacker's bound ``lower <= true value <= upper`` for one cell of one release."""

    release: str
    table: str
    row: str
    column: str
    lower: float
    upper: float
    attack: str = "lp"
    note: str = ""

    @property
    def width(self) -> float:
        return self.upper - self.lower

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.release, self.table, self.row, self.column)

    def narrow(self, width: float = NARROW) -> bool:
        return self.width <= width

    def __str__(self) -> str:
        up = "inf" if math.isinf(self.upper) else f"{self.upper:g}"
        return (f"[{self.attack}] {self.release}:{self.table}[{self.row!r}, {self.column!r}] in "
                f"[{self.lower:g}, {up}]" + (f" ({self.note})" if self.note else ""))


def definitely_small(finding: Finding, threshold: float) -> bool:
    """The bound lies entirely below the threshold: the attacker knows the cell is small without the truth."""
    return finding.upper < threshold


def judge(finding: Finding, truth: Mapping[tuple, float], threshold: float, width: float = NARROW) -> str:
    """``disclosure`` (narrow, right and small), ``unsound`` (the truth lies outside the bound: a wrong assumption),
    ``unknown`` (no truth for the cell) or ``safe``."""
    if finding.key not in truth:
        return "unknown"
    v = truth[finding.key]
    if not (finding.lower - 1e-6 <= v <= finding.upper + 1e-6):
        return "unsound"
    if finding.width <= width and v < threshold:
        return "disclosure"
    return "safe"


def disclosures(findings: Iterable[Finding], truth: Mapping[tuple, float], threshold: float | Mapping[str, float],
                width: float = NARROW) -> list[Finding]:
    """Findings that recover a small count: bound width <= ``width``, truth inside it and under the threshold
    (``threshold`` a number, or per release id)."""
    out = []
    for f in findings:
        t = threshold[f.release] if isinstance(threshold, Mapping) else threshold
        if judge(f, truth, t, width) == "disclosure":
            out.append(f)
    return out


def unsound(findings: Iterable[Finding], truth: Mapping[tuple, float]) -> list[Finding]:
    """Findings whose bound excludes the truth (the attacker assumed something false)."""
    return [f for f in findings if judge(f, truth, math.inf) == "unsound"]
