"""Cohort specs: parsing, compilation to portable SQL, building with attrition, profiles, places and overlap."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot
import yaml

from bold_prevention.cohorts import (
    build_cohort,
    compile_cohort,
    driver_overlap,
    load_spec,
    places_prevalence,
    profile,
    shipped_specs,
    transpile_cohort,
    wilson,
)
from bold_prevention.cohorts.release import (
    cohort_outputs,
    overlap_outputs,
    places_outputs,
    write_checked_release,
)
from bold_prevention.errors import InputError
from bold_prevention.linkage.pseudonym import pseudonymise
from bold_prevention.spine import build_spine
from test_spine_fixtures import AS_AT, RULES, create_extracts, d, mini_data, xjs

A, B, C, D, E, X = (pseudonymise(c) for c in ("M1", "M2", "M3", "M4", "M5", "M6"))


def _data():
    data = mini_data()
    add = lambda t, **r: data.setdefault(t, []).append(r)  # noqa: E731
    # B (21): convictions in 2019 and 2021, and a new one in 2023: the cusp of repeat offending
    for row in data["mags_defendant_case"]:
        if row["row_id_hash"] in ("mB1", "mB4"):
            row.update(outcome="CONV", final_result_date=row["first_hearing_date"])
    add("mags_defendant_case", row_id_hash="mB5", case_id_hash="cB5", defendant_id_hash="dB5",
        first_hearing_date=d("2023-08-01"), final_result_date=d("2023-09-01"), outcome="CONV", age_at_offence=21,
        gender="F", ethnicity_desc="Black or Black British: Caribbean")
    data["xjs_link"].append(xjs("mags_hocas", "mB5", "H2", "M2", "L2"))
    # a private landlord who is a person: the claimant on C1 must not enter the possession cohort
    add("civil_parties", row_id_hash="cvP1", case_number_hash="C1", party_role="CLMT", gender="M")
    data["xjs_link"].append(xjs("civil_caseman_pcol", "cvP1", "H20", "M20", "L20"))
    return data


@pytest.fixture(scope="module")
def con():
    import duckdb

    c = duckdb.connect()
    create_extracts(c, _data())
    build_spine(c, as_at=AS_AT, band="medium", register=RULES)
    return c


def test_shipped_specs_parse_and_compile_to_every_dialect():
    names = set(shipped_specs())
    assert {"multiple_disadvantage", "multiple_disadvantage_4plus", "young_adults_cusp", "possession_claim",
            "prison_leavers_nfa", "hard_edges_smd2"} <= names
    for n in names:
        spec = load_spec(n)
        assert spec.title and spec.description
        for dialect in ("spark", "trino"):
            steps = transpile_cohort(spec, AS_AT, dialect)
            assert len(steps) == 1 + len(spec.inclusion) + len(spec.exclusion)


def test_multiple_disadvantage_counts_domains(con):
    res = build_cohort(con, "multiple_disadvantage")
    # A: accommodation, substance misuse, offending (contact in the last 12 months)
    members = {r[0] for r in con.sql("select person_id from results.cohort_multiple_disadvantage").fetchall()}
    assert members == {A}
    assert [a["kind"] for a in res.attrition] == ["entry", "inclusion", "inclusion"]
    assert res.attrition[0]["persons"] == 7 and res.attrition[-1]["persons"] == 1
    assert res.attrition[-1]["persons_removed"] == res.attrition[-2]["persons"] - 1
    four = build_cohort(con, "multiple_disadvantage_4plus")
    assert four.persons == 0
    end = con.sql("select index_date, end_date from results.cohort_multiple_disadvantage").fetchall()[0]
    assert end == (AS_AT, date(2024, 12, 30))


def test_event_cohorts(con):
    yac = build_cohort(con, "young_adults_cusp")
    rows = con.sql("select person_id, index_date from results.cohort_young_adults_cusp").fetchall()
    assert rows == [(B, date(2023, 9, 1))] and yac.persons == 1
    pc = build_cohort(con, "possession_claim")
    rows = con.sql("select person_id, index_date from results.cohort_possession_claim").fetchall()
    assert rows == [(A, date(2023, 9, 1))] and pc.persons == 1  # the defendant, not the landlord
    nfa = build_cohort(con, "prison_leavers_nfa")
    rows = con.sql("select person_id, index_date from results.cohort_prison_leavers_nfa").fetchall()
    assert rows == [(A, date(2023, 3, 1))] and nfa.attrition[-1]["rule"].startswith("No fixed abode")
    reg = {r[0]: r[1] for r in con.sql("select cohort, persons from results.cohorts").fetchall()}
    assert reg["possession_claim"] == 1 and reg["young_adults_cusp"] == 1


def test_occurrence_windows_and_exclusions(con):
    spec = {
        "name": "two_mags_cases", "title": "At least two magistrates' cases in five years, not in custody",
        "entry": {"population": "spine"},
        "inclusion": [{"name": "two or more cases", "events": [{"table": "mags_defendant_case"}],
                       "window": {"start_days": -1826, "end_days": 0}, "occurrences": {"at_least": 2}}],
        "exclusion": [{"name": "female", "where": "sex = 'F'"}],
    }
    res = build_cohort(con, spec)
    assert [a["persons"] for a in res.attrition] == [7, 1, 0]  # B qualifies on cases, then is excluded
    spec["exclusion"] = []
    assert build_cohort(con, spec).persons == 1
    spec["inclusion"][0]["occurrences"] = {"exactly": 1}
    spec["inclusion"][0]["window"] = {"start_days": -365, "end_days": 0}
    assert build_cohort(con, spec).persons == 2  # A and B: one case each in the last year


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "Bad Name"}, "lower_case identifier"),
    ({"colour": "blue"}, "unknown settings"),
    ({"entry": {"population": "everyone"}}, "population"),
    ({"entry": {"events": [{"table": "nope"}]}}, "not in the Data First model"),
    ({"entry": {"events": [{"table": "civil_cases", "date": "claim_type"}]}}, "not a date column"),
    ({"entry": {"events": [{"table": "civil_cases", "where": "surname = 'x'"}]}}, "not analysis columns"),
    ({"entry": {"events": [{"table": "civil_cases", "via_where": "forename = 'x'"}]}}, "via_where"),
    ({"entry": {"limit": "middle"}}, "limit"),
    ({"inclusion": [{"where": "age > 1"}]}, "needs a `name:`"),
    ({"inclusion": [{"name": "x", "where": "age > 1; DROP TABLE spine.person"}]}, "one condition"),
    ({"inclusion": [{"name": "x", "where": "(SELECT 1) = 1"}]}, "may not contain a query"),
    ({"inclusion": [{"name": "x", "at_least": 3, "of": [{"where": "a"}]}]}, "impossible"),
    ({"inclusion": [{"name": "x", "events": [{"table": "civil_cases"}],
                     "window": {"start_days": 5, "end_days": -5}}]}, "starts"),
])
def test_bad_specs(change, message):
    spec = {"name": "ok", "title": "ok", **change}
    with pytest.raises(InputError, match=message):
        load_spec(spec)


def test_unknown_spine_column_is_named(con):
    spec = {"name": "x", "inclusion": [{"name": "needs", "where": "need_gambling AND age > 18"}]}
    with pytest.raises(InputError, match="need_gambling") as e:
        build_cohort(con, spec)
    assert "register has no derivation for gambling" in e.value.hint


def test_as_at_must_match_the_spine(con):
    with pytest.raises(InputError, match="spine is built as at"):
        build_cohort(con, "multiple_disadvantage", as_at=date(2022, 1, 1))


def test_compiled_sql_reads_only_pseudonymised_tables():
    for n in shipped_specs():
        for step in compile_cohort(load_spec(n), AS_AT):
            tables = {t.sql() for t in sqlglot.parse_one(step.sql, read="duckdb").find_all(sqlglot.exp.Table)}
            assert not any(t.startswith("linkage.") for t in tables)


def test_wilson_interval():
    lo, hi = wilson(0, 10)
    assert lo == 0 and 0.27 < hi < 0.29  # the classic 0/10 upper bound 0.278
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    assert wilson(3, 0) == (None, None)


def test_profile_places_and_overlap(con, tmp_path):
    build_cohort(con, "possession_claim")
    prof = profile(con, "possession_claim").to_pylist()
    total = prof[0]
    assert total["dimension"] == "all" and total["cohort_n"] == 1 and total["population_n"] == 7
    la = [r for r in prof if r["dimension"] == "local_authority" and r["category_code"] == "E09000001"][0]
    assert la["category"] == "City of London" and la["cohort_n"] == 1
    assert la["rate_low"] < la["rate"] < la["rate_high"]
    dec = [r["category"] for r in prof if r["dimension"] == "imd_decile"]
    assert dec == sorted(dec, key=lambda c: (c == "Unknown", int(c) if c.isdigit() else 0))
    places = places_prevalence(con).to_pylist()
    city = {r["driver"]: r for r in places if r["lad_code"] == "E09000001"}
    assert city["accommodation"]["with_need"] == 1 and city["accommodation"]["assessed"] == 1
    ov = {(r["driver_a"], r["driver_b"]): r for r in driver_overlap(con, population="spine").to_pylist()}
    acc_sub = ov[("accommodation", "substance_misuse")]
    assert acc_sub["n_both"] == 1 and acc_sub["n"] == 7 and acc_sub["lift"] == pytest.approx(7.0)
    assert ov[("accommodation", "accommodation")]["p_a"] == pytest.approx(1 / 7)
    # releases: only checked outputs; with tiny counts everything is suppressed
    outs, _ = cohort_outputs(con, "possession_claim")
    folder = write_checked_release(outs, tmp_path / "rel", title="Possession claims")
    assert (folder / "report.html").exists() and (folder / "tables.xlsx").exists()
    assert (folder / "output-checking" / "results.json").exists()
    assert all(not o.publishable or o.n_suppressed > 0 for o in outs if o.name.endswith("_sex"))
    p_outs, _ = places_outputs(con)
    assert [o.name for o in p_outs] == ["places_need", "places_assessed", "places_prevalence"]
    checked, n, _ = overlap_outputs(con, population="spine")
    folder = write_checked_release([checked], tmp_path / "ov", title="Overlap", network=(checked, n))
    svg = (folder / "overlap-network.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg


def test_spec_files_round_trip(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"name": "adults", "title": "Adults", "inclusion": [
        {"name": "adult", "where": "age >= 18"}]}))
    assert load_spec(p).inclusion[0].criterion.where == "age >= 18"
    with pytest.raises(InputError, match="no cohort spec"):
        load_spec("no_such_cohort")


def test_spec_files_report_every_key_and_type_problem_with_lines(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text('name: ok\nfollow_up_days: "365"\nentry:\n  limit: last\n  lookback: 12\n'
                 "inclusion:\n  - name: adults\n    where: true\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_spec(f)
    msg = str(e.value)
    assert f"{f}: 3 problems" in msg
    assert f"{f}:2: follow_up_days: must be a whole number, got the text '365'; write the number without quotes" in msg
    assert f"{f}:5: entry: unknown key `lookback`" in msg
    assert f"{f}:8: inclusion[0].where: must be text, got true (true/false)" in msg


def test_shipped_specs_pass_the_schema():
    for name in shipped_specs():
        assert load_spec(name).name == name


def test_outcomes_not_built_are_a_clear_error(con):
    """A cohort or profile that reads an outcome before `bold spine outcomes` says which table is missing and what
    to run (not a database error); a spec with no outcome builds as before."""
    spec = {"name": "reoffended", "title": "Reoffended", "entry": {"population": "spine"},
            "inclusion": [{"name": "any of", "any": [{"where": "age > 200"},
                                                     {"outcome": {"name": "offending"}}]}]}
    with pytest.raises(InputError, match=r"spine\.person_outcome") as e:
        build_cohort(con, spec)
    assert "bold spine outcomes" in e.value.hint and "offending" in e.value.message
    build_cohort(con, "possession_claim")
    with pytest.raises(InputError, match=r"spine\.person_outcome") as e:
        profile(con, "possession_claim", dimensions=["sex", "outcome_offending"])
    assert "bold spine outcomes" in e.value.hint
    # without outcomes, the profile has only the person dimensions
    dims = {r["dimension"] for r in profile(con, "possession_claim").to_pylist()}
    assert not any(d.startswith("outcome_") for d in dims)
