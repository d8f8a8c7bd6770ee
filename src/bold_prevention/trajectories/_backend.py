"""Engine plumbing shared by the trajectory and early-warning code: Ibis backends over the warehouse.

Every transformation in this layer is an Ibis expression, so the same code runs on DuckDB (the embedded default) and
on Spark. This module turns what callers hand us (a DuckDB connection or an Ibis backend) into an Ibis backend, finds
warehouse tables by schema (whether one exists: :func:`bold_prevention.warehouse.table_exists`), and materialises expressions as warehouse tables.
"""

from __future__ import annotations

from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from ..errors import InputError


def backend_of(con: Any):
    """An Ibis backend for ``con`` (a DuckDB connection, or an Ibis backend passed through unchanged)."""
    if isinstance(con, duckdb.DuckDBPyConnection):
        return ibis.duckdb.from_connection(con)
    if hasattr(con, "table") and hasattr(con, "compile"):
        return con
    raise InputError(f"expected a DuckDB connection or an Ibis backend, got {type(con).__name__}",
                     hint="pass the warehouse connection from bold_prevention.warehouse.engine.duckdb_connect")


def _is_duckdb(backend) -> bool:
    return getattr(backend, "name", "") == "duckdb"


def table(backend, schema: str, name: str) -> ir.Table:
    """The warehouse table ``schema.name`` (DuckDB schema; Spark ``<schema>_<name>`` table)."""
    if _is_duckdb(backend):
        return backend.table(name, database=schema)
    try:
        return backend.table(name, database=schema)
    except Exception:
        return backend.table(f"{schema}_{name}")


def materialise(backend, expr: ir.Table, schema: str, name: str, *, temp: bool = False) -> ir.Table:
    """Write ``expr`` as the table ``schema.name`` (replacing it atomically) and return the new table.

    On DuckDB this is one ``CREATE OR REPLACE TABLE ... AS SELECT`` statement: readers see the old table or the new
    one, never a half-written one.
    """
    if _is_duckdb(backend):
        sql = backend.compile(expr)
        if temp:
            backend.con.execute(f'create or replace temp table "{name}" as {sql}')
            return backend.table(name)
        backend.con.execute(f"create schema if not exists {schema}")
        backend.con.execute(f'create or replace table {schema}."{name}" as {sql}')
        return backend.table(name, database=schema)
    if temp:
        backend.create_table(name, expr, overwrite=True, temp=True)
        return backend.table(name)
    backend.create_table(name, expr, database=schema, overwrite=True)
    return backend.table(name, database=schema)


def drop_temp(backend, *names: str) -> None:
    """Drop temporary tables made by :func:`materialise` (``temp=True``)."""
    for n in names:
        if _is_duckdb(backend):
            backend.con.execute(f'drop table if exists temp.main."{n}"')
        else:
            try:
                backend.drop_table(n, force=True)
            except Exception:
                pass


def to_pandas(expr: ir.Table):
    """Execute ``expr`` into a pandas frame (only for small results and modelling matrices)."""
    return expr.to_pyarrow().to_pandas()
