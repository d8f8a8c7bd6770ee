"""A cost estimate before a run (``bold plan cost``): time and memory per stage for a target size, the whole run's
time, and which engine and machine to use.

The estimate comes from measured benchmark points (``data/cost_curves.yaml``). By default it covers the stages a
``bold demo --persons N`` runs (``runs.demo`` in the curves, the synthetic generation included) and sums them into
the whole run's time; ``stages`` chooses others, such as ``link`` (the justice dedupe of ``bold scale`` and the
pipeline's ``link`` stage).

- Every stage but ``link``: a fixed cost plus a cost per person, the straight line through the two measured sizes
  either side of the target, or through the two nearest beyond the measured range; a stage measured at one size
  only scales proportionally.
- ``link``: linkage time follows the candidate pairs the blocking rules keep, not the persons. The pairs at the
  target size are counted from a sample (:func:`pair_sample`: grouped counts per blocking rule, :func:`rule_pairs`)
  with the rules that apply at the target's size (broad rules up to 250,000 records, the usual ones, the large-job
  rules over 1,000,000; :func:`bold_prevention.linkage.blocking.blocking_rules_for`). A sample counts each rule
  twice, on all its records and on half its persons; pairs within a person grow with the records and pairs between
  persons who share a key with their square, so the two counts give both shares and extrapolate to the target
  (:class:`PairCounts`). Time is then a fixed cost, a cost per record for each pass over the records (scoring in
  ``k x k`` chunks passes over them ``k`` times) and a cost per candidate pair, fitted (non-negative least squares)
  to the measured link runs; peak memory a fixed part, a part per record of one chunk (records / k) and a part per
  record held whole.

``bench/plan_cost.py`` scores both by leaving each measured size out in turn, and the whole run against measured
``bold demo`` runs.

The engine advice follows the memory estimate: DuckDB on one machine while the largest stage fits in 60% of its
memory (with the linkage scored in chunks when that makes it fit); otherwise Spark on a cluster
(``docs/national-scale-plan.md``). Each estimate says how far from measured figures it rests (``extrapolated``
when the size is outside the measured range).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import Field

from ..config import ConfigModel, load_config, parse_config
from ..errors import InputError
from ..linkage.blocking import BROAD_BLOCKING_MAX_RECORDS, LARGE_BLOCKING_MIN_RECORDS, prediction_blocking
from ..warehouse.engine import quote_ident

#: Stages with a measured curve, in the order a run takes them (``link`` is not part of ``bold demo``).
STAGES = ("synth", "catalogues", "register", "load", "link", "spine", "waves", "cohorts", "places", "timeline",
          "pathways", "early_warning", "studies", "release")
#: Share of a machine's memory the largest stage may use before the advice moves to a larger machine or Spark.
MEMORY_HEADROOM = 0.6
#: The identifier roles of the justice identity records (``bold_prevention.scale.linkage.JUSTICE_ROLES``).
JUSTICE_ROLES: tuple[str, ...] = ("forename", "middle_names", "surname", "date_of_birth", "sex", "postcode")
#: The blocking regimes by job size, with a size that falls in each (for choosing the rules).
REGIMES: dict[str, int] = {"broad": BROAD_BLOCKING_MAX_RECORDS, "usual": LARGE_BLOCKING_MIN_RECORDS,
                           "large": LARGE_BLOCKING_MIN_RECORDS + 1}
#: Chunks per side the advice tries, in order, when unchunked linkage would not fit in memory.
CHUNK_CHOICES = (1, 2, 4, 8, 16)


Point = Annotated[list[float], Field(min_length=3, max_length=3, description="[persons, seconds, peak GB]")]
LinkPoint = Annotated[list[float], Field(min_length=5, max_length=5,
                                         description="[records, candidate pairs, chunks per side, seconds, peak GB]")]
PairPoint = Annotated[list[float], Field(min_length=4, max_length=4,
                                         description="[records, pairs, records of a sample of whole persons, "
                                                     "its pairs]")]


class StageCurve(ConfigModel):
    duckdb: list[Point] = Field(default_factory=list)
    spark: list[Point] = Field(default_factory=list)
    source: str = ""


class LinkCurve(ConfigModel):
    """The linkage cost model's measurements: pair counts per blocking regime, and link runs."""

    records_per_person: float = Field(gt=0)
    pairs: dict[str, list[PairPoint]] = Field(default_factory=dict)
    duckdb: list[LinkPoint] = Field(default_factory=list)
    spark: list[LinkPoint] = Field(default_factory=list)
    source: str = ""


