"""The pipeline configuration: which folders to read, which engine to run on, and the analysis settings.

``bold demo`` builds one for synthetic data; users point it at real extracts with a YAML file::

    engine: duckdb              # or spark
    spark_master: local[*]      # with engine: spark
    extracts: /secure/datafirst/extracts      # a folder of Data First extracts (Parquet or CSV)
    catalogues: /secure/datafirst/catalogues  # the eight ODS data catalogues
    partner_files: /secure/lbbd               # optional: la_residents / la_service_contacts files to link
    truth: null                               # synthetic only: the truth folder, for scoring
    as_at: 2024-12-31
    band: medium
    snapshot_date: 2025-01-31
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

import yaml

from ..errors import InputError

BANDS = ("high", "medium", "low")
ENGINES = ("duckdb", "spark")


@dataclass
class PipelineConfig:
    extracts: Path
    catalogues: Path | None = None
    partner_files: Path | None = None
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
        for name in ("extracts", "catalogues", "partner_files", "truth"):
            p = getattr(self, name)
            if p is not None and not Path(p).exists():
                raise InputError(f"{name} folder {p} does not exist", hint=f"fix the `{name}:` entry of the config")

    @classmethod
    def from_yaml(cls, path: str | Path) -> PipelineConfig:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError as e:
            raise InputError(f"config file {path} not found", hint="check the path") from e
        except yaml.YAMLError as e:
            raise InputError(f"config file {path} is not valid YAML: {e}", hint="fix the YAML syntax") from e
        if not isinstance(raw, dict):
            raise InputError(f"config file {path} must be a mapping of settings", hint="see docs/demo.md")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InputError(f"config file {path}: unknown settings {', '.join(unknown)}",
                             hint=f"known settings: {', '.join(sorted(known))}")
        if "extracts" not in raw:
            raise InputError(f"config file {path}: `extracts:` (the folder of Data First extracts) is required")
        base = path.parent
        for k in ("extracts", "catalogues", "partner_files", "truth"):
            if raw.get(k) is not None:
                p = Path(raw[k])
                raw[k] = p if p.is_absolute() else base / p
        for k in ("as_at", "snapshot_date"):
            if isinstance(raw.get(k), str):
                try:
                    raw[k] = date.fromisoformat(raw[k])
                except ValueError as e:
                    raise InputError(f"config file {path}: {k} {raw[k]!r} is not a YYYY-MM-DD date") from e
        return cls(**raw)
