"""Self-contained, accessible HTML made only of checked outputs, rendered from Jinja2 templates.

The templates live in ``outputs/templates/`` (package data): ``report.html.j2`` (a report of sections, used by
:class:`HtmlReport`), ``release.html.j2`` (one release page, used by :func:`~.release.write_release`) and
``index.html.j2`` (the page linking a project's releases). Everything is embedded: CSS in a ``<style>`` element,
charts as inline SVG; the files open with no network and need no JavaScript. The markup is accessible: one
``<h1>``, headings in order, tables with ``<caption>`` and header cells with ``scope``, charts as
``<svg role="img">`` with a ``<title>`` and ``<desc>`` and their data table behind a ``<details>`` disclosure.
:meth:`HtmlReport.add_table` and :meth:`HtmlReport.add_chart` accept only a :class:`~.disclosure.CheckedOutput`;
anything else raises :class:`~bold_prevention.errors.DisclosureError`.

Example::

    report = HtmlReport("Multiple disadvantage in the justice population", source="Data First (synthetic)")
    report.add_text("Cohort", "People released from custody in 2022 ...")
    report.add_table(checked_table, chart=True)
    report.write("report.html", overwrite=False)
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..files import atomic_file
from .charts import ChartKind, release_chart
from .disclosure import TOTAL, CheckedOutput, require_checked, unit_heading
from .rules import RuleSet, get_rules

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the report templates (autoescaping on; undefined names are errors)."""
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)


def render_template(name: str, **context: Any) -> str:
    """Render one of the report templates."""
    return environment().get_template(name).render(**context)


def _paragraphs(text: str) -> Markup:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return Markup("\n").join(Markup("<p>{}</p>").format(p) for p in parts)


def _is_total(label: object) -> bool:
    if isinstance(label, tuple):
        return any(str(x) == TOTAL for x in label)
    return str(label) == TOTAL


def format_label(value: object) -> str:
    """A row or column label for display: whole-number floats without decimals (``30.0`` -> ``30``), other floats
    with at most two decimals, everything else as text."""
    if isinstance(value, tuple):
        return " / ".join(dict.fromkeys(format_label(v) for v in value if str(v) != ""))
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def values_heading(out: CheckedOutput) -> str | None:
    """What the values of a table are, when its columns are categories rather than the values' own heading
    (``"Values: Percentage"``); ``None`` for a one-way table, whose single column already says it."""
    cols = out.data.columns
    if out.kind in ("survival", "model"):
        return None
    if cols.nlevels == 1 and cols.name is None and len(cols) == 1:
        return None
    if out.kind in ("frequency", "series") and (out.units or "count") == "count":
        return "Values: number of persons" if "person" in out.title.lower() else "Values: counts"
    return f"Values: {unit_heading(out.units).lower()}"


def table_model(out: CheckedOutput, *, caption: str | None = None) -> dict[str, Any]:
    """What the table macro renders: caption, subtitles, header cells, rows of cells with their shorthand."""
    out = require_checked(out, "the table")
    disp = out.display_frame()
    syms = out.symbols.to_numpy(dtype=object)
    values = disp.to_numpy(dtype=object)
    names = [format_label(n) if n else "" for n in disp.index.names]
    col_cls = ["num total" if _is_total(c) else "num" for c in disp.columns]
    columns = [{"label": format_label(c), "cls": cls} for c, cls in zip(disp.columns, col_cls, strict=True)]
    subtitles = [s for s in (out.subtitle, values_heading(out)) if s]
    rows = []
    for i, idx in enumerate(disp.index):
        key = idx if isinstance(idx, tuple) else (idx,)
        cells = [{"cls": col_cls[j], "symbol": syms[i, j] if syms[i, j] in ("[c]", "[z]") else "",
                  "text": values[i, j]} for j in range(len(col_cls))]
        rows.append({"total": _is_total(idx), "lead": [format_label(v) for v in key[:-1]],
                     "head": format_label(key[-1]), "cells": cells})
    return {"caption": caption if caption is not None else out.title, "subtitles": subtitles,
            "index_names": names, "columns": columns, "rows": rows}


def table_html(out: CheckedOutput, *, table_id: str | None = None, caption: str | None = None) -> str:
    """An accessible ``<table>`` for a checked output (captions, scoped headers, shorthand for unpublished cells)."""
    model = table_model(out, caption=caption)
    macro = environment().get_template("_macros.html.j2").module.data_table  # type: ignore[attr-defined]
    return str(macro(model, table_id))


@dataclass
class _Item:
    kind: str
    heading: str
    html: Markup
    anchor: str


