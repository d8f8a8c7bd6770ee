"""The glossary: a plain-English name for every dataset, table, XJS source, timeline event type and OASys item."""

from __future__ import annotations

import doctest

from hypothesis import given
from hypothesis import strategies as st

from bold_prevention.datafirst import MODEL, codes, glossary
from bold_prevention.datafirst.glossary import GLOSSARY, looks_like_code


def test_every_dataset_table_and_source_has_a_name():
    for d in MODEL.datasets:
        assert GLOSSARY.dataset(d.key) and not looks_like_code(GLOSSARY.dataset(d.key)), d.key
    for t in MODEL.tables:
        assert t.name in glossary.TABLES, f"table {t.name} has no plain-English name in the glossary"
        assert not looks_like_code(GLOSSARY.table(t.name))
    for code in codes.XJS_SOURCE_DATASET.values:
        assert code in glossary.SOURCES, code
        assert GLOSSARY.source(code) == GLOSSARY.dataset(code)


def test_every_timeline_event_type_has_a_name():
    from bold_prevention.trajectories.timeline import EVENT_SPECS

    for spec in EVENT_SPECS:
        assert spec.event_type in glossary.EVENTS, f"event type {spec.event_type} is not in the glossary"


def test_every_column_and_oasys_item_reads_as_words():
    for t in MODEL.tables:
        for c in t.columns:
            words = GLOSSARY.column(c.name)
            assert words and not looks_like_code(words) and "_" not in words, (t.name, c.name, words)
    assert GLOSSARY.column("question_13_3_10_1").startswith("Drug misuse affects risks or needs")
    assert "section 3" in GLOSSARY.column("question_3_3")
    assert GLOSSARY.variables("question_3_3, question_3_4").count(";") == 1


def test_register_drivers_have_names():
    from bold_prevention.spine.rules import load_rules

    for rule in load_rules():
        assert not looks_like_code(GLOSSARY.driver(rule.driver)), rule.driver


@given(st.from_regex(r"[a-z][a-z0-9]{0,8}(_[a-z0-9]{1,8}){1,4}", fullmatch=True))
def test_unknown_names_are_turned_into_words_never_shown_raw(name):
    for words in (GLOSSARY.term(name), GLOSSARY.table(name), GLOSSARY.dataset(name), GLOSSARY.event(name),
                  GLOSSARY.column(name)):
        assert "_" not in words and not looks_like_code(words)


def test_module_examples():
    assert doctest.testmod(glossary).failed == 0
