"""The Wilson score interval of a proportion: the one home of it (linkage quality, cohort profiles, model cards)."""

from __future__ import annotations

import math
from typing import Any

Z95 = 1.959963984540054


def wilson(successes: float, n: float, z: float = Z95, *, empty: Any = float("nan")) -> tuple[Any, Any]:
    """Wilson score interval of ``successes / n`` (``n`` may be an effective, non-integer sample size, and
    ``successes`` fractional, e.g. a published rate times its published count); ``(empty, empty)`` when ``n`` is 0.
    The interval always holds the point estimate (exact at 0 and 1)."""
    if n <= 0:
        return empty, empty
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))
    return (0.0 if successes <= 0 else lo), (1.0 if successes >= n else hi)
