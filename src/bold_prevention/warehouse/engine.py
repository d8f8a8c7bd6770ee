"""Engine connections. DuckDB (embedded, one file per project) is the default; Spark is the scale path.

Transformations are Ibis expressions over the backend returned here, so the same code runs on both engines.

Warehouse schemas (DuckDB) / table-name prefixes (Spark Parquet folder):

* ``extract``  loaded Data First tables, analysis columns only (no personal identifiers);
* ``linkage``  the identity store (identifiers by record id) and link tables: the linkage layer only;
* ``spine``    the person-level spine and derived person tables (pseudonymised ids only);
* ``results``  cohorts, trajectories and model outputs;
* ``meta``     snapshots, load log, quality results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import duckdb

from ..errors import InputError
from ..project import Project

Engine = Literal["duckdb", "spark"]
SCHEMAS = ("extract", "linkage", "spine", "results", "meta", "catalogue")


def duckdb_connect(project: Project, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the project's warehouse file, creating the schemas if needed."""
    path = project.warehouse_path
    if read_only and not path.exists():
        raise InputError(f"no warehouse at {path}", hint="run `bold demo` or `bold load` first, or pass --project")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as e:
        raise InputError(f"cannot open the warehouse {path}: {e}",
                         hint="check the file is a DuckDB database not in use by another process") from e
    if not read_only:
        for s in SCHEMAS:
            con.execute(f"create schema if not exists {s}")
    return con


def ibis_connect(project: Project, *, engine: Engine = "duckdb", read_only: bool = False, con=None):
    """An Ibis backend over the project's warehouse on the chosen engine."""
    import ibis

    if engine == "duckdb":
        return ibis.duckdb.from_connection(con or duckdb_connect(project, read_only=read_only))
    if engine == "spark":
        from .spark import spark_session  # noqa: PLC0415  (optional dependency)

        return ibis.pyspark.connect(spark_session())
    raise InputError(f"unknown engine {engine!r}", hint="use --engine duckdb or --engine spark")


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name]).fetchone()[0])


def project_path(p: str | Path | None) -> Project:
    return Project.at(p)


def connection(con_or_project):
    """(connection, close_it) from a DuckDB (or Spark-backed) connection, an Ibis backend, a Project or a path: the
    one place that resolves what the library functions accept as a warehouse."""
    if hasattr(con_or_project, "execute") and hasattr(con_or_project, "register"):
        return con_or_project, False
    if hasattr(con_or_project, "con") and hasattr(con_or_project.con, "execute"):  # Ibis DuckDB backend
        return con_or_project.con, False
    project = con_or_project if isinstance(con_or_project, Project) else Project.at(con_or_project)
    return duckdb_connect(project), True
