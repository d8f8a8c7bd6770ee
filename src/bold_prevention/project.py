"""A project folder: where the warehouse, reports and outputs of one piece of work live.

Layout (all under the project folder)::

    warehouse.duckdb     the embedded warehouse (DuckDB engine)
    parquet/             the warehouse as Parquet tables (Spark engine)
    reports/             quality, linkage QA and analysis reports
    outputs/             disclosure-checked outputs users take away
    models/              saved linkage and early-warning models
    audit/               the web application's audit log and accounts
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROJECT = "bold-project"


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike | None = None) -> Project:
        """The project at ``path``, or at ``$BOLD_PROJECT``, or ``./bold-project``."""
        return cls(Path(path or os.environ.get("BOLD_PROJECT") or DEFAULT_PROJECT).absolute())

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    def ensure(self) -> Project:
        for p in (self.root, self.reports_dir, self.outputs_dir, self.models_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self
