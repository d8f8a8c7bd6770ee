"""The release page: one short page answering one question, from a release's audited checked outputs.

:func:`release_page` groups the outputs into figures (a rate or percentage table with the count tables it was
computed from; any other table on its own; tables with the same title and published cells shown once), draws one
chart per figure (:func:`.charts.release_chart`; intervals from the published counts), puts the figure's tables
behind a ``<details>`` disclosure, and writes the key findings in words from the published cells only: largest and
smallest published values, the overall figure, the first and last step of a funnel, survival at the last published
time and the median where a curve reaches it, the most common pair in an overlap. Suppressed cells are never
compared; a caveat says so. Categories such as ``Unknown`` are explained in a note with their published share.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from .charts import Chart, _is_total, _is_unknown, release_chart, wilson_intervals
from .disclosure import CheckedOutput, _label
from .html import _paragraphs, format_label, render_template, table_model
from .tidy import TIDY_STEM

MAX_FINDINGS = 8
COUNT_KINDS = ("frequency", "series")


@dataclass
class Figure:
    main: CheckedOutput
    sources: list[CheckedOutput] = field(default_factory=list)
    same_as: list[CheckedOutput] = field(default_factory=list)


def _fingerprint(o: CheckedOutput) -> tuple[str, str, str]:
    return (o.title, o.data.to_csv(), o.symbols.to_csv())


def group_figures(outputs: Sequence[CheckedOutput]) -> list[Figure]:
    """Figures in the order of the outputs: each rate/percentage table with the count tables its relations name;
    tables with the same title and published cells as an earlier one are folded into it."""
    seen: dict[tuple[str, str, str], Figure | CheckedOutput] = {}
    unique: list[CheckedOutput] = []
    dupes: dict[int, list[CheckedOutput]] = {}
    for o in outputs:
        fp = _fingerprint(o)
        if fp in seen:
            dupes.setdefault(id(seen[fp]), []).append(o)
            continue
        seen[fp] = o
        unique.append(o)
    key_owners: dict[str, list[CheckedOutput]] = {}
    for o in unique:
        for c in [o, *dupes.get(id(o), [])]:  # a rate may point at a copy that was folded away
            keys = c.audit_structure()["keys"]
            if c.kind in COUNT_KINDS and keys is not None:
                for k in map(str, keys.ravel()):
                    owners = key_owners.setdefault(k, [])
                    if o not in owners:
                        owners.append(o)
    sources_of: dict[int, list[CheckedOutput]] = {}
    used: set[int] = set()
    for o in unique:
        if o.kind not in ("rate", "percentage"):
            continue
        found: dict[int, CheckedOutput] = {}
        for _pos, num, den, *_ in o.audit_structure()["relations"]:
            for k in (num, den):
                # a total is the same number in many tables: the source is the one over the same rows
                for src in key_owners.get(str(k), []):
                    if src is not o and src.data.index.equals(o.data.index):
                        found.setdefault(id(src), src)
        if not found:  # every rate suppressed (no relations left): the count tables just before it, same rows
            pos = unique.index(o)
            want = 1 if o.kind == "percentage" else 2
            for prev in reversed(unique[max(0, pos - want):pos]):
                if prev.kind in COUNT_KINDS and prev.data.index.equals(o.data.index) and id(prev) not in used:
                    found[id(prev)] = prev
            found = dict(reversed(list(found.items())))
        sources_of[id(o)] = list(found.values())
        used.update(found)
    figures = []
    for o in unique:
        if id(o) in used and id(o) not in sources_of:
            continue
        figures.append(Figure(o, sources_of.get(id(o), []), dupes.get(id(o), [])))
    return figures


def _published(o: CheckedOutput) -> list[tuple[Any, Any, float]]:
    d, s = o.data, o.symbols.to_numpy()
    return [(r, c, float(d.iat[i, j])) for i, r in enumerate(d.index) for j, c in enumerate(d.columns)
            if s[i, j] == "" and not math.isnan(float(d.iat[i, j]))]


def _v(o: CheckedOutput, col: Any, v: float) -> str:
    dec = o.decimals_for(col)
    return f"{v:,.{dec}f}"


def _unit_words(o: CheckedOutput) -> str:
    u = (o.units or "").lower()
    if u == "percentage":
        return "%"
    if u.startswith("rate per"):
        return f" {u.replace('rate ', '')}"
    return ""


def _short(title: str) -> str:
    return title.rstrip(".")


def findings_for(fig: Figure, chart: Chart | None) -> list[str]:
    """Key findings in words for one figure, from its published cells only."""
    o = fig.main
    if not o.publishable:
        return []
    if chart is not None and chart.kind in ("survival", "network", "funnel"):
        return [f"{_short(o.title)}: {chart.finding}"] if chart.finding else []
    if o.kind == "model":
        return []
    pub = [(r, c, v) for r, c, v in _published(o)]
    inner = [(r, c, v) for r, c, v in pub if not _is_total(r) and not _is_total(c) and not _is_unknown(r)]
    if len(inner) < 2:
        return []
    one_col = o.data.shape[1] == 1 or len({_label(c) for _, c, _ in inner}) == 1
    (r_hi, c_hi, v_hi), (r_lo, c_lo, v_lo) = max(inner, key=lambda x: x[2]), min(inner, key=lambda x: x[2])
    unit = _unit_words(o)

    def where(r: Any, c: Any) -> str:
        return format_label(r) if one_col else f"{format_label(r)}, {format_label(c)}"

    text = (f"{_short(o.title)}: highest {where(r_hi, c_hi)} ({_v(o, c_hi, v_hi)}{unit}), lowest "
            f"{where(r_lo, c_lo)} ({_v(o, c_lo, v_lo)}{unit})")
    totals = [(c, v) for r, c, v in pub if _is_total(r) and (one_col or _is_total(c))]
    if totals and one_col:
        text += f"; overall {_v(o, totals[0][0], totals[0][1])}{unit}"
    return [text + "."]


def unknown_notes(figures: Sequence[Figure]) -> list[str]:
    """A note for each published count table with an unknown category: how many persons it holds and why."""
    notes: dict[str, str] = {}
    for fig in figures:
        for o in [fig.main, *fig.sources]:
            if o.kind not in COUNT_KINDS or o.data.shape[1] != 1 or not o.has_totals:
                continue
            d, s = o.data, o.symbols
            unknown = [i for i, r in enumerate(d.index) if _is_unknown(r)]
            total = [i for i, r in enumerate(d.index) if _is_total(r)]
            if not unknown or not total:
                continue
            dim = str(d.index.names[0] or "category")
            i, t = unknown[0], total[0]
            if s.iat[i, 0] or s.iat[t, 0] or not d.iat[t, 0]:
                text = (f"{dim}: some persons have no recorded {dim.lower()} ('{_label(d.index[i])}'); the "
                        "number is not published.")
            else:
                share = 100 * float(d.iat[i, 0]) / float(d.iat[t, 0])
                text = (f"{dim}: {float(d.iat[i, 0]):,.0f} of {float(d.iat[t, 0]):,.0f} persons ({share:.0f}%) in "
                        f"'{o.title}' have no recorded {dim.lower()} ('{_label(d.index[i])}').")
            notes.setdefault(dim, text)
    if not notes:
        return []
    return [*notes.values(), "'Unknown' (or 'Not known') counts persons whose linked records do not hold the value; "
            "they are kept as a category of their own, not dropped or guessed, and are left out of the highest and "
            "lowest values in the key findings and of ordered charts."]


def _anchor(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "figure"
    anchor, k = base, 2
    while anchor in used:
        anchor, k = f"{base}-{k}", k + 1
    used.add(anchor)
    return anchor


def release_page(released: Sequence[CheckedOutput], *, title: str, subtitle: str | None, source: str | None,
                 question: str | None, findings: Sequence[str], texts: Sequence[tuple[str, str]], protection: str,
                 charts: bool = True, tidy: bool = True, extra_files: Sequence[str] = (),
                 index_href: str | None = None, published: str | None = None) -> tuple[str, dict[str, Any]]:
    """(the release page's HTML, the summary written to ``release.json``)."""
    for o in released:
        o.verify()
    figures = group_figures(released)
    used = {"key-findings", "contents", "figures", "notes", "downloads", "about", "main"}
    rendered, generated = [], []
    n_charts = 0
    for fig in figures:
        anchor = _anchor(fig.main.title, used)
        o = fig.main
        chart = None
        if charts and o.publishable:
            iv = wilson_intervals(o, fig.sources) if o.kind in ("rate", "percentage") and fig.sources else None
            chart = release_chart(o, chart_id=f"{anchor}-chart", intervals=iv)
        n_charts += chart is not None
        generated.extend(findings_for(fig, chart))
        tables = []
        for k, t in enumerate([o, *fig.sources]):
            notes = [*t.notes, t.public_summary()] + ([f"Source: {t.source}"] if t.source else [])
            if k == 0 and fig.same_as:
                notes.append(f"The same table is part of this release {len(fig.same_as) + 1} times; it is shown "
                             "once.")
            tables.append({"model": table_model(t), "id": f"{anchor}-table-{k + 1}", "notes": notes})
        rendered.append({"anchor": anchor, "heading": o.title, "chart": chart, "tables": tables,
                         "notice": "" if o.publishable else o.nothing_publishable_reason()})
    n_cells = sum(o.n_cells for o in released)
    n_supp = sum(o.n_suppressed for o in released)
    all_findings = [*findings, *generated]
    shown = all_findings[:MAX_FINDINGS]
    caveats = []
    if len(all_findings) > len(shown):
        caveats.append(f"{len(all_findings) - len(shown)} more findings are in the charts' descriptions below.")
    if n_supp:
        caveats.append(f"{n_supp:,} of {n_cells:,} cells in this release are suppressed ([c]) to protect "
                       "confidentiality; highest and lowest values are among the published cells only, and a "
                       "suppressed category may be higher or lower.")
    if not shown:
        shown = ["No figure in this release can be summarised in words; see the tables below."]
    downloads = [{"href": "tables.xlsx", "label": "tables.xlsx",
                  "about": "every table as a spreadsheet (Government Statistical Service layout)"}]
    if tidy:
        downloads += [{"href": f"{TIDY_STEM}.csv", "label": f"{TIDY_STEM}.csv",
                       "about": "one row per cell with its value, status and rule, for R, pandas or a database"},
                      {"href": f"{TIDY_STEM}.parquet", "label": f"{TIDY_STEM}.parquet",
                       "about": "the same in Apache Parquet"}]
    downloads += [{"href": f, "label": f, "about": "supplementary file of this release"} for f in extra_files]
    rule_sets = {o.rules.name: o.rules for o in released}
    about = [protection, *[line for rs in rule_sets.values() for line in rs.describe()]]
    text_items = [{"heading": h, "html": _paragraphs(t), "long": len(t) > 400 or t.count("\n") > 3}
                  for h, t in texts if t.strip()]
    meta = " · ".join(x for x in (source and f"Source: {source}", published and f"Published {published}") if x)
    html = render_template("release.html.j2", title=title, subtitle=subtitle, question=question, meta=meta,
                           findings=shown, caveats=caveats, figures=rendered, notes=unknown_notes(figures),
                           texts=text_items, downloads=downloads, about=about, index_href=index_href)
    summary = {"title": title, "question": question, "subtitle": subtitle, "findings": shown,
               "tables": len(released), "charts": n_charts, "cells": n_cells, "suppressed_cells": n_supp}
    return html, summary


__all__ = ["release_page", "group_figures", "findings_for", "unknown_notes", "Figure", "Markup"]
