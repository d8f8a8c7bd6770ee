"""Attack a: bound every suppressed count by linear (then integer) programming over linked published tables.

The intruder's model of a release:

* a published count ``v`` rounded to base ``b`` hides a true count in ``[v - floor(b/2), v + ceil(b/2) - 1]``, and
  being published it is not small: at least the threshold (or exactly zero where zeros are published);
* a suppressed count is at least 0 (at least 1 where true zeros are published, if the intruder is told to trust
  that no zero is hidden as a complement: ``zeros_shown_means_positive``);
* a "Total" row or column is the sum of its cells (assumed; a table whose totals make the system infeasible has its
  total constraints dropped, with a note);
* tables are linked: the same title twice in a release (the spine population repeated for every cohort) holds the
  same cells; a cohort's cells are at most the spine population's, and a sub-cohort's at most its cohort's; a
  cohort's "Total" is the last step of its attrition table, the population's the first; attrition never grows;
  persons with a need are at most those assessed for it; a published rate ``r = per k / n`` to ``d`` decimals gives
  ``(r - h) n <= per k <= (r + h) n`` with ``h = 0.5 10^-d`` (skipped where it is just the ratio of the published
  counts, which adds nothing).

Each connected component of the resulting system is solved once: a few linear programmes with random objectives
give feasible points that prove most cells wide; the remaining cells get an exact LP minimum and maximum (HiGHS with
a warm start), and cells whose LP bound is narrow enough to matter get the integer bound from
``scipy.optimize.milp``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import highspy
import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from .findings import NARROW, Finding
from .reader import PUBLISHED, SUPPRESSED, Release, Table

BIG = 1.0e7  # stands in for "no upper bound"
DIMS = ("sex", "age_band", "ethnic_group", "region", "local_authority", "imd_decile")
# Cohorts the shipped specs nest (an intruder reads the specs): sub-cohort -> cohort.
NESTED_COHORTS = {"multiple_disadvantage_4plus": "multiple_disadvantage"}
_PERS = (100.0, 1000.0, 10000.0, 100000.0, 1.0)


def published_interval(v: float, rules: dict) -> tuple[float, float]:
    """The true values consistent with a published count under the release's rule set."""
    b = rules.get("round_base") or 0
    lo, hi = (v - b // 2, v + math.ceil(b / 2) - 1) if b else (v, v)
    lo = max(lo, 0.0)
    t = rules.get("threshold", 1)
    zero_ok = not rules.get("zeros_disclosive", True)
    if hi < t:
        return (0.0, 0.0) if (zero_ok and lo <= 0) else (lo, hi)
    if zero_ok and lo <= 0:
        return 0.0, hi
    return max(lo, float(t)), hi


def suppressed_lower(rules: dict, zeros_shown_means_positive: bool = False) -> float:
    """The least a suppressed count can be: 0, or 1 where the rule set publishes true zeros and the intruder trusts
    that no zero is ever suppressed as a complement (``zeros_shown_means_positive``; false by default because a
    release-wide protection may well hide a zero to protect another cell)."""
    if zeros_shown_means_positive and not rules.get("zeros_disclosive", True):
        return 1.0
    return 0.0


@dataclass
class _Con:
    coef: dict[int, float]
    lo: float
    hi: float
    tag: str


@dataclass
class LinearAttack:
    """Build the linked system for some releases, then :meth:`run` it."""

    releases: list[Release]
    same_data: list[set[str]] | None = None
    nested: dict[str, str] = field(default_factory=lambda: dict(NESTED_COHORTS))
    nested_tables: list[tuple[str, str]] = field(default_factory=list)
    zeros_shown_means_positive: bool = False
    margin: float = 8
    witnesses: int = 8
    milp_time_limit: float = 5.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.var: dict[tuple[str, str, int, int], int] = {}
        self.cell: list[tuple[Table, int, int]] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.cons: list[_Con] = []
        for rel in self.releases:
            for t in rel.tables.values():
                if t.is_count:
                    self._add_table(t)
        groups = self.same_data or [{r.id} for r in self.releases]
        for g in groups:
            tabs = [t for r in self.releases if r.id in g for t in r.tables.values()]
            self._links(tabs)

    # --- the system ---
    def _v(self, t: Table, i: int, j: int) -> int | None:
        return self.var.get((t.release, t.name, i, j))

    def _add_table(self, t: Table) -> None:
        lbs = suppressed_lower(t.rules, self.zeros_shown_means_positive)
        for i in range(t.shape[0]):
            for j in range(t.shape[1]):
                s = t.status[i, j]
                if s not in (PUBLISHED, SUPPRESSED):
                    continue
                self.var[(t.release, t.name, i, j)] = len(self.cell)
                self.cell.append((t, i, j))
                lo, hi = published_interval(t.values[i, j], t.rules) if s == PUBLISHED else (lbs, BIG)
                self.lb.append(lo)
                self.ub.append(hi)
        R, C = t.shape
        tag = f"totals:{t.release}:{t.name}"
        tc, tr = t.total_col, t.total_row
        if tc is not None:
            for i in range(R):
                self._sum([(i, j) for j in range(C) if j != tc], (i, tc), t, tag)
        if tr is not None:
            for j in range(C):
                self._sum([(i, j) for i in range(R) if i != tr], (tr, j), t, tag)

    def _sum(self, parts: list[tuple[int, int]], total: tuple[int, int], t: Table, tag: str) -> None:
        coef: dict[int, float] = defaultdict(float)
        for c in parts:
            k = self._v(t, *c)
            if k is None:
                return
            coef[k] += 1.0
        k = self._v(t, *total)
        if k is None:
            return
        coef[k] -= 1.0
        self.cons.append(_Con(dict(coef), 0.0, 0.0, tag))

    def _pair(self, a: Table, ia: int, ja: int, b: Table, ib: int, jb: int, how: str, tag: str) -> None:
        """Cell a == b (``eq``) or a <= b (``le``)."""
        x, y = self._v(a, ia, ja), self._v(b, ib, jb)
        if x is None or y is None or x == y:
            return
        self.cons.append(_Con({x: 1.0, y: -1.0}, 0.0 if how == "eq" else -math.inf, 0.0, tag))

    def _cellwise(self, a: Table, b: Table, how: str, tag: str) -> None:
        rows = {r: i for i, r in enumerate(b.rows)}
        cols = {c: j for j, c in enumerate(b.cols)}
        for i, r in enumerate(a.rows):
            for j, c in enumerate(a.cols):
                if r in rows and c in cols:
                    self._pair(a, i, j, b, rows[r], cols[c], how, tag)

    def _links(self, tabs: list[Table]) -> None:
        counts = [t for t in tabs if t.is_count]
        by_title: dict[tuple, list[Table]] = defaultdict(list)
        for t in counts:
            by_title[(t.title, tuple(t.rows), tuple(t.cols))].append(t)
        for same in by_title.values():
            for other in same[1:]:
                self._cellwise(same[0], other, "eq", f"same-title:{same[0].name}")
        names: dict[str, Table] = {}
        for t in counts:
            names.setdefault(t.name, t)
        # cohorts: cells <= the spine population's; totals = attrition; nested cohorts
        for t in counts:
            pop = names.get(f"{t.name}_population")
            dim = next((d for d in DIMS if t.name.endswith(f"_{d}")), None)
            if pop is None or dim is None:
                continue
            cohort = t.name[: -len(dim) - 1]
            self._cellwise(t, pop, "le", f"cohort<=population:{t.name}")
            att = names.get(f"{cohort}_attrition")
            if att is not None and t.total_row is not None and att.shape[0]:
                self._pair(t, t.total_row, 0, att, att.shape[0] - 1, 0, "eq", f"cohort-total:{t.name}")
                if pop.total_row is not None and "every person in the spine" in att.rows[0]:
                    self._pair(pop, pop.total_row, 0, att, 0, 0, "eq", f"population-total:{t.name}")
            sup = self.nested.get(cohort)
            if sup and f"{sup}_{dim}" in names:
                self._cellwise(t, names[f"{sup}_{dim}"], "le", f"nested:{t.name}")
        for t in counts:
            if t.name.endswith("_attrition"):
                for i in range(1, t.shape[0]):
                    self._pair(t, i, 0, t, i - 1, 0, "le", f"attrition:{t.name}")
                sup = self.nested.get(t.name[: -len("_attrition")])
                if sup and f"{sup}_attrition" in names:
                    s = names[f"{sup}_attrition"]
                    self._pair(t, t.shape[0] - 1, 0, s, s.shape[0] - 1, 0, "le", f"nested:{t.name}")
        for sub, sup in self.nested_tables:
            if sub in names and sup in names:
                self._cellwise(names[sub], names[sup], "le", f"nested:{sub}")
        if "places_need" in names and "places_assessed" in names:
            self._cellwise(names["places_need"], names["places_assessed"], "le", "need<=assessed")
        for t in tabs:
            if t.kind == "rate":
                num, den = self._rate_parts(t, names)
                if num is not None and den is not None:
                    self._rate(t, num, den)

    @staticmethod
    def _rate_parts(t: Table, names: dict[str, Table]) -> tuple[Table | None, Table | None]:
        for e in t.meta.get("log", []):
            m = re.search(r"counts of '([^']+)' and '([^']+)'", str(e.get("reason", "")))
            if m:
                return names.get(m.group(1)), names.get(m.group(2))
        if t.name.endswith("_rate"):
            base = t.name[: -len("_rate")]
            return names.get(base), names.get(f"{base}_population")
        if t.name == "places_prevalence":
            return names.get("places_need"), names.get("places_assessed")
        return None, None

    def _rate(self, t: Table, num: Table, den: Table) -> None:
        rows_n = {r: i for i, r in enumerate(num.rows)}
        cols_n = {c: j for j, c in enumerate(num.cols)}
        rows_d = {r: i for i, r in enumerate(den.rows)}
        cols_d = {c: j for j, c in enumerate(den.cols)}
        dec = max(t.decimals(), 0)
        h = 0.5 * 10.0 ** (-dec)
        triples = []
        for i, r in enumerate(t.rows):
            for j, c in enumerate(t.cols):
                if t.status[i, j] != PUBLISHED or r not in rows_n or c not in cols_n or r not in rows_d \
                        or c not in cols_d:
                    continue
                triples.append((t.values[i, j], (rows_n[r], cols_n[c]), (rows_d[r], cols_d[c])))
        per = 100.0
        for cand in _PERS:  # the multiplier: the one that reproduces published rates from published counts
            ok = [abs(round(cand * num.values[a] / den.values[b], dec) - r) < 1e-9 for r, a, b in triples
                  if num.status[a] == PUBLISHED and den.status[b] == PUBLISHED and den.values[b] > 0]
            if ok and sum(ok) >= len(ok) / 2:
                per = cand
                break
        for r, a, b in triples:
            if num.status[a] == PUBLISHED and den.status[b] == PUBLISHED and den.values[b] > 0 \
                    and abs(round(per * num.values[a] / den.values[b], dec) - r) < 1e-9:
                continue  # the ratio of the published (rounded) counts: nothing new
            k, n = self._v(num, *a), self._v(den, *b)
            if k is None or n is None:
                continue
            tag = f"rate:{t.name}"
            self.cons.append(_Con({k: per, n: -(r + h)}, -math.inf, 0.0, tag))
            self.cons.append(_Con({k: per, n: -(r - h)}, 0.0, math.inf, tag))

    # --- solving ---
    def components(self) -> list[tuple[list[int], list[int]]]:
        """(variables, constraint indices) of each connected component with a suppressed cell."""
        n = len(self.cell)
        parent = list(range(n))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for c in self.cons:
            ks = list(c.coef)
            for k in ks[1:]:
                a, b = find(ks[0]), find(k)
                if a != b:
                    parent[a] = b
        groups: dict[int, list[int]] = defaultdict(list)
        for k in range(n):
            groups[find(k)].append(k)
        cons_of: dict[int, list[int]] = defaultdict(list)
        for ci, c in enumerate(self.cons):
            cons_of[find(next(iter(c.coef)))].append(ci)
        out = []
        for root, ks in groups.items():
            if any(self.cell[k][0].status[self.cell[k][1], self.cell[k][2]] == SUPPRESSED for k in ks):
                out.append((ks, cons_of.get(root, [])))
        return out

    def run(self, seed: int = 0) -> list[Finding]:
        rng = np.random.default_rng(seed)
        findings: list[Finding] = []
        for ks, cis in self.components():
            findings += self._solve(ks, cis, rng)
        return findings

    def _matrix(self, ks: list[int], cis: list[int]):
        pos = {k: p for p, k in enumerate(ks)}
        rows, cols, vals, lo, hi = [], [], [], [], []
        for r, ci in enumerate(cis):
            c = self.cons[ci]
            for k, v in c.coef.items():
                rows.append(r)
                cols.append(pos[k])
                vals.append(v)
            lo.append(c.lo)
            hi.append(c.hi)
        A = sparse.csc_matrix((vals, (rows, cols)), shape=(len(cis), len(ks)))
        return A, np.array(lo, float), np.array(hi, float)

    def _highs(self, ks: list[int], cis: list[int]) -> highspy.Highs:
        A, lo, hi = self._matrix(ks, cis)
        inf = highspy.kHighsInf
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")  # keep the basis between objectives (warm starts)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(ks), len(cis)
        lp.col_cost_ = np.zeros(len(ks))
        lp.col_lower_ = np.array([self.lb[k] for k in ks], float)
        lp.col_upper_ = np.array([self.ub[k] for k in ks], float)
        lp.row_lower_ = np.where(np.isinf(lo), -inf, lo)
        lp.row_upper_ = np.where(np.isinf(hi), inf, hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr
        lp.a_matrix_.index_ = A.indices
        lp.a_matrix_.value_ = A.data
        h.passModel(lp)
        return h

    @staticmethod
    def _opt(h: highspy.Highs, cost: np.ndarray) -> np.ndarray | None:
        h.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost.astype(float))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.array(h.getSolution().col_value)

    def _feasible(self, ks: list[int], cis: list[int]) -> bool:
        return self._opt(self._highs(ks, cis), np.zeros(len(ks))) is not None

    def _repair(self, ks: list[int], cis: list[int]) -> list[int]:
        """Drop the assumptions that make a component infeasible: first tables whose own totals do not add up,
        then the links between tables."""
        if self._feasible(ks, cis):
            return cis
        by_tag: dict[str, list[int]] = defaultdict(list)
        for ci in cis:
            by_tag[self.cons[ci].tag].append(ci)
        keep = list(cis)
        for tag, own in by_tag.items():
            if not tag.startswith("totals:"):
                continue
            vs = sorted({k for ci in own for k in self.cons[ci].coef})
            if not self._feasible(vs, own):
                self.notes.append(f"{tag[7:]}: its totals do not add up within the rounding; total constraints "
                                  "dropped")
                keep = [ci for ci in keep if self.cons[ci].tag != tag]
        if self._feasible(ks, keep):
            return keep
        links = sorted({self.cons[ci].tag for ci in keep if not self.cons[ci].tag.startswith("totals:")})
        for tag in links:
            trial = [ci for ci in keep if self.cons[ci].tag != tag]
            if self._feasible(ks, trial):
                self.notes.append(f"{tag}: this link made the tables inconsistent; dropped")
                return trial
        self.notes.append(f"component of {len(ks)} cells infeasible: links dropped")
        keep = [ci for ci in keep if self.cons[ci].tag.startswith("totals:")]
        return keep if self._feasible(ks, keep) else []

    def _solve(self, ks: list[int], cis: list[int], rng: np.random.Generator) -> list[Finding]:
        cis = self._repair(ks, cis)
        supp = [p for p, k in enumerate(ks) if self.cell[k][0].status[self.cell[k][1], self.cell[k][2]] == SUPPRESSED]
        thr = np.array([self.cell[ks[p]][0].rules.get("threshold", 1) for p in supp], float)
        if not cis:
            return []  # nothing links the suppressed cells to anything: only their own (open) bounds
        h = self._highs(ks, cis)
        n = len(ks)
        ns = len(supp)
        seen_lo = np.full(ns, np.inf)
        seen_hi = np.full(ns, -np.inf)
        objectives = [np.ones(ns), -np.ones(ns)]
        objectives += [rng.choice([-1.0, 1.0], size=ns) for _ in range(self.witnesses // 2)]
        for _ in range(self.witnesses - self.witnesses // 2):  # push a few cells up at a time
            w = np.zeros(ns)
            w[rng.random(ns) < max(0.05, 3.0 / max(ns, 1))] = -1.0
            objectives.append(w)
        for w in objectives:
            cost = np.zeros(n)
            cost[supp] = w
            x = self._opt(h, cost)
            if x is None:
                continue
            seen_lo = np.minimum(seen_lo, x[supp])
            seen_hi = np.maximum(seen_hi, x[supp])
        todo = [q for q in range(ns) if seen_hi[q] - seen_lo[q] <= self.margin or seen_hi[q] < thr[q]]
        out: list[Finding] = []
        A = None
        for q in todo:
            p = supp[q]
            cost = np.zeros(n)
            cost[p] = -1.0
            xmax = self._opt(h, cost)
            if xmax is None:
                continue
            hi = math.floor(xmax[p] + 1e-6)
            if hi >= thr[q] and hi - seen_lo[q] > self.margin:
                continue  # neither narrow nor known to be small
            cost[p] = 1.0
            xmin = self._opt(h, cost)
            if xmin is None:
                continue
            lo = math.ceil(xmin[p] - 1e-6)
            note = "lp"
            if NARROW < hi - lo <= self.margin or (lo < thr[q] <= hi and hi - lo <= self.margin):
                if A is None:
                    A, rlo, rhi = self._matrix(ks, cis)
                    bounds = Bounds(np.array([self.lb[k] for k in ks]), np.array([self.ub[k] for k in ks]))
                    lc = LinearConstraint(A, rlo, rhi)
                ilo = self._milp(p, 1.0, n, lc, bounds)
                ihi = self._milp(p, -1.0, n, lc, bounds)
                if ilo is not None and ihi is not None:
                    lo, hi, note = max(lo, math.ceil(ilo - 1e-6)), min(hi, math.floor(-ihi + 1e-6)), "milp"
            out.append(self._finding(ks[p], lo, math.inf if hi >= BIG - 1 else hi, note))
        return out

    def violations(self, truth: dict) -> list[str]:
        """The attacker's assumptions that the truth breaks (for testing the attacker itself); cells without a
        true value are skipped."""
        x = []
        for t, i, j in self.cell:
            x.append(truth.get(t.key(i, j), math.nan))
        out = []
        for k, (t, i, j) in enumerate(self.cell):
            if not math.isnan(x[k]) and not (self.lb[k] - 1e-6 <= x[k] <= self.ub[k] + 1e-6):
                out.append(f"bound {t.key(i, j)}: truth {x[k]} not in [{self.lb[k]}, {self.ub[k]}]")
        for c in self.cons:
            v = sum(a * x[k] for k, a in c.coef.items())
            if not math.isnan(v) and not (c.lo - 1e-6 <= v <= c.hi + 1e-6):
                cells = [self.cell[k][0].key(self.cell[k][1], self.cell[k][2]) for k in c.coef]
                out.append(f"{c.tag}: {v:g} not in [{c.lo:g}, {c.hi:g}] over {cells[:4]}")
        return out

    def _milp(self, p: int, sign: float, n: int, lc: LinearConstraint, bounds: Bounds) -> float | None:
        c = np.zeros(n)
        c[p] = sign
        res = milp(c, constraints=lc, integrality=np.ones(n), bounds=bounds,
                   options={"time_limit": self.milp_time_limit})
        if res.status != 0 or res.x is None:
            return None
        return float(res.fun)

    def _finding(self, k: int, lo: float, hi: float, note: str) -> Finding:
        t, i, j = self.cell[k]
        return Finding(t.release, t.name, t.rows[i], t.cols[j], float(lo), float(hi), "lp", note)


def lp_attack(releases: Release | Iterable[Release], **kw) -> list[Finding]:
    """Bounds on suppressed counts from the linked tables of one or several releases (see the module docstring).

    ``same_data``: groups of release ids built from the same data (linked by equal titles and nesting across
    releases); by default each release is its own group. ``nested``: sub-cohort -> cohort; ``nested_tables``:
    (sub-table, table) name pairs whose cells are at most the other's."""
    rels = [releases] if isinstance(releases, Release) else list(releases)
    return LinearAttack(rels, **kw).run()
