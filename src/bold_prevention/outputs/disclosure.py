"""Disclosure control (Safe Outputs): every table, chart and figure that leaves the toolkit passes through here.

The functions below take microdata or aggregates, apply the rules of a :class:`~.rules.RuleSet` and return a
:class:`CheckedOutput`: the published values (suppressed cells removed, counts rounded), the suppression mask, the
shorthand symbol of each cell (``[c]`` confidential, ``[z]`` not applicable) and an output-check log naming each rule,
cell and action with its reason, for an output checker to sign off. Only this module can make a
:class:`CheckedOutput`, and the renderers (HTML report, spreadsheets, ``results.json``) accept nothing else.

============================  ==========================================================================================
function                      what it checks
============================  ==========================================================================================
:func:`frequency_table`       counts from microdata: threshold, zeros, secondary suppression over the totals, rounding
:func:`check_counts`          the same, from an aggregated long table (one row per cell with a count column)
:func:`check_frequency_table` the same, from a wide table of counts (or a Series for a one-way table)
:func:`magnitude_table`       sums or means from microdata: minimum contributors, N-k and p-ratio dominance, secondary
:func:`rate_table`            rates from two checked count tables: suppressed where numerator or denominator is
:func:`percentage_table`      row, column or overall percentages of a checked count table with totals
:func:`time_series`           counts (and optional rates) per period: each point at least the threshold
:func:`survival_table`        Kaplan-Meier curves: minimum at risk at each point, steps grouped like ACRO
:func:`check_model`           model coefficients only, with the residual degrees-of-freedom check
:func:`check_model_metrics`   summary statistics of a model (AUC, Brier score) with the minimum number of cases
============================  ==========================================================================================

What the log holds is meant for the output checker inside the secure setting (it names which cells were primary
risks); what a published report shows about suppression is :meth:`CheckedOutput.public_summary`, which does not.
No checked output holds a true value of a suppressed cell.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DisclosureError, InputError
from . import _protect
from .rules import (
    CELL_KEY,
    CHECKED_ONLY,
    DERIVED,
    INTEGRITY,
    MIN_THRESHOLD,
    MODEL_DOF,
    MODEL_INDIVIDUAL,
    NEGATIVE_VALUES,
    NK_DOMINANCE,
    NOT_APPLICABLE,
    P_RATIO,
    ROUNDING,
    RULES,
    SECONDARY,
    SURVIVAL_AT_RISK,
    SURVIVAL_EVENTS,
    ZEROS,
    RuleSet,
    get_rules,
    rule_label,
)

_ANONYMOUS = itertools.count()  # a table without a declared population shares no cell with any other
_SEAL = object()  # only this module holds it: the constructor of CheckedOutput refuses anything else

TOTAL = "Total"
NOT_KNOWN = "Not known"
SUPPRESSED = "[c]"
NOT_APPLICABLE_SYMBOL = "[z]"

Kind = Literal["frequency", "magnitude", "rate", "percentage", "series", "survival", "model"]

__all__ = [
    "CheckedOutput", "LogEntry", "TOTAL", "SUPPRESSED", "NOT_APPLICABLE_SYMBOL",
    "frequency_table", "check_counts", "check_frequency_table", "magnitude_table", "rate_table",
    "percentage_table", "time_series", "check_model", "check_model_metrics", "require_checked",
]


# --- the log ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogEntry:
    """One line of an output-check log: a rule, the cell it concerns (if any), the action taken and why."""

    rule: str
    action: str   # suppress | publish | round | checked | truncate | group | review | derive
    reason: str
    row: str | None = None
    column: str | None = None

    @property
    def check(self) -> str:
        """ACRO's name for the check, or the rule's own title."""
        r = RULES.get(self.rule)
        if r is None:
            return self.rule
        return r.acro_check or "".join(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", r.title) if w)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "check": self.check, "row": self.row, "column": self.column,
                "action": self.action, "reason": self.reason}


def _label(x: Any) -> str:
    if isinstance(x, tuple):
        parts = [str(p) for p in x if str(p) != ""]
        return " / ".join(dict.fromkeys(parts)) if parts else ""
    return str(x)


def _slug(text: str) -> str:
    """A file-safe name of at most 60 characters; a longer one keeps a digest of the whole, so two names that
    differ only after the 51st character stay two names."""
    s = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    if not s or not s[0].isalpha():
        s = "t_" + s
    if len(s) <= 60:
        return s
    import hashlib

    return s[:51].rstrip("_") + "_" + hashlib.sha256(s.encode()).hexdigest()[:8]


# --- the checked output -------------------------------------------------------------------------------------------------

class CheckedOutput:
    """An output that has passed disclosure control. Immutable; made only by this module's functions.

    ``data`` holds the published numbers (NaN where a cell is not published), ``symbols`` the shorthand shown instead
    (``[c]`` suppressed, ``[z]`` not applicable, ``""`` published), ``cell_rules`` the rule ids that applied to each
    cell, and ``log`` the output-check log.
    """

    __slots__ = ("_name", "_title", "_kind", "_data", "_symbols", "_cell_rules", "_log", "_rules", "_subtitle",
                 "_source", "_units", "_dimensions", "_decimals", "_notes", "_review", "_method", "_digest",
                 "_has_totals", "_keys", "_family_keys", "_constraints", "_relations", "_exact", "_family",
                 "_population")

    def __init__(self, _seal: object = None, **kw: Any) -> None:
        if _seal is not _SEAL:
            raise DisclosureError(
                f"rule {rule_label(CHECKED_ONLY)}: a CheckedOutput can only be made by the disclosure-control "
                "functions, which apply the rules first",
                hint="pass the table through bold_prevention.outputs (frequency_table, check_counts, "
                     "magnitude_table, rate_table, survival_table, check_model ...)")
        data: pd.DataFrame = kw["data"]
        symbols: pd.DataFrame = kw["symbols"]
        if data.shape != symbols.shape:
            raise ValueError("data and symbols must have the same shape")
        data = data.astype(float)
        data = data.where(symbols.eq(""))  # nothing unpublished survives in the data
        values = {
            "_name": _slug(kw.get("name") or kw["title"]),
            "_title": str(kw["title"]),
            "_kind": kw["kind"],
            "_data": data,
            "_symbols": symbols.astype(object),
            "_cell_rules": kw.get("cell_rules", pd.DataFrame("", index=data.index, columns=data.columns)),
            "_log": tuple(kw.get("log", ())),
            "_rules": kw["rules"],
            "_subtitle": kw.get("subtitle"),
            "_source": kw.get("source"),
            "_units": kw.get("units"),
            "_dimensions": tuple(kw.get("dimensions", ())),
            "_decimals": kw.get("decimals", 0),
            "_notes": tuple(kw.get("notes", ())),
            "_review": tuple(kw.get("review", ())),
            "_method": kw.get("method", kw["kind"]),
            "_has_totals": bool(kw.get("has_totals", False)),
            # --- what the release-wide audit needs (never rendered) ---
            # the identity of each count cell: cells of different outputs with the same key are the same number
            "_keys": kw.get("keys"),
            # the same without the population's version (band, snapshot): the cell across releases of a project
            "_family_keys": kw.get("family_keys"),
            # additivity: ((parent row, column), ((child row, column), ...)) in positions of ``data``
            "_constraints": tuple(kw.get("constraints", ())),
            # derived cells: ((row, column), numerator key, denominator key, per, decimals)
            "_relations": tuple(kw.get("relations", ())),
            # exact values of PUBLISHED count cells (for rates from unrounded counts); NaN elsewhere
            "_exact": kw.get("exact"),
            "_family": kw.get("family") or _slug(kw.get("name") or kw["title"]),
            "_population": kw.get("population"),
        }
        if values["_exact"] is not None:
            values["_exact"] = np.where(symbols.eq("").to_numpy(), np.asarray(values["_exact"], dtype=float), np.nan)
        for k, v in values.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_digest", self._compute_digest())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a CheckedOutput cannot be changed after checking; check a new table instead")

    def __reduce__(self):
        raise TypeError("a CheckedOutput cannot be pickled; write it with the renderers")

    def __repr__(self) -> str:
        return (f"CheckedOutput({self._name!r}, kind={self._kind!r}, shape={self._data.shape}, "
                f"suppressed={self.n_suppressed}, status={self.status!r})")

    def _repr_html_(self) -> str:
        """The published table in a notebook: title, the cells as published (``[c]`` where not) and the check."""
        from html import escape

        sub = f"<p>{escape(self._subtitle)}</p>" if self._subtitle else ""
        return (f"<div><strong>{escape(self._title)}</strong>{sub}{self.display_frame().to_html(escape=True)}"
                f"<p><small>{escape(self.public_summary())}</small></p></div>")

    # --- identity and integrity ---
    def _compute_digest(self) -> str:
        h = hashlib.sha256()
        for part in (self._name, self._title, self._kind, self._data.to_csv(), self._symbols.to_csv()):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()

    def verify(self) -> CheckedOutput:
        """Raise :class:`DisclosureError` if the published values changed since checking; return self."""
        if self._compute_digest() != self._digest:
            raise DisclosureError(f"rule {rule_label(INTEGRITY)}: output {self._name!r} was changed after it was "
                                  "checked", hint="check the table again instead of editing a checked output")
        return self

    # --- read-only views ---
    @property
    def name(self) -> str:
        return self._name

    @property
    def title(self) -> str:
        return self._title

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def method(self) -> str:
        return self._method

    @property
    def subtitle(self) -> str | None:
        return self._subtitle

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def units(self) -> str | None:
        return self._units

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def dimensions(self) -> tuple[str, ...]:
        return self._dimensions

    @property
    def has_totals(self) -> bool:
        return self._has_totals

    @property
    def log(self) -> tuple[LogEntry, ...]:
        return self._log

    @property
    def notes(self) -> tuple[str, ...]:
        return self._notes

    @property
    def review(self) -> tuple[str, ...]:
        """Points the output checker should review (e.g. negative contributions to a sum)."""
        return self._review

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def family(self) -> str:
        """The table's identity across releases of a project (other bands, snapshots): its name by default."""
        return self._family

    @property
    def population(self) -> str | None:
        """What the counts count (with the version of the spine they came from), when the producer said so."""
        return self._population

    def audit_structure(self) -> dict[str, Any]:
        """What the release-wide audit reads: cell keys, additivity constraints and derived-cell relations."""
        return {"keys": self._keys, "family_keys": self._family_keys, "constraints": self._constraints,
                "relations": self._relations}

    @property
    def data(self) -> pd.DataFrame:
        """The published numbers (a copy): NaN where a cell is not published."""
        return self._data.copy()

    @property
    def symbols(self) -> pd.DataFrame:
        """``[c]``/``[z]`` where a cell is not published, ``""`` elsewhere (a copy)."""
        return self._symbols.copy()

    @property
    def mask(self) -> pd.DataFrame:
        """True where a cell is suppressed ([c])."""
        return self._symbols.eq(SUPPRESSED)

    @property
    def cell_rules(self) -> pd.DataFrame:
        """The rule ids (``;``-separated) that applied to each cell (for the output checker)."""
        return self._cell_rules.copy()

    def decimals_for(self, column: Any) -> int:
        d = self._decimals
        if isinstance(d, Mapping):
            return int(d.get(column, d.get("*", 0)))
        return int(d)

    @property
    def n_cells(self) -> int:
        return int(self._data.size)

    @property
    def n_suppressed(self) -> int:
        return int(self.mask.to_numpy().sum())

    @property
    def publishable(self) -> bool:
        """Whether any cell is published."""
        return bool(self._symbols.eq("").to_numpy().any())

    @property
    def status(self) -> str:
        """ACRO-style status: ``pass`` (nothing needed doing) or ``review`` (mitigation applied or points to review)."""
        return "review" if (self.n_suppressed or self._review) else "pass"

    def rules_triggered(self) -> list[str]:
        """Rule ids that suppressed, grouped or truncated something in this output."""
        seen: dict[str, None] = {}
        for e in self._log:
            if e.action in ("suppress", "truncate", "group", "refuse"):
                seen[e.rule] = None
        return list(seen)

    def public_summary(self) -> str:
        """A sentence for the published report on what was done, with no cell-level detail."""
        r = self._rules
        parts: list[str] = []
        if self.n_suppressed:
            parts.append(f"{self.n_suppressed} of {self.n_cells} cells are suppressed ({SUPPRESSED}) to protect "
                         "confidentiality.")
        if any(e.rule == NOT_APPLICABLE and e.action == "suppress" for e in self._log):
            parts.append(f"{NOT_APPLICABLE_SYMBOL} marks a rate whose denominator is zero.")
        if self._kind in ("frequency", "series") and r.round_base:
            parts.append(f"Counts are rounded to the nearest {r.round_base}.")
        if self._kind in ("rate", "percentage"):
            parts.append("Computed from the published (rounded) counts.")
        if any(e.rule in (SURVIVAL_AT_RISK, SURVIVAL_EVENTS) and e.action in ("truncate", "group") for e in self._log):
            parts.append(f"Shown only where at least {r.survival_min_at_risk} people are at risk, in steps of at "
                         f"least {r.survival_events} events; survival is computed from the published counts.")
        if not parts:
            parts.append("No cell needed suppression.")
        if not self.publishable:
            parts.insert(0, self.nothing_publishable_reason())
        return " ".join(parts)

    def nothing_publishable_reason(self) -> str:
        """Why nothing in the output can be published (empty string when something can)."""
        if self.publishable:
            return ""
        why = [RULES[x].title.lower() for x in self.rules_triggered() if x in RULES]
        reasons = {
            MIN_THRESHOLD: f"cells with fewer than {self._rules.threshold} people or contributors",
            ZEROS: "zero counts are disclosive",
            SECONDARY: "the remaining cells could be used to work out the suppressed ones from the totals",
            NK_DOMINANCE: "cells dominated by one or two contributors",
            P_RATIO: "cells dominated by one or two contributors",
            DERIVED: "their numerators or denominators are suppressed",
            SURVIVAL_AT_RISK: f"fewer than {self._rules.survival_min_at_risk} people at risk",
            MODEL_DOF: f"the model has fewer than {self._rules.model_min_dof} residual degrees of freedom",
        }
        said = list(dict.fromkeys(reasons[x] for x in self.rules_triggered() if x in reasons))
        text = "; ".join(said) if said else ", ".join(why) or "the disclosure rules"
        return f"Nothing in this table can be published: all {self.n_cells} cells are suppressed ({text})."

    # --- forms for the renderers ---
    def display_frame(self, *, thousands: bool = True) -> pd.DataFrame:
        """Strings for display: formatted numbers, and the shorthand symbol where a cell is not published."""
        out = pd.DataFrame(index=self._data.index, columns=self._data.columns, dtype=object)
        for col in self._data.columns:
            dec = self.decimals_for(col)
            fmt = f"{{:,.{dec}f}}" if thousands else f"{{:.{dec}f}}"
            vals = self._data[col]
            syms = self._symbols[col]
            out[col] = [s if s else ("" if pd.isna(v) else fmt.format(v)) for v, s in zip(vals, syms, strict=True)]
        return out

    def gss_frame(self) -> pd.DataFrame:
        """Numbers where published and ``[c]``/``[z]`` strings where not (for spreadsheets); index kept."""
        out = self._data.astype(object)
        for col in out.columns:
            dec = self.decimals_for(col)
            out[col] = [s if s else (round(float(v), dec) if dec else (int(v) if float(v).is_integer() else float(v)))
                        for v, s in zip(self._data[col], self._symbols[col], strict=True)]
        return out

    def csv_text(self) -> str:
        """The published table as CSV with the shorthand symbols."""
        return self.gss_frame().to_csv()