class CurvesSchema(ConfigModel):
    version: int = 1
    machine: dict[str, float] = Field(default_factory=dict)
    runs: dict[str, list[str]] = Field(default_factory=dict)
    stages: dict[str, StageCurve]
    link: LinkCurve | None = None
    #: Measured whole runs (``bold demo``): [persons, seconds, peak GB], by the name of the run in ``runs``.
    totals: dict[str, list[Point]] = Field(default_factory=dict)
    spark_session_s: float = 15.0


def load_curves(path: str | os.PathLike | None = None) -> CurvesSchema:
    """The shipped curves, or a file of the same shape measured elsewhere."""
    if path is None:
        raw = resources.files(__package__).joinpath("data/cost_curves.yaml").read_bytes()
        c = parse_config(raw, CurvesSchema, source="cost_curves.yaml")
    else:
        c = load_config(Path(path), CurvesSchema, source=str(path))
    where = "cost_curves.yaml" if path is None else str(path)
    for name, st in c.stages.items():
        for engine, pts in (("duckdb", st.duckdb), ("spark", st.spark)):
            if any(p[0] <= 0 or p[1] <= 0 or p[2] <= 0 for p in pts):
                raise InputError(f"cost curves {where}: stage {name}, engine {engine}: sizes, seconds and memory "
                                 "must be positive", hint="fix the measured points")
    if c.link is not None:
        for regime, pps in c.link.pairs.items():
            if regime not in REGIMES:
                raise InputError(f"cost curves {where}: link pairs: unknown blocking regime {regime!r}",
                                 hint=f"use {', '.join(REGIMES)}")
            if any(not 0 < p[2] < p[0] or not 0 <= p[3] <= p[1] for p in pps):
                raise InputError(f"cost curves {where}: link pairs ({regime}): the sample of persons must hold "
                                 "fewer records than the whole and no more pairs", hint="fix the counts")
        for engine, lps in (("duckdb", c.link.duckdb), ("spark", c.link.spark)):
            if any(p[0] <= 0 or p[1] < 0 or p[2] < 1 or p[3] <= 0 or p[4] <= 0 for p in lps):
                raise InputError(f"cost curves {where}: link runs ({engine}): records, seconds and memory must be "
                                 "positive and chunks at least 1", hint="fix the measured points")
    for run, names in c.runs.items():
        unknown = [s for s in names if s not in c.stages and not (s == "link" and c.link is not None)]
        if unknown:
            raise InputError(f"cost curves {where}: run {run} names stage {unknown[0]!r} without a curve",
                             hint="add its measured points under stages, or leave it out of the run")
    return c


def interpolate(points: list[tuple[float, float]], x: float) -> tuple[float, bool]:
    """``y`` at ``x`` from measured ``(x, y)`` points: a fixed cost plus a per-person cost (the straight line)
    through the two neighbouring points, or the two nearest beyond them; below the smallest point never less than
    proportional scaling, so the value stays positive. A single point scales proportionally; points measured at the
    same size are averaged. Returns (y, extrapolated)."""
    if not points:
        raise ValueError("no points")
    by_x: dict[float, list[float]] = {}
    for px, py in points:
        by_x.setdefault(px, []).append(py)
    pts = sorted((px, sum(ys) / len(ys)) for px, ys in by_x.items())
    if len(pts) == 1:
        x0, y0 = pts[0]
        return y0 * x / x0, x != x0

    def line(a: tuple[float, float], b: tuple[float, float]) -> float:
        return a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0])

    for a, b in zip(pts, pts[1:], strict=False):
        if a[0] <= x <= b[0]:
            return line(a, b), False
    if x < pts[0][0]:
        return max(line(pts[0], pts[1]), pts[0][1] * x / pts[0][0]), True
    above = line(pts[-2], pts[-1])
    return (above if above > 0 else pts[-1][1]), True


# ---------------------------------------------------------------------------------------------- linkage model
def regime_for(records: float) -> str:
    """The blocking regime of a dedupe of ``records`` records (see :func:`blocking_rules_for`)."""
    if records <= BROAD_BLOCKING_MAX_RECORDS:
        return "broad"
    return "large" if records > LARGE_BLOCKING_MIN_RECORDS else "usual"


