"""The warehouse: the one :class:`Warehouse` over DuckDB or Spark (the only code that opens an engine), the tables
it holds and their owners (:mod:`.tables`), loading of extracts under data contracts, quality checks, failure
policy."""

from .engine import (
    ENGINES,
    SCHEMAS,
    Warehouse,
    connection,
    duckdb_connect,
    engine_setting,
    open_warehouse,
    quote_ident,
    table_exists,
    tables,
    transaction,
)

__all__ = [
    "ENGINES",
    "SCHEMAS",
    "Warehouse",
    "connection",
    "duckdb_connect",
    "engine_setting",
    "open_warehouse",
    "quote_ident",
    "table_exists",
    "tables",
    "transaction",
]
