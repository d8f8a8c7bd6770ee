"""``bold demo``: the whole Step A pipeline on a synthetic Data First population, in one folder.

The demo folder is a project folder (``bold serve --project DIR`` opens it) that also holds the synthetic
population and its catalogues::

    <out>/synthetic/      the synthetic extracts, truth tables and manifest (``bold synth``)
    <out>/catalogues/     the eight Data First ODS catalogues written for the synthetic data
    <out>/warehouse.duckdb, reports/, models/, register/, outputs/   the project (see bold_prevention.project)

The folder is built under a temporary name and renamed when everything succeeded, so an interrupted or failed run
never leaves a half-built demo under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

from ..errors import InputError, OutputExistsError
from ..files import atomic_dir
from ..project import Project
from .config import PipelineConfig
from .run import PipelineResult, run_pipeline

DEFAULT_PERSONS = 50_000
DEFAULT_SEED = 42
AS_AT = date(2024, 12, 31)
SNAPSHOT = date(2025, 1, 31)


def run_demo(out: str | os.PathLike, *, persons: int = DEFAULT_PERSONS, seed: int = DEFAULT_SEED,
             overwrite: bool = False, progress: Callable[[str, str], None] | None = None) -> PipelineResult:
    """Synthesise a population of ``persons``, write its catalogues, and run the pipeline into ``out``."""
    from ..catalogue import write_synthetic_catalogues
    from ..synth import generate

    say = progress or (lambda _s, _m: None)
    final = Path(out).absolute()
    if final.exists() and not overwrite:
        raise OutputExistsError(f"output folder {final} already exists",
                                hint="pass --overwrite to replace it, or choose another folder with --out")
    # the project is renamed into place at the end: keep keys and paths relative to the folder
    with atomic_dir(final, overwrite=overwrite) as tmp:
        say("synthetic data", f"generating {persons:,} persons (seed {seed})")
        generate(tmp / "synthetic", persons=persons, seed=seed,
                 progress=lambda stage, i, n: say("synthetic data", f"{stage} ({i}/{n})"))
        say("catalogues", "writing the eight Data First catalogues for the synthetic data")
        write_synthetic_catalogues(tmp / "catalogues")
        config = PipelineConfig(extracts=tmp / "synthetic", catalogues=tmp / "catalogues",
                                truth=tmp / "synthetic" / "truth", as_at=AS_AT, band="medium",
                                snapshot_date=SNAPSHOT)
        result = run_pipeline(config, Project(tmp), progress=progress)
    # report final paths, not the temporary ones
    tmp_root = str(result.project)
    result.project = final
    result.outputs = {k: Path(str(v).replace(tmp_root, str(final), 1)) for k, v in result.outputs.items()}
    return result


def run_from_config(config_path: str | os.PathLike, project: str | os.PathLike | None,
                    progress: Callable[[str, str], None] | None = None) -> PipelineResult:
    """Run the pipeline on real extracts named in a config file (see :mod:`bold_prevention.pipeline.config`)."""
    config = PipelineConfig.from_yaml(config_path)
    if config.engine != "duckdb" or config.spark_master is not None:
        raise InputError(f"{config_path}: this command runs on the embedded DuckDB engine, not {config.engine}"
                         + (" (spark_master is set)" if config.spark_master is not None else ""),
                         hint="run the config with `bold scale run --config`, or set engine: duckdb and remove "
                         "spark_master")
    return run_pipeline(config, Project.at(project), progress=progress)
