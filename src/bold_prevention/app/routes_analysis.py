"""Analysts' pages: catalogue search by driver, the register with its validation status, load quality, linkage
quality, cohort profiles and place prevalence. Aggregates only: every number comes from a disclosure-checked output
(``bold_prevention.outputs``) built by the layer that owns it; suppressed cells read ``[c]``. Practitioners and
administrators are refused (403, recorded in the audit log)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import BoldError
from ..outputs import check_counts
from ..warehouse.tables import PERSON, PERSON_RECORD
from .person_extras import DRIVER_LABELS, driver_label
from .released import ChartCache, table_view
from .web import error_page, render, require, state

_NAME = re.compile(r"^[a-z0-9_]{1,60}$")


def _cache(request: Request) -> dict:
    st = state(request)
    return st.extra.setdefault("analysis_cache", {"lock": threading.Lock(), "items": {}})


async def cached(request: Request, key: tuple, build: Callable[[], Any]) -> Any:
    """``build()`` once per key (the warehouse is read-only while the server runs)."""
    c = _cache(request)
    with c["lock"]:
        if key in c["items"]:
            return c["items"][key]
    value = await run_in_threadpool(build)
    with c["lock"]:
        c["items"][key] = value
    return value


def charts(request: Request) -> ChartCache:
    st = state(request)
    return st.extra.setdefault("charts", ChartCache())


async def _analyst(request: Request):
    return await require(request, "analyst")


# -- overview -------------------------------------------------------------------------------------------------------

async def overview(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    caps = state(request).warehouse.capabilities
    sections = [
        ("Catalogue", "/analysis/catalogue", "Search the Data First catalogues for variables by driver or words.",
         caps.has("catalogue.variables")),
        ("Register", "/analysis/register", "The risk factor register with its validation against the catalogue.",
         True),
        ("Data quality", "/analysis/quality", "The checks run when the extracts were loaded.",
         caps.has("meta.quality_results")),
        ("Linkage quality", "/analysis/linkage", "How records joined persons, by band and by group.",
         caps.has(PERSON_RECORD)),
        ("Cohorts", "/analysis/cohorts", "Profiles of the cohorts built on the spine.", caps.has("results.cohorts")),
        ("Places", "/analysis/places", "Needs prevalence by local authority.", caps.has(PERSON)),
    ]
    return render(request, "analysis_overview.html", title="Analysis", sections=sections)


# -- catalogue ------------------------------------------------------------------------------------------------------

def _catalogue_index(request: Request):
    from ..catalogue import CatalogueIndex, read_stored

    st = state(request)
    return CatalogueIndex(read_stored(st.config.project).variables)


async def catalogue(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    from ..catalogue import load_vocabulary

    vocab = load_vocabulary()
    drivers = [(k, v.label) for k, v in vocab.drivers.items()]
    outcomes = [(k, v.label) for k, v in vocab.outcomes.items()]
    q = request.query_params
    words = (q.get("q") or "").strip()[:200]
    driver = q.get("driver") if q.get("driver") in vocab.drivers else None
    outcome = q.get("outcome") if q.get("outcome") in vocab.outcomes else None
    values = {"q": words, "driver": driver or "", "outcome": outcome or ""}
    caps = state(request).warehouse.capabilities
    if not caps.has("catalogue.variables"):
        return render(request, "analysis_catalogue.html", title="Catalogue", drivers=drivers, outcomes=outcomes,
                      values=values, hits=None, available=False)
    hits = None
    errors = []
    if words or driver or outcome:
        try:
            index = await cached(request, ("catalogue_index",), lambda: _catalogue_index(request))
            hits = await run_in_threadpool(lambda: index.search(words, driver=driver, outcome=outcome, limit=50))
        except BoldError as e:
            errors.append(("q", e.message[0].upper() + e.message[1:]))
    return render(request, "analysis_catalogue.html", title="Catalogue", drivers=drivers, outcomes=outcomes,
                  values=values, hits=hits, available=True, errors=errors)


# -- register -------------------------------------------------------------------------------------------------------

async def register(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    from ..register.loader import load_register
    from ..register.validate import validate

    caps = state(request).warehouse.capabilities

    def build():
        reg = load_register()
        report = None
        if caps.has("catalogue.variables"):
            report = validate(reg, _catalogue_index(request))
        return reg, report

    reg, report = await cached(request, ("register",), build)
    by_entry: dict[str, list] = {}
    if report is not None:
        for f in report.findings:
            by_entry.setdefault(f.entry, []).append(f)
    rows = []
    for e in reg.entries:
        findings = by_entry.get(e.id, [])
        missing = [f for f in findings if f.problem != "description_differs"]
        status = ("not_checked" if report is None else "missing" if missing else
                  "warning" if findings else "valid")
        rows.append({"entry": e, "status": status, "findings": findings,
                     "evidence": [f"{ev.table}: {', '.join(ev.variables)}" for ev in e.derivation.evidence]})
    return render(request, "analysis_register.html", title="Register", register=reg, rows=rows, report=report)


# -- quality --------------------------------------------------------------------------------------------------------

def _quality(request: Request) -> dict | None:
    from ..warehouse.load import latest_load, load_checks, load_decisions

    con = state(request).warehouse.cursor()
    load = latest_load(con)
    if load is None:
        return None
    decisions = load_decisions(con, load["load_id"])
    checks = load_checks(con, load["load_id"])
    by_status = checks.groupby("status").size().to_dict()
    flagged = checks[checks["status"] != "pass"].copy()
    table = None
    if not flagged.empty:
        flagged["check"] = [f"{t}: {c}" + (f" ({col})" if col else "") for t, c, col in
                            zip(flagged["table_name"], flagged["check_name"], flagged["column_name"], strict=True)]
        long = pd.concat([flagged.assign(measure="Rows failing", n=flagged["failing"].astype(float)),
                          flagged.assign(measure="Rows checked", n=flagged["total"].astype(float))])
        table = check_counts(long, "n", "check", "measure", title="Rows failing each check that did not pass",
                             name="quality_failing", margins=False,
                             levels={"check": list(flagged["check"]), "measure": ["Rows failing", "Rows checked"]})
    return {"load": load, "decisions": decisions, "by_status": by_status,
            "flagged": flagged.to_dict("records"), "table": table}


async def quality(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    caps = state(request).warehouse.capabilities
    q = await cached(request, ("quality",), lambda: _quality(request)) if caps.has("meta.loads") else None
    view = table_view(q["table"], table_id="quality-table") if q and q["table"] is not None else None
    return render(request, "analysis_quality.html", title="Data quality", q=q, view=view)


# -- linkage quality ------------------------------------------------------------------------------------------------

def _linkage(request: Request) -> dict:
    """Linkage quality of the warehouse: person-level records by the band at which they joined their person (or not
    linked), by dataset, sex and age band (link rates by group, and threshold sensitivity: what a stricter band
    would leave out), and persons by their weakest link, by group. Every table through disclosure control; shares
    are computed from the published counts."""
    from ..linkage.qa import (
        PERSON_GROUPS,
        RECORD_GROUPS,
        persons_by_weakest_band,
        records_by_band,
        spine_band,
    )
    from ..outputs import percentage_table

    wh = state(request).warehouse
    con = wh.cursor()
    caps = wh.capabilities
    outs = []
    bands = ["high", "medium", "low", "not linked"]
    band = spine_band(con)
    if wh.has_index("person_index"):
        for dim, label in RECORD_GROUPS:
            df = records_by_band(con, "memory.main.person_index", dim)
            counts = check_counts(df, "n", "grp", "band",
                                  title=f"Person-level records by the band at which they joined a person, "
                                        f"by {label}", name=f"linkage_records_{dim}", levels={"band": bands})
            outs.append(counts)
            outs.append(percentage_table(counts, of="row",
                                         title=f"Share of person-level records joined at each band, by {label}",
                                         name=f"linkage_share_{dim}"))
    if caps.has(PERSON):
        for dim, label in PERSON_GROUPS:
            g = persons_by_weakest_band(con, dim)
            outs.append(check_counts(g, "n", "grp", "weakest",
                                     title=f"Persons in the spine by their weakest link, by {label}",
                                     name=f"linkage_weakest_{dim}",
                                     levels={"weakest": ["high", "medium", "low"]}))
    return {"band": band, "outputs": outs}


async def linkage(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    caps = state(request).warehouse.capabilities
    if not caps.has(PERSON_RECORD):
        return render(request, "analysis_linkage.html", title="Linkage quality", data=None, views=[])
    data = await cached(request, ("linkage",), lambda: _linkage(request))
    views = [table_view(o, table_id=f"linkage-{i}") for i, o in enumerate(data["outputs"])]
    return render(request, "analysis_linkage.html", title="Linkage quality", data=data, views=views)


# -- cohorts --------------------------------------------------------------------------------------------------------

def _cohort_list(request: Request) -> list[dict]:
    from ..cohorts.build import list_cohorts

    return list_cohorts(state(request).warehouse.cursor())


async def cohorts(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    caps = state(request).warehouse.capabilities
    rows = await cached(request, ("cohorts",), lambda: _cohort_list(request)) if caps.has("results.cohorts") else []
    return render(request, "analysis_cohorts.html", title="Cohorts", cohorts=rows,
                  available=caps.has("results.cohorts"))


async def cohort(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    name = request.path_params["name"]
    caps = state(request).warehouse.capabilities
    known = await cached(request, ("cohorts",), lambda: _cohort_list(request)) if caps.has("results.cohorts") else []
    info = next((c for c in known if c["name"] == name), None) if _NAME.match(name) else None
    if info is None:
        return error_page(request, 404, "There is no cohort with that name in this warehouse.")
    from ..cohorts.release import cohort_outputs

    outs, texts = await cached(request, ("cohort", name),
                               lambda: cohort_outputs(state(request).warehouse.cursor(), name))
    views, chart_list = [], []
    for i, o in enumerate(outs):
        views.append(table_view(o, table_id=f"cohort-table-{i}", hide_unpublished_rows=True))
        if o.kind == "rate" and o.publishable:
            token, desc = await run_in_threadpool(lambda o=o: charts(request).add(o))
            chart_list.append((i, token, desc))
    chart_for = {i: (t, d) for i, t, d in chart_list}
    return render(request, "analysis_cohort.html", title=f"Cohort {name}", info=info, views=views,
                  chart_for=chart_for, texts=texts)


# -- places ---------------------------------------------------------------------------------------------------------

async def places(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    caps = state(request).warehouse.capabilities
    if not caps.has(PERSON):
        return render(request, "analysis_places.html", title="Places", available=False, drivers=[], values={},
                      views=[], chart=None)
    from ..cohorts.profile import spine_drivers
    from ..cohorts.release import places_outputs

    known = await cached(request, ("drivers",), lambda: spine_drivers(state(request).warehouse.cursor()))
    chosen = request.query_params.get("driver")
    if chosen not in known:
        chosen = known[0] if known else None
    values = {"driver": chosen or ""}
    drivers = [(d, driver_label(d)) for d in known]
    if chosen is None:
        return render(request, "analysis_places.html", title="Places", available=True, drivers=drivers,
                      values=values, views=[], chart=None)
    outs, _texts = await cached(request, ("places", chosen),
                                lambda: places_outputs(state(request).warehouse.cursor(), drivers=[chosen]))
    views = [table_view(o, table_id=f"places-table-{i}", hide_unpublished_rows=True) for i, o in enumerate(outs)]
    rate = outs[-1]
    chart = None
    if rate.publishable:  # the top 20 areas by count (or every decile), never hundreds of bars
        from .released import ranked_bars_svg

        drawn = await run_in_threadpool(lambda: ranked_bars_svg(rate, outs[0], top=20, unit="per 100 assessed"))
        if drawn is not None:
            chart = charts(request).add_svg(("places", chosen, rate.digest), *drawn)
    return render(request, "analysis_places.html", title="Places", available=True, drivers=drivers, values=values,
                  views=views, chart=chart, driver_name=driver_label(chosen))


# -- charts and model cards -----------------------------------------------------------------------------------------

async def chart(request: Request):
    s = await _analyst(request)
    if isinstance(s, Response):
        return s
    svg = charts(request).get(request.path_params["token"])
    if svg is None:
        return error_page(request, 404, "That chart has expired: reload the page it was on.")
    # The chart is an image: its inline styles are allowed inside it, and nothing in it can run.
    return Response(svg, media_type="image/svg+xml",
                    headers={"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"})


async def model_card(request: Request):
    s = await require(request, "practitioner", "analyst")
    if isinstance(s, Response):
        return s
    from ..outputs import check_model_metrics
    from .person_extras import latest_card

    use_case = request.path_params["use_case"]
    card = latest_card(state(request).config.project, use_case) if _NAME.match(use_case) else None
    if card is None:
        return error_page(request, 404, "There is no model card for that use case.")
    ev = card.get("evaluation") or {}
    views = []
    for which, label in (("primary", "gradient boosting (the scores shown)"), ("baseline", "logistic baseline")):
        metrics = {k.replace("_", " "): v["value"] for k, v in (ev.get(which, {}).get("metrics") or {}).items()
                   if isinstance(v, dict) and v.get("value") is not None}
        if metrics and ev.get("n"):
            out = check_model_metrics(metrics, n=int(ev["n"]), n_events=ev.get("events"),
                                      title=f"Performance on the test period: {label}", name=f"card_{which}")
            views.append(table_view(out, table_id=f"card-{which}"))
    return render(request, "model_card.html", title=f"Model card: {card['use_case']['title']}", card=card,
                  views=views)


routes = [
    Route("/analysis", overview, methods=["GET"]),
    Route("/analysis/catalogue", catalogue, methods=["GET"]),
    Route("/analysis/register", register, methods=["GET"]),
    Route("/analysis/quality", quality, methods=["GET"]),
    Route("/analysis/linkage", linkage, methods=["GET"]),
    Route("/analysis/cohorts", cohorts, methods=["GET"]),
    Route("/analysis/cohorts/{name}", cohort, methods=["GET"]),
    Route("/analysis/places", places, methods=["GET"]),
    Route("/analysis/charts/{token}.svg", chart, methods=["GET"]),
    Route("/model-cards/{use_case}", model_card, methods=["GET"]),
]

__all__ = ["routes", "DRIVER_LABELS"]
