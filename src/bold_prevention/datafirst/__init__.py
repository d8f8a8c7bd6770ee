"""The Data First model: one declarative description of every table the toolkit knows.

>>> from bold_prevention.datafirst import MODEL
>>> MODEL.table("moj_probation_flatfile").primary_key
('row_id_hash',)
"""

from __future__ import annotations

import pyarrow as pa

from . import codes
from .model import (
    SQL_TYPES,
    CodeList,
    Column,
    DataFirstModel,
    Dataset,
    DateOrder,
    ForeignKey,
    Table,
)
from .tables import MODEL

__all__ = [
    "MODEL",
    "SQL_TYPES",
    "CodeList",
    "Column",
    "Dataset",
    "DataFirstModel",
    "DateOrder",
    "ForeignKey",
    "Table",
    "arrow_schema",
    "codes",
]

_ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


def arrow_schema(table: Table | str, *, analysis_only: bool = False) -> pa.Schema:
    """The Arrow schema of a model table (optionally without its personal identifier columns)."""
    t = MODEL.table(table) if isinstance(table, str) else table
    cols = [c for c in t.columns if not (analysis_only and c.identifier)]
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.dtype], nullable=c.nullable) for c in cols])
