"""The Wave 0 XJS spine join: spine.person_record at the three bands."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.datafirst import MODEL
from bold_prevention.errors import InputError
from bold_prevention.linkage.pseudonym import pseudonymise
from bold_prevention.linkage.xjs import (
    PERSON_RECORD_COLUMNS,
    build_person_records,
    person_paths,
    person_record_sql,
    pseudonymise_clusters,
    xjs_clusters_sql,
)
from test_spine_fixtures import create_extracts, mini_data, mini_warehouse, xjs


def _records(con):
    return con.sql("select * from spine.person_record").df()


def _one(df, table, record, col):
    hit = df[(df["source_table"] == table) & (df["record_id"] == record)]
    assert len(hit) == 1, (table, record, len(hit))
    return hit[col].iloc[0]


def test_every_wave0_table_reaches_a_person():
    paths = person_paths()
    wave0 = [t.name for d in MODEL.datasets if d.wave == 0 and d.key != "linking" for t in d.tables]
    assert sorted(paths) == sorted(wave0)
    assert paths["oasys_assessments_details_core_risk"].person_table == "oasys_assessments_metadata"
    assert paths["civil_events"].person_table == "civil_parties" and paths["civil_events"].many
    assert paths["moj_probation_rqmnts"].on == (("event_id_hash", "event_id_hash"),)


def test_medium_band_records_and_band_joined():
    con = mini_warehouse()
    build_person_records(con, band="medium")
    df = _records(con)
    assert tuple(df.columns) == PERSON_RECORD_COLUMNS
    assert set(df["band"]) == {"medium"}
    # person ids are the HMAC of the medium cluster id
    assert _one(df, "mags_defendant_case", "mA1", "person_id") == pseudonymise("M1")
    # B: medium cluster M2 = high clusters H2 (core: two mags records and the probation record), H3, H4
    b = df[df["person_id"] == pseudonymise("M2")].set_index("record_id")
    assert b.index.is_unique
    assert b.loc["mB1", "band_joined"] == "high" and b.loc["mB2", "band_joined"] == "high"
    assert b.loc["mB3", "band_joined"] == "medium" and b.loc["mB4", "band_joined"] == "medium"
    # detail rows reach the person through the parent and carry its band and score
    assert b.loc["rqB1", "source_table"] == "moj_probation_rqmnts" and b.loc["rqB1", "person_record_id"] == "prB1"
    assert _one(df, "oasys_assessments_details_core_risk", "oaA1", "person_id") == pseudonymise("M1")
    # case-level records belong to every party: family case F1 to the respondent (E) and the applicant
    f1 = df[(df["source_table"] == "family_cases") & (df["record_id"] == "F1")]
    assert set(f1["person_id"]) == {pseudonymise("M5"), pseudonymise("M6")}
    # civil events of case C1 reach the defendant (the company claimant has no XJS row)
    ev = df[df["source_table"] == "civil_events"]
    assert set(ev["person_id"]) == {pseudonymise("M1")} and len(ev) == 4
    assert _one(df, "civil_events", "e1", "match_score") == pytest.approx(0.9)
    # one row per (person, table, record)
    assert not df.duplicated(["person_id", "source_table", "record_id"]).any()


def test_high_band_splits_and_low_band_merges():
    con = mini_warehouse()
    build_person_records(con, band="high")
    df = _records(con)
    assert set(df["band_joined"]) == {"high"}
    b_ids = df[df["record_id"].isin(["mB1", "mB2", "mB3", "mB4"])]["person_id"]
    assert b_ids.nunique() == 3
    build_person_records(con, band="low")
    df = _records(con).set_index("record_id")
    assert df.loc["crC1", "person_id"] == df.loc["crD1", "person_id"] == pseudonymise("L3")
    assert df.loc["crC1", "band_joined"] == "high" and df.loc["crD1", "band_joined"] == "low"
    assert df.loc["mB3", "band_joined"] == "medium"


def test_missing_clusters_fall_back():
    con = duckdb.connect()
    rows = [xjs("mags_hocas", "r1", None, "M1", None), xjs("mags_hocas", "r2", None, None, None)]
    rows[1]["estimated_xjs_id"] = "X2"
    create_extracts(con, {"xjs_link": rows, "mags_defendant_case": [
        {"row_id_hash": "r1", "case_id_hash": "c", "defendant_id_hash": "d"},
        {"row_id_hash": "r2", "case_id_hash": "c", "defendant_id_hash": "d"}]})
    build_person_records(con, band="low")
    df = _records(con).set_index("record_id")
    assert df.loc["r1", "person_id"] == pseudonymise("M1")  # no low cluster: the medium one
    assert df.loc["r2", "person_id"] == pseudonymise("X2")  # no clusters: the published estimated_xjs_id
    build_person_records(con, band="high")
    df = _records(con).set_index("record_id")
    assert df.loc["r1", "person_id"] == pseudonymise("r:mags_hocas:r1")  # unlinked at high: a person alone


def test_bad_input():
    con = duckdb.connect()
    with pytest.raises(InputError, match="xjs_link"):
        build_person_records(con, band="medium")
    con = mini_warehouse()
    with pytest.raises(InputError, match="band"):
        build_person_records(con, band="tight")


def test_missing_key(monkeypatch):
    monkeypatch.delenv("BOLD_PSEUDONYM_KEY")
    con = mini_warehouse()
    with pytest.raises(InputError, match="BOLD_PSEUDONYM_KEY"):
        build_person_records(con, band="medium")
    assert not con.sql("select * from information_schema.tables where table_schema = 'spine'").fetchall()


def test_fast_pseudonyms_match_the_reference():
    vals = ["M1", "r:mags_hocas:x", "é-ü", ""]
    assert pseudonymise_clusters(vals).to_pylist() == [pseudonymise(v) for v in vals]


@pytest.mark.parametrize("dialect", ["spark", "trino"])
@pytest.mark.parametrize("band", ["high", "medium", "low"])
def test_sql_is_portable(dialect, band):
    for sql in (xjs_clusters_sql(band), person_record_sql(band)):
        out = sqlglot.transpile(sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
        assert len(out) == 1 and "cluster" in out[0].lower()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 1)), min_size=1, max_size=25))
def test_band_joined_properties(assign):
    """Nested clusterings: persons at a band are its clusters; each person holds at least one core record."""
    rows = []
    for i, (h, m, lo) in enumerate(assign):
        # nest: the high cluster lies inside the medium one, which lies inside the low one
        rows.append(xjs("mags_hocas", f"r{i}", f"H{lo}{m}{h}", f"M{lo}{m}", f"L{lo}"))
    con = duckdb.connect()
    create_extracts(con, {"xjs_link": rows}, all_tables=False)
    con.execute("create or replace table extract.mags_defendant_case as select row_id_hash from extract.xjs_link")
    for band in ("high", "medium", "low"):
        build_person_records(con, band=band)
        df = _records(con)
        assert len(df) == len(rows)
        clusters = {r[f"cluster_{band}"] for r in rows}
        assert df["person_id"].nunique() == len(clusters)
        # every person has at least one record joined at high (its core)
        assert (df.groupby("person_id")["band_joined"].apply(lambda s: "high" in set(s))).all()
        if band == "high":
            assert set(df["band_joined"]) == {"high"}
        if band == "medium":
            assert "low" not in set(df["band_joined"])


# ------------------------------------------------------------------------------ the spine on the improved XJS id
def _improve(con, joins: dict[str, str]) -> None:
    """A hand-made ``linkage.xjs_link_improved``: XJS's medium clusters renamed by ``joins`` (joined persons)."""
    case = " ".join(f"when '{a}' then '{b}'" for a, b in joins.items())
    new = f"case cluster_medium {case} else cluster_medium end" if joins else "cluster_medium"
    con.execute("create schema if not exists linkage")
    con.execute(f"create or replace table linkage.xjs_link_improved as select * replace "
                f"({new} as cluster_medium, {new} as estimated_xjs_id) from extract.xjs_link")


