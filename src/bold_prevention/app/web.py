"""Request plumbing shared by every page: the session middleware, security headers, rendering, role checks, CSRF.

The middleware is plain ASGI. For each request it finds the server-side session named by the cookie (or starts a new
anonymous one; an id the server did not issue is never adopted), checks a signed-in session against the account as it
is now (removed, locked, another role or caseload, a new password or second factor: the session ends), and on the way
out it adds the security headers and, when the session is new or was replaced, the session cookie. With single
sign-on configured (``AppConfig.sso_header``), a trusted proxy's user header signs the session in instead. It logs one line per request naming the route pattern
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

from .accounts import NAME_PATTERN, AccountStore
from .audit import AuditLog, SecurityLog
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
    security: SecurityLog | None = None
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
            if st.config.sso_header:
                await _single_sign_on(st, scope)
            s = scope["state"]["session"]
            if s.signed_in:
                await _follow_account(st, scope, s)
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
                elif message["status"] in (200, 304):
                    headers.append((b"cache-control", b"public, max-age=3600"))
                else:  # a missing asset: never cached
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
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


def _why_ended(acc, s: Session) -> str | None:
    """Why a signed-in session no longer matches its account (None: it still does)."""
    if acc is None:
        return "the account was removed"
    if acc.suspended:
        return "the account was locked"
    if acc.role != s.role:
        return f"the account's role changed to {acc.role}"
    if acc.epoch != s.epoch:
        return "the account's access, password or second factor changed"
    if s.via == "password" and not acc.ready:
        return "the account was reset"
    return None


async def _follow_account(st: AppState, scope, s: Session) -> None:
    """End ``s`` when its account changed since sign-in (checked on every request)."""
    from starlette.concurrency import run_in_threadpool

    acc = await run_in_threadpool(st.accounts.current, s.user)
    why = _why_ended(acc, s)
    if why is None:
        return
    st.sessions.drop(s)
    new = st.sessions.new()
    new.flash = "You have been signed out because your account changed. Sign in again to continue."
    scope["state"]["session"] = new
    await run_in_threadpool(lambda: st.audit.append(actor=s.user, role=s.role, action="sign_out",
                                                    outcome="revoked", detail=f"session ended: {why}"))


def _header(scope, name: str) -> str | None:
    key = name.lower().encode("latin-1")
    for k, v in scope.get("headers", []):
        if k == key:
            return v.decode("latin-1")
    return None


def _peer(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "-"


def client_address(request_or_scope) -> str:
    """The client's address: the connection's, or, when the connection comes from a configured trusted proxy, the
    nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy."""
    scope = request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope
    peer = _peer(scope)
    trusted = set(scope["app"].state.bold.config.trusted_proxies) if "app" in scope else set()
    if peer not in trusted:
        return peer
    forwarded = _header(scope, "x-forwarded-for")
    if not forwarded:
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop not in trusted:
            return hop[:64]
    return peer


async def _single_sign_on(st: AppState, scope) -> None:
    """Sign the session in (or out) from the trusted proxy's user header."""
    from starlette.concurrency import run_in_threadpool

    header = _header(scope, st.config.sso_header or "")
    peer = _peer(scope)
    s: Session = scope["state"]["session"]
    if peer not in st.config.trusted_proxies:
        if header is not None and st.security is not None:
            st.security.append(kind="sso_header_untrusted", client=peer,
                               detail="a single sign-on header from an address that is not a trusted proxy")
        return
    name = (header or "").strip().lower()
    if s.signed_in and s.user == name:
        return
    if s.signed_in:  # another user, or none, behind the proxy now
        st.sessions.drop(s)
        s = st.sessions.new()
        scope["state"]["session"] = s
    if not name:
        return
    acc = await run_in_threadpool(st.accounts.current, name) if NAME_PATTERN.match(name) else None
    if acc is None or acc.suspended:
        if st.security is not None:
            st.security.append(kind="sso_unknown_account", client=client_address(scope),
                               detail="the proxy named no usable local account")
        return
    new = st.sessions.rotate(s)
    new.user, new.role, new.epoch, new.via, new.signed_in_at = acc.name, acc.role, acc.epoch, "sso", time.monotonic()
    scope["state"]["session"] = new
    await run_in_threadpool(lambda: st.audit.append(actor=acc.name, role=acc.role, action="sign_in", outcome="ok",
                                                    detail="single sign-on (trusted proxy header)"))


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
    "practitioner": [("Find a person", "/search"), ("Your account", "/account")],
    "analyst": [("Overview", "/analysis"), ("Catalogue", "/analysis/catalogue"), ("Register", "/analysis/register"),
                ("Data quality", "/analysis/quality"), ("Linkage quality", "/analysis/linkage"),
                ("Cohorts", "/analysis/cohorts"), ("Places", "/analysis/places"), ("Your account", "/account")],
    "admin": [("Audit log", "/admin/audit"), ("Review", "/admin/review"), ("Accounts", "/admin/accounts"),
              ("Your account", "/account")],
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


def security_event(request: Request, kind: str, detail: str) -> None:
    """An unauthenticated bad request, written to the rate-limited security log (never the audit chain)."""
    st = state(request)
    if st.security is not None:
        st.security.append(kind=kind, client=client_address(request), detail=detail)


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
        detail = f"form without a valid token at {getattr(route, 'path', '?')}"
        if s.signed_in:
            await record(request, actor=s.user, role=s.role, action="refusal", outcome="csrf", detail=detail)
        else:  # nobody to hold to account: the rate-limited security log, not the audit chain
            security_event(request, "csrf", detail)
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
