"""Charts drawn only from checked outputs: what a chart shows is exactly what the checked table publishes.

:func:`chart_svg` returns an inline SVG (text kept as text, no external references, deterministic ids) and
:func:`chart_png` a PNG; both take a :class:`~.disclosure.CheckedOutput` and refuse anything else. Suppressed values
are not drawn; bar charts mark them ``[c]`` at the axis. Colours are the Analysis Function's accessible palette.
"""

from __future__ import annotations

import io
import re
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
