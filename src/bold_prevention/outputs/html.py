"""A self-contained, accessible HTML report made only of checked outputs.

Everything is embedded: CSS in a ``<style>`` element, charts as inline SVG; the file opens with no network. The
markup is accessible: one ``<h1>``, a contents list, a ``<section>`` with an ``<h2>`` per part, tables with
``<caption>`` and header cells with ``scope``, charts as ``<figure role="img">`` with a text alternative and the
chart's data table beside it. :meth:`HtmlReport.add_table` and :meth:`HtmlReport.add_chart` accept only a
:class:`~.disclosure.CheckedOutput`; anything else raises :class:`~bold_prevention.errors.DisclosureError`.

Example::

    report = HtmlReport("Multiple disadvantage in the justice population", source="Data First (synthetic)")
    report.add_text("Cohort", "People released from custody in 2022 ...")
    report.add_table(checked_table, chart=True)
    report.write("report.html", overwrite=False)
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..files import atomic_file
from .charts import ChartKind, chart_svg
from .disclosure import NOT_APPLICABLE_SYMBOL, SUPPRESSED, TOTAL, CheckedOutput, _label, require_checked
from .rules import RuleSet, get_rules

_CSS = """
:root { --text:#0b0c0c; --muted:#505a5f; --rule:#b1b4b6; --focus:#ffdd00; --link:#1d70b8; }
* { box-sizing: border-box; }
body { font-family: Arial, Helvetica, sans-serif; color: var(--text); margin: 0; line-height: 1.45; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--focus); }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem; }
header { border-bottom: 0.6rem solid #12436D; }
h1 { font-size: 2rem; margin: 0.5rem 0; } h2 { font-size: 1.5rem; margin-top: 2.5rem; }
.subtitle, .meta { color: var(--muted); }
a { color: var(--link); } a:focus { outline: 3px solid var(--focus); background: var(--focus); }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; font-size: 1.1rem; padding-bottom: 0.5rem; }
caption .subtitle { display: block; font-weight: normal; font-size: 0.95rem; }
th, td { border-bottom: 1px solid var(--rule); padding: 0.35rem 0.75rem 0.35rem 0; text-align: left;
         vertical-align: top; }
