"""Charts drawn only from checked outputs: what a chart shows is exactly what the checked table publishes.

:func:`chart_svg` returns an inline SVG (text kept as text, no external references, deterministic ids) and
:func:`chart_png` a PNG; both take a :class:`~.disclosure.CheckedOutput` and refuse anything else. Suppressed values
are not drawn; bar charts mark them ``[c]`` at the axis. Colours are the Analysis Function's accessible palette.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from .disclosure import SUPPRESSED, TOTAL, CheckedOutput, _label, require_checked

ChartKind = Literal["bar", "line", "step", "forest"]

# Analysis Function categorical palette (accessible colours for charts)
PALETTE = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1"]
_RC = {"svg.hashsalt": "bold-prevention", "svg.fonttype": "none", "font.size": 10, "axes.spines.top": False,
       "axes.spines.right": False, "font.family": "sans-serif"}


def default_kind(out: CheckedOutput) -> ChartKind:
    return {"series": "line", "survival": "step", "model": "forest"}.get(out.kind, "bar")


def _drop_totals(df: pd.DataFrame) -> pd.DataFrame:
    keep_rows = [i for i in df.index if _label(i) != TOTAL]
    keep_cols = [c for c in df.columns if _label(c) != TOTAL] or list(df.columns)
    return df.loc[keep_rows, keep_cols]


def _figure(out: CheckedOutput, kind: ChartKind) -> tuple[Figure, str]:
    """The figure and a plain-English description of it (for alt text)."""
    data = out.data
    syms = out.symbols
    n_hidden = 0
    if kind == "bar":
        d = _drop_totals(data)
        s = syms.loc[d.index, d.columns]
        rows, cols = [_label(i) for i in d.index], [_label(c) for c in d.columns]
        n_hidden = int((s != "").to_numpy().sum())
        horizontal = len(rows) > 8
        height = max(3.0, 0.28 * len(rows) * max(1, len(cols)) ** 0.5 + 1.2) if horizontal else 3.8
        fig = Figure(figsize=(7.5, min(height, 14.0)))
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(cols))
        pos = np.arange(len(rows))
        for k, c in enumerate(d.columns):
            vals = d[c].to_numpy(dtype=float)
            offs = pos - 0.4 + width * (k + 0.5)
            colour = PALETTE[k % len(PALETTE)]
            label = cols[k] if len(cols) > 1 else None
            if horizontal:
                ax.barh(offs, np.nan_to_num(vals), height=width, color=colour, label=label)
            else:
                ax.bar(offs, np.nan_to_num(vals), width=width, color=colour, label=label)
            for o, sym in zip(offs, s[c].to_numpy(), strict=True):
                if sym:
                    if horizontal:
                        ax.text(0, o, f" {sym}", va="center", ha="left", fontsize=8, color="#3D3D3D")
                    else:
                        ax.text(o, 0, sym, va="bottom", ha="center", fontsize=8, color="#3D3D3D")
        if horizontal:
            ax.set_yticks(pos, rows)
            ax.invert_yaxis()
            ax.set_xlabel(out.units or "")
        else:
            ax.set_xticks(pos, rows, rotation=30 if max(map(len, rows), default=0) > 8 else 0, ha="right"
                          if max(map(len, rows), default=0) > 8 else "center")
            ax.set_ylabel(out.units or "")
        if len(cols) > 1:
            ax.legend(frameon=False, fontsize=8)
        desc = (f"Bar chart of {out.title}: {len(rows)} categories" + (f" by {len(cols)} groups" if len(cols) > 1
                                                                       else ""))
    elif kind == "line":
        d = _drop_totals(data)
        fig = Figure(figsize=(7.5, 3.8))
        ax = fig.add_subplot()
        x = np.arange(len(d.index))
        for k, c in enumerate(d.columns):
            ax.plot(x, d[c].to_numpy(dtype=float), marker="o", ms=3, color=PALETTE[k % len(PALETTE)],
                    label=_label(c) if len(d.columns) > 1 else None)
        n_hidden = int((syms.loc[d.index, d.columns] != "").to_numpy().sum())
        labels = [_label(i) for i in d.index]
        step = max(1, len(labels) // 12)
        ax.set_xticks(x[::step], labels[::step], rotation=30, ha="right")
        ax.set_ylabel(out.units or "")
        if len(d.columns) > 1:
            ax.legend(frameon=False, fontsize=8)
        desc = f"Line chart of {out.title} over {len(labels)} periods"
    elif kind == "step":
        fig = Figure(figsize=(7.5, 4.0))
        ax = fig.add_subplot()
        groups = list(dict.fromkeys(i[0] for i in data.index))
        drawn = 0
        for k, g in enumerate(groups):
            sub = data.xs(g, level=0, drop_level=True)
            sub = sub[sub["Survival"].notna()]
            if sub.empty:
                n_hidden += 1
                continue
            t = np.asarray([float(v) for v in sub.index])
            colour = PALETTE[k % len(PALETTE)]
            ax.step(t, sub["Survival"], where="post", color=colour, label=_label(g))
            ax.fill_between(t, sub["Lower 95% CI"], sub["Upper 95% CI"], step="post", color=colour, alpha=0.15,
                            linewidth=0)
            drawn += 1
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("Proportion surviving")
        ax.set_xlabel(str(data.index.names[1]))
        if drawn > 1:
            ax.legend(frameon=False, fontsize=8)
        desc = f"Survival curves ({drawn} groups shown) for {out.title}, with 95% confidence bands"
    elif kind == "forest":
        d = data.loc[[i for i in data.index if str(i).lower() not in ("intercept", "const")]]
        fig = Figure(figsize=(7.5, max(2.5, 0.35 * len(d) + 1.0)))
        ax = fig.add_subplot()
        y = np.arange(len(d))
        coef = d.iloc[:, 0].to_numpy(dtype=float)
        if {"Lower 95% CI", "Upper 95% CI"} <= set(d.columns):
            lo, hi = d["Lower 95% CI"].to_numpy(float), d["Upper 95% CI"].to_numpy(float)
            ax.errorbar(coef, y, xerr=[coef - lo, hi - coef], fmt="o", color=PALETTE[0], ecolor=PALETTE[0],
                        capsize=3)
        else:
            ax.plot(coef, y, "o", color=PALETTE[0])
        ax.axvline(0, color="#3D3D3D", lw=0.8)
        ax.set_yticks(y, [_label(i) for i in d.index])
        ax.set_ylim(len(d) - 0.5, -0.5)
        ax.set_xlabel(str(d.columns[0]))
        n_hidden = int(np.isnan(coef).sum())
        desc = f"Coefficients of {out.title} with 95% confidence intervals ({len(d)} terms)"
    else:
        raise ValueError(f"unknown chart kind {kind!r}")
    if n_hidden and kind == "step":
        desc += f"; {n_hidden} group(s) suppressed ({SUPPRESSED})"
    elif n_hidden:
        desc += f"; {n_hidden} suppressed value(s) are not shown ({SUPPRESSED})"
    fig.tight_layout()
    return fig, desc + "."


def chart_svg(output: CheckedOutput, kind: ChartKind | None = None, *, id_prefix: str = "chart") -> tuple[str, str]:
    """(inline SVG markup, description) for a checked output. No DOCTYPE, metadata or external references.

    Every id in the SVG (and every reference to one) is prefixed with ``id_prefix``, so several charts can sit in
    one HTML page without clashing ids.
    """
    out = require_checked(output, "the chart's data")
    with rc_context(_RC):
        fig, desc = _figure(out, kind or default_kind(out))
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")  # implied for <svg> inside HTML
    svg = svg.replace("xlink:href=", "href=")
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{id_prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{id_prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{id_prefix}-{m.group(1)})", svg)
    return svg.strip(), desc


def chart_png(output: CheckedOutput, kind: ChartKind | None = None, *, dpi: int = 150) -> tuple[bytes, str]:
    """(PNG bytes, description) for a checked output."""
    out = require_checked(output, "the chart's data")
    with rc_context(_RC):
        fig, desc = _figure(out, kind or default_kind(out))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue(), desc


# --- hand-drawn SVG charts for release pages ----------------------------------------------------------------------------
# Small, deterministic inline SVG (no matplotlib): each chart carries role="img", a <title> and a <desc> (its text
# alternative), draws only published cells of a CheckedOutput, and leaves a gap marked [c]/[z] where a cell is not
# published. Release pages put each chart's data table behind a <details> disclosure.

_INK, _MUTED, _GRID = "#0b0c0c", "#505a5f", "#d8dadb"
_W = 640  # the width every release chart is drawn at (the page scales it)


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart of a checked output, its text alternative, and notes on what it leaves out."""

    kind: str
    svg: str
    title: str
    desc: str
    notes: tuple[str, ...] = ()
    at_risk: tuple[tuple[str, tuple[str, ...]], ...] = ()  # Kaplan-Meier: (group, numbers at risk per time)
    at_risk_times: tuple[str, ...] = ()
    finding: str = ""  # one sentence on what the chart shows, from published values (for the key findings)


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: float, dec: int) -> str:
    return f"{v:,.{max(dec, 0)}f}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``lo`` .. ``hi``."""
    if not np.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    return (f'<svg role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" focusable="false" '
            f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" class="chart" font-family="Arial, sans-serif" '
            f'font-size="12"><title id="{chart_id}-title">{_e(title)}</title><desc id="{chart_id}-desc">'
            f'{_e(desc)}</desc>' + "".join(body) + "</svg>")


