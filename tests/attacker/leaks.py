"""Attack d: what the output-checking files of a release say about suppressed cells.

``output-checking/check_log.csv`` and ``results.json`` are written for the output checker, but they sit in the release
folder. Where they name the rule that suppressed a cell, an intruder holding the folder learns that a cell is a true
zero (``zeros`` rule: the value exactly) or below the threshold (``min-threshold``: the value in ``[lb, t - 1]``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

from .findings import Finding
from .lp import suppressed_lower
from .reader import SUPPRESSED, Release, _checking_folder


def checker_files_attack(releases: Release | Iterable[Release]) -> list[Finding]:
    rels = [releases] if isinstance(releases, Release) else list(releases)
    out: list[Finding] = []
    for rel in rels:
        path = _checking_folder(rel.folder) / "check_log.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh):
                t = rel.tables.get(rec.get("output", ""))
                if t is None or rec.get("action") != "suppress" or not t.is_count:
                    continue
                row, col = rec.get("row") or "", rec.get("column") or ""
                if row not in t.rows:
                    continue
                # a one-way table's log names no column: its only column
                if col not in t.cols:
                    if len(t.cols) != 1:
                        continue
                    col = t.cols[0]
                if t.status[t.rows.index(row), t.cols.index(col)] != SUPPRESSED:
                    continue
                if rec.get("rule") == "zeros":
                    out.append(Finding(rel.id, t.name, row, col, 0.0, 0.0, "checker-files", "logged as a zero"))
                elif rec.get("rule") == "min-threshold":
                    thr = float(t.rules.get("threshold", 1))
                    out.append(Finding(rel.id, t.name, row, col, suppressed_lower(t.rules), thr - 1,
                                       "checker-files", "logged as below the threshold"))
    # a cell logged under both rules keeps the narrower bound
    best: dict[tuple, Finding] = {}
    for f in out:
        if f.key not in best or f.width < best[f.key].width:
            best[f.key] = f
    return list(best.values())