thead th { border-bottom: 2px solid var(--text); }
td.num, th.num { text-align: right; }
tr.total th, tr.total td, td.total, th.total { font-weight: bold; }
.shorthand { color: var(--muted); }
.notice { border-left: 0.4rem solid #F46A25; background: #fdf1eb; padding: 0.75rem 1rem; margin: 1rem 0; }
.note { color: var(--muted); font-size: 0.95rem; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.95rem; }
details { margin: 0.5rem 0 1.5rem; } summary { cursor: pointer; color: var(--link); }
.table-wrap { overflow-x: auto; }
footer { border-top: 1px solid var(--rule); color: var(--muted); font-size: 0.9rem; }
"""


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def _paragraphs(text: str) -> str:
    return "\n".join(f"<p>{_esc(p.strip())}</p>" for p in re.split(r"\n\s*\n", text.strip()) if p.strip())


def _is_total(label: object) -> bool:
    if isinstance(label, tuple):
        return any(str(x) == TOTAL for x in label)
    return str(label) == TOTAL


def table_html(out: CheckedOutput, *, table_id: str | None = None, caption: str | None = None) -> str:
    """An accessible ``<table>`` for a checked output (captions, scoped headers, shorthand for unpublished cells)."""
    out = require_checked(out, "the table")
    disp = out.display_frame()
    syms = out.symbols
    index_names = [n if n else "" for n in disp.index.names]
    if not any(index_names):
        index_names = [""] * len(index_names)
    idattr = f' id="{_esc(table_id)}"' if table_id else ""
    cap = caption if caption is not None else out.title
    parts = [f'<div class="table-wrap"><table{idattr}>',
             f"<caption>{_esc(cap)}"
             + (f'<span class="subtitle">{_esc(out.subtitle)}</span>' if out.subtitle else "")
             + "</caption>", "<thead><tr>"]
    for n in index_names:
        parts.append(f'<th scope="col">{_esc(n)}</th>')
    for c in disp.columns:
        cls = "num total" if _is_total(c) else "num"
        parts.append(f'<th scope="col" class="{cls}">{_esc(_label(c))}</th>')
    parts.append("</tr></thead><tbody>")
    values = disp.to_numpy(dtype=object)
    symbols = syms.to_numpy(dtype=object)
    col_cls = ["num total" if _is_total(c) else "num" for c in disp.columns]
    supp_cell = '<abbr class="shorthand" title="confidential: suppressed to protect confidentiality">[c]</abbr>'
    na_cell = '<abbr class="shorthand" title="not applicable">[z]</abbr>'
    for i, idx in enumerate(disp.index):
        key = idx if isinstance(idx, tuple) else (idx,)
        row = ['<tr class="total">' if _is_total(idx) else "<tr>"]
        row += [f'<th scope="row">{_esc(v)}</th>' if k == len(key) - 1 else f"<td>{_esc(v)}</td>"
                for k, v in enumerate(key)]
        for j, cls in enumerate(col_cls):
            sym = symbols[i, j]
            cell = supp_cell if sym == SUPPRESSED else (na_cell if sym == NOT_APPLICABLE_SYMBOL
                                                         else _esc(values[i, j]))
            row.append(f'<td class="{cls}">{cell}</td>')
        row.append("</tr>")
        parts.append("".join(row))
    parts.append("</tbody></table></div>")
    return "\n".join(parts)


@dataclass
class _Item:
    kind: str
    heading: str
    html: str
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
        used = {i.anchor for i in self._items}
        while anchor in used:
            anchor, k = f"{base}-{k}", k + 1
        return anchor

    def add_text(self, heading: str, text: str = "") -> HtmlReport:
        """A section of narrative (plain text; blank lines separate paragraphs)."""
        self._items.append(_Item("text", heading, _paragraphs(text), self._anchor(heading)))
        return self

    def _output_block(self, out: CheckedOutput, anchor: str, chart: bool | ChartKind, table: bool) -> str:
        parts: list[str] = []
        if not out.publishable:
            parts.append(f'<div class="notice" role="note"><p><strong>Nothing in this table can be published.'
                         f"</strong></p><p>{_esc(out.nothing_publishable_reason())}</p></div>")
        if chart and out.publishable:
            svg, desc = chart_svg(out, None if chart is True else chart, id_prefix=f"{anchor}-chart")
            svg = svg.replace("<svg ", f'<svg role="img" aria-labelledby="{anchor}-desc" ', 1)
            parts.append(f'<figure><p id="{anchor}-desc" class="note">{_esc(desc)}</p>{svg}'
                         f"<figcaption>{_esc(out.title)}</figcaption></figure>")
            if not table:
                parts.append(f"<details><summary>Data for this chart</summary>{table_html(out)}</details>")
        if table:
            parts.append(table_html(out, table_id=f"{anchor}-table"))
        notes = [*out.notes, out.public_summary()]
        if out.source:
            notes.append(f"Source: {out.source}")
        parts.append("".join(f'<p class="note">{_esc(n)}</p>' for n in notes))
        return "\n".join(parts)

    def add_table(self, output: CheckedOutput, *, heading: str | None = None, chart: bool | ChartKind = False,
                  intro: str | None = None) -> HtmlReport:
        """A section with a checked table (and optionally its chart). Refuses anything not disclosure-checked."""
        out = require_checked(output, "the table")
        heading = heading or out.title
        anchor = self._anchor(heading)
        body = (_paragraphs(intro) if intro else "") + self._output_block(out, anchor, chart, True)
        self._items.append(_Item("table", heading, body, anchor))
        self._outputs.append(out)
        return self

    def add_chart(self, output: CheckedOutput, *, kind: ChartKind | None = None, heading: str | None = None,
                  intro: str | None = None) -> HtmlReport:
        """A section with a chart of a checked output; its data table sits in a ``<details>`` beneath it."""
        out = require_checked(output, "the chart's data")
        heading = heading or out.title
        anchor = self._anchor(heading)
        body = (_paragraphs(intro) if intro else "") + self._output_block(out, anchor, kind or True, False)
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
        about = "".join(f"<p>{_esc(line)}</p>" for rs in rule_sets.values() for line in rs.describe())
        about += ("<p>Shorthand: <abbr title=\"confidential\">[c]</abbr> confidential (suppressed to protect "
                  "confidentiality); <abbr title=\"not applicable\">[z]</abbr> not applicable.</p>")
        items = [*self._items, _Item("about", "About these statistics", about, self._anchor("about-these-statistics"))]
        toc = "".join(f'<li><a href="#{i.anchor}">{_esc(i.heading)}</a></li>' for i in items)
        sections = "\n".join(f'<section aria-labelledby="{i.anchor}"><h2 id="{i.anchor}">{_esc(i.heading)}</h2>'
                             f"\n{i.html}\n</section>" for i in items)
        meta = " · ".join(_esc(x) for x in (self.source and f"Source: {self.source}",
                                            self.published and f"Published {self.published}") if x)
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"<title>{_esc(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
                "<a class=\"skip\" href=\"#main\">Skip to main content</a>\n"
                f"<header><h1>{_esc(self.title)}</h1>"
                + (f'<p class="subtitle">{_esc(self.subtitle)}</p>' if self.subtitle else "")
                + (f'<p class="meta">{meta}</p>' if meta else "")
                + "</header>\n<main id=\"main\">\n"
                f'<nav aria-labelledby="contents"><h2 id="contents">Contents</h2><ol>{toc}</ol></nav>\n'
                f"{sections}\n</main>\n<footer><p>Every figure in this report passed the toolkit's disclosure "
                "control before it was written.</p></footer>\n</body>\n</html>\n")

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