def _is_total(label: object) -> bool:
    return _label(label) == TOTAL or (isinstance(label, tuple) and any(str(x) == TOTAL for x in label))


def _unit(out: CheckedOutput) -> str:
    from .disclosure import unit_heading

    if out.kind in ("frequency", "series") and (out.units or "count") == "count":
        cols = out.data.columns
        if cols.nlevels == 1 and cols.name is None and len(cols) == 1:
            return _label(cols[0])
        return "Number of persons" if "person" in out.title.lower() else "Count"
    return unit_heading(out.units)


def _text_width(s: str, size: float = 12) -> float:
    return 0.56 * size * len(s)


def _truncate(s: str, width: float, size: float = 12) -> str:
    max_chars = max(4, int(width / (0.56 * size)))
    return s if len(s) <= max_chars else s[: max_chars - 1] + "…"


Intervals = dict[tuple[int, int], tuple[float, float]]


def _legend(names: list[str], x0: float) -> list[str]:
    """A row of coloured keys across the top of a chart, one per series."""
    out, lx = [], x0
    for k, full in enumerate(names):
        name = _truncate(full, 110)
        out.append(f'<rect x="{lx:.1f}" y="4" width="10" height="10" fill="{PALETTE[k]}"/>'
                   f'<text x="{lx + 14:.1f}" y="13" fill="{_INK}">{_e(name)}</text>')
        lx += 24 + _text_width(name)
    return out


