"""The one warehouse: the only code that opens an engine, and the few operations every package needs.

DuckDB (embedded, one file per project) is the default; Spark (local mode or a cluster, over the project's Parquet
warehouse folder) is the scale path. :func:`open_warehouse` gives a :class:`Warehouse` on either engine with the same
small interface, the way Splink's backends implement one small abstract interface under one SQL pipeline and Ibis
keeps one expression tree with a compiler per dialect:

* :meth:`Warehouse.sql` runs a query (DuckDB-dialect SQL, transpiled by sqlglot on Spark, or an Ibis expression);
* :meth:`Warehouse.materialise` writes a SELECT or an Ibis expression as a table atomically (readers see the old
  table or the new one, never half of it); DDL is the engine's job, not the caller's;
* :meth:`Warehouse.table_exists` / :meth:`Warehouse.tables`;
* :meth:`Warehouse.to_arrow` / :meth:`Warehouse.to_pandas` read a query; :meth:`Warehouse.write_arrow` writes
  Arrow data (a table or a stream of batches) as a table.

The same operations are also module functions over whatever the library functions accept as a warehouse (a DuckDB
connection, the Spark connection, an Ibis backend or a :class:`Warehouse`): :func:`table_exists`, :func:`tables`,
:func:`transaction`, :func:`quote_ident` (identifiers) and :func:`sql_literal` / :func:`date_literal` (values).
They are the only definitions of those helpers in the toolkit
(``tests/test_architecture.py`` refuses a second one).

Warehouse schemas (DuckDB) / Spark databases (Parquet folders ``<schema>.db``):

* ``extract``  loaded Data First tables, analysis columns only (no personal identifiers);
* ``linkage``  the identity store (identifiers by record id) and link tables: the linkage layer only;
* ``spine``    the person-level spine and derived person tables (pseudonymised ids only);
* ``results``  cohorts, trajectories and model outputs;
* ``meta``     snapshots, load log, quality results;
* ``catalogue`` the ODS catalogues.

The tables themselves, and the package that owns each, are named once in :mod:`bold_prevention.warehouse.tables`.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb

from ..errors import InputError
from ..project import Project

__all__ = [
    "ENGINES",
    "SCHEMAS",
    "Engine",
    "Warehouse",
    "connection",
    "date_literal",
    "duckdb_connect",
    "engine_setting",
    "ibis_connect",
    "open_warehouse",
    "quote_ident",
    "raw_connection",
    "sql_literal",
    "table_exists",
    "tables",
    "transaction",
]

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")
SCHEMAS = ("extract", "linkage", "spine", "results", "meta", "catalogue")


# ------------------------------------------------------------------------------------------------ SQL helpers
def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes, embedded quotes doubled): safe for any column or table
    name in DuckDB and in the sqlglot-transpiled Spark SQL."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    """``value`` as an SQL literal (DuckDB dialect, which sqlglot transpiles for Spark): ``NULL``; ``TRUE`` /
    ``FALSE``; integers and decimals as themselves, a float as a DOUBLE (NaN and the infinities too); a date as
    ``DATE 'YYYY-MM-DD'`` and a datetime as ``TIMESTAMP '...'``; anything else (a string, a path) as a quoted string
    with embedded single quotes doubled. The one value-quoting helper of the toolkit."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, _dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, _dt.date):
        return date_literal(value)
    if isinstance(value, int | float | Decimal):
        if not math.isfinite(value):
            return f"CAST('{'NaN' if math.isnan(value) else ('Infinity' if value > 0 else '-Infinity')}' AS DOUBLE)"
        if isinstance(value, float):  # a float stays a double (DuckDB reads 0.1 as an exact DECIMAL)
            return f"CAST({value!r} AS DOUBLE)"
        text = str(value if isinstance(value, Decimal) else int(value))
        return f"({text})" if text.startswith("-") else text  # (-1): never ``--``, which starts a comment
    return "'" + str(value).replace("'", "''") + "'"


