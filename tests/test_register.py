"""The risk factor register: the shipped data, its checks, its derivations on an engine, validation against
catalogues, export (Step A CSV, GSS XLSX), suggestions and the ``bold register`` commands."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
import sqlglot
import yaml
from typer.testing import CliRunner

from bold_prevention.catalogue.reader import read_catalogue, read_catalogues
from bold_prevention.catalogue.store import load_catalogues
from bold_prevention.catalogue.writer import OASYS_FILE, write_reference_oasys, write_synthetic_catalogues
from bold_prevention.cli import app
from bold_prevention.datafirst import MODEL, SQL_TYPES
from bold_prevention.errors import InputError, OutputExistsError
from bold_prevention.register import (
    DRIVERS,
    OUTCOMES,
    RegisterError,
    default_register_path,
    export,
    linkage_route,
    load_register,
    parse_register,
    step_a_frame,
    suggest,
    validate,
)
from bold_prevention.register.export import STEP_A_COLUMNS

runner = CliRunner()
CORE = "oasys_assessments_details_core_risk"


@pytest.fixture(scope="module")
def register():
    return load_register()


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(default_register_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def synthetic_catalogue(tmp_path_factory):
    out = tmp_path_factory.mktemp("cat") / "synthetic"
    write_synthetic_catalogues(out)
    return read_catalogues([out])


@pytest.fixture(scope="module")
def real_oasys(tmp_path_factory):
    return read_catalogue(write_reference_oasys(tmp_path_factory.mktemp("real") / OASYS_FILE))


# ---------------------------------------------------------------------------------------------- the data
def test_register_covers_the_annex(register):
    assert register.version and register.updated
    assert set(DRIVERS) | {"domestic_abuse"} == {e.id for e in register.drivers}
    assert set(OUTCOMES) == {e.id for e in register.outcomes}
    waves = {s.wave for e in register.entries for s in e.replacement_sources}
    assert waves == {1, 2, 3}
    sources = " ".join(s.source for e in register.entries for s in e.replacement_sources)
    for name in ("National Pupil Database", "DWP", "HMRC", "NHS", "ONS mortality", "DLUHC", "NDTMS",
                 "Local authority"):
        assert name in sources, name
    for e in register.entries:
        assert e.definition and e.preferred_measure and e.fallback_proxy and e.linkage_needs
        assert e.time_coverage and e.expected_missingness and e.bias_notes and e.coverage_notes
        assert any(c.role == "primary" for c in e.candidates)
        # every derivation input is a listed candidate, and every primary candidate is read
        assert e.derivation_variables() <= {c.key for c in e.candidates}
        assert {c.key for c in e.candidates if c.role == "primary"} <= e.derivation_variables()


def test_register_references_real_model_columns(register):
    used = {(ev.table, v) for e in register.entries for ev in e.derivation.evidence for v in ev.variables}
    for t, v in used:
        col = MODEL.table(t).column(v)
        assert not col.identifier
    assert (CORE, "question_3_3") in used
    assert ("civil_events", "event_type") in used
    assert ("family_cases", "case_type") in used
    assert ("prison_safety_in_custody", "incident_type") in used
    # drivers read the OASys assessment only; other datasets' records are supporting candidates of drivers
    for e in register.drivers:
        assert {MODEL.dataset_of(ev.table).key for ev in e.derivation.evidence} == {"oasys"}, e.id


def test_offending_and_domestic_abuse_entries(register):
    off = register.entry("offending")
    assert off.kind == "outcome"
    assert {ev.table for ev in off.derivation.evidence} == {"mags_defendant_case", "crown_defendant_case"}
    da = register.entry("domestic_abuse")
    assert da.kind == "driver"
    assert {ev.table for ev in da.derivation.evidence} == {CORE}
    assert "oasys_assessments_details_sara" in {c.table for c in da.candidates}
    with pytest.raises(InputError, match="no entry 'housing'"):
        register.entry("housing")


def test_derivations_transpile_to_every_engine(register):
    for e in register.entries:
        for ev in e.derivation.evidence:
            for dialect in ("duckdb", "spark", "trino"):
                assert sqlglot.transpile(ev.expression, write=dialect)[0]


def _empty_tables(con):
    for t in MODEL.tables:
        cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.dtype]}' for c in t.columns if not c.identifier)
        con.execute(f"create table {t.name} ({cols})")


def test_derivations_run_on_duckdb_with_model_types(register):
    con = duckdb.connect()
    _empty_tables(con)
    for e in register.entries:
        for ev in e.derivation.evidence:
            sql = sqlglot.transpile(ev.expression, write="duckdb")[0]
            con.execute(f"select ({sql}) as v from {ev.table}").fetchall()  # binds and type-checks
            kind = con.execute(f"describe select ({sql}) as v from {ev.table}").fetchone()[1]
            assert (kind == "BOOLEAN") == (e.derivation.kind == "flag"), (e.id, ev.table, kind)


def test_derivation_semantics_on_rows(register):
    con = duckdb.connect()
    _empty_tables(con)
    con.execute(f"insert into {CORE} (row_id_hash, question_3_3, question_3_4, question_3_5) values "
                "('a', 'YES', '0', '0'), ('b', 'NO', '2', '0'), ('c', 'NO', '1', '1'), ('d', 'M', 'M', 'M')")
    ev = register.entry("accommodation").derivation.evidence[0]
    got = con.execute(f"select row_id_hash, ({ev.expression}) from {CORE} order by 1").fetchall()
    assert got == [("a", True), ("b", True), ("c", False), ("d", False)]
    # tick boxes (YES or blank): a blank is read as not ticked, so the latest assessment's answer is known
    con.execute(f"insert into {CORE} (row_id_hash, question_13_3_10_1, question_13_3_9_2) values "
                "('e', 'YES', null), ('f', null, 'YES'), ('g', null, null)")
    ev = register.entry("substance_misuse").derivation.evidence[0]
    got = con.execute(f"select row_id_hash, ({ev.expression}) from {CORE} where row_id_hash >= 'e' order by 1")
    assert got.fetchall() == [("e", True), ("f", True), ("g", False)]
    con.execute(f"insert into {CORE} (row_id_hash, question_5_2, question_5_5) values "
                "('h', '2', '0'), ('i', '1', '2'), ('j', '1', '0'), ('k', 'M', 'M')")
    ev = register.entry("low_income").derivation.evidence[0]
    got = con.execute(f"select row_id_hash, ({ev.expression}) from {CORE} where row_id_hash >= 'h' order by 1")
    assert got.fetchall() == [("h", 2), ("i", 2), ("j", 1), ("k", 0)]


def test_derivation_to_dict_is_the_yaml_rule(register, raw):
    by_id = {e["id"]: e for e in raw["entries"]}
    for e in register.entries:
        want = copy.deepcopy(by_id[e.id]["derivation"])
        for ev in want["evidence"]:
            ev["expression"] = " ".join(ev["expression"].split())
        if "threshold" in want:
            want["threshold"] = float(want["threshold"])
        assert e.derivation.to_dict() == want


# --------------------------------------------------------------------------------------------- bad register
def _problems(raw: dict, mutate) -> str:
    r = copy.deepcopy(raw)
    mutate(r)
    with pytest.raises(RegisterError) as e:
        parse_register(r, path="my_register.yaml")
    assert str(e.value).startswith("my_register.yaml:")
    return str(e.value)


def _entry(r, id_):
    return next(e for e in r["entries"] if e["id"] == id_)


def test_unknown_dataset_table_variable(raw):
    msg = _problems(raw, lambda r: _entry(r, "accommodation")["candidates"][0].update(dataset="civill"))
    assert "entry 'accommodation', candidate 1" in msg and "unknown dataset 'civill' (nearest: civil)" in msg
    msg = _problems(raw, lambda r: _entry(r, "family")["candidates"][1].update(table="family_case"))
    assert "entry 'family', candidate 2" in msg and "unknown table 'family_case' (nearest: family_cases" in msg
    msg = _problems(raw, lambda r: _entry(r, "mental_health")["candidates"][0].update(variable="question_10_66"))
    assert "has no variable 'question_10_66' (nearest: question_10_6" in msg
    msg = _problems(raw, lambda r: _entry(r, "offending")["candidates"][0].update(dataset="crown"))
    assert "table 'mags_defendant_case' belongs to dataset 'mags', not 'crown'" in msg
    msg = _problems(raw, lambda r: _entry(r, "homelessness")["derivation"]["evidence"][1].update(
        table="civil_event"))
    assert "entry 'homelessness', derivation, evidence 2 (civil_event): unknown table" in msg


def test_identifier_columns_are_refused(raw):
    def add(r):
        _entry(r, "offending")["candidates"].append(
            {"dataset": "mags", "table": "mags_defendant_case", "variable": "date_of_birth", "measure": "age"})
    assert "mags_defendant_case.date_of_birth is a personal identifier" in _problems(raw, add)


@pytest.mark.parametrize("expression,variables,expect", [
    ("question_3_3 = ", ["question_3_3"], "does not parse as SQL"),
    ("question_3_3 = 'YES'; drop table x", ["question_3_3"], "must be one SQL expression"),
    ("(select 1) = 1 OR question_3_3 = 'YES'", ["question_3_3"], "row-level SQL"),
    ("count(question_3_3) > 1", ["question_3_3"], "no aggregate"),
    ("my_udf(question_3_3) = 1", ["question_3_3"], "is not allowed in a portable derivation"),
    ("question_3_3 = 'YES' OR question_3_4 = '2'", ["question_3_3"], "reads question_3_4 which is not listed"),
    ("question_3_3 = 'YES'", ["question_3_3", "question_3_4"], "lists question_3_4 but the expression does not"),
    ("question_3_3 = 'Y'", ["question_3_3"], "'Y' is not a code of question_3_3 (codes: NO, YES, M)"),
    ("question_3_tot > 'high'", ["question_3_tot"], "question_3_tot is int, compared with the string 'high'"),
    ("question_3_tot", ["question_3_tot"], "a flag's expression must be a condition"),
    ("t.question_3_3 = 'YES'", ["question_3_3"], "no table prefixes"),
])
def test_bad_expressions_name_the_entry(raw, expression, variables, expect):
    def mutate(r):
        ev = _entry(r, "accommodation")["derivation"]["evidence"][0]
        ev["expression"] = expression
        ev["variables"] = variables
        _entry(r, "accommodation")["candidates"].append(
            {"dataset": "oasys", "table": CORE, "variable": "question_3_tot", "measure": "total"})
    msg = _problems(raw, mutate)
    assert f"entry 'accommodation', derivation, evidence 1 ({CORE})" in msg
    assert expect in msg


def test_structure_problems(raw):
    msg = _problems(raw, lambda r: _entry(r, "low_income")["derivation"]["evidence"][0].update(
        expression="question_5_2 = '2'"))
    assert "a score's expression must be a number" in msg
    msg = _problems(raw, lambda r: _entry(r, "low_income")["derivation"].pop("threshold"))
    assert "a score needs a numeric threshold" in msg
    msg = _problems(raw, lambda r: _entry(r, "homelessness")["derivation"]["evidence"][1].pop("lookback_months"))
    assert "when: window needs lookback_months" in msg
    msg = _problems(raw, lambda r: _entry(r, "education")["derivation"]["evidence"][0].update(when="recent"))
    assert "when must be latest, ever or window" in msg
    msg = _problems(raw, lambda r: r["entries"].append(copy.deepcopy(r["entries"][0])))
    assert "entry 'mental_health': the id appears twice" in msg
    msg = _problems(raw, lambda r: _entry(r, "family").pop("linkage_needs"))
    assert "entry 'family': `linkage_needs` is missing" in msg
    msg = _problems(raw, lambda r: _entry(r, "family").update(kind="risk"))
    assert "kind must be driver or outcome" in msg
    msg = _problems(raw, lambda r: _entry(r, "family")["replacement_sources"][0].update(wave=5))
    assert "wave must be 1, 2 or 3" in msg
    msg = _problems(raw, lambda r: _entry(r, "employment")["derivation"]["evidence"][0].update(
        variables=["question_4_2", "question_4_7"], expression="question_4_2 = 'YES' OR question_4_7 = '2'"))
    assert f"variable {CORE}.question_4_7 is not among the entry's candidates" in msg
    with pytest.raises(RegisterError, match="a list under `entries`"):
        parse_register({"version": 1})


def test_several_problems_reported_together(raw):
    def mutate(r):
        _entry(r, "family")["candidates"][0]["dataset"] = "nope"
        _entry(r, "child_outcomes")["derivation"]["evidence"][0]["expression"] = "case_type = 'X'"
    r = copy.deepcopy(raw)
    mutate(r)
    with pytest.raises(RegisterError) as e:
        parse_register(r)
    problems = e.value.problems
    assert any(p.startswith("entry 'family', candidate 1") for p in problems)
    assert any(p.startswith("entry 'child_outcomes', derivation, evidence 1") and "'X' is not a code" in p
               for p in problems)
    assert f"{len(problems)} problem(s)" in str(e.value)


def test_load_register_file_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_register(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries: [unclosed\n")
    with pytest.raises(InputError, match="bad.yaml is not valid YAML"):
        load_register(bad)


# -------------------------------------------------------------------------------- validate against catalogues
def test_validate_against_synthetic_catalogues(register, synthetic_catalogue):
    report = validate(register, synthetic_catalogue)
    assert report.ok and not report.findings
    assert report.checked > 50
    assert report.not_checked == ["education", "local_authority"]


def test_validate_against_real_oasys_reports_missing_with_nearest(register, real_oasys):
    report = validate(register, real_oasys)
    assert not report.ok
    missing = {(f.table, f.variable): f for f in report.missing if f.problem == "missing_variable"}
    # only the model's inferred section 4 and 6 items, for which the published list has no variable, are missing
    assert set(missing) == {(CORE, v) for v in ("question_4_2", "question_4_3", "question_4_7", "question_6_1",
                                                "question_6_7_da_victim", "question_6_7_da_perpetrator")}
    assert all(MODEL.table(t).column(v).confidence == "inferred" for t, v in missing)
    f = missing[(CORE, "question_4_3")]
    assert "question_5_3" in f.nearest and f.entry in ("employment", "inactivity_unemployment")
    for v in ("question_3_3", "question_10_6", "question_10_7_v2_psychtreat", "question_13_3_1_1",
              "question_13_3_10_1"):
        assert (CORE, v) not in missing
    not_loaded = {f.dataset for f in report.missing if f.problem == "dataset_not_loaded"}
    assert {"civil", "family", "mags", "crown", "probation", "prison"} <= not_loaded
    assert not report.warnings  # the model's descriptions are the published ones
    frame = report.frame()
    assert list(frame.columns) == ["entry", "dataset", "table", "variable", "used_in", "problem", "detail",
                                   "nearest"]


def test_validate_warns_where_the_catalogue_means_something_else(register, real_oasys):
    cat = real_oasys.variables.copy()
    cat.loc[cat.variable == "question_bcs56", "description"] = "Number of visits received in custody"
    differs = {(f.table, f.variable): f for f in validate(register, cat).warnings}
    f = differs[("oasys_assessments_details_bcs", "question_bcs56")]
    assert f.problem == "description_differs" and "Finance is a problem issue" in f.detail


def test_validate_missing_table(register, synthetic_catalogue):
    cat = synthetic_catalogue.variables
    cat = cat[cat.table_name != "civil_events"]
    report = validate(register, cat)
    tables = {(f.entry, f.problem) for f in report.missing}
    assert ("accommodation", "missing_table") in tables and ("homelessness", "missing_table") in tables


# ------------------------------------------------------------------------------------------------- export
def test_step_a_csv(register, tmp_path):
    path = export(register, tmp_path / "register.csv")
    df = pd.read_csv(path)
    assert list(df.columns) == STEP_A_COLUMNS
    assert len(df) == sum(len(e.candidates) for e in register.entries)
    assert not df[(df.entry_id == "accommodation") & (df.variable == "event_type")].iloc[0].used_in_derivation
    row = df[(df.entry_id == "homelessness") & (df.variable == "event_type")].iloc[0]
    assert row.used_in_derivation
    assert row.catalogue_file == "ONS_civil_gov_uk_v1.ods"
    assert "civil_parties" in row.linkage_route and "civil_caseman_pcol" in row.linkage_route
    assert row.linkage_quality.startswith("weaker identifiers")
    assert "DLUHC" in row.replacement_sources
    assert set(df.kind) == {"driver", "outcome"}
    assert df.groupby("entry_id").size().min() >= 3
    npd = df[df.dataset == "education"]
    assert (npd.role == "enrichment").all() and (npd.wave == 1).all()


def test_linkage_routes():
    assert linkage_route("oasys_assessments_metadata") == "XJS: source_dataset = prison_oasys, on row_id_hash"
    assert linkage_route("moj_probation_rqmnts").startswith("moj_probation_flatfile on event_id_hash")
    assert "family_parties" in linkage_route("family_events")
    assert linkage_route("npd_attendance").endswith("outside XJS: linked on identifiers")


def test_gss_xlsx(register, tmp_path):
    path = export(register, tmp_path / "register.xlsx", format="xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Cover", "Contents", "Notes", "Entries", "Candidate_variables", "Derivations",
                             "Replacement_sources"]
    assert wb["Cover"]["A1"].value == "BOLD Prevention risk factor register"
    entries = pd.read_excel(path, sheet_name="Entries", header=None)
    header_row = entries.index[entries[0] == "Entry"][0]
    assert entries.iloc[header_row + 1:, 0].tolist() == list(register.ids)
    contents = pd.read_excel(path, sheet_name="Contents", header=None)
    assert {"Entries", "Derivations"} <= set(contents[0])


def test_export_errors(register, tmp_path):
    with pytest.raises(InputError, match="cannot export the register as 'pdf'"):
        export(register, tmp_path / "r.pdf")
    (tmp_path / "r.csv").write_text("keep me")
    with pytest.raises(OutputExistsError):
        export(register, tmp_path / "r.csv", overwrite=False)
    assert (tmp_path / "r.csv").read_text() == "keep me"


# ------------------------------------------------------------------------------------------------- suggest
def test_suggest_new_variables_for_a_driver(register, synthetic_catalogue):
    hits = suggest(register, "accommodation", synthetic_catalogue, limit=10)
    keys = {h.key for h in hits}
    listed = {f"{c.table}.{c.variable}" for c in register.entry("accommodation").candidates}
    assert keys and not keys & listed
    assert "oasys_assessments_details_tr_bcs.question_tr_bcs309" in keys  # tenancy issues, not in the register
    out = suggest(register, "homelessness", synthetic_catalogue, limit=5)
    assert out and "civil_events.event_type" not in {h.key for h in out}


def test_step_a_frame_is_deterministic(register):
    pd.testing.assert_frame_equal(step_a_frame(register), step_a_frame(load_register()))


# ----------------------------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    cats = root / "cats"
    write_synthetic_catalogues(cats)
    load_catalogues([cats], root / "project")
    return root / "project"


def _text(r) -> str:
    return " ".join(r.output.split())


def test_cli_validate_export_suggest(project, tmp_path):
    r = runner.invoke(app, ["register", "validate", "--project", str(project)])
    assert r.exit_code == 0, r.output
    assert "0 missing" in _text(r)
    r = runner.invoke(app, ["register", "export", "--format", "csv", "--out", str(tmp_path / "r.csv")])
    assert r.exit_code == 0 and (tmp_path / "r.csv").exists()
    r = runner.invoke(app, ["register", "export", "--format", "xlsx", "--out", str(tmp_path / "r.xlsx")])
    assert r.exit_code == 0 and (tmp_path / "r.xlsx").exists()
    r = runner.invoke(app, ["register", "export", "--format", "pdf", "--out", str(tmp_path / "r.pdf")])
    assert r.exit_code == 2 and "unknown format" in _text(r)
    r = runner.invoke(app, ["register", "suggest", "--driver", "accommodation", "--project", str(project)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "question_tr_bcs309" in r.output
    r = runner.invoke(app, ["register", "suggest", "--driver", "housing", "--project", str(project)])
    assert r.exit_code == 2 and "no entry 'housing'" in _text(r)


def test_cli_validate_fails_on_missing_variables(tmp_path):
    ref = write_reference_oasys(tmp_path / OASYS_FILE)
    load_catalogues([ref], tmp_path / "p")
    r = runner.invoke(app, ["register", "validate", "--project", str(tmp_path / "p")], env={"COLUMNS": "250"})
    assert r.exit_code == 1
    assert "question_6_7_da_victim" in r.output and "missing" in r.output


def test_cli_validate_bad_register_file(project, tmp_path, raw):
    bad = copy.deepcopy(raw)
    _entry(bad, "employment")["candidates"][0]["dataset"] = "dwp"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(bad))
    r = runner.invoke(app, ["register", "validate", "--project", str(project), "--register", str(path)])
    assert r.exit_code == 2
    assert "entry 'employment', candidate 1" in _text(r) and "unknown dataset 'dwp'" in _text(r)


# ----------------------------------------------------------------------------- on the synthetic population
def test_derivations_select_people_in_synthetic_extracts(register, request):
    """Every evidence expression runs on the synthetic extracts and selects some, but not all, rows."""
    try:
        from bold_prevention.synth import generate  # noqa: F401
    except ImportError:
        pytest.skip("the synthetic generator is not available")
    synth_dir = request.getfixturevalue("synth_dir")
    con = duckdb.connect()
    for e in register.entries:
        for ev in e.derivation.evidence:
            path = Path(synth_dir) / "extracts" / f"{ev.table}.parquet"
            assert path.exists(), path
            sql = sqlglot.transpile(ev.expression, write="duckdb")[0]
            n, hit = con.execute(
                f"select count(*), count(*) filter (where coalesce(({sql})::double, 0) > 0) "
                f"from read_parquet('{path}')").fetchone()
            assert n > 0, (e.id, ev.table)
            assert 0 < hit < n, (e.id, ev.table, ev.expression, hit, n)


def test_updated_is_a_date(register):
    assert date.fromisoformat(register.updated)


# ------------------------------------------------------------------------------ whole texts (no commas lost)
#: Texts of register 1.2.0 that an unquoted comma in a {key: value} mapping used to cut (the rest became extra keys).
SEED_TEXTS = [
    "Self-harm, attempted suicide or suicidal thoughts",
    "Landlord possession claim (social, private, accelerated)",
    "Drug rehabilitation (D), alcohol treatment (AT) or AAMR requirement",
    "Ever injected drugs (never, previously, current)",
    "Unemployed, or will be unemployed on release",
    "Problems with reading, writing or numeracy (0/1/2)",
    "Persistent absence (Wave 1, NPD)",
    "Suspension or permanent exclusion (Wave 1, NPD)",
    "Special educational needs provision (Wave 1, NPD)",
    "Ever eligible for free school meals (Wave 1, NPD)",
    "Children in need episode and primary need (Wave 1, NPD)",
    "Possession order, warrant of possession or repossession",
    "Accommodation status before prison (permanent, temporary, rough sleeping)",
    "Accommodation status on reception, including no fixed abode (transfer screening)",
    "Housing options, homelessness prevention or temporary accommodation contact (Wave 3)",
    "Public law (C), private law (P) or divorce (D) case",
    "Role in the case (applicant, respondent, child)",
    "Non-molestation or occupation order application or order (FL401, FL404, ORDNOM)",
    "Reception into custody (sentence, remand, recall)",
    "Child protection plan (Wave 1, NPD)",
    "Special educational needs (Wave 1, NPD)",
    # replacement sources (measure and source texts)
    "Long-term conditions, emergency admissions",
    "DWP disability benefits (PIP, DLA, ESA/UC limited capability)",
    "Education and skills datasets (ILR, NPD)",
    "Attendance, exclusions, attainment, SEND, children in need, looked-after status",
    "Prevention and relief duties, main duty decisions, temporary accommodation",
    "Housing options contacts, temporary and supported accommodation placements",
    "Children's social care (CIN, CP, CLA) through the MoJ-DfE share",
    "Children in need, child protection and looked-after episodes",
    "Cautions, convictions and proven reoffending",
    "Deaths, age and cause of death",
    "DWP benefit histories (UC, JSA, ESA)",
    "Attendance, exclusions, attainment, SEND, CIN, CP and CLA",
    "Referrals, assessments and early help episodes",
]


def _texts(register) -> list[str]:
    return ([c.measure for e in register.entries for c in e.candidates]
            + [t for e in register.entries for s in e.replacement_sources for t in (s.measure, s.source)])


def test_every_measure_text_is_whole(register):
    texts = _texts(register)
    assert sum(len(e.candidates) for e in register.entries) == 106
    for seed in SEED_TEXTS:
        assert seed in texts, seed
        cuts = {seed[:i] for i, ch in enumerate(seed) if ch == ","}
        assert not cuts & set(texts), seed
    for t in texts:  # a text cut at a comma inside brackets leaves them unbalanced
        assert t.count("(") == t.count(")"), t
        assert not t.endswith(","), t


def test_shipped_register_has_no_stray_keys():
    """Every mapping of the shipped file has only the schema's keys (the strict loader would refuse it)."""
    from bold_prevention.config import parse_yaml
    from bold_prevention.register.loader import CandidateSchema, ReplacementSourceSchema

    data = parse_yaml(default_register_path().read_bytes(), source="register.yaml").data
    for e in data["entries"]:
        for c in e["candidates"]:
            assert set(c) <= set(CandidateSchema.model_fields), c
        for s in e["replacement_sources"]:
            assert set(s) <= set(ReplacementSourceSchema.model_fields), s


