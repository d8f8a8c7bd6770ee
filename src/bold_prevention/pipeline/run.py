"""One pipeline: :func:`run_pipeline` runs the chosen stages of the registry (:mod:`.stages`) on one engine.

    catalogues -> register -> load and quality -> [link] -> spine -> waves (local authority, Wave 1-2, outcomes)
    -> cohorts and profiles -> places -> timeline -> pathways -> early warning -> release

``bold demo`` (every stage but ``link``, on a synthetic population or a config's extracts) and ``bold scale run``
(the stages asked for, default spine, cohorts, timeline) both call it. The engine is the configuration's
(``engine:``), or the one given here: DuckDB runs on ``<project>/warehouse.duckdb``; Spark loads and checks the
extracts on DuckDB, exports them as the Parquet warehouse ``<project>/parquet`` and runs every later stage there,
through the same library functions. What the run did differently from what was asked (a skipped cohort, the load on
DuckDB) is in its ``notes``; each stage reports progress through ``progress(stage, message)``; a stage that fails
stops the run with the library's own error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project import Project
from .config import PipelineConfig
from .stages import BY_NAME, DEMO_STAGES, QUESTION_KEYS, check_engine, choose

Progress = Callable[[str, str], None]


@dataclass
class StageResult:
    stage: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PipelineResult:
    project: Path
    engine: str = "duckdb"
    master: str | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    stages: list[StageResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    partial: bool = False
    open_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.open_seconds + sum(s.seconds for s in self.stages)

    def stage(self, name: str) -> StageResult:
        for s in self.stages:
            if s.stage == name:
                return s
        raise KeyError(name)


def _noop(_stage: str, _msg: str) -> None:
    return None


class Run:
    """What a stage sees: the configuration, the project, the engine, the open warehouse and what the run has
    collected so far (disclosure-checked outputs for the release, figures, notes)."""

    def __init__(self, config: PipelineConfig, project: Project, chosen: list[str], *, progress: Progress,
                 command: str) -> None:
        self.config = config
        self.project = project
        self.engine = config.engine
        self.chosen = chosen
        self.command = command
        self.releasing = "release" in chosen
        self.result = PipelineResult(project=project.root, engine=config.engine)
        #: the disclosure-checked outputs and text sections for the release, by question (``stages.QUESTIONS``)
        self.published: dict[str, list] = {}
        self.texts: dict[str, list[tuple[str, str]]] = {}
        #: "<question>/<part>" -> the part's title (one release per cohort, per early-warning use case)
        self.part_titles: dict[str, str] = {}
        #: the studies the ``studies`` stage ran (``studies.run.StudyRun``), each published as its own release
        self.studies: list = []
        self._progress = progress
        self._stage = ""
        self._wh = None

    # ------------------------------------------------------------------ for the stages
    def say(self, message: str) -> None:
        self._progress(self._stage, message)

    def note(self, message: str) -> None:
        self.result.notes.append(message)
        self.say(message)

    def publish(self, question: str, outputs: Sequence, texts: Sequence[tuple[str, str]] = (), *,
                part: str | None = None, part_title: str | None = None) -> None:
        """Add checked outputs (and text sections) to the release that answers ``question``; with ``part`` (a
        cohort, a use case) to that part's own release of the question (``<question>-<part>``)."""
        if question not in QUESTION_KEYS:
            raise KeyError(f"no release answers the question {question!r}")
        key = question if part is None else f"{question}/{part}"
        self.published.setdefault(key, []).extend(outputs)
        self.texts.setdefault(key, []).extend(texts)
        if part is not None:
            self.part_titles[key] = part_title or part

    def output(self, name: str, path: Path) -> None:
        self.result.outputs[name] = Path(path)

    def detail(self, **kw: Any) -> None:
        self.result.stage(self._stage).detail.update(kw)

    def warehouse(self):
        """The project's warehouse on the run's engine, opened on first use."""
        if self._wh is None:
            from ..warehouse.engine import open_warehouse

            t0 = time.perf_counter()
            cfg = self.config
            self.say(f"opening the warehouse on {self.engine}" + (f" ({cfg.spark_master})" if cfg.spark_master
                                                                  else ""))
            self._wh = open_warehouse(self.project, self.engine, spark_master=cfg.spark_master,
                                      partitions=cfg.partitions)
            self.result.master = self._wh.master
            self.result.open_seconds = round(time.perf_counter() - t0, 2)
        return self._wh

    def analysis_backend(self):
        """What the timeline, pathway and early-warning functions take: the DuckDB connection, or on Spark the
        Ibis backend over the Spark warehouse."""
        wh = self.warehouse()
        return wh.ibis() if wh.is_spark else wh.con

    # ------------------------------------------------------------------ driving
    def run_stage(self, name: str) -> None:
        st = BY_NAME[name]
        self._stage = name
        self.result.stages.append(StageResult(name, 0.0))
        t0 = time.perf_counter()
        self.say("started")
        st.run(self)
        secs = round(time.perf_counter() - t0, 2)
        self.result.stages[-1].seconds = secs
        self.result.timings[name] = secs
        self.say(f"done in {secs:.1f} s")

    def close(self) -> None:
        if self._wh is not None:
            self._wh.close()
            self._wh = None


