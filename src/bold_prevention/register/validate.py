"""Check the register against the loaded catalogues, and suggest variables it does not yet use.

:func:`validate` reports every variable the register references (candidates and derivation inputs) that is not in
the loaded catalogue, with the nearest names (difflib) from the same table (or dataset), and warns where a variable
is present but its catalogue description shares little with the meaning the register relies on (a sign that a
name means something else in this catalogue version). Datasets with no published Data First catalogue (the Wave 1
and Wave 3 sources) are listed as not checked.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import pandas as pd

from ..catalogue.search import CatalogueIndex, SearchHit, tokens
from ..datafirst import MODEL
from .model import Register


@dataclass(frozen=True)
class Finding:
    entry: str
    dataset: str
    table: str
    variable: str
    used_in: str  # candidate | derivation | candidate, derivation
    problem: str  # missing_variable | missing_table | dataset_not_loaded | description_differs
    detail: str
    nearest: tuple[str, ...] = ()


@dataclass
class ValidationReport:
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0
    not_checked: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[Finding]:
        return [f for f in self.findings if f.problem != "description_differs"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.problem == "description_differs"]

    @property
    def ok(self) -> bool:
        return not self.missing

    def frame(self) -> pd.DataFrame:
        cols = ["entry", "dataset", "table", "variable", "used_in", "problem", "detail", "nearest"]
        return pd.DataFrame([{**{c: getattr(f, c) for c in cols[:-1]}, "nearest": ", ".join(f.nearest)}
                             for f in self.findings], columns=cols)


def _catalogue_frame(catalogue) -> pd.DataFrame:
    frame = getattr(catalogue, "variables", catalogue)
    if isinstance(frame, CatalogueIndex):
        frame = frame.frame
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("catalogue must be a Catalogue, a CatalogueIndex or a DataFrame of variables")
    return frame


def _similarity(a: str, b: str) -> float:
    ta, tb = set(tokens(a)), set(tokens(b))
    if not ta or not tb:
        return 1.0
    return len(ta & tb) / min(len(ta), len(tb))


#: Below this share of shared words (of the shorter description) a present variable gets a warning.
DESCRIPTION_OVERLAP = 0.25


def validate(register: Register, catalogue) -> ValidationReport:
    """Every register variable missing from ``catalogue`` (with nearest candidates), plus description warnings."""
    frame = _catalogue_frame(catalogue)
    report = ValidationReport()
    loaded = set(frame["dataset"].astype(str))
    by_table: dict[str, dict[str, str]] = {}
    for t, v, d in zip(frame["table_name"].astype(str), frame["variable"].astype(str),
                       frame["description"].fillna("").astype(str), strict=True):
        by_table.setdefault(t.lower(), {})[v.lower()] = d
    tables_by_dataset: dict[str, list[str]] = {}
    for ds, t in zip(frame["dataset"].astype(str), frame["table_name"].astype(str), strict=True):
        tables_by_dataset.setdefault(ds, [])
        if t not in tables_by_dataset[ds]:
            tables_by_dataset[ds].append(t)
    catalogued = {d.key for d in MODEL.datasets if d.catalogue_file}
    not_checked: set[str] = set()

    for entry in register.entries:
        refs: dict[tuple[str, str, str], set[str]] = {}
        for c in entry.candidates:
            refs.setdefault((c.dataset, c.table, c.variable), set()).add("candidate")
        for ev in entry.derivation.evidence:
            ds = MODEL.table(ev.table).dataset
            for v in ev.variables:
                refs.setdefault((ds, ev.table, v), set()).add("derivation")
        for (ds, table, var), used in refs.items():
            used_in = ", ".join(sorted(used))
            if ds not in catalogued:
                not_checked.add(ds)
                continue
            report.checked += 1
            if ds not in loaded:
                report.findings.append(Finding(entry.id, ds, table, var, used_in, "dataset_not_loaded",
                                               f"no catalogue for dataset {ds!r} is loaded"))
                continue
            variables = by_table.get(table.lower())
            if variables is None:
                near_t = difflib.get_close_matches(table, tables_by_dataset.get(ds, []), n=3, cutoff=0.5)
                report.findings.append(Finding(entry.id, ds, table, var, used_in, "missing_table",
                                               f"table {table!r} is not in the {ds} catalogue", tuple(near_t)))
                continue
            if var.lower() not in variables:
                near = difflib.get_close_matches(var.lower(), list(variables), n=3, cutoff=0.6)
                report.findings.append(Finding(entry.id, ds, table, var, used_in, "missing_variable",
                                               f"{table}.{var} is not in the loaded catalogue", tuple(near)))
                continue
            model_desc = MODEL.table(table).column(var).description if table in MODEL.table_names and \
                var in MODEL.table(table).column_names else ""
            cat_desc = variables[var.lower()]
            if model_desc and cat_desc and _similarity(model_desc, cat_desc) < DESCRIPTION_OVERLAP:
                report.findings.append(Finding(
                    entry.id, ds, table, var, used_in, "description_differs",
                    f"the catalogue describes {var} as {cat_desc!r}; the register relies on {model_desc!r}"))
    report.not_checked = sorted(not_checked)
    return report


def suggest(register: Register, entry_id: str, catalogue, *, limit: int = 20) -> list[SearchHit]:
    """Catalogue variables matching an entry's vocabulary that the entry does not list yet, best first."""
    entry = register.entry(entry_id)
    index = catalogue if isinstance(catalogue, CatalogueIndex) else CatalogueIndex(_catalogue_frame(catalogue))
    existing = [(c.table, c.variable) for c in entry.candidates]
    vocab = index.vocabulary
    if entry.id in vocab.drivers:
        return index.search("", driver=entry.id, limit=limit, exclude=existing)
    if entry.id in vocab.outcomes:
        return index.search("", outcome=entry.id, limit=limit, exclude=existing)
    vocab.entry(entry.id)  # raises: no vocabulary for this entry
    return []
