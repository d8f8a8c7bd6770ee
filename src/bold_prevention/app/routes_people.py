"""The practitioners' pages: search, the stated reason, and the person page.

Search terms travel only in POST bodies (never in a URL) and are never written anywhere: the audit entry records which
kinds of field were used and how many candidates came back. Person pages are addressed by the pseudonymised person id.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import person_extras
from .single_view import (
    BANDS,
    PersonNotFound,
    identifiers_of,
    parse_search,
    person_page,
    search_people,
    valid_person_id,
)
from .web import error_page, read_form, record, redirect, render, require, state

REASONS: list[tuple[str, str]] = [
    ("supervision", "Managing the person's supervision or sentence"),
    ("pre_sentence_report", "Preparing a pre-sentence or court report"),
    ("risk_assessment", "Assessing or reviewing risk"),
    ("release_planning", "Planning for release from custody"),
    ("safeguarding", "A safeguarding or public protection concern"),
    ("referral", "Making or answering a referral to another service"),
    ("other", "Another reason (explain below)"),
]
REASON_CODES = {c for c, _ in REASONS}
_DATEISH = re.compile(r"\b\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")
_POSTCODEISH = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)


def screen_reason_text(text: str, identifiers: list[str]) -> str | None:
    """An error message if the free text repeats an identifier (a name of this person, a date or a postcode),
    which must not be written to the audit log; else None."""
    if len(text) > 300:
        return "Reason must be 300 characters or fewer"
    if _DATEISH.search(text) or _POSTCODEISH.search(text):
        return "Do not include dates or postcodes in the reason"
    words = {w.lower() for w in re.findall(r"[^\W\d_]+", text)}
    for value in identifiers:
        for part in re.findall(r"[^\W\d_]+", value):
            if len(part) > 1 and part.lower() in words:
                return "Do not include the person's name in the reason"
    return None


async def search_form(request: Request):
    s = await require(request, "practitioner")
    if isinstance(s, Response):
        return s
    return render(request, "search.html", title="Find a person", values={}, result=None,
                  available=state(request).warehouse.capabilities.single_view,
                  missing=state(request).warehouse.capabilities.missing_for_single_view())


async def search(request: Request):
    form = await read_form(request)
    s = await require(request, "practitioner")
    if isinstance(s, Response):
        return s
    st = state(request)
    values = {k: form.get(k, "") for k in ("forename", "surname", "dob-day", "dob-month", "dob-year", "reference")}
    if not st.search_limiter.hit(s.user):
        await record(request, actor=s.user, role=s.role, action="refusal", outcome="rate_limited",
                        detail="too many searches in a minute")
        return error_page(request, 429, "You have searched too many times in the last minute. Wait a minute and "
                                        "try again.")
    query, errors = parse_search(form)
    if errors:
        await record(request, actor=s.user, role=s.role, action="search", outcome="invalid",
                        detail="fields: " + ", ".join(sorted({e.field.split("-")[0] for e in errors})))
        return render(request, "search.html", status=400, title="Find a person", values=values, result=None,
                      errors=[(e.field, e.message) for e in errors], available=True, missing=[])
    caps = st.warehouse.capabilities
    if not caps.single_view:
        return render(request, "search.html", status=503, title="Find a person", values=values, result=None,
                      available=False, missing=caps.missing_for_single_view())
    result = await run_in_threadpool(
        lambda: search_people(st.warehouse.cursor(), caps, query, limit=st.config.max_results))
    await record(request, actor=s.user, role=s.role, action="search", outcome="ok",
                    detail=f"fields: {', '.join(query.fields_used)}; candidates: {len(result.candidates)}"
                           + ("+" if result.truncated else ""))
    return render(request, "search.html", title="Search results", values=values, result=result,
                  available=True, missing=[])


async def _not_found(request: Request, s, person_id: str, what: str):
    await record(request, actor=s.user, role=s.role, action="view", outcome="not_found",
                    person_id=person_id if valid_person_id(person_id) else None,
                    detail=what if valid_person_id(person_id) else "malformed person id")
    return error_page(request, 404, "There is no person with that reference. The record may have been "
                                    "rebuilt since the link was made: search again.")


async def _exists(request: Request, person_id: str) -> bool:
    st = state(request)
    if not valid_person_id(person_id) or not st.warehouse.capabilities.single_view:
        return False
    from .single_view import person_exists

    return await run_in_threadpool(lambda: person_exists(st.warehouse.cursor(), person_id))


async def reason_form(request: Request):
    person_id = request.path_params["person_id"]
    s = await require(request, "practitioner", person_id=person_id if valid_person_id(person_id) else None)
    if isinstance(s, Response):
        return s
    if not await _exists(request, person_id):
        return await _not_found(request, s, person_id, "reason page for an unknown person")
    return render(request, "reason.html", title="Why do you need to see this record?", person_id=person_id,
                  reasons=REASONS, values={})


async def reason_submit(request: Request):
    person_id = request.path_params["person_id"]
    form = await read_form(request)
    s = await require(request, "practitioner", person_id=person_id if valid_person_id(person_id) else None)
    if isinstance(s, Response):
        return s
    st = state(request)
    if not await _exists(request, person_id):
        return await _not_found(request, s, person_id, "reason for an unknown person")
    reason = form.get("reason", "")
    text = " ".join((form.get("reason-detail") or "").split())
    errors = []
    if reason not in REASON_CODES:
        errors.append(("reason", "Select why you need to see this record"))
    elif reason == "other" and not text:
        errors.append(("reason-detail", "Explain why you need to see this record"))
    if text and not errors:
        problem = screen_reason_text(
            text, await run_in_threadpool(lambda: identifiers_of(st.warehouse.cursor(), person_id)))
        if problem:
            errors.append(("reason-detail", problem))
    if errors:
        await record(request, actor=s.user, role=s.role, action="refusal", outcome="invalid_reason", person_id=person_id,
                        reason=reason if reason in REASON_CODES else None,
                        detail="the reason given was not accepted: " + "; ".join(m for _f, m in errors))
        return render(request, "reason.html", status=400, title="Why do you need to see this record?",
                      person_id=person_id, reasons=REASONS, errors=errors,
                      values={"reason": reason if reason in REASON_CODES else "", "reason-detail": text})
    s.grant(person_id, reason, text, st.config.grant_minutes)
    return redirect(f"/people/{person_id}")


def _bands_from_query(request: Request) -> tuple[str, ...]:
    chosen = tuple(b for b in request.query_params.getlist("band") if b in BANDS)
    return chosen or BANDS


async def person(request: Request):
    person_id = request.path_params["person_id"]
    s = await require(request, "practitioner", person_id=person_id if valid_person_id(person_id) else None)
    if isinstance(s, Response):
        return s
    st = state(request)
    if not valid_person_id(person_id):
        return await _not_found(request, s, person_id, "malformed person id")
    grant = s.granted(person_id)
    if grant is None:
        return redirect(f"/people/{person_id}/reason")
    bands = _bands_from_query(request)
    datasets_filter = request.query_params.getlist("dataset")
    caps = st.warehouse.capabilities

    def build():
        cur = st.warehouse.cursor()
        page = person_page(cur, caps, person_id, bands=bands)
        extras = person_extras.collect(cur, caps, st.config.project, person_id, page)
        return page, extras

    try:
        page, extras = await run_in_threadpool(build)
    except PersonNotFound:
        return await _not_found(request, s, person_id, "person no longer in the warehouse")
    datasets_all = sorted({e.dataset for e in page.timeline})
    chosen = [d for d in datasets_filter if d in datasets_all]
    timeline = [e for e in page.timeline if not chosen or e.dataset in chosen]
    await record(request, actor=s.user, role=s.role, action="view", outcome="ok", person_id=person_id,
                    reason=grant.reason, reason_text=grant.reason_text or None,
                    detail="links shown: " + ", ".join(bands))
    return render(request, "person.html", title="Person record", page=page, extras=extras,
                  bands=BANDS, timeline=timeline, datasets_all=datasets_all, datasets_chosen=chosen,
                  reason_label=dict(REASONS).get(grant.reason, grant.reason))


routes = [
    Route("/search", search_form, methods=["GET"]),
    Route("/search", search, methods=["POST"]),
    Route("/people/{person_id}/reason", reason_form, methods=["GET"]),
    Route("/people/{person_id}/reason", reason_submit, methods=["POST"]),
    Route("/people/{person_id}", person, methods=["GET"]),
]