def _value_axis(ticks: list[float], x0: float, x1: float, y_top: float, y_bottom: float, height: float,
                bottom: float, unit: str) -> tuple[Callable[[float], float], list[str]]:
    """The horizontal value axis of a bar or dot chart: the scale ``x`` and its grid lines, tick labels and unit."""
    t0, t1 = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return x0 + (v - t0) / (t1 - t0) * (x1 - x0)

    body = [f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y_top}" y2="{y_bottom}" stroke="{_GRID}"/>'
            f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle" fill="{_MUTED}">'
            f'{_fmt(t, 0 if float(t).is_integer() else 1)}</text>' for t in ticks]
    body.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 4}" text-anchor="middle" fill="{_INK}">{_e(unit)}'
                "</text>")
    return x, body


def bar_chart(out: CheckedOutput, *, chart_id: str, intervals: Intervals | None = None, max_rows: int = 30,
              transpose: bool = False) -> Chart:
    """Horizontal bars (grouped when the table has several columns), with interval whiskers where given;
    ``transpose`` groups by column instead (a few rows by many columns, e.g. regions by needs)."""
    data, syms = out.data, out.symbols
    if transpose:
        data, syms = data.T, syms.T
        intervals = {(j, i): v for (i, j), v in (intervals or {}).items()}
    rows = [i for i, r in enumerate(data.index) if not _is_total(r)][:max_rows]
    cols = [j for j, c in enumerate(data.columns) if not _is_total(c)] or list(range(data.shape[1]))
    cols = cols[: len(PALETTE)]
    intervals = intervals or {}

    def dec_of(j: int) -> int:
        return out.decimals_for(out.data.columns[0 if transpose else j])

    labels = [_label(data.index[i]) for i in rows]
    label_w = min(200.0, max([_text_width(s) for s in labels] + [40.0]) + 8)
    bar_h = 18 if len(cols) == 1 else 12
    group_h = bar_h * len(cols) + 8
    legend_h = 22 if len(cols) > 1 else 0
    top, bottom = 10 + legend_h, 36
    height = int(top + group_h * len(rows) + bottom)
    x0, x1 = label_w + 6, _W - 56
    vals = data.to_numpy(dtype=float)
    hi = [v for i in rows for j in cols for v in (vals[i, j], intervals.get((i, j), (np.nan, np.nan))[1])
          if v == v]
    lo = min([0.0] + [v for i in rows for j in cols if (v := vals[i, j]) == v])
    ticks = nice_ticks(lo, max(hi) if hi else 1.0)
    unit = _unit(out)
    x, body = _value_axis(ticks, x0, x1, top - 4, height - bottom + 2, height, bottom, unit)
    if len(cols) > 1:
        body += _legend([_label(data.columns[j]) for j in cols], x0)
    hidden = 0
    for r, i in enumerate(rows):
        gy = top + r * group_h
        body.append(f'<text x="{label_w:.1f}" y="{gy + group_h / 2 + 1:.1f}" text-anchor="end" '
                    f'dominant-baseline="middle" fill="{_INK}">{_e(_truncate(labels[r], label_w - 4))}</text>')
        for k, j in enumerate(cols):
            y = gy + 4 + k * bar_h
            sym = syms.iat[i, j]
            if sym:
                hidden += 1
                body.append(f'<text x="{x0 + 4:.1f}" y="{y + bar_h / 2:.1f}" dominant-baseline="middle" '
                            f'fill="{_MUTED}" font-size="11">{_e(sym)}</text>')
                continue
            v = vals[i, j]
            body.append(f'<rect x="{min(x(0), x(v)):.1f}" y="{y:.1f}" width="{abs(x(v) - x(0)):.1f}" '
                        f'height="{bar_h - 2}" fill="{PALETTE[k]}"/>')
            end = x(v)
            if (i, j) in intervals:
                a, b = intervals[(i, j)]
                cy = y + (bar_h - 2) / 2
                body.append(f'<path d="M{x(a):.1f} {cy:.1f}H{x(b):.1f}M{x(a):.1f} {cy - 4:.1f}V{cy + 4:.1f}'
                            f'M{x(b):.1f} {cy - 4:.1f}V{cy + 4:.1f}" stroke="{_INK}" stroke-width="1.2" '
                            'fill="none"/>')
                end = max(end, x(b))
            if len(cols) == 1:
                body.append(f'<text x="{end + 4:.1f}" y="{y + bar_h / 2:.1f}" dominant-baseline="middle" '
                            f'fill="{_INK}" font-size="11">{_fmt(v, dec_of(j))}</text>')
    dim = (str(out.data.columns.name or "groups").lower() if transpose else _dim_name(out))
    desc = (f"Bar chart: {unit.lower()} for {len(rows)} categories of {dim}"
            + (f", one bar for each of {len(cols)} groups ({', '.join(_label(data.columns[j]) for j in cols)})"
               if len(cols) > 1 else "")
            + (", with 95% confidence intervals" if intervals else "") + "."
            + ("" if transpose else _extremes_text(out, rows, cols)))
    notes = []
    if hidden:
        notes.append(f"{hidden} value(s) are not published ([c] suppressed, [z] not applicable) and are shown as "
                     "gaps.")
    if len(data.index) - sum(_is_total(r) for r in data.index) > max_rows:
        notes.append(f"The chart shows the first {max_rows} rows; the table has them all.")
    return Chart("bar", _svg(chart_id, _W, height, out.title, desc, body), out.title, desc, tuple(notes))


