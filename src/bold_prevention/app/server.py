"""The application factory: :func:`create_app` builds the Starlette application over one project."""

from __future__ import annotations

import contextlib
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import routes_account, routes_admin, routes_analysis, routes_auth, routes_people
from .accounts import AccountStore
from .audit import AuditLog, SecurityLog, audit_key
from .config import AppConfig
from .sessions import RateLimiter, SessionStore
from .warehouse import Warehouse
from .web import AppState, SessionEnded, SessionMiddleware, error_page, incident, make_env, redirect, render

STATIC_DIR = Path(__file__).with_name("static")
_PLAIN_500 = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sorry, there is a problem with "
              "the service - BOLD Prevention</title></head><body><main><h1>Sorry, there is a problem with the "
              "service</h1><p>Try again later. If it keeps happening, give your administrator this reference: "
              "{ref}.</p></main></body></html>")


class _Assets(StaticFiles):
    """The vendored assets; a missing one is a plain 404 (never cached: see :class:`.web.SessionMiddleware`)."""

    async def get_response(self, path: str, scope):
        try:
            return await super().get_response(path, scope)
        except HTTPException as e:
            return PlainTextResponse("Not found" if e.status_code == 404 else "Not allowed",
                                     status_code=404 if e.status_code == 404 else e.status_code)


class _ErrorPages:
    """Innermost-but-one middleware: an unexpected error becomes a plain 500 page that reveals nothing internal
    (the session and security headers are still applied by :class:`SessionMiddleware` around it)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            ref = incident(exc)
            try:
                response = render(Request(scope), "error.html", status=500,
                                  title="Sorry, there is a problem with the service", message=None,
                                  status_code=500, incident=ref)
            except Exception as again:  # the error page itself failed: a fixed page, still nothing internal
                incident(again)
                response = HTMLResponse(_PLAIN_500.format(ref=ref), status_code=500)
            await response(scope, receive, send)


async def _session_ended(request: Request, exc: SessionEnded):
    return redirect("/sign-in")


async def _http_error(request: Request, exc: HTTPException):
    message = None
    if exc.status_code == 403 and exc.detail == "csrf":
        message = ("The form could not be accepted because it was out of date or did not come from this service. "
                   "Go back, reload the page and try again.")
    return error_page(request, exc.status_code, message)


def create_app(config: AppConfig) -> Starlette:
    """The web application over ``config.project``.

    Reads ``$BOLD_AUDIT_KEY`` and opens the warehouse read-only first: a missing key, or a missing or unreadable
    warehouse, raises :class:`InputError` before anything is written."""
    key = audit_key()
    if config.sso_header and not config.trusted_proxies:
        from ..errors import InputError

        raise InputError("single sign-on by a proxy header needs the proxy's address",
                         hint="pass --trusted-proxy ADDRESS (the reverse proxy that signs users in) with --sso-header")
    warehouse = Warehouse(config.project, threads=config.duckdb_threads)
    st = AppState(
        config=config, warehouse=warehouse, accounts=AccountStore.of(config.project),
        audit=AuditLog.of(config.project, key=key, head_file=config.audit_head_file,
                          head_every=config.audit_head_every),
        security=SecurityLog(config.project.audit_dir, per_minute=config.security_log_per_minute),
        sessions=SessionStore(idle_minutes=config.session_idle_minutes, max_hours=config.session_max_hours),
        env=make_env(), signin_limiter=RateLimiter(config.signin_per_minute, 60.0),
        search_limiter=RateLimiter(config.search_per_minute, 60.0))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            warehouse.close()

    routes = [*routes_auth.routes, *routes_account.routes, *routes_people.routes, *routes_analysis.routes, *routes_admin.routes,
              Mount("/assets", app=_Assets(directory=STATIC_DIR), name="assets")]
    holder: dict = {}
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SessionMiddleware, get_state=lambda: holder["state"]), Middleware(_ErrorPages)],
        exception_handlers={HTTPException: _http_error, SessionEnded: _session_ended},
        lifespan=lifespan,
        max_body_size=256 * 1024,
    )
    app.state.bold = st
    holder["state"] = st
    return app
