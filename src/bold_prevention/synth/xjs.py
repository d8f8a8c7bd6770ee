"""The XJS person-linking table as researchers receive it, with known, configurable linkage error.

For every person record of the XJS sources: ``estimated_xjs_id`` (the medium band), a ``match_score`` and person
clusters at three thresholds. Errors relative to the truth:

* **missed links**: each record is split off its true person's cluster (into a singleton) when ``u < rate[band] *
  multiplier``, with one uniform ``u`` per record, so a record split at the low band is split at medium and high
  too (``multiplier`` is ``xjs_weak_source_multiplier`` for family and civil records, 1 otherwise);
* **false merges**: each person is joined to a confusable person (a twin, else a person with the same surname and
  sex, else any person) when ``v < rate[band] / 2`` (each join touches two persons), with one uniform ``v`` per
  person, so joins at the high band are joins at medium and low too.

The bands therefore nest (a high cluster lies inside one medium cluster, which lies inside one low cluster), the high
band has the fewest false merges and the most missed links, the low band the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .common import hex_ids, rng_for
from .params import SynthParams
from .population import Population

BANDS = ("high", "medium", "low")
WEAK_SOURCES = ("familyman", "civil_caseman_pcol")


@dataclass
class XjsRecords:
    """XJS input: one entry per person record of an XJS source."""

    source: np.ndarray  # source index into the source list
    sources: tuple[str, ...]
    person: np.ndarray
    row_id: pa.Array  # row_id_hash strings


@dataclass
class XjsResult:
    source: np.ndarray
    sources: tuple[str, ...]
    row_id: pa.Array
    person: np.ndarray
    label: dict[str, np.ndarray]  # band -> integer cluster label per record
    score: np.ndarray

    def cluster_ids(self, band: str, seed: int) -> pa.Array:
        return hex_ids(self.label[band], f"xjs-{band}", seed, prefix="X", width=15)


def link(pop: Population, P: SynthParams, seed: int, rec: XjsRecords) -> XjsResult:
    rng = rng_for(seed, "xjs")
    n = len(rec.person)
    weak = np.isin(np.asarray(rec.sources)[rec.source], WEAK_SOURCES) if n else np.zeros(0, bool)
    mult = np.where(weak, P.xjs_weak_source_multiplier, 1.0)
    u = rng.random(n)
    persons, pinv = np.unique(rec.person, return_inverse=True)
    npers = len(persons)
    # confusable partner of each XJS person
    pos = np.full(pop.n, -1, dtype=np.int64)
    pos[persons] = np.arange(npers)
    twin = pop.twin_of[persons]
    partner = np.where(twin >= 0, pos[np.maximum(twin, 0)], -1)
    key = pop.surname[persons].astype(np.int64) * 2 + pop.male[persons]
    order = np.argsort(key, kind="stable")
    ks = key[order]
    nxt = np.roll(order, -1)
    same_next = np.roll(ks, -1) == ks
    prv = np.roll(order, 1)
    same_prev = np.roll(ks, 1) == ks
    neighbour = np.full(npers, -1, dtype=np.int64)
    neighbour[order] = np.where(same_next, nxt, np.where(same_prev, prv, -1))
    if npers > 1:
        rand = rng.integers(0, npers - 1, npers)
        rand = rand + (rand >= np.arange(npers))
    else:
        rand = np.zeros(npers, dtype=np.int64)
    partner = np.where(partner >= 0, partner, np.where(neighbour >= 0, neighbour, rand))
    v = rng.random(npers)

    label: dict[str, np.ndarray] = {}
    for band in BANDS:
        detached = u < P.xjs_missed_link_rate[band] * mult
        join = (v < P.xjs_false_merge_rate[band] / 2) & (partner != np.arange(npers)) & (partner >= 0)
        a = np.flatnonzero(join)
        g = coo_matrix((np.ones(len(a)), (a, partner[a])), shape=(npers, npers))
        ncomp, comp = connected_components(g, directed=False)
        lab = comp[pinv].astype(np.int64)
        lab[detached] = ncomp + np.flatnonzero(detached)
        label[band] = lab
    thr = P.xjs_thresholds
    det_h = u < P.xjs_missed_link_rate["high"] * mult
    det_m = u < P.xjs_missed_link_rate["medium"] * mult
    det_l = u < P.xjs_missed_link_rate["low"] * mult
    r = rng.random(n)
    score = np.where(~det_h, thr["high"] + (1 - thr["high"]) * (1 - r ** 3),
                     np.where(~det_m, thr["medium"] + (thr["high"] - thr["medium"]) * r,
                              np.where(~det_l, thr["low"] + (thr["medium"] - thr["low"]) * r, 0.3 + (thr["low"] - 0.3) * r)))
    score = np.round(np.minimum(score, 1.0), 4)
    return XjsResult(source=rec.source, sources=rec.sources, row_id=rec.row_id, person=rec.person, label=label,
                     score=score)
