"""Case-level event sequences: steps in order per case, through a linking table, without person linkage."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.trajectories.sequences import (
    SequenceSchema,
    case_durations,
    case_funnel,
    load_sequence,
    sequence_outputs,
    shipped_sequences,
)

D0 = date(2020, 1, 1)


def _con(events: list[tuple[str, str, int]], cases: list[tuple[str, str]] | None = None):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA extract")
    ev = pd.DataFrame(events, columns=["case_number_hash", "event_type", "day"])
    ev["event_date"] = [D0 + timedelta(days=int(d)) for d in ev["day"]]
    con.register("ev", ev)
    con.execute("CREATE TABLE extract.civil_events AS SELECT case_number_hash, event_type, event_date FROM ev")
    cs = pd.DataFrame(cases or [(c, "PSL") for c in sorted(set(ev["case_number_hash"]))],
                      columns=["case_number_hash", "claim_type"])
    cs["issue_date"] = D0
    con.register("cs", cs)
    con.execute("CREATE TABLE extract.civil_cases AS SELECT * FROM cs")
    return con


def test_steps_count_only_in_order():
    con = _con([
        ("a", "CLAIM", 0), ("a", "ORDER_OUTRIGHT", 30), ("a", "WARRANT", 90), ("a", "REPOSSESSION", 120),
        ("b", "CLAIM", 0), ("b", "ORDER_SUSPENDED", 60),
        ("c", "CLAIM", 100), ("c", "ORDER_OUTRIGHT", 50),  # the order predates the claim: not a step reached
        ("d", "ORDER_OUTRIGHT", 5),  # no claim: not in the sequence
    ])
    f = case_funnel(con, "possession")
    assert list(f["cases"]) == [3, 2, 1, 1]
    assert f["median_days_from_previous"].tolist()[1:] == [45.0, 60.0, 30.0]
    d = case_durations(con, "possession").sort_values("duration")
    assert d["observed"].sum() == 1
    assert 120.0 in set(d.loc[d["observed"] == 1, "duration"])


def test_population_filter_keeps_only_possession_claims():
    con = _con([("a", "CLAIM", 0), ("b", "CLAIM", 0)], cases=[("a", "PSL"), ("b", "MON")])
    assert case_funnel(con, "possession")["cases"].iloc[0] == 1


def test_via_a_linking_table():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA extract")
    con.execute("""CREATE TABLE extract.mags_defendant_case AS SELECT * FROM (VALUES
        ('m1', DATE '2020-01-01', DATE '2020-02-01'), ('m2', DATE '2020-01-05', DATE '2020-01-20'),
        ('m3', DATE '2020-03-01', NULL)) t(row_id_hash, main_offence_date, first_hearing_date)""")
    con.execute("""CREATE TABLE extract.crown_defendant_case AS SELECT * FROM (VALUES
        ('c1', DATE '2020-03-01', DATE '2020-06-01'), ('c2', DATE '2020-01-10', NULL))
        t(row_id_hash, receipt_date, sentence_date)""")
    con.execute("""CREATE TABLE extract.mags_crown_journey AS SELECT * FROM (VALUES ('m1', 'c1'), ('m2', 'c2'))
        t(mags_row_id_hash, crown_row_id_hash)""")
    f = case_funnel(con, "court_journey")
    # m2's Crown Court receipt predates its first hearing, so it does not count as reached
    assert list(f["cases"]) == [3, 2, 1, 1]


def test_every_shipped_sequence_parses_and_names_its_tables():
    for n in shipped_sequences():
        s = load_sequence(n)
        assert len(s.steps) >= 2


def test_bad_definitions_are_refused():
    with pytest.raises(InputError):
        load_sequence("no_such_sequence")
    from bold_prevention.config import validate_config

    raw = {"name": "x", "title": "X", "case_key": "k", "steps": [
        {"name": "a", "table": "t", "date": "d", "where": "1=1; DROP TABLE extract.t"},
        {"name": "b", "table": "t", "date": "d"}]}
    with pytest.raises(InputError):
        validate_config(raw, SequenceSchema, source="x.yaml")
    raw["steps"][0]["where"] = None
    raw["steps"] = raw["steps"][:1]
    with pytest.raises(InputError):
        validate_config(raw, SequenceSchema, source="x.yaml")


def test_missing_table_is_named():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA extract")
    with pytest.raises(InputError, match="civil_events"):
        case_funnel(con, "possession")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.sampled_from(["CLAIM", "ORDER_OUTRIGHT", "WARRANT", "REPOSSESSION"]),
                          st.integers(0, 400)), min_size=1, max_size=40))
def test_funnel_never_grows_and_matches_a_plain_count(events):
    con = _con([(f"k{c}", t, d) for c, t, d in events])
    f = case_funnel(con, "possession")
    cases = list(f["cases"])
    assert all(a >= b for a, b in zip(cases, cases[1:], strict=False))
    # a plain Python reference
    order = ["CLAIM", ("ORDER_OUTRIGHT", "ORDER_SUSPENDED"), "WARRANT", "REPOSSESSION"]
    by_case: dict[str, list[tuple[str, int]]] = {}
    for c, t, d in events:
        by_case.setdefault(f"k{c}", []).append((t, d))
    expect = [0, 0, 0, 0]
    for evs in by_case.values():
        prev = None
        for i, want in enumerate(order):
            wants = want if isinstance(want, tuple) else (want,)
            ds = [d for t, d in evs if t in wants and (prev is None or d >= prev)]
            if not ds:
                break
            prev = min(ds)
            expect[i] += 1
    assert cases == expect


def test_outputs_are_checked_and_small_counts_suppressed():
    events = [(f"k{i}", "CLAIM", i) for i in range(40)] + [(f"k{i}", "ORDER_OUTRIGHT", 50 + i) for i in range(25)] \
        + [("k1", "WARRANT", 200), ("k2", "WARRANT", 210)]
    con = _con(events)
    outs = sequence_outputs(con, "possession")
    reached = outs[0]
    assert reached.kind  # a CheckedOutput
    assert "[c]" in set(reached.symbols.iloc[:, 0])  # 2 warrants: below the threshold
    assert any("Kaplan-Meier" in o.title for o in outs)
