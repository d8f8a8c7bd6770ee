"""The warehouse: the one :class:`Warehouse` over DuckDB or Spark (the only code that opens an engine), the tables
it holds and their owners (:mod:`.tables`), loading of extracts under data contracts, quality checks, failure
policy. (``warehouse.tables`` is the module of table names; the function listing a schema's tables is
:func:`.engine.tables`.)"""

from .engine import (
    ENGINES,
    SCHEMAS,
    Warehouse,
    connection,
    date_literal,
    duckdb_connect,
    engine_setting,
    open_warehouse,
    quote_ident,
    sql_literal,
    table_exists,
    transaction,
)

__all__ = [
    "ENGINES",
    "SCHEMAS",
    "Warehouse",
    "connection",
    "date_literal",
    "duckdb_connect",
    "engine_setting",
    "open_warehouse",
    "quote_ident",
    "sql_literal",
    "table_exists",
    "transaction",
]
