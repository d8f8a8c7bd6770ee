"""Request plumbing shared by every page: the session middleware, security headers, rendering, role checks, CSRF.

The middleware is plain ASGI. For each request it finds the server-side session named by the cookie (or starts a new
anonymous one; an id the server did not issue is never adopted), and on the way out it adds the security headers and,
when the session is new or was replaced, the session cookie. It logs one line per request naming the route pattern
(``/people/{person_id}``), never the path as typed, so no search term or identifier reaches a log line.
"""

from __future__ import annotations

import logging
import secrets
import time
import traceback
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .accounts import AccountStore
from .audit import AuditLog
from .config import AppConfig
from .sessions import COOKIE_NAME, RateLimiter, Session, SessionStore
from .warehouse import Warehouse

log = logging.getLogger("bold_prevention.app")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]

ROLE_HOME = {"practitioner": "/search", "analyst": "/analysis", "admin": "/admin/audit"}


@dataclass
class AppState:
    """Everything a request handler needs, held on ``app.state.bold``."""

    config: AppConfig
    warehouse: Warehouse
    accounts: AccountStore
    audit: AuditLog
    sessions: SessionStore
    env: Environment
    signin_limiter: RateLimiter
    search_limiter: RateLimiter
    extra: dict[str, Any] = field(default_factory=dict)


def make_env() -> Environment:
    env = Environment(loader=PackageLoader("bold_prevention.app", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                      auto_reload=False)
    env.filters["date_uk"] = lambda d: "" if d is None else f"{d.day} {d:%B %Y}"
    env.filters["date_short"] = lambda d: "" if d is None else f"{d.day} {d:%b %Y}"
    env.filters["thousands"] = lambda n: "" if n is None else f"{n:,}"
    return env


def state(request: Request) -> AppState:
    return request.app.state.bold


def session(request: Request) -> Session:
    return request.scope["state"]["session"]


def set_session(request: Request, s: Session) -> None:
    request.scope["state"]["session"] = s


class SessionMiddleware:
    """Loads the server-side session, adds security headers and the cookie, logs a safe access line."""

    def __init__(self, app, *, get_state) -> None:
        self.app = app
        self.get_state = get_state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st: AppState = self.get_state()
        started = time.perf_counter()
        static = scope["path"].startswith("/assets/")
        scope.setdefault("state", {})
        if not static:
            sid = _cookie(scope, COOKIE_NAME)
            s, expired = st.sessions.get(sid)
            if s is None:
                s = st.sessions.new()
                if expired:
                    s.flash = "You were signed out because your session ended. Sign in again to continue."
            scope["state"]["session"] = s
            scope["state"]["session_expired"] = expired
        status_holder = {}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                own = {k.lower() for k, _v in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in own]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                    cur: Session = scope["state"]["session"]
                    if cur.fresh:
                        headers.append((b"set-cookie", _cookie_header(cur.id, st.config.secure_cookies).encode()))
                        cur.fresh = False
                else:
                    headers.append((b"cache-control", b"public, max-age=3600"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not static:
                route = scope.get("route")
                pattern = getattr(route, "path", None) or "(no route)"
                log.info("%s %s %s %.1fms", scope["method"], pattern, status_holder.get("status", "-"),
                         (time.perf_counter() - started) * 1000)


def _cookie(scope, name: str) -> str | None:
    for k, v in scope.get("headers", []):
        if k == b"cookie":
            for part in v.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == name:
                    return val
    return None


def _cookie_header(sid: str, secure: bool) -> str:
    parts = [f"{COOKIE_NAME}={sid}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


# -- rendering ----------------------------------------------------------------------------------------------------

NAV = {
    "practitioner": [("Find a person", "/search")],
    "analyst": [("Overview", "/analysis"), ("Catalogue", "/analysis/catalogue"), ("Register", "/analysis/register"),
                ("Data quality", "/analysis/quality"), ("Linkage quality", "/analysis/linkage"),
                ("Cohorts", "/analysis/cohorts"), ("Places", "/analysis/places")],
    "admin": [("Audit log", "/admin/audit"), ("Accounts", "/admin/accounts")],
}


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    st = state(request)
    s = session(request)
    flash = s.flash
    s.flash = None
    path = request.url.path
    nav = [(label, href, path == href or (href != "/analysis" and path.startswith(href + "/")))
           for label, href in NAV.get(s.role or "", [])]
    context.setdefault("errors", [])
    html = st.env.get_template(template).render(
        session=s, user=s.user, role=s.role, csrf_token=s.csrf, nav=nav, flash=flash, **context)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str | None = None) -> HTMLResponse:
    titles = {400: "Sorry, there is a problem with that request", 403: "You cannot see this page",
              404: "Page not found", 405: "Sorry, there is a problem with that request",
              429: "Too many requests", 500: "Sorry, there is a problem with the service"}
    title = titles.get(status, HTTPStatus(status).phrase)
    return render(request, "error.html", status=status, title=title, message=message, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


class Denied(Exception):
    """A page the signed-in role may not open (turned into a 403 page; the handler has written the audit entry)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def record(request: Request, **entry: Any) -> None:
    """Append an audit entry without holding up other requests (the append waits for the disk)."""
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(lambda: state(request).audit.append(**entry))


async def require(request: Request, *roles: str, person_id: str | None = None) -> Session | Response:
    """The session if it is signed in with one of ``roles``; otherwise the response to send: a redirect to sign in,
    or a 403 page after writing a refusal to the audit log."""
    s = session(request)
    if not s.signed_in:
        if not s.flash:
            s.flash = "Sign in to continue."
        return redirect("/sign-in")
    if s.role not in roles:
        route = request.scope.get("route")
        await record(request, actor=s.user, role=s.role, action="refusal", outcome="denied", person_id=person_id,
                     detail=f"role {s.role} may not open {getattr(route, 'path', 'this page')}")
        return error_page(request, 403, f"Your role ({s.role}) does not give access to this page. "
                                        "The attempt has been recorded.")
    return s


class SessionEnded(Exception):
    """A form posted from a session that has since ended (answered with a redirect to sign in)."""


async def read_form(request: Request) -> dict[str, str]:
    """The submitted form, after checking its CSRF token against the session (a 403 otherwise, recorded)."""
    try:
        form = await request.form()
    except Exception as e:  # malformed multipart or too large
        raise HTTPException(400) from e
    data = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    s = session(request)
    if not s.check_csrf(data.get("csrf_token")) or not _same_origin(request):
        if request.scope["state"].get("session_expired") and _same_origin(request):
            raise SessionEnded()  # a form left open past the end of the session: sign in again
        route = request.scope.get("route")
        await record(request, actor=s.user or "(not signed in)", role=s.role, action="refusal", outcome="csrf",
                     detail=f"form without a valid token at {getattr(route, 'path', '?')}")
        raise HTTPException(403, "csrf")
    return data


def _same_origin(request: Request) -> bool:
    """False when the browser says the form came from another origin. Browsers send ``Sec-Fetch-Site``; with
    ``Referrer-Policy: no-referrer`` they send ``Origin: null`` on form posts, so a missing or null Origin is left to
    the CSRF token alone."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin.split("://", 1)[-1] == request.headers.get("host", "")
    return True


def incident(exc: BaseException) -> str:
    """Log an unexpected error without its message or local values (they could hold what a user typed) and return
    an incident reference to show the user."""
    ref = secrets.token_hex(4)
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames[-6:]))
    log.error("incident %s: %s at %s", ref, type(exc).__name__, where)
    return ref
