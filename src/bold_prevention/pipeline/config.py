"""The pipeline configuration: which folders to read, which engine to run on, and the analysis settings.

``bold demo`` builds one for synthetic data; users point it at real extracts with a YAML file::

    engine: duckdb              # or spark
    spark_master: local[*]      # with engine: spark
    extracts: /secure/datafirst/extracts      # a folder of Data First extracts (Parquet or CSV)
    catalogues: /secure/datafirst/catalogues  # the eight ODS data catalogues
    truth: null                               # synthetic only: the truth folder, for scoring
    as_at: 2024-12-31
    band: medium
    snapshot_date: 2025-01-31
    cohorts: [multiple_disadvantage]          # optional: the cohorts to build (default: the shipped set)

The file is checked by :class:`PipelineConfigSchema` (unknown keys and wrong types refused, every problem at once
with its line). Local-authority files (``la_residents``, ``la_service_contacts``) go in the extracts folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..config import ConfigModel, IsoDate, load_config
from ..errors import InputError

BANDS = ("high", "medium", "low")
ENGINES = ("duckdb", "spark")


@dataclass
class PipelineConfig:
    extracts: Path
    catalogues: Path | None = None
    truth: Path | None = None
    engine: str = "duckdb"
    spark_master: str | None = None
    as_at: date = date(2024, 12, 31)
    band: str = "medium"
    snapshot_date: date | None = None
    cohorts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"engine {self.engine!r} is not known", hint=f"use one of {', '.join(ENGINES)}")
        if self.band not in BANDS:
            raise InputError(f"band {self.band!r} is not known", hint=f"use one of {', '.join(BANDS)}")
        for name in ("extracts", "catalogues", "truth"):
            p = getattr(self, name)
            if p is not None and not Path(p).exists():
                raise InputError(f"{name} folder {p} does not exist", hint=f"fix the `{name}:` entry of the config")

    @classmethod
    def from_yaml(cls, path: str | Path) -> PipelineConfig:
        """Read and check a pipeline config file (relative folders are read from the file's folder)."""
        path = Path(path)
        cfg = load_config(path, PipelineConfigSchema, what="config file",
                          hint="fix each problem listed above (see docs/demo.md)").data()
        base = path.parent
        for k in ("extracts", "catalogues", "truth"):
            if cfg.get(k) is not None:
                p = Path(cfg[k])
                cfg[k] = p if p.is_absolute() else base / p
        for k in ("as_at", "cohorts"):
            if cfg.get(k) is None:
                cfg.pop(k, None)
        return cls(**cfg)


class PipelineConfigSchema(ConfigModel):
    """The keys and types of a pipeline config file; each one is read by the pipeline."""

    extracts: str
    catalogues: str | None = None
    truth: str | None = None
    engine: str = "duckdb"
    spark_master: str | None = None
    as_at: IsoDate | None = None
    band: str = "medium"
    snapshot_date: IsoDate | None = None
    cohorts: list[str] | None = None
