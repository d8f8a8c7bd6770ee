"""The engine setting: one warehouse handle for DuckDB (the project's ``warehouse.duckdb``) or Spark (the project's
Parquet warehouse folder), offering the same SQL connection API and an Ibis backend, so every layer runs unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from ..project import Project

__all__ = ["ENGINES", "Engine", "Warehouse", "open_warehouse", "engine_setting"]

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")


def engine_setting(engine: str | None = None) -> str:
    """The engine to use: the argument, else ``$BOLD_ENGINE``, else ``duckdb``; checked."""
    e = (engine or os.environ.get("BOLD_ENGINE") or "duckdb").strip().lower()
    if e not in ENGINES:
        raise InputError(f"engine {e!r} is not known", hint="use --engine duckdb or --engine spark")
    return e


@dataclass
class Warehouse:
    """An open warehouse on one engine: ``con`` speaks the DuckDB connection API (``execute``, ``sql``,
    ``register``) on both engines; :meth:`ibis` gives the Ibis backend over the same tables."""

    engine: str
    project: Project
    con: Any
    master: str | None = None
    _ibis: Any = field(default=None, repr=False)

    @property
    def is_spark(self) -> bool:
        return self.engine == "spark"

    def ibis(self):
        if self._ibis is None:
            if self.is_spark:
                self._ibis = self.con.ibis()
            else:
                import ibis

                self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    def tables(self, schema: str) -> set[str]:
        rows = self.con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                f"'{schema}'").fetchall()
        return {r[0] for r in rows}

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_warehouse(project: Project | str | Path | None = None, engine: str | None = None, *,
                   spark_master: str | None = None, partitions: int | None = None,
                   read_only: bool = False) -> Warehouse:
    """Open the project's warehouse on ``engine`` (``duckdb`` or ``spark``).

    Spark reads and writes the Parquet warehouse ``<project>/parquet`` (written by
    :func:`bold_prevention.scale.export.export_warehouse_to_parquet`); ``spark_master`` is ``local[*]`` (default,
    or ``$BOLD_SPARK_MASTER``), ``local[N]``, ``spark://HOST:PORT``, ``k8s://...`` or ``yarn``.
    """
    proj = project if isinstance(project, Project) else Project.at(project)
    engine = engine_setting(engine)
    if engine == "duckdb":
        from ..warehouse.engine import duckdb_connect

        if not proj.warehouse_path.exists():
            raise InputError(f"no warehouse at {proj.warehouse_path}",
                             hint="load the extracts first (`bold load SOURCE`), or pass --project")
        return Warehouse("duckdb", proj, duckdb_connect(proj, read_only=read_only))
    from ..warehouse.spark import SparkConnection, check_parquet_warehouse

    check_parquet_warehouse(proj.parquet_dir, create=False)
    if not (proj.parquet_dir / "extract.db").is_dir() or not any((proj.parquet_dir / "extract.db").iterdir()):
        raise InputError(f"no Parquet warehouse with loaded extracts at {proj.parquet_dir}",
                         hint="load the extracts (`bold load SOURCE`) and export them for Spark "
                              "(`bold scale export`), or run `bold scale load SOURCE`")
    con = SparkConnection(proj.parquet_dir, spark_master, partitions=partitions)
    return Warehouse("spark", proj, con, master=con.master)
