"""``bold demo``: the whole Step A pipeline on a synthetic Data First population, in one project folder.

The demo folder is the project folder every other command uses by default (``./bold-project``, or
``$BOLD_PROJECT``), and it also holds the synthetic population and its catalogues::

    <out>/synthetic/      the synthetic extracts, truth tables and manifest (``bold synth``)
    <out>/catalogues/     the eight Data First ODS catalogues written for the synthetic data
    <out>/warehouse.duckdb, reports/, models/, register/, outputs/   the project (see bold_prevention.project)

The folder is built under a temporary name and renamed when everything succeeded, so an interrupted or failed run
never leaves a half-built demo under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from ..errors import InputError, OutputExistsError
from ..files import atomic_dir
from ..project import Project
from .config import PipelineConfig
from .run import PipelineResult, run_pipeline

DEFAULT_PERSONS = 50_000
#: The smallest synthetic population whose every extract holds the values the data contracts require (smaller ones
#: leave some Data First tables empty, and the load is rightly blocked).
MIN_PERSONS = 500
DEFAULT_SEED = 42
AS_AT = date(2024, 12, 31)
SNAPSHOT = date(2025, 1, 31)


def run_demo(out: str | os.PathLike | None = None, *, persons: int = DEFAULT_PERSONS, seed: int = DEFAULT_SEED,
             overwrite: bool = False, progress: Callable[[str, str], None] | None = None,
             waves: Sequence[int] = (), xjs: str = "published") -> PipelineResult:
    """Synthesise a population of ``persons``, write its catalogues, and run the pipeline into ``out`` (default the
    default project folder). ``waves`` (1, 2, 3) adds those waves' synthetic sources, which the ``waves`` stage links
    to the spine and the ``studies`` stage uses. ``xjs="improved"`` builds the spine on the XJS audit's improved person
    id (``bold link xjs-audit``) instead of the linking table as supplied."""
    from ..catalogue import write_synthetic_catalogues
    from ..datafirst.waves import resolve_sources
    from ..synth import generate

    if persons < MIN_PERSONS:
        raise InputError(f"a synthetic population of {persons:,} persons is too small for the whole pipeline",
                         hint=f"use --persons {MIN_PERSONS} or more (smaller populations leave Data First tables "
                              "empty, which the data contracts refuse)")
    from ..linkage.pseudonym import pseudonym_key

    pseudonym_key()  # the spine needs it: refused before the population is made, not after
    say = progress or (lambda _s, _m: None)
    final = Project.at(out).root
    if final.exists() and not overwrite:
        raise OutputExistsError(f"output folder {final} already exists",
                                hint="pass --overwrite to replace it, or choose another folder with --out")
    # the project is renamed into place at the end: keep keys and paths relative to the folder
    with atomic_dir(final, overwrite=overwrite) as tmp:
        say("synthetic data", f"generating {persons:,} persons (seed {seed})")
        sources = resolve_sources(waves=list(waves)) if waves else ()
        generate(tmp / "synthetic", persons=persons, seed=seed, sources=sources,
                 progress=lambda stage, i, n: say("synthetic data", f"{stage} ({i}/{n})"))
        say("catalogues", "writing the eight Data First catalogues for the synthetic data")
        write_synthetic_catalogues(tmp / "catalogues")
        config = PipelineConfig(extracts=tmp / "synthetic", catalogues=tmp / "catalogues",
                                truth=tmp / "synthetic" / "truth", as_at=AS_AT, band="medium",
                                snapshot_date=SNAPSHOT, xjs=xjs)
        result = run_pipeline(config, project=Project(tmp), progress=progress, command="bold demo")
    # report final paths, not the temporary ones
    tmp_root = str(result.project)
    result.project = final
    result.outputs = {k: Path(str(v).replace(tmp_root, str(final), 1)) for k, v in result.outputs.items()}
    return result


def run_from_config(config_path: str | os.PathLike, project: str | os.PathLike | Project | None = None, *,
                    stages: Sequence[str] | str | None = None, engine: str | None = None,
                    spark_master: str | None = None, progress: Callable[[str, str], None] | None = None,
                    command: str = "bold demo") -> PipelineResult:
    """Run the pipeline on the extracts a config file names (see :mod:`bold_prevention.pipeline.config`), on its
    engine (or ``engine`` / ``spark_master`` given here, which override the file's)."""
    import dataclasses

    config = PipelineConfig.from_yaml(config_path)
    overrides: dict = {}
    if engine is not None:
        from ..warehouse.engine import engine_setting

        overrides["engine"] = engine_setting(engine)
    if spark_master is not None:
        overrides["spark_master"] = spark_master
    if overrides:
        config = dataclasses.replace(config, **overrides)
    proj = project if isinstance(project, Project) else Project.at(project)
    return run_pipeline(config, stages, project=proj, progress=progress, command=command)
