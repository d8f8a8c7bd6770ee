"""Export the register: the annex's Step A CSV, and an accessible spreadsheet in the GSS style.

CSV: one row per entry x measure x candidate variable, with the dataset, its catalogue file, the variable's
description, whether the derivation reads it, the linkage route from the variable's table to a person, the entry's
linkage needs and notes, and the replacement sources.

XLSX (gptables 2.0.2, following the Government Analysis Function spreadsheet guidance): a cover sheet, a contents
sheet, a notes sheet, and one table per sheet (entries, candidate variables, derivations, replacement sources).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pandas as pd

from ..datafirst import MODEL, Table
from ..errors import InputError
from ..files import atomic_path
from .model import Register

STEP_A_COLUMNS = [
    "register_version", "entry_id", "entry_name", "kind", "operational_definition", "preferred_measure",
    "fallback_proxy", "measure", "role", "dataset", "dataset_title", "catalogue_file", "wave", "table", "variable",
    "variable_description", "used_in_derivation", "derivation_rule", "linkage_route", "linkage_quality",
    "linkage_needs", "time_coverage", "expected_missingness", "bias_notes", "coverage_notes", "candidate_note",
    "replacement_sources",
]


def linkage_route(table: Table | str) -> str:
    """How a table's rows reach a person: directly through XJS, through a parent table, or through case parties."""
    t = MODEL.table(table) if isinstance(table, str) else table
    if t.xjs_source:
        return f"XJS: source_dataset = {t.xjs_source}, on {t.record_id}"
    for fk in t.foreign_keys:
        parent = MODEL.table(fk.ref_table)
        cols = ", ".join(fk.columns)
        if parent.xjs_source:
            return f"{parent.name} on {cols}, then XJS ({parent.xjs_source})"
        if parent.record_id:
            return f"{parent.name} on {cols} ({parent.record_id}); outside XJS: linked on identifiers"
    for parties in MODEL.tables:
        for fk in parties.foreign_keys:
            if fk.ref_table == t.name and parties.xjs_source:
                return f"{parties.name} on {', '.join(fk.columns)} (each party), then XJS ({parties.xjs_source})"
    for fk in t.foreign_keys:
        parent = MODEL.table(fk.ref_table)
        for parties in MODEL.tables:
            for pfk in parties.foreign_keys:
                if pfk.ref_table == parent.name and parties.xjs_source:
                    return (f"{parent.name} on {', '.join(fk.columns)}, then {parties.name} (each party), then XJS "
                            f"({parties.xjs_source})")
    if t.record_id:
        return f"outside XJS: linked on identifiers ({t.record_id})"
    return "no person route"


def _linkage_quality(dataset: str) -> str:
    d = MODEL.dataset(dataset)
    if d.wave:
        return f"Wave {d.wave} linkage (outside Data First)"
    return "weaker identifiers (family/civil): use linkage bands" if d.weak_identifiers else "strong identifiers"


def _rule(entry) -> str:
    der = entry.derivation
    head = f"{der.kind}" + (f" >= {der.threshold:g}" if der.threshold is not None else "") + f", combine {der.combine}"
    parts = []
    for ev in der.evidence:
        when = f"{ev.when} {ev.lookback_months}m" if ev.when == "window" else ev.when
        parts.append(f"{ev.table} [{when}]: {ev.expression}")
    return head + ": " + " | ".join(parts)


def step_a_frame(register: Register) -> pd.DataFrame:
    """The Step A register table: one row per entry x measure x candidate variable."""
    rows = []
    for e in register.entries:
        used = e.derivation_variables()
        rule = _rule(e)
        sources = "; ".join(f"Wave {s.wave}: {s.source} ({s.measure})" for s in e.replacement_sources)
        for c in e.candidates:
            d = MODEL.dataset(c.dataset)
            t = MODEL.table(c.table)
            rows.append({
                "register_version": register.version, "entry_id": e.id, "entry_name": e.name, "kind": e.kind,
                "operational_definition": e.definition, "preferred_measure": e.preferred_measure,
                "fallback_proxy": e.fallback_proxy, "measure": c.measure, "role": c.role, "dataset": c.dataset,
                "dataset_title": d.title, "catalogue_file": d.catalogue_file or "", "wave": d.wave,
                "table": c.table, "variable": c.variable, "variable_description": t.column(c.variable).description,
                "used_in_derivation": (c.table, c.variable) in used, "derivation_rule": rule,
                "linkage_route": linkage_route(t), "linkage_quality": _linkage_quality(c.dataset),
                "linkage_needs": e.linkage_needs, "time_coverage": e.time_coverage,
                "expected_missingness": e.expected_missingness, "bias_notes": e.bias_notes,
                "coverage_notes": e.coverage_notes, "candidate_note": c.note, "replacement_sources": sources,
            })
    return pd.DataFrame(rows, columns=STEP_A_COLUMNS)


def entries_frame(register: Register) -> pd.DataFrame:
    return pd.DataFrame([{
        "Entry": e.id, "Name": e.name, "Kind": e.kind, "Operational definition": e.definition,
        "Preferred measure": e.preferred_measure, "Fallback proxy": e.fallback_proxy,
        "Time coverage": e.time_coverage, "Expected missingness": e.expected_missingness,
        "Linkage needs": e.linkage_needs, "Bias notes": e.bias_notes, "Coverage notes": e.coverage_notes,
    } for e in register.entries])


