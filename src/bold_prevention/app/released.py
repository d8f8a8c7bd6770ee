"""Turning disclosure-checked outputs into page tables and charts.

Only :class:`bold_prevention.outputs.CheckedOutput` objects are accepted (``require_checked`` refuses anything else),
so every number an analyst's page shows is one that passed disclosure control; a cell that did not is shown as
``[c]`` (``[z]`` where a rate has no denominator). Charts come from ``outputs.charts.chart_svg`` and are served as
images from a short-lived server-side cache (their inline styles stay inside the image, away from the page's
Content-Security-Policy).
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..outputs import NOT_APPLICABLE_SYMBOL, SUPPRESSED, CheckedOutput, require_checked


@dataclass
class Cell:
    text: str
    suppressed: bool = False
    not_applicable: bool = False
    sort: str | None = None


@dataclass
class Row:
    head: list[str]
    cells: list[Cell]
    total: bool = False


@dataclass
class TableView:
    id: str
    title: str
    subtitle: str | None
    index_names: list[str]
    columns: list[str]
    rows: list[Row]
    summary: str
    notes: list[str] = field(default_factory=list)
    hidden_rows: int = 0
    publishable: bool = True


def _label(x: Any) -> str:
    if isinstance(x, tuple):
        parts = [str(p) for p in x if str(p) != ""]
        return " / ".join(dict.fromkeys(parts)) if parts else ""
    return str(x)


def table_view(output: CheckedOutput, *, table_id: str, hide_unpublished_rows: bool = False,
               max_rows: int | None = None) -> TableView:
    """A checked output as rows of display cells. With ``hide_unpublished_rows``, rows in which every cell is
    suppressed are left out (and counted), which reveals nothing the full table would not."""
    out = require_checked(output, "the table")
    disp = out.display_frame()
    syms = out.symbols
    data = out.data
    index_names = [str(n) if n else "" for n in disp.index.names]
    rows: list[Row] = []
    hidden = 0
    for i, idx in enumerate(disp.index):
        key = idx if isinstance(idx, tuple) else (idx,)
        cells = []
        for j, col in enumerate(disp.columns):
            sym = syms.iat[i, j]
            v = data.iat[i, j]
            # sorted on the value as shown: a full-precision sort key would publish more digits than the cell
            sort = (None if (v is None or (isinstance(v, float) and math.isnan(v)))
                    else repr(round(float(v), out.decimals_for(col))))
            if sym == SUPPRESSED:
                cells.append(Cell(SUPPRESSED, suppressed=True, sort="-1"))
            elif sym == NOT_APPLICABLE_SYMBOL:
                cells.append(Cell(NOT_APPLICABLE_SYMBOL, not_applicable=True, sort="-1"))
            else:
                cells.append(Cell(str(disp.iat[i, j]), sort=sort))
        total = any(_label(k) == "Total" for k in key)
        if hide_unpublished_rows and not total and all(c.suppressed or c.not_applicable for c in cells):
            hidden += 1
            continue
        rows.append(Row([_label(k) for k in key], cells, total))
    if max_rows is not None and len(rows) > max_rows:
        hidden += len(rows) - max_rows
        rows = rows[:max_rows]
    return TableView(id=table_id, title=out.title, subtitle=out.subtitle, index_names=index_names,
                     columns=[_label(c) for c in disp.columns], rows=rows, summary=out.public_summary(),
                     notes=list(out.notes), hidden_rows=hidden, publishable=out.publishable)


class ChartCache:
    """SVG charts of checked outputs, kept for a while under random tokens."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._by_digest: dict[tuple[str, str | None], tuple[str, str]] = {}
        self._size = size
        self._lock = threading.Lock()

    def add(self, output: CheckedOutput, kind: str | None = None) -> tuple[str, str]:
        """(token, description) of a chart of ``output``."""
        from ..outputs.charts import chart_svg

        out = require_checked(output, "the chart")
        key = (out.digest, kind)
        with self._lock:
            known = self._by_digest.get(key)
            if known and known[0] in self._items:
                return known
        svg, desc = chart_svg(out, kind)  # type: ignore[arg-type]
        if "xmlns=" not in svg[:200]:
            svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._items[token] = svg
            self._by_digest[key] = (token, desc)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return token, desc

    def get(self, token: str) -> str | None:
        with self._lock:
            return self._items.get(token)