#: Stages that write pseudonymised person ids, so need ``$BOLD_PSEUDONYM_KEY``.
KEYED_STAGES = frozenset({"link", "spine"})


def run_pipeline(config: PipelineConfig, stages: Sequence[str] | str | None = None, engine: str | None = None, *,
                 project: Project | str | Path | None = None, progress: Progress | None = None,
                 command: str = "bold demo") -> PipelineResult:
    """Run ``stages`` (default: the whole of Step A but the justice dedupe) of ``config`` on ``engine`` (default the
    configuration's) into ``project`` (default ``$BOLD_PROJECT`` or ``./bold-project``).

    Every stage name is checked, and a Spark run of a stage that cannot run on Spark is refused, before anything
    runs. ``command`` is recorded with the release in the project's ledger. The run summary (figures, timings,
    notes: exact, for the analyst inside the secure setting) is written to ``<project>/reports/pipeline.json``.
    """
    if engine is not None and engine != config.engine:
        from ..warehouse.engine import engine_setting

        config = dataclasses.replace(config, engine=engine_setting(engine))  # checked again (spark-only keys)
    proj = project if isinstance(project, Project) else Project.at(project)
    chosen = choose(stages, DEMO_STAGES)
    run = Run(config, proj, chosen, progress=progress or _noop, command=command)
    check_engine(chosen, config.engine, run)
    if KEYED_STAGES & set(chosen):
        from ..linkage.pseudonym import pseudonym_key

        pseudonym_key()  # refused before the first stage, not after the population is made and loaded
    proj.ensure()
    from ..linkage.splink_model import route_splink_log

    route_splink_log(proj.root / "logs" / "splink.log")  # Splink's own messages: the project's log, not the output
    try:
        for name in chosen:
            run.run_stage(name)
    finally:
        run.close()
        route_splink_log()  # the log file belongs to this run's project only
    _write_summary(run)
    return run.result


def _write_summary(run: Run) -> None:
    res, root = run.result, run.project.root
    from ..files import atomic_file

    path = run.project.reports_dir / "pipeline.json"
    text = json.dumps(
        {"internal": "Run summary for the analyst inside the secure setting: exact counts, not disclosure-checked. "
                     "Take figures away only through a release folder.",
         "engine": res.engine, "master": res.master, "stages": [s.stage for s in res.stages],
         "figures": res.figures, "timings": res.timings, "notes": res.notes, "partial": res.partial,
         # relative to the project folder: `bold demo` builds it under a temporary name
         "outputs": {k: (os.path.relpath(v, root) if str(v).startswith(str(root)) else str(v))
                     for k, v in res.outputs.items()}}, indent=2, default=str)
    with atomic_file(path) as fh:
        fh.write(text)
    res.outputs["run summary"] = path
