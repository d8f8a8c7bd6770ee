"""Unmeasured is not zero: needs whose variables are missing or empty in the loaded extract are NULL with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.cohorts import build_cohort, places_prevalence
from bold_prevention.cohorts.release import places_outputs
from bold_prevention.errors import InputError
from bold_prevention.linkage.pseudonym import pseudonymise
from bold_prevention.spine import build_spine
from bold_prevention.spine.build import unmeasured_needs
from bold_prevention.spine.measured import evidence_status, unmeasured_by_driver
from test_spine_fixtures import AS_AT, RULES, create_extracts, mini_data

A, B, E = (pseudonymise(c) for c in ("M1", "M2", "M5"))
CORE = "oasys_assessments_details_core_risk"
#: the OASys variables the RULES fixture reads, and the driver reading each
OASYS_VARS = {"question_3_3": "accommodation", "question_8_4": "substance_misuse",
              "question_6_7_da_victim": "domestic_abuse", "question_10_6": "mental_health"}


def _warehouse(blank=(), drop=()) -> duckdb.DuckDBPyConnection:
    """The mini warehouse with the OASys variables ``blank`` entirely empty and ``drop`` missing."""
    data = mini_data()
    for row in data[CORE]:
        for v in blank:
            row[v] = None
    con = duckdb.connect()
    create_extracts(con, data)
    for v in drop:
        con.execute(f"ALTER TABLE extract.{CORE} DROP COLUMN {v}")
    return con


def _people(con):
    return con.sql("select * from spine.person").df().set_index("person_id")


@pytest.fixture(scope="module")
def full():
    con = _warehouse()
    build_spine(con, as_at=AS_AT, register=RULES)
    return _people(con)


def test_an_empty_variable_is_not_measured_not_no_need():
    con = _warehouse(blank=["question_6_7_da_victim"])
    res = build_spine(con, as_at=AS_AT, register=RULES)
    p = _people(con)
    # A was assessed by OASys, but the domestic abuse item is empty: not "assessed, no need"
    assert p["need_domestic_abuse"].isna()[A]
    row = con.sql(f"select value, measured, assessed, unmeasured_reason, evidence_dataset from spine.person_need "
                  f"where person_id = '{A}' and driver = 'domestic_abuse'").fetchall()[0]
    assert row[0] is None and row[1] is False and row[2] is False and row[4] == "oasys"
    assert "question_6_7_da_victim" in row[3]
    # E's domestic abuse comes from a family case: another source of the same driver, measured
    assert bool(p.loc[E, "need_domestic_abuse"])
    assert [(g["driver"], g["dataset"], g["persons"]) for g in res.unmeasured] == [("domestic_abuse", "oasys", 1)]
    assert unmeasured_needs(con) == list(res.unmeasured)


def test_a_missing_column_is_not_measured():
    con = _warehouse(drop=["question_3_3"])
    build_spine(con, as_at=AS_AT, register=RULES)
    p = _people(con)
    assert p["need_accommodation"].isna()[A]
    reason = con.sql(f"select unmeasured_reason from spine.person_need where person_id = '{A}' "
                     "and driver = 'accommodation'").fetchall()[0][0]
    assert "question_3_3 is not a column" in reason
    # other drivers read from the same table are unaffected
    assert bool(p.loc[A, "need_substance_misuse"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blank=st.sets(st.sampled_from(sorted(OASYS_VARS))), drop=st.sets(st.sampled_from(sorted(OASYS_VARS))))
def test_never_no_need_for_an_unmeasured_driver(full, blank, drop):
    """For any set of absent or empty OASys items, no person is "assessed, no need" on an unmeasured item, and
    every measured need is what the full extract gives."""
    blank = blank - drop
    con = _warehouse(blank=sorted(blank), drop=sorted(drop))
    res = build_spine(con, as_at=AS_AT, register=RULES)
    p = _people(con)
    gone = blank | drop
    status = {(s.driver, s.table): s.state for s in evidence_status(con, load_rules_fixture())}
    for v, driver in OASYS_VARS.items():
        assert (status[(driver, CORE)] == "unmeasured") == (v in gone)
    bad = con.sql("select n.driver, n.evidence_table from spine.person_need n join spine.need_measure m "
                  "on m.driver = n.driver and m.evidence_table = n.evidence_table "
                  "where m.state = 'unmeasured' and n.measured and n.value = false").fetchall()
    assert bad == []
    for v, driver in OASYS_VARS.items():
        col = f"need_{driver}"
        if v in gone:
            # A's only evidence for these drivers is the OASys assessment
            assert p[col].isna()[A], (v, driver)
            assert not (p[col].notna() & (p[col] == False) & (p[f"{col}_dataset"] == "oasys")).any()  # noqa: E712
        else:
            assert p.loc[A, col] == full.loc[A, col]
    # the probation source of mental health is measured whatever OASys lacks
    assert bool(p.loc[B, "need_mental_health"])
    assert {g["driver"] for g in res.unmeasured} == {OASYS_VARS[v] for v in gone}
    assert unmeasured_by_driver(evidence_status(con, load_rules_fixture())).keys() == {OASYS_VARS[v] for v in gone}


def load_rules_fixture():
    from bold_prevention.spine import load_rules

    return load_rules(RULES)


def test_places_do_not_count_unmeasured_persons_as_assessed():
    con = _warehouse(blank=["question_3_3"])
    build_spine(con, as_at=AS_AT, register=RULES)
    rows = [r for r in places_prevalence(con).to_pylist() if r["driver"] == "accommodation"]
    assert sum(r["assessed"] for r in rows) == 0 and sum(r["unmeasured"] for r in rows) == 1
    assert all(r["prevalence"] is None for r in rows)
    places_outputs(con)  # the release reads the same columns


def test_a_cohort_on_an_unmeasured_driver_is_refused_unless_allowed():
    con = _warehouse(blank=["question_3_3"])
    build_spine(con, as_at=AS_AT, register=RULES)
    spec = {"name": "homeless", "inclusion": [{"name": "adults", "where": "age >= 18"},
                                              {"name": "homeless", "where": "need_accommodation"}]}
    with pytest.raises(InputError, match="accommodation in oasys") as e:
        build_cohort(con, spec)
    assert "--allow-unmeasured" in e.value.hint and "question_3_3" in e.value.hint
    res = build_cohort(con, spec, allow_unmeasured=True)
    notes = {a["rule"]: a["note"] for a in res.attrition}
    assert notes["adults"] == "" and notes["homeless"] == "depends on unmeasured driver accommodation (oasys)"
    stored = dict(con.sql("select rule, note from results.cohort_homeless_attrition").fetchall())
    assert stored["homeless"].startswith("depends on unmeasured driver accommodation")
    assert [g["driver"] for g in res.unmeasured] == ["accommodation"]
    # a cohort that does not read the unmeasured driver builds as before
    build_cohort(con, {"name": "drugs", "inclusion": [{"name": "drugs", "where": "need_substance_misuse"}]})
    # need_count reads every driver
    with pytest.raises(InputError, match="accommodation"):
        build_cohort(con, {"name": "many", "inclusion": [{"name": "two", "where": "need_count >= 2"}]})


def test_bold_load_and_spine_name_unmeasured_drivers(synth_dir, tmp_path):
    """The issue's case: OASys items with inferred names absent from the extract."""
    from typer.testing import CliRunner

    from bold_prevention.cli import app

    src = tmp_path / "extracts"
    shutil.copytree(synth_dir / "extracts", src)
    shutil.copy(synth_dir / "manifest.json", tmp_path / "manifest.json")
    path = next(src.glob(f"{CORE}*.parquet"))
    t = pq.read_table(path)
    absent = ["question_4_2", "question_4_3", "question_4_7", "question_6_1"]
    pq.write_table(t.drop_columns([c for c in absent if c in t.column_names]), path)
    project = tmp_path / "project"
    runner = CliRunner()
    r = runner.invoke(app, ["load", str(src), "--project", str(project)])
    assert r.exit_code == 0, r.output
    assert "Not measured:" in r.output and "employment" in r.output and "education" in r.output
    assert "family" in r.output
    r = runner.invoke(app, ["spine", "build", "--as-at", "2024-12-31", "--project", str(project)])
    assert r.exit_code == 0, r.output
    assert "Not measured:" in r.output and "employment in oasys" in r.output
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        for d in ("employment", "education", "family"):
            n_false, n_null = con.sql(f"select count(*) filter (where need_{d} = false and has_oasys), "
                                      f"count(*) filter (where need_{d} is null) from spine.person").fetchall()[0]
            assert n_null > 0, d
            # no assessed person is reported as "no need" from OASys for a driver it could not measure
            assert con.sql(f"select count(*) from spine.person where need_{d} = false "
                           f"and need_{d}_dataset = 'oasys'").fetchall()[0][0] == 0, (d, n_false)
        assert con.sql("select count(*) from spine.person where need_accommodation is null").fetchall()[0][0] == 0
    finally:
        con.close()


