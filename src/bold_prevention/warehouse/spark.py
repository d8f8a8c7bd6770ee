"""The Spark engine: a local-mode or cluster Spark session over a Parquet warehouse folder.

The warehouse's schemas (extract, linkage, spine, results, meta, catalogue) become Spark databases whose tables are
Parquet folders under ``<project>/parquet/<schema>.db/<table>``, so ``spine.person`` names the same table on both
engines. SQL written for the warehouse (DuckDB dialect) is transpiled with sqlglot, the same way Splink speaks to every
backend, and run through :class:`SparkConnection`, which offers the subset of the DuckDB connection API the
library uses (``execute`` / ``sql`` with ``fetchall``, ``fetchone``, ``arrow``, ``df``; ``register``), so one code
path serves both engines. The statements DuckDB runs natively are given their Spark meaning here:

* ``CREATE [OR REPLACE] TABLE s.t AS SELECT ...`` writes the result as Parquet into a temporary sibling folder and
  renames it into place (readers see the old table or the new one, never a half-written one); the Spark catalogue
  entry is then pointed at the new folder. ``INSERT INTO`` and ``DELETE FROM`` rewrite the table the same way.
* ``CREATE [OR REPLACE] TEMP TABLE t AS SELECT ...`` computes the result once (a local checkpoint, so later steps
  do not recompute its lineage) and registers it as a temporary view.
* ``information_schema.tables`` / ``information_schema.columns`` are answered from the Spark catalogue (the query
  is rewritten to read views built from it).
* ``BEGIN`` / ``COMMIT`` / ``ROLLBACK``, ``SET`` and ``CHECKPOINT`` are no-ops: every table write is atomic on its
  own (write, then rename).
* ``?`` parameters are inlined as SQL literals.

The folder carries a marker, ``_bold_warehouse.json``, naming the warehouse layout and the fingerprint of the Data
First model its tables follow. A folder written for another schema version is refused with a message saying how to
re-export it, before Spark is even started.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import sqlglot
from sqlglot import exp

from ..errors import InputError
from .engine import SCHEMAS

DEFAULT_MASTER = "local[*]"
#: Version of the Parquet warehouse layout (folder names, marker, table format). Bump on incompatible changes.
LAYOUT_VERSION = 1
MARKER = "_bold_warehouse.json"
#: Scratch space inside the warehouse folder (Splink's checkpoints, staging); never read as tables.
SCRATCH = "_scratch"
_IS_TABLES = "__bold_is_tables"
_IS_COLUMNS = "__bold_is_columns"


# ------------------------------------------------------------------------------------------------ environment
def _java_binary() -> str | None:
    """The java executable Spark will start: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        p = Path(home, "bin", "java")
        return str(p) if p.is_file() and os.access(p, os.X_OK) else None
    return shutil.which("java")