def test_spine_builds_on_the_improved_id_and_records_it():
    from bold_prevention.spine import build_spine
    from bold_prevention.spine.build import records_fingerprint, spine_fingerprint_of
    from bold_prevention.spine.fingerprint import changes
    from test_spine_fixtures import AS_AT, RULES

    con = mini_warehouse()
    published = build_spine(con, as_at=AS_AT, register=RULES)
    assert published.xjs == "published"
    assert con.execute("select xjs_id, xjs_link_table from spine.spine_info").fetchall() == [
        ("published", "extract.xjs_link")]
    fp_published = spine_fingerprint_of(con)
    _improve(con, {"M2": "M1"})
    improved = build_spine(con, as_at=AS_AT, register=RULES, link_table="improved")
    assert improved.xjs == "improved" and improved.persons == published.persons - 1
    assert con.execute("select xjs_id, xjs_link_table from spine.spine_info").fetchall() == [
        ("improved", "linkage.xjs_link_improved")]
    # the joined person holds both persons' records; the persons are rebuilt, not reused
    recs = _records(con)
    assert _one(recs, "mags_defendant_case", "mB1", "person_id") == _one(recs, "mags_defendant_case", "mA1",
                                                                          "person_id") == pseudonymise("M1")
    fp_improved = spine_fingerprint_of(con)
    assert fp_improved["xjs"].startswith("improved ") and records_fingerprint(con)["xjs"] == fp_improved["xjs"]
    # a cohort built on the other id is told the id changed
    assert any("XJS person id changed (published -> improved" in c for c in changes(fp_published, fp_improved))
    # another improved table (a new audit) is another id
    _improve(con, {"M3": "M1"})
    build_spine(con, as_at=AS_AT, register=RULES, link_table="linkage.xjs_link_improved")
    assert spine_fingerprint_of(con)["xjs"] != fp_improved["xjs"]
    # and back to the published id: the same persons as the first build
    again = build_spine(con, as_at=AS_AT, register=RULES, link_table="published")
    assert again.persons == published.persons and spine_fingerprint_of(con)["xjs"] == "published"
    assert not changes(fp_published, spine_fingerprint_of(con))


