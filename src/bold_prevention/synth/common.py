"""Small vectorised helpers shared by the generator: random streams, dates as day numbers, ids, coded columns."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

#: Dates are int32 day numbers since 1970-01-01; NA marks a missing date.
NA = np.int32(np.iinfo(np.int32).min)
EPOCH = date(1970, 1, 1)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def rng_for(seed: int, stage: str) -> np.random.Generator:
    """An independent random stream for one stage (stable across runs and Python versions)."""
    return np.random.default_rng([int(seed), zlib.crc32(stage.encode())])


def day(d: date) -> int:
    """Day number of a date."""
    return (d - EPOCH).days


def year_start(y: np.ndarray | int) -> np.ndarray:
    """Day number of 1 January of each year."""
    return (np.asarray(y, dtype="int64") - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int32)


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of each day number."""
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int32) + 1970


def age_at(dob: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Completed years of age (exact to the day)."""
    d = dob.astype("datetime64[D]")
    w = when.astype("datetime64[D]")
    yd = d.astype("datetime64[Y]")
    yw = w.astype("datetime64[Y]")
    years = (yw - yd).astype(np.int32)
    md_d = _month_day(d)
    md_w = _month_day(w)
    return (years - (md_w < md_d)).astype(np.int16)


def _month_day(d: np.ndarray) -> np.ndarray:
    m = d.astype("datetime64[M]")
    month = (m - m.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int32)
    dd = (d - m.astype("datetime64[D]")).astype(np.int32)
    return month * 32 + dd


def add_years(days: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    """Add whole years to day numbers (29 February becomes 1 March where needed)."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dd = (d - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + np.asarray(years, dtype=np.int64) * 12
    out = m2.astype("datetime64[D]") + dd
    return out.astype(np.int32)


def date_array(days: np.ndarray) -> pa.Array:
    """A date32 Arrow array from day numbers (NA becomes null)."""
    days = np.asarray(days, dtype=np.int32)
    mask = days == NA
    return pa.array(np.where(mask, 0, days), type=pa.int32(), mask=mask if mask.any() else None).cast(pa.date32())


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection on 64-bit integers (distinct inputs give distinct outputs)."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def hex_ids(index: np.ndarray, salt: str, seed: int, *, prefix: str = "", width: int = 16) -> pa.Array:
    """Hash-like string ids (``width`` hex digits), unique for distinct ``index`` values within one salt."""
    idx = np.asarray(index, dtype=np.uint64)
    key = mix64(np.array([(zlib.crc32(salt.encode()) << 32) | (int(seed) & 0xFFFFFFFF)], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        v = mix64(idx + key)  # distinct indices give distinct ids within a salt
    nib = (v[:, None] >> (np.arange(15, -1, -1, dtype=np.uint64) * np.uint64(4))) & np.uint64(15)
    chars = _HEX[nib.astype(np.intp)][:, 16 - width:]
    if prefix:
        p = np.frombuffer(prefix.encode(), dtype=np.uint8)
        chars = np.concatenate([np.broadcast_to(p, (len(idx), len(p))), chars], axis=1)
    chars = np.ascontiguousarray(chars)
    return pa.array(chars.view(f"S{chars.shape[1]}").ravel()).cast(pa.string())


def numbered_ids(index: np.ndarray, prefix: str, width: int) -> pa.Array:
    """Zero-padded numbered ids such as ``P00000042``."""
    idx = np.asarray(index, dtype=np.int64)
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = _DIGITS[(idx[:, None] // pows) % 10]
    p = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars = np.ascontiguousarray(np.concatenate([np.broadcast_to(p, (len(idx), len(p))), digits], axis=1))
    return pa.array(chars.view(f"S{chars.shape[1]}").ravel()).cast(pa.string())


def coded(idx: np.ndarray, codes: Sequence[str]) -> pa.Array:
    """A string array from code indices (negative index = null)."""
    idx = np.asarray(idx)
    mask = idx < 0
    ind = pa.array(np.where(mask, 0, idx).astype(np.int32), mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(ind, pa.array(list(codes), pa.string())).cast(pa.string())


def choose(rng: np.random.Generator, probs: Sequence[float], n: int) -> np.ndarray:
    """``n`` draws of category indices with fixed probabilities."""
    p = np.asarray(probs, dtype=float)
    c = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(c, rng.random(n), side="right"), len(p) - 1).astype(np.int16)


def choose_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category index per row of a (rows x categories) matrix of non-negative weights."""
    c = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * c[:, -1]
    return np.minimum((c < u[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int16)


def mixture(rng: np.random.Generator, cond: np.ndarray, p_true: Sequence[float], p_false: Sequence[float]) -> np.ndarray:
    """Category index per row, drawn from ``p_true`` where ``cond`` else from ``p_false``."""
    a = choose(rng, p_true, len(cond))
    b = choose(rng, p_false, len(cond))
    return np.where(cond, a, b)


def uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniform day in [lo, hi] per row (hi >= lo)."""
    span = (np.asarray(hi, dtype=np.int64) - lo + 1).clip(1)
    return (lo + (rng.random(len(span)) * span).astype(np.int64)).astype(np.int32)


def explode(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts per parent, the parent index of each child and the child's ordinal within its parent."""
    counts = np.asarray(counts, dtype=np.int64)
    parent = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    ordinal = np.arange(len(parent)) - starts[parent]
    return parent, ordinal


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Frame:
    """Columns of one table as produced by the generator, before rendering to Arrow.

    ``columns`` hold numpy arrays (day numbers for dates, NA for missing) or Arrow arrays (strings). For person
    tables, ``person`` is the true person index of each row, ``when`` the day the record describes (for identifiers
    and addresses) and ``group`` the identifier quality group.
    """

    table: str
    columns: dict[str, object] = field(default_factory=dict)
    person: np.ndarray | None = None
    when: np.ndarray | None = None
    group: str | None = None
    #: Rows that are not persons (companies in civil parties): excluded from XJS and the truth.
    non_person: np.ndarray | None = None
    #: Integer key of each row, from which the record id string is made.
    key: np.ndarray | None = None
    #: Row of the parent frame each row belongs to (where a column is copied from the parent).
    parent: np.ndarray | None = None

    def __len__(self) -> int:
        for v in self.columns.values():
            return len(v)
        return 0
