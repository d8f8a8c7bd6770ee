"""The pipeline configuration: which folders to read, which engine to run on, and the analysis settings.

``bold demo`` builds one for synthetic data; users point ``bold demo --config`` or ``bold scale run --config`` at
real extracts with a YAML file::

    engine: duckdb              # or spark
    spark_master: local[*]      # with engine: spark (default local[*], or $BOLD_SPARK_MASTER)
    partitions: 8               # with engine: spark: shuffle partitions
    extracts: /secure/datafirst/extracts      # a folder of Data First extracts (Parquet or CSV)
    catalogues: /secure/datafirst/catalogues  # the eight ODS data catalogues
    truth: null                               # synthetic only: the truth folder, for scoring
    as_at: 2024-12-31
    band: medium
    xjs: published              # or improved: the XJS audit's improved person id (DuckDB only)
    snapshot_date: 2025-01-31
    cohorts: [multiple_disadvantage]          # optional: the cohorts to build (default: the shipped set)
    register: my_register.yaml                # optional: the register the spine's needs come from
    link_model: models/justice_dedupe.json    # the `link` stage (Splink dedupe of the justice identities)
    link_chunks: 4                            # the `link` stage: score in 4 x 4 chunks
    link_incremental: false                   # the `link` stage: link only new or changed records

The file is checked by :class:`PipelineConfigSchema` (unknown keys and wrong types refused, every problem at once
with its line), and every key is read by a stage (:mod:`.stages`); a key that has no meaning with the chosen
engine (``spark_master`` or ``partitions`` on DuckDB) is refused, never ignored. Local-authority files
(``la_residents``, ``la_service_contacts``) go in the extracts folder, Wave 1-2 sources in its ``waves/`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import Field

from ..config import ConfigModel, IsoDate, load_config
from ..errors import InputError

BANDS = ("high", "medium", "low")
ENGINES = ("duckdb", "spark")
PATH_KEYS = ("extracts", "catalogues", "truth", "register", "link_model")


@dataclass
class PipelineConfig:
    """What one run of the pipeline reads and how (see the module docstring for each key).

    ``extracts`` is needed only by the ``load`` stage: without it the stages run on the project's warehouse as it
    was loaded before (``bold load``, ``bold scale load``)."""

    extracts: Path | None = None
    catalogues: Path | None = None
    truth: Path | None = None
    engine: str = "duckdb"
    spark_master: str | None = None
    partitions: int | None = None
    as_at: date = date(2024, 12, 31)
    band: str = "medium"
    xjs: str = "published"
    snapshot_date: date | None = None
    cohorts: list[str] = field(default_factory=list)
    register: Path | None = None
    link_model: Path | None = None
    link_chunks: int | None = None
    link_incremental: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"engine {self.engine!r} is not known", hint=f"use one of {', '.join(ENGINES)}")
        if self.band not in BANDS:
            raise InputError(f"band {self.band!r} is not known", hint=f"use one of {', '.join(BANDS)}")
        if self.xjs not in ("published", "improved"):
            raise InputError(f"xjs {self.xjs!r} is not known",
                             hint="use `xjs: published` (the XJS linking table as supplied) or `xjs: improved` (XJS "
                                  "joined where the toolkit's own model links two of its persons with confidence)")
        if self.xjs == "improved" and self.engine == "spark":
            raise InputError("`xjs: improved` is built by the XJS audit, which runs on DuckDB",
                             hint="run the XJS audit and spine on DuckDB (`bold link xjs-audit`, `bold spine build "
                                  "--xjs improved`), or use `xjs: published` on Spark")
        if self.engine != "spark":
            for key in ("spark_master", "partitions"):
                if getattr(self, key) is not None:
                    raise InputError(f"`{key}` is set but the engine is {self.engine}: it applies to Spark only",
                                     hint=f"set `engine: spark` to run on Spark, or remove `{key}`")
        if self.partitions is not None and self.partitions < 1:
            raise InputError(f"partitions must be at least 1 (got {self.partitions})",
                             hint="give the number of Spark shuffle partitions, e.g. `partitions: 8`")
        if self.link_chunks is not None and self.link_chunks < 1:
            raise InputError(f"link_chunks must be at least 1 (got {self.link_chunks})",
                             hint="give the number of chunks per side, e.g. `link_chunks: 4`, or remove it")
        if self.link_incremental and self.link_chunks is not None:
            raise InputError("link_chunks and link_incremental are both set: incremental linkage scores only the "
                             "new records and is not chunked", hint="remove one of the two")
        for name in ("extracts", "catalogues", "truth", "register"):
            p = getattr(self, name)
            if p is not None and not Path(p).exists():
                raise InputError(f"{name} {'folder' if name != 'register' else 'file'} {p} does not exist",
                                 hint=f"fix the `{name}:` entry of the config")

    @classmethod
    def from_yaml(cls, path: str | Path) -> PipelineConfig:
        """Read and check a pipeline config file (relative paths are read from the file's folder)."""
        path = Path(path)
        cfg = load_config(path, PipelineConfigSchema, what="config file",
                          hint="fix each problem listed above (see docs/demo.md)").data()
        base = path.parent
        for k in PATH_KEYS:
            if cfg.get(k) is not None:
                p = Path(cfg[k])
                cfg[k] = p if p.is_absolute() else base / p
        for k in ("as_at", "cohorts", "link_incremental"):
            if cfg.get(k) is None:
                cfg.pop(k, None)
        return cls(**cfg)


class PipelineConfigSchema(ConfigModel):
    """The keys and types of a pipeline config file; each one is read by the pipeline."""

    extracts: str | None = None
    catalogues: str | None = None
    truth: str | None = None
    engine: str = "duckdb"
    spark_master: str | None = None
    partitions: int | None = None
    as_at: IsoDate | None = None
    band: str = "medium"
    xjs: str = "published"
    snapshot_date: IsoDate | None = None
    cohorts: list[str] | None = None
    register_file: str | None = Field(None, alias="register")  # (`register` is a name pydantic keeps)
    link_model: str | None = None
    link_chunks: int | None = None
    link_incremental: bool | None = None
