"""The pipeline on either engine: justice linkage, the XJS spine join and spine, cohorts and the timeline.

:func:`run_pipeline` opens the project's warehouse on the chosen engine (:func:`.engine.open_warehouse`) and calls
the library's own functions - :func:`bold_prevention.spine.build_spine` (which joins records to their XJS persons
with :func:`bold_prevention.linkage.xjs.build_person_records`), :func:`bold_prevention.cohorts.build_cohort`,
:func:`bold_prevention.trajectories.timeline.build_timeline` and :func:`.linkage.dedupe_justice_records` - over
that warehouse: the same SQL (transpiled by sqlglot on Spark), the same Ibis expressions and the same Splink
settings. There is no second implementation of any step.

On Spark the warehouse is the Parquet folder ``<project>/parquet``; loading (with its data-contract checks) runs
on DuckDB first and the checked tables are exported (:mod:`.export`), which :func:`run_from_config` does for a
pipeline configuration with ``engine: spark``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..project import Project
from .engine import engine_setting, open_warehouse

__all__ = ["STAGES", "StageResult", "PipelineRun", "run_pipeline", "run_from_config"]

#: Stages in the order they run.
STAGES: tuple[str, ...] = ("link", "spine", "cohorts", "timeline")
DEFAULT_STAGES: tuple[str, ...] = ("spine", "cohorts", "timeline")

Progress = Callable[[str], None]


@dataclass
class StageResult:
    stage: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineRun:
    engine: str
    master: str | None
    project: Path
    stages: list[StageResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    open_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.open_seconds + sum(s.seconds for s in self.stages)


def _stages(stages: Sequence[str] | str | None) -> list[str]:
    if stages is None:
        return list(DEFAULT_STAGES)
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise InputError(f"unknown pipeline stage(s) {', '.join(unknown)}", hint=f"use some of {', '.join(STAGES)}")
    return [s for s in STAGES if s in stages]


def run_pipeline(project: Project | str | Path | None = None, *, engine: str | None = None,
                 stages: Sequence[str] | str | None = None, as_at: date | str = date(2024, 12, 31),
                 band: str = "medium", register=None, cohorts: Sequence[str] | None = None,
                 link_model: str | Path | None = None, link_chunks: tuple[int, int] | None = None,
                 link_incremental: bool = False, spark_master: str | None = None, partitions: int | None = None,
                 progress: Progress | None = None) -> PipelineRun:
    """Run the chosen stages (default spine, cohorts, timeline) on ``engine`` (``duckdb`` or ``spark``).

    ``cohorts``: cohort specs to build (names of shipped specs or YAML paths); default every shipped spec, those
    the register cannot support being skipped with a note. ``link_model``: the saved Splink model for the ``link``
    stage (default ``<project>/models/justice_dedupe.json``, trained there when missing). ``link_incremental``:
    link only the records new or changed since the last link run (:func:`.incremental.link_new_snapshot`).
    """
    say = progress or (lambda _m: None)
    chosen = _stages(stages)
    eng = engine_setting(engine)
    as_at_d = as_at if isinstance(as_at, date) else date.fromisoformat(str(as_at))
    t0 = time.perf_counter()
    say(f"opening the warehouse on {eng}" + (f" ({spark_master})" if spark_master else ""))
    wh = open_warehouse(project, eng, spark_master=spark_master, partitions=partitions)
    run = PipelineRun(engine=eng, master=wh.master, project=wh.project.root,
                      open_seconds=time.perf_counter() - t0)
    try:
        if "link" in chosen and link_incremental:
            from .incremental import link_new_snapshot

            t0 = time.perf_counter()
            inc = link_new_snapshot(wh, model_path=link_model, progress=say)
            run.stages.append(StageResult("link", time.perf_counter() - t0, {
                "incremental": True, "existing": inc.existing, "new": inc.new, "changed": inc.changed,
                "removed": inc.removed, "reopened": inc.reopened, "pairs": inc.pairs,
                "joined_existing": inc.joined_existing, "merged_clusters": inc.merged_clusters}))
        elif "link" in chosen:
            from .linkage import dedupe_justice_records

            t0 = time.perf_counter()
            res = dedupe_justice_records(wh, model_path=link_model, chunks=link_chunks, progress=say)
            run.stages.append(StageResult("link", time.perf_counter() - t0, {
                "records": res.records, "pairs": res.pairs, "excluded": res.excluded, "clusters": res.clusters,
                "model": str(res.model_path), "trained": res.trained}))
        if "spine" in chosen:
            from ..spine import build_spine

            t0 = time.perf_counter()
            res = build_spine(wh.con, as_at=as_at_d, band=band, register=register, progress=say)
            run.stages.append(StageResult("spine", time.perf_counter() - t0, {
                "persons": res.persons, "need_rows": res.needs_rows, "as_at": res.as_at.isoformat(),
                "band": res.band}))
        if "cohorts" in chosen:
            from ..cohorts import build_cohort, shipped_specs

            names = list(cohorts) if cohorts else sorted(shipped_specs())
            t0 = time.perf_counter()
            built = {}
            for name in names:
                say(f"cohort {name}")
                try:
                    c = build_cohort(wh.con, name)
                except InputError as e:
                    if cohorts:
                        raise
                    run.notes.append(f"cohort {name} skipped: {e.message}")
                    continue
                built[c.name] = c.persons
            run.stages.append(StageResult("cohorts", time.perf_counter() - t0, {"persons": built}))
        if "timeline" in chosen:
            from ..trajectories.timeline import build_timeline

            t0 = time.perf_counter()
            say("timeline")
            tl = build_timeline(wh.ibis())
            run.stages.append(StageResult("timeline", time.perf_counter() - t0, {
                "rows": tl.rows, "persons": tl.persons}))
            run.notes += [f"timeline: {s}" for s in tl.skipped]
    finally:
        wh.close()
    return run


def run_from_config(config_path: str | Path, project: Project | str | Path | None = None, *,
                    stages: Sequence[str] | str | None = None, engine: str | None = None,
                    spark_master: str | None = None, progress: Progress | None = None) -> PipelineRun:
    """Run the pipeline as a configuration file says (``engine``, ``spark_master``, ``extracts``, ``as_at``,
    ``band``, ``snapshot_date``, ``cohorts``): load and check the extracts on DuckDB, export them for Spark when
    the engine is Spark, then run the stages. ``engine`` / ``spark_master`` given here override the file."""
    from ..pipeline.config import PipelineConfig
    from ..warehouse.load import load_extracts
    from .export import export_warehouse_to_parquet

    say = progress or (lambda _m: None)
    cfg = PipelineConfig.from_yaml(config_path)
    eng = engine_setting(engine or cfg.engine)
    proj = project if isinstance(project, Project) else Project.at(project)
    say(f"loading and checking {cfg.extracts}")
    load_extracts(proj, cfg.extracts, snapshot_date=cfg.snapshot_date)
    if eng == "spark":
        say("exporting the checked warehouse as Parquet for Spark")
        export_warehouse_to_parquet(proj, overwrite=True, progress=say)
    return run_pipeline(proj, engine=eng, stages=stages, as_at=cfg.as_at, band=cfg.band,
                        cohorts=cfg.cohorts or None, spark_master=spark_master or cfg.spark_master,
                        progress=progress)