def test_fingerprints_recorded_before_the_xjs_id_mean_the_published_id():
    from bold_prevention.spine.fingerprint import changes

    old = {"inputs": {"a": "1"}, "register": "r", "band": "medium", "as_at": "2024-12-31", "key": "k"}
    assert not changes(old, {**old, "xjs": "published"})
    assert changes(old, {**old, "xjs": "improved abc"}) == ["the XJS person id changed (published -> improved abc)"]
    # a comparison of inputs only does not look at the id
    assert not changes({**old, "xjs": "improved abc"}, {"inputs": {"a": "1"}})


def test_improved_id_needs_the_audit_first():
    from bold_prevention.spine import build_spine
    from test_spine_fixtures import AS_AT, RULES

    con = mini_warehouse()
    with pytest.raises(InputError, match="linkage.xjs_link_improved") as e:
        build_spine(con, as_at=AS_AT, register=RULES, link_table="improved")
    assert "bold link xjs-audit" in e.value.hint
    with pytest.raises(InputError, match="not known"):
        build_spine(con, as_at=AS_AT, register=RULES, link_table="better")
    # nothing was built
    assert not con.execute("select count(*) from information_schema.tables where table_schema = 'spine'"
                           ).fetchall()[0][0]
    with pytest.raises(InputError, match="linkage.xjs_link_improved") as e:
        build_person_records(con, link_table="linkage.xjs_link_improved")
    assert "bold link xjs-audit" in e.value.hint


def test_cli_xjs_option(tmp_path):
    from typer.testing import CliRunner

    from bold_prevention.cli import app
    from bold_prevention.project import Project

    p = Project(tmp_path / "p").ensure()
    con = duckdb.connect(str(p.warehouse_path))
    create_extracts(con, mini_data())
    con.close()
    runner = CliRunner()
    res = runner.invoke(app, ["spine", "build", "--as-at", "2023-12-31", "--xjs", "improved", "--project", str(p.root)])
    assert res.exit_code != 0 and "bold link xjs-audit" in res.output
    con = duckdb.connect(str(p.warehouse_path))
    _improve(con, {"M2": "M1"})
    con.close()
    res = runner.invoke(app, ["spine", "build", "--as-at", "2023-12-31", "--xjs", "improved", "--project", str(p.root)])
    assert res.exit_code == 0, res.output
    assert "improved XJS id" in res.output
    res = runner.invoke(app, ["spine", "show", "--project", str(p.root)])
    assert res.exit_code == 0 and "improved XJS id" in res.output


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=20),
       st.dictionaries(st.integers(0, 5), st.integers(0, 5), max_size=4))
def test_improved_persons_hold_whole_published_persons(assign, joins):
    """Whatever medium clusters the improved id joins, every published person lies inside one improved person and
    the improved persons are exactly the joined clusters."""
    rows = [xjs("mags_hocas", f"r{i}", f"H{m}{h}", f"M{m}", f"L{m}") for i, (m, h) in enumerate(assign)]
    con = duckdb.connect()
    create_extracts(con, {"xjs_link": rows}, all_tables=False)
    con.execute("create or replace table extract.mags_defendant_case as select row_id_hash from extract.xjs_link")
    _improve(con, {f"M{a}": f"M{b}" for a, b in joins.items()})
    build_person_records(con, band="medium")
    pub = _records(con).set_index("record_id")["person_id"]
    build_person_records(con, band="medium", link_table="linkage.xjs_link_improved")
    imp = _records(con).set_index("record_id")["person_id"]
    both = pd.DataFrame({"pub": pub, "imp": imp})
    assert both.groupby("pub")["imp"].nunique().max() == 1
    assert imp.nunique() == len({joins.get(m, m) for m, _ in assign})
