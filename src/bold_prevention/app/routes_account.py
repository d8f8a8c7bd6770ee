"""Your account: change your own password (every other session of the account then ends)."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InputError
from .accounts import ROLES
from .web import read_form, record, redirect, render, require, set_session, state


async def account_page(request: Request):
    s = await require(request, *ROLES)
    if isinstance(s, Response):
        return s
    acc = state(request).accounts.current(s.user)
    return render(request, "account.html", title="Your account", values={}, account=acc, via=s.via)


async def change_password(request: Request):
    form = await read_form(request)
    s = await require(request, *ROLES)
    if isinstance(s, Response):
        return s
    st = state(request)
    acc = st.accounts.current(s.user)
    if s.via != "password":
        return render(request, "account.html", status=400, title="Your account", values={}, account=acc, via=s.via,
                      errors=[("current-password", "Your password is managed by your organisation's sign-in")])
    current, new = form.get("current-password") or "", form.get("new-password") or ""
    try:
        if new != (form.get("new-password-confirm") or ""):
            raise InputError("The new passwords do not match")
        acc = await run_in_threadpool(st.accounts.set_own_password, s.user, current, new)
    except InputError as e:
        field = "current-password" if "current password" in e.message else "new-password"
        await record(request, actor=s.user, role=s.role, action="account", outcome="invalid",
                     detail="a change of own password was refused" + (
                         ": the current password was not right" if field == "current-password" else ""))
        return render(request, "account.html", status=400, title="Your account", values={}, account=acc, via=s.via,
                      errors=[(field, e.message[0].upper() + e.message[1:])])
    ended = st.sessions.revoke_user(s.user)
    new_s = st.sessions.new()
    new_s.user, new_s.role, new_s.epoch, new_s.via, new_s.signed_in_at = (acc.name, acc.role, acc.epoch, "password",
                                                                          time.monotonic())
    new_s.flash = "Your password has been changed." + (
        f" Your {ended - 1} other {'session has' if ended == 2 else 'sessions have'} ended." if ended > 1 else "")
    set_session(request, new_s)
    await record(request, actor=s.user, role=s.role, action="account", outcome="ok",
                 detail=f"account {s.user} changed its own password")
    return redirect("/account")


routes = [
    Route("/account", account_page, methods=["GET"]),
    Route("/account", change_password, methods=["POST"]),
]
