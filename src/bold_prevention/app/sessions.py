"""Server-side sessions, CSRF tokens and rate limits.

The browser holds only a random session id (256 bits) in a cookie that is HttpOnly, SameSite=Strict and (by default)
Secure. Everything else (the signed-in account, its role, the CSRF token, the people a practitioner has stated a
reason to see) stays in server memory. A session id the server did not issue is never adopted, and the id is replaced
at sign-in and sign-out, so a session id planted before sign-in (session fixation) is worthless afterwards.

A session remembers the account's ``epoch`` at sign-in; every request compares it with the account as it is now
(:meth:`.accounts.AccountStore.current`), so removing an account, changing its role or caseload, resetting its
password or second factor, or locking it ends its sessions at the next request (and :meth:`SessionStore.revoke_user`
ends them at once in this server). Between the password and the second factor a session is only *pending*: it can
reach the second-factor and first-sign-in pages and nothing else.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

COOKIE_NAME = "bold_session"


@dataclass
class Grant:
    """A practitioner's stated reason to view one person, valid until ``expires`` (monotonic seconds)."""

    reason: str
    reason_text: str
    expires: float
    #: The person is outside the practitioner's caseload: opened with a break-glass reason.
    break_glass: bool = False


@dataclass
class Pending:
    """A sign-in that has passed the password but not yet the second factor (or the first-sign-in set-up)."""

    user: str
    role: str
    #: "password" (set your own password), "enrol" (set up the second factor) or "code" (type the code)
    step: str
    expires: float
    #: The second-factor secret being enrolled (shown to the user until they prove they hold it).
    secret: str | None = None


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    last_seen: float
    user: str | None = None
    role: str | None = None
    signed_in_at: float | None = None
    #: The account's epoch when this session signed in (see the module docstring).
    epoch: int = 0
    #: How the session signed in: "password" (password and second factor) or "sso" (trusted proxy header).
    via: str = "password"
    pending: Pending | None = None
    grants: dict[str, Grant] = field(default_factory=dict)
    flash: str | None = None
    #: Set when the session was created or rotated during this request: the response must set the cookie.
    fresh: bool = False

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    def check_csrf(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))

    def grant(self, person_id: str, reason: str, reason_text: str, minutes: int, *,
              break_glass: bool = False) -> None:
        self.grants[person_id] = Grant(reason, reason_text, time.monotonic() + minutes * 60, break_glass)

    def pending_step(self) -> Pending | None:
        """The pending sign-in, unless it has expired (it is then dropped)."""
        p = self.pending
        if p is not None and p.expires < time.monotonic():
            self.pending = None
            return None
        return p

    def granted(self, person_id: str) -> Grant | None:
        g = self.grants.get(person_id)
        if g is None:
            return None
        if g.expires < time.monotonic():
            del self.grants[person_id]
            return None
        return g


class SessionStore:
    """Sessions in memory, expiring after ``idle_minutes`` without a request or ``max_hours`` after creation."""

    def __init__(self, *, idle_minutes: int = 30, max_hours: int = 10) -> None:
        self.idle = idle_minutes * 60
        self.max_age = max_hours * 3600
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        #: The clock (seconds); replaceable so that expiry can be tested without waiting.
        self.clock = time.monotonic

    def new(self) -> Session:
        now = self.clock()
        s = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), created=now, last_seen=now,
                    fresh=True)
        with self._lock:
            self._sessions[s.id] = s
            if len(self._sessions) % 256 == 0:
                self._sweep(now)
        return s

    def _sweep(self, now: float) -> None:
        for sid in [k for k, v in self._sessions.items() if self._expired(v, now)]:
            del self._sessions[sid]

    def _expired(self, s: Session, now: float) -> bool:
        return now - s.last_seen > self.idle or now - s.created > self.max_age

    def get(self, sid: str | None) -> tuple[Session | None, bool]:
        """The live session with id ``sid`` (touched), and whether ``sid`` named a session that has expired."""
        if not sid:
            return None, False
        now = self.clock()
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                return None, False
            if self._expired(s, now):
                del self._sessions[sid]
                return None, s.signed_in
            s.last_seen = now
            s.fresh = False
            return s, False

    def rotate(self, old: Session) -> Session:
        """A new session (new id and CSRF token) replacing ``old``, which stops working at once."""
        with self._lock:
            self._sessions.pop(old.id, None)
        return self.new()

    def drop(self, s: Session) -> None:
        with self._lock:
            self._sessions.pop(s.id, None)

    def revoke_user(self, name: str) -> int:
        """End every session (signed in or pending) of account ``name``; the number ended."""
        with self._lock:
            ids = [k for k, v in self._sessions.items()
                   if v.user == name or (v.pending is not None and v.pending.user == name)]
            for k in ids:
                del self._sessions[k]
        return len(ids)

    def __len__(self) -> int:
        return len(self._sessions)


class RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds (sliding window)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Record an event for ``key``; False if it is over the limit (the event is then not counted)."""
        now = time.monotonic()
        with self._lock:
            q = self._events.setdefault(key, deque())
            while q and now - q[0] > self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            if len(self._events) > 10000:
                for k in [k for k, v in self._events.items() if not v or now - v[-1] > self.window]:
                    del self._events[k]
            return True
