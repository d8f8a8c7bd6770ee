"""DuckDB's string similarity functions for Spark, as vectorised (Arrow) Python functions.

(No ``from __future__ import annotations`` here: PySpark reads these functions' type hints at run time.)
"""

import jellyfish
import pandas as pd


def jaro_winkler(a: pd.Series, b: pd.Series) -> pd.Series:
    """Jaro-Winkler similarity as DuckDB's ``jaro_winkler_similarity`` computes it (null when either is null)."""
    return pd.Series([None if x is None or y is None else jellyfish.jaro_winkler_similarity(x, y)
                      for x, y in zip(a, b, strict=True)], dtype="Float64")


def jaro(a: pd.Series, b: pd.Series) -> pd.Series:
    """Jaro similarity as DuckDB's ``jaro_similarity`` computes it (null when either is null)."""
    return pd.Series([None if x is None or y is None else jellyfish.jaro_similarity(x, y)
                      for x, y in zip(a, b, strict=True)], dtype="Float64")


def register(spark) -> None:
    """Register ``jaro_winkler`` and ``jaro_sim`` (Splink's Spark names) over these functions."""
    from pyspark.sql.functions import pandas_udf

    spark.udf.register("jaro_winkler", pandas_udf(jaro_winkler, "double"))
    spark.udf.register("jaro_sim", pandas_udf(jaro, "double"))
