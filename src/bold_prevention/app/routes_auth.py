"""Signing in (password, then the second factor; at first sign-in: your own password, then enrolment) and out.

Unknown accounts, locked accounts, a locked-out address and wrong passwords all get the same page with the same
message, after the same work (:meth:`.accounts.AccountStore.authenticate`), and the account name typed is always put
back in the form, so neither the page nor its timing tells whether an account exists. Sign-in attempts are limited per
client address (the proxy's ``X-Forwarded-For`` only from configured trusted proxies); a refused rate goes to the
security log, not the audit chain.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ..errors import InputError
from .accounts import NAME_PATTERN, Account, AccountStore, SignInRefused
from .sessions import Pending, Session
from .web import (
    ROLE_HOME,
    client_address,
    error_page,
    read_form,
    record,
    redirect,
    render,
    security_event,
    session,
    set_session,
    state,
)

STEP_URL = {"password": "/sign-in/new-password", "enrol": "/sign-in/second-factor", "code": "/sign-in/code"}


async def home(request: Request):
    s = session(request)
    if not s.signed_in:
        p = s.pending_step()
        return redirect(STEP_URL[p.step] if p else "/sign-in")
    return redirect(ROLE_HOME.get(s.role, "/sign-in"))


async def sign_in_form(request: Request):
    s = session(request)
    if s.signed_in:
        return redirect(ROLE_HOME.get(s.role, "/"))
    return render(request, "sign_in.html", title="Sign in", values={}, sso=bool(state(request).config.sso_header))


def _limited(request: Request) -> bool:
    st = state(request)
    client = client_address(request)
    if st.signin_limiter.hit(client):
        return False
    security_event(request, "sign_in_rate_limited", "too many sign-in attempts from one address")
    return True


def _too_many(request: Request):
    return error_page(request, 429, "There have been too many attempts to sign in. Wait a minute and try again.")


async def sign_in(request: Request):
    st = state(request)
    form = await read_form(request)
    if st.config.sso_header:
        return error_page(request, 403, "Sign in through your organisation's sign-in page.")
    typed = (form.get("username") or "").strip().lower()
    name = typed if NAME_PATTERN.match(typed) else ""
    password = form.get("password") or ""
    if _limited(request):
        return _too_many(request)
    errors = []
    if not typed:
        errors.append(("username", "Enter your account name"))
    if not password:
        errors.append(("password", "Enter your password"))
    if errors:
        return render(request, "sign_in.html", status=400, title="Sign in", errors=errors,
                      values={"username": typed[:40]})
    source = client_address(request)
    try:
        account = await run_in_threadpool(st.accounts.authenticate, name or "-", password, source)
    except SignInRefused as e:
        known = e.reason != "unknown_account"
        await record(request, actor=name if known else "(unknown account)", role=None, action="sign_in",
                     outcome="locked" if "locked" in e.reason else "failed", detail=e.reason)
        return render(request, "sign_in.html", status=400, title="Sign in",
                      errors=[("username", e.message)], values={"username": typed[:40]})
    new = st.sessions.rotate(session(request))
    step = "password" if account.must_change else ("enrol" if not account.totp_enrolled else "code")
    new.pending = Pending(account.name, account.role, step, time.monotonic() + st.config.pending_minutes * 60,
                          secret=AccountStore.new_totp_secret() if step == "enrol" else None)
    set_session(request, new)
    return redirect(STEP_URL[step])


def _pending(request: Request, step: str):
    s = session(request)
    p = s.pending_step()
    if s.signed_in:
        return s, None, redirect(ROLE_HOME.get(s.role, "/"))
    if p is None:
        if not s.flash:
            s.flash = "Sign in to continue."
        return s, None, redirect("/sign-in")
    if p.step != step:
        return s, p, redirect(STEP_URL[p.step])
    return s, p, None


async def _finish(request: Request, s: Session, account: Account, how: str):
    st = state(request)
    new = st.sessions.rotate(s)
    new.user, new.role, new.epoch, new.via, new.signed_in_at = (account.name, account.role, account.epoch,
                                                                "password", time.monotonic())
    set_session(request, new)
    await record(request, actor=account.name, role=account.role, action="sign_in", outcome="ok", detail=how)
    return redirect(ROLE_HOME[account.role])


async def code_form(request: Request):
    _s, _p, away = _pending(request, "code")
    return away or render(request, "sign_in_code.html", title="Enter the code from your authenticator app",
                          values={})


async def code_submit(request: Request):
    st = state(request)
    form = await read_form(request)
    s, p, away = _pending(request, "code")
    if away:
        return away
    if _limited(request):
        return _too_many(request)
    try:
        account = await run_in_threadpool(st.accounts.verify_totp, p.user, form.get("code") or "",
                                          client_address(request))
    except SignInRefused as e:
        await record(request, actor=p.user, role=None, action="sign_in",
                     outcome="locked" if "locked" in e.reason else "failed", detail=e.reason)
        if "locked" in e.reason:
            s.pending = None
            s.flash = "Sign in again."
            return redirect("/sign-in")
        return render(request, "sign_in_code.html", status=400, title="Enter the code from your authenticator app",
                      errors=[("code", e.message)], values={})
    return await _finish(request, s, account, "password and second factor")


async def new_password_form(request: Request):
    _s, p, away = _pending(request, "password")
    return away or render(request, "sign_in_new_password.html", title="Set your own password", values={},
                          account_name=p.user)


async def new_password_submit(request: Request):
    st = state(request)
    form = await read_form(request)
    s, p, away = _pending(request, "password")
    if away:
        return away
    new, confirm = form.get("new-password") or "", form.get("new-password-confirm") or ""
    try:
        if new != confirm:
            raise InputError("The passwords do not match")
        await run_in_threadpool(st.accounts.set_first_password, p.user, new)
    except InputError as e:
        return render(request, "sign_in_new_password.html", status=400, title="Set your own password", values={},
                      account_name=p.user, errors=[("new-password", e.message[0].upper() + e.message[1:])])
    await record(request, actor=p.user, role=p.role, action="account", outcome="ok",
                 detail=f"account {p.user} set its own password at first sign-in")
    p.step, p.secret = "enrol", AccountStore.new_totp_secret()
    p.expires = time.monotonic() + st.config.pending_minutes * 60
    return redirect(STEP_URL["enrol"])


async def enrol_form(request: Request):
    _s, p, away = _pending(request, "enrol")
    if away:
        return away
    return render(request, "sign_in_enrol.html", title="Set up your second factor", values={},
                  secret=p.secret, secret_groups=_groups(p.secret), uri=AccountStore.totp_uri(p.user, p.secret))


def _groups(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


async def enrol_submit(request: Request):
    st = state(request)
    form = await read_form(request)
    s, p, away = _pending(request, "enrol")
    if away:
        return away
    if _limited(request):
        return _too_many(request)
    try:
        account = await run_in_threadpool(st.accounts.enrol_totp, p.user, p.secret, form.get("code") or "")
    except InputError as e:
        return render(request, "sign_in_enrol.html", status=400, title="Set up your second factor", values={},
                      secret=p.secret, secret_groups=_groups(p.secret), uri=AccountStore.totp_uri(p.user, p.secret),
                      errors=[("code", e.message[0].upper() + e.message[1:])])
    if account.must_change:  # reset again by an administrator meanwhile
        s.pending = None
        return redirect("/sign-in")
    await record(request, actor=p.user, role=p.role, action="account", outcome="ok",
                 detail=f"account {p.user} enrolled a second factor")
    return await _finish(request, s, account, "password and a newly enrolled second factor")


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
    Route("/sign-in/code", code_form, methods=["GET"]),
    Route("/sign-in/code", code_submit, methods=["POST"]),
    Route("/sign-in/new-password", new_password_form, methods=["GET"]),
    Route("/sign-in/new-password", new_password_submit, methods=["POST"]),
    Route("/sign-in/second-factor", enrol_form, methods=["GET"]),
    Route("/sign-in/second-factor", enrol_submit, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
