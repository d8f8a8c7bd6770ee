"""Administrators' pages: the audit log (listed, filtered, chain checked) and accounts."""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InputError
from .accounts import ROLES
from .audit import ACTIONS, verify_audit
from .single_view import valid_person_id
from .web import read_form, record, redirect, render, require, state

OUTCOMES = ("ok", "failed", "locked", "denied", "not_found", "invalid", "invalid_reason", "rate_limited", "csrf")


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def audit_page(request: Request):
    s = await require(request, "admin")
    if isinstance(s, Response):
        return s
    st = state(request)
    q = request.query_params
    filters = {
        "actor": (q.get("actor") or "").strip()[:40] or None,
        "action": q.get("action") if q.get("action") in ACTIONS else None,
        "outcome": q.get("outcome") if q.get("outcome") in OUTCOMES else None,
        "person_id": (q.get("person_id") or "").strip().lower() or None,
        "since": _date(q.get("since")),
        "until": _date(q.get("until")),
    }
    errors = []
    if filters["person_id"] and not valid_person_id(filters["person_id"]):
        errors.append(("person_id", "Person id must be the 20-character pseudonymised id shown on a person page"))
        filters["person_id"] = None
    for key, label in (("since", "From"), ("until", "To")):
        if q.get(key) and filters[key] is None:
            errors.append((key, f"{label} date must be a real date in the form 2025-03-27"))

    def load():
        entries, total = st.audit.search(**filters, limit=500)
        return entries, total, verify_audit(st.config.project)

    entries, total, check = await run_in_threadpool(load)
    values = {k: (v.isoformat() if isinstance(v, dt.date) else (v or "")) for k, v in filters.items()}
    return render(request, "admin_audit.html", title="Audit log", entries=entries, total=total, check=check,
                  values=values, actions=ACTIONS, outcomes=OUTCOMES, errors=errors)


async def accounts_page(request: Request):
    s = await require(request, "admin")
    if isinstance(s, Response):
        return s
    st = state(request)
    return render(request, "admin_accounts.html", title="Accounts", accounts=st.accounts.list(), roles=ROLES,
                  values={}, now=dt.datetime.now(dt.UTC))


async def accounts_submit(request: Request):
    form = await read_form(request)
    s = await require(request, "admin")
    if isinstance(s, Response):
        return s
    st = state(request)
    op = form.get("op")
    name = (form.get("name") or "").strip().lower()
    errors = []
    try:
        if op == "add":
            if form.get("password") != form.get("password-confirm"):
                raise InputError("The passwords do not match")
            acc = await run_in_threadpool(st.accounts.add, name, form.get("role", ""), form.get("password", ""))
            s.flash = f"Account {acc.name} ({acc.role}) added."
            await record(request, actor=s.user, role=s.role, action="account", outcome="ok",
                            detail=f"added account {acc.name} with role {acc.role}")
        elif op == "remove":
            if name == s.user:
                raise InputError("You cannot remove your own account")
            st.accounts.remove(name)
            s.flash = f"Account {name} removed."
            await record(request, actor=s.user, role=s.role, action="account", outcome="ok",
                            detail=f"removed account {name}")
        elif op == "unlock":
            st.accounts.unlock(name)
            s.flash = f"Account {name} unlocked."
            await record(request, actor=s.user, role=s.role, action="account", outcome="ok",
                            detail=f"unlocked account {name}")
        else:
            raise InputError("Choose what to do")
    except InputError as e:
        field = {"add": "name"}.get(op or "", "name")
        if "password" in e.message:
            field = "password"
        elif "role" in e.message:
            field = "role"
        errors.append((field, e.message[0].upper() + e.message[1:]))
        return render(request, "admin_accounts.html", status=400, title="Accounts", accounts=st.accounts.list(),
                      roles=ROLES, errors=errors, values={"name": name, "role": form.get("role", "")},
                      now=dt.datetime.now(dt.UTC))
    return redirect("/admin/accounts")


routes = [
    Route("/admin/audit", audit_page, methods=["GET"]),
    Route("/admin/accounts", accounts_page, methods=["GET"]),
    Route("/admin/accounts", accounts_submit, methods=["POST"]),
]
