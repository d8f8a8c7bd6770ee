"""Attack c: differencing between releases.

The same table (same name, same rows and columns) in two releases of one project, e.g. the spine at another linkage
band or a later snapshot, holds nearly the same counts. A cell suppressed in one release and published as ``v`` in
the other is guessed to lie in the rounding interval of ``v`` (widened by ``delta``, the difference the intruder
allows between releases), intersected with what the suppressed release itself says about the cell (its own bound
from the linear attack, where given). Where the two are inconsistent the guess is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .findings import Finding
from .lp import suppressed_lower
from .reader import PUBLISHED, SUPPRESSED, Release


def differencing_attack(releases: Iterable[Release], *, delta: float = 0.0,
                        own: Iterable[Finding] = ()) -> list[Finding]:
    rels = list(releases)
    own_bound = {f.key: (f.lower, f.upper) for f in own}
    out: list[Finding] = []
    for a in rels:
        for b in rels:
            if a is b:
                continue
            for name, ta in a.tables.items():
                tb = b.tables.get(name)
                if tb is None or not ta.is_count or not tb.is_count:
                    continue
                rows = {r: i for i, r in enumerate(tb.rows)}
                cols = {c: j for j, c in enumerate(tb.cols)}
                for i, r in enumerate(ta.rows):
                    for j, c in enumerate(ta.cols):
                        if ta.status[i, j] != SUPPRESSED or r not in rows or c not in cols:
                            continue
                        ib, jb = rows[r], cols[c]
                        if tb.status[ib, jb] != PUBLISHED:
                            continue
                        v = tb.values[ib, jb]
                        rb = tb.rules.get("round_base") or 0
                        lo = v - rb // 2 - delta if rb else v - delta
                        hi = v + math.ceil(rb / 2) - 1 + delta if rb else v + delta
                        lo = max(lo, suppressed_lower(ta.rules))
                        olo, ohi = own_bound.get(ta.key(i, j), (-math.inf, math.inf))
                        lo, hi = max(lo, olo), min(hi, ohi)
                        if lo > hi:
                            continue
                        out.append(Finding(a.id, name, r, c, float(lo), float(hi), "differencing",
                                           f"published {v:g} in release {b.id}"))
    return out
