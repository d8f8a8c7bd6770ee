"""Measure catalogue search against the labelled query set (``data/labelled_queries.yaml``).

Metrics per query, averaged over queries:

* **precision@10**: relevant variables among the top 10, divided by ``min(10, number relevant)`` (so a query with
  three relevant variables that ranks all three in its top 10 scores 1.0);
* **strict precision@10**: relevant among the top 10 divided by 10 (reported too; capped by small relevant sets);
* **recall@20**: relevant variables among the top 20, divided by the number relevant.

The two corpora are built the way a user builds theirs: the synthetic catalogues are written as ODS files from the
Data First model and read back; the real OASys variables are written in the published OASys layout and read back.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from ..config import ConfigModel, parse_yaml, read_document, validate_config
from ..errors import InputError
from .reader import read_catalogue, read_catalogues
from .search import CatalogueIndex
from .writer import write_reference_oasys, write_synthetic_catalogues


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    corpus: str
    query: str
    relevant: tuple[str, ...]
    driver: str | None = None
    outcome: str | None = None
    dataset: str | None = None


@dataclass
class Evaluation:
    per_query: pd.DataFrame
    precision_at_10: float
    strict_precision_at_10: float
    recall_at_20: float

    def summary(self) -> dict[str, float]:
        return {"queries": len(self.per_query), "precision_at_10": round(self.precision_at_10, 4),
                "strict_precision_at_10": round(self.strict_precision_at_10, 4),
                "recall_at_20": round(self.recall_at_20, 4)}


class LabelledQuerySchema(ConfigModel):
    id: str
    corpus: str
    query: str = ""
    relevant: list[str]
    driver: str | None = None
    outcome: str | None = None
    dataset: str | None = None


class LabelledQueriesSchema(ConfigModel):
    """The keys and types of a labelled query file."""

    version: int | None = None
    queries: list[LabelledQuerySchema]


def load_labelled_queries(path: str | os.PathLike | None = None) -> list[LabelledQuery]:
    if path is None:
        source = "labelled_queries.yaml"
        doc = parse_yaml(resources.files(__package__).joinpath("data/labelled_queries.yaml").read_bytes(),
                         source=source)
    else:
        source = str(path)
        doc = read_document(path, what="labelled query file")
    raw = validate_config(doc.data, LabelledQueriesSchema, source=source, document=doc)
    out = []
    for q in raw.queries:
        if not q.relevant:
            raise InputError(f"labelled query {q.id!r} has no relevant variables",
                             hint="list the relevant table.variable keys")
        out.append(LabelledQuery(id=q.id, corpus=q.corpus, query=q.query, relevant=tuple(q.relevant),
                                 driver=q.driver, outcome=q.outcome, dataset=q.dataset))
    ids = [q.id for q in out]
    if len(set(ids)) != len(ids):
        raise InputError("labelled queries have duplicate ids", hint="give every query a unique id")
    return out


def build_corpora(work_dir: str | os.PathLike | None = None) -> dict[str, CatalogueIndex]:
    """Write and read back the two evaluation corpora; returns an index per corpus name."""
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        syn_dir = Path(tmp) / "synthetic"
        write_synthetic_catalogues(syn_dir)
        ref = write_reference_oasys(Path(tmp) / "OASys_ONS_data_catalogue_NOV25_External.ods")
        synthetic = read_catalogues([syn_dir])
        reference = read_catalogue(ref)
    return {"synthetic": CatalogueIndex(synthetic.variables), "oasys_reference": CatalogueIndex(reference.variables)}


def evaluate(corpora: dict[str, CatalogueIndex] | None = None,
             queries: list[LabelledQuery] | None = None) -> Evaluation:
    """Run every labelled query on its corpus and compute precision@10 and recall@20."""
    corpora = corpora or build_corpora()
    queries = queries or load_labelled_queries()
    rows = []
    for q in queries:
        if q.corpus not in corpora:
            raise InputError(f"labelled query {q.id}: unknown corpus {q.corpus!r}",
                             hint=f"use one of {', '.join(corpora)}")
        index = corpora[q.corpus]
        known = set((index.frame["table_name"] + "." + index.frame["variable"]).tolist())
        missing = [r for r in q.relevant if r not in known]
        if missing:
            raise InputError(f"labelled query {q.id}: relevant variables not in the {q.corpus} corpus: "
                             f"{', '.join(missing)}", hint="fix the labelled set or the corpus")
        hits = index.search(q.query, driver=q.driver, outcome=q.outcome, dataset=q.dataset, limit=20)
        keys = [h.key for h in hits]
        rel = set(q.relevant)
        top10 = sum(1 for k in keys[:10] if k in rel)
        top20 = sum(1 for k in keys[:20] if k in rel)
        rows.append({"id": q.id, "corpus": q.corpus, "query": q.query, "driver": q.driver, "outcome": q.outcome,
                     "relevant": len(rel), "hits_10": top10, "hits_20": top20,
                     "precision_at_10": top10 / min(10, len(rel)), "strict_precision_at_10": top10 / 10,
                     "recall_at_20": top20 / len(rel),
                     "missed": ", ".join(sorted(rel - set(keys[:20])))})
    df = pd.DataFrame(rows)
    return Evaluation(df, float(df["precision_at_10"].mean()), float(df["strict_precision_at_10"].mean()),
                      float(df["recall_at_20"].mean()))
