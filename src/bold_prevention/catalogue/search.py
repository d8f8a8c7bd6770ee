"""Ranked variable search over the catalogue: BM25 over stemmed tokens, with driver and outcome vocabularies.

Each variable is a document made of weighted fields: its description (and the description's word pairs, so that
phrases such as "no fixed abode" rank above scattered words), its name, its values cell and its table name. A query
is expanded in two ways, each at a lower weight than the words typed:

* synonym groups from the vocabulary (``NFA`` also looks for "no fixed abode"; "homeless" for "rough sleeping");
* with ``driver=`` or ``outcome=``, that driver's or outcome's vocabulary (see ``data/vocabulary.yaml``). With no
  query words the vocabulary alone ranks the catalogue (used by ``bold register suggest``).

>>> from bold_prevention.catalogue.search import tokens
>>> tokens("Currently of no fixed abode (NFA)")
['current', 'no', 'fix', 'abod', 'nfa']
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..config import ConfigModel, parse_yaml, read_document, validate_config
from ..errors import InputError

# ---------------------------------------------------------------------------------------------------- tokens
_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an the of in to for is and or on by with at be has have had this that from as are was were it its any "
    "if into their there these those than then which who whom whether what when where will would can could "
    "should may might does do did been being see etc".split())
_PROTECTED = frozenset({"nfa", "ete", "sara", "sen", "send", "dwp", "hmrc", "npd", "nhs", "ons", "bcs", "rmp",
                        "saq", "pcol", "xjs", "fla", "cin", "lsoa", "imd"})


def stem(word: str) -> str:
    """A light suffix-stripping stemmer (consistent across word forms, not linguistically exact)."""
    w = word
    if len(w) <= 4 or not w.isalpha() or w in _PROTECTED:
        return w
    if w.endswith("ies") and len(w) > 5:
        return w[:-3] + "y"
    for suf in ("isations", "izations", "isation", "ization", "nesses", "ness", "ments", "ment", "ings", "ing",
                "edly", "ed", "es", "s", "ly"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            if suf == "s" and w.endswith(("ss", "us", "is")):
                continue
            w = w[: -len(suf)]
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]  # running -> run (after "ing" is stripped)
    return w


def tokens(text: object) -> list[str]:
    """Lower-case word stems of a text, stop words removed (``_`` and punctuation separate words)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    s = str(text).lower().replace("_", " ")
    return [stem(w) for w in _WORD.findall(s) if w not in STOPWORDS]


def bigrams(toks: Sequence[str]) -> list[str]:
    return [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]


# ------------------------------------------------------------------------------------------------ vocabulary
@dataclass(frozen=True)
class VocabEntry:
    key: str
    kind: str  # driver | outcome
    label: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    drivers: dict[str, VocabEntry]
    outcomes: dict[str, VocabEntry]
    synonyms: tuple[tuple[str, ...], ...]

    def driver(self, key: str) -> VocabEntry:
        if key not in self.drivers:
            raise InputError(f"unknown driver {key!r}; known drivers: {', '.join(self.drivers)}",
                             hint="use one of the driver names listed")
        return self.drivers[key]

    def outcome(self, key: str) -> VocabEntry:
        if key not in self.outcomes:
            raise InputError(f"unknown outcome {key!r}; known outcomes: {', '.join(self.outcomes)}",
                             hint="use one of the outcome names listed")
        return self.outcomes[key]

    def entry(self, key: str) -> VocabEntry:
        """A driver or outcome by key."""
        if key in self.drivers:
            return self.drivers[key]
        if key in self.outcomes:
            return self.outcomes[key]
        raise InputError(f"no vocabulary for {key!r}; known: {', '.join([*self.drivers, *self.outcomes])}",
                         hint="use a driver or outcome name")


class VocabEntrySchema(ConfigModel):
    label: str | None = None
    terms: list[str]


class VocabularySchema(ConfigModel):
    """The keys and types of a search vocabulary file."""

    version: int | None = None
    drivers: dict[str, VocabEntrySchema] | None = None
    outcomes: dict[str, VocabEntrySchema] | None = None
    synonyms: list[list[str]] | None = None


def _entries(raw: dict[str, VocabEntrySchema] | None, kind: str, source: str) -> dict[str, VocabEntry]:
    out = {}
    for key, spec in (raw or {}).items():
        terms = tuple(spec.terms)
        if not terms:
            raise InputError(f"{source}: {kind} {key!r} has no terms", hint="give each entry a list of terms")
        out[key] = VocabEntry(key, kind, spec.label or key, terms)
    return out


