"""Shipped geography: 2011 and 2021 LSOAs, their local authorities and IMD deciles (Open Government Licence)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq

__all__ = ["lsoa11_path", "lsoa21_path", "lsoa11_table", "lsoa21_table"]


def _data(name: str) -> Path:
    return Path(str(resources.files(__package__).joinpath("data", name)))


def lsoa11_path() -> Path:
    """Path of the shipped 2011 LSOA table (lsoa11_code, lad_code, lad_name, country, imd_decile, ...)."""
    return _data("lsoa11.parquet")


def lsoa21_path() -> Path:
    """Path of the shipped 2021 LSOA table (lsoa21_code, lad_code, lad_name, country, imd_decile, ...)."""
    return _data("lsoa21.parquet")


@cache
def lsoa11_table():
    """The shipped 2011 LSOA table as a pyarrow Table."""
    return pq.read_table(lsoa11_path())


@cache
def lsoa21_table():
    """The shipped 2021 LSOA table as a pyarrow Table."""
    return pq.read_table(lsoa21_path())
