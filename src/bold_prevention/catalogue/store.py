"""Store the normalised catalogue in the project warehouse, read it back, and export it as CSV.

Tables (DuckDB schema ``catalogue``):

* ``catalogue.variables``: one row per (dataset, table, variable) with description, values, type/format/coverage
  where the file has them, the parsed value range, the code list name, and provenance (file, sheet, row);
* ``catalogue.code_lists``: one row per code: parsed ``code = label`` values cells (``code_list`` =
  ``table.variable``) and lookup sheets such as ``drug_lookup`` (``code_list`` = the sheet name).

A load replaces the rows of the datasets it brings, inside one transaction: either every file is stored or none.
This module talks to DuckDB directly (the warehouse layer sits below the catalogue layer).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from ..errors import InputError
from ..files import atomic_path
from ..project import Project
from ..warehouse.engine import duckdb_connect, quote_ident, table_exists, transaction
from .reader import CODE_LIST_COLUMNS, VARIABLE_COLUMNS, Catalogue, read_catalogues

SCHEMA = "catalogue"

_VARIABLES_DDL = f"""
create table if not exists {SCHEMA}.variables (
    dataset varchar not null, table_name varchar not null, variable varchar not null, description varchar,
    "values" varchar, data_type varchar, value_format varchar, coverage varchar, notes varchar,
    range_min double, range_max double, n_codes bigint, code_list varchar,
    source_file varchar, sheet varchar, source_row bigint, loaded_at timestamp,
    primary key (dataset, table_name, variable)
)"""
_CODES_DDL = f"""
create table if not exists {SCHEMA}.code_lists (
    dataset varchar not null, code_list varchar not null, table_name varchar, variable varchar,
    code varchar not null, label varchar, source_file varchar, sheet varchar, source_row bigint,
    loaded_at timestamp
)"""


def _connect(project: Project, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = project.warehouse_path
    if read_only and not path.exists():
        raise InputError(f"no warehouse at {path}",
                         hint="load catalogues first with `bold catalogue load PATH...`, or pass --project")
    con = duckdb_connect(project, read_only=read_only)
    if not read_only:
        con.execute(_VARIABLES_DDL)
        con.execute(_CODES_DDL)
    return con


def store_catalogue(project: Project | str | os.PathLike | None, catalogue: Catalogue) -> dict[str, int]:
    """Write a catalogue into the warehouse, replacing the rows of its datasets, in one transaction.

    Returns the number of variables stored per dataset.
    """
    project = project if isinstance(project, Project) else Project.at(project)
    project.root.mkdir(parents=True, exist_ok=True)
    datasets = catalogue.datasets
    now = datetime.now(UTC).replace(tzinfo=None)
    variables = catalogue.variables[VARIABLE_COLUMNS].copy()
    variables["loaded_at"] = now
    codes = catalogue.code_lists[CODE_LIST_COLUMNS].copy()
    codes["loaded_at"] = now
    con = _connect(project)
    try:
        con.register("_new_variables", variables)
        con.register("_new_codes", codes)
        try:
            with transaction(con):
                placeholders = ", ".join("?" for _ in datasets)
                con.execute(f"delete from {SCHEMA}.variables where dataset in ({placeholders})", datasets)
                con.execute(f"delete from {SCHEMA}.code_lists where dataset in ({placeholders})", datasets)
                cols = ", ".join(quote_ident(c) for c in [*VARIABLE_COLUMNS, "loaded_at"])
                con.execute(f"insert into {SCHEMA}.variables ({cols}) select {cols} from _new_variables")
                ccols = ", ".join(quote_ident(c) for c in [*CODE_LIST_COLUMNS, "loaded_at"])
                con.execute(f"insert into {SCHEMA}.code_lists ({ccols}) select {ccols} from _new_codes")
        finally:
            con.unregister("_new_variables")
            con.unregister("_new_codes")
    except duckdb.Error as e:
        raise InputError(f"could not store the catalogue in {project.warehouse_path}: {e}",
                         hint="nothing was stored; check the warehouse is not open in another process") from e
    finally:
        con.close()
    return {str(k): int(v) for k, v in variables.groupby("dataset").size().items()}


def load_catalogues(paths: Iterable[str | os.PathLike], project: Project | str | os.PathLike | None = None
                    ) -> tuple[Catalogue, dict[str, int]]:
    """Read catalogue files (or folders of them) and store them in the project's warehouse.

    Every file is read and checked before anything is stored; one bad file stores nothing.
    """
    catalogue = read_catalogues(paths)
    counts = store_catalogue(project, catalogue)
    return catalogue, counts


def read_stored(project: Project | str | os.PathLike | None = None, *, datasets: Iterable[str] | None = None
                ) -> Catalogue:
    """The catalogue stored in the project's warehouse (raises if none has been loaded)."""
    project = project if isinstance(project, Project) else Project.at(project)
    con = _connect(project, read_only=True)
    try:
        if not table_exists(con, SCHEMA, "variables"):
            raise InputError(f"no catalogue in the warehouse {project.warehouse_path}",
                             hint="load catalogues first with `bold catalogue load PATH...`")
        where, args = "", []
        if datasets:
            ds = list(datasets)
            where, args = f" where dataset in ({', '.join('?' for _ in ds)})", ds
        cols = ", ".join(quote_ident(c) for c in VARIABLE_COLUMNS)
        variables = con.execute(
            f"select {cols} from {SCHEMA}.variables{where} order by dataset, source_file, sheet, source_row",
            args).df()
        ccols = ", ".join(quote_ident(c) for c in CODE_LIST_COLUMNS)
        codes = con.execute(
            f"select {ccols} from {SCHEMA}.code_lists{where} order by dataset, code_list, source_row", args).df()
    finally:
        con.close()
    if variables.empty:
        raise InputError(f"the catalogue in {project.warehouse_path} is empty",
                         hint="load catalogues first with `bold catalogue load PATH...`")
    return Catalogue(variables, codes, [], sorted(variables["source_file"].unique().tolist()))


def export_csv(catalogue: Catalogue, out: str | os.PathLike, *, overwrite: bool = True,
               what: str = "variables") -> Path:
    """Write the catalogue's variables (or code lists) as CSV, atomically."""
    df: pd.DataFrame = catalogue.variables if what == "variables" else catalogue.code_lists
    with atomic_path(out, overwrite=overwrite) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8")
    return Path(out)
