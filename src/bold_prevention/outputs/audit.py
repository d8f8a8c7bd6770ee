"""The release-wide disclosure audit: every count of a release, and of the project's earlier releases, as one system.

Each table is safe on its own when it leaves :mod:`.disclosure`; a release is safe only if nothing suppressed can be
worked out by combining what it and the earlier releases publish. This module plays the attacker exactly:

* every count cell is a variable, identified by its *key* (what it counts: the population and its version, and the
  value of each dimension), so the same number published in several tables (a spine population repeated beside each
  cohort, a margin shared by two tables, the same table published again by another command) is one variable;
* a published count ``v`` rounded to base ``b`` says the truth lies in ``[v - b/2, v + b/2)``, and (since it was not
  suppressed) that it is at least the threshold; a suppressed count is at least 0 (1 when zeros are published);
* each table's totals are equations over its cells (only totals that are sums: a table whose columns count different
  things has no total across them); a published rate ``r`` of ``k`` per ``n`` (to ``d`` decimals) says
  ``(r - h) n <= per k <= (r + h) n`` with ``h`` half a unit of the last decimal;
* for every suppressed cell that is a primary risk (below the threshold, or a zero), the attacker's tightest bounds
  are computed by linear programming over its connected part of the system (HiGHS), and confirmed over the integers
  where the linear optimum is fractional (branch and bound, HiGHS again). A cell is protected when its bounds are at
  least ``rules.protection_width`` apart (the rounding base by default: an attacker who can only say "between 3 and
  7" has learnt no more than the rounding tells about any published count).

:func:`protect_release` then suppresses further cells (only cells that no earlier release published) until every
primary cell is protected, re-checks, and returns the outputs with the added suppressions in their logs. What the
audit read and decided is kept in :class:`AuditReport` for the check log.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DisclosureError
from .disclosure import SUPPRESSED, CheckedOutput, _label, _reseal
from .rules import LINKED_TABLES, MIN_THRESHOLD, ZEROS, RuleSet

COUNT_KINDS = ("frequency", "series")
PRIMARY_RULES = (MIN_THRESHOLD, ZEROS, "consistent-suppression")


# --- the system in key space -------------------------------------------------------------------------------------

@dataclass
class CellRecord:
    """One published or suppressed count cell, as the ledger stores it (no true value of a suppressed cell)."""

    key: str
    family: str
    table: str
    row: str
    column: str
    status: str            # published | suppressed
    value: float | None    # the published (rounded) value
    primary: bool          # a primary risk (below the threshold, a zero, or suppressed before)
    threshold: int
    round_base: int | None
    zeros_disclosive: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CellSystem:
    """The count cells, additivity constraints and rate relations of one release (in key space)."""

    cells: list[CellRecord] = field(default_factory=list)
    constraints: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    relations: list[tuple[str, str, float, float, int]] = field(default_factory=list)  # num, den, per, r, decimals

    def as_dict(self) -> dict[str, Any]:
        return {"cells": [c.as_dict() for c in self.cells],
                "constraints": [[p, list(ch)] for p, ch in self.constraints],
                "relations": [list(r) for r in self.relations]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CellSystem:
        return cls([CellRecord(**c) for c in d.get("cells", [])],
                   [(p, tuple(ch)) for p, ch in d.get("constraints", [])],
                   [tuple(r) for r in d.get("relations", [])])  # type: ignore[misc]


def _is_primary(rule_text: str) -> bool:
    return any(r in PRIMARY_RULES for r in str(rule_text).split(";"))


def system_of(outputs: Sequence[CheckedOutput]) -> CellSystem:
    """The key-space system of a set of checked outputs (count cells, their totals, and rates over them)."""
    sysm = CellSystem()
    for out in outputs:
        st = out.audit_structure()
        keys = st["keys"]
        if keys is None:
            continue
        fam = st["family_keys"]
        syms = out.symbols.to_numpy()
        data = out.data.to_numpy()
        crules = out.cell_rules.to_numpy()
        r = out.rules
        if out.kind in COUNT_KINDS:
            for i, row in enumerate(out.data.index):
                for j, col in enumerate(out.data.columns):
                    if syms[i, j] not in ("", SUPPRESSED):
                        continue
                    pub = syms[i, j] == ""
                    sysm.cells.append(CellRecord(
                        str(keys[i, j]), str(fam[i, j]), out.family, _label(row), _label(col),
                        "published" if pub else "suppressed", float(data[i, j]) if pub else None,
                        (not pub) and _is_primary(crules[i, j]), r.threshold, r.uncertainty_base, r.zeros_disclosive))
            for parent, children in st["constraints"]:
                sysm.constraints.append((str(keys[parent]), tuple(str(keys[c]) for c in children)))
    for out in outputs:
        st = out.audit_structure()
        data = out.data.to_numpy()
        for pos, num_key, den_key, per, dec in st["relations"]:
            v = data[pos]
            if v == v:
                sysm.relations.append((str(num_key), str(den_key), float(per), float(v), int(dec)))
    return sysm


def merge(systems: Iterable[CellSystem]) -> CellSystem:
    out = CellSystem()
    for s in systems:
        out.cells += s.cells
        out.constraints += s.constraints
        out.relations += s.relations
    return out


# --- bounds ---------------------------------------------------------------------------------------------------------

def published_interval(value: float, round_base: int | None, threshold: int, zeros_disclosive: bool
                       ) -> tuple[float, float]:
    """What a published count tells about its true value: the rounding interval, cut at the threshold."""
    if round_base:
        lo = math.ceil(value - round_base / 2)
        hi = math.ceil(value + round_base / 2) - 1
    else:
        lo = hi = value
    if value == 0 and not zeros_disclosive:
        return 0.0, 0.0  # a published zero is a true zero (1 and 2 would have been suppressed)
    return float(max(lo, threshold)), float(max(hi, threshold))


@dataclass
class Finding:
    """A primary cell the attacker can bound too closely."""

    key: str
    tables: list[str]
    row: str
    column: str
    lower: float
    upper: float

    @property
    def width(self) -> float:
        return self.upper - self.lower


@dataclass
class AuditReport:
    cells: int = 0
    variables: int = 0
    components: int = 0
    targets: int = 0
    milp_solves: int = 0
    lp_solves: int = 0
    #: targets shown protected by integer solutions met while solving others (not solved themselves)
    certified: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    added: list[str] = field(default_factory=list)          # keys suppressed by the audit
    consistent: list[str] = field(default_factory=list)     # keys suppressed because an earlier release did
    width: float = 0.0

    def summary(self) -> str:
        return (f"release-wide audit: {self.cells} count cells as {self.variables} distinct numbers in "
                f"{self.components} linked groups; {self.targets} primary suppressed cells bounded by linear and "
                f"integer programming ({self.lp_solves} LP, {self.milp_solves} integer solves; {self.certified} shown "
                f"protected by solutions met on the way); "
                f"{len(self.added)} further cell(s) suppressed across tables, {len(self.consistent)} for "
                f"consistency with earlier releases; {len(self.findings)} cell(s) left that could be bounded to "
                f"a width under {self.width:g}")


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.p = list(range(n))

    def find(self, x: int) -> int:
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[ra] = rb


@dataclass
class _Model:
    keys: list[str]
    lo: np.ndarray
    hi: np.ndarray
    rows: list[tuple[dict[int, float], float, float]]   # (coefficients, lower, upper)


def _variables(system: CellSystem) -> tuple[dict[str, int], np.ndarray, np.ndarray, set[int], dict[str, list]]:
    index: dict[str, int] = {}
    where: dict[str, list] = defaultdict(list)
    for c in system.cells:
        index.setdefault(c.key, len(index))
        where[c.key].append(c)
    n = len(index)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    primary: set[int] = set()
    for key, cells in where.items():
        k = index[key]
        for c in cells:
            if c.status == "published":
                a, b = published_interval(c.value, c.round_base, c.threshold, c.zeros_disclosive)
                lo[k], hi[k] = max(lo[k], a), min(hi[k], b)
            else:
                lo[k] = max(lo[k], 0.0 if c.zeros_disclosive else 1.0)
                if c.primary:
                    primary.add(k)
    return index, lo, hi, primary, where


def _hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Convex hull (counter-clockwise, no collinear points) of integer points."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o, a, b) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _rate_rows(k: int, n: int, per: float, r: float, h: float, lo: np.ndarray, hi: np.ndarray
               ) -> list[tuple[dict[int, float], float, float]] | None:
    """The exact integer form of a published rate over a boxed numerator and denominator: the convex hull of the
    (numerator, denominator) pairs the rate allows, as rows with integer coefficients (so the linear programme's
    optima are integer far more often), and the boxes tightened to the pairs. ``None`` when a box is too wide."""
    if not all(np.isfinite(x) for x in (lo[k], hi[k], lo[n], hi[n])):
        return None
    ks = range(math.ceil(lo[k] - 1e-9), math.floor(hi[k] + 1e-9) + 1)
    ns = range(math.ceil(lo[n] - 1e-9), math.floor(hi[n] + 1e-9) + 1)
    if len(ks) * len(ns) > 2500:
        return None
    pts = [(a, b) for a in ks for b in ns if (r - h) * b <= per * a <= (r + h) * b]
    if not pts:
        return None  # inconsistent with the boxes: keep the linear rows and let the solver say so
    lo[k], hi[k] = max(lo[k], min(p[0] for p in pts)), min(hi[k], max(p[0] for p in pts))
    lo[n], hi[n] = max(lo[n], min(p[1] for p in pts)), min(hi[n], max(p[1] for p in pts))
    hull = _hull(pts)
    if len(hull) <= 1:
        return []
    rows: list[tuple[dict[int, float], float, float]] = []
    if len(hull) == 2:
        (x0, y0), (x1, y1) = hull
        dx, dy = x1 - x0, y1 - y0
        return [({k: float(dy), n: float(-dx)}, float(dy * x0 - dx * y0), float(dy * x0 - dx * y0))]
    for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1], strict=True):
        dx, dy = x1 - x0, y1 - y0  # points on the left of the edge (counter-clockwise hull): -dy x + dx y >= c
        rows.append(({k: float(-dy), n: float(dx)}, float(-dy * x0 + dx * y0), np.inf))
    return rows


def _rows(system: CellSystem, index: dict[str, int], lo: np.ndarray | None = None,
          hi: np.ndarray | None = None) -> list[tuple[dict[int, float], float, float]]:
    rows: list[tuple[dict[int, float], float, float]] = []
    seen: set[tuple] = set()
    for parent, children in system.constraints:
        if parent not in index or any(c not in index for c in children):
            continue
        sig = (parent, tuple(sorted(children)))
        if sig in seen:
            continue
        seen.add(sig)
        coef: dict[int, float] = defaultdict(float)
        coef[index[parent]] -= 1.0
        for c in children:
            coef[index[c]] += 1.0
        rows.append((dict(coef), 0.0, 0.0))
    for num, den, per, r, dec in system.relations:
        if num not in index or den not in index:
            continue
        h = 0.5 * 10.0 ** (-dec) + 1e-9
        n_i, d_i = index[num], index[den]
        if n_i == d_i:
            continue
        exact = _rate_rows(n_i, d_i, per, r, h, lo, hi) if lo is not None else None
        if exact is not None:
            rows += exact
            continue
        rows.append(({n_i: per, d_i: -(r + h)}, -np.inf, 0.0))
        rows.append(({n_i: per, d_i: -(r - h)}, 0.0, np.inf))
    return rows


def _highs():
    """A silent HiGHS instance (its constructor writes a banner straight to the process's standard output)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h


#: Directions solved (down and up) before the targets one by one, to show most targets protected at once.
PRESOLVE_DIRECTIONS = 1


def _lift(h, n: int, targets: np.ndarray, base: np.ndarray, width: float, up: bool,
          report: AuditReport) -> np.ndarray:
    """A solution of the model ``h`` (``n`` variables) that moves as many ``targets`` as it can by ``width`` up
    from (``up``) or down from ``base``: the model with a variable y_t in [0, width] per target, y_t <= x_t - base_t
    (or base_t - x_t), and the sum of the y maximised. Its first ``n`` values (NaN when not solved to optimality)."""
    import highspy

    inf = highspy.kHighsInf
    m = _highs()
    m.setOptionValue("presolve", "off")  # HiGHS's presolve can take minutes on these models; the simplex, ms
    m.setOptionValue("time_limit", 5.0)  # a shortcut only: without a solution every target is solved as usual
    m.passModel(h.getModel())
    m.changeColsCost(n, np.arange(n, dtype=np.int32), np.zeros(n))
    k = len(targets)
    m.addVars(k, np.zeros(k), np.full(k, float(width)))
    m.changeColsCost(k, np.arange(n, n + k, dtype=np.int32), np.ones(k))
    sign = 1.0 if up else -1.0
    idx = np.empty(2 * k, dtype=np.int32)
    idx[0::2], idx[1::2] = targets, np.arange(n, n + k)
    val = np.empty(2 * k)
    val[0::2], val[1::2] = sign, -1.0
    m.addRows(k, sign * base, np.full(k, inf), 2 * k, np.arange(0, 2 * k, 2, dtype=np.int32), idx, val)
    m.changeObjectiveSense(highspy.ObjSense.kMaximize)
    m.run()
    report.lp_solves += 1
    if m.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.full(n, np.nan)
    return np.asarray(m.getSolution().col_value)[:n]


def _solve_bounds(model: _Model, targets: list[int], report: AuditReport,
                  width: float | None = None) -> dict[int, tuple[float, float]]:
    """Tightest integer bounds of each target variable over the model (LP, confirmed by MILP when fractional).

    With ``width``, a target is not solved once two integer solutions of the model already met on the way (the
    optima found for earlier targets, and first those of a signed sum of the targets, down and up, and of
    :func:`_lift`, up and down: all solutions of the whole model) give it values at least ``width`` apart: the attacker's interval holds both, so it is at least that wide and the cell is protected whatever its
    exact bounds. Its bounds are then those two values (the interval's tightest bounds lie outside them). The
    decision, protected or not, is the one solving would give; only the solves are saved."""
    import highspy

    n = len(model.keys)
    h = _highs()
    inf = highspy.kHighsInf
    h.addVars(n, np.where(np.isfinite(model.lo), model.lo, -inf), np.where(np.isfinite(model.hi), model.hi, inf))
    for coef, lo, hi in model.rows:
        idx = np.fromiter(coef.keys(), dtype=np.int32)
        val = np.fromiter(coef.values(), dtype=float)
        h.addRow(lo if np.isfinite(lo) else -inf, hi if np.isfinite(hi) else inf, len(idx), idx, val)
    out: dict[int, tuple[float, float]] = {}
    milp: highspy.Highs | None = None
    seen_lo = np.full(n, np.inf)  # per variable: the least and greatest value in integer solutions met so far
    seen_hi = np.full(n, -np.inf)

    def see(sol: np.ndarray) -> None:
        if np.all(np.abs(sol - np.round(sol)) < 1e-6):
            r = np.round(sol)
            np.minimum(seen_lo, r, out=seen_lo)
            np.maximum(seen_hi, r, out=seen_hi)

    if width is not None and len(targets) > 1:
        # a few solves that push the targets down and up together, in fixed pseudo-random directions (+1 or -1
        # each, so that cells tied by a total move against each other): their solutions often show most targets
        # free to move by the width at once
        tt = np.asarray(targets, dtype=np.int32)
        rng = np.random.default_rng(len(targets))
        for _ in range(PRESOLVE_DIRECTIONS):
            h.changeColsCost(len(tt), tt, rng.choice([-1.0, 1.0], len(tt)))
            for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
                h.changeObjectiveSense(sense)
                h.run()
                report.lp_solves += 1
                if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                    see(np.asarray(h.getSolution().col_value))
        h.changeColsCost(len(tt), tt, np.zeros(len(tt)))
        # then two solves that move as many targets as they can by the width from the least (greatest) value met
        for up in (True, False):
            base = np.where(np.isfinite(seen_lo if up else seen_hi), seen_lo if up else seen_hi,
                            model.lo if up else model.hi)[tt]
            ok = np.isfinite(base)
            if ok.any():
                see(_lift(h, n, tt[ok], base[ok], width, up, report))
    for t in targets:
        if width is not None and seen_hi[t] - seen_lo[t] >= width:
            report.certified += 1
            out[t] = (float(seen_lo[t]), float(seen_hi[t]))
            continue
        bounds = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            h.changeColCost(t, 1.0)
            h.changeObjectiveSense(sense)
            h.run()
            report.lp_solves += 1
            status = h.getModelStatus()
            sol = np.asarray(h.getSolution().col_value)
            val = float(h.getInfo().objective_function_value)
            h.changeColCost(t, 0.0)
            if status == highspy.HighsModelStatus.kUnbounded:
                bounds.append(np.inf if sense == highspy.ObjSense.kMaximize else -np.inf)
                continue
            if status == highspy.HighsModelStatus.kInfeasible:
                raise DisclosureError("the release-wide audit found the published figures inconsistent with each "
                                      "other (a total that is not the sum of its cells, or a rate that does not "
                                      "match its counts)", hint="report this release to the toolkit maintainers")
            if np.all(np.abs(sol - np.round(sol)) < 1e-6):
                bounds.append(round(val))
                if width is not None:
                    see(sol)
                continue
            if milp is None:
                milp = _highs()
                milp.setOptionValue("time_limit", 5.0)
                milp.passModel(h.getModel())
                milp.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                           np.full(n, highspy.HighsVarType.kInteger))
            milp.changeColCost(t, 1.0)
            milp.changeObjectiveSense(sense)
            milp.run()
            report.milp_solves += 1
            optimal = milp.getModelStatus() == highspy.HighsModelStatus.kOptimal
            feasible = milp.getInfo().primal_solution_status == 2
            best = float(milp.getInfo().objective_function_value)
            milp.changeColCost(t, 0.0)
            # optimal: the attacker's exact bound. Otherwise an integer solution found in time is a value the cell
            # can take, so the attacker's bounds are at least that far apart; with none, count the cell as pinned.
            bounds.append(round(best) if (optimal or feasible) else None)
        if None in bounds:
            mid = float(np.clip(0.0, model.lo[t], model.hi[t]))
            out[t] = (mid, mid)
        else:
            out[t] = (float(bounds[0]), float(bounds[1]))
    return out