def load_vocabulary(path: str | os.PathLike | None = None) -> Vocabulary:
    """The shipped vocabulary (``data/vocabulary.yaml``) or one at ``path`` (keys and types checked)."""
    if path is None:
        source = "vocabulary.yaml"
        doc = parse_yaml(resources.files(__package__).joinpath("data/vocabulary.yaml").read_bytes(), source=source)
    else:
        source = str(path)
        doc = read_document(path, what="vocabulary")
    raw = validate_config(doc.data if doc.data is not None else {}, VocabularySchema, source=source, document=doc)
    syn = tuple(tuple(g) for g in raw.synonyms or () if len(g) >= 2)
    return Vocabulary(_entries(raw.drivers, "driver", source), _entries(raw.outcomes, "outcome", source), syn)


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    return load_vocabulary()


# ----------------------------------------------------------------------------------------------------- index
#: Field weights (term frequency contributions) of a variable document.
FIELD_WEIGHTS = {"description": 1.0, "description_pairs": 0.8, "variable": 0.8, "values": 0.3, "table": 0.3,
                 "name": 3.0}
K1, B = 1.2, 0.75
#: Weights of the expansions relative to the words typed.
SYNONYM_WEIGHT = 0.6
VOCAB_WEIGHT = 0.3


@dataclass
class SearchHit:
    rank: int
    score: float
    dataset: str
    table_name: str
    variable: str
    description: str
    values: str
    source_file: str = ""
    sheet: str = ""
    source_row: int | None = None
    matched: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return f"{self.table_name}.{self.variable}"


def _doc_terms(row) -> dict[str, float]:
    tf: dict[str, float] = {}

    def add(terms: Iterable[str], w: float) -> None:
        for t in terms:
            tf[t] = tf.get(t, 0.0) + w

    desc = tokens(row.description)
    add(desc, FIELD_WEIGHTS["description"])
    add(bigrams(desc), FIELD_WEIGHTS["description_pairs"])
    var = tokens(row.variable)
    add(var, FIELD_WEIGHTS["variable"])
    add(bigrams(var), FIELD_WEIGHTS["description_pairs"] * FIELD_WEIGHTS["variable"])
    add(tokens(row.values), FIELD_WEIGHTS["values"])
    add(tokens(row.table_name), FIELD_WEIGHTS["table"])
    add([f"={str(row.variable).lower()}"], FIELD_WEIGHTS["name"])
    return tf


