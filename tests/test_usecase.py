"""Step A use cases: a question proposes drivers and outcomes, the file is validated, the plan is measured on the
loaded project, and the run publishes a disclosure-checked release."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.planning import load_use_case, plan, propose, run_use_case, write_use_case
from bold_prevention.planning.usecase import match_vocabulary
from bold_prevention.project import Project
from bold_prevention.register import load_register
from bold_prevention.warehouse.engine import duckdb_connect

QUESTION = "identify early housing insecurity risk for adults with multiple disadvantages"


def test_question_proposes_drivers_outcomes_and_cohort():
    p = propose(QUESTION)
    assert "accommodation" in p.use_case.drivers
    assert "homelessness" in p.use_case.outcomes
    assert p.use_case.cohort == "multiple_disadvantage"
    assert {m.entry for m in p.use_case.measures} == {"accommodation", "homelessness"}


def test_generic_word_covered_by_a_phrase_is_not_a_second_driver():
    drivers, outcomes = match_vocabulary("adults with drug misuse and mental health needs who reoffend")
    keys = [d.key for d in drivers]
    assert keys[:2] == ["substance_misuse", "mental_health"] or set(keys[:2]) == {"substance_misuse", "mental_health"}
    assert "physical_health" not in keys  # "health" is explained by "mental health"
    assert "offending" in [o.key for o in outcomes]


def test_question_with_no_vocabulary_says_so():
    p = propose("quarterly figures please")
    assert not p.use_case.drivers and not p.use_case.outcomes
    assert any("No driver or outcome" in n for n in p.notes)
    with pytest.raises(InputError):
        propose("   ")


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=3, max_size=120).filter(lambda s: s.strip()))
def test_any_question_gives_a_valid_file(tmp_path_factory, question):
    p = propose(question)
    path = tmp_path_factory.mktemp("uc") / "uc.yaml"
    write_use_case(p.use_case, path, proposal=p)
    assert load_use_case(path) == p.use_case


def test_file_with_unknown_entries_is_refused_naming_them(tmp_path):
    path = tmp_path / "uc.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "question": "q?!", "cohort": "multiple_disadvantage",
                                    "drivers": ["housing_stuff"], "outcomes": ["accommodation"],
                                    "measures": [{"entry": "nope", "candidates": ["not a variable"]}]}))
    with pytest.raises(InputError) as e:
        load_use_case(path)
    msg = str(e.value)
    for part in ("housing_stuff", "'accommodation' is a register driver", "nope", "not a variable"):
        assert part in msg
    path.write_text(yaml.safe_dump({"name": "x", "question": "q?!", "cohort": "c", "band": "very"}))
    with pytest.raises(InputError, match="band"):
        load_use_case(path)


@pytest.fixture(scope="module")
def project(spine_project, tmp_path_factory):
    root = tmp_path_factory.mktemp("uc-project")
    shutil.copy(spine_project.warehouse_path, root / "warehouse.duckdb")
    return Project(root).ensure()


def test_plan_measures_coverage_missingness_links_and_wave_needs(project):
    p = propose(QUESTION)
    uc = p.use_case.model_copy(update={"measures": [
        *p.use_case.measures[:1],
        p.use_case.measures[0].model_copy(update={"entry": "substance_misuse",
                                                  "candidates": ["moj_probation_rqmnts.rqmnt_type_main_category_code",
                                                                 "oasys_assessments_details_core_risk.no_such"]})]})
    con = duckdb_connect(project, read_only=True)
    try:
        result = plan(con, uc)
        persons = con.execute("SELECT COUNT(*) FROM spine.person").fetchone()[0]
        oasys = con.execute("SELECT COUNT(DISTINCT person_id) FROM spine.person_record WHERE source_table IN "
                            "('oasys_assessments_details_core_risk', 'oasys_assessments_details_bcs', "
                            "'oasys_assessments_details_tr_bcs', 'civil_cases', 'civil_events', "
                            "'la_service_contacts')").fetchone()[0]
    finally:
        con.close()
    assert result.persons == persons
    acc = result.measures[0]
    assert acc.entry == "accommodation"
    assert acc.coverage == pytest.approx(oasys / persons)
    assert all(v is None or 0 <= v <= 1 for v in acc.missingness.values())
    assert all(0 <= t["link_rate"] <= 1 for t in acc.link)
    for t in acc.link:
        if t["band_mix"]:
            assert sum(t["band_mix"].values()) == pytest.approx(1)
    assert any(w["wave"] == 3 for w in acc.wave_needs)
    sub = result.measures[1]
    assert "oasys_assessments_details_core_risk.no_such" in sub.adds
    assert sub.missingness["oasys_assessments_details_core_risk.no_such"] is None
    ndtms = [w for w in sub.wave_needs if "ndtms" in w["toolkit_sources"]]
    assert ndtms and not ndtms[0]["loaded"] and "bold synth --sources ndtms" in ndtms[0]["how"]
    json.dumps(result.to_dict())


def test_plan_without_a_spine_is_a_clear_error(tmp_path):
    proj = Project(tmp_path / "empty").ensure()
    con = duckdb_connect(proj)
    try:
        with pytest.raises(InputError, match="spine"):
            plan(con, propose(QUESTION).use_case)
    finally:
        con.close()


def test_run_publishes_a_checked_release(project, tmp_path):
    uc = propose(QUESTION).use_case
    con = duckdb_connect(project)
    try:
        r = run_use_case(con, uc, tmp_path / "release")
    finally:
        con.close()
    assert r.cohort == "multiple_disadvantage"
    assert (r.release / "report.html").exists()
    audit = json.loads((r.release / "output-checking" / "release_audit.json").read_text())
    assert audit  # the release went through the release-wide audit
    assert any("spine.person_outcome is not built" in n for n in r.notes)


def test_cli_new_plan_json(project, tmp_path):
    runner = CliRunner()
    f = tmp_path / "uc.yaml"
    res = runner.invoke(app, ["usecase", "new", QUESTION, "--out", str(f), "--project", str(project.root)])
    assert res.exit_code == 0, res.output
    assert load_use_case(f).drivers
    res = runner.invoke(app, ["usecase", "plan", str(f), "--format", "json", "--project", str(project.root)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["measures"][0]["entry"] == "accommodation"
    res = runner.invoke(app, ["usecase", "new", QUESTION, "--out", str(f), "--project", str(project.root)])
    assert res.exit_code == 2 and "exists" in res.output


def test_register_entries_all_reachable_from_some_question():
    """Every register entry can be proposed from its own label (the vocabularies cover the register)."""
    reg = load_register()
    for e in reg.entries:
        drivers, outcomes = match_vocabulary(e.name)
        assert e.id in [m.key for m in (*drivers, *outcomes)], e.id


def test_band_sensitivity_side_by_side_and_spine_restored(project, tmp_path):
    from bold_prevention.cohorts import spine_state
    from bold_prevention.cohorts.release import write_checked_release
    from bold_prevention.planning import band_sensitivity

    con = duckdb_connect(project)
    try:
        before = spine_state(con)
        res = band_sensitivity(con, ["multiple_disadvantage"], places=True)
        after = spine_state(con)
        folder = write_checked_release(res.outputs, tmp_path / "sens", title="Sensitivity", texts=res.texts)
    finally:
        con.close()
    assert before == after  # the spine ends at the band it had
    names = [o.name for o in res.outputs]
    assert len(names) == len(set(names))
    for b in ("high", "medium", "low"):
        assert f"multiple_disadvantage_attrition_{b}_band" in names
        assert f"places_prevalence_{b}_band" in names
    assert set(res.published["multiple_disadvantage"]) == {"high", "medium", "low"}
    assert any("across linkage bands" in t for t, _ in res.texts)
    assert (folder / "report.html").exists()
    with pytest.raises(InputError, match="band"):
        con = duckdb_connect(project)
        try:
            band_sensitivity(con, ["multiple_disadvantage"], bands=("tight",))
        finally:
            con.close()


def test_feature_sets_sections_sequences_search_and_plan(project):
    import pandas as pd

    from bold_prevention.catalogue.search import CatalogueIndex
    from bold_prevention.planning.feature_sets import (
        feature_sets,
        get_feature_set,
        register_candidates,
        search_feature_sets,
        section_sets,
    )

    t = "oasys_assessments_details_core_risk"
    v = pd.DataFrame({"dataset": "oasys", "table_name": t,
                      "variable": ["question_3_3", "question_3_4", "question_3_tot", "question_4_2", "question_4_3",
                                   "question_7_1", "other"],
                      "description": ["No fixed abode", "Suitable accommodation", "Total score for section 3: "
                                      "accommodation", "Unemployed", "Employment history", "Lone item", "x"],
                      "values": "", "source_file": "f"})
    secs = section_sets(v)
    assert [s.name for s in secs] == ["oasys_core_risk_section_3", "oasys_core_risk_section_4"]  # 7 has one item
    assert "accommodation" in secs[0].title and len(secs[0].variables) == 3
    sets = feature_sets(v)
    ranked = search_feature_sets("accommodation", sets, CatalogueIndex(v))
    assert ranked[0][0].name == "oasys_core_risk_section_3"
    assert search_feature_sets("eviction", sets, CatalogueIndex(v))[0][0].name == "sequence_possession"
    assert {c["variable"] for c in register_candidates(secs[0])} == {"question_3_3", "question_3_4", "question_3_tot"}
    with pytest.raises(InputError):
        get_feature_set("nope", sets)

    uc = propose(QUESTION).use_case
    m = uc.measures[1].model_copy(update={"feature_sets": ["sequence_possession"]})
    uc2 = uc.model_copy(update={"measures": [uc.measures[0], m]})
    con = duckdb_connect(project, read_only=True)
    try:
        p = plan(con, uc2)
        with pytest.raises(InputError, match="no feature set"):
            plan(con, uc.model_copy(update={"measures": [uc.measures[0].model_copy(
                update={"feature_sets": ["nope"]})]}))
    finally:
        con.close()
    hom = p.measures[1]
    assert "civil_events.event_type" in hom.missingness and "civil_events.event_date" in hom.adds
