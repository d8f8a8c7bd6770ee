"""spine.timeline: every event of a linked person across all datasets, in order, on a hand-built warehouse."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.trajectories.timeline import (
    EVENT_TYPES,
    TIMELINE_COLUMNS,
    build_timeline,
    person_timeline,
    route,
)
from helpers_trajectories import Warehouse

D = date


@pytest.fixture()
def wh() -> Warehouse:
    """Two linked persons (A, B) with records in every dataset, one unlinked record, one unloaded dataset."""
    w = Warehouse()
    w.extract("mags_defendant_case", [
        {"row_id_hash": "m1", "case_id_hash": "c1", "defendant_id_hash": "d1", "main_offence_date": D(2015, 1, 2),
         "first_hearing_date": D(2015, 2, 1), "final_result_date": D(2015, 3, 1), "offence_group": "04",
         "outcome": "CONV", "sentence": "CUS", "age_at_offence": 24, "gender": "M"},
        {"row_id_hash": "m2", "case_id_hash": "c2", "defendant_id_hash": "d2", "main_offence_date": D(2019, 5, 1),
         "first_hearing_date": None, "final_result_date": None, "offence_group": "06", "outcome": None},
        {"row_id_hash": "m_unlinked", "case_id_hash": "c3", "defendant_id_hash": "d3",
         "first_hearing_date": D(2016, 1, 1), "offence_group": "01", "outcome": "CONV"},
    ])
    w.extract("mags_defendant_offence", [
        {"offence_id_hash": "o1", "row_id_hash": "m1", "offence_seq": 1, "offence_date": D(2015, 1, 2)}])
    w.extract("crown_defendant_case", [
        {"row_id_hash": "k1", "defendant_on_case_id_hash": "x1", "case_type": "T", "receipt_date": D(2015, 3, 10),
         "main_offence_date": D(2015, 1, 2), "offence_group": "04", "outcome": "CONV", "sentence": "CUS",
         "sentence_date": D(2015, 6, 1)}])
    w.extract("prison_custodial_journey", [
        {"row_id_hash": "j1", "reception_date": D(2015, 6, 1), "admission_reason": "SENTENCE",
         "main_offence_group": "04", "release_date": D(2016, 6, 1), "release_reason": "CRD"},
        {"row_id_hash": "j2", "reception_date": D(2020, 1, 1), "admission_reason": "REMAND",
         "main_offence_group": "06", "release_date": None}])
    w.extract("prison_safety_in_custody", [
        {"incident_id_hash": "i1", "row_id_hash": "j1", "incident_date": D(2015, 9, 9), "incident_type": "Fight"}])
    w.extract("moj_probation_flatfile", [
        {"row_id_hash": "p1", "event_id_hash": "e1", "referral_date": D(2016, 5, 20), "disposal_date": D(2016, 6, 1),
         "disposal_termination_date": D(2017, 6, 1), "disposal_type_description": "Licence",
         "mo_category_description": "04"},
        {"row_id_hash": "p2", "event_id_hash": "e2", "referral_date": D(2019, 5, 20),
         "disposal_type_description": "Pre-Sentence Report", "mo_category_description": "06"}])
    w.extract("moj_probation_rqmnts", [
        {"rqmnt_id_hash": "r1", "event_id_hash": "e1", "rqmnt_type_main_category_code": "D",
         "rqmnt_type_main_category_desc": "Drug Rehabilitation", "rqmnt_start_date": D(2016, 6, 1),
         "rqmnt_termination_date": D(2016, 12, 1), "rqmnt_termination_reason_desc": "Breached"}])
    w.extract("oasys_assessments_metadata", [
        {"row_id_hash": "a1", "assessment_date": D(2015, 7, 1), "assessment_type": "LAYER_3",
         "assessment_context": "CUS"}])
    w.extract("family_cases", [
        {"case_number_hash": "f1", "case_type": "P", "receipt_date": D(2018, 2, 2), "harm_alleged": True}])
    w.extract("family_parties", [
        {"row_id_hash": "fp1", "case_number_hash": "f1", "role_model": "RSPZ"},
        {"row_id_hash": "fp2", "case_number_hash": "f1", "role_model": "APLZ"}])
    w.extract("family_events", [
        {"event_id_hash": "fe1", "case_number_hash": "f1", "event_model": "C43", "event_date": D(2018, 9, 9)},
        {"event_id_hash": "fe2", "case_number_hash": "f1", "event_model": "G63", "event_date": D(2018, 5, 5)}])
    w.extract("civil_cases", [{"case_number_hash": "v1", "claim_type": "PSL", "issue_date": D(2017, 1, 5)}])
    w.extract("civil_parties", [
        {"row_id_hash": "cp_landlord", "case_number_hash": "v1", "party_role": "CLMT", "is_company": True},
        {"row_id_hash": "cp_tenant", "case_number_hash": "v1", "party_role": "DEFT", "is_company": False}])
    w.extract("civil_events", [
        {"event_id_hash": "ce1", "case_number_hash": "v1", "event_type": "CLAIM", "event_date": D(2017, 1, 5)},
        {"event_id_hash": "ce2", "case_number_hash": "v1", "event_type": "ORDER_OUTRIGHT", "event_date": D(2017, 3, 1)},
        {"event_id_hash": "ce3", "case_number_hash": "v1", "event_type": "WARRANT", "event_date": D(2017, 5, 1)},
        {"event_id_hash": "ce4", "case_number_hash": "v1", "event_type": "REPOSSESSION",
         "event_date": D(2017, 6, 1)}])
    w.person_records([
        {"person_id": "A", "source_table": "mags_defendant_case", "record_id": "m1"},
        {"person_id": "B", "source_table": "mags_defendant_case", "record_id": "m2", "band_joined": "medium"},
        {"person_id": "A", "source_table": "crown_defendant_case", "record_id": "k1"},
        {"person_id": "A", "source_table": "prison_custodial_journey", "record_id": "j1"},
        {"person_id": "B", "source_table": "prison_custodial_journey", "record_id": "j2"},
        {"person_id": "A", "source_table": "moj_probation_flatfile", "record_id": "p1"},
        {"person_id": "B", "source_table": "moj_probation_flatfile", "record_id": "p2"},
        {"person_id": "A", "source_table": "oasys_assessments_metadata", "record_id": "a1"},
        {"person_id": "A", "source_table": "family_parties", "record_id": "fp1", "band_joined": "low"},
        {"person_id": "B", "source_table": "family_parties", "record_id": "fp2"},
        {"person_id": "A", "source_table": "civil_parties", "record_id": "cp_tenant"},
        {"person_id": "L", "source_table": "civil_parties", "record_id": "cp_landlord"},
    ])
    return w


def _rows(w: Warehouse, person: str | None = None) -> list[dict]:
    sql = "select * from spine.timeline" + (f" where person_id = '{person}'" if person else "")
    return w.con.sql(sql).to_arrow_table().to_pylist()


def test_every_event_in_order_with_the_contract_columns(wh):
    s = build_timeline(wh.con)
    cols = [r[0] for r in wh.con.execute("describe spine.timeline").fetchall()]
    assert tuple(cols) == TIMELINE_COLUMNS
    a = _rows(wh, "A")
    types = [r["event_type"] for r in a]
    assert types == [
        "mags_case", "crown_case", "custody_start", "oasys_assessment", "custody_incident",
        "custody_release", "probation_start", "requirement_start",  # one day: release, licence, requirement
        "requirement_end", "civil_claim", "civil_order", "civil_warrant",
        "probation_end", "civil_repossession",  # one day: listed in the fixed order of event types
        "family_case", "family_order",
    ]
    dates = [r["event_date"] for r in a]
    assert dates == sorted(dates)
    same_day = [r["event_type"] for r in a if r["event_date"] == D(2016, 6, 1)]
    assert same_day == ["custody_release", "probation_start", "requirement_start"]
    assert s.rows == len(_rows(wh))
    assert s.persons == 2  # A and B; the landlord's record holds no event of its own


def test_sources_dates_and_routes(wh):
    build_timeline(wh.con)
    a = {(r["event_type"], r["record_id"]): r for r in _rows(wh, "A")}
    # the magistrates' case is dated at its first hearing; the record id is the source row's key
    assert a[("mags_case", "m1")]["event_date"] == D(2015, 2, 1)
    assert a[("mags_case", "m1")]["source_table"] == "mags_defendant_case"
    assert a[("mags_case", "m1")]["dataset"] == "mags"
    # detail tables reach the person through their parent's foreign key
    assert a[("custody_incident", "i1")]["source_table"] == "prison_safety_in_custody"
    assert a[("requirement_start", "r1")]["event_date"] == D(2016, 6, 1)
    assert "Breached" in a[("requirement_end", "r1")]["description"]
    # the Crown Court case and the custody spell
    assert a[("crown_case", "k1")]["event_date"] == D(2015, 3, 10)
    assert a[("custody_release", "j1")]["event_date"] == D(2016, 6, 1)
    # civil events belong to the defendant (a person), not to the landlord
    civil = [k for k in a if k[0].startswith("civil_")]
    assert sorted(civil) == [("civil_claim", "ce1"), ("civil_order", "ce2"), ("civil_repossession", "ce4"),
                             ("civil_warrant", "ce3")]
    assert not _rows(wh, "L")
    # family events reach every party of the case; only orders are events
    assert ("family_case", "f1") in a and ("family_order", "fe1") in a and ("family_order", "fe2") not in a
    b = {(r["event_type"], r["record_id"]) for r in _rows(wh, "B")}
    assert ("family_case", "f1") in b
    assert a[("family_case", "f1")]["band_joined"] == "low"


def test_b_events_fallback_dates_and_open_custody(wh):
    build_timeline(wh.con)
    b = _rows(wh, "B")
    kinds = [(r["event_type"], r["event_date"]) for r in b]
    # no hearing date: the offence date is used; the open custody spell has no release event
    assert ("mags_case", D(2019, 5, 1)) in kinds
    assert ("custody_start", D(2020, 1, 1)) in kinds
    assert not any(k == "custody_release" for k, _ in kinds)
    # a pre-sentence report is not the start of supervision
    assert ("pre_sentence_report", D(2019, 5, 20)) in kinds
    assert not any(k == "probation_start" for k, _ in kinds)
    assert all(r["band_joined"] in ("high", "medium") for r in b)


def test_unlinked_records_are_left_out_and_descriptions_are_plain_words(wh):
    build_timeline(wh.con)
    rows = _rows(wh)
    assert "m_unlinked" not in {r["record_id"] for r in rows}
    for r in rows:
        assert r["event_type"] in EVENT_TYPES
        d = r["description"]
        assert d and d[0].isupper()
        for rid in ("m1", "j1", "cp_tenant", "f1"):
            assert f" {rid}" not in d
    descr = {r["event_type"]: r["description"] for r in _rows(wh, "A")}
    assert descr["mags_case"] == "Magistrates' court case: Theft offences; Convicted; Immediate custody"
    assert descr["custody_release"] == "Released from prison at the conditional release date"
    assert descr["civil_order"] == "Outright possession order made (Possession: social landlord)"
    assert "harm alleged" in descr["family_case"] and "respondent" in descr["family_case"]


def test_missing_tables_are_skipped_and_named(wh):
    s = build_timeline(wh.con)
    assert any(n.startswith("la_contact") and "la_service_contacts" in n for n in s.skipped)
    assert not any(n.startswith("mags_case") for n in s.skipped)


def test_person_records_are_required():
    w = Warehouse()
    w.extract("mags_defendant_case", [{"row_id_hash": "m1", "case_id_hash": "c", "defendant_id_hash": "d",
                                       "first_hearing_date": D(2015, 1, 1)}])
    with pytest.raises(InputError, match="spine.person_record") as e:
        build_timeline(w.con)
    assert "spine" in (e.value.hint or "")


def test_rebuild_is_identical_and_person_view_is_ordered(wh):
    build_timeline(wh.con)
    first = _rows(wh)
    build_timeline(wh.con)
    assert _rows(wh) == first
    pv = person_timeline(wh.con, "A")
    assert [r["event_date"] for r in pv] == sorted(r["event_date"] for r in pv)
    assert len(pv) == len(_rows(wh, "A"))


def test_routes_follow_the_model_keys():
    assert route("moj_probation_rqmnts").person_table == "moj_probation_flatfile"
    assert not route("moj_probation_rqmnts").direct
    assert route("prison_safety_in_custody").direct
    assert route("civil_events").person_table == "civil_parties"
    assert route("family_cases").person_table == "family_parties"
    assert route("la_service_contacts").person_table == "la_residents"
    assert route("npd_exclusions").person_table == "npd_pupil"


def test_local_authority_and_education_events_once_linked():
    w = Warehouse()
    w.extract("la_residents", [{"resident_id": "R1"}])
    w.extract("la_service_contacts", [{"contact_id": "lc1", "resident_id": "R1", "service": "HPR",
                                       "contact_date": D(2020, 2, 2), "outcome": "Prevention duty owed"}])
    w.extract("npd_pupil", [{"pupil_matching_reference": "PMR1"}])
    w.extract("npd_exclusions", [{"exclusion_id": "x1", "pupil_matching_reference": "PMR1",
                                  "exclusion_start_date": D(2010, 3, 3), "exclusion_category": "PERM"}])
    w.extract("npd_children_in_need", [{"cin_episode_id": "n1", "pupil_matching_reference": "PMR1",
                                        "referral_date": D(2008, 1, 1), "primary_need_code": "N1"}])
    w.extract("npd_attendance", [{"pupil_matching_reference": "PMR1", "academic_year": 2009,
                                  "persistent_absence": True},
                                 {"pupil_matching_reference": "PMR1", "academic_year": 2010,
                                  "persistent_absence": False}])
    w.person_records([{"person_id": "P", "source_table": "la_residents", "record_id": "R1", "source_dataset": "la"},
                      {"person_id": "P", "source_table": "npd_pupil", "record_id": "PMR1",
                       "source_dataset": "npd"}])
    build_timeline(w.con)
    rows = _rows(w, "P")
    assert [(r["event_type"], r["event_date"]) for r in rows] == [
        ("cin_referral", D(2008, 1, 1)), ("school_exclusion", D(2010, 3, 3)),
        ("persistent_absence", D(2010, 7, 31)), ("la_contact", D(2020, 2, 2))]
    assert rows[2]["description"] == "Persistently absent from school in academic year 2009/10"
    assert rows[2]["record_id"] == "PMR1|2009"
    assert "Homelessness prevention and relief" in rows[3]["description"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.dates(D(2011, 1, 1), D(2024, 12, 31)),
                          st.booleans()), min_size=1, max_size=30))
def test_each_linked_dated_record_appears_once_in_date_order(recs):
    w = Warehouse()
    rows, links = [], []
    for k, (p, d, linked) in enumerate(recs):
        rows.append({"row_id_hash": f"m{k}", "case_id_hash": f"c{k}", "defendant_id_hash": f"d{k}",
                     "first_hearing_date": d})
        if linked:
            links.append({"person_id": p, "source_table": "mags_defendant_case", "record_id": f"m{k}"})
    w.extract("mags_defendant_case", rows)
    w.person_records(links or [{"person_id": "Z", "source_table": "mags_defendant_case", "record_id": "none"}])
    build_timeline(w.con)
    out = w.con.execute("select person_id, event_date, record_id from spine.timeline").fetchall()
    assert sorted(r[2] for r in out) == sorted(x["record_id"] for x in links)
    assert [(r[0], r[1]) for r in out] == sorted((r[0], r[1]) for r in out)