def test_the_person_page_says_not_measured(tmp_path):
    """The web person page's needs: an unmeasured need is shown as not measured with its reason."""
    from types import SimpleNamespace

    from bold_prevention.app.person_extras import collect
    from bold_prevention.app.warehouse import Capabilities
    from bold_prevention.project import Project

    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    data = mini_data()
    for row in data[CORE]:
        row["question_3_3"] = None
    create_extracts(con, data)
    build_spine(con, as_at=AS_AT, register=RULES)
    con.close()
    mem = duckdb.connect()
    mem.execute(f"attach '{path}' as wh (read_only)")
    # the index's copy of spine.person_need (app.index.build_single_view_index)
    mem.execute("create table memory.main.person_need as select person_id, driver, value, score, evidence_dataset, "
                "evidence_variable, evidence_date, measured, unmeasured_reason from wh.spine.person_need")
    import inspect

    kw = {"indexed": frozenset({"person_need"})} if "indexed" in inspect.signature(collect).parameters else {}
    extras = collect(mem, Capabilities(frozenset({"spine.person_need"})), Project(tmp_path), A,
                     SimpleNamespace(records=[], bands_shown=("high", "medium", "low")), **kw)
    needs = {n.driver: n for n in extras.needs}
    assert not needs["accommodation"].measured and "question_3_3" in needs["accommodation"].unmeasured_reason
    assert needs["substance_misuse"].measured and needs["substance_misuse"].flag
    import bold_prevention.app as app_pkg

    src = (Path(app_pkg.__file__).parent / "templates" / "person.html").read_text()
    assert "Not measured" in src and "n.unmeasured_reason" in src
