"""Read the published tables of release folders into a neutral form.

Only published files are read: ``output-checking/<name>.csv`` (the tables, ``[c]`` suppressed, ``[z]`` not
applicable), ``results.json`` (each output's title and kind, to know which tables are counts, rates or survival
curves) and ``config.json`` (the rule set that the release says it applied). Nothing is imported from the toolkit.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PUBLISHED, SUPPRESSED, NOT_APPLICABLE = "p", "c", "z"
TOTAL = "Total"

# The toolkit's defaults, used when a release's config.json does not say (an intruder would read the docs).
DEFAULT_RULES = {"threshold": 10, "round_base": 5, "zeros_disclosive": True, "secondary": True,
                 "survival_min_at_risk": 10, "rate_decimals": 1}


@dataclass
class Table:
    """One published table: labels, published values (NaN where not published) and each cell's status."""

    release: str
    name: str
    title: str
    kind: str                      # frequency, series, rate, percentage, survival, magnitude, model ...
    rows: list[str]                # row labels (index levels joined with " / ")
    row_parts: list[tuple[str, ...]]
    cols: list[str]
    values: np.ndarray             # (R, C) float, NaN unless published
    status: np.ndarray             # (R, C) "p" | "c" | "z"
    text: np.ndarray               # (R, C) the cell as printed
    rules: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    @property
    def is_count(self) -> bool:
        method = str(self.meta.get("properties", {}).get("method", ""))
        return self.kind == "frequency" or (self.kind == "series" and "rate" not in method)

    @property
    def total_row(self) -> int | None:
        if self.rows and all(p == TOTAL for p in self.row_parts[-1]):
            return len(self.rows) - 1
        return None

    @property
    def total_col(self) -> int | None:
        if len(self.cols) > 1 and self.cols[-1] == TOTAL:
            return len(self.cols) - 1
        return None

    def decimals(self, j: int | None = None) -> int:
        """Decimal places the publisher rounded to: the most digits after the point seen (in a column or anywhere)."""
        cells = self.text[:, j] if j is not None else self.text.ravel()
        best = 0
        for s in cells:
            if self_is_number(s) and "." in s:
                best = max(best, len(s.split(".", 1)[1].rstrip()))
        return best

    def key(self, i: int, j: int) -> tuple[str, str, str, str]:
        return (self.release, self.name, self.rows[i], self.cols[j])


def self_is_number(s: str) -> bool:
    try:
        float(s.replace(",", ""))
    except ValueError:
        return False
    return True


@dataclass
class Release:
    id: str
    folder: Path
    tables: dict[str, Table]
    rule_sets: dict[str, dict[str, Any]]


def _checking_folder(folder: Path) -> Path:
    if (folder / "results.json").exists():
        return folder
    if (folder / "output-checking" / "results.json").exists():
        return folder / "output-checking"
    raise FileNotFoundError(f"no results.json in {folder} or {folder / 'output-checking'}")


def _parse(cell: str) -> tuple[float, str]:
    s = cell.strip()
    if s == "[c]":
        return math.nan, SUPPRESSED
    if s in ("[z]", "", "[x]"):
        return math.nan, NOT_APPLICABLE
    try:
        return float(s.replace(",", "")), PUBLISHED
    except ValueError:
        return math.nan, NOT_APPLICABLE


def load_release(folder: str | Path, release_id: str | None = None) -> Release:
    """Every table of one release folder (the folder itself, or the folder holding ``output-checking/``)."""
    folder = Path(folder)
    chk = _checking_folder(folder)
    rid = release_id or (folder.name if folder.name != "output-checking" else folder.parent.name)
    doc = json.loads((chk / "results.json").read_text(encoding="utf-8"))
    config_path = chk / "config.json"
    rule_sets: dict[str, dict[str, Any]] = {}
    if config_path.exists():
        rule_sets = json.loads(config_path.read_text(encoding="utf-8")).get("rule_sets", {})
    tables: dict[str, Table] = {}
    for name, res in doc.get("results", {}).items():
        props = res.get("properties", {})
        files = [f["name"] for f in res.get("files", []) if str(f.get("name", "")).endswith(".csv")]
        path = chk / (files[0] if files else f"{name}.csv")
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            lines = list(csv.reader(fh))
        if not lines:
            continue
        header = lines[0]
        n_cols = len(res.get("outcome", {})) or (len(header) - 1)
        n_idx = max(1, len(header) - n_cols)
        cols = header[n_idx:]
        rows, parts, vals, stat, text = [], [], [], [], []
        for line in lines[1:]:
            if not line:
                continue
            p = tuple(line[:n_idx])
            parts.append(p)
            rows.append(" / ".join(dict.fromkeys(x for x in p if x != "")) or "")
            parsed = [_parse(c) for c in line[n_idx:]]
            vals.append([v for v, _ in parsed])
            stat.append([s for _, s in parsed])
            text.append([c.strip() for c in line[n_idx:]])
        rules = dict(DEFAULT_RULES)
        rules.update(rule_sets.get(props.get("rule_set", ""), {}))
        tables[name] = Table(release=rid, name=name, title=str(props.get("title", name)),
                             kind=str(props.get("kind", "frequency")), rows=rows, row_parts=parts, cols=cols,
                             values=np.array(vals, dtype=float).reshape(len(rows), len(cols)),
                             status=np.array(stat, dtype=object).reshape(len(rows), len(cols)),
                             text=np.array(text, dtype=object).reshape(len(rows), len(cols)), rules=rules, meta=res)
    return Release(rid, folder, tables, rule_sets)


def load_releases(folders: list[str | Path] | dict[str, str | Path]) -> list[Release]:
    """Several releases; a mapping gives each its id."""
    if isinstance(folders, dict):
        return [load_release(f, rid) for rid, f in folders.items()]
    return [load_release(f) for f in folders]


def truth_values(folder: str | Path, release_id: str) -> dict[tuple[str, str, str, str], float]:
    """The cell values of a release built with a permissive rule set (nothing suppressed, nothing rounded), keyed
    like findings: (release id, table, row, column). Used by tests only, to judge findings."""
    rel = load_release(folder, release_id)
    out: dict[tuple[str, str, str, str], float] = {}
    for t in rel.tables.values():
        for i in range(t.shape[0]):
            for j in range(t.shape[1]):
                if t.status[i, j] == PUBLISHED:
                    out[t.key(i, j)] = float(t.values[i, j])
    return out
