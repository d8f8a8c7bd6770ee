"""Shared fixtures: a small synthetic Data First population generated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("BOLD_PSEUDONYM_KEY", "test-only-pseudonym-key-not-secret")
os.environ.setdefault("BOLD_AUDIT_KEY", "test-only-audit-key-not-secret")
# A wide terminal so command output that tests read is not wrapped, whatever terminal CI has.
os.environ["COLUMNS"] = "250"

SMALL_PERSONS = 2000
SEED = 7


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """A synthetic population of 2,000 persons (seed 7): ``extracts/``, ``truth/`` and ``manifest.json``."""
    from bold_prevention.synth import generate

    out = tmp_path_factory.mktemp("synth") / "population"
    generate(out, persons=SMALL_PERSONS, seed=SEED)
    return out


@pytest.fixture(scope="session")
def spine_project(synth_dir, tmp_path_factory):
    """A project with the 2,000-person population loaded and the spine built (as at 2024-12-31, medium band).

    Shared across tests: treat it as read-only (copy ``warehouse.duckdb`` to change it).
    """
    from datetime import date

    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.warehouse.load import load_extracts

    project = Project(tmp_path_factory.mktemp("spine-project")).ensure()
    load_extracts(project, synth_dir)
    build_spine(project, as_at=date(2024, 12, 31), band="medium")
    return project


@pytest.fixture(scope="session")
def spine_warehouse_copy(spine_project):
    """Makes read-write DuckDB connections to copies of ``spine_project``'s warehouse: ``spine_warehouse_copy(folder)``
    (for module-scoped fixtures; close the connection when done)."""
    import shutil

    import duckdb

    def copy(folder: Path):
        db = folder / "warehouse.duckdb"
        shutil.copy(spine_project.warehouse_path, db)
        return duckdb.connect(str(db))

    return copy


@pytest.fixture()
def spine_copy_con(spine_project, tmp_path):
    """A read-write DuckDB connection to a copy of ``spine_project``'s warehouse (in its own project folder)."""
    import shutil

    from bold_prevention.project import Project
    from bold_prevention.warehouse.engine import duckdb_connect

    shutil.copy(spine_project.warehouse_path, tmp_path / "warehouse.duckdb")
    c = duckdb_connect(Project(tmp_path).ensure())
    yield c
    c.close()
