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

from ..datafirst.glossary import GLOSSARY, looks_like_code
from ..outputs import NOT_APPLICABLE_SYMBOL, SUPPRESSED, CheckedOutput, require_checked
from ..register import driver_labels


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
        parts = [heading(p) for p in x if str(p) != ""]
        return " / ".join(dict.fromkeys(parts)) if parts else ""
    return heading(x)


def heading(x: Any) -> str:
    """A column heading or row label in words: a driver code by its name, any other snake_case name through the
    glossary (``lad_name`` -> ``Local authority``); everything else as it is."""
    text = str(x)
    drivers = driver_labels()
    if text in drivers:
        return drivers[text]
    return GLOSSARY.column(text) if looks_like_code(text) else text


def table_view(output: CheckedOutput, *, table_id: str, hide_unpublished_rows: bool = False,
               max_rows: int | None = None) -> TableView:
    """A checked output as rows of display cells. With ``hide_unpublished_rows``, rows in which every cell is
    suppressed are left out (and counted), which reveals nothing the full table would not."""
    out = require_checked(output, "the table")
    disp = out.display_frame()
    syms = out.symbols
    data = out.data
    index_names = [heading(n) if n else "" for n in disp.index.names]
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

    def add_svg(self, key: tuple, svg: str, description: str) -> tuple[str, str]:
        """(token, description) of an SVG already drawn from checked figures (see :func:`ranked_bars_svg`)."""
        with self._lock:
            known = self._by_digest.get(key)  # type: ignore[arg-type]
            if known and known[0] in self._items:
                return known
            token = secrets.token_urlsafe(16)
            self._items[token] = svg
            self._by_digest[key] = (token, description)  # type: ignore[index]
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return token, description

    def get(self, token: str) -> str | None:
        with self._lock:
            return self._items.get(token)


def ranked_bars_svg(rates: CheckedOutput, counts: CheckedOutput | None = None, *, top: int = 20,
                    unit: str = "per 100") -> tuple[str, str] | None:
    """A horizontal bar chart of the first column of a checked rate table that stays readable: every row when there
    are at most ``top`` of them (in the table's order, e.g. deprivation deciles), otherwise the ``top`` rows with the
    largest published count in ``counts`` (same rows and column). Only published cells are drawn (suppressed ones are
    left out and counted in the description); totals and "Unknown" rows are left out. None when nothing is
    published."""
    from html import escape

    out = require_checked(rates, "the chart")
    disp, syms, data = out.display_frame(), out.symbols, out.data
    count_of: dict[str, float] = {}
    if counts is not None:
        c = require_checked(counts, "the chart's ranking")
        for i, idx in enumerate(c.data.index):
            if c.symbols.iat[i, 0] not in (SUPPRESSED, NOT_APPLICABLE_SYMBOL):
                count_of[_label(idx)] = float(c.data.iat[i, 0])
    rows, suppressed = [], 0
    for i, idx in enumerate(disp.index):
        label = _label(idx)
        if label in ("Total", "Unknown") or "Total" in label.split(" / "):
            continue
        if syms.iat[i, 0] in (SUPPRESSED, NOT_APPLICABLE_SYMBOL):
            suppressed += 1
            continue
        rows.append((label, float(data.iat[i, 0]), str(disp.iat[i, 0])))
    if not rows:
        return None
    ranked = len(rows) > top
    published = len(rows)
    if ranked:
        rows = sorted(rows, key=lambda r: (-count_of.get(r[0], -1.0), r[0]))[:top]
    vmax = max(v for _l, v, _t in rows) or 1.0
    label_w, bar_w, row_h, pad = 230, 330, 24, 10
    width, height = label_w + bar_w + 70, pad * 2 + row_h * len(rows) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" font-family="arial, sans-serif" font-size="13">']
    for k, (label, v, text) in enumerate(rows):
        y = pad + k * row_h
        w = max(1.0, bar_w * v / vmax)
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" fill="#0b0c0c">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="#1d70b8"/>')
        parts.append(f'<text x="{label_w + w + 5:.1f}" y="{y + 16}" fill="#0b0c0c">{escape(text)}</text>')
    axis_y = pad + row_h * len(rows) + 2
    parts.append(f'<line x1="{label_w}" y1="{pad}" x2="{label_w}" y2="{axis_y}" stroke="#0b0c0c"/>')
    parts.append(f'<text x="{label_w}" y="{axis_y + 16}" fill="#0b0c0c">{escape(heading(disp.columns[0]))}, '
                 f'{escape(unit)}</text>')
    parts.append("</svg>")
    if ranked:
        what = (f"the {len(rows)} areas (of {published} with a published figure) with the most persons counted, "
                "most first")
    else:
        what = f"all {len(rows)} areas with a published figure"
    desc = (f"{out.title}: {what}."
            + (f" {suppressed} areas whose figures are suppressed are not drawn." if suppressed else ""))
    return "".join(parts), desc