def audit_system(system: CellSystem, *, width: float, only_keys: set[str] | None = None,
                 report: AuditReport | None = None) -> AuditReport:
    """Bound every primary suppressed cell of ``system`` (in the groups touching ``only_keys``, if given)."""
    report = report or AuditReport(width=width)
    t0 = time.perf_counter()
    index, lo, hi, primary, where = _variables(system)
    rows = _rows(system, index, lo, hi)
    report.cells = len(system.cells)
    report.variables = len(index)
    uf = _UnionFind(len(index))
    for coef, _a, _b in rows:
        ks = list(coef)
        for k in ks[1:]:
            uf.union(ks[0], k)
    groups: dict[int, list[int]] = defaultdict(list)
    for k in range(len(index)):
        groups[uf.find(k)].append(k)
    rows_of: dict[int, list] = defaultdict(list)
    for row in rows:
        rows_of[uf.find(next(iter(row[0])))].append(row)
    keys = list(index)
    wanted = {index[k] for k in only_keys if k in index} if only_keys is not None else None
    report.components = len(groups)
    report.findings = []
    for root, members in groups.items():
        targets = [k for k in members if k in primary and not (hi[k] - lo[k] >= width and not rows_of[root])]
        if not targets or (wanted is not None and not wanted.intersection(members)):
            continue
        local = {k: i for i, k in enumerate(members)}
        model = _Model([keys[k] for k in members], lo[members], hi[members],
                       [({local[k]: v for k, v in coef.items()}, a, b) for coef, a, b in rows_of[root]])
        report.targets += len(targets)
        for t, (a, b) in _solve_bounds(model, [local[k] for k in targets], report, width).items():
            if b - a < width:
                key = model.keys[t]
                c0 = where[key][0]
                report.findings.append(Finding(key, sorted({c.table for c in where[key]}), c0.row, c0.column, a, b))
    report.seconds += time.perf_counter() - t0
    return report


