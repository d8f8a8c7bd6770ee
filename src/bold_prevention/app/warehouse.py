"""Read-only access to the project's warehouse for the web application.

The server opens the warehouse once, read-only, at start-up (a missing or corrupt file stops it with a clear message
before anything is written) and gives each worker thread its own cursor. :class:`Capabilities` records which layers
the warehouse holds, so a page whose data has not been built yet says so instead of failing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import duckdb

from ..datafirst import MODEL
from ..errors import InputError
from ..project import Project
from ..warehouse.engine import duckdb_connect


def identity_table(table: str) -> str:
    """The identity store table of a person table (the linkage layer's contract)."""
    return f"identity_{table}"


@dataclass(frozen=True)
class Capabilities:
    """Which warehouse tables exist (``schema.name``)."""

    tables: frozenset[str] = field(default_factory=frozenset)

    def has(self, qualified: str) -> bool:
        return qualified in self.tables

    @property
    def identity_tables(self) -> tuple[str, ...]:
        """Person tables whose identity store exists."""
        return tuple(t.name for t in MODEL.person_tables() if self.has(f"linkage.{identity_table(t.name)}"))

    @property
    def single_view(self) -> bool:
        """Enough for the practitioners' search and person page: identity stores and person records."""
        return bool(self.identity_tables) and self.has("spine.person_record")

    def missing_for_single_view(self) -> list[str]:
        missing = []
        if not self.identity_tables:
            missing.append("linkage.identity_<table> (the identity store)")
        if not self.has("spine.person_record"):
            missing.append("spine.person_record (person records)")
        return missing


class Warehouse:
    """The warehouse opened read-only, with one cursor per thread."""

    def __init__(self, project: Project, *, threads: int = 1) -> None:
        self.project = project
        path = project.warehouse_path
        if not path.exists():
            raise InputError(f"no warehouse at {path}",
                             hint="run `bold demo` (or load, link and build the spine), or pass --project "
                                  "with the folder that holds warehouse.duckdb")
        try:
            self._con = duckdb_connect(project, read_only=True)
            self._con.execute(f"set threads = {int(threads)}")
            rows = self._con.execute(
                "select table_schema, table_name from information_schema.tables").fetchall()
        except (duckdb.Error, InputError) as e:
            raise InputError(f"the warehouse {path} cannot be read: it is damaged, not a DuckDB file, or in "
                             "use by a process that is writing to it",
                             hint="stop any load or build that is running, or rebuild the warehouse "
                                  "(`bold demo`), then start the server again") from e
        self.capabilities = Capabilities(frozenset(f"{s}.{t}" for s, t in rows))
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the warehouse."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
            with self._lock:
                self._cursors.append(cur)
        return cur

    def close(self) -> None:
        with self._lock:
            for c in self._cursors:
                try:
                    c.close()
                except duckdb.Error:
                    pass
            self._cursors.clear()
        self._con.close()