def _reseal(out: CheckedOutput, extra: np.ndarray, rule: str, reason: str) -> CheckedOutput:
    """A copy of a checked output with the cells in ``extra`` suppressed too (for the release-wide audit)."""
    out.verify()
    syms = out._symbols.copy()
    crules = out._cell_rules.copy()
    log = list(out._log)
    for i, j in np.argwhere(extra):
        if syms.iat[i, j] != "":
            continue
        syms.iat[i, j] = SUPPRESSED
        crules.iat[i, j] = _join(str(crules.iat[i, j]), rule)
        log.append(LogEntry(rule, "suppress", reason, _label(out._data.index[i]), _label(out._data.columns[j])))
    kept = {k[1:]: getattr(out, k) for k in CheckedOutput.__slots__
            if k not in ("_digest", "_symbols", "_cell_rules", "_log", "_name", "_relations")}
    kept["relations"] = tuple(r for r in out._relations if syms.iat[r[0]] == "")
    return CheckedOutput(_SEAL, **kept, name=out._name, symbols=syms, cell_rules=crules, log=log)


def require_checked(obj: Any, what: str = "output") -> CheckedOutput:
    """Return ``obj`` if it is an unchanged :class:`CheckedOutput`; otherwise raise :class:`DisclosureError`."""
    if isinstance(obj, CheckedOutput):
        return obj.verify()
    kind = type(obj).__module__.split(".")[0] + "." + type(obj).__name__
    raise DisclosureError(
        f"rule {rule_label(CHECKED_ONLY)}: {what} is a {kind}, not a disclosure-checked output; nothing leaves "
        "without passing disclosure control",
        hint="pass it through bold_prevention.outputs first (frequency_table, check_counts, magnitude_table, "
             "rate_table, survival_table, check_model ...) and export the CheckedOutput it returns")


# --- input helpers ------------------------------------------------------------------------------------------------------

