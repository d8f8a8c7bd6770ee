"""spine.person on a small hand-made warehouse whose answers are known."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot

from bold_prevention.datafirst import MODEL
from bold_prevention.errors import InputError
from bold_prevention.linkage.pseudonym import pseudonymise
from bold_prevention.spine import build_spine, load_rules, spine_plan
from bold_prevention.spine.build import months_before
from test_spine_fixtures import AS_AT, RULES, mini_warehouse

A, B, C, D, E, X, F = (pseudonymise(c) for c in ("M1", "M2", "M3", "M4", "M5", "M6", "M9"))


@pytest.fixture(scope="module")
def spine():
    con = mini_warehouse()
    res = build_spine(con, as_at=AS_AT, band="medium", register=RULES)
    people = con.sql("select * from spine.person").df().set_index("person_id")
    needs = con.sql("select * from spine.person_need").df()
    return con, res, people, needs


def test_one_row_per_person_in_view(spine):
    _, res, people, _ = spine
    assert people.index.is_unique
    assert set(people.index) == {A, B, C, D, E, X}  # F has records after the as-at date only
    assert res.persons == 6
    assert set(people["band"]) == {"medium"} and set(people["as_at_date"].dt.date) == {AS_AT}


def test_demographics(spine):
    _, _, p, _ = spine
    assert p.loc[A, "sex"] == "M" and p.loc[B, "sex"] == "F" and p.loc[E, "sex"] == "F"
    assert p.loc[A, "ethnic_group"] == "White"
    assert p.loc[B, "ethnic_group"] == "Black"  # a Refusal record does not outvote known groups
    assert p.loc[C, "ethnic_group"] == "Unknown"
    # age at the as-at date from the latest record with an age: A was 30 at 2023-05-01
    assert p.loc[A, "age"] == 30 and p.loc[A, "age_band"] == "25-34"
    assert p.loc[B, "age"] == 21 and p.loc[B, "age_band"] == "18-24"
    assert p.loc[C, "age"] == 43
    assert p.loc[E, "age_band"] == "Unknown"


def test_geography_and_deprivation(spine):
    _, _, p, _ = spine
    # A's latest record with an LSOA is the 2023 magistrates' case (the later civil record has none)
    assert p.loc[A, "lsoa11_code"] == "E01000001" and p.loc[A, "geography_dataset"] == "mags"
    assert p.loc[A, "lad_code"] == "E09000001" and p.loc[A, "region"] == "London"
    assert p.loc[A, "imd_decile"] == 9 and p.loc[A, "imd_source"] == "IoD2019"
    assert p.loc[A, "imd2025_decile"] == 8
    assert p.loc[B, "country"] == "Wales" and p.loc[B, "imd_source"] == "WIMD2019"
    assert p.loc[B, "region"] == "Wales"
    assert p.loc[D, "lsoa11_code"] is None and p.loc[D, "region"] is None


def test_contacts(spine):
    _, _, p, _ = spine
    assert p.loc[A, "n_mags_12m"] == 1 and p.loc[A, "n_prison_5y"] == 1 and p.loc[A, "n_prison_12m"] == 0
    assert p.loc[A, "n_oasys_ever"] == 1  # the 2024 assessment is after the as-at date
    assert p.loc[A, "n_datasets"] == 4 and p.loc[A, "n_civil_ever"] == 1
    assert p.loc[A, "first_contact_date"].date() == date(2022, 1, 1)
    assert p.loc[A, "last_contact_date"].date() == date(2023, 9, 1)
    assert p.loc[B, "n_mags_ever"] == 4 and p.loc[B, "n_mags_5y"] == 4 and p.loc[B, "n_probation_ever"] == 1
    assert bool(p.loc[A, "cj_contact_12m"]) and not bool(p.loc[B, "cj_contact_12m"])
    assert bool(p.loc[A, "has_oasys"]) and not bool(p.loc[B, "has_oasys"])
    assert p.loc[A, "last_release_date"].date() == date(2023, 3, 1) and not bool(p.loc[A, "in_custody"])
    assert p.loc[B, "weakest_band_joined"] == "medium" and p.loc[A, "weakest_band_joined"] == "high"


def test_civil_and_family_signals(spine):
    _, _, p, _ = spine
    assert p.loc[A, "n_possession_claims_ever"] == 1 and p.loc[A, "n_possession_claims_12m"] == 1
    assert p.loc[A, "n_possession_orders_ever"] == 1 and p.loc[A, "n_possession_warrants_ever"] == 1
    assert p.loc[A, "n_repossessions_ever"] == 0  # the repossession is after the as-at date
    assert p.loc[E, "n_family_cases_ever"] == 2 and p.loc[E, "n_family_cases_12m"] == 1
    assert p.loc[E, "n_family_harm_alleged"] == 1 and p.loc[E, "n_family_domestic_abuse"] == 1
    assert p.loc[E, "n_family_as_child"] == 1 and p.loc[E, "n_family_as_respondent"] == 1
    assert p.loc[E, "family_role_latest"] == "Respondent"
    assert p.loc[X, "family_role_latest"] == "Applicant"


def test_needs_follow_the_rules(spine):
    _, _, p, needs = spine
    # latest assessment on or before the as-at date (2023-02-01): accommodation YES, drugs score 2
    assert bool(p.loc[A, "need_accommodation"]) and p.loc[A, "need_accommodation_dataset"] == "oasys"
    assert p.loc[A, "need_accommodation_variable"] == "question_3_3"
    assert p.loc[A, "need_accommodation_date"].date() == date(2023, 2, 1)
    assert bool(p.loc[A, "need_substance_misuse"]) and p.loc[A, "need_substance_misuse_score"] == 2.0
    assert not bool(p.loc[A, "need_mental_health"])  # only the 2024 assessment says so
    # assessed but negative: evidence kept, flag false
    assert not bool(p.loc[A, "need_domestic_abuse"]) and p.loc[A, "need_domestic_abuse_score"] == 0.0
    # window evidence from family cases
    assert bool(p.loc[E, "need_domestic_abuse"]) and p.loc[E, "need_domestic_abuse_dataset"] == "family"
    # ever evidence from probation requirements
    assert bool(p.loc[B, "need_mental_health"]) and p.loc[B, "need_mental_health_table"] == "moj_probation_rqmnts"
    # sum of evidence rows against a threshold: E has a public law and a Family Law Act case
    assert bool(p.loc[E, "need_family"]) and p.loc[E, "need_family_score"] == 2.0
    assert not bool(p.loc[X, "need_family"]) and p.loc[X, "need_family_score"] == 1.0
    # unassessed: flag false, no score, no evidence
    assert not bool(p.loc[C, "need_accommodation"]) and p.loc[C, "need_accommodation_dataset"] is None
    assert p.loc[A, "need_count"] == 2 and p.loc[E, "need_count"] == 2
    assert set(needs.columns) >= {"person_id", "driver", "value", "score", "evidence_table", "evidence_dataset",
                                  "evidence_variable", "evidence_date", "assessed"}
    assert not needs.duplicated(["person_id", "driver"]).any()
    assert len(needs[needs["person_id"] == C]) == 0


def test_as_at_moves_the_evidence():
    con = mini_warehouse()
    build_spine(con, as_at=date(2024, 6, 30), band="medium", register=RULES)
    p = con.sql("select * from spine.person").df().set_index("person_id")
    assert not bool(p.loc[A, "need_accommodation"]) and bool(p.loc[A, "need_mental_health"])
    assert p.loc[A, "n_repossessions_ever"] == 1
    assert F in p.index


def test_bands_change_the_persons():
    con = mini_warehouse()
    build_spine(con, as_at=AS_AT, band="high", register=RULES)
    high = con.sql("select count(*) from spine.person").fetchall()[0][0]
    build_spine(con, as_at=AS_AT, band="low", register=RULES)
    low = con.sql("select count(*) from spine.person").fetchall()[0][0]
    assert con.sql("select distinct band from spine.person_record").fetchall() == [("low",)]
    # high: B splits into three; low: C and D merge
    assert high == 8 and low == 5


def test_no_identifiers_in_the_spine(spine):
    con = spine[0]
    ident = {c.name for t in MODEL.tables for c in t.columns if c.identifier}
    for t in ("person", "person_need", "person_record"):
        cols = {r[0] for r in con.sql(f"select column_name from information_schema.columns "
                                      f"where table_schema = 'spine' and table_name = '{t}'").fetchall()}
        assert not cols & ident, t


def test_plan_is_portable():
    rules = load_rules(RULES)
    for step in spine_plan(AS_AT, "medium", rules, set(MODEL.table_names)):
        for dialect in ("spark", "trino"):
            sqlglot.transpile(step.sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)


def _with(rule_evidence: dict) -> dict:
    return {"drivers": [{"key": "x", "derivation": {"kind": "flag", "evidence": [rule_evidence]}}]}


@pytest.mark.parametrize(("evidence", "message"), [
    ({"table": "no_such_table", "expression": "a", "variables": ["a"]}, "not in the Data First model"),
    ({"table": "family_cases", "expression": "harm", "variables": ["harm"]}, "not a column of family_cases"),
    ({"table": "family_cases", "expression": "harm_alleged AND fee_exempt", "variables": ["harm_alleged"]},
     "does not list them"),
    ({"table": "family_parties", "expression": "surname = 'X'", "variables": ["surname"]}, "personal identifier"),
    ({"table": "family_cases", "expression": "harm_alleged; DROP TABLE spine.person", "variables": ["harm_alleged"]},
     "not valid SQL|one expression"),
    ({"table": "family_cases", "expression": "(SELECT 1)", "variables": []}, "may not contain a query"),
    ({"table": "family_cases", "expression": "harm_alleged", "variables": ["harm_alleged"], "when": "window"},
     "lookback_months"),
    ({"table": "family_cases", "expression": "harm_alleged", "variables": ["harm_alleged"], "when": "sometimes"},
     "when"),
    ({"table": "xjs_link", "expression": "match_score > 0", "variables": ["match_score"]}, "does not reach a person"),
])
def test_bad_rules_are_refused(evidence, message):
    with pytest.raises(InputError, match=message):
        load_rules(_with(evidence))


def test_bad_arguments():
    con = mini_warehouse()
    with pytest.raises(InputError, match="band"):
        build_spine(con, as_at=AS_AT, band="tight", register=RULES)
    with pytest.raises(InputError, match="not a date"):
        build_spine(con, as_at="last year", register=RULES)
    with pytest.raises(InputError, match="not found"):
        build_spine(con, as_at=AS_AT, register="/no/such/register.yaml")


def test_months_before():
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_before(date(2024, 1, 15), 12) == date(2023, 1, 15)
    assert months_before(date(2024, 1, 15), 60) == date(2019, 1, 15)


def test_latest_known_answer_is_used():
    """An assessment that leaves the item unanswered does not hide the previous answer."""
    import duckdb

    from test_spine_fixtures import create_extracts, mini_data, xjs

    data = mini_data()
    data["oasys_assessments_metadata"].append({"row_id_hash": "oaA3", "assessment_date": date(2023, 6, 1)})
    data["oasys_assessments_details_core_risk"].append({"row_id_hash": "oaA3", "question_3_3": None,
                                                        "question_10_6": "1"})
    data["xjs_link"].append(xjs("prison_oasys", "oaA3", "H1", "M1", "L1"))
    con = duckdb.connect()
    create_extracts(con, data)
    build_spine(con, as_at=AS_AT, register=RULES)
    row = con.sql(f"select need_accommodation, need_accommodation_date, need_mental_health_date from spine.person "
                  f"where person_id = '{A}'").fetchall()[0]
    assert row == (True, date(2023, 2, 1), date(2023, 6, 1))


def test_civil_case_evidence_counts_for_defendants_only():
    import duckdb

    from test_spine_fixtures import create_extracts, mini_data, xjs

    data = mini_data()
    data["civil_parties"].append({"row_id_hash": "cvP1", "case_number_hash": "C1", "party_role": "CLMT"})
    data["xjs_link"].append(xjs("civil_caseman_pcol", "cvP1", "H20", "M20", "L20"))
    rules = {"drivers": [{"key": "accommodation", "derivation": {"kind": "flag", "evidence": [
        {"table": "civil_events", "expression": "event_type IN ('ORDER_OUTRIGHT', 'WARRANT')",
         "variables": ["event_type"], "when": "window", "lookback_months": 24}]}}]}
    con = duckdb.connect()
    create_extracts(con, data)
    build_spine(con, as_at=AS_AT, register=rules)
    flags = dict(con.sql("select person_id, need_accommodation from spine.person").fetchall())
    assert flags[A] is True and flags[pseudonymise("M20")] is False
