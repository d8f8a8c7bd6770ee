"""Signing in and out."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from .accounts import NAME_PATTERN, SignInRefused
from .web import ROLE_HOME, error_page, read_form, record, redirect, render, session, set_session, state


async def home(request: Request):
    s = session(request)
    if not s.signed_in:
        return redirect("/sign-in")
    return redirect(ROLE_HOME.get(s.role, "/sign-in"))


async def sign_in_form(request: Request):
    s = session(request)
    if s.signed_in:
        return redirect(ROLE_HOME.get(s.role, "/"))
    return render(request, "sign_in.html", title="Sign in", values={})


async def sign_in(request: Request):
    st = state(request)
    form = await read_form(request)
    name = (form.get("username") or "").strip().lower()
    password = form.get("password") or ""
    client = request.client.host if request.client else "-"
    if not st.signin_limiter.hit(client):
        await record(request, actor="(not signed in)", role=None, action="refusal", outcome="rate_limited",
                        detail="too many sign-in attempts from one address")
        return error_page(request, 429, "There have been too many attempts to sign in. Wait a minute and "
                                        "try again.")
    errors = []
    if not name:
        errors.append(("username", "Enter your account name"))
    if not password:
        errors.append(("password", "Enter your password"))
    if errors:
        return render(request, "sign_in.html", status=400, title="Sign in", errors=errors,
                      values={"username": name})
    actor = name if NAME_PATTERN.match(name) else "(invalid account name)"
    try:
        account = await run_in_threadpool(st.accounts.authenticate, name, password)
    except SignInRefused as e:
        known = e.reason != "unknown_account"
        await record(request, actor=actor if known else "(unknown account)", role=None, action="sign_in",
                        outcome="locked" if "locked" in e.reason else "failed", detail=e.reason)
        return render(request, "sign_in.html", status=400, title="Sign in",
                      errors=[("username", e.message)], values={"username": name if known else ""})
    new = st.sessions.rotate(session(request))
    new.user, new.role, new.signed_in_at = account.name, account.role, time.monotonic()
    set_session(request, new)
    await record(request, actor=account.name, role=account.role, action="sign_in", outcome="ok")
    return redirect(ROLE_HOME[account.role])


async def sign_out(request: Request):
    st = state(request)
    s = session(request)
    await read_form(request)
    if s.signed_in:
        await record(request, actor=s.user, role=s.role, action="sign_out", outcome="ok")
    new = st.sessions.rotate(s)
    new.flash = "You have signed out."
    set_session(request, new)
    return redirect("/sign-in")


async def not_found(request: Request):
    return error_page(request, 404)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/sign-in", sign_in_form, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