def _dim_name(out: CheckedOutput) -> str:
    names = [n for n in out.data.index.names if n]
    return (names[0] if names else "the table").lower() if names else "the table"


def _extremes_text(out: CheckedOutput, rows: list[int], cols: list[int]) -> str:
    if len(cols) != 1:
        return ""
    data, syms = out.data, out.symbols
    j = cols[0]
    pub = [(float(data.iat[i, j]), _label(data.index[i])) for i in rows
           if not syms.iat[i, j] and not _is_unknown(data.index[i])]
    if len(pub) < 2:
        return ""
    dec = out.decimals_for(data.columns[j])
    (vmax, lmax), (vmin, lmin) = max(pub), min(pub)
    return f" Highest: {lmax} ({_fmt(vmax, dec)}); lowest: {lmin} ({_fmt(vmin, dec)})."


UNKNOWN_LABELS = frozenset({"unknown", "not known", "not stated", "missing"})


def _is_unknown(label: object) -> bool:
    parts = label if isinstance(label, tuple) else (label,)
    return any(str(p).strip().lower() in UNKNOWN_LABELS for p in parts)


def _ordered_numeric(labels: list[object]) -> bool:
    try:
        nums = [float(_label(x)) for x in labels]
    except ValueError:
        return False
    return len(nums) >= 3 and nums == sorted(nums)


def line_chart(out: CheckedOutput, *, chart_id: str, intervals: Intervals | None = None,
               x_title: str | None = None) -> Chart:
    """Values along ordered categories (deprivation deciles, periods): one line per column, points with interval
    whiskers where given; an unpublished point breaks its line."""
    data, syms = out.data, out.symbols
    rows = [i for i, r in enumerate(data.index) if not _is_total(r) and not _is_unknown(r)]
    cols = [j for j, c in enumerate(data.columns) if not _is_total(c)][: len(PALETTE)]
    intervals = intervals or {}
    vals = data.to_numpy(dtype=float)
    legend_h = 22 if len(cols) > 1 else 0
    top, bottom, left, right = 14 + legend_h, 44, 56, 16
    height = 300
    x0, x1, y0, y1 = left, _W - right, height - bottom, top
    ys = [v for i in rows for j in cols for v in (vals[i, j], *intervals.get((i, j), ())) if v == v]
    ticks = nice_ticks(min([0.0] + ys), max(ys) if ys else 1.0)
    t0, t1 = ticks[0], ticks[-1]
    step = (x1 - x0) / max(len(rows), 1)

    def x(r: int) -> float:
        return x0 + step * (r + 0.5)

    def y(v: float) -> float:
        return y0 - (v - t0) / (t1 - t0) * (y0 - y1)

    body: list[str] = []
    for t in ticks:
        body.append(f'<line x1="{x0}" x2="{x1}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{_GRID}"/>'
                    f'<text x="{x0 - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="{_MUTED}">'
                    f'{_fmt(t, 0 if float(t).is_integer() else 1)}</text>')
    every = max(1, math.ceil(len(rows) / 12))
    for r, i in enumerate(rows):
        if r % every == 0:
            body.append(f'<text x="{x(r):.1f}" y="{y0 + 16}" text-anchor="middle" fill="{_INK}">'
                        f'{_e(_truncate(_label(data.index[i]), step * every - 2))}</text>')
    xt = x_title or (_label(data.index.names[0]) if data.index.names[0] else "")
    body.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="{_INK}">{_e(xt)}'
                "</text>")
    unit = _unit(out)
    body.append(f'<text transform="translate(14 {(y0 + y1) / 2:.1f}) rotate(-90)" text-anchor="middle" '
                f'fill="{_INK}">{_e(unit)}</text>')
    if len(cols) > 1:
        body += _legend([_label(data.columns[j]) for j in cols], x0)
    hidden = 0
    for k, j in enumerate(cols):
        colour, path, pen = PALETTE[k], [], "M"
        for r, i in enumerate(rows):
            if syms.iat[i, j]:
                hidden += 1
                pen = "M"
                body.append(f'<text x="{x(r):.1f}" y="{y0 - 4 - 12 * k}" text-anchor="middle" fill="{_MUTED}" '
                            f'font-size="10">{_e(syms.iat[i, j])}</text>')
                continue
            path.append(f"{pen}{x(r):.1f} {y(vals[i, j]):.1f}")
            pen = "L"
            if (i, j) in intervals:
                a, b = intervals[(i, j)]
                body.append(f'<path d="M{x(r):.1f} {y(a):.1f}V{y(b):.1f}" stroke="{colour}" stroke-width="1.2"/>')
            body.append(f'<circle cx="{x(r):.1f}" cy="{y(vals[i, j]):.1f}" r="3.5" fill="{colour}"/>')
        if path:
            body.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    desc = (f"Line chart: {unit.lower()} across {len(rows)} ordered categories of {xt.lower() or 'the table'}"
            + (f", one line for each of {len(cols)} groups" if len(cols) > 1 else "")
            + (", with 95% confidence intervals" if intervals else "") + "." + _gradient_text(out, rows, cols))
    notes = [f"{hidden} value(s) are not published and are left as gaps in the lines."] if hidden else []
    if any(_is_unknown(r) for r in data.index):
        notes.append("The 'Unknown' category is in the table but not on the ordered axis.")
    return Chart("line", _svg(chart_id, _W, height, out.title, desc, body), out.title, desc, tuple(notes))


