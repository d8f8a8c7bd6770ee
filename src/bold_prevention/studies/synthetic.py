"""The synthetic population a study's truth is computed from: its extracts, wave files and truth tables as views.

Only a study's truth (what the synthetic population was built to give, with every record at its true person) reads
these; the study itself reads the project's warehouse, through the linkage.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..errors import InputError
from ..warehouse.engine import sql_literal


def population_connection(truth_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per file of the population (``truth_record``,
    ``moj_probation_rqmnts``, ``ndtms_episodes`` ...) of the population whose truth folder is ``truth_dir``."""
    root = Path(truth_dir).parent
    con = duckdb.connect()
    found = 0
    for sub in ("extracts", "waves", "truth"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            name = p.name.split(".")[0]
            if p.suffix == ".parquet":
                reader = "read_parquet"
            elif p.suffix == ".csv":
                reader = "read_csv_auto"
            else:
                continue
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM {reader}({sql_literal(p)})')
            found += 1
    if not found:
        raise InputError(f"no synthetic population files under {root}",
                         hint="give --truth the folder `bold synth` wrote (with extracts/, waves/ and truth/)")
    return con


def has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0])
