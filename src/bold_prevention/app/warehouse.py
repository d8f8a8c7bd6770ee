"""Read-only access to the project's warehouse for the web application.

The server opens the warehouse through the warehouse package (:func:`..warehouse.engine.duckdb_connect` with
``attach_as``): an in-memory DuckDB database with the warehouse file attached read-only as ``wh`` (a missing or
corrupt file stops the server with a clear message before anything is written) and builds the single view's index
there (:mod:`.index`). Each worker thread gets its own cursor, whose default catalog is the warehouse, so library
functions given a cursor read ``spine.person`` and the like as usual, while the index lives in ``memory.main``.
:class:`Capabilities` records which layers the warehouse holds, so a page whose data has not been built yet says so
instead of failing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from ..datafirst import MODEL
from ..errors import InputError
from ..project import Project
from ..warehouse.engine import duckdb_connect, tables
from ..warehouse.tables import PERSON_RECORD


def identity_table(table: str) -> str:
    """The identity store table of a person table (the linkage layer's contract)."""
    return f"identity_{table}"


@dataclass(frozen=True)
class Capabilities:
    """Which warehouse tables exist (``schema.name``)."""

    tables: frozenset[str] = field(default_factory=frozenset)

    def has(self, qualified: str) -> bool:
        return qualified in self.tables

    @functools.cached_property
    def identity_tables(self) -> tuple[str, ...]:
        """Person tables whose identity store exists (worked out once: the tables do not change while serving)."""
        return tuple(t.name for t in MODEL.person_tables() if self.has(f"linkage.{identity_table(t.name)}"))

    @property
    def single_view(self) -> bool:
        """Enough for the practitioners' search and person page: identity stores and person records."""
        return bool(self.identity_tables) and self.has(PERSON_RECORD)

    def missing_for_single_view(self) -> list[str]:
        missing = []
        if not self.identity_tables:
            missing.append("linkage.identity_<table> (the identity store)")
        if not self.has(PERSON_RECORD):
            missing.append("spine.person_record (person records)")
        return missing


class Warehouse:
    """The warehouse attached read-only to an in-memory database holding the single view's index."""

    def __init__(self, project: Project, *, threads: int = 1, build_index: bool = True,
                 progress: Callable[[str], None] | None = None) -> None:
        self.project = project
        path = project.warehouse_path
        try:  # the warehouse attached read-only as ``wh`` to an in-memory database, which holds the index
            self._con = duckdb_connect(project, read_only=True, attach_as="wh")
        except InputError as e:
            raise InputError(e.message, hint=f"{e.hint}; then start the server again") from e
        try:
            rows = tables(self._con)  # the attached warehouse is the current database
        except duckdb.Error as e:
            self._con.close()
            raise InputError(f"the warehouse {path} cannot be read: it is damaged, not a DuckDB file, or in "
                             "use by a process that is writing to it",
                             hint="stop any load or build that is running, or rebuild the warehouse "
                                  "(`bold demo`), then start the server again") from e
        self.capabilities = Capabilities(frozenset(f"{s}.{t}" for s, t in rows))
        self.index_stats: dict = {}
        self.indexed: frozenset[str] = frozenset()
        self._threads = int(threads)
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        if build_index and self.capabilities.single_view:
            from .index import build_single_view_index

            self._con.execute("set threads = 2")
            try:
                self.index_stats = build_single_view_index(self._con, self.capabilities.identity_tables,
                                                           has=self.capabilities.has, progress=progress)
            except duckdb.Error as e:
                self._con.close()
                raise InputError(f"the single view could not be prepared from the warehouse {path}: "
                                 f"{type(e).__name__}",
                                 hint="check that the linkage and spine tables were built by this version of "
                                      "the toolkit (rebuild them with `bold demo` or `bold spine build`)") from e
            from .single_view import _event_ranks

            _event_ranks()  # import the trajectories layer's event order now, not on the first person page
            self.indexed = frozenset(r[0] for r in self._con.execute(
                "select table_name from information_schema.tables where table_catalog = 'memory'").fetchall())
        self._con.execute(f"set threads = {self._threads}")

    def has_index(self, name: str) -> bool:
        return name in self.indexed

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (default catalog: the warehouse; the index is ``memory.main.*``)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            cur.execute("use wh")
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