def check_java() -> str:
    """Check that a Java runtime of version 17 or later is available; return its path."""
    java = _java_binary()
    if not java:
        where = (f"JAVA_HOME is set to {os.environ['JAVA_HOME']}, which has no bin/java"
                 if os.environ.get("JAVA_HOME") else "no `java` on PATH and JAVA_HOME is not set")
        raise InputError(
            f"no Java runtime found ({where}): the Spark engine needs Java 17 or later",
            hint="install one (Debian/Ubuntu: sudo apt-get install default-jre-headless) or set JAVA_HOME to a "
                 "Java 17+ installation; or use --engine duckdb",
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InputError(f"the Java runtime at {java} does not run: {e}",
                         hint="reinstall Java 17+ or set JAVA_HOME to a working one") from e
    text = out.stderr + out.stdout
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if out.returncode != 0 or not m:
        raise InputError(f"the Java runtime at {java} does not run (`java -version` said: {text.strip()[:200]})",
                         hint="reinstall Java 17+ or set JAVA_HOME to a working one")
    major = int(m.group(1)) if m.group(1) != "1" else int(m.group(2) or 0)
    if major < 17:
        raise InputError(f"Java {major} found at {java}; Spark 4 needs Java 17 or later",
                         hint="install Java 17+ (Debian/Ubuntu: sudo apt-get install default-jre-headless) and "
                              "point JAVA_HOME at it")
    return java


def check_master(master: str, *, timeout: float = 5.0) -> None:
    """Check that a Spark master URL is well formed and, for a standalone cluster, that it answers."""
    if master.startswith("local"):
        if not re.fullmatch(r"local(\[(\*|\d+)(,\s*\d+)?\])?", master):
            raise InputError(f"Spark master {master!r} is not a valid local master",
                             hint="use local, local[N] or local[*]")
        return
    if master == "yarn":
        return
    u = urlparse(master)
    if u.scheme not in ("spark", "k8s", "yarn"):
        raise InputError(f"Spark master {master!r} is not a recognised URL",
                         hint="use local[*], spark://HOST:PORT, k8s://https://HOST:PORT or yarn")
    if u.scheme == "spark":
        hosts = [h for h in u.netloc.split(",") if h]
        errors = []
        for h in hosts:
            host, _, port = h.partition(":")
            try:
                with socket.create_connection((host, int(port or 7077)), timeout=timeout):
                    return
            except (OSError, ValueError) as e:
                errors.append(f"{h}: {getattr(e, 'strerror', None) or e}")
        raise InputError(f"cannot reach the Spark master at {master} ({'; '.join(errors) or 'no host'})",
                         hint="check the master URL and that the cluster is up and reachable from this machine, "
                              "or run in local mode with --spark-master local[*]")


def similarity_jar() -> str | None:
    """Splink's Scala similarity functions (jaro_winkler, damerau_levenshtein, ...) for this Spark version."""
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:  # pragma: no cover - splink is a hard dependency
        return None
    path = similarity_jar_location()
    return path if Path(path).is_file() else None


@cache
def spark_session(master: str | None = None, warehouse_dir: str | None = None, *, partitions: int | None = None):
    """A Spark session (local mode by default) with Splink's similarity jar and the warehouse folder.

    One session serves the whole process (Spark allows one per JVM); settings that Spark fixes at start-up
    (master, memory, jars, the SQL warehouse folder) come from the first call. Environment:
    ``BOLD_SPARK_MASTER``, ``BOLD_SPARK_PARTITIONS`` (shuffle partitions, default 8),
    ``BOLD_SPARK_DRIVER_MEMORY`` (default 6g), ``BOLD_SPARK_CODEGEN`` (whole-stage code generation, default true).
    """
    master = master or os.environ.get("BOLD_SPARK_MASTER") or DEFAULT_MASTER
    check_java()
    check_master(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # pragma: no cover - the spark extra is part of the locked environment
        raise InputError("PySpark is not installed", hint="install the spark extra: uv sync --extra spark") from e
    # Python workers (standardisation runs in them) use this interpreter, with this package importable.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    parts = partitions or int(os.environ.get("BOLD_SPARK_PARTITIONS", "8"))
    b = (
        SparkSession.builder.master(master)
        .appName("bold-prevention")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(parts))
        .config("spark.default.parallelism", str(parts))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.driver.memory", os.environ.get("BOLD_SPARK_DRIVER_MEMORY", "6g"))
        # whole-stage code generation pays off on large tables; on small ones compiling costs more than it saves
        .config("spark.sql.codegen.wholeStage", os.environ.get("BOLD_SPARK_CODEGEN", "true"))
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    jar = similarity_jar()
    if jar:
        b = b.config("spark.jars", jar)
    if warehouse_dir:
        b = b.config("spark.sql.warehouse.dir", warehouse_dir)
    try:
        spark = b.getOrCreate()
    except Exception as e:  # the JVM's failures reach us as many exception types
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"Spark could not start with master {master}: {text}",
                         hint="check Java 17+ is installed (java -version), the master URL, and the driver "
                              "memory (BOLD_SPARK_DRIVER_MEMORY)") from e
    spark.sparkContext.setLogLevel("FATAL")  # errors reach the caller as exceptions
    return spark


# ------------------------------------------------------------------------------------------------ schema marker
def model_fingerprint(model=None) -> str:
    """A hash of the Data First model's tables, columns and types (what the extract tables look like)."""
    from ..datafirst import MODEL

    h = hashlib.sha256()
    for t in sorted((model or MODEL).tables, key=lambda t: t.name):
        h.update(t.name.encode())
        for c in t.columns:
            h.update(f"|{c.name}:{c.sql_type}".encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def schema_version() -> str:
    """The warehouse schema version: layout version and Data First model fingerprint."""
    return f"{LAYOUT_VERSION}.{model_fingerprint()}"


def marker_payload(source: str = "") -> dict[str, Any]:
    from .. import __version__

    return {"format": "bold-prevention parquet warehouse", "schema_version": schema_version(),
            "layout_version": LAYOUT_VERSION, "model_fingerprint": model_fingerprint(),
            "toolkit_version": __version__, "source": source,
            "written_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


def write_marker(folder: Path, source: str = "") -> None:
    from ..files import atomic_file

    with atomic_file(Path(folder) / MARKER) as fh:
        json.dump(marker_payload(source), fh, indent=2)


def check_parquet_warehouse(folder: str | os.PathLike, *, create: bool = True) -> None:
    """Refuse a Parquet warehouse folder written for another schema version (or by something else).

    An empty or missing folder is accepted (and marked when ``create``).
    """
    folder = Path(folder)
    marker = folder / MARKER
    has_tables = folder.is_dir() and any(p.is_dir() and p.name.endswith(".db") for p in folder.iterdir())
    redo = f"re-export the warehouse: `bold scale export --project {folder.parent} --overwrite`"
    if not marker.exists():
        if has_tables:
            raise InputError(f"the Parquet folder {folder} holds tables but no {MARKER} marker: it was not written "
                             "by this toolkit, or by a version before schema markers",
                             hint=redo + " (or move the folder away)")
        if create:
            folder.mkdir(parents=True, exist_ok=True)
            write_marker(folder, "created empty")
        return
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        found = str(info["schema_version"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"the schema marker {marker} is unreadable ({e})", hint=redo) from e
    want = schema_version()
    if found != want:
        layout = str(info.get("layout_version", "?"))
        why = (f"warehouse layout {layout}, this toolkit writes layout {LAYOUT_VERSION}"
               if layout != str(LAYOUT_VERSION) else
               "its tables follow a different Data First model (columns or types changed)")
        raise InputError(
            f"the Parquet warehouse {folder} has schema version {found} but this toolkit (version "
            f"{info.get('toolkit_version', '?')} wrote it) expects {want}: {why}",
            hint=redo + "; nothing in the folder was changed")


def recover_interrupted_swaps(folder: Path) -> list[str]:
    """Finish or undo table swaps a killed process left behind; remove abandoned temporary folders.

    A swap renames ``t`` to ``.t.old-*`` and then ``.t.tmp-*`` to ``t``: if ``t`` is missing and an old copy
    exists, the old copy is put back (the write never completed, so the previous table stands).
    """
    notes = []
    for sdir in folder.glob("*.db"):
        for p in sorted(sdir.iterdir()):
            m = re.fullmatch(r"\.(.+)\.old-[0-9a-f]+", p.name)
            if m:
                final = sdir / m.group(1)
                if not final.exists():
                    p.rename(final)
                    notes.append(f"restored {sdir.name[:-3]}.{m.group(1)} from an interrupted write")
                else:
                    shutil.rmtree(p, ignore_errors=True)
            elif re.fullmatch(r"\.(.+)\.tmp-[0-9a-f]+", p.name):
                shutil.rmtree(p, ignore_errors=True)
    return notes


def spark_safe(node: exp.Expression) -> exp.Expression:
    """Rewrite a statement so that Spark's parser reads it as meant (in place; returns it).

    With keywords not reserved (Spark's default), ``FROM t WHERE (x)`` reads as table ``t`` aliased ``WHERE`` with
    the column list ``(x)``: a condition that would start with a parenthesis is written ``TRUE AND (...)``.
    """
    for w in list(node.find_all(exp.Where)):
        if w.this is not None and w.this.sql(dialect="spark").startswith("("):
            w.set("this", exp.and_(exp.true(), w.this))
    return node


# ------------------------------------------------------------------------------------------------ results
class _Result:
    """What ``execute`` returns: a lazily collected Spark DataFrame (or nothing, for statements)."""

    def __init__(self, df=None, table: pa.Table | None = None) -> None:
        self._df = df
        self._arrow = table

    def arrow(self) -> pa.Table:
        if self._arrow is None:
            self._arrow = self._df.toArrow() if self._df is not None else pa.table({})
        return self._arrow

    fetch_arrow_table = arrow
    to_arrow_table = arrow

    def df(self):
        return self.arrow().to_pandas()

    def fetchall(self) -> list[tuple]:
        t = self.arrow()
        cols = [c.to_pylist() for c in t.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def fetchone(self):
        rows = self.fetchall()
        return rows[0] if rows else None

    @property
    def spark_df(self):
        return self._df


def _literal(v: Any) -> exp.Expression:
    if v is None:
        return exp.null()
    if isinstance(v, bool):
        return exp.true() if v else exp.false()
    if isinstance(v, int | float | Decimal):
        return exp.Literal.number(v)
    if isinstance(v, _dt.datetime):
        return exp.cast(exp.Literal.string(v.isoformat(sep=" ")), "timestamp")
    if isinstance(v, _dt.date):
        return exp.cast(exp.Literal.string(v.isoformat()), "date")
    if isinstance(v, list | tuple):
        return exp.Array(expressions=[_literal(x) for x in v])
    return exp.Literal.string(str(v))


def _spark_type_name(t) -> str:
    """A DuckDB-style type name for a Spark SQL type (for ``information_schema.columns``)."""
    name = t.simpleString()
    simple = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT",
              "tinyint": "TINYINT", "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
              "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP", "binary": "BLOB"}
    if name in simple:
        return simple[name]
    if name.startswith("decimal"):
        return name.upper()
    if name.startswith("array<"):
        return _spark_type_name(t.elementType) + "[]"
    return name.upper()


@dataclass
class _Target:
    schema: str | None
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


# ------------------------------------------------------------------------------------------------ connection
class SparkConnection:
    """The subset of a DuckDB connection the library uses, over Spark SQL and a Parquet warehouse folder.

    ``parquet_dir`` is the warehouse folder (``Project.parquet_dir``); ``master`` the Spark master (default
    ``$BOLD_SPARK_MASTER`` or ``local[*]``). Opening the connection checks the folder's schema marker first, then
    starts (or reuses) the Spark session and points the Spark catalogue's databases at the folder's tables.
    One warehouse folder at a time per process: opening another re-points the catalogue.
    """

    dialect = "spark"

    def __init__(self, parquet_dir: str | os.PathLike, master: str | None = None, *,
                 partitions: int | None = None) -> None:
        self.parquet_dir = Path(parquet_dir).absolute()
        check_parquet_warehouse(self.parquet_dir, create=True)
        self.notes = recover_interrupted_swaps(self.parquet_dir)
        self.spark = spark_session(master, str(self.parquet_dir), partitions=partitions)
        self.master = self.spark.sparkContext.master
        self._temps: dict[str, Any] = {}
        self._registered: set[str] = set()
        self._is_cache: dict[str, Any] = {}
        for s in SCHEMAS:
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {s}")
        self._attach_existing()

    # -------------------------------------------------------------- catalogue
    def _table_dir(self, schema: str, name: str) -> Path:
        return self.parquet_dir / f"{schema}.db" / name

    def _folder_tables(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for sdir in sorted(self.parquet_dir.glob("*.db")):
            names = [p.name for p in sorted(sdir.iterdir())
                     if p.is_dir() and not p.name.startswith((".", "_")) and any(p.glob("*.parquet"))]
            out[sdir.name[:-3]] = names
        return out

    def _catalog_tables(self, schema: str) -> list[str]:
        rows = self.spark.sql(f"SHOW TABLES IN {schema}").collect()
        return [r.tableName for r in rows if not r.isTemporary]

    def _attach(self, schema: str, name: str) -> None:
        loc = self._table_dir(schema, name).as_posix().replace("'", "\\'")
        self.spark.sql(f"DROP TABLE IF EXISTS {schema}.`{name}`")
        self.spark.sql(f"CREATE TABLE {schema}.`{name}` USING parquet LOCATION '{loc}'")

    def _attach_existing(self) -> None:
        """Point the Spark catalogue at exactly the tables of this folder (Spark's in-memory catalogue is per
        process and may still list another folder's tables)."""
        folder = self._folder_tables()
        for s in sorted(set(SCHEMAS) | set(folder)):
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {s}")
            for t in self._catalog_tables(s):
                if t not in folder.get(s, []):
                    self.spark.sql(f"DROP TABLE IF EXISTS {s}.`{t}`")
            for t in folder.get(s, []):
                self._attach(s, t)
        self._is_cache.clear()

    def tables(self, schema: str) -> list[str]:
        """Names of the tables of ``schema`` in the warehouse folder."""
        return self._folder_tables().get(schema, [])

    def table_exists(self, schema: str, name: str) -> bool:
        return name in self.tables(schema)

    # -------------------------------------------------------------- writing
    def write_table(self, schema: str, name: str, df) -> None:
        """Write a Spark DataFrame as the table ``schema.name``: into a temporary folder, then renamed into place."""
        if schema not in SCHEMAS and not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise InputError(f"schema {schema!r} is not a warehouse schema", hint=f"use one of {', '.join(SCHEMAS)}")
        sdir = self.parquet_dir / f"{schema}.db"
        sdir.mkdir(parents=True, exist_ok=True)
        final = sdir / name
        tag = uuid.uuid4().hex[:12]
        tmp = sdir / f".{name}.tmp-{tag}"
        try:
            df.write.mode("errorifexists").parquet(tmp.as_posix())
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = None
        if final.exists():
            old = sdir / f".{name}.old-{tag}"
            final.rename(old)
        tmp.rename(final)
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
        self._attach(schema, name)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._is_cache.clear()

    def drop_table(self, schema: str, name: str) -> None:
        final = self._table_dir(schema, name)
        self.spark.sql(f"DROP TABLE IF EXISTS {schema}.`{name}`")
        if final.exists():
            gone = final.with_name(f".{name}.old-{uuid.uuid4().hex[:12]}")
            final.rename(gone)
            shutil.rmtree(gone, ignore_errors=True)
        self._is_cache.clear()

    def temp_table(self, name: str, df) -> None:
        """Compute ``df`` once and register it as the temporary view ``name``."""
        df = df.localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self._temps[name] = df
        self._is_cache.clear()

    def drop_temp(self, name: str) -> None:
        df = self._temps.pop(name, None)
        if df is not None:
            with contextlib.suppress(Exception):
                df.unpersist()
        self.spark.catalog.dropTempView(name)
        self._registered.discard(name)
        self._is_cache.clear()

    def register(self, name: str, table) -> None:
        """Register an Arrow table (or pandas frame, or Spark DataFrame) as the temporary view ``name``."""
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
        df = table if hasattr(table, "createOrReplaceTempView") else self.spark.createDataFrame(table)
        df.createOrReplaceTempView(name)
        self._registered.add(name)
        self._is_cache.clear()

    def unregister(self, name: str) -> None:
        self.drop_temp(name)

    # -------------------------------------------------------------- information_schema
    def _is_views(self, which: set[str]) -> None:
        from pyspark.sql.types import IntegerType, StringType, StructField, StructType

        temp_names = {r.tableName for r in self.spark.sql("SHOW TABLES").collect() if r.isTemporary}
        if "tables" in which and "tables" not in self._is_cache:
            rows = [("bold", s, t, "BASE TABLE") for s, ts in self._folder_tables().items() for t in ts]
            rows += [("temp", "main", t, "LOCAL TEMPORARY") for t in sorted(temp_names)
                     if not t.startswith("__bold_is_")]
            schema = StructType([StructField(c, StringType()) for c in
                                 ("table_catalog", "table_schema", "table_name", "table_type")])
            df = self.spark.createDataFrame(rows, schema)
            df.createOrReplaceTempView(_IS_TABLES)
            self._is_cache["tables"] = df
        if "columns" in which and "columns" not in self._is_cache:
            rows = []
            for s, ts in self._folder_tables().items():
                for t in ts:
                    for i, f in enumerate(self.spark.table(f"{s}.`{t}`").schema.fields, start=1):
                        rows.append(("bold", s, t, f.name, i, _spark_type_name(f.dataType),
                                     "YES" if f.nullable else "NO"))
            for t in sorted(temp_names):
                if t.startswith("__bold_is_"):
                    continue
                for i, f in enumerate(self.spark.table(t).schema.fields, start=1):
                    rows.append(("temp", "main", t, f.name, i, _spark_type_name(f.dataType), "YES"))
            schema = StructType([StructField("table_catalog", StringType()), StructField("table_schema", StringType()),
                                 StructField("table_name", StringType()), StructField("column_name", StringType()),
                                 StructField("ordinal_position", IntegerType()),
                                 StructField("data_type", StringType()), StructField("is_nullable", StringType())])
            df = self.spark.createDataFrame(rows, schema)
            df.createOrReplaceTempView(_IS_COLUMNS)
            self._is_cache["columns"] = df

    # -------------------------------------------------------------- SQL
    @staticmethod
    def transpile(sql: str) -> list[str]:
        return sqlglot.transpile(sql, read="duckdb", write="spark")

    def _prepare(self, node: exp.Expression, params: list | None) -> exp.Expression:
        """Inline parameters and point information_schema at catalogue views."""
        if params is not None:
            values = list(params)
            holders = list(node.find_all(exp.Placeholder))
            if len(holders) != len(values):
                raise InputError(f"the statement has {len(holders)} parameter(s) but {len(values)} value(s) were "
                                 "given", hint="give one value per ? in the SQL")
            for h, v in zip(holders, values, strict=True):
                h.replace(_literal(v))
        which = set()
        for t in list(node.find_all(exp.Table)):
            if t.db.lower() == "information_schema" and t.name.lower() in ("tables", "columns"):
                kind = t.name.lower()
                which.add(kind)
                new = exp.to_table(_IS_TABLES if kind == "tables" else _IS_COLUMNS)
                alias = t.args.get("alias")
                if alias is not None:
                    new.set("alias", alias)
                t.replace(new)
        if which:
            self._is_views(which)
        return node

    def _spark_sql(self, node: exp.Expression) -> str:
        return spark_safe(node).sql(dialect="spark")

    def _df(self, node: exp.Expression):
        return self.spark.sql(self._spark_sql(node))

    @staticmethod
    def _target(table: exp.Expression) -> _Target:
        if isinstance(table, exp.Schema):
            table = table.this
        if not isinstance(table, exp.Table):
            raise InputError(f"cannot use {table.sql()} as a table name on the Spark engine")
        db = table.db or None
        if table.catalog in ("temp",) or db == "main":
            db = None
        return _Target(db, table.name)

    def execute(self, sql: str, params=None) -> _Result:
        """Run DuckDB-dialect SQL (one or more statements) on Spark; the result of the last one."""
        try:
            statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
        except sqlglot.errors.ParseError as e:
            raise InputError(f"cannot parse SQL for the Spark engine: {str(e).splitlines()[0]}",
                             hint="write the SQL in the DuckDB dialect the toolkit uses") from e
        result = _Result()
        for stmt in statements:
            result = self._run(self._prepare(stmt, params), sql)
        return result

    sql = execute

    def _run(self, node: exp.Expression, text: str) -> _Result:
        if isinstance(node, exp.Transaction | exp.Commit | exp.Rollback | exp.Set):
            return _Result()
        if isinstance(node, exp.Column) and node.name.upper() == "CHECKPOINT":
            return _Result()
        if isinstance(node, exp.Command) and str(node.this).upper() in ("CHECKPOINT", "PRAGMA", "SET", "LOAD"):
            return _Result()
        if isinstance(node, exp.Create):
            return self._create(node)
        if isinstance(node, exp.Drop):
            return self._drop(node)
        if isinstance(node, exp.Insert):
            return self._insert(node)
        if isinstance(node, exp.Delete):
            return self._delete(node)
        if isinstance(node, exp.Describe):
            tgt = self._target(node.this)
            df = self.spark.table(tgt.qualified)
            rows = [(f.name, _spark_type_name(f.dataType), "YES") for f in df.schema.fields]
            return _Result(table=pa.table({"column_name": [r[0] for r in rows],
                                           "column_type": [r[1] for r in rows],
                                           "null": [r[2] for r in rows]}))
        return _Result(self._df(node))

    def _exists(self, tgt: _Target) -> bool:
        if tgt.schema is None:
            return bool(self.spark.catalog.tableExists(tgt.name))
        return self.table_exists(tgt.schema, tgt.name)

    def _create(self, node: exp.Create) -> _Result:
        kind = (node.args.get("kind") or "").upper()
        if kind in ("SCHEMA", "DATABASE"):
            name = node.this.db or node.this.name
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {name}")
            (self.parquet_dir / f"{name}.db").mkdir(parents=True, exist_ok=True)
            return _Result()
        if kind not in ("TABLE", "VIEW"):
            raise InputError(f"CREATE {kind} is not supported on the Spark engine", hint="use --engine duckdb")
        props = node.args.get("properties")
        temp = bool(props and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions))
        tgt = self._target(node.this)
        if tgt.schema is None:
            temp = True
        if node.args.get("exists") and self._exists(tgt):
            return _Result()
        if not node.args.get("replace") and not node.args.get("exists") and self._exists(tgt):
            raise InputError(f"table {tgt.qualified} already exists", hint="use CREATE OR REPLACE TABLE")
        query = node.expression
        if query is None:
            schema = node.this if isinstance(node.this, exp.Schema) else None
            if schema is None:
                raise InputError(f"CREATE TABLE {tgt.qualified} has neither columns nor a query")
            cols = [e for e in schema.expressions if isinstance(e, exp.ColumnDef)]
            select = exp.select(*[exp.alias_(exp.cast(exp.null(), c.args["kind"]), c.name) for c in cols]).where(
                exp.false())
            df = self._df(select)
        else:
            if isinstance(query, exp.Subquery):
                query = query.this
            if isinstance(query, exp.Select) and query.args.get("order") is not None:
                query = query.copy()
                query.set("order", None)  # table rows have no order
            df = self._df(query)
        if temp:
            self.temp_table(tgt.name, df)
        else:
            self.write_table(tgt.schema, tgt.name, df)
        return _Result()

    def _drop(self, node: exp.Drop) -> _Result:
        kind = (node.args.get("kind") or "").upper()
        if kind in ("SCHEMA", "DATABASE"):
            raise InputError("DROP SCHEMA is not supported on the Spark engine",
                             hint="remove the folder <project>/parquet/<schema>.db yourself")
        for t in node.args.get("tables") or node.expressions or [node.this]:
            tgt = self._target(t)
            if tgt.schema is None:
                self.drop_temp(tgt.name)
            else:
                if not node.args.get("exists") and not self.table_exists(tgt.schema, tgt.name):
                    raise InputError(f"table {tgt.qualified} does not exist")
                self.drop_table(tgt.schema, tgt.name)
        return _Result()

    def _insert(self, node: exp.Insert) -> _Result:
        tgt = self._target(node.this)
        if tgt.schema is None or not self.table_exists(tgt.schema, tgt.name):
            raise InputError(f"INSERT INTO {tgt.qualified}: no such warehouse table on the Spark engine",
                             hint="create the table first")
        existing = self.spark.table(tgt.qualified)
        new = self._df(node.expression)
        names = ([i.name for i in node.this.expressions] if isinstance(node.this, exp.Schema)
                 else existing.columns)
        from pyspark.sql import functions as F

        new = new.toDF(*names)
        cols = [new[c].cast(existing.schema[c].dataType).alias(c) if c in names
                else F.lit(None).cast(existing.schema[c].dataType).alias(c) for c in existing.columns]
        combined = existing.unionByName(new.select(*cols)).localCheckpoint(eager=True)
        self.write_table(tgt.schema, tgt.name, combined)
        return _Result()

    def _delete(self, node: exp.Delete) -> _Result:
        tgt = self._target(node.this)
        if tgt.schema is None or not self.table_exists(tgt.schema, tgt.name):
            raise InputError(f"DELETE FROM {tgt.qualified}: no such warehouse table on the Spark engine")
        where = node.args.get("where")
        keep = exp.select("*").from_(exp.to_table(tgt.qualified))
        if where is not None:
            keep = keep.where(exp.not_(exp.func("COALESCE", where.this, exp.false())))
        else:
            keep = keep.where(exp.false())
        df = self._df(keep).localCheckpoint(eager=True)
        self.write_table(tgt.schema, tgt.name, df)
        return _Result()

    # -------------------------------------------------------------- Ibis
    def ibis(self):
        """An Ibis PySpark backend over this session whose ``create_table`` writes warehouse tables atomically
        into the Parquet folder (and temporary tables as computed temporary views)."""
        import ibis
        import ibis.expr.types as ir

        backend = ibis.pyspark.connect(self.spark)
        original = backend.create_table
        conn = self

        def create_table(name, /, obj=None, *, schema=None, database=None, temp=None, overwrite=False, **kw):
            db = database if isinstance(database, str) else None
            if isinstance(obj, ir.Expr) and (temp or db in SCHEMAS):
                if not overwrite and (conn._exists(_Target(None if temp else db, name))):
                    raise InputError(f"table {db + '.' if db and not temp else ''}{name} already exists",
                                     hint="pass overwrite=True")
                df = conn.spark.sql(backend.compile(obj))
                if temp:
                    conn.temp_table(name, df)
                    return backend.table(name)
                conn.write_table(db, name, df)
                return backend.table(name, database=db)
            return original(name, obj, schema=schema, database=database, temp=temp, overwrite=overwrite, **kw)

        backend.create_table = create_table
        backend.bold_connection = conn
        return backend

    def close(self) -> None:
        """Release this connection's temporary views (the session is shared and stays up)."""
        for name in list(self._temps) + list(self._registered):
            with contextlib.suppress(Exception):
                self.drop_temp(name)