@dataclass(frozen=True)
class PairCounts:
    """Candidate pairs as ``within * records + between * records**2``: pairs within a person (their records share
    keys) grow with the records, pairs between people who share a key with their square. Both come from one
    sample counted twice: on all its ``records`` (``pairs``) and on a subset of whole persons (``sub_records``,
    ``sub_pairs``), where within-person pairs shrink with the records and between-person pairs with their square.
    """

    records: float
    pairs: float
    sub_records: float
    sub_pairs: float

    @property
    def coefficients(self) -> tuple[float, float]:
        n, p, m, h = self.records, self.pairs, self.sub_records, self.sub_pairs
        between = (p * m / n - h) / (m * (n - m))
        if between < 0:  # the subset kept more than its share: all within persons
            return p / n, 0.0
        within = (p - between * n * n) / n
        if within < 0:  # the subset kept less than the square: all between persons
            return 0.0, p / (n * n)
        return within, between

    def at(self, records: float) -> float:
        within, between = self.coefficients
        return within * records + between * records * records


def _nnls(rows: list[list[float]], ys: list[float]) -> list[float]:
    import numpy as np
    from scipy.optimize import nnls

    a = np.array(rows, dtype=float)
    scale = np.where(a.max(axis=0) > 0, a.max(axis=0), 1.0)
    coef, _ = nnls(a / scale, np.array(ys, dtype=float))
    return list(coef / scale)


def _time_row(records: float, pairs: float, chunks: float) -> list[float]:
    return [1.0, records * chunks, pairs]


def _memory_row(records: float, pairs: float, chunks: float) -> list[float]:
    return [1.0, records / chunks, records]


@dataclass(frozen=True)
class LinkFit:
    """Linkage time and memory fitted to measured runs (:class:`LinkCurve` points): seconds = fixed + per record
    pass x records x chunks + per pair x pairs; GB = fixed + per record of one chunk x records / chunks + per record
    held whole x records."""

    time: tuple[float, float, float]
    memory: tuple[float, float, float]
    records_range: tuple[float, float]

    @classmethod
    def from_points(cls, points: Sequence[Sequence[float]]) -> LinkFit:
        if not points:
            raise ValueError("no link runs")
        t = _nnls([_time_row(p[0], p[1], p[2]) for p in points], [p[3] for p in points])
        m = _nnls([_memory_row(p[0], p[1], p[2]) for p in points], [p[4] for p in points])
        recs = [p[0] for p in points]
        return cls((t[0], t[1], t[2]), (m[0], m[1], m[2]), (min(recs), max(recs)))

    def seconds(self, records: float, pairs: float, chunks: int = 1) -> float:
        return sum(c * v for c, v in zip(self.time, _time_row(records, pairs, chunks), strict=True))

    def peak_gb(self, records: float, pairs: float, chunks: int = 1) -> float:
        return sum(c * v for c, v in zip(self.memory, _memory_row(records, pairs, chunks), strict=True))


#: A project's own count is extrapolated with its own within- and between-person shares only up to this many times
#: its size; further, the between-person share of a small sample is too uncertain (a few split or merged persons move
#: it, and the error grows with the square of the ratio), so the project's count scales the benchmark's curve.
OWN_SHAPE_MAX_RATIO = 4.0


def pairs_for(link: LinkCurve, records: float, samples: dict[str, list[Sequence[float]]] | None = None
              ) -> tuple[float, str, str]:
    """Candidate pairs at ``records`` under the rules of that size: (pairs, regime, note), from the shipped count
    nearest in size (in ratio), extrapolated. ``samples`` (:func:`pair_sample` on a project): within
    :data:`OWN_SHAPE_MAX_RATIO` of the target's size the project's own count is extrapolated; further, the shipped
    curve is scaled by the project's count over the curve's value at the project's size. A regime without a count
    falls back to the nearest counted one."""
    regime = regime_for(records)
    order = list(REGIMES)

    def pick(pool: dict[str, list[Sequence[float]]]) -> tuple[Sequence[float] | None, str]:
        counted = [r for r in REGIMES if pool.get(r)]
        if not counted:
            return None, regime
        used = regime if regime in counted else min(counted, key=lambda r: abs(order.index(r) - order.index(regime)))
        return min(pool[used], key=lambda p: abs(math.log(records / p[0]))), used

    shipped, used = pick(link.pairs)
    own, own_used = pick(samples or {})
    notes = []
    if own is not None and (shipped is None or records / own[0] <= OWN_SHAPE_MAX_RATIO):
        pairs, used = PairCounts(*own).at(records), own_used
    elif shipped is None:
        raise InputError("the cost curves hold no candidate-pair counts for the linkage",
                         hint="count them with bench/plan_cost.py --count-pairs PROJECT and add them")
    else:
        pairs = PairCounts(*shipped).at(records)
        if own is not None:
            pairs *= own[1] / max(PairCounts(*shipped).at(own[0]), 1.0)
            notes.append("the benchmark's pair curve scaled by this project's count")
    if used != regime:
        notes.append(f"no pair count for the {regime} blocking rules: the {used} rules' count used")
    return pairs, regime, "; ".join(notes)


