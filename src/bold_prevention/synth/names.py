"""Shipped name lists: frequency-weighted UK forenames (by sex and broad ethnic group), surnames and nicknames.

The lists in ``synth/data`` are written for this package: common forenames and surnames in England and Wales,
in rank order within each group, with weights that fall with rank (relative frequencies, not official counts).
``nicknames.csv`` (columns ``name,nickname``) pairs formal names with familiar forms; the linkage layer can read
it through :func:`nicknames_path` as an equivalence list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = ["NameBank", "name_bank", "nicknames_path", "data_path"]

#: Name pools by broad ethnic group; persons of Mixed and Other groups draw from a mix of pools.
POOLS = ("White", "Asian", "Black")


def data_path(name: str) -> Path:
    """Path of a shipped data file of the synthetic generator."""
    return Path(str(resources.files(__package__).joinpath("data", name)))


def nicknames_path() -> Path:
    """Path of the shipped nickname list (CSV with columns ``name,nickname``)."""
    return data_path("nicknames.csv")


@dataclass(frozen=True)
class NameBank:
    """All names in one vocabulary (an Arrow string array) plus sampling pools of vocabulary indices."""

    vocab: pa.Array
    #: (sex 'M'/'F', pool) -> (vocab indices, cumulative probabilities)
    forenames: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    #: pool -> (vocab indices, cumulative probabilities)
    surnames: dict[str, tuple[np.ndarray, np.ndarray]]
    #: For vocab index v: its nicknames are nick_to[nick_start[v] : nick_start[v] + nick_count[v]].
    nick_start: np.ndarray
    nick_count: np.ndarray
    nick_to: np.ndarray

    def draw_forenames(self, rng: np.random.Generator, male: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """A forename vocab index per person given sex (bool male) and pool index (into :data:`POOLS`)."""
        out = np.zeros(len(male), dtype=np.int32)
        u = rng.random(len(male))
        for sex in ("M", "F"):
            for pi, p in enumerate(POOLS):
                sel = (male == (sex == "M")) & (pool == pi)
                if sel.any():
                    idx, cum = self.forenames[(sex, p)]
                    out[sel] = idx[np.minimum(np.searchsorted(cum, u[sel], side="right"), len(idx) - 1)]
        return out

    def draw_surnames(self, rng: np.random.Generator, pool: np.ndarray) -> np.ndarray:
        """A surname vocab index per person given pool index."""
        out = np.zeros(len(pool), dtype=np.int32)
        u = rng.random(len(pool))
        for pi, p in enumerate(POOLS):
            sel = pool == pi
            if sel.any():
                idx, cum = self.surnames[p]
                out[sel] = idx[np.minimum(np.searchsorted(cum, u[sel], side="right"), len(idx) - 1)]
        return out

    def nickname_of(self, rng: np.random.Generator, forename: np.ndarray) -> np.ndarray:
        """A nickname vocab index per forename, or the forename itself where it has none."""
        cnt = self.nick_count[forename]
        pick = (rng.random(len(forename)) * cnt).astype(np.int64)
        has = cnt > 0
        out = forename.copy()
        out[has] = self.nick_to[self.nick_start[forename[has]] + pick[has]]
        return out


def _cum(weights: np.ndarray) -> np.ndarray:
    c = np.cumsum(weights.astype(float))
    return c / c[-1]


@cache
def name_bank() -> NameBank:
    """Load the shipped name lists (cached)."""
    fn = pacsv.read_csv(data_path("forenames.csv")).to_pydict()
    sn = pacsv.read_csv(data_path("surnames.csv")).to_pydict()
    nk = pacsv.read_csv(data_path("nicknames.csv")).to_pydict()
    words = sorted(set(fn["name"]) | set(sn["name"]) | set(nk["name"]) | set(nk["nickname"]))
    pos = {w: i for i, w in enumerate(words)}
    vocab = pa.array(words, pa.string())

    fnames = np.array([pos[n] for n in fn["name"]], dtype=np.int32)
    fsex = np.array(fn["sex"])
    fgrp = np.array(fn["ethnic_group"])
    fw = np.array(fn["weight"], dtype=float)
    forenames = {}
    for sex in ("M", "F"):
        for p in POOLS:
            sel = (fsex == sex) & (fgrp == p)
            forenames[(sex, p)] = (fnames[sel], _cum(fw[sel]))
    snames = np.array([pos[n] for n in sn["name"]], dtype=np.int32)
    sgrp = np.array(sn["ethnic_group"])
    sw = np.array(sn["weight"], dtype=float)
    surnames = {p: (snames[sgrp == p], _cum(sw[sgrp == p])) for p in POOLS}

    src = np.array([pos[n] for n in nk["name"]], dtype=np.int32)
    dst = np.array([pos[n] for n in nk["nickname"]], dtype=np.int32)
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    count = np.bincount(src, minlength=len(words)).astype(np.int32)
    start = (np.cumsum(count) - count).astype(np.int64)
    return NameBank(vocab=vocab, forenames=forenames, surnames=surnames, nick_start=start, nick_count=count,
                    nick_to=dst)