def derivations_frame(register: Register) -> pd.DataFrame:
    rows = []
    for e in register.entries:
        for i, ev in enumerate(e.derivation.evidence, start=1):
            rows.append({
                "Entry": e.id, "Derivation kind": e.derivation.kind,
                "Threshold": "[x]" if e.derivation.threshold is None else f"{e.derivation.threshold:g}",
                "Combine": e.derivation.combine, "Evidence number": i, "Table": ev.table,
                "Expression": ev.expression, "Variables": ", ".join(ev.variables), "When": ev.when,
                "Lookback (months)": "[x]" if ev.lookback_months is None else str(ev.lookback_months),
            })
    return pd.DataFrame(rows)


def sources_frame(register: Register) -> pd.DataFrame:
    return pd.DataFrame([{"Entry": e.id, "Wave": s.wave, "Source": s.source, "Owner": s.owner or "[x]",
                          "Measure": s.measure} for e in register.entries for s in e.replacement_sources])


def export(register: Register, path: str | os.PathLike, format: Literal["csv", "xlsx"] | None = None, *,
           overwrite: bool = True) -> Path:
    """Write the register as the Step A CSV or the GSS-style XLSX (format from the suffix if not given)."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "xlsx"):
        raise InputError(f"cannot export the register as {fmt or 'a file without a suffix'!r}",
                         hint="use --format csv or --format xlsx (or an output name ending .csv or .xlsx)")
    if fmt == "csv":
        with atomic_path(path, overwrite=overwrite) as tmp:
            step_a_frame(register).to_csv(tmp, index=False, encoding="utf-8")
        return path
    with atomic_path(path, overwrite=overwrite) as tmp:
        _write_xlsx(register, tmp)
    return path


NOT_APPLICABLE = "[x] = not applicable"


def _write_xlsx(register: Register, path: Path) -> None:
    import gptables as gpt

    step_a = step_a_frame(register)
    candidates = step_a[["entry_id", "measure", "role", "dataset", "table", "variable", "variable_description",
                         "used_in_derivation", "linkage_route", "linkage_quality", "candidate_note"]].copy()
    candidates["used_in_derivation"] = candidates["used_in_derivation"].map({True: "Yes", False: "No"})
    candidates.columns = ["Entry", "Measure", "Role", "Dataset", "Table", "Variable", "Variable description",
                          "Used in derivation", "Linkage route", "Linkage quality", "Note"]
    candidates["Note"] = candidates["Note"].replace("", "[x]")
    src = "Source: BOLD Prevention risk factor register, version " + register.version
    sheets = {
        "Entries": gpt.GPTable(
            table=entries_frame(register), table_name="register_entries",
            title="Risk factor register: drivers and outcomes",
            subtitles=["Operational definitions, measures, coverage, linkage needs and bias notes $$proxies$$"],
            scope="BOLD Prevention Step A", source=src),
        "Candidate_variables": gpt.GPTable(
            table=candidates, table_name="register_candidates",
            title="Risk factor register: candidate Data First variables by driver and outcome",
            subtitles=["One row per entry, measure and candidate variable $$linkage_bands$$"],
            legend=[NOT_APPLICABLE], scope="BOLD Prevention Step A", source=src),
        "Derivations": gpt.GPTable(
            table=derivations_frame(register), table_name="register_derivations",
            title="Risk factor register: derivation rules $$portable_sql$$",
            subtitles=["Portable SQL expressions the spine evaluates per person as at a date"],
            legend=[NOT_APPLICABLE], scope="BOLD Prevention Step A", source=src),
        "Replacement_sources": gpt.GPTable(
            table=sources_frame(register), table_name="register_replacement_sources",
            title="Risk factor register: Wave 1 to 3 sources that replace the proxies",
            subtitles=["Linkage waves follow annex A5"], legend=[NOT_APPLICABLE], scope="BOLD Prevention Step A",
            source=src),
    }
    cover = gpt.Cover(
        cover_label="Cover",
        title="BOLD Prevention risk factor register",
        intro=[f"Version {register.version}, updated {register.updated}.",
               "Drivers and outcomes of System Challenge K mapped to measures, candidate Data First variables, "
               "derivation rules and linkage needs (Step A of the BOLD Prevention pipeline)."],
        about=[[{"bold": True}, "Source"], register.source or "Annex A3.1 and the Data First catalogues.",
               [{"bold": True}, "Notes"],
               "Some cells refer to notes which can be found in the notes worksheet."],
        contact=["Produced with the BOLD Prevention toolkit (`bold register export`)."],
    )
    notes = pd.DataFrame({
        "Note reference": ["proxies", "linkage_bands", "portable_sql"],
        "Note text": [
            "Data First measures are proxies; the preferred measures need the Wave 1 to 3 linkage listed.",
            "Family and civil court datasets have weaker identifiers; results should be tested across linkage "
            "bands.",
            "Expressions are checked with sqlglot to run on DuckDB, Spark and Trino; each reads one table.",
        ],
    })
    gpt.write_workbook(filename=str(path), sheets=sheets, cover=cover, notes_table=notes,
                       contentsheet_options={"additional_elements": ["subtitles", "scope"]})
