"""Scale-out: the same pipeline on DuckDB or Apache Spark, the Parquet warehouse, and SQL for Trino / Athena."""

from ..warehouse.engine import ENGINES, Warehouse, engine_setting, open_warehouse
from .export import EXPORT_SCHEMAS, ExportResult, export_warehouse_to_parquet, load_to_parquet
from .pipeline import STAGES, PipelineRun, StageResult, run_from_config, run_pipeline

__all__ = [
    "ENGINES",
    "EXPORT_SCHEMAS",
    "STAGES",
    "ExportResult",
    "PipelineRun",
    "StageResult",
    "Warehouse",
    "engine_setting",
    "export_warehouse_to_parquet",
    "load_to_parquet",
    "open_warehouse",
    "run_from_config",
    "run_pipeline",
]
