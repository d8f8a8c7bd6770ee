"""A tidy long-format table of a release: one row per published or unpublished cell of every checked output.

The GSS workbook and ``output-checking/*.csv`` hold wide tables with ``[c]`` and ``[z]`` in numeric columns, which is
right for readers of a spreadsheet and awkward for R, pandas or a database. :func:`tidy_frame` turns checked outputs
into one frame with these columns:

``table``, ``title``, ``kind``
    the output's name (as in ``results.json``), its title and kind (``frequency``, ``rate``, ``survival`` ...);
one column per dimension
    named after the dimension (snake case: ``sex``, ``age_band``, ``driver``, ``time_days``), holding the cell's
    category (``Total`` on a total row); empty where a table has no such dimension;
``measure``, ``unit``
    what the value is (``Persons``, ``Percentage``, ``Survival``, ``Lower 95% CI`` ...) and its unit;
``value``
    the published number; **empty (NA) whenever the cell is not published**, so it is always numeric;
``status``
    ``published``, ``suppressed`` (``[c]`` in the wide tables) or ``not_applicable`` (``[z]``);
``rule``
    for a suppressed cell, the rules that may suppress cells of that kind of table (the same for every suppressed
    cell of it: saying which cells were small, as opposed to suppressed to protect them, would disclose them);
    ``not-applicable`` for ``[z]``; ``rounding`` for a published count that is rounded; empty otherwise.

:func:`write_tidy` writes it as ``tables-long.csv`` (UTF-8, empty for NA) and ``tables-long.parquet``. See
``docs/outputs.md`` for reading them in R (``readr``, ``arrow``) and pandas.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..files import atomic_path
from .disclosure import (
    NOT_APPLICABLE_SYMBOL,
    SUPPRESSED,
    CheckedOutput,
    _label,
    require_checked,
    unit_heading,
)
from .rules import (
    DERIVED,
    MIN_THRESHOLD,
    MODEL_DOF,
    NK_DOMINANCE,
    P_RATIO,
    ROUNDING,
    SECONDARY,
    SURVIVAL_AT_RISK,
    SURVIVAL_EVENTS,
)

__all__ = ["tidy_frame", "write_tidy", "FIXED_COLUMNS", "TIDY_STEM"]

FIXED_COLUMNS = ("table", "title", "kind", "measure", "unit", "value", "status", "rule")
TIDY_STEM = "tables-long"

#: What may suppress a cell of each kind of table: published for every suppressed cell of the kind alike.
SUPPRESSION_RULES = {
    "frequency": f"{MIN_THRESHOLD};{SECONDARY}",
    "series": f"{MIN_THRESHOLD};{DERIVED}",
    "magnitude": f"{MIN_THRESHOLD};{NK_DOMINANCE};{P_RATIO};{SECONDARY}",
    "rate": DERIVED,
    "percentage": DERIVED,
    "survival": f"{SURVIVAL_AT_RISK};{SURVIVAL_EVENTS};{MIN_THRESHOLD}",
    "model": MODEL_DOF,
}
_STATUS = {"": "published", SUPPRESSED: "suppressed", NOT_APPLICABLE_SYMBOL: "not_applicable"}


def _snake(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return s if s and not s[0].isdigit() else f"d_{s}"


def _dim_columns(names: Sequence[object], prefix: str) -> list[str]:
    out = []
    for k, n in enumerate(names):
        base = _snake(str(n)) if n else (prefix if len(names) == 1 else f"{prefix}_{k + 1}")
        out.append(f"{base}_dim" if base in FIXED_COLUMNS else base)
    return out


def _text(v: object) -> str:
    if isinstance(v, float) and np.isfinite(v):
        return f"{v:.0f}" if v.is_integer() else repr(v)
    return str(v)


def _one(out: CheckedOutput) -> tuple[list[str], list[dict[str, object]]]:
    data, syms = out.data, out.symbols.to_numpy(dtype=object)
    vals = data.to_numpy(dtype=float)
    row_dims = _dim_columns(list(data.index.names), "category")
    cols_are_dims = any(n for n in data.columns.names)
    col_dims = _dim_columns(list(data.columns.names), "column") if cols_are_dims else []
    unit = unit_heading(out.units)
    rounded = out.kind in ("frequency", "series") and (out.units or "count") == "count" and bool(out.rules.round_base)
    records = []
    for i, r in enumerate(data.index):
        rkey = r if isinstance(r, tuple) else (r,)
        for j, c in enumerate(data.columns):
            ckey = c if isinstance(c, tuple) else (c,)
            sym = syms[i, j] if syms[i, j] in _STATUS else SUPPRESSED
            status = _STATUS[sym]
            rec: dict[str, object] = {"table": out.name, "title": out.title, "kind": out.kind}
            rec.update({d: _text(v) for d, v in zip(row_dims, rkey, strict=True)})
            if cols_are_dims:
                rec.update({d: _text(v) for d, v in zip(col_dims, ckey, strict=True)})
                measure = unit
            else:
                measure = _label(c) or unit
            rule = (SUPPRESSION_RULES.get(out.kind, MIN_THRESHOLD) if status == "suppressed"
                    else "not-applicable" if status == "not_applicable" else (ROUNDING if rounded else ""))
            rec.update({"measure": measure, "unit": unit, "value": vals[i, j] if status == "published" else np.nan,
                        "status": status, "rule": rule})
            records.append(rec)
    return row_dims + col_dims, records


def tidy_frame(outputs: Sequence[CheckedOutput]) -> pd.DataFrame:
    """The long-format table of checked outputs (see the module docstring for the columns)."""
    checked = [require_checked(o, f"output {k + 1}") for k, o in enumerate(outputs)]
    if not checked:
        raise InputError("no checked outputs to write as a long table", hint="pass at least one checked output")
    dims: dict[str, None] = {}
    records: list[dict[str, object]] = []
    for o in checked:
        d, recs = _one(o)
        dims.update(dict.fromkeys(d))
        records.extend(recs)
    columns = ["table", "title", "kind", *dims, "measure", "unit", "value", "status", "rule"]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for d in dims:
        frame[d] = frame[d].astype("string")
    for c in ("table", "title", "kind", "measure", "unit", "status", "rule"):
        frame[c] = frame[c].astype("string")
    frame["value"] = frame["value"].astype("float64")
    return frame


def write_tidy(outputs: Sequence[CheckedOutput], folder: str | os.PathLike, *, stem: str = TIDY_STEM,
               overwrite: bool = False) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` and ``<stem>.parquet`` into ``folder`` (atomically); returns both paths."""
    frame = tidy_frame(outputs)
    folder = Path(folder)
    csv_path, pq_path = folder / f"{stem}.csv", folder / f"{stem}.parquet"
    with atomic_path(csv_path, overwrite=overwrite) as tmp:
        frame.to_csv(tmp, index=False, na_rep="", encoding="utf-8", lineterminator="\n")
    with atomic_path(pq_path, overwrite=overwrite) as tmp:
        frame.to_parquet(tmp, index=False)
    return csv_path.absolute(), pq_path.absolute()
