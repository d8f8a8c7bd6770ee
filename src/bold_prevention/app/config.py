"""Settings of the web application."""

from __future__ import annotations

from dataclasses import dataclass

from ..project import Project


@dataclass(frozen=True)
class AppConfig:
    """How one server runs. Defaults suit a secure setting; tests shorten nothing but the limits they exercise."""

    project: Project
    #: Mark the session cookie ``Secure`` (browsers accept it on http://localhost and http://127.0.0.1 too).
    secure_cookies: bool = True
    #: A session ends after this many minutes without a request ...
    session_idle_minutes: int = 30
    #: ... or this many hours after sign-in, whichever comes first.
    session_max_hours: int = 10
    #: A stated reason lets a practitioner view that one person for this many minutes.
    grant_minutes: int = 30
    #: Sign-in attempts allowed per client address per minute.
    signin_per_minute: int = 10
    #: Searches allowed per account per minute.
    search_per_minute: int = 30
    #: Most candidates shown for one search.
    max_results: int = 50
    #: Threads DuckDB may use for one query (many small queries run side by side, so one is best).
    duckdb_threads: int = 1