def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def _to_pandas(data: Any, columns: list[str], what: str) -> pd.DataFrame:
    """Select ``columns`` from a pandas DataFrame, pyarrow Table, Ibis table or DuckDB relation."""
    available = list(getattr(data, "columns", []))
    missing = [c for c in columns if c not in available]
    if missing:
        raise InputError(f"{what}: column(s) {', '.join(map(repr, missing))} not found "
                         f"(columns are: {', '.join(map(str, available[:30]))})",
                         hint="check the column names passed to the disclosure-control function")
    if isinstance(data, pd.DataFrame):
        return data[columns]
    if hasattr(data, "select") and hasattr(data, "to_pandas"):  # pyarrow Table, Ibis table
        return data.select(columns).to_pandas()
    if hasattr(data, "project") and hasattr(data, "df"):  # DuckDB relation
        return data.project(", ".join(f'"{c}"' for c in columns)).df()
    raise InputError(f"{what}: cannot read a {type(data).__name__}",
                     hint="pass a pandas DataFrame, a pyarrow Table, an Ibis table or a DuckDB relation")


def _sorted_levels(values: pd.Series) -> list[Any]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = list(values.cat.categories)
        return cats + ([NOT_KNOWN] if values.isna().any() else [])
    present = pd.unique(values.dropna())
    try:
        levels = sorted(present)
    except TypeError:
        levels = sorted(present, key=str)
    return levels + ([NOT_KNOWN] if values.isna().any() else [])


def _key_frame(df: pd.DataFrame, keys: list[str], levels: Mapping[str, Sequence[Any]] | None) -> pd.DataFrame:
    out = df.copy()
    for k in keys:
        lv = list(levels[k]) if levels and k in levels else _sorted_levels(df[k])
        col = df[k].astype(object).where(df[k].notna(), NOT_KNOWN)
        if not col.isin(lv).all():
            extra = sorted(map(str, pd.unique(col[~col.isin(lv)])))[:5]
            raise InputError(f"column {k!r} has values not in its levels: {', '.join(extra)}",
                             hint=f"add them to levels[{k!r}] or recode them")
        out[k] = pd.Categorical(col, categories=lv)
    return out


def _check_total_labels(labels: pd.Index, what: str) -> None:
    flat = [_label(x) for x in labels]
    if TOTAL in flat or "All" in flat:
        raise InputError(f"{what} already has a total row or column ({TOTAL!r} or 'All')",
                         hint="pass the cells only; the disclosure-control module adds and checks the totals itself")


def _total_key(index: pd.Index) -> Any:
    return tuple([TOTAL] * index.nlevels) if index.nlevels > 1 else TOTAL


def _with_total(index: pd.Index) -> pd.Index:
    key = _total_key(index)
    if index.nlevels > 1:
        return pd.MultiIndex.from_tuples(list(index) + [key], names=index.names)
    return pd.Index(list(index) + [key], name=index.name, dtype=object)


# --- frequency tables ---------------------------------------------------------------------------------------------------

MarginMode = Literal["both", "row", "column"] | None


def _margin_mode(margins: bool | str, one_way: bool) -> MarginMode:
    """``True``/``"both"``: a total row and column; ``"row"``: a total row only (column sums); ``"column"``: a total
    column only (row sums); ``False``: no totals. A one-way table has only the total row."""
    if margins is True or margins == "both":
        return "row" if one_way else "both"
    if margins in (False, None):
        return None
    if margins in ("row", "column"):
        return "row" if one_way else margins  # type: ignore[return-value]
    raise InputError(f"margins must be true, false, 'row' or 'column', got {margins!r}",
                     hint="use margins='row' to publish column sums only (a total row)")


def _full_grid(inner: np.ndarray, mode: MarginMode, one_way: bool) -> np.ndarray:
    if mode is None:
        return inner.astype(float)
    if one_way:
        return np.concatenate([inner[:, 0], [inner.sum()]]).reshape(-1, 1).astype(float)
    R, C = inner.shape
    if mode == "row":
        return np.vstack([inner, inner.sum(axis=0, keepdims=True)]).astype(float)
    if mode == "column":
        return np.hstack([inner, inner.sum(axis=1, keepdims=True)]).astype(float)
    full = np.zeros((R + 1, C + 1))
    full[:R, :C] = inner
    full[:R, C] = inner.sum(axis=1)
    full[R, :C] = inner.sum(axis=0)
    full[R, C] = inner.sum()
    return full


def _grid_for(full: np.ndarray, mode: MarginMode, one_way: bool, lb: float) -> _protect.Grid:
    if mode is None:
        return _protect.unconstrained(full, lb=lb)
    if one_way:
        return _protect.one_way(full[:, 0], lb=lb)
    if mode == "row":
        return _protect.column_sums(full, lb=lb)
    if mode == "column":
        return _protect.row_sums(full, lb=lb)
    return _protect.two_way(full, lb=lb)


def _constraints_for(shape: tuple[int, int], mode: MarginMode, one_way: bool) -> list:
    """Additivity of a checked table in cell positions: (total cell, (its parts ...))."""
    R, C = shape
    out: list = []
    if mode is None:
        return out
    if one_way:
        return [((R - 1, 0), tuple((i, 0) for i in range(R - 1)))]
    if mode in ("both", "column"):  # each row adds up to its total column
        out += [((i, C - 1), tuple((i, j) for j in range(C - 1))) for i in range(R)]
    if mode in ("both", "row"):  # each column adds up to its total row
        cols = range(C - 1) if mode == "both" else range(C)
        out += [((R - 1, j), tuple((i, j) for i in range(R - 1))) for j in cols]
    return out


def _dim_values(label: Any, names: Sequence[str | None]) -> list[tuple[str, str]]:
    parts = label if isinstance(label, tuple) else (label,)
    return [(str(n), str(v)) for n, v in zip(names, parts, strict=False) if n and str(v) != TOTAL]


