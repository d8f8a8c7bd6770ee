"""The Spark engine: a local-mode or cluster Spark session over a Parquet warehouse folder.

The warehouse's schemas (extract, linkage, spine, results, meta, catalogue) become Spark databases whose tables are
Parquet folders under ``<project>/parquet/<schema>.db/<table>``, so ``spine.person`` names the same table on both
engines. SQL written for the warehouse (DuckDB dialect) is transpiled with sqlglot, the same way Splink speaks to every
backend, and run through :class:`SparkConnection`, which offers the subset of the DuckDB connection API the
library uses (``execute`` / ``sql`` with ``fetchall``, ``fetchone``, ``arrow``, ``df``), so one code path serves both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import sqlglot

from ..errors import InputError
from .engine import SCHEMAS

DEFAULT_MASTER = "local[*]"


def _check_java() -> None:
    java = shutil.which("java") or (os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java"))
    if not java:
        raise InputError(
            "no Java runtime found: the Spark engine needs Java 17 or later",
            hint="install one (Debian: apt-get install default-jre-headless) or set JAVA_HOME; "
            "or use --engine duckdb",
        )
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InputError(f"the Java runtime at {java} does not run: {e}",
                         hint="reinstall Java 17+ or set JAVA_HOME to a working one") from e
    text = out.stderr + out.stdout
    import re

    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if m:
        major = int(m.group(1)) if m.group(1) != "1" else int(m.group(2) or 0)
        if major < 17:
            raise InputError(f"Java {major} found at {java}; Spark 4 needs Java 17 or later",
                             hint="install Java 17+ (Debian: apt-get install default-jre-headless)")


def _check_master(master: str) -> None:
    if master.startswith("local"):
        return
    u = urlparse(master)
    if u.scheme not in ("spark", "k8s", "yarn") and master != "yarn":
        raise InputError(f"Spark master {master!r} is not a recognised URL",
                         hint="use local[*], spark://HOST:PORT, k8s://... or yarn")
    if u.scheme == "spark":
        try:
            with socket.create_connection((u.hostname, u.port or 7077), timeout=5):
                pass
        except OSError as e:
            raise InputError(f"cannot reach the Spark master at {master}: {e.strerror or e}",
                             hint="check the master URL and that the cluster is up, or use --spark-master local[*]") from e


@cache
def spark_session(master: str | None = None, warehouse_dir: str | None = None):
    """A Spark session (local mode by default) with the warehouse folder as its SQL warehouse."""
    master = master or os.environ.get("BOLD_SPARK_MASTER", DEFAULT_MASTER)
    _check_java()
    _check_master(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # pragma: no cover - the spark extra is part of the locked environment
        raise InputError("PySpark is not installed", hint="install the spark extra: uv sync --extra spark") from e
    b = (
        SparkSession.builder.master(master)
        .appName("bold-prevention")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("BOLD_SPARK_PARTITIONS", "8"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.driver.memory", os.environ.get("BOLD_SPARK_DRIVER_MEMORY", "6g"))
    )
    if warehouse_dir:
        b = b.config("spark.sql.warehouse.dir", warehouse_dir)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class _Result:
    def __init__(self, df) -> None:
        self._df = df
        self._arrow: pa.Table | None = None

    def arrow(self) -> pa.Table:
        if self._arrow is None:
            self._arrow = self._df.toArrow() if self._df is not None else pa.table({})
        return self._arrow

    fetch_arrow_table = arrow

    def df(self):
        return self.arrow().to_pandas()

    def fetchall(self) -> list[tuple]:
        t = self.arrow()
        cols = [c.to_pylist() for c in t.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def fetchone(self):
        rows = self.fetchall()
        return rows[0] if rows else None


class SparkConnection:
    """The subset of a DuckDB connection the library uses, over Spark SQL (DuckDB-dialect SQL is transpiled)."""

    dialect = "spark"

    def __init__(self, parquet_dir: Path, master: str | None = None) -> None:
        self.parquet_dir = Path(parquet_dir).absolute()
        self.parquet_dir.mkdir(parents=True, exist_ok=True)
        self.spark = spark_session(master, str(self.parquet_dir))
        for s in SCHEMAS:
            self.spark.sql(f"create database if not exists {s}")
        self._attach_existing()

    def _attach_existing(self) -> None:
        """Register the Parquet tables already in the folder (Spark's in-memory catalogue forgets them)."""
        for sdir in sorted(self.parquet_dir.glob("*.db")):
            schema = sdir.name[:-3]
            for tdir in sorted(p for p in sdir.iterdir() if p.is_dir()):
                if not any(tdir.glob("*.parquet")):
                    continue
                self.spark.sql(f"create table if not exists {schema}.{tdir.name} using parquet location '{tdir}'")

    @staticmethod
    def transpile(sql: str) -> list[str]:
        return sqlglot.transpile(sql, read="duckdb", write="spark")

    def execute(self, sql: str, params=None) -> _Result:
        if params:
            raise InputError("parameterised SQL is not supported on the Spark engine",
                             hint="inline literal values into the SQL")
        df = None
        for stmt in self.transpile(sql):
            df = self.spark.sql(stmt)
        return _Result(df)

    sql = execute

    def register(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)

    def close(self) -> None:  # sessions are shared and cached
        pass
