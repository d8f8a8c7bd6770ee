"""Scale-out: the Parquet warehouse Spark reads, the justice dedupe on either engine, and SQL for Trino / Athena.

The pipeline itself (on DuckDB or Spark) is :func:`bold_prevention.pipeline.run_pipeline`; the engines open
through :func:`bold_prevention.warehouse.open_warehouse`.
"""

from .export import EXPORT_SCHEMAS, ExportResult, export_warehouse_to_parquet, load_to_parquet

__all__ = [
    "EXPORT_SCHEMAS",
    "ExportResult",
    "export_warehouse_to_parquet",
    "load_to_parquet",
]
