"""The practitioners' pages: search, the stated reason, and the person page.

Search terms travel only in POST bodies (never in a URL) and are never written anywhere: the audit entry records which
kinds of field were used, how many candidates came back and the pseudonymised id of each person shown. What a search
must give and may show, caseloads, break-glass reasons and the screening of free text are in :mod:`.access`. Person
pages are addressed by the pseudonymised person id.
To let a practitioner go back to their results, the terms of a search are kept in server memory under a random search
id bound to the session (:class:`.single_view.SavedSearches`); only that id travels in URLs (``/search?s=<id>``, and on
to the reason and person pages so that their back links return to the same results).
"""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..datafirst.glossary import GLOSSARY
from . import person_extras
from .access import (
    BREAK_GLASS_CODES,
    BREAK_GLASS_REASONS,
    check_search,
    in_caseload,
    minimise,
    person_areas,
    screen_reason_text,
)
from .single_view import (
    BANDS,
    PersonNotFound,
    SavedSearches,
    identifiers_of,
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
ALL_REASONS = dict(REASONS) | dict(BREAK_GLASS_REASONS)


def saved_searches(request: Request) -> SavedSearches:
    st = state(request)
    return st.extra.setdefault("saved_searches", SavedSearches(minutes=st.config.session_idle_minutes))


def _search_id(request: Request) -> str | None:
    return SavedSearches.valid_id(request.query_params.get("s"))


def _with_search(url: str, search_id: str | None) -> str:
    return f"{url}?s={search_id}" if search_id else url


async def search_form(request: Request):
    """The search form; with ``?s=<search id>``, the results of that search (run again with the terms kept in server
    memory: a search POSTed on the form redirects here, so the browser's back button and the back links of the
    reason and person pages return to the same results)."""
    s = await require(request, "practitioner")
    if isinstance(s, Response):
        return s
    search_id = _search_id(request)
    saved = saved_searches(request).get(s.id, search_id)
    if saved is not None:
        return await _search(request, s, saved, search_id)
    caps = state(request).warehouse.capabilities
    if request.query_params.get("s"):
        s.flash = "Those search results are no longer available. Search again."
    return render(request, "search.html", title="Find a person", values={}, result=None,
                  available=caps.single_view, missing=caps.missing_for_single_view())


async def search(request: Request):
    form = await read_form(request)
    s = await require(request, "practitioner")
    if isinstance(s, Response):
        return s
    values = {k: form.get(k, "") for k in ("forename", "surname", "dob-day", "dob-month", "dob-year", "reference")}
    if check_search(values)[2]:
        return await _search(request, s, values, None)
    return redirect(_with_search("/search", saved_searches(request).put(s.id, values)) + "#results-heading")


async def _search(request: Request, s, values: dict[str, str], search_id: str | None):
    st = state(request)
    if not st.search_limiter.hit(s.user):
        await record(request, actor=s.user, role=s.role, action="refusal", outcome="rate_limited",
                        detail="too many searches in a minute")
        return error_page(request, 429, "You have searched too many times in the last minute. Wait a minute and "
                                        "try again.")
    query, year, errors = check_search(values)
    if errors:
        await record(request, actor=s.user, role=s.role, action="search", outcome="invalid",
                     detail="fields: " + ", ".join(sorted({f.split("-")[0] for f, _m in errors})))
        return render(request, "search.html", status=400, title="Find a person", values=values, result=None,
                      errors=errors, available=True, missing=[])
    caps = st.warehouse.capabilities
    if not caps.single_view:
        return render(request, "search.html", status=503, title="Find a person", values=values, result=None,
                      available=False, missing=caps.missing_for_single_view())
    limit = st.config.max_results
    result = await run_in_threadpool(
        lambda: search_people(st.warehouse.cursor(), caps, query, limit=limit * 20 if year else limit))
    result = minimise(result, year=year, limit=limit)
    fields = query.fields_used + (["year_of_birth"] if year else [])
    await record(request, actor=s.user, role=s.role, action="search", outcome="ok",
                 persons=[c.person_id for c in result.candidates],
                 detail=f"fields: {', '.join(fields)}; candidates: {len(result.candidates)}"
                        + ("+" if result.truncated else "") + ("; back to earlier results" if search_id else ""))
    return render(request, "search.html", title="Search results", values=values, result=result,
                  available=True, missing=[], search_id=search_id)


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


async def _outside_caseload(request: Request, s, person_id: str) -> bool:
    """True when the person is outside the practitioner's caseload (opening needs a break-glass reason)."""
    st = state(request)
    acc = st.accounts.current(s.user)
    caseload = acc.caseload if acc is not None else ()
    if in_caseload(caseload, set()):
        return False
    areas = await run_in_threadpool(lambda: person_areas(st.warehouse.cursor(), st.warehouse.capabilities,
                                                         st.warehouse.indexed, person_id))
    return not in_caseload(caseload, areas)


async def reason_form(request: Request):
    person_id = request.path_params["person_id"]
    s = await require(request, "practitioner", person_id=person_id if valid_person_id(person_id) else None)
    if isinstance(s, Response):
        return s
    if not await _exists(request, person_id):
        return await _not_found(request, s, person_id, "reason page for an unknown person")
    glass = await _outside_caseload(request, s, person_id)
    return render(request, "reason.html", title="Why do you need to see this record?", person_id=person_id,
                  reasons=BREAK_GLASS_REASONS if glass else REASONS, break_glass=glass, values={},
                  search_id=_search_id(request))


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
    glass = await _outside_caseload(request, s, person_id)
    codes, reasons = (BREAK_GLASS_CODES, BREAK_GLASS_REASONS) if glass else (REASON_CODES, REASONS)
    if reason not in codes:
        errors.append(("reason", "Select why you need to see this record"))
    elif (reason == "other" or glass) and not text:
        errors.append(("reason-detail", "Explain why you need to see this record"))
    if glass and form.get("break-glass-confirm") != "yes" and not errors:
        errors.append(("break-glass-confirm", "Confirm that you understand this access is flagged for review"))
    if text and not errors:
        problem = screen_reason_text(
            text, await run_in_threadpool(lambda: identifiers_of(st.warehouse.cursor(), person_id)))
        if problem:
            errors.append(("reason-detail", problem))
    if errors:
        await record(request, actor=s.user, role=s.role, action="refusal", outcome="invalid_reason",
                     person_id=person_id, reason=reason if reason in codes else None, break_glass=glass,
                     detail="the reason given was not accepted: " + "; ".join(m for _f, m in errors))
        return render(request, "reason.html", status=400, title="Why do you need to see this record?",
                      person_id=person_id, reasons=reasons, break_glass=glass, errors=errors,
                      search_id=_search_id(request),
                      values={"reason": reason if reason in codes else "",
                              "reason-detail": "" if any(f == "reason-detail" for f, _m in errors) else text})
    s.grant(person_id, reason, text, st.config.grant_minutes, break_glass=glass)
    return redirect(_with_search(f"/people/{person_id}", _search_id(request)))


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
        return redirect(_with_search(f"/people/{person_id}/reason", _search_id(request)))
    bands = _bands_from_query(request)
    datasets_filter = request.query_params.getlist("dataset")
    order = "oldest" if request.query_params.get("order") == "oldest" else "newest"
    caps = st.warehouse.capabilities

    def build():
        cur = st.warehouse.cursor()
        page = person_page(cur, caps, person_id, bands=bands, order=order)
        extras = person_extras.collect(cur, caps, st.config.project, person_id, page,
                                       indexed=st.warehouse.indexed)
        return page, extras

    try:
        page, extras = await run_in_threadpool(build)
    except PersonNotFound:
        return await _not_found(request, s, person_id, "person no longer in the warehouse")
    datasets_all = sorted({e.dataset for e in page.timeline})
    chosen = [d for d in datasets_filter if d in datasets_all]
    timeline = [e for e in page.timeline if not chosen or e.dataset in chosen]
    await record(request, actor=s.user, role=s.role, action="view", outcome="ok", person_id=person_id,
                 reason=grant.reason, reason_text=grant.reason_text or None, break_glass=grant.break_glass,
                 detail=("outside the caseload (break glass); " if grant.break_glass else "")
                        + "links shown: " + ", ".join(bands))
    return render(request, "person.html", title=page.main_name or "Person record", page=page, extras=extras,
                  bands=BANDS, timeline=timeline, datasets_all=datasets_all, datasets_chosen=chosen,
                  reason_label=ALL_REASONS.get(grant.reason, grant.reason), search_id=_search_id(request),
                  dataset_words={d: GLOSSARY.dataset(d) for d in datasets_all},
                  today=date.today(), view_links=_view_links(person_id, bands, chosen, order, _search_id(request)))


def _view_links(person_id: str, bands: tuple[str, ...], datasets: list[str], order: str,
                search_id: str | None) -> dict[str, str]:
    """The person page's own links (the timeline order toggle), keeping the filters and the search id."""
    from urllib.parse import urlencode

    def url(**change) -> str:
        params = [("band", b) for b in bands if len(bands) < len(BANDS)] + [("dataset", d) for d in datasets]
        o = change.get("order", order)
        if o == "oldest":
            params.append(("order", "oldest"))
        if search_id:
            params.append(("s", search_id))
        return f"/people/{person_id}" + (("?" + urlencode(params)) if params else "")

    return {"newest": url(order="newest") + "#timeline", "oldest": url(order="oldest") + "#timeline",
            "search": _with_search("/search", search_id)}


routes = [
    Route("/search", search_form, methods=["GET"]),
    Route("/search", search, methods=["POST"]),
    Route("/people/{person_id}/reason", reason_form, methods=["GET"]),
    Route("/people/{person_id}/reason", reason_submit, methods=["POST"]),
    Route("/people/{person_id}", person, methods=["GET"]),
]