class HtmlReport:
    """A report built from narrative text and checked outputs, written as one self-contained HTML file."""

    def __init__(self, title: str, *, subtitle: str | None = None, source: str | None = None,
                 rules: RuleSet | str | None = None, published: str | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self.source = source
        self.rules = get_rules(rules) if rules is not None else None
        self.published = published
        self._items: list[_Item] = []
        self._outputs: list[CheckedOutput] = []

    def _anchor(self, text: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        anchor, k = base, 2
        used = {i.anchor for i in self._items} | {"contents", "main"}
        while anchor in used:
            anchor, k = f"{base}-{k}", k + 1
        return anchor

    def add_text(self, heading: str, text: str = "") -> HtmlReport:
        """A section of narrative (plain text; blank lines separate paragraphs)."""
        self._items.append(_Item("text", heading, _paragraphs(text), self._anchor(heading)))
        return self

    def _output_block(self, out: CheckedOutput, anchor: str, chart: bool | ChartKind, table: bool) -> Markup:
        parts: list[Markup | str] = []
        if not out.publishable:
            parts.append(Markup('<div class="notice" role="note"><p><strong>Nothing in this table can be published.'
                                '</strong></p><p>{}</p></div>').format(out.nothing_publishable_reason()))
        drawn = release_chart(out, chart_id=f"{anchor}-chart") if chart and out.publishable else None
        if drawn is not None:
            parts.append(Markup("<figure>{}</figure>").format(Markup(drawn.svg)))
            parts.extend(Markup('<p class="note">{}</p>').format(n) for n in drawn.notes)
            if not table:
                parts.append(Markup("<details><summary>Data for this chart</summary>{}</details>").format(
                    Markup(table_html(out))))
        if table or drawn is None:
            parts.append(Markup(table_html(out, table_id=f"{anchor}-table")))
        notes = [*out.notes, out.public_summary()]
        if out.source:
            notes.append(f"Source: {out.source}")
        parts.extend(Markup('<p class="note">{}</p>').format(n) for n in notes)
        return Markup("\n").join(parts)

    def add_table(self, output: CheckedOutput, *, heading: str | None = None, chart: bool | ChartKind = False,
                  intro: str | None = None) -> HtmlReport:
        """A section with a checked table (and optionally its chart). Refuses anything not disclosure-checked."""
        out = require_checked(output, "the table")
        heading = heading or out.title
        anchor = self._anchor(heading)
        body = (_paragraphs(intro) if intro else Markup("")) + self._output_block(out, anchor, chart, True)
        self._items.append(_Item("table", heading, body, anchor))
        self._outputs.append(out)
        return self

    def add_chart(self, output: CheckedOutput, *, kind: ChartKind | None = None, heading: str | None = None,
                  intro: str | None = None) -> HtmlReport:
        """A section with a chart of a checked output; its data table sits in a ``<details>`` beneath it (the
        table alone where no chart suits the output)."""
        out = require_checked(output, "the chart's data")
        heading = heading or out.title
        anchor = self._anchor(heading)
        body = (_paragraphs(intro) if intro else Markup("")) + self._output_block(out, anchor, kind or True, False)
        self._items.append(_Item("chart", heading, body, anchor))
        self._outputs.append(out)
        return self

    def render(self) -> str:
        """The report as an HTML string."""
        for o in self._outputs:
            o.verify()
        rule_sets = {o.rules.name: o.rules for o in self._outputs}
        if self.rules is not None:
            rule_sets.setdefault(self.rules.name, self.rules)
        about = Markup("").join(Markup("<p>{}</p>").format(line) for rs in rule_sets.values()
                                for line in rs.describe())
        about += Markup('<p>Shorthand: <abbr title="confidential">[c]</abbr> confidential (suppressed to protect '
                        'confidentiality); <abbr title="not applicable">[z]</abbr> not applicable.</p>')
        items = [*self._items, _Item("about", "About these statistics", about, self._anchor("about-these-statistics"))]
        meta = " · ".join(x for x in (self.source and f"Source: {self.source}",
                                      self.published and f"Published {self.published}") if x)
        return render_template("report.html.j2", title=self.title, subtitle=self.subtitle, meta=meta,
                               sections=[{"anchor": i.anchor, "heading": i.heading, "html": i.html} for i in items])

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the report atomically; an existing file is kept unless ``overwrite``."""
        text = self.render()
        with atomic_file(path, overwrite=overwrite) as fh:
            fh.write(text)
        return Path(path).absolute()


def write_html_report(outputs: list[CheckedOutput], path: str | os.PathLike, *, title: str,
                      subtitle: str | None = None, source: str | None = None, charts: bool = True,
                      overwrite: bool = False) -> Path:
    """A report with one section per checked output (table plus chart where one makes sense)."""
    report = HtmlReport(title, subtitle=subtitle, source=source)
    for o in outputs:
        report.add_table(o, chart=charts and _chartable(require_checked(o)))
    return report.write(path, overwrite=overwrite)


def _chartable(out: CheckedOutput) -> bool:
    d = out.data
    return out.publishable and d.size <= 400 and not (isinstance(d, pd.DataFrame) and d.shape[0] > 60)