def _gradient_text(out: CheckedOutput, rows: list[int], cols: list[int]) -> str:
    if len(cols) != 1 or len(rows) < 2:
        return ""
    j = cols[0]
    first, last = rows[0], rows[-1]
    if out.symbols.iat[first, j] or out.symbols.iat[last, j]:
        return ""
    a, b = float(out.data.iat[first, j]), float(out.data.iat[last, j])
    dec = out.decimals_for(out.data.columns[j])
    return (f" From {_label(out.data.index[first])} ({_fmt(a, dec)}) to {_label(out.data.index[last])} "
            f"({_fmt(b, dec)}).")


def strip_chart(out: CheckedOutput, *, chart_id: str) -> Chart:
    """Many rows (e.g. local authorities): one line per column, one dot per row's published value."""
    data, syms = out.data, out.symbols
    rows = [i for i, r in enumerate(data.index) if not _is_total(r)]
    cols = [j for j, c in enumerate(data.columns) if not _is_total(c)] or [0]
    vals = data.to_numpy(dtype=float)
    labels = [_label(data.columns[j]) for j in cols]
    label_w = min(200.0, max(_text_width(s) for s in labels) + 8)
    top, bottom, row_h = 10, 36, 26
    height = top + row_h * len(cols) + bottom
    x0, x1 = label_w + 6, _W - 20
    pub = [vals[i, j] for i in rows for j in cols if not syms.iat[i, j]]
    ticks = nice_ticks(min([0.0] + pub), max(pub) if pub else 1.0)
    unit = _unit(out)
    x, body = _value_axis(ticks, x0, x1, top, height - bottom, height, bottom, unit)
    hidden = 0
    for k, j in enumerate(cols):
        cy = top + row_h * (k + 0.5)
        body.append(f'<text x="{label_w:.1f}" y="{cy + 4:.1f}" text-anchor="end" fill="{_INK}">'
                    f'{_e(_truncate(labels[k], label_w - 4))}</text>')
        for i in rows:
            if syms.iat[i, j]:
                hidden += 1
                continue
            body.append(f'<circle cx="{x(vals[i, j]):.1f}" cy="{cy:.1f}" r="3" fill="{PALETTE[0]}" '
                        'fill-opacity="0.45"/>')
    desc = (f"Dot plot: {unit.lower()} of each of {len(rows)} {_dim_name(out)} categories (one dot each), for "
            f"{len(cols)} group(s).")
    notes = (f"{hidden} value(s) are not published and are not drawn.",) if hidden else ()
    return Chart("strip", _svg(chart_id, _W, height, out.title, desc, body), out.title, desc, notes)


def funnel_chart(out: CheckedOutput, *, chart_id: str) -> Chart:
    """Steps of a funnel (attrition, pathway stages): centred bars, each labelled with its share of the first."""
    data, syms = out.data, out.symbols
    j = 0
    rows = [i for i, r in enumerate(data.index) if not _is_total(r)]
    vals = data.iloc[:, j].to_numpy(dtype=float)
    first = next((vals[i] for i in rows if not syms.iat[i, j]), np.nan)
    row_h, top = 40, 8
    height = top + row_h * len(rows) + 8
    cx, span = _W / 2, _W - 40
    vmax = max([vals[i] for i in rows if not syms.iat[i, j]] + [1.0])
    body: list[str] = []
    parts = []
    for r, i in enumerate(rows):
        y = top + r * row_h
        label = _truncate(_label(data.index[i]), span)
        if syms.iat[i, j]:
            text = f"{label}: {syms.iat[i, j]}"
            body.append(f'<text x="{cx:.1f}" y="{y + 11}" text-anchor="middle" fill="{_INK}">{_e(text)}</text>')
            continue
        v = vals[i]
        w = max(2.0, span * v / vmax)
        share = f" ({100 * v / first:.0f}% of the first step)" if first == first and first > 0 and r else ""
        body.append(f'<text x="{cx:.1f}" y="{y + 11}" text-anchor="middle" fill="{_INK}">'
                    f'{_e(label)}: {_fmt(v, 0)}{_e(share)}</text>'
                    f'<rect x="{cx - w / 2:.1f}" y="{y + 16}" width="{w:.1f}" height="18" fill="{PALETTE[0]}"/>')
        parts.append((label, v))
    desc = f"Funnel: {_unit(out).lower()} at each of {len(rows)} steps."
    finding = ""
    if len(parts) >= 2 and first == first and first > 0:
        finding = (f"{_fmt(parts[0][1], 0)} at the first step ({parts[0][0]}), {_fmt(parts[-1][1], 0)} "
                   f"({100 * parts[-1][1] / first:.0f}%) at the last ({parts[-1][0]}).")
        desc += " " + finding
    notes = ("Steps whose count is not published are marked [c] and drawn without a bar.",) if len(parts) < len(
        rows) else ()
    return Chart("funnel", _svg(chart_id, _W, height, out.title, desc, body), out.title, desc, notes,
                 finding=finding)


