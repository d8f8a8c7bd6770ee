"""Analysts' pages: aggregates only, every figure through disclosure control."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .web import render, require, state


async def overview(request: Request):
    s = require(request, "analyst")
    if isinstance(s, Response):
        return s
    caps = state(request).warehouse.capabilities
    return render(request, "analysis_overview.html", title="Analysis", caps=caps)


routes = [
    Route("/analysis", overview, methods=["GET"]),
]