def test_a_text_cut_at_a_comma_is_refused_with_its_line(tmp_path):
    text = default_register_path().read_text(encoding="utf-8")
    whole = 'measure: "Unemployed, or will be unemployed on release"'
    assert whole in text
    bad = tmp_path / "cut.yaml"
    bad.write_text(text.replace(whole, "measure: Unemployed, or will be unemployed on release", 1), encoding="utf-8")
    line = text[: text.index(whole)].count("\n") + 1
    with pytest.raises(RegisterError) as e:
        load_register(bad)
    (problem,) = e.value.problems
    assert problem.startswith(f"cut.yaml:{line}: entry 'employment', candidate ")
    assert "unknown key `or will be unemployed on release`" in problem and "put the whole text in quotes" in problem


def test_register_types_are_strict(raw):
    msg = _problems(raw, lambda r: _entry(r, "family")["candidates"][0].update(measure=12))
    assert "entry 'family', candidate 1, `measure`: must be text, got the number 12" in msg
    msg = _problems(raw, lambda r: _entry(r, "family")["replacement_sources"][0].update(wave="2"))
    assert "entry 'family', replacement source 1, `wave`: must be a whole number" in msg
    msg = _problems(raw, lambda r: _entry(r, "family").update(colour="blue"))
    assert "entry 'family': unknown key `colour`" in msg


def test_measure_texts_survive_csv_and_xlsx_export(register, tmp_path):
    import csv

    r = runner.invoke(app, ["register", "export", "--format", "csv", "--out", str(tmp_path / "r.csv")])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    want = [(e.id, c.measure) for e in register.entries for c in e.candidates]
    assert [(row["entry_id"], row["measure"]) for row in rows] == want
    r = runner.invoke(app, ["register", "export", "--format", "xlsx", "--out", str(tmp_path / "r.xlsx")])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)

    def table(sheet: str, first: str) -> list[tuple]:
        rows = list(wb[sheet].iter_rows(values_only=True))
        head = next(i for i, row in enumerate(rows) if row[0] == first)
        return [dict(zip(rows[head], row, strict=False)) for row in rows[head + 1:]]

    cands = table("Candidate_variables", "Entry")
    assert [(row["Entry"], row["Measure"]) for row in cands] == want
    sources = table("Replacement_sources", "Entry")
    got = [(row["Source"], row["Measure"]) for row in sources]
    assert got == [(s.source, s.measure) for e in register.entries for s in e.replacement_sources]