def survival_chart(out: CheckedOutput, *, chart_id: str, n_times: int = 6) -> Chart:
    """Kaplan-Meier curves (published steps) with 95% bands, and the numbers at risk at a few times."""
    data, syms = out.data, out.symbols
    groups = list(dict.fromkeys(i[0] for i in data.index))
    tname = str(data.index.names[1] or "Time")
    curves: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    suppressed: list[str] = []
    for g in groups:
        pos = [k for k, i in enumerate(data.index) if i[0] == g]
        surv_ok = [k for k in pos if not syms["Survival"].iat[k]]
        if not surv_ok:
            suppressed.append(_label(g))
            continue
        t = np.asarray([float(data.index[k][1]) for k in surv_ok])
        s = data["Survival"].to_numpy(float)[surv_ok]
        lo = data["Lower 95% CI"].to_numpy(float)[surv_ok]
        hi = data["Upper 95% CI"].to_numpy(float)[surv_ok]
        n = np.asarray([data["At risk"].iat[k] if not syms["At risk"].iat[k] else np.nan for k in surv_ok])
        curves.append((_label(g), t, s, lo, hi, n))
    tmax = max([c[1].max() for c in curves] + [1.0])
    xt = nice_ticks(0.0, tmax)
    top, bottom, left, right = 30 if len(curves) > 1 else 12, 44, 50, 16
    height = 300
    x0, x1, y0, y1 = left, _W - right, height - bottom, top

    def x(v: float) -> float:
        return x0 + v / xt[-1] * (x1 - x0)

    def y(v: float) -> float:
        return y0 - v * (y0 - y1)

    body: list[str] = []
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(f'<line x1="{x0}" x2="{x1}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{_GRID}"/>'
                    f'<text x="{x0 - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="{_MUTED}">{t:.2f}</text>')
    for t in xt:
        body.append(f'<text x="{x(t):.1f}" y="{y0 + 16}" text-anchor="middle" fill="{_MUTED}">{_fmt(t, 0)}</text>')
    body.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="{_INK}">{_e(tname)}'
                "</text>")
    body.append(f'<text transform="translate(14 {(y0 + y1) / 2:.1f}) rotate(-90)" text-anchor="middle" '
                f'fill="{_INK}">Proportion without the event</text>')
    medians = []
    lx = x0
    for k, (g, t, s, lo, hi, _n) in enumerate(curves):
        colour = PALETTE[k % len(PALETTE)]
        tt = np.concatenate([[0.0], t[t > 0]]) if t[0] > 0 else t
        ss = np.concatenate([[1.0], s[t > 0]]) if t[0] > 0 else s
        ll = np.concatenate([[1.0], lo[t > 0]]) if t[0] > 0 else lo
        hh = np.concatenate([[1.0], hi[t > 0]]) if t[0] > 0 else hi
        line = f"M{x(tt[0]):.1f} {y(ss[0]):.1f}" + "".join(
            f"H{x(tt[m]):.1f}V{y(ss[m]):.1f}" for m in range(1, len(tt)))
        upper = [f"{x(tt[0]):.1f} {y(hh[0]):.1f}"] + [f"H{x(tt[m]):.1f}V{y(hh[m]):.1f}" for m in range(1, len(tt))]
        lower = [f"V{y(ll[-1]):.1f}"] + [f"H{x(tt[m]):.1f}V{y(ll[m - 1]):.1f}" for m in range(len(tt) - 1, 0, -1)]
        body.append(f'<path d="M{"".join(upper)}{"".join(lower)}H{x(tt[0]):.1f}Z" fill="{colour}" '
                    'fill-opacity="0.15" stroke="none"/>')
        body.append(f'<path d="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(curves) > 1:
            name = _truncate(g, 120)
            body.append(f'<rect x="{lx:.1f}" y="6" width="10" height="10" fill="{colour}"/>'
                        f'<text x="{lx + 14:.1f}" y="15" fill="{_INK}">{_e(name)}</text>')
            lx += 24 + _text_width(name)
        below = np.nonzero(s <= 0.5)[0]
        if len(below):
            medians.append(f"{g}: median {_fmt(t[below[0]], 0)} {tname.split('(')[-1].rstrip(')')}".rstrip())
    desc = (f"Kaplan-Meier curves for {len(curves)} group(s): the proportion still without the event against "
            f"{tname.lower()}, with 95% confidence bands.")
    unit_word = tname.split("(")[-1].rstrip(")") if "(" in tname else ""
    finding = " ".join(f"{g}: {100 * s[-1]:.0f}% still without the event after {_fmt(t[-1], 0)} {unit_word}."
                       .replace("  ", " ") for g, t, s, *_ in curves)
    if medians:
        finding += " " + "; ".join(medians) + "."
    desc += " " + finding
    notes = []
    if suppressed:
        notes.append(f"Not drawn (too few people to publish the curve): {', '.join(suppressed)}.")
    notes.append("Each curve stops where fewer people remain at risk than the disclosure rules allow.")
    times = xt[:-1] if len(xt) > n_times else xt
    times = [tm for tm in times if tm <= tmax]
    at_risk = []
    for g, t, _s, _lo, _hi, n in curves:
        row = []
        for tm in times:
            later = np.nonzero(t >= tm)[0]
            # the published number at risk at the start of the step that covers this time
            row.append(_fmt(n[later[0]], 0) if len(later) and n[later[0]] == n[later[0]] else "–")
        at_risk.append((g, tuple(row)))
    return Chart("survival", _svg(chart_id, _W, height, out.title, desc, body), out.title, desc, tuple(notes),
                 tuple(at_risk), tuple(_fmt(tm, 0) for tm in times), finding)


def forest_chart(out: CheckedOutput, *, chart_id: str) -> Chart | None:
    """Model coefficients with 95% intervals (intercept left out)."""
    d, syms = out.data, out.symbols
    rows = [k for k, i in enumerate(d.index) if str(i).lower() not in ("intercept", "const")
            and not syms.iat[k, 0]]
    if not rows:
        return None
    has_ci = {"Lower 95% CI", "Upper 95% CI"} <= set(d.columns)
    coef = d.iloc[:, 0].to_numpy(float)
    lo = d["Lower 95% CI"].to_numpy(float) if has_ci else coef
    hi = d["Upper 95% CI"].to_numpy(float) if has_ci else coef
    labels = [_label(d.index[k]) for k in rows]
    label_w = min(220.0, max(_text_width(s) for s in labels) + 8)
    row_h, top, bottom = 20, 8, 36
    height = top + row_h * len(rows) + bottom
    x0, x1 = label_w + 6, _W - 16
    vals = [v for k in rows for v in (coef[k], lo[k], hi[k]) if v == v]
    ticks = nice_ticks(min(vals + [0.0]), max(vals + [0.0]))
    t0, t1 = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return x0 + (v - t0) / (t1 - t0) * (x1 - x0)

    body = [f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top}" y2="{height - bottom}" stroke="{_INK}"/>']
    for t in ticks:
        body.append(f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle" fill="{_MUTED}">'
                    f'{t:g}</text>')
    body.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 4}" text-anchor="middle" fill="{_INK}">'
                f'{_e(_label(d.columns[0]))}</text>')
    for r, k in enumerate(rows):
        cy = top + row_h * (r + 0.5)
        body.append(f'<text x="{label_w:.1f}" y="{cy + 4:.1f}" text-anchor="end" fill="{_INK}">'
                    f'{_e(_truncate(labels[r], label_w - 4))}</text>')
        if has_ci and lo[k] == lo[k] and hi[k] == hi[k]:
            body.append(f'<path d="M{x(lo[k]):.1f} {cy:.1f}H{x(hi[k]):.1f}" stroke="{PALETTE[0]}" '
                        'stroke-width="1.5"/>')
        body.append(f'<circle cx="{x(coef[k]):.1f}" cy="{cy:.1f}" r="4" fill="{PALETTE[0]}"/>')
    desc = (f"Coefficients of {len(rows)} terms" + (" with 95% confidence intervals" if has_ci else "")
            + "; a point right of the vertical line raises the outcome, left of it lowers it.")
    return Chart("forest", _svg(chart_id, _W, height, out.title, desc, body), out.title, desc)


