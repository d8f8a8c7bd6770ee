"""An ACRO-compatible output-checking folder (``results.json``) for SACRO-Viewer and output checkers.

:func:`write_results` writes, for a set of checked outputs::

    <folder>/results.json        per output: status, type, properties, files with per-cell masks by check, outcome
                                 (each cell's checks), command, summary, timestamp, comments, exception, fair block,
                                 and this toolkit's full output-check log; survival outputs also carry
                                 ``acro_verdict``, the status ACRO's own ``surv_func`` check gives the same data
    <folder>/<name>.csv          each output's published table ([c] for suppressed cells)
    <folder>/check_log.csv       every log line of every output: rule, ACRO check, row, column, action, reason
    <folder>/config.json         the rule set (and the equivalent ACRO configuration)
    <folder>/checksums/<file>.txt  sha256 of each file, as ACRO writes them

The layout and keys follow ACRO 1.0.2's ``finalise(path, "json")``, so ``acro.record.load_records(folder)`` and
SACRO-Viewer read it. The folder holds only published values and rule decisions, never a suppressed cell's value,
but it says which cells were primary risks, so it is for the output checker, not for publication.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import InputError
from ..files import atomic_dir
from .disclosure import CheckedOutput, LogEntry, _label, require_checked
from .rules import ACRO_SURVIVAL, LINKED_TABLES, RULES
from .survival import ACRO_VERDICT

ACRO_SCHEMA_VERSION = "1.0.2"  # the ACRO release whose results.json layout this follows (load_records checks it)

_STATBARN = {
    "frequency": ("FrequencyTable", "Frequencies", ["ClassDisclosure", "Differencing", "LowCount"]),
    "series": ("LineGraph", "Frequencies", ["ClassDisclosure", "Differencing", "LowCount"]),
    "magnitude": ("Mean", "LinearAggregations", ["Dominance", "Differencing", "LowCount"]),
    "rate": ("RiskRatios", "CalculatedRatios", ["Differencing", "LowCount"]),
    "percentage": ("RiskRatios", "CalculatedRatios", ["Differencing", "LowCount"]),
    "survival": ("KaplanMeier", "HazardSurvivalTables", ["ImplicitTables", "LowDOF"]),
    "model": ("LinearRegressionCoefficients", "CorrelationCoefficients", ["LowDOF"]),
}


def _check_name(rule_id: str) -> str:
    return LogEntry(rule_id, "", "").check


def _rule_sets(out: CheckedOutput) -> np.ndarray:
    cr = out.cell_rules.to_numpy(dtype=object)
    return np.array([[frozenset(r for r in str(v).split(";") if r) for v in row] for row in cr], dtype=object) \
        .reshape(cr.shape)


def _sdc(out: CheckedOutput, sets: np.ndarray) -> dict[str, Any]:
    """ACRO's per-file ``sdc`` block: number of cells and cell positions per check."""
    by_check: dict[str, list[list[int]]] = {}
    for i, j in np.argwhere(np.vectorize(bool)(sets)) if sets.size else []:
        for rule_id in sorted(sets[i, j], key=list(RULES).index):
            by_check.setdefault(_check_name(rule_id), []).append([int(i), int(j)])
    for e in out.log:  # checks that ran without flagging a cell are listed with no cells, as ACRO does
        by_check.setdefault(e.check, [])
    return {"summary": {k: len(v) for k, v in by_check.items()}, "cells": by_check}


def _outcome(out: CheckedOutput, sets: np.ndarray) -> dict[str, dict[str, str]]:
    rows = [_label(r) for r in out.cell_rules.index]
    order = list(RULES)
    res: dict[str, dict[str, str]] = {}
    for j, col in enumerate(out.cell_rules.columns):
        res[_label(col)] = {rows[i]: "".join(f"{_check_name(r)}; " for r in sorted(sets[i, j], key=order.index))
                            or "ok" for i in range(len(rows))}
    return res


def _summary(out: CheckedOutput, linked: list[str]) -> str:
    lines = [f"{out.kind} : "]
    seen: dict[str, None] = {}
    for e in out.log:
        if e.row is None and e.column is None:
            lines.append(f"{e.check}: {e.action} - {e.reason}")
        seen[e.rule] = None
    if linked:
        lines.append(f"{_check_name(LINKED_TABLES)}: review - shares dimensions with {', '.join(linked)}; "
                     "check them together for differencing")
    lines += [f"Review: {r}" for r in out.review]
    return "\n ".join(lines) + "\n"


