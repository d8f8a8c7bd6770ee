"""Cell-key perturbation (the ONS method) as an alternative to suppression and rounding.

Every record carries a *record key* (0-255, fixed for the person: derived from the pseudonymised id, so the same
person adds the same key to every table); a cell's *cell key* is the sum of its records' keys modulo 256; the
perturbation added to a cell is read from a *p-table* by (cell value, cell key). The same cell therefore gets the same
noise in every table and every release, so differencing overlapping tables gives back noise, not people. Counts below
the threshold after perturbation are suppressed.

This follows the Office for National Statistics' ``cell-key-perturbation`` package (``create_perturbed_table``): the
same cell keys (sum of record keys modulo the p-table's key range), the same p-table layout (``pcv``, ``ckey``,
``pvalue``) and the same re-use of p-table rows 501-750 for larger counts; the tests check the two agree on
microdata. Working from cell keys rather than microdata lets aggregated tables (one row per cell with its cell key)
be perturbed too, and totals get their cell keys from their cells (keys add up).

The default p-table perturbs counts from the threshold upwards by -2 to +2 (never below the threshold), chosen by
the cell key with a fixed generator, and sends counts below the threshold to zero; pass your own p-table CSV as the
rule set's ``ptable`` for the ONS one in use at your setting.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

KEY_RANGE = 256
MAX_PCV = 750


@lru_cache(maxsize=8)
def default_ptable(threshold: int = 10, max_noise: int = 2) -> pd.DataFrame:
    """A p-table (``pcv``, ``ckey``, ``pvalue``) for counts 1-750 and cell keys 0-255."""
    rng = np.random.default_rng(20230425)
    pcv = np.repeat(np.arange(1, MAX_PCV + 1), KEY_RANGE)
    ckey = np.tile(np.arange(KEY_RANGE), MAX_PCV)
    offsets = np.arange(-max_noise, max_noise + 1)
    weights = np.exp(-0.5 * (offsets / max(max_noise, 1)) ** 2)
    noise = rng.choice(offsets, size=pcv.size, p=weights / weights.sum())
    noise = np.where(pcv + noise < threshold, 0, noise)  # perturbation never takes a safe count below the threshold
    pvalue = np.where(pcv < threshold, -pcv, noise)
    return pd.DataFrame({"pcv": pcv, "ckey": ckey, "pvalue": pvalue})


def read_ptable(path: str | Path) -> pd.DataFrame:
    p = Path(path)
    try:
        t = pd.read_csv(p)
    except (OSError, ValueError) as e:
        raise InputError(f"p-table {p} cannot be read ({type(e).__name__})",
                         hint="give a CSV file with the columns pcv, ckey and pvalue") from e
    missing = {"pcv", "ckey", "pvalue"} - set(t.columns)
    if missing:
        raise InputError(f"p-table {p} lacks the column(s) {', '.join(sorted(missing))}",
                         hint="give a CSV file with the columns pcv, ckey and pvalue (the ONS layout)")
    return t[["pcv", "ckey", "pvalue"]].astype(int)


def record_keys(ids: pd.Series | np.ndarray) -> np.ndarray:
    """A record key (0-255) for each pseudonymised id: fixed for the id, uniform over the key range."""
    return np.fromiter((hashlib.sha256(str(i).encode()).digest()[0] for i in ids), dtype=np.int64,
                       count=len(ids))


def perturb(counts: np.ndarray, ckeys: np.ndarray, ptable: pd.DataFrame) -> np.ndarray:
    """Counts plus the p-table's perturbation for (pcv, cell key); zero cells stay zero."""
    counts = np.asarray(counts, dtype=np.int64)
    key_range = int(ptable["ckey"].max()) + 1
    ck = np.asarray(ckeys, dtype=np.int64) % key_range
    pcv = np.where(counts <= MAX_PCV, counts, ((counts - 1) % 250) + 501)
    lut = np.zeros((MAX_PCV + 1, key_range), dtype=np.int64)
    lut[ptable["pcv"].to_numpy(), ptable["ckey"].to_numpy()] = ptable["pvalue"].to_numpy()
    return counts + lut[np.clip(pcv, 0, MAX_PCV), ck]
