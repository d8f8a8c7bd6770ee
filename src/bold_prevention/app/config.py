"""Settings of the web application."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    #: Sign-in attempts (passwords and second-factor codes) allowed per client address per minute.
    signin_per_minute: int = 10
    #: Searches allowed per account per minute.
    search_per_minute: int = 30
    #: Most candidates shown for one search (a search that finds more asks for more detail).
    max_results: int = 10
    #: Minutes allowed between the password and the second-factor code (or the first-sign-in set-up).
    pending_minutes: int = 10
    #: Addresses of reverse proxies whose ``X-Forwarded-For`` (and, with ``sso_header``, user header) is believed.
    #: Empty (the default): the client address is the connection's, and forwarded headers are ignored.
    trusted_proxies: tuple[str, ...] = ()
    #: Single sign-on at the proxy: the header naming the signed-in user (e.g. ``X-Forwarded-User``), believed only
    #: from ``trusted_proxies``. None (the default): off; users sign in here with a password and a second factor.
    sso_header: str | None = None
    #: A file (kept by another party) to which the audit head is exported every ``audit_head_every`` entries.
    audit_head_file: Path | None = None
    audit_head_every: int = 100
    #: Lines a minute written to the security log (unauthenticated bad requests; the rest are counted).
    security_log_per_minute: int = 60
    #: Threads DuckDB may use for one query (many small queries run side by side, so one is best).
    duckdb_threads: int = 1
