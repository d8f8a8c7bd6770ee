"""Administrators' pages: the audit log (paged, filtered, its chain checked incrementally), the review of break-glass
views and account changes, and the accounts.

Administrators administer and audit: they cannot open person pages (their role has no route to them), and an account
they create or reset gets a temporary password that works only to set the user's own password and second factor at
first sign-in, so no administrator ever knows a working password. Every change is recorded in the audit log and
listed on the Review page for the other administrators.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InputError
from .accounts import ROLES, temporary_password
from .audit import ACTIONS
from .single_view import valid_person_id
from .web import read_form, record, redirect, render, require, state

OUTCOMES = ("ok", "failed", "locked", "denied", "not_found", "invalid", "invalid_reason", "rate_limited", "csrf",
            "revoked")
PER_PAGE = 50


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _page(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1_000_000))
    except ValueError:
        return 1


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
    page = _page(q.get("page"))

    def load():
        check = st.audit.check()
        entries, total = st.audit.search(**filters, page=page, per_page=PER_PAGE)
        return entries, total, check

    entries, total, check = await run_in_threadpool(load)
    values = {k: (v.isoformat() if isinstance(v, dt.date) else (v or "")) for k, v in filters.items()}
    pages = max(1, -(-total // PER_PAGE))
    base = {k: v for k, v in values.items() if v}

    def link(n: int) -> str:
        return "/admin/audit?" + urlencode({**base, "page": n})

    return render(request, "admin_audit.html", title="Audit log", entries=entries, total=total, check=check,
                  values=values, actions=ACTIONS, outcomes=OUTCOMES, errors=errors, page=page, pages=pages,
                  first=(page - 1) * PER_PAGE + 1, prev_link=link(page - 1) if page > 1 else None,
                  next_link=link(page + 1) if page < pages else None)


async def review_page(request: Request):
    s = await require(request, "admin")
    if isinstance(s, Response):
        return s
    st = state(request)

    def load():
        glass, glass_total = st.audit.search(break_glass=True, action="view", per_page=PER_PAGE)
        changes, changes_total = st.audit.search(action="account", per_page=PER_PAGE)
        return glass, glass_total, changes, changes_total

    glass, glass_total, changes, changes_total = await run_in_threadpool(load)
    return render(request, "admin_review.html", title="Review", glass=glass, glass_total=glass_total,
                  changes=changes, changes_total=changes_total)


def _accounts_page(request: Request, *, status: int = 200, errors=None, values=None, issued=None):
    st = state(request)
    return render(request, "admin_accounts.html", status=status, title="Accounts", accounts=st.accounts.list(),
                  roles=ROLES, errors=errors or [], values=values or {}, issued=issued,
                  now=dt.datetime.now(dt.UTC))


async def accounts_page(request: Request):
    s = await require(request, "admin")
    if isinstance(s, Response):
        return s
    return _accounts_page(request)


def _areas(text: str) -> list[str]:
    return [a.strip() for a in (text or "").replace("\n", ",").split(",") if a.strip()]


async def accounts_submit(request: Request):
    form = await read_form(request)
    s = await require(request, "admin")
    if isinstance(s, Response):
        return s
    st = state(request)
    op = form.get("op")
    name = (form.get("name") or "").strip().lower()
    issued = None
    try:
        if op in ("remove", "lock", "reset", "role") and name == s.user:
            raise InputError("You cannot remove, lock, reset or change the role of your own account: ask another "
                             "administrator")
        if op == "add":
            typed = form.get("password") or ""
            if typed != (form.get("password-confirm") or ""):
                raise InputError("The passwords do not match")
            password = typed or temporary_password()
            acc = await run_in_threadpool(lambda: st.accounts.add(name, form.get("role", ""), password,
                                                                  caseload=_areas(form.get("caseload", ""))))
            issued = None if typed else (acc.name, password)
            s.flash = (f"Account {acc.name} ({acc.role}) added. At first sign-in they must set their own password "
                       "and second factor.")
            detail = f"added account {acc.name} with role {acc.role}" + (
                f" and caseload {', '.join(acc.caseload)}" if acc.caseload else "")
        elif op == "remove":
            await run_in_threadpool(st.accounts.remove, name)
            s.flash, detail = f"Account {name} removed.", f"removed account {name}"
        elif op == "unlock":
            await run_in_threadpool(st.accounts.unlock, name)
            s.flash, detail = f"Account {name} unlocked.", f"unlocked account {name}"
        elif op == "lock":
            await run_in_threadpool(st.accounts.lock, name)
            s.flash, detail = f"Account {name} locked: its sessions have ended.", f"locked account {name}"
        elif op == "reset":
            password = temporary_password()
            acc = await run_in_threadpool(st.accounts.reset, name, password)
            issued = (acc.name, password)
            s.flash = (f"Account {name} reset: its sessions have ended and it must set a new password and second "
                       "factor at the next sign-in.")
            detail = f"reset the password and second factor of account {name}"
        elif op == "role":
            acc = await run_in_threadpool(st.accounts.set_role, name, form.get("role", ""))
            s.flash = f"Account {name} is now {acc.role}: its sessions have ended."
            detail = f"changed the role of account {name} to {acc.role}"
        elif op == "caseload":
            acc = await run_in_threadpool(st.accounts.set_caseload, name,
                                     _areas(form.get("caseload-areas", form.get("caseload", ""))))
            s.flash = f"Caseload of {name} saved: its sessions have ended."
            detail = f"set the caseload of account {name} to {', '.join(acc.caseload) or '(none)'}"
        else:
            raise InputError("Choose what to do")
    except InputError as e:
        field = "name"
        if "password" in e.message:
            field = "password"
        elif "role" in e.message and op == "add":
            field = "role"
        elif "caseload" in e.message:
            field = "caseload"
        return _accounts_page(request, status=400, errors=[(field, e.message[0].upper() + e.message[1:])],
                              values={"name": name, "role": form.get("role", ""),
                                      "caseload": form.get("caseload", "")})
    if op != "unlock":
        st.sessions.revoke_user(name)
    await record(request, actor=s.user, role=s.role, action="account", outcome="ok", detail=detail)
    if issued:  # shown once, on this response only (never stored, never in the audit log)
        return _accounts_page(request, issued=issued)
    return redirect("/admin/accounts")


routes = [
    Route("/admin/audit", audit_page, methods=["GET"]),
    Route("/admin/review", review_page, methods=["GET"]),
    Route("/admin/accounts", accounts_page, methods=["GET"]),
    Route("/admin/accounts", accounts_submit, methods=["POST"]),
]