def date_literal(d: _dt.date) -> str:
    """A date (or the date of a datetime) as ``DATE 'YYYY-MM-DD'``."""
    if isinstance(d, _dt.datetime):
        d = d.date()
    return f"DATE '{d.isoformat()}'"


def raw_connection(con: Any) -> Any:
    """The SQL connection (DuckDB's, or the Spark connection) under a :class:`Warehouse`, an Ibis backend or a
    connection."""
    if isinstance(con, Warehouse):
        return con.con
    spark = getattr(con, "bold_connection", None)  # the Ibis backend over the Spark connection
    if spark is not None:
        return spark
    if hasattr(con, "execute") and hasattr(con, "register"):
        return con
    inner = getattr(con, "con", None)  # the Ibis DuckDB backend
    if inner is not None and hasattr(inner, "execute"):
        return inner
    raise InputError(f"expected a warehouse connection, got {type(con).__name__}",
                     hint="pass a Warehouse (bold_prevention.warehouse.open_warehouse) or its connection")


def _is_spark(con: Any) -> bool:
    return getattr(con, "dialect", None) == "spark"


def _ibis_only(con: Any) -> bool:
    """An Ibis backend with no warehouse connection under it (e.g. a plain PySpark backend)."""
    if isinstance(con, Warehouse) or getattr(con, "bold_connection", None) is not None:
        return False
    if hasattr(con, "execute") and hasattr(con, "register"):
        return False
    if hasattr(getattr(con, "con", None), "execute"):
        return False
    return hasattr(con, "list_tables")


def _ibis_tables(backend: Any, schema: str) -> set[str]:
    try:  # engines with databases (Spark): the schema is a database
        return set(backend.list_tables(database=schema))
    except Exception:  # engines without databases: <schema>_<name> tables
        return {n.removeprefix(f"{schema}_") for n in backend.list_tables() if n.startswith(f"{schema}_")}


def table_exists(con: Any, schema: str, name: str | None = None) -> bool:
    """Whether the table (or view) ``schema.name`` exists in the warehouse ``con`` is connected to (DuckDB: the
    connection's current database; Spark: the Parquet warehouse folder; any other Ibis backend: its catalogue).
    ``con`` is a :class:`Warehouse`, a connection or an Ibis backend; the table is ``schema, name`` or one
    ``"schema.name"`` (a :mod:`.tables` constant)."""
    if name is None:
        schema, name = _split(schema)
    if _ibis_only(con):
        return name in _ibis_tables(con, schema)
    c = raw_connection(con)
    if _is_spark(c):
        return bool(c.table_exists(schema, name))
    return bool(c.execute(
        "select count(*) from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? and table_name = ?", [schema, name]).fetchall()[0][0])


