"""The Wave 0 XJS spine join: spine.person_record at the three bands."""

from __future__ import annotations

import duckdb
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
from test_spine_fixtures import create_extracts, mini_warehouse, xjs


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