def acro_verdict(out: CheckedOutput) -> str | None:
    """ACRO's own verdict on a survival output, as its output-check log records it (``None`` for other kinds or when
    the check was not run)."""
    for e in reversed(out.log):
        if e.rule == ACRO_SURVIVAL and e.row is None:
            m = ACRO_VERDICT.match(e.reason)
            if m:
                return m.group("verdict")
    return None


def _linked(outputs: Sequence[CheckedOutput]) -> dict[str, list[str]]:
    res: dict[str, list[str]] = {o.name: [] for o in outputs}
    for a in outputs:
        for b in outputs:
            if a is not b and set(a.dimensions) & set(b.dimensions):
                res[a.name].append(b.name)
    return res


def results_document(outputs: Sequence[CheckedOutput], *, command: str = "") -> dict[str, Any]:
    """The ``results.json`` content for checked outputs (file names ``<name>.csv``)."""
    checked = [require_checked(o, f"output {i + 1}") for i, o in enumerate(outputs)]
    names = [o.name for o in checked]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"outputs share the name(s) {', '.join(dupes)}", hint="give each output a distinct name=")
    linked = _linked(checked)
    stamp = dt.datetime.now().isoformat()
    results: dict[str, Any] = {}
    for o in checked:
        sets = _rule_sets(o)
        analysis, statbarn, risks = _STATBARN.get(o.kind, ("FrequencyTable", "Frequencies", []))
        check_status = {}
        for e in o.log:
            prev = check_status.get(e.check, "pass")
            now = "fail" if e.action in ("suppress", "truncate", "refuse") else ("review" if e.action == "review"
                                                                                 else "pass")
            check_status[e.check] = max(prev, now, key=["pass", "review", "fail"].index)
        results[o.name] = {
            "uid": o.name,
            "status": o.status,
            **({"acro_verdict": acro_verdict(o)} if o.kind == "survival" and acro_verdict(o) else {}),
            "type": "regression" if o.kind == "model" else "table",
            "properties": {"method": o.method, "mitigation": "suppress", "title": o.title, "kind": o.kind,
                           "rule_set": o.rules.name, "sha256_published": o.digest},
            "files": [{"name": f"{o.name}.csv", "sdc": _sdc(o, sets)}],
            "outcome": _outcome(o, sets),
            "command": command or f"bold_prevention.outputs.{o.method}: {o.title}",
            "summary": _summary(o, linked[o.name]),
            "timestamp": stamp,
            "comments": list(o.notes) + [f"Publication note: {o.public_summary()}"],
            "exception": ("Suppression automatically applied where needed" if o.n_suppressed else ""),
            "fair": {"context": "https://w3id.org/statbarnsdc#", "statbarn": statbarn, "analysis": analysis,
                     "risks": risks, "check_status": check_status},
            "log": [e.as_dict() for e in o.log],
        }
    return {"version": ACRO_SCHEMA_VERSION,
            "tool": {"@type": "SoftwareApplication", "name": "bold-prevention", "version": __version__,
                     "follows": f"ACRO {ACRO_SCHEMA_VERSION} results.json"},
            "results": results}


def write_results(outputs: Sequence[CheckedOutput], folder: str | os.PathLike, *, overwrite: bool = False,
                  command: str = "") -> Path:
    """Write the output-checking folder (see module docstring). Refuses an existing folder unless ``overwrite``."""
    doc = results_document(outputs, command=command)
    checked = [require_checked(o) for o in outputs]
    rules = checked[0].rules if checked else None
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        files: dict[str, bytes] = {}
        for o in checked:
            files[f"{o.name}.csv"] = o.csv_text().encode("utf-8")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["output", "rule", "check", "row", "column", "action", "reason"])
        for o in checked:
            for e in o.log:
                w.writerow([o.name, e.rule, e.check, e.row or "", e.column or "", e.action, e.reason])
        files["check_log.csv"] = buf.getvalue().encode("utf-8")
        config = {"rule_sets": {o.rules.name: o.rules.as_dict() for o in checked},
                  "acro_equivalent": rules.to_acro_config() if rules else {}}
        files["config.json"] = json.dumps(config, indent=4, default=str).encode("utf-8")
        files["results.json"] = json.dumps(doc, indent=4, default=str).encode("utf-8")
        (tmp / "checksums").mkdir()
        for fname, content in files.items():
            (tmp / fname).write_bytes(content)
            (tmp / "checksums" / f"{fname}.txt").write_text(hashlib.sha256(content).hexdigest(), encoding="utf-8")
    return Path(folder).absolute()