def tables(con: Any, schema: str | None = None) -> set[str] | set[tuple[str, str]]:
    """The names of the tables (and views) of ``schema``; with no schema, every ``(schema, name)`` pair (a plain
    Ibis backend needs the schema)."""
    if _ibis_only(con) and schema is not None:
        return _ibis_tables(con, schema)
    c = raw_connection(con)
    if _is_spark(c):
        found = c._folder_tables()
        if schema is not None:
            return set(found.get(schema, []))
        return {(s, t) for s, ts in found.items() for t in ts}
    if schema is not None:
        return {r[0] for r in c.execute(
            "select table_name from information_schema.tables where table_catalog = current_database() "
            "and table_schema = ?", [schema]).fetchall()}
    return {(r[0], r[1]) for r in c.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database()").fetchall()}


@contextmanager
def transaction(con: Any) -> Iterator[Any]:
    """Run the block as one transaction: committed when it ends, rolled back (and the error re-raised) when it
    fails. Yields the SQL connection. On Spark every table write is atomic on its own (write, then rename), so
    the statements are no-ops there."""
    c = raw_connection(con)
    c.execute("BEGIN TRANSACTION")
    try:
        yield c
    except BaseException:
        try:
            c.execute("ROLLBACK")
        except duckdb.Error:  # the failure already ended the transaction
            pass
        raise
    c.execute("COMMIT")


# ------------------------------------------------------------------------------------------------ engines
def engine_setting(engine: str | None = None) -> str:
    """The engine to use: the argument, else ``$BOLD_ENGINE``, else ``duckdb``; checked."""
    e = (engine or os.environ.get("BOLD_ENGINE") or "duckdb").strip().lower()
    if e not in ENGINES:
        raise InputError(f"engine {e!r} is not known", hint="use --engine duckdb or --engine spark")
    return e


def duckdb_connect(project: Project, *, read_only: bool = False,
                   attach_as: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the project's warehouse file, creating the schemas if needed.

    With ``attach_as`` (read-only only) the connection is to a new in-memory database with the warehouse attached
    read-only under that name and made the current database: queries read ``spine.person`` and the like as usual,
    nothing can change the warehouse, and the in-memory database (``memory.main``) holds whatever the caller builds
    for itself (the web application's single-view index). A missing, damaged or locked file is refused before
    anything is written."""
    path = project.warehouse_path
    if attach_as is not None and not read_only:
        raise ValueError("attach_as opens the warehouse read-only: pass read_only=True")
    if read_only and not path.exists():
        raise InputError(f"no warehouse at {path}",
                         hint="run `bold demo` (or load, link and build the spine) first, or pass --project with "
                              "the folder that holds warehouse.duckdb")
    if attach_as is not None:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"attach {sql_literal(str(path))} as {quote_ident(attach_as)} (read_only)")
            con.execute(f"use {quote_ident(attach_as)}")
        except duckdb.Error as e:
            con.close()
            raise InputError(f"the warehouse {path} cannot be read: it is damaged, not a DuckDB file, or in use by "
                             "a process that is writing to it",
                             hint="stop any load or build that is running, or rebuild the warehouse "
                                  "(`bold demo`)") from e
        return con
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
        from .spark import spark_session  # optional dependency

        return ibis.pyspark.connect(spark_session())
    raise InputError(f"unknown engine {engine!r}", hint="use --engine duckdb or --engine spark")


def connection(con_or_project):
    """(connection, close_it) from a DuckDB (or Spark-backed) connection, an Ibis backend, a :class:`Warehouse`, a
    Project or a path: the one place that resolves what the library functions accept as a warehouse."""
    if isinstance(con_or_project, Warehouse):
        return con_or_project.con, False
    if hasattr(con_or_project, "execute") and hasattr(con_or_project, "register"):
        return con_or_project, False
    if hasattr(con_or_project, "con") and hasattr(con_or_project.con, "execute"):  # Ibis DuckDB backend
        return con_or_project.con, False
    project = con_or_project if isinstance(con_or_project, Project) else Project.at(con_or_project)
    return duckdb_connect(project), True


def _split(target: str) -> tuple[str, str]:
    schema, dot, name = target.partition(".")
    if not dot or not schema or not name:
        raise InputError(f"warehouse table {target!r} is not written schema.name",
                         hint=f"name a table in one of the schemas {', '.join(SCHEMAS)}")
    return schema, name


def _select_sql(query: Any) -> str:
    """DuckDB-dialect SQL for a SELECT string or an Ibis expression."""
    if isinstance(query, str):
        return query
    import ibis

    return str(ibis.to_sql(query, dialect="duckdb"))


@dataclass
class Warehouse:
    """An open warehouse on one engine: the operations every package needs, the same on both engines.

    ``con`` speaks the DuckDB connection API (``execute``, ``sql``, ``register``) on both engines (on Spark,
    :class:`bold_prevention.warehouse.spark.SparkConnection`); :meth:`ibis` gives the Ibis backend over the same
    tables."""

    engine: str
    project: Project
    con: Any
    master: str | None = None
    _ibis: Any = field(default=None, repr=False)

    @property
    def is_spark(self) -> bool:
        return self.engine == "spark"

    def ibis(self):
        """The Ibis backend over this warehouse's tables."""
        if self._ibis is None:
            if self.is_spark:
                self._ibis = self.con.ibis()
            else:
                import ibis

                self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    # -------------------------------------------------------------- queries
    def sql(self, query: Any, params: list | None = None):
        """Run one query (DuckDB-dialect SQL or an Ibis expression); the engine's result (``fetchall``,
        ``fetchone``)."""
        return self.con.execute(_select_sql(query), params)

    def to_arrow(self, query: Any, params: list | None = None):
        """The result of a query as an Arrow table."""
        if self.is_spark:
            return self.con.execute(_select_sql(query), params).arrow()
        return self.con.sql(_select_sql(query), params=params).to_arrow_table()

    def to_pandas(self, query: Any, params: list | None = None):
        """The result of a query as a pandas frame (small results only)."""
        return self.con.execute(_select_sql(query), params).df()

    # -------------------------------------------------------------- tables
    def table_exists(self, schema: str, name: str | None = None) -> bool:
        return table_exists(self.con, schema, name)

    def tables(self, schema: str) -> set[str]:
        return tables(self.con, schema)

    def materialise(self, target: str, query: Any) -> None:
        """Write the result of a SELECT (or an Ibis expression) as the table ``target`` (``schema.name``),
        replacing it atomically: on DuckDB one statement (atomic on its own, or part of the caller's
        :func:`transaction`), on Spark into a temporary folder renamed into place."""
        schema, name = _split(target)
        self.con.execute(f"CREATE OR REPLACE TABLE {quote_ident(schema)}.{quote_ident(name)} AS "
                         f"{_select_sql(query)}")

    def write_arrow(self, target: str, data) -> None:
        """Write Arrow data (a table, or a stream of batches read once; on Spark also a Spark DataFrame) as the
        table ``target``, replacing it atomically."""
        schema, name = _split(target)
        if self.is_spark:
            import pyarrow as pa

            if isinstance(data, pa.RecordBatchReader):
                data = data.read_all()
            df = data if hasattr(data, "createOrReplaceTempView") else self.con.spark.createDataFrame(data)
            self.con.write_table(schema, name, df)
            return
        view = f"__wh_{uuid.uuid4().hex[:8]}"
        self.con.register(view, data)
        try:
            self.materialise(target, f"SELECT * FROM {view}")
        finally:
            self.con.unregister(view)

    # -------------------------------------------------------------- lifetime
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_warehouse(project: Project | str | Path | None = None, engine: str | None = None, *,
                   spark_master: str | None = None, partitions: int | None = None,
                   read_only: bool = False) -> Warehouse:
    """Open the project's warehouse on ``engine`` (``duckdb`` or ``spark``; default ``$BOLD_ENGINE`` or duckdb).

    Spark reads and writes the Parquet warehouse ``<project>/parquet`` (written by
    :func:`bold_prevention.scale.export.export_warehouse_to_parquet`); ``spark_master`` is ``local[*]`` (default,
    or ``$BOLD_SPARK_MASTER``), ``local[N]``, ``spark://HOST:PORT``, ``k8s://...`` or ``yarn``.
    """
    proj = project if isinstance(project, Project) else Project.at(project)
    engine = engine_setting(engine)
    if engine == "duckdb":
        if not proj.warehouse_path.exists():
            raise InputError(f"no warehouse at {proj.warehouse_path}",
                             hint="load the extracts first (`bold load SOURCE`), or pass --project")
        return Warehouse("duckdb", proj, duckdb_connect(proj, read_only=read_only))
    from .spark import SparkConnection, check_parquet_warehouse

    check_parquet_warehouse(proj.parquet_dir, create=False)
    if not (proj.parquet_dir / "extract.db").is_dir() or not any((proj.parquet_dir / "extract.db").iterdir()):
        raise InputError(f"no Parquet warehouse with loaded extracts at {proj.parquet_dir}",
                         hint="load the extracts (`bold load SOURCE`) and export them for Spark "
                              "(`bold scale export`), or run `bold scale load SOURCE`")
    con = SparkConnection(proj.parquet_dir, spark_master, partitions=partitions)
    return Warehouse("spark", proj, con, master=con.master)