# --- protection -------------------------------------------------------------------------------------------------------

def _adjacency(system: CellSystem) -> dict[str, set[str]]:
    """Each key's neighbours: the other keys of every constraint line and rate relation it is in."""
    adj: dict[str, set[str]] = defaultdict(set)
    for parent, children in system.constraints:
        line = (parent, *children)
        for k in line:
            adj[k].update(line)
    for num, den, *_ in system.relations:
        adj[num].update((num, den))
        adj[den].update((num, den))
    for k, v in adj.items():
        v.discard(k)
    return adj


def protect_release(outputs: Sequence[CheckedOutput], *, earlier: Sequence[CellSystem] = (),
                    rules: RuleSet | None = None, max_rounds: int = 200) -> tuple[list[CheckedOutput], AuditReport]:
    """Audit the outputs with the earlier releases, suppress further cells until every primary cell is protected,
    and return the (re-sealed) outputs with the audit report. Raises :class:`DisclosureError` when the release
    cannot be made safe (what the earlier releases published already pins a cell)."""
    outs = list(outputs)
    counted = [o for o in outs if o.audit_structure()["keys"] is not None and o.kind in COUNT_KINDS]
    rs = rules or (counted[0].rules if counted else None)
    width = float(rs.protection_width) if rs is not None else 1.0
    report = AuditReport(width=width)
    if not counted:
        return outs, report
    earlier_sys = merge(earlier)
    published_before = {c.key for c in earlier_sys.cells if c.status == "published"}
    outs, consistent = _consistent_suppression(outs, earlier_sys)
    report.consistent = consistent
    extra: set[str] = set()
    touched: set[str] | None = None
    for _ in range(max_rounds):
        current = system_of(outs)
        system = merge([current, earlier_sys])
        # the first round audits every group this release touches; later rounds only the groups just changed
        own = {c.key for c in current.cells} if touched is None else touched
        report = audit_system(system, width=width, only_keys=own, report=report)
        if not report.findings:
            break
        added_now: set[str] = set()
        pub_now = {c.key: c for c in current.cells if c.status == "published"}
        adj = _adjacency(system)
        for f in report.findings:
            # a complement must be able to move down: never a published true zero (where zeros are published, the
            # attacker rightly takes a suppressed cell to be at least 1)
            ok = {k for k, c in pub_now.items() if k not in published_before and (c.value or c.zeros_disclosive)}
            best = _nearest_candidate(system, f.key, ok, pub_now, adj)
            if best is not None:
                added_now.add(best)
        if not added_now:
            f = report.findings[0]
            raise DisclosureError(
                f"this release cannot be made safe: a suppressed cell of table {', '.join(f.tables)} ({f.row}, "
                f"{f.column}) can be bounded to {f.lower:g}-{f.upper:g} from what this release and the project's "
                "earlier releases publish, and every cell that could protect it is already published",
                hint="publish a coarser table (fewer categories, or a larger geography), or leave this table out")
        extra |= added_now
        touched = added_now | {f.key for f in report.findings}
        outs = _suppress_keys(outs, added_now, LINKED_TABLES,
                              "suppressed by the release-wide audit so that a small count in a linked table cannot "
                              "be bounded from this release and the earlier ones")
    else:
        raise DisclosureError("the release-wide audit did not settle", hint="report this release to the maintainers")
    report.added = sorted(extra)
    return outs, report