def link_cost(link: LinkCurve, engine: str, records: float, *, chunks: int = 1,
              samples: dict[str, list[Sequence[float]]] | None = None) -> tuple[float, float, float, bool, str]:
    """(seconds, peak GB, candidate pairs, extrapolated, note) of the justice dedupe of ``records`` records."""
    pts = link.spark if engine == "spark" and link.spark else link.duckdb
    if not pts:
        raise InputError(f"the cost curves hold no measured link runs for {engine}", hint="add measured runs")
    fit = LinkFit.from_points(pts)
    pairs, regime, note = pairs_for(link, records, samples)
    ext = not fit.records_range[0] <= records <= fit.records_range[1]
    msg = f"{pairs / 1e6:,.1f} million candidate pairs ({regime} blocking rules)"
    if chunks > 1:
        msg += f", scored in {chunks} x {chunks} chunks"
    return (fit.seconds(records, pairs, chunks), fit.peak_gb(records, pairs, chunks), pairs, ext,
            "; ".join(x for x in (msg, note) if x))


# ---------------------------------------------------------------------------------------------- candidate pairs
def _rule_parts(rule: str) -> tuple[list[tuple[str, str]], list[tuple[str, str, bool]]]:
    """A blocking rule's equality keys ``[(left column, right column)]`` and null filters ``[(side, column,
    is_null)]``. Only conjunctions of ``l.x = r.y`` and ``side.x IS [NOT] NULL`` are understood (every rule of
    :mod:`bold_prevention.linkage.blocking` is one); anything else raises ``ValueError``."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(rule, read="duckdb")
    conjuncts = list(tree.flatten()) if isinstance(tree.unnest(), exp.And) else [tree]
    keys: list[tuple[str, str]] = []
    filters: list[tuple[str, str, bool]] = []
    for c in conjuncts:
        c = c.unnest()
        if isinstance(c, exp.EQ) and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Column):
            sides = {c.this.table: c.this.name, c.expression.table: c.expression.name}
            if set(sides) != {"l", "r"}:
                raise ValueError(f"not an l = r equality: {c.sql()}")
            keys.append((sides["l"], sides["r"]))
            continue
        negated = isinstance(c, exp.Not)
        inner = c.this.unnest() if negated else c
        if isinstance(inner, exp.Is) and isinstance(inner.this, exp.Column) and isinstance(inner.expression,
                                                                                          exp.Null):
            if inner.this.table not in ("l", "r"):
                raise ValueError(f"not a filter on l or r: {c.sql()}")
            filters.append((inner.this.table, inner.this.name, not negated))
            continue
        raise ValueError(f"not an equality or null test: {c.sql()}")
    if not keys:
        raise ValueError(f"a rule without an equality key: {rule}")
    return keys, filters


def rule_pairs(con, table: str, rule: str) -> int:
    """Candidate pairs one blocking rule makes in a dedupe of ``table`` (a DuckDB table or view name), counted by
    grouped counts rather than by joining: for each key, the records that can stand on the left times those that
    can stand on the right, less each record paired with itself, halved (a dedupe scores each pair once). For a
    symmetric rule (same columns on both sides, no one-sided filter) this is exactly ``sum n * (n - 1) / 2`` over
    the blocks; for a one-sided rule (a swapped date, a missing date on one side) it is the expected count of pairs
    with the left record's id below the right's."""
    keys, filters = _rule_parts(rule)
    q = quote_ident

    def side(s: str) -> str:
        cols = [lc if s == "l" else rc for lc, rc in keys]
        conds = [f"{q(c)} IS NOT NULL" for c in cols]
        conds += [f"{q(c)} IS {'' if is_null else 'NOT '}NULL" for sd, c, is_null in filters if sd == s]
        sel = ", ".join(f"{q(c)} AS k{i}" for i, c in enumerate(cols))
        return f"SELECT {sel}, COUNT(*) AS n FROM {table} WHERE {' AND '.join(conds)} GROUP BY ALL"

    self_conds = [f"{q(lc)} = {q(rc)}" for lc, rc in keys]
    self_conds += [f"{q(c)} IS {'' if is_null else 'NOT '}NULL" for _s, c, is_null in filters]
    using = ", ".join(f"k{i}" for i in range(len(keys)))
    sql = (f"WITH lk AS ({side('l')}), rk AS ({side('r')}) "
           f"SELECT (SELECT COALESCE(SUM(lk.n * rk.n), 0) FROM lk JOIN rk USING ({using})), "
           f"(SELECT COUNT(*) FROM {table} WHERE {' AND '.join(self_conds)})")
    ordered, selfs = con.execute(sql).fetchone()
    return round((int(ordered) - int(selfs)) / 2)


def candidate_pairs(con, table: str, rules: Sequence[str]) -> list[tuple[str, int]]:
    """:func:`rule_pairs` for each rule, in order. Pairs that two rules both make are counted under each (Splink
    scores them once): the sum is an upper bound on the pairs scored, and the calibration of the linkage cost uses
    the same sum, so the overlap is part of its per-pair cost."""
    return [(r, rule_pairs(con, table, r)) for r in rules]


def pair_sample(con, table: str, *, person: str | None = None,
                roles: Sequence[str] = JUSTICE_ROLES) -> dict[str, list[list[float]]]:
    """Count the candidate pairs of every blocking regime's rules on standardised identity records (``table``: a
    table name or a parenthesised query with an alias, DuckDB), on all of them and on the records of about half
    the persons (``person``: a column naming each record's person, e.g. a linkage run's medium-band cluster). The
    result is the ``pairs`` of :class:`LinkCurve` (``{regime: [[records, pairs, sub_records, sub_pairs]]}``).
    Without ``person`` the half is taken by record, which treats every pair as one between persons (an upper
    bound at larger sizes)."""
    key = person or "unique_id"
    n = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    half = f"(SELECT * FROM {table} WHERE hash({key}) % 2 = 0) AS half_sample"
    m = con.execute(f"SELECT COUNT(*) FROM {half}").fetchone()[0]
    if not 0 < m < n:
        raise InputError(f"too few records in {table} to count candidate pairs ({n})",
                         hint="count on a sample of some thousands of records or more")
    out: dict[str, list[list[float]]] = {}
    for regime, size in REGIMES.items():
        rules = [r["blocking_rule"] for r in prediction_blocking(roles, size)]
        p = sum(c for _r, c in candidate_pairs(con, table, rules))
        h = sum(c for _r, c in candidate_pairs(con, half, rules))
        out[regime] = [[float(n), float(p), float(m), float(h)]]
    return out


@dataclass
class StageCost:
    stage: str
    engine: str
    seconds: float
    peak_gb: float
    extrapolated: bool
    note: str = ""


@dataclass
class CostEstimate:
    persons: int
    engine: str
    stages: list[StageCost]
    seconds: float
    peak_gb: float
    advice: str
    machine_gb: float
    notes: list[str] = field(default_factory=list)
    link_chunks: int | None = None

    def to_dict(self) -> dict:
        return {"persons": self.persons, "engine": self.engine, "seconds": round(self.seconds, 1),
                "peak_gb": round(self.peak_gb, 2), "advice": self.advice, "machine_gb": self.machine_gb,
                "link_chunks": self.link_chunks, "notes": self.notes,
                "stages": [{"stage": s.stage, "engine": s.engine, "seconds": round(s.seconds, 1),
                            "peak_gb": round(s.peak_gb, 2), "extrapolated": s.extrapolated, "note": s.note}
                           for s in self.stages]}


def machine_memory_gb() -> float:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return 16.0


def default_stages(curves: CurvesSchema) -> tuple[str, ...]:
    """The stages of ``bold demo`` (``runs.demo`` in the curves), else every stage with a curve but ``link``."""
    return tuple(curves.runs.get("demo") or [s for s in STAGES if s in curves.stages])


def estimate(persons: int, *, engine: str = "duckdb", stages: Sequence[str] | None = None,
             curves: CurvesSchema | None = None, machine_gb: float | None = None, chunks: int | None = None,
             pair_samples: dict[str, list[Sequence[float]]] | None = None) -> CostEstimate:
    """Time and memory per stage for ``persons`` on ``engine``, and their sum (see the module docstring).
    ``stages``: default those of ``bold demo``. ``chunks``: score the linkage in ``chunks x chunks`` chunks (default:
    the fewest, of 1, 2, 4, 8 and 16, whose estimate fits this machine's memory). ``pair_samples``: a project's own
    candidate-pair counts (:func:`pair_sample`)."""
    if persons < 1:
        raise InputError("--persons must be at least 1", hint="give the population size to plan for")
    if engine not in ("duckdb", "spark"):
        raise InputError(f"unknown engine {engine!r}", hint="use duckdb or spark")
    if chunks is not None and chunks < 1:
        raise InputError(f"--chunks must be at least 1 (got {chunks})", hint="give the chunks per side, e.g. 4")
    curves = curves or load_curves()
    stages = tuple(stages) if stages is not None else default_stages(curves)
    unknown = [s for s in stages if s not in curves.stages and not (s == "link" and curves.link is not None)]
    if unknown:
        have = [*curves.stages, *(["link"] if curves.link is not None else [])]
        raise InputError(f"no measured curve for stage {unknown[0]!r}", hint=f"stages with curves: {', '.join(have)}")
    machine_gb = machine_gb or machine_memory_gb()
    out: list[StageCost] = []
    notes: list[str] = []
    used_chunks = None
    for s in stages:
        if s == "link" and curves.link is not None:
            records = persons * curves.link.records_per_person
            used = "spark" if engine == "spark" and curves.link.spark else "duckdb"
            tries = [chunks] if chunks is not None or used == "spark" else list(CHUNK_CHOICES)
            for k in tries:
                k = k or 1
                secs, mem, _pairs, ext, note = link_cost(curves.link, used, records, chunks=k,
                                                         samples=pair_samples)
                if mem <= MEMORY_HEADROOM * machine_gb:
                    break
            used_chunks = k
            if pair_samples:
                note += "; pairs counted on this project's records"
            out.append(StageCost(s, used, secs, mem, ext, note))
            continue
        c = curves.stages[s]
        pts = c.spark if engine == "spark" and c.spark else c.duckdb
        used = "spark" if engine == "spark" and c.spark else "duckdb"
        if not pts:
            notes.append(f"stage {s}: no measured points")
            continue
        secs, ext = interpolate([(p[0], p[1]) for p in pts], persons)
        mem, _ = interpolate([(p[0], p[2]) for p in pts], persons)
        note = "runs on DuckDB (no Spark path)" if engine == "spark" and used == "duckdb" else ""
        out.append(StageCost(s, used, secs, mem, ext, note))
    total = sum(x.seconds for x in out) + (curves.spark_session_s if engine == "spark" else 0.0)
    peak = max((x.peak_gb for x in out), default=0.0)
    if engine == "duckdb" and peak > MEMORY_HEADROOM * machine_gb:
        need = math.ceil(peak / MEMORY_HEADROOM / 8) * 8
        advice = (f"DuckDB needs about {peak:.1f} GB at its largest stage, more than {MEMORY_HEADROOM:.0%} of this "
                  f"machine's {machine_gb:.0f} GB: use a machine with at least {need} GB, or Spark on a cluster "
                  "(docs/national-scale-plan.md)")
    elif engine == "duckdb":
        advice = f"DuckDB on this machine ({machine_gb:.0f} GB): the largest stage needs about {peak:.1f} GB"
        if used_chunks and used_chunks > 1 and chunks is None:
            advice += f", with the linkage scored in {used_chunks} x {used_chunks} chunks (link_chunks: {used_chunks})"
    else:
        advice = ("Spark: the figures are for local mode on 2 cores; a cluster divides the stage times by roughly its "
                  "executor cores (the session start-up does not shrink)")
    if any(x.extrapolated for x in out):
        notes.append("some stages are extrapolated beyond the measured sizes: treat them as order-of-magnitude")
    return CostEstimate(persons, engine, out, total, peak, advice, machine_gb, notes, used_chunks)