class CatalogueIndex:
    """An in-memory BM25 index over catalogue variables; build once, search many times."""

    def __init__(self, variables: pd.DataFrame, vocabulary: Vocabulary | None = None) -> None:
        self.frame = variables.reset_index(drop=True)
        self.vocabulary = vocabulary or default_vocabulary()
        n = len(self.frame)
        self.n = n
        postings: dict[str, tuple[list[int], list[float]]] = {}
        lengths = np.zeros(n, dtype=np.float64)
        self._doc_terms: list[frozenset[str]] = []
        frame = self.frame.reindex(columns=["description", "variable", "values", "table_name"])
        for i, row in enumerate(frame.itertuples(index=False)):
            tf = _doc_terms(row)
            lengths[i] = sum(tf.values())
            self._doc_terms.append(frozenset(tf))
            for t, f in tf.items():
                ids, fs = postings.setdefault(t, ([], []))
                ids.append(i)
                fs.append(f)
        avgdl = float(lengths.mean()) if n else 1.0
        norm = K1 * (1 - B + B * lengths / (avgdl or 1.0))
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._idf: dict[str, float] = {}
        for t, (ids, fs) in postings.items():
            ids_a = np.asarray(ids, dtype=np.int32)
            f_a = np.asarray(fs, dtype=np.float64)
            self._postings[t] = (ids_a, (f_a * (K1 + 1) / (f_a + norm[ids_a])).astype(np.float32))
            df = len(ids)
            self._idf[t] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        self._datasets = self.frame["dataset"].astype(str).to_numpy() if n else np.array([], dtype=object)
        self._order = np.arange(n)

    # ---------------------------------------------------------------------------------------------- queries
    def query_terms(self, query: str = "", *, driver: str | None = None, outcome: str | None = None
                    ) -> dict[str, float]:
        """The weighted terms a query searches for (typed words, synonyms, driver/outcome vocabulary)."""
        terms: dict[str, float] = {}

        def add(text: str, w: float) -> None:
            toks = tokens(text)
            for t in [*toks, *bigrams(toks)]:
                if w > terms.get(t, 0.0):
                    terms[t] = w

        q = (query or "").strip()
        if q:
            add(q, 1.0)
            terms[f"={q.lower()}"] = 1.0
            qtoks = tokens(q)
            qstr = f" {' '.join(qtoks)} "
            for group in self.vocabulary.synonyms:
                if any(f" {' '.join(tokens(m))} " in qstr for m in group if tokens(m)):
                    for m in group:
                        add(m, SYNONYM_WEIGHT)
        vw = VOCAB_WEIGHT if q else 1.0
        for key, getter in ((driver, self.vocabulary.driver), (outcome, self.vocabulary.outcome)):
            if key:
                for term in getter(key).terms:
                    add(term, vw)
        return terms

    def scores(self, terms: dict[str, float]) -> np.ndarray:
        scores = np.zeros(self.n, dtype=np.float64)
        for t, w in terms.items():
            post = self._postings.get(t)
            if post is None:
                continue
            ids, sat = post
            scores[ids] += (w * self._idf[t]) * sat
        return scores

    def search(self, query: str = "", driver: str | None = None, outcome: str | None = None,
               dataset: str | Sequence[str] | None = None, limit: int = 20, *,
               exclude: Iterable[tuple[str, str]] = ()) -> list[SearchHit]:
        """Variables ranked by relevance to the query (and the driver/outcome vocabulary), best first.

        ``dataset`` keeps only variables of that dataset (or those datasets); ``exclude`` drops
        ``(table_name, variable)`` pairs (e.g. those already in the register).
        """
        if limit < 1:
            raise InputError(f"limit must be at least 1 (got {limit})", hint="pass --limit 1 or more")
        if not (query or "").strip() and not driver and not outcome:
            raise InputError("nothing to search for", hint="give search words, or --driver / --outcome")
        terms = self.query_terms(query, driver=driver, outcome=outcome)
        scores = self.scores(terms)
        if dataset:
            wanted = {dataset} if isinstance(dataset, str) else set(dataset)
            known = set(self._datasets.tolist())
            unknown = wanted - known
            if unknown == wanted:
                raise InputError(f"dataset {', '.join(sorted(unknown))} is not in the catalogue; "
                                 f"loaded datasets: {', '.join(sorted(known))}",
                                 hint="use one of the loaded datasets, or load its catalogue first")
            scores[~np.isin(self._datasets, list(wanted))] = 0.0
        excluded = {(str(t).lower(), str(v).lower()) for t, v in exclude}
        candidates = np.flatnonzero(scores > 0)
        if candidates.size == 0:
            return []
        want = limit + len(excluded)
        if candidates.size > want:
            part = np.argpartition(-scores[candidates], want - 1)[:want]
            # keep ties at the cut so the order stays deterministic
            cut = scores[candidates[part]].min()
            candidates = candidates[scores[candidates] >= cut]
        order = candidates[np.lexsort((candidates, -np.round(scores[candidates], 9)))]
        hits: list[SearchHit] = []
        for i in order:
            row = self.frame.iloc[int(i)]
            if (str(row["table_name"]).lower(), str(row["variable"]).lower()) in excluded:
                continue
            matched = tuple(t for t in terms if t in self._doc_terms[int(i)] and not t.startswith("="))
            hits.append(SearchHit(
                rank=len(hits) + 1, score=round(float(scores[i]), 4), dataset=str(row["dataset"]),
                table_name=str(row["table_name"]), variable=str(row["variable"]),
                description=_s(row.get("description")), values=_s(row.get("values")),
                source_file=_s(row.get("source_file")), sheet=_s(row.get("sheet")),
                source_row=None if pd.isna(row.get("source_row")) else int(row.get("source_row")),
                matched=matched))
            if len(hits) >= limit:
                break
        return hits


def _s(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def hits_frame(hits: Sequence[SearchHit]) -> pd.DataFrame:
    """Search hits as a table."""
    cols = ["rank", "score", "dataset", "table_name", "variable", "description", "values", "source_file", "sheet",
            "source_row"]
    return pd.DataFrame([{c: getattr(h, c) for c in cols} for h in hits], columns=cols)


def search(query: str = "", driver: str | None = None, outcome: str | None = None,
           dataset: str | Sequence[str] | None = None, limit: int = 20, *,
           catalogue: pd.DataFrame | CatalogueIndex | object | None = None,
           project: object | None = None) -> list[SearchHit]:
    """Search catalogue variables: ``catalogue`` (a :class:`CatalogueIndex`, a :class:`Catalogue` or its
    variables frame), or else the catalogue stored in ``project``'s warehouse."""
    return as_index(catalogue, project).search(query, driver=driver, outcome=outcome, dataset=dataset,
                                               limit=limit)


def as_index(catalogue: object | None = None, project: object | None = None) -> CatalogueIndex:
    if isinstance(catalogue, CatalogueIndex):
        return catalogue
    if catalogue is None:
        from .store import read_stored

        catalogue = read_stored(project)
    frame = getattr(catalogue, "variables", catalogue)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("catalogue must be a CatalogueIndex, a Catalogue or a DataFrame of variables")
    return CatalogueIndex(frame)
