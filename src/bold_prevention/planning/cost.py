"""A cost estimate before a run (``bold plan cost``): time and memory per stage for a target size, and which
engine and machine to use.

The estimate comes from measured benchmark points (``data/cost_curves.yaml``: stage, engine, persons, seconds, peak
memory). A stage's time and memory are a fixed cost plus a cost per person: the straight line through the two
measured sizes either side of the target, or through the two nearest beyond the measured range; a stage measured at
one size only scales proportionally. ``bench/plan_cost.py`` scores this by leaving each measured size out in turn. With a loaded project, the linkage stage is scaled by the project's own candidate
pairs per record against the benchmark population's (``blocking_ratio``), because linkage time follows the pairs the
blocking rules keep rather than the records.

The engine advice follows the memory estimate: DuckDB on one machine while the largest stage fits in 60% of its
memory; otherwise Spark on a cluster (``docs/national-scale-plan.md``). Each estimate says how far from measured
figures it rests (``extrapolated`` when the size is outside the measured range).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import Field

from ..config import ConfigModel, load_config, parse_config
from ..errors import InputError

#: Stages in the order a run takes them.
STAGES = ("synth", "load", "link", "spine", "timeline", "pathways", "early_warning")
#: Share of a machine's memory the largest stage may use before the advice moves to a larger machine or Spark.
MEMORY_HEADROOM = 0.6


Point = Annotated[list[float], Field(min_length=3, max_length=3, description="[persons, seconds, peak GB]")]


class StageCurve(ConfigModel):
    duckdb: list[Point] = Field(default_factory=list)
    spark: list[Point] = Field(default_factory=list)
    source: str = ""


class CurvesSchema(ConfigModel):
    version: int = 1
    machine: dict[str, float] = Field(default_factory=dict)
    stages: dict[str, StageCurve]
    spark_session_s: float = 15.0


def load_curves(path: str | os.PathLike | None = None) -> CurvesSchema:
    """The shipped curves, or a file of the same shape measured elsewhere."""
    if path is None:
        raw = resources.files(__package__).joinpath("data/cost_curves.yaml").read_bytes()
        c = parse_config(raw, CurvesSchema, source="cost_curves.yaml")
    else:
        c = load_config(Path(path), CurvesSchema, source=str(path))
    for name, st in c.stages.items():
        for engine, pts in (("duckdb", st.duckdb), ("spark", st.spark)):
            if any(p[0] <= 0 or p[1] <= 0 or p[2] <= 0 for p in pts):
                raise InputError(f"cost curves: stage {name}, engine {engine}: sizes, seconds and memory must be "
                                 "positive", hint="fix the measured points")
    return c


def interpolate(points: list[tuple[float, float]], x: float) -> tuple[float, bool]:
    """``y`` at ``x`` from measured ``(x, y)`` points: a fixed cost plus a per-person cost (the straight line)
    through the two neighbouring points, or the two nearest beyond them; below the smallest point never less than
    proportional scaling, so the value stays positive. A single point scales proportionally. Returns
    (y, extrapolated)."""
    pts = sorted(points)
    if not pts:
        raise ValueError("no points")
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

    def to_dict(self) -> dict:
        return {"persons": self.persons, "engine": self.engine, "seconds": round(self.seconds, 1),
                "peak_gb": round(self.peak_gb, 2), "advice": self.advice, "machine_gb": self.machine_gb,
                "notes": self.notes,
                "stages": [{"stage": s.stage, "engine": s.engine, "seconds": round(s.seconds, 1),
                            "peak_gb": round(s.peak_gb, 2), "extrapolated": s.extrapolated, "note": s.note}
                           for s in self.stages]}


def machine_memory_gb() -> float:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return 16.0


def estimate(persons: int, *, engine: str = "duckdb", stages: tuple[str, ...] = STAGES, curves: CurvesSchema | None = None,
             blocking_ratio: float | None = None, machine_gb: float | None = None) -> CostEstimate:
    """Time and memory per stage for ``persons`` on ``engine`` (see the module docstring)."""
    if persons < 1:
        raise InputError("--persons must be at least 1", hint="give the population size to plan for")
    if engine not in ("duckdb", "spark"):
        raise InputError(f"unknown engine {engine!r}", hint="use duckdb or spark")
    curves = curves or load_curves()
    unknown = [s for s in stages if s not in curves.stages]
    if unknown:
        raise InputError(f"no measured curve for stage {unknown[0]!r}",
                         hint=f"stages with curves: {', '.join(curves.stages)}")
    machine_gb = machine_gb or machine_memory_gb()
    out: list[StageCost] = []
    notes: list[str] = []
    for s in stages:
        c = curves.stages[s]
        pts = c.spark if engine == "spark" and c.spark else c.duckdb
        used = "spark" if engine == "spark" and c.spark else "duckdb"
        if not pts:
            notes.append(f"stage {s}: no measured points")
            continue
        secs, ext = interpolate([(p[0], p[1]) for p in pts], persons)
        mem, _ = interpolate([(p[0], p[2]) for p in pts], persons)
        note = ""
        if s == "link" and blocking_ratio is not None:
            secs *= blocking_ratio
            note = f"scaled by this project's candidate pairs per record ({blocking_ratio:.2f}x the benchmark's)"
        if engine == "spark" and used == "duckdb":
            note = (note + "; " if note else "") + "runs on DuckDB (no Spark path)"
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
    else:
        advice = ("Spark: the figures are for local mode on 2 cores; a cluster divides the stage times by roughly its "
                  "executor cores (the session start-up does not shrink)")
    if any(x.extrapolated for x in out):
        notes.append("some stages are extrapolated beyond the measured sizes: treat them as order-of-magnitude")
    return CostEstimate(persons, engine, out, total, peak, advice, machine_gb, notes)


def project_blocking_ratio(con, *, benchmark_pairs_per_record: float = 8.36) -> float | None:
    """The project's candidate pairs per identity record over the benchmark population's (8.36 at 1,000,000:
    8,874,712 pairs for 1,061,631 records), from the last justice linkage run; ``None`` when there was none."""
    from ..warehouse.engine import table_exists

    if not table_exists(con, "linkage", "justice_pairs") or not table_exists(con, "linkage", "justice_standardised"):
        return None
    pairs = con.execute("SELECT COUNT(*) FROM linkage.justice_pairs").fetchone()[0]
    recs = con.execute("SELECT COUNT(*) FROM linkage.justice_standardised").fetchone()[0]
    if not recs:
        return None
    return (pairs / recs) / benchmark_pairs_per_record