def _cell_keys(population: str | None, name: str, index: pd.Index, columns: pd.Index, one_way: bool,
               measure_dims: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's key (``population|dim=value|...``, dims in name order, a total drops its dim) and family key
    (the same with the population's version, after ``@``, removed)."""
    pop = population if population is not None else f"table:{name}@{next(_ANONYMOUS)}"
    row_names = [n or f"_row{k}" for k, n in enumerate(index.names)]
    col_names = [] if one_way else [n or f"_column{k}" for k, n in enumerate(columns.names)]
    keys = np.empty((len(index), len(columns)), dtype=object)
    fam = np.empty(keys.shape, dtype=object)
    for i, r in enumerate(index):
        rv = _dim_values(r, row_names)
        for j, c in enumerate(columns):
            dims = dict(rv + ([] if one_way else _dim_values(c, col_names)))
            measures = {d: dims.pop(d) for d in measure_dims if d in dims}
            if not measures:
                p = pop
            elif "{" in pop:
                p = pop.format(**measures)
            else:  # each measure value counts another population: it belongs before the version
                base, _, ver = pop.partition("@")
                p = base + "".join(f":{d}={v}" for d, v in sorted(measures.items())) + (f"@{ver}" if ver else "")
            tail = "".join(f"|{d}={v}" for d, v in sorted(dims.items()))
            keys[i, j] = p + tail
            fam[i, j] = p.split("@", 1)[0] + tail
    return keys, fam


def _apply_protection(full: np.ndarray, primary: np.ndarray, primary_rules: np.ndarray, rules: RuleSet,
                      margins: MarginMode | bool, one_way: bool, lb: float, index: pd.Index, columns: pd.Index,
                      log: list[LogEntry], review: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Secondary suppression; returns (suppressed mask, cell rule strings)."""
    cell_rules = primary_rules.copy()
    grid = _grid_for(full, margins, one_way, lb)
    if rules.secondary and margins:
        prot = _protect.protect(grid, primary)
        best = _protect.optimal_protect(grid, primary) if prot.secondary.any() else None
        method = "the graph heuristic (table too large for the optimiser)"
        if best is not None and int(best.secondary.sum()) <= int(prot.secondary.sum()):
            prot = best
            method = "integer programming (the fewest further cells)"
        log.append(LogEntry(SECONDARY, "checked", f"secondary cells chosen by {method}"))
        supp = prot.suppressed
        for c, target in prot.protects.items():
            cell_rules[c] = _join(cell_rules[c], SECONDARY)
            what = (f"cell ({_label(index[target[0]])}, {_label(columns[target[1]])})" if target else "a cell")
            log.append(LogEntry(SECONDARY, "suppress",
                                f"suppressed so that {what} cannot be worked out from the published totals",
                                _label(index[c[0]]), _label(columns[c[1]])))
        for c in prot.released:
            log.append(LogEntry(SECONDARY, "publish", "a complementary suppression that turned out to be fixed by "
                                "the totals anyway, so it protected nothing and is published",
                                _label(index[c[0]]), _label(columns[c[1]])))
        for c in prot.unresolved:
            review.append(f"cell ({_label(index[c[0]])}, {_label(columns[c[1]])}) could only be protected by "
                          "suppressing the whole table")
        still = _protect.recoverable(grid, supp) & supp
        if still.any():  # cannot happen after protect(); kept as a guard
            raise DisclosureError(f"rule {rule_label(SECONDARY)}: {int(still.sum())} suppressed cells could still be "
                                  "worked out from the totals", hint="report this table to the toolkit maintainers")
        n_sec = int(prot.secondary.sum())
        log.append(LogEntry(SECONDARY, "checked",
                            f"{n_sec} further cell(s) suppressed; audit: none of the {int(supp.sum())} suppressed "
                            "cells can be worked out exactly from the published cells and totals "
                            f"(every suppressed cell at least {lb:g})"))
    else:
        supp = primary.copy()
        if margins:
            review.append("secondary suppression is switched off in this rule set: suppressed cells may be "
                          "recoverable from the totals")
            log.append(LogEntry(SECONDARY, "review", "secondary suppression switched off by the rule set"))
        else:
            log.append(LogEntry(SECONDARY, "checked", "no totals published, so no cell can be worked out from others"))
    return supp, cell_rules


def _join(a: str, b: str) -> str:
    return b if not a else (a if b in a.split(";") else f"{a};{b}")


def _frequency_from_inner(inner_df: pd.DataFrame, *, one_way: bool, rules: RuleSet, margins: bool | str,
                          name: str | None, title: str, subtitle: str | None, source: str | None, units: str | None,
                          dimensions: Sequence[str], kind: Kind = "frequency", method: str = "crosstab",
                          extra_log: Sequence[LogEntry] = (), population: str | None = None,
                          measure_dims: Sequence[str] = (), family: str | None = None,
                          cell_keys: np.ndarray | None = None) -> CheckedOutput:
    inner = inner_df.to_numpy(dtype=float)
    if inner.size == 0:
        raise InputError(f"table {title!r} has no cells", hint="check the filters that produced it")
    if np.isnan(inner).any():
        raise InputError(f"table {title!r} has missing counts", hint="fill empty cells with 0 before checking")
    if (inner < 0).any() or (np.abs(inner - np.round(inner)) > 1e-9).any():
        raise InputError(f"table {title!r} has counts that are negative or not whole numbers",
                         hint="pass counts of people or records; use magnitude_table for sums and means")
    mode = _margin_mode(margins, one_way)
    row_dims = [n for n in ([inner_df.index.name] if inner_df.index.nlevels == 1 else inner_df.index.names) if n]
    col_dims = [] if one_way else [n for n in ([inner_df.columns.name] if inner_df.columns.nlevels == 1
                                              else inner_df.columns.names) if n]
    for m in measure_dims:
        summed = (mode in ("both", "row") and m in row_dims) or (mode in ("both", "column") and m in col_dims)
        if summed:
            raise InputError(f"table {title!r}: a total across {m!r} would add people once per {m} (the {m} "
                             "values are not a partition of the people counted)",
                             hint="publish totals only over the other variable (margins='row' or 'column'), "
                                  "or none (margins=False)")
    if mode in ("both", "row"):
        _check_total_labels(inner_df.index, f"table {title!r}")
    if mode in ("both", "column"):
        _check_total_labels(inner_df.columns, f"table {title!r}")
    full = _full_grid(inner, mode, one_way)
    index = _with_total(inner_df.index) if mode in ("both", "row") else inner_df.index
    columns = _with_total(inner_df.columns) if (mode in ("both", "column") and not one_way) else inner_df.columns
    log: list[LogEntry] = list(extra_log)
    review: list[str] = []
    low = np.vectorize(rules.is_low)(full) if full.size else np.zeros(full.shape, bool)
    primary_rules = np.full(full.shape, "", dtype=object)
    # a zero and a small count are logged alike: the log says which cells were risks, never which were zeros
    small = (f"count below the threshold of {rules.threshold}" + (" (zeros included: class disclosure)"
                                                                 if rules.zeros_disclosive else ""))
    for i, j in np.argwhere(low):
        primary_rules[i, j] = MIN_THRESHOLD
        log.append(LogEntry(MIN_THRESHOLD, "suppress", small, _label(index[i]), _label(columns[j])))
    log.append(LogEntry(MIN_THRESHOLD, "checked", f"{int(low.sum())} of {full.size} cells (totals included) "
                        f"are below the threshold of {rules.threshold}"
                        + (" or zero" if rules.zeros_disclosive else "")))
    log.append(LogEntry(ZEROS, "checked", ("zeros are disclosive under this rule set: suppressed with the small "
                                           "counts" if rules.zeros_disclosive
                                           else "zeros are not disclosive under this rule set: true zeros published")))
    lb = 0.0 if rules.zeros_disclosive else 1.0
    if rules.method == "cell-key":
        return _cell_key_output(inner_df, full, mode, one_way, rules, cell_keys, index, columns, log, name=name,
                                title=title, subtitle=subtitle, source=source, units=units, dimensions=dimensions,
                                kind=kind, method=method, population=population, measure_dims=measure_dims,
                                family=family)
    supp, cell_rules = _apply_protection(full, low, primary_rules, rules, mode, one_way, lb, index, columns,
                                         log, review)
    published = np.where(supp, np.nan, full)
    if rules.round_base:
        published = np.vectorize(rules.round_count)(published)
        log.append(LogEntry(ROUNDING, "round", f"published counts rounded to the nearest {rules.round_base}"
                            + ("; totals rounded independently from the true totals" if mode else "")))
    _information_loss(full, supp, low, mode, log)
    keys, family_keys = _cell_keys(population, _slug(name or title), index, columns, one_way, measure_dims)
    data = pd.DataFrame(published, index=index, columns=columns)
    symbols = pd.DataFrame(np.where(supp, SUPPRESSED, ""), index=index, columns=columns)
    return CheckedOutput(_SEAL, name=name, title=title, kind=kind, data=data, symbols=symbols,
                         cell_rules=pd.DataFrame(cell_rules, index=index, columns=columns), log=log, rules=rules,
                         subtitle=subtitle, source=source, units=units or "count", dimensions=dimensions,
                         decimals=0, review=review, method=method, has_totals=mode is not None,
                         keys=keys, family_keys=family_keys, constraints=_constraints_for(full.shape, mode, one_way),
                         exact=full, population=population, family=family)


def _cell_key_output(inner_df: pd.DataFrame, full: np.ndarray, mode: MarginMode, one_way: bool, rules: RuleSet,
                     cell_keys: np.ndarray | None, index: pd.Index, columns: pd.Index, log: list[LogEntry], *,
                     name: str | None, title: str, subtitle: str | None, source: str | None, units: str | None,
                     dimensions: Sequence[str], kind: Kind, method: str, population: str | None,
                     measure_dims: Sequence[str], family: str | None) -> CheckedOutput:
    """The cell-key method: perturb each cell by its cell key (totals by the sum of their cells' keys), then
    suppress what falls below the threshold. No rounding and no secondary suppression."""
    from . import cellkey

    if cell_keys is None:
        raise InputError(f"table {title!r}: the cell-key method needs the cell keys of the cells",
                         hint="pass record_key='<column of record keys 0-255>' to frequency_table (see "
                              "bold_prevention.outputs.cellkey.record_keys), or cell_key='<column>' to check_counts")
    ck = np.asarray(cell_keys, dtype=np.int64).reshape(inner_df.shape)
    keys_full = _full_grid(ck.astype(float), mode, one_way).astype(np.int64)
    ptable = cellkey.read_ptable(rules.ptable) if rules.ptable else cellkey.default_ptable(rules.threshold,
                                                                                            rules.max_noise)
    perturbed = cellkey.perturb(full, keys_full, ptable).astype(float)
    supp = np.vectorize(rules.is_low)(perturbed)
    crules = np.where(supp, MIN_THRESHOLD, "").astype(object)
    for i, j in np.argwhere(supp):
        log.append(LogEntry(MIN_THRESHOLD, "suppress", f"below the threshold of {rules.threshold} after perturbation",
                            _label(index[i]), _label(columns[j])))
    log.append(LogEntry(CELL_KEY, "checked", "every cell perturbed by the p-table entry of its value and cell key "
                        "(totals by the sum of their cells' keys): the same cell gets the same noise in every table"))
    keys, family_keys = _cell_keys(population, _slug(name or title), index, columns, one_way, measure_dims)
    data = pd.DataFrame(np.where(supp, np.nan, perturbed), index=index, columns=columns)
    symbols = pd.DataFrame(np.where(supp, SUPPRESSED, ""), index=index, columns=columns)
    return CheckedOutput(_SEAL, name=name, title=title, kind=kind, data=data, symbols=symbols,
                         cell_rules=pd.DataFrame(crules, index=index, columns=columns), log=log, rules=rules,
                         subtitle=subtitle, source=source, units=units or "count", dimensions=dimensions,
                         decimals=0, method=f"{method} (cell-key perturbation)", has_totals=mode is not None,
                         keys=keys, family_keys=family_keys, constraints=_constraints_for(full.shape, mode, one_way),
                         exact=full, population=population, family=family)


def _information_loss(full: np.ndarray, supp: np.ndarray, primary: np.ndarray, mode: MarginMode,
                      log: list[LogEntry]) -> None:
    """Cells suppressed, and the share of the persons in the table counted in suppressed interior cells, in bands
    (an exact figure would give away the sum of the small counts)."""
    R, C = full.shape
    inner = np.ones(full.shape, bool)
    if mode in ("both", "row"):
        inner[R - 1, :] = False
    if mode in ("both", "column"):
        inner[:, C - 1] = False
    sec = supp & ~primary
    total = float(full[inner].sum())
    share = float(full[supp & inner].sum()) / total if total else 0.0
    band = next(label for cut, label in ((0.0, "none"), (0.01, "under 1%"), (0.05, "1% to 5%"),
                                        (0.2, "5% to 20%"), (0.5, "20% to 50%"), (1.01, "over 50%"))
                if share <= cut)
    log.append(LogEntry(SECONDARY, "checked",
                        f"information loss: {int(supp.sum())} of {full.size} cells suppressed ({int(primary.sum())} "
                        f"primary, {int(sec.sum())} secondary); persons in suppressed cells: {band} of the table"))


def check_frequency_table(counts: pd.DataFrame | pd.Series, *, title: str, name: str | None = None,
                          rules: RuleSet | str | None = None, margins: bool | str = True, subtitle: str | None = None,
                          source: str | None = None, units: str | None = None,
                          value_label: str = "Count", population: str | None = None,
                          measure_dims: Sequence[str] = (), family: str | None = None) -> CheckedOutput:
    """Check a table of counts: a wide DataFrame (rows x columns) or a Series (a one-way table).

    Counts below the threshold (and zeros, if disclosive) are suppressed; with ``margins`` the row, column and grand
    totals are added and checked too, and secondary suppression makes sure no suppressed cell can be worked out from
    them; published counts are rounded.
    """
    rules = get_rules(rules)
    if isinstance(counts, pd.Series):
        inner_df = counts.to_frame(value_label)
        one_way = True
        dims = [n for n in counts.index.names if n]
    elif isinstance(counts, pd.DataFrame):
        inner_df = counts
        one_way = counts.shape[1] == 1 and margins is True
        dims = [n for n in list(counts.index.names) + list(counts.columns.names) if n]
    else:
        raise InputError(f"table {title!r}: expected a pandas DataFrame or Series of counts, got "
                         f"{type(counts).__name__}", hint="use frequency_table() for microdata")
    try:
        inner_df = inner_df.apply(pd.to_numeric)
    except (TypeError, ValueError) as e:
        raise InputError(f"table {title!r} has non-numeric counts: {e}", hint="pass numbers only") from e
    return _frequency_from_inner(inner_df, one_way=one_way, rules=rules, margins=margins, name=name, title=title,
                                 subtitle=subtitle, source=source, units=units, dimensions=dims,
                                 population=population, measure_dims=measure_dims, family=family)


def frequency_table(data: Any, index: str | Sequence[str], columns: str | Sequence[str] | None = None, *,
                    title: str, name: str | None = None, rules: RuleSet | str | None = None, margins: bool | str = True,
                    levels: Mapping[str, Sequence[Any]] | None = None, subtitle: str | None = None,
                    source: str | None = None, value_label: str = "Count", population: str | None = None,
                    measure_dims: Sequence[str] = (), family: str | None = None,
                    record_key: str | None = None) -> CheckedOutput:
    """Count rows of microdata by ``index`` (and ``columns``) and check the table, as ACRO's ``crosstab`` does.

    Every combination of the levels is a cell (zeros included); missing values form a ``Not known`` level.
    ``levels`` fixes the categories (and their order) of a column, e.g. to show structural categories.
    ``record_key`` names a column of record keys (0-255) for the cell-key method (rule set ``method: cell-key``).
    """
    rows, cols = _as_list(index), _as_list(columns)
    if not rows:
        raise InputError(f"table {title!r}: no row variable given", hint="pass index='column name'")
    extra = [record_key] if record_key else []
    df = _key_frame(_to_pandas(data, rows + cols + extra, f"table {title!r}"), rows + cols, levels)
    counts = df.groupby(rows + cols, observed=False).size()
    ckeys = (df.groupby(rows + cols, observed=False)[record_key].sum() if record_key else None)
    if cols:
        wide = counts.unstack(cols, fill_value=0)
        if len(rows) == 1:
            wide.index = pd.Index(list(wide.index), name=rows[0], dtype=object)
        wide.columns = (pd.Index(list(wide.columns), name=cols[0], dtype=object) if len(cols) == 1
                        else wide.columns)
        return _frequency_from_inner(wide.astype(float), one_way=False, rules=get_rules(rules), margins=margins,
                                     name=name, title=title, subtitle=subtitle, source=source, units="count",
                                     dimensions=rows + cols, population=population,
                                     measure_dims=measure_dims, family=family,
                                     cell_keys=_wide_keys(ckeys, cols, wide))
    series = counts.astype(float)
    if len(rows) == 1:
        series.index = pd.Index(list(series.index), name=rows[0], dtype=object)
    return _frequency_from_inner(series.to_frame(value_label), one_way=bool(margins), rules=get_rules(rules),
                                 margins=margins, name=name, title=title, subtitle=subtitle, source=source,
                                 units="count", dimensions=rows, population=population,
                                 measure_dims=measure_dims, family=family,
                                 cell_keys=None if ckeys is None else ckeys.to_numpy().reshape(-1, 1))


def check_counts(table: Any, count: str, index: str | Sequence[str], columns: str | Sequence[str] | None = None, *,
                 title: str, name: str | None = None, rules: RuleSet | str | None = None, margins: bool | str = True,
                 levels: Mapping[str, Sequence[Any]] | None = None, subtitle: str | None = None,
                 source: str | None = None, value_label: str = "Count", population: str | None = None,
                 measure_dims: Sequence[str] = (), family: str | None = None,
                 cell_key: str | None = None) -> CheckedOutput:
    """Check an aggregated long table (one row per cell, ``count`` holding the number of people or records).

    Combinations missing from the table are zero cells. Duplicate combinations are added together. ``cell_key``
    names a column of cell keys (the sum of the records' keys) for the cell-key method.
    """
    rows, cols = _as_list(index), _as_list(columns)
    extra = [cell_key] if cell_key else []
    df = _key_frame(_to_pandas(table, rows + cols + [count] + extra, f"table {title!r}"), rows + cols, levels)
    vals = pd.to_numeric(df[count], errors="coerce")
    if vals.isna().any():
        raise InputError(f"table {title!r}: column {count!r} has missing or non-numeric counts",
                         hint="fill empty counts with 0 and make sure the column holds numbers")
    df = df.assign(**{count: vals})
    agg = df.groupby(rows + cols, observed=False)[count].sum()
    ckeys = (df.groupby(rows + cols, observed=False)[cell_key].sum() if cell_key else None)
    if cols:
        wide = agg.unstack(cols, fill_value=0)
        if len(rows) == 1:
            wide.index = pd.Index(list(wide.index), name=rows[0], dtype=object)
        if len(cols) == 1:
            wide.columns = pd.Index(list(wide.columns), name=cols[0], dtype=object)
        return _frequency_from_inner(wide.astype(float), one_way=False, rules=get_rules(rules), margins=margins,
                                     name=name, title=title, subtitle=subtitle, source=source, units="count",
                                     dimensions=rows + cols, population=population,
                                     measure_dims=measure_dims, family=family,
                                     cell_keys=_wide_keys(ckeys, cols, wide))
    if len(rows) == 1:
        agg.index = pd.Index(list(agg.index), name=rows[0], dtype=object)
    return _frequency_from_inner(agg.astype(float).to_frame(value_label), one_way=bool(margins), rules=get_rules(rules),
                                 margins=margins, name=name, title=title, subtitle=subtitle, source=source,
                                 units="count", dimensions=rows, population=population,
                                 measure_dims=measure_dims, family=family,
                                 cell_keys=None if ckeys is None else ckeys.to_numpy().reshape(-1, 1))


def _wide_keys(ckeys: pd.Series | None, cols: list[str], wide: pd.DataFrame) -> np.ndarray | None:
    """Cell keys in the shape of the wide table of counts."""
    if ckeys is None:
        return None
    return ckeys.unstack(cols, fill_value=0).to_numpy().reshape(wide.shape)


# --- magnitude tables ---------------------------------------------------------------------------------------------------

def _cell_stats(df: pd.DataFrame, keys: list[str], value: str, n_top: int) -> pd.DataFrame:
    """Per cell: contributors, sum, absolute sum, top-n and top-1, top-2 absolute contributions, negatives."""
    d = df.assign(_abs=df[value].abs(), _neg=(df[value] < 0).astype(int))
    if not keys:
        d = d.assign(_all=0)
        keys = ["_all"]
    g = d.groupby(keys, observed=False)
    base = pd.DataFrame({"n": g[value].count(), "sum": g[value].sum(), "abs_sum": g["_abs"].sum(),
                         "negatives": g["_neg"].sum()})
    ranked = d.sort_values("_abs", ascending=False, kind="stable")
    rank = ranked.groupby(keys, observed=False).cumcount()
    for k, col in ((n_top, "top_n"), (1, "top1"), (2, "top2")):
        base[col] = ranked[rank < k].groupby(keys, observed=False)["_abs"].sum().reindex(base.index, fill_value=0)
    return base


def magnitude_table(data: Any, value: str, index: str | Sequence[str], columns: str | Sequence[str] | None = None, *,
                    title: str, stat: Literal["sum", "mean"] = "sum", name: str | None = None,
                    rules: RuleSet | str | None = None, margins: bool = True,
                    levels: Mapping[str, Sequence[Any]] | None = None, subtitle: str | None = None,
                    source: str | None = None, units: str | None = None) -> CheckedOutput:
    """Sums or means of ``value`` by ``index`` (and ``columns``), checked against the magnitude rules.

    A cell is suppressed if it has fewer contributors than the minimum, if its ``nk_n`` largest contributors make up
    ``nk_k`` or more of it (N-k dominance), or if (total - largest - second) / largest is below ``p_ratio``
    (p-ratio), all computed from the microdata. Secondary suppression then works on the additive structure of the
    sums (for means too: published counts would turn means back into sums). Rows with a missing ``value`` are not
    contributors.
    """
    rules = get_rules(rules)
    if stat not in ("sum", "mean"):
        raise InputError(f"magnitude table {title!r}: stat must be 'sum' or 'mean', got {stat!r}",
                         hint="use stat='sum' or stat='mean'")
    rows, cols = _as_list(index), _as_list(columns)
    if not rows:
        raise InputError(f"magnitude table {title!r}: no row variable given", hint="pass index='column name'")
    raw = _to_pandas(data, rows + cols + [value], f"magnitude table {title!r}")
    vals = pd.to_numeric(raw[value], errors="coerce")
    if raw[value].notna().sum() != vals.notna().sum():
        raise InputError(f"magnitude table {title!r}: column {value!r} is not numeric",
                         hint="pass a numeric value column")
    df = _key_frame(raw.assign(**{value: vals}), rows + cols, levels)
    df = df[df[value].notna()]
    if not len(df):
        raise InputError(f"magnitude table {title!r}: column {value!r} has no values", hint="check the filters")
    n_top = rules.nk_n
    row_levels = [df[r].cat.categories for r in rows]
    col_levels = [df[c].cat.categories for c in cols]
    row_index = (pd.MultiIndex.from_product(row_levels, names=rows) if len(rows) > 1
                 else pd.Index(list(row_levels[0]), name=rows[0], dtype=object))
    if cols:
        col_index = (pd.MultiIndex.from_product(col_levels, names=cols) if len(cols) > 1
                     else pd.Index(list(col_levels[0]), name=cols[0], dtype=object))
    else:
        col_index = pd.Index([value], dtype=object)
    R, C = len(row_index), len(col_index)
    one_way = not cols
    shape = ((R + 1, 1) if one_way else (R + 1, C + 1)) if margins else (R, C)
    stats = {k: np.zeros(shape) for k in ("n", "sum", "abs_sum", "negatives", "top_n", "top1", "top2")}

    def put(frame: pd.DataFrame, rsel: Any, csel: Any, reshape: tuple[int, int]) -> None:
        for k in stats:
            stats[k][rsel, csel] = frame[k].to_numpy(dtype=float).reshape(reshape)

    put(_cell_stats(df, rows + cols, value, n_top), slice(0, R), slice(0, C), (R, C))
    if margins:
        if not one_way:
            put(_cell_stats(df, rows, value, n_top), slice(0, R), C, (R,))
            put(_cell_stats(df, cols, value, n_top), R, slice(0, C), (C,))
            put(_cell_stats(df, [], value, n_top), R, C, ())
        else:
            put(_cell_stats(df, [], value, n_top), R, 0, ())
    index = _with_total(row_index) if margins else row_index
    columns = col_index if (one_way or not margins) else _with_total(col_index)
    log: list[LogEntry] = []
    review: list[str] = []
    n = stats["n"]
    abs_sum = stats["abs_sum"]
    with np.errstate(divide="ignore", invalid="ignore"):
        nk_share = np.where(abs_sum > 0, stats["top_n"] / abs_sum, 0.0)
        p_val = np.where(stats["top1"] > 0, (abs_sum - stats["top2"]) / stats["top1"], np.inf)
    few = n < rules.contributors
    nk = (~few) & (nk_share >= rules.nk_k)
    pr = (~few) & (p_val < rules.p_ratio)
    primary = few | nk | pr
    primary_rules = np.full(shape, "", dtype=object)
    for i, j in np.argwhere(primary):
        rl, cl = _label(index[i]), _label(columns[j])
        if few[i, j]:
            primary_rules[i, j] = MIN_THRESHOLD
            log.append(LogEntry(MIN_THRESHOLD, "suppress", f"fewer than {rules.contributors} contributors", rl, cl))
        if nk[i, j]:
            primary_rules[i, j] = _join(primary_rules[i, j], NK_DOMINANCE)
            log.append(LogEntry(NK_DOMINANCE, "suppress", f"the largest {rules.nk_n} contributors make up "
                                f"{rules.nk_k:.0%} or more of the cell", rl, cl))
        if pr[i, j]:
            primary_rules[i, j] = _join(primary_rules[i, j], P_RATIO)
            log.append(LogEntry(P_RATIO, "suppress", "the contributors other than the largest two add up to less "
                                f"than {rules.p_ratio:.0%} of the largest", rl, cl))
    log.append(LogEntry(MIN_THRESHOLD, "checked", f"{int(few.sum())} of {few.size} cells have fewer than "
                        f"{rules.contributors} contributors"))
    log.append(LogEntry(NK_DOMINANCE, "checked", f"{int(nk.sum())} cell(s) fail N-k dominance "
                        f"(n={rules.nk_n}, k={rules.nk_k:g})"))
    log.append(LogEntry(P_RATIO, "checked", f"{int(pr.sum())} cell(s) fail the p-ratio rule (p={rules.p_ratio:g})"))
    has_neg = bool((stats["negatives"] > 0).any())
    if has_neg:
        review.append(f"{value!r} has negative values: dominance was computed on absolute values")
        log.append(LogEntry(NEGATIVE_VALUES, "review", "negative contributions present: dominance computed on "
                            "absolute values"))
    lb = -math.inf if has_neg else 0.0
    supp, cell_rules = _apply_protection(stats["sum"], primary, primary_rules, rules, margins, one_way, lb, index,
                                         columns, log, review)
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = stats["sum"] if stat == "sum" else np.where(n > 0, stats["sum"] / n, np.nan)
    published = np.where(supp, np.nan, shown)
    data_df = pd.DataFrame(published, index=index, columns=columns)
    symbols = pd.DataFrame(np.where(supp, SUPPRESSED, ""), index=index, columns=columns)
    return CheckedOutput(_SEAL, name=name, title=title, kind="magnitude", data=data_df, symbols=symbols,
                         cell_rules=pd.DataFrame(cell_rules, index=index, columns=columns), log=log, rules=rules,
                         subtitle=subtitle or f"{'Sum' if stat == 'sum' else 'Mean'} of {value}", source=source,
                         units=units, dimensions=rows + cols, decimals=rules.magnitude_decimals, review=review,
                         method=f"pivot_table ({stat})", has_totals=margins)


# --- rates and percentages ----------------------------------------------------------------------------------------------

def _same_shape(a: CheckedOutput, b: CheckedOutput, what: str) -> None:
    if not (a.data.index.equals(b.data.index) and a.data.columns.equals(b.data.columns)):
        raise InputError(f"{what}: numerator {a.name!r} and denominator {b.name!r} have different rows or columns",
                         hint="check both tables over the same categories (use levels= to fix them)")


def _derived(num: CheckedOutput, den_vals: np.ndarray, den_masked: np.ndarray, den_exact: np.ndarray | None,
             den_keys: np.ndarray | None, per: float, decimals: int, src: str
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[LogEntry], list]:
    """Rates ``num / den * per`` from the exact counts where both are published (the published counts when a table
    carries no exact values), suppressed with their numerator or denominator, or when the people without the
    attribute (denominator minus numerator) are fewer than the threshold."""
    log: list[LogEntry] = []
    rules = num.rules
    index, columns = num.data.index, num.data.columns
    num_masked = ~num.symbols.eq("").to_numpy()
    num_vals = num.data.to_numpy()
    exact = num._exact is not None and den_exact is not None
    n_ex = np.asarray(num._exact) if exact else num_vals
    d_ex = np.asarray(den_exact) if exact else den_vals
    masked = num_masked | den_masked
    with np.errstate(invalid="ignore"):
        complement = np.where(masked, np.nan, d_ex - n_ex)
    small_rest = (~masked) & (d_ex > 0) & np.vectorize(lambda c: bool(c == c) and c > 0 and rules.is_low(c))(complement)
    zero_den = (~masked) & (d_ex == 0)
    hidden = masked | small_rest
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.round(np.where(hidden | zero_den, np.nan, n_ex / d_ex * per), decimals)
    symbols = np.where(hidden, SUPPRESSED, np.where(zero_den, NOT_APPLICABLE_SYMBOL, ""))
    rules_arr = np.where(hidden, DERIVED, np.where(zero_den, NOT_APPLICABLE, ""))
    for i, j in np.argwhere(masked):
        which = " and ".join(w for w, m in (("numerator", num_masked[i, j]), ("denominator", den_masked[i, j])) if m)
        log.append(LogEntry(DERIVED, "suppress", f"the {which} is suppressed in {src}", _label(index[i]),
                            _label(columns[j])))
    for i, j in np.argwhere(small_rest):
        log.append(LogEntry(DERIVED, "suppress", f"fewer than {rules.threshold} in the denominator lack the "
                            "attribute: the rate would disclose them", _label(index[i]), _label(columns[j])))
    for i, j in np.argwhere(zero_den):
        log.append(LogEntry(NOT_APPLICABLE, "suppress", "the published denominator is zero", _label(index[i]),
                            _label(columns[j])))
    basis = "exact (unrounded) counts" if exact else "published (rounded) counts"
    log.append(LogEntry(DERIVED, "derive", f"computed from the {basis} of {src}, then rounded to {decimals} decimal "
                        f"place(s); {int(hidden.sum())} cell(s) suppressed with their numerator or denominator or "
                        "because too few lack the attribute"))
    relations = []
    if num._keys is not None and den_keys is not None:
        for i, j in np.argwhere(symbols == ""):
            relations.append(((int(i), int(j)), num._keys[i, j], den_keys[i, j], float(per), int(decimals)))
    return vals, symbols, rules_arr, log, relations


def unit_heading(units: str | None) -> str:
    """The heading of a column of values in these units: ``"percentage"`` -> ``"Percentage"``, ``"rate per 1,000"``
    -> ``"Rate per 1,000"``, ``None`` -> ``"Value"``. Every renderer (HTML, spreadsheet, long CSV) uses it."""
    text = str(units or "value").strip()
    return text[:1].upper() + text[1:]


def _value_columns(columns: pd.Index, units: str) -> pd.Index:
    """A derived table's columns: the single value column of a one-way table is named after the derived values'
    unit (a rate is not "Persons"); the columns of a two-way table are categories and stay as they are."""
    if columns.nlevels == 1 and columns.name is None and len(columns) == 1 and _label(columns[0]) != TOTAL:
        return pd.Index([unit_heading(units)], dtype=object)
    return columns


def rate_table(numerator: CheckedOutput, denominator: CheckedOutput, *, title: str, per: float = 100,
               name: str | None = None, subtitle: str | None = None, source: str | None = None,
               units: str | None = None, decimals: int | None = None) -> CheckedOutput:
    """Rates ``numerator / denominator * per`` from two checked count tables with the same rows and columns.

    A rate is published only where its numerator and denominator are; it is computed from their exact counts (not
    the rounded ones, which would bias it), and suppressed where fewer than the threshold lack the attribute. The
    release-wide audit knows each rate's numerator and denominator, so what a rate reveals about them is checked.
    """
    num = require_checked(numerator, "the numerator")
    den = require_checked(denominator, "the denominator")
    for t in (num, den):
        if t.kind not in ("frequency", "series"):
            raise InputError(f"rate table {title!r}: {t.name!r} is a {t.kind} output, not a table of counts",
                             hint="build rates from checked count tables (frequency_table / check_counts)")
    _same_shape(num, den, f"rate table {title!r}")
    dec = num.rules.rate_decimals if decimals is None else decimals
    vals, symbols, rules_arr, log, relations = _derived(
        num, den.data.to_numpy(), ~den.symbols.eq("").to_numpy(), den._exact, den._keys, per, dec,
        f"{num.name!r} and {den.name!r}")
    unit = units or ("percentage" if per == 100 else ("proportion" if per == 1 else f"rate per {per:,g}"))
    idx, cols = num.data.index, _value_columns(num.data.columns, unit)
    return CheckedOutput(_SEAL, name=name, title=title, kind="rate", data=pd.DataFrame(vals, index=idx, columns=cols),
                         symbols=pd.DataFrame(symbols, index=idx, columns=cols),
                         cell_rules=pd.DataFrame(rules_arr, index=idx, columns=cols), log=log, rules=num.rules,
                         subtitle=subtitle, source=source or num.source, units=unit,
                         dimensions=num.dimensions, decimals=dec, method="rate", has_totals=num.has_totals,
                         relations=relations)


def percentage_table(counts: CheckedOutput, *, of: Literal["row", "column", "total"] | None = None,
                     title: str | None = None, name: str | None = None, subtitle: str | None = None) -> CheckedOutput:
    """Percentages of a checked count table with totals: of each row's total, each column's, or the grand total.

    ``of`` defaults to ``row`` for a two-way table and ``column`` (the total) for a one-way table.
    """
    t = require_checked(counts, "the count table")
    if t.kind not in ("frequency", "series") or not t.has_totals:
        raise InputError(f"percentages of {t.name!r} need a checked count table with totals",
                         hint="check the counts with margins=True first")
    if of is None:
        of = "column" if t.data.shape[1] == 1 else "row"
    d = t.data.to_numpy()
    m = ~t.symbols.eq("").to_numpy()
    ex = np.asarray(t._exact) if t._exact is not None else None
    keys = t._keys

    def spread(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        if of == "row":
            return np.repeat(a[:, -1:], a.shape[1], axis=1)
        if of == "column":
            return np.repeat(a[-1:, :], a.shape[0], axis=0)
        return np.full(a.shape, a[-1, -1], dtype=a.dtype)

    if of not in ("row", "column", "total"):
        raise InputError(f"percentages of {t.name!r}: of must be 'row', 'column' or 'total', got {of!r}",
                         hint="use of='row', of='column' or of='total'")
    dec = t.rules.rate_decimals
    vals, symbols, rules_arr, log, relations = _derived(t, spread(d), spread(m), spread(ex), spread(keys), 100.0,
                                                        dec, repr(t.name))
    idx, cols = t.data.index, _value_columns(t.data.columns, "percentage")
    return CheckedOutput(_SEAL, name=name or f"{t.name}_pct_{of}", title=title or f"{t.title} (percentage of {of})",
                         kind="percentage", data=pd.DataFrame(vals, index=idx, columns=cols),
                         symbols=pd.DataFrame(symbols, index=idx, columns=cols),
                         cell_rules=pd.DataFrame(rules_arr, index=idx, columns=cols), log=log, rules=t.rules,
                         subtitle=subtitle or f"Percentage of the {of} total", source=t.source, units="percentage",
                         dimensions=t.dimensions, decimals=dec, method="percentage",
                         has_totals=True, relations=relations)


# --- time series ----------------------------------------------------------------------------------------------------------

def time_series(table: Any, time: str, count: str, *, title: str, denominator: str | None = None,
                group: str | None = None, per: float = 100, name: str | None = None,
                rules: RuleSet | str | None = None, subtitle: str | None = None, source: str | None = None,
                levels: Mapping[str, Sequence[Any]] | None = None) -> CheckedOutput:
    """Counts per period (one column per ``group``), or rates when ``denominator`` is given.

    Each point is a count checked against the threshold (no totals are published across periods, so no secondary
    suppression is needed); with a denominator, a rate is published only where both counts are.
    """
    rules = get_rules(rules)
    cols = [group] if group else []
    lv = dict(levels or {})
    num = check_counts(table, count, time, cols or None, title=title, rules=rules, margins=False, levels=lv,
                       value_label=count)
    if denominator is None:
        return CheckedOutput(_SEAL, name=name, title=title, kind="series", data=num.data, symbols=num.symbols,
                             cell_rules=num.cell_rules, log=num.log, rules=rules, subtitle=subtitle, source=source,
                             units="count", dimensions=num.dimensions, decimals=0, method="time series")
    den = check_counts(table, denominator, time, cols or None, title=f"{title} (denominator)", rules=rules,
                       margins=False, levels=lv, value_label=count)
    rate = rate_table(num, den, title=title, per=per, name=name, subtitle=subtitle, source=source)
    log = [*(LogEntry(e.rule, e.action, f"numerator: {e.reason}", e.row, e.column) for e in num.log),
           *(LogEntry(e.rule, e.action, f"denominator: {e.reason}", e.row, e.column) for e in den.log), *rate.log]
    return CheckedOutput(_SEAL, name=name, title=title, kind="series", data=rate.data, symbols=rate.symbols,
                         cell_rules=rate.cell_rules, log=log, rules=rules, subtitle=subtitle, source=source,
                         units=rate.units, dimensions=num.dimensions, decimals=rules.rate_decimals,
                         method="time series (rate)")


# --- survival ---------------------------------------------------------------------------------------------------------------
# Kaplan-Meier tables live in :mod:`.survival`; ``survival_table`` is re-exported here so existing imports keep working.

def __getattr__(name: str) -> Any:
    if name == "survival_table":
        from .survival import survival_table

        return survival_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- models -------------------------------------------------------------------------------------------------------------------

_INDIVIDUAL = re.compile(r"resid|predict|fitted|fittedvalues|leverage|influence|cooks|hat_|yhat|score_samples|"
                         r"probabilit|linear_predictor|partial_hazard|martingale|deviance_resid|schoenfeld",
                         re.IGNORECASE)


def _refuse_individual(what: str) -> DisclosureError:
    return DisclosureError(f"rule {rule_label(MODEL_INDIVIDUAL)}: {what}; residuals, fitted values and individual "
                           "predictions never leave", hint="export the model's coefficients with check_model(model)")


def _names_look_individual(obj: Any) -> str | None:
    names: list[str] = []
    for attr in ("name",):
        v = getattr(obj, attr, None)
        if isinstance(v, str):
            names.append(v)
    if isinstance(obj, pd.DataFrame | pd.Series):
        names += [str(n) for n in obj.index.names if n]
    if isinstance(obj, pd.DataFrame):
        names += [str(c) for c in obj.columns]
    for n in names:
        if _INDIVIDUAL.search(n):
            return n
    return None


def _coefficient_frame(model: Any) -> tuple[pd.DataFrame, int | None, int | None, str]:
    """(coefficient table, residual dof, number of observations, method) from a fitted model or table."""
    if isinstance(model, np.ndarray) or (isinstance(model, list | tuple) and not isinstance(model, str)):
        raise _refuse_individual("an unnamed array was given (it may hold one value per person)")
    if isinstance(model, pd.Series | pd.DataFrame):
        hit = _names_look_individual(model)
        if hit:
            raise _refuse_individual(f"the table has a column or name {hit!r}")
        idx = model.index
        if isinstance(idx, pd.RangeIndex) or pd.api.types.is_integer_dtype(idx.dtype) or idx.has_duplicates:
            raise _refuse_individual("the rows are not named coefficients (they look like one row per person)")
        frame = model.to_frame("Coefficient") if isinstance(model, pd.Series) else model.copy()
        return frame.apply(pd.to_numeric, errors="coerce"), None, None, "coefficients"
    # statsmodels results
    if hasattr(model, "params") and hasattr(model, "bse") and hasattr(model, "df_resid"):
        params = pd.Series(model.params)
        if not isinstance(params.index[0], str):
            params.index = [f"x{i}" for i in range(len(params))]
        ci = pd.DataFrame(np.asarray(model.conf_int()), index=params.index)
        frame = pd.DataFrame({"Coefficient": params.to_numpy(), "Standard error": np.asarray(model.bse),
                              "p-value": np.asarray(model.pvalues), "Lower 95% CI": ci.iloc[:, 0].to_numpy(),
                              "Upper 95% CI": ci.iloc[:, 1].to_numpy()}, index=params.index)
        nobs = int(getattr(model, "nobs", 0)) or None
        method = type(getattr(model, "model", model)).__name__.lower()
        return frame, int(math.floor(float(model.df_resid))), nobs, method
    # lifelines regression fitters (CoxPHFitter and friends)
    if hasattr(model, "summary") and hasattr(model, "params_") and hasattr(model, "event_observed"):
        s = model.summary
        frame = pd.DataFrame({"Coefficient": s["coef"], "Standard error": s["se(coef)"], "p-value": s["p"],
                              "Lower 95% CI": s["coef lower 95%"], "Upper 95% CI": s["coef upper 95%"],
                              "Hazard ratio": s["exp(coef)"]})
        frame.index = [_label(i) for i in frame.index]
        events = int(np.asarray(model.event_observed).sum())
        nobs = int(getattr(model, "_n_examples", len(np.asarray(model.event_observed))))
        return frame, events - len(frame), nobs, type(model).__name__.lower()
    # scikit-learn linear models
    if hasattr(model, "coef_"):
        coef = np.atleast_2d(np.asarray(model.coef_))
        names = list(getattr(model, "feature_names_in_", [f"x{i}" for i in range(coef.shape[1])]))
        rows = {"Intercept": np.atleast_1d(getattr(model, "intercept_", [np.nan]))}
        rows.update({n: coef[:, k] for k, n in enumerate(names)})
        cols = (["Coefficient"] if coef.shape[0] == 1
                else [f"Coefficient ({c})" for c in getattr(model, "classes_", range(coef.shape[0]))])
        frame = pd.DataFrame({k: v[: len(cols)] for k, v in rows.items()}, index=cols).T
        return frame, None, None, type(model).__name__.lower()
    raise InputError(f"cannot read coefficients from a {type(model).__name__}",
                     hint="pass a fitted statsmodels, lifelines or scikit-learn model, or a coefficient table")


def check_model(model: Any, *, title: str, name: str | None = None, n_obs: int | None = None,
                dof: int | None = None, rules: RuleSet | str | None = None, subtitle: str | None = None,
                source: str | None = None, decimals: int = 3) -> CheckedOutput:
    """The coefficient table of a fitted model, published only with enough residual degrees of freedom.

    Accepts statsmodels results, lifelines regression fitters, scikit-learn linear models (give ``n_obs``) or a
    coefficient table with named rows (give ``dof`` or ``n_obs``). Residuals, fitted values and individual
    predictions are refused with :class:`DisclosureError`. With fewer residual degrees of freedom than
    ``model_min_dof`` every coefficient is suppressed (the output still renders, saying why).
    """
    rules = get_rules(rules)
    frame, model_dof, model_n, method = _coefficient_frame(model)
    n = n_obs if n_obs is not None else model_n
    if dof is None:
        dof = model_dof if model_dof is not None else (n - len(frame) if n is not None else None)
    if dof is None:
        raise InputError(f"model {title!r}: the residual degrees of freedom are not known",
                         hint="pass n_obs= (the number of observations) or dof=")
    frame = frame.astype(float)
    log: list[LogEntry] = [LogEntry(MODEL_INDIVIDUAL, "checked", "coefficients and their standard errors, "
                                    "p-values and intervals only; no residuals or individual predictions")]
    cols = frame.columns
    index = pd.Index([_label(i) for i in frame.index], dtype=object, name="Term")
    frame.index = index
    if dof < rules.model_min_dof:
        symbols = pd.DataFrame(SUPPRESSED, index=index, columns=cols)
        crules = pd.DataFrame(MODEL_DOF, index=index, columns=cols)
        log.append(LogEntry(MODEL_DOF, "suppress", f"residual degrees of freedom below {rules.model_min_dof}: "
                            "every coefficient suppressed"))
    else:
        symbols = pd.DataFrame(np.where(frame.isna(), NOT_APPLICABLE_SYMBOL, ""), index=index, columns=cols)
        crules = pd.DataFrame("", index=index, columns=cols)
        log.append(LogEntry(MODEL_DOF, "checked", f"residual degrees of freedom at least {rules.model_min_dof}"))
    notes = []
    if n is not None:
        shown = rules.round_count(float(n))
        if rules.is_low(n):
            notes.append("Fitted on a small number of observations.")
        else:
            notes.append(f"Fitted on {shown:,.0f} observations" + (" (rounded)." if rules.round_base else "."))
    return CheckedOutput(_SEAL, name=name, title=title, kind="model", data=frame, symbols=symbols, cell_rules=crules,
                         log=log, rules=rules, subtitle=subtitle or "Model coefficients", source=source,
                         units="coefficient", dimensions=(), decimals=decimals, notes=notes, method=method)


def check_model_metrics(metrics: Mapping[str, float], *, n: int, title: str, name: str | None = None,
                        n_events: int | None = None, rules: RuleSet | str | None = None,
                        subtitle: str | None = None, source: str | None = None, decimals: int = 3) -> CheckedOutput:
    """Summary statistics of a model's performance (AUC, Brier score, calibration slope ...).

    Published only when the number of cases ``n`` (and of events, if given) reaches the threshold. Per-person
    values are refused: each metric must be a single number.
    """
    rules = get_rules(rules)
    vals: dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, np.ndarray | pd.Series | list | tuple):
            raise _refuse_individual(f"metric {k!r} holds several values")
        if _INDIVIDUAL.search(str(k)):
            raise _refuse_individual(f"metric {k!r} looks like individual values")
        vals[str(k)] = float(v)
    index = pd.Index(list(vals), dtype=object, name="Measure")
    frame = pd.DataFrame({"Value": list(vals.values())}, index=index)
    small = rules.is_low(n) or (n_events is not None and (rules.is_low(n_events) or rules.is_low(n - n_events)))
    log: list[LogEntry] = []
    if small:
        symbols = pd.DataFrame(SUPPRESSED, index=index, columns=frame.columns)
        crules = pd.DataFrame(MIN_THRESHOLD, index=index, columns=frame.columns)
        log.append(LogEntry(MIN_THRESHOLD, "suppress", f"fewer than {rules.threshold} cases, events or non-events"))
    else:
        symbols = pd.DataFrame("", index=index, columns=frame.columns)
        crules = pd.DataFrame("", index=index, columns=frame.columns)
        log.append(LogEntry(MIN_THRESHOLD, "checked", f"at least {rules.threshold} cases, events and non-events"))
    notes = [] if small else [f"Based on {rules.round_count(float(n)):,.0f} cases"
                              + (" (rounded)." if rules.round_base else ".")]
    return CheckedOutput(_SEAL, name=name, title=title, kind="model", data=frame, symbols=symbols, cell_rules=crules,
                         log=log, rules=rules, subtitle=subtitle or "Model performance", source=source,
                         units="statistic", decimals=decimals, notes=notes, method="model metrics")
