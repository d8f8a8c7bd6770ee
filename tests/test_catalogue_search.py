"""Catalogue search: ranking, vocabularies, filters, and quality on the labelled query set."""

from __future__ import annotations

import pandas as pd
import pytest

from bold_prevention.catalogue.evaluate import build_corpora, evaluate, load_labelled_queries
from bold_prevention.catalogue.search import CatalogueIndex, load_vocabulary, search, stem, tokens
from bold_prevention.errors import InputError
from bold_prevention.register.model import DRIVERS, OUTCOMES

CORE = "oasys_assessments_details_core_risk"


@pytest.fixture(scope="module")
def corpora():
    return build_corpora()


@pytest.fixture(scope="module")
def synthetic(corpora) -> CatalogueIndex:
    return corpora["synthetic"]


@pytest.fixture(scope="module")
def real(corpora) -> CatalogueIndex:
    return corpora["oasys_reference"]


def test_vocabulary_covers_every_driver_and_outcome():
    vocab = load_vocabulary()
    assert set(DRIVERS) <= set(vocab.drivers)
    assert set(OUTCOMES) == set(vocab.outcomes)
    accommodation = vocab.driver("accommodation").terms
    for term in ("no fixed abode", "nfa", "homeless", "rough sleeping", "tenancy", "rent", "arrears",
                 "housing benefit", "possession", "warrant", "eviction"):
        assert term in accommodation
    with pytest.raises(InputError, match="unknown driver 'housing'"):
        vocab.driver("housing")


def test_tokens_and_stems():
    assert tokens("Homelessness and HOMELESS people") == ["homeless", "homeless", "peopl"]
    assert stem("unemployment") == stem("unemployed") == "unemploy"
    assert stem("housing") == stem("houses") == stem("house")
    assert tokens("question_3_3") == ["question", "3", "3"]
    assert tokens(None) == [] and tokens(float("nan")) == []


def test_nfa_synonym_finds_no_fixed_abode_in_real_oasys(real):
    hits = real.search("NFA", limit=5)
    assert hits[0].key == f"{CORE}.question_3_3"
    assert "oasys_assessments_details_tr_bcs.question_tr_bcs33" in [h.key for h in hits]


def test_phrase_ranks_above_scattered_words(real):
    hits = real.search("housing benefit", limit=3)
    assert {h.variable for h in hits[:2]} == {"question_bcs38", "question_tr_bcs38"}


def test_driver_vocabulary_alone_ranks_the_catalogue(synthetic):
    hits = synthetic.search(driver="accommodation", limit=10)
    keys = [h.key for h in hits]
    assert f"{CORE}.question_3_3" in keys and "civil_events.event_type" in keys
    assert all(h.score > 0 for h in hits)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_driver_expansion_reranks_an_ambiguous_query(synthetic):
    plain = [h.key for h in synthetic.search("problem", limit=10)]
    mental = [h.key for h in synthetic.search("problem", driver="mental_health", limit=10)]
    assert plain != mental
    # section 10 (emotional well-being) and the screening items on health and well-being
    mental_health = {k for k in synthetic.frame.table_name + "." + synthetic.frame.variable
                     if k.startswith(f"{CORE}.question_10_")}
    mental_health |= {"oasys_assessments_details_bcs.question_bcs91", "oasys_assessments_details_tr_bcs.question_tr_bcs91",
                      "oasys_assessments_details_tr_bcs.question_tr_bcs807"}
    assert f"{CORE}.question_10_7_v2_psychtreat" in mental_health
    assert set(mental[:3]) <= mental_health
    assert not set(plain[:3]) <= mental_health


def test_outcome_and_dataset_filter(synthetic):
    hits = synthetic.search("", outcome="homelessness", dataset="civil", limit=5)
    assert hits and {h.dataset for h in hits} == {"civil"}
    assert hits[0].key == "civil_events.event_type"
    with pytest.raises(InputError, match="dataset nowhere is not in the catalogue"):
        synthetic.search("rent", dataset="nowhere")


def test_exact_variable_name(synthetic):
    assert synthetic.search("question_5_5", limit=1)[0].key == f"{CORE}.question_5_5"
    assert synthetic.search("harm_alleged", limit=1)[0].key == "family_cases.harm_alleged"


def test_exclude_limit_and_errors(synthetic):
    hits = synthetic.search("accommodation", limit=3, exclude=[(CORE, "question_3_4")])
    assert len(hits) == 3 and f"{CORE}.question_3_4" not in [h.key for h in hits]
    with pytest.raises(InputError, match="nothing to search for"):
        synthetic.search("  ")
    with pytest.raises(InputError, match="limit must be at least 1"):
        synthetic.search("rent", limit=0)
    assert synthetic.search("xyzzyplugh") == []


def test_search_is_deterministic_and_accepts_frames(synthetic):
    frame = synthetic.frame
    a = search("arrears", catalogue=frame, limit=10)
    b = search("arrears", catalogue=CatalogueIndex(frame.sample(frac=1.0, random_state=3)), limit=10)
    assert [h.key for h in a] == [h.key for h in b] or {h.key for h in a} == {h.key for h in b}
    assert [h.key for h in a] == [h.key for h in search("arrears", catalogue=synthetic, limit=10)]


def test_matched_terms_explain_a_hit(real):
    hit = real.search("drug misuse", limit=1)[0]
    assert {"drug", "misus"} <= set(hit.matched)


def test_labelled_set_is_large_enough_and_consistent():
    queries = load_labelled_queries()
    assert len(queries) >= 40
    assert {q.corpus for q in queries} == {"synthetic", "oasys_reference"}
    assert sum(q.driver is not None or q.outcome is not None for q in queries) >= 3


def test_precision_and_recall_on_labelled_queries(corpora):
    result = evaluate(corpora)
    assert len(result.per_query) >= 40
    assert result.precision_at_10 >= 0.8
    assert result.recall_at_20 >= 0.8
    assert 0 < result.strict_precision_at_10 <= result.precision_at_10
    assert set(result.summary()) == {"queries", "precision_at_10", "strict_precision_at_10", "recall_at_20"}


def test_evaluation_rejects_labels_outside_the_corpus(corpora):
    from bold_prevention.catalogue.evaluate import LabelledQuery

    bad = [LabelledQuery("x1", "synthetic", "rent", ("no_table.no_variable",))]
    with pytest.raises(InputError, match="not in the synthetic corpus"):
        evaluate(corpora, bad)


def test_large_catalogue_index(synthetic):
    """A catalogue of thousands of variables indexes and searches the same way."""
    big = pd.concat([synthetic.frame.assign(table_name=synthetic.frame.table_name + f"_{i}") for i in range(20)],
                    ignore_index=True)
    index = CatalogueIndex(big)
    hits = index.search("no fixed abode", limit=25)
    assert len(hits) == 25
    assert {h.variable for h in hits[:20]} <= {"question_3_3", "question_3_1_1"}