def _nearest_candidate(system: CellSystem, key: str, ok: set[str], pub: dict[str, CellRecord],
                       adj: dict[str, set[str]]) -> str | None:
    """The published cell to suppress for ``key``: in the nearest constraint line (reached through suppressed
    cells), the smallest interior cell before any total."""
    seen = {key}
    frontier = [key]
    while frontier:
        found: set[str] = set()
        nxt: list[str] = []
        for k in frontier:
            for other in sorted(adj.get(k, ())):
                if other in seen:
                    continue
                seen.add(other)
                if other in ok:
                    found.add(other)
                elif other not in pub:  # suppressed: the attacker's reasoning runs on through it
                    nxt.append(other)
        if found:
            return min(found, key=lambda k: (_is_total(system, k), pub[k].value, k))
        frontier = nxt
    return None


def _is_total(system: CellSystem, key: str) -> bool:
    return any(p == key for p, _ in system.constraints)


def _consistent_suppression(outs: list[CheckedOutput], earlier: CellSystem) -> tuple[list[CheckedOutput], list[str]]:
    """A cell suppressed as a primary risk in an earlier release of the same table (another band or snapshot) is
    suppressed again where its new rounded value would put the old one within the rounding of it."""
    was_primary = {c.family for c in earlier.cells if c.status == "suppressed" and c.primary}
    if not was_primary:
        return outs, []
    keys: set[str] = set()
    for c in system_of(outs).cells:
        if c.status == "published" and c.family in was_primary and c.value is not None:
            lo, _hi = published_interval(c.value, c.round_base, 0, True)
            if lo < c.threshold:
                keys.add(c.key)
    if keys:
        outs = _suppress_keys(outs, keys, "consistent-suppression",
                              "suppressed because an earlier release of this table suppressed it as a small count")
    return outs, sorted(keys)


def _suppress_keys(outs: Sequence[CheckedOutput], keys: set[str], rule: str, reason: str) -> list[CheckedOutput]:
    """Suppress the cells with these keys in every output, and every rate derived from them."""
    res: list[CheckedOutput] = []
    for o in outs:
        st = o.audit_structure()
        mask = np.zeros(o.data.shape, dtype=bool)
        if st["keys"] is not None and o.kind in COUNT_KINDS:
            mask |= np.isin(st["keys"].astype(str), list(keys)) & o.symbols.eq("").to_numpy()
        for pos, num, den, *_ in st["relations"]:
            if num in keys or den in keys:
                mask[pos] = mask[pos] or o.symbols.to_numpy()[pos] == ""
        res.append(_reseal(o, mask, rule, reason) if mask.any() else o)
    return res