def network_chart(out: CheckedOutput, *, chart_id: str) -> Chart:
    """A co-occurrence matrix (rows and columns the same categories; diagonal: each category's own count) as a
    network: nodes sized by the diagonal, links as thick as the published pair counts; unpublished pairs undrawn."""
    d, syms = out.data, out.symbols
    names = [_label(i) for i in d.index]
    n = len(names)
    vals = d.to_numpy(float)
    size, cx, cy, radius = 420, _W / 2, 210, 150
    pos = [(cx + radius * math.cos(2 * math.pi * k / n - math.pi / 2),
            cy + radius * math.sin(2 * math.pi * k / n - math.pi / 2)) for k in range(n)]
    diag = [vals[k, k] if not syms.iat[k, k] else np.nan for k in range(n)]
    dmax = max([v for v in diag if v == v] + [1.0])
    pairs = [(vals[a, b], a, b) for a in range(n) for b in range(a + 1, n) if not syms.iat[a, b] and vals[a, b] > 0]
    pmax = max([p[0] for p in pairs] + [1.0])
    body: list[str] = []
    for v, a, b in sorted(pairs):
        body.append(f'<line x1="{pos[a][0]:.1f}" y1="{pos[a][1]:.1f}" x2="{pos[b][0]:.1f}" y2="{pos[b][1]:.1f}" '
                    f'stroke="{PALETTE[1]}" stroke-opacity="0.6" stroke-width="{1 + 9 * v / pmax:.1f}"/>')
    for k, (px, py) in enumerate(pos):
        r = 6 + 22 * math.sqrt(diag[k] / dmax) if diag[k] == diag[k] else 5
        anchor = "start" if px > cx + 1 else ("end" if px < cx - 1 else "middle")
        dx = r + 4 if anchor == "start" else (-r - 4 if anchor == "end" else 0)
        dy = (-r - 6 if py < cy else r + 14) if anchor == "middle" else 4
        body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{r:.1f}" fill="{PALETTE[0]}"/>'
                    f'<text x="{px + dx:.1f}" y="{py + dy:.1f}" text-anchor="{anchor}" fill="{_INK}">'
                    f'{_e(_truncate(names[k], 150))}</text>')
    top = sorted(pairs, reverse=True)[:3]
    finding = ("Most common pairs: " + "; ".join(f"{names[a]} and {names[b]} ({_fmt(v, 0)})" for v, a, b in top)
               + ".") if top else ""
    desc = (f"Network of {n} categories: each circle is sized by the number of persons with it, each line is as "
            f"thick as the number of persons with both. {finding}").strip()
    hidden = sum(1 for a in range(n) for b in range(a + 1, n) if syms.iat[a, b])
    notes = (f"{hidden} pair(s) are not published and have no line.",) if hidden else ()
    return Chart("network", _svg(chart_id, _W, size, out.title, desc, body), out.title, desc, notes,
                 finding=finding)


