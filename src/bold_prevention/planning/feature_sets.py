"""Feature sets: groups of related catalogue variables, discoverable by search and usable as one measure.

Two kinds are found without hand curation:

- **sections**: an assessment's numbered questions that belong together, e.g. OASys section 3 (accommodation):
  every ``question_3_*`` variable of a table, titled from its section total's description ("Total score for section
  3: accommodation") or, failing that, its members';
- **sequences**: the steps of a process, from the shipped event sequences (``bold sequence list``): the possession
  stages (claim, order, warrant, repossession), family applications, the criminal court journey.

:func:`search_feature_sets` ranks sets for a query by the catalogue search's scores of their members (BM25 with the
driver and outcome vocabularies), so "accommodation" finds OASys section 3 and "eviction" the possession stages. A
use case names a set in a measure (``feature_sets: [oasys_core_risk_section_3]``) and the plan then measures every
member; :func:`register_candidates` gives the register's ``candidates`` entries that record the set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from ..errors import InputError

_SECTION = re.compile(r"^question_(?:(?P<prefix>[a-z]+)_?)?(?P<section>\d+)_")
_TOTAL = re.compile(r"section\s+\d+\s*[:\-]\s*(?P<title>.+)$", re.I)


@dataclass(frozen=True)
class FeatureSet:
    name: str
    title: str
    kind: str  # section | sequence
    dataset: str
    variables: tuple[tuple[str, str], ...]  # (table, variable)
    description: str = ""
    steps: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for t, _ in self.variables))


def _short(table: str) -> str:
    return table.replace("oasys_assessments_details_", "oasys_").replace("oasys_assessments_", "oasys_")


def section_sets(variables: pd.DataFrame) -> list[FeatureSet]:
    """Numbered question sections of each table with at least two members."""
    out = []
    v = variables.reindex(columns=["dataset", "table_name", "variable", "description"]).dropna(
        subset=["table_name", "variable"])
    for (dataset, table), g in v.groupby(["dataset", "table_name"], sort=True):
        groups: dict[str, list] = {}
        for row in g.itertuples(index=False):
            m = _SECTION.match(str(row.variable))
            if m:
                key = (m.group("prefix") or "") + m.group("section")
                groups.setdefault(key, []).append(row)
        for key, rows in sorted(groups.items(), key=lambda kv: (len(kv[0]), kv[0])):
            if len(rows) < 2:
                continue
            title = ""
            for r in rows:
                t = _TOTAL.search(str(r.description or ""))
                if str(r.variable).endswith("_tot") and t:
                    title = t.group("title").strip()
            if not title:
                title = str(rows[0].description or f"section {key}")
            out.append(FeatureSet(f"{_short(table)}_section_{key}", f"{dataset} {table}: section {key} ({title})",
                                  "section", str(dataset),
                                  tuple((table, str(r.variable)) for r in rows),
                                  "; ".join(str(r.description) for r in rows if r.description)))
    return out


def sequence_sets() -> list[FeatureSet]:
    """The shipped event sequences as feature sets of their steps' tables and date columns."""
    import sqlglot
    from sqlglot import exp

    from ..trajectories.sequences import load_sequence, shipped_sequences

    out = []
    for n in shipped_sequences():
        s = load_sequence(n)
        cols = []
        for st in s.steps:
            cols.append((st.table, st.date))
            if st.where:
                cols += [(st.table, c.name) for c in sqlglot.parse_one(st.where).find_all(exp.Column)]
        members = tuple(dict.fromkeys(cols))
        out.append(FeatureSet(f"sequence_{n}", s.title, "sequence", s.steps[0].table.split("_")[0], members,
                              s.description.strip(), tuple(st.name for st in s.steps)))
    return out


def feature_sets(variables: pd.DataFrame | None) -> list[FeatureSet]:
    """Every feature set: the sections of ``variables`` (a catalogue's variables frame) and the sequences."""
    return (section_sets(variables) if variables is not None and len(variables) else []) + sequence_sets()


def get_feature_set(name: str, sets: list[FeatureSet]) -> FeatureSet:
    for s in sets:
        if s.name == name:
            return s
    raise InputError(f"no feature set {name!r}",
                     hint="list them with `bold usecase feature-sets` (sections need the catalogues loaded)")


def search_feature_sets(query: str, sets: list[FeatureSet], index=None, *, limit: int = 10
                        ) -> list[tuple[FeatureSet, float]]:
    """Sets ranked for ``query``: the catalogue scores of their members (mean of the best three), plus the words of
    their title and description (for sets whose members the catalogue does not hold)."""
    from ..catalogue.search import tokens

    q = set(tokens(query))
    if not q:
        raise InputError("the search query is empty", hint="give words to search for, e.g. accommodation")
    if index is not None:  # the typed words and their synonyms, as the catalogue search reads them
        q |= {w for term in index.query_terms(query) for w in term.split()}
    scores: dict[tuple[str, str], float] = {}
    if index is not None:
        for h in index.search(query, limit=500):
            scores[(h.table_name, h.variable)] = h.score
    ranked = []
    for s in sets:
        member = sorted((scores.get(v, 0.0) for v in s.variables), reverse=True)[:3]
        words = set(tokens(f"{s.title} {s.description} {' '.join(s.steps)}"))
        score = (sum(member) / len(member) if member else 0.0) + len(q & words)
        if score > 0:
            ranked.append((s, score))
    ranked.sort(key=lambda x: (-x[1], x[0].name))
    return ranked[:limit]


def register_candidates(fs: FeatureSet, measure: str = "") -> list[dict]:
    """The register ``candidates`` entries that record the set (role supporting, the set named in the note)."""
    return [{"dataset": fs.dataset, "table": t, "variable": v, "measure": measure or fs.title, "role": "supporting",
             "note": f"feature set {fs.name}"} for t, v in fs.variables]