def _is_funnel(out: CheckedOutput) -> bool:
    d, s = out.data, out.symbols
    if out.kind != "frequency" or out.has_totals or d.shape[1] != 1 or d.shape[0] < 3:
        return False
    vals = [float(d.iat[i, 0]) for i in range(d.shape[0]) if not s.iat[i, 0]]
    return len(vals) >= 2 and all(b <= a for a, b in zip(vals, vals[1:], strict=False)) and vals[0] > vals[-1]


def _is_square(out: CheckedOutput) -> bool:
    d = out.data
    return (out.kind == "frequency" and not out.has_totals and d.shape[0] == d.shape[1] >= 3
            and [_label(i) for i in d.index] == [_label(c) for c in d.columns])


def release_chart(out: CheckedOutput, *, chart_id: str, intervals: Intervals | None = None) -> Chart | None:
    """The chart a release page shows for a checked output (``None`` where a table says it better): survival ->
    Kaplan-Meier curves; model coefficients -> forest plot; a square co-occurrence matrix -> network; falling counts
    over steps -> funnel; ordered numeric categories (deprivation deciles) and periods -> line (a gradient); many
    rows -> dot plot; otherwise bars (with intervals where given)."""
    out = require_checked(out, "the chart's data")
    if not out.publishable:
        return None
    d = out.data
    if out.kind == "survival":
        return survival_chart(out, chart_id=chart_id)
    if out.kind == "model":
        return forest_chart(out, chart_id=chart_id) if out.units == "coefficient" else None
    if _is_square(out):
        return network_chart(out, chart_id=chart_id)
    if _is_funnel(out):
        return funnel_chart(out, chart_id=chart_id)
    inner = [i for i, r in enumerate(d.index) if not _is_total(r)]
    inner_cols = [j for j, c in enumerate(d.columns) if not _is_total(c)] or list(range(d.shape[1]))
    if not (out.symbols.iloc[inner, inner_cols] == "").to_numpy().any():
        return None  # only totals published: the table says it better than an empty chart
    rows = [r for r in d.index if not _is_total(r) and not _is_unknown(r)]
    names = [str(n or "").lower() for n in d.index.names]
    if d.index.nlevels == 1 and (out.kind == "series" or any("decile" in n for n in names)
                                 or (_ordered_numeric(rows) and len(rows) >= 4)):
        return line_chart(out, chart_id=chart_id, intervals=intervals)
    cols = [c for c in d.columns if not _is_total(c)]
    if len(cols) > len(PALETTE) and len(rows) <= len(PALETTE) and len(rows) * len(cols) <= 72:
        return bar_chart(out, chart_id=chart_id, intervals=intervals, transpose=True)
    if len(rows) > 30 or len(rows) * max(len(cols), 1) > 72 or len(cols) > len(PALETTE):
        return strip_chart(out, chart_id=chart_id)
    return bar_chart(out, chart_id=chart_id, intervals=intervals)


def wilson_intervals(rate: CheckedOutput, counts: list[CheckedOutput]) -> Intervals:
    """95% Wilson intervals for the published cells of a rate or percentage table, from the published (rounded)
    numerators and denominators found among ``counts`` (checked count tables of the same release). Cells whose
    numerator or denominator is not among them, or whose numerator exceeds its denominator, get none."""
    from .intervals import wilson

    rate = require_checked(rate, "the rate table")
    published: dict[str, float] = {}
    for c in counts:
        c = require_checked(c, "a count table")
        keys = c.audit_structure()["keys"]
        if keys is None or c.kind not in ("frequency", "series"):
            continue
        vals, syms = c.data.to_numpy(float), c.symbols.to_numpy()
        for (i, j), k in np.ndenumerate(np.asarray(keys, dtype=object)):
            if syms[i, j] == "" and vals[i, j] == vals[i, j]:
                published[str(k)] = float(vals[i, j])
    res: Intervals = {}
    syms = rate.symbols.to_numpy()
    for pos, num_key, den_key, per, _dec in rate.audit_structure()["relations"]:
        i, j = pos
        num, den = published.get(str(num_key)), published.get(str(den_key))
        if syms[i, j] or num is None or den is None or den <= 0 or num > den:
            continue
        lo, hi = wilson(num, den)
        res[(int(i), int(j))] = (lo * per, hi * per)
    return res
