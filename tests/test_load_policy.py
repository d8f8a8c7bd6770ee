"""Snapshots, idempotency, drift, the degrade policy, catalogue value sets and the CLI."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.warehouse.load import latest_load, load_extracts
from helpers_load import build_tables, replace_column, warehouse_fingerprint, write_tables

SNAP = "2025-01-31"


@pytest.fixture(scope="module")
def tables():
    return build_tables(24)


@pytest.fixture
def src(tmp_path, tables):
    return write_tables(tables, tmp_path / "src")


def _con(project):
    return duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)


def test_loading_the_same_snapshot_twice_changes_nothing(tmp_path, src):
    first = load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    before = warehouse_fingerprint(tmp_path / "p")
    again = load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    assert again.status == "unchanged"
    assert again.previous_load == first.load_id
    assert again.report_html == first.report_html
    assert warehouse_fingerprint(tmp_path / "p") == before


def test_csv_and_parquet_of_the_same_data_have_the_same_checksums(tmp_path, tables):
    a = load_extracts(tmp_path / "a", write_tables(tables, tmp_path / "pq"), snapshot_date=SNAP)
    b = load_extracts(tmp_path / "b", write_tables(tables, tmp_path / "csv", fmt="csv"), snapshot_date=SNAP)
    assert {k: t.checksum for k, t in a.tables.items()} == {k: t.checksum for k, t in b.tables.items()}


def test_a_new_snapshot_replaces_the_current_one_and_is_recorded(tmp_path, src, tables):
    load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    t = tables["prison_custodial_journey"]
    src2 = write_tables({**tables, "prison_custodial_journey": t.slice(0, 20)}, tmp_path / "src2")
    # the child table's rows that pointed at the dropped journeys are now orphans: a warning, not a block
    res = load_extracts(tmp_path / "p", src2, snapshot_date="2025-02-28")
    assert res.status == "complete"
    fk = next(c for c in res.checks if c.table == "prison_safety_in_custody" and c.check == "foreign_key")
    assert fk.status == "fail" and fk.failing == 4 and not fk.blocking
    with _con(tmp_path / "p") as con:
        assert con.execute("select count(*), min(snapshot_date)::varchar from extract.prison_custodial_journey"
                           ).fetchone() == (20, "2025-02-28")
        snaps = con.execute("select snapshot_date::varchar, rows from meta.snapshots where table_name = "
                            "'prison_custodial_journey' order by snapshot_date").fetchall()
        assert snaps == [(SNAP, 24), ("2025-02-28", 20)]
        assert con.execute("select count(*) from meta.loads").fetchone()[0] == 2


def test_same_date_with_different_content_is_a_reload(tmp_path, src, tables):
    load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    t = tables["mags_defendant_case"]
    src2 = write_tables({**tables, "mags_defendant_case": t.slice(0, 23)}, tmp_path / "src2")
    res = load_extracts(tmp_path / "p", src2, snapshot_date=SNAP)
    assert res.status == "complete"
    assert any("loaded before with different content" in n for n in res.notes)


def test_drift_is_flagged_on_a_changed_snapshot(tmp_path, src, tables):
    load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    t = tables["moj_probation_flatfile"]
    # the new snapshot: everyone recorded as male, and half as many records
    t2 = replace_column(t, "gender", ["M"] * len(t))
    t2 = pa.concat_tables([t2, t2.slice(0, 0)])
    more = tables["mags_defendant_case"]
    src2 = write_tables({**tables, "moj_probation_flatfile": t2,
                         "mags_defendant_case": more.slice(0, 12)}, tmp_path / "src2")
    res = load_extracts(tmp_path / "p", src2, snapshot_date="2025-02-28")
    drift = next(c for c in res.checks if c.check == "drift" and c.table == "moj_probation_flatfile"
                 and c.column == "gender")
    assert drift.status == "warn" and "population stability index" in drift.message
    assert "M " in drift.message  # the largest change is named
    vol = next(c for c in res.checks if c.check == "volume" and c.table == "mags_defendant_case")
    assert vol.status == "warn" and "12 rows against 24" in vol.message and "-50%" in vol.message
    stable = next(c for c in res.checks if c.check == "drift" and c.table == "crown_defendant_case"
                  and c.column == "gender")
    assert stable.status == "pass"
    with _con(tmp_path / "p") as con:
        flagged = con.execute("select table_name, column_name, metric from meta.drift where flagged "
                              "order by all").fetchall()
    assert ("moj_probation_flatfile", "gender", "psi") in flagged
    assert ("mags_defendant_case", None, "rows") in flagged


def test_degrade_when_family_is_missing(tmp_path, tables):
    src = write_tables(tables, tmp_path / "src", skip=("family",))
    res = load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    assert res.status == "partial"
    assert res.missing_datasets == ["family"]
    assert res.degraded_tables == ["family_cases", "family_events", "family_parties"]
    dec = {d["table"]: d for d in res.decisions}
    assert dec["family_cases"]["decision"] == "degrade"
    assert "not critical: loaded without it, outputs marked partial" in dec["family_cases"]["reason"]
    with _con(tmp_path / "p") as con:
        state = latest_load(con)
        assert state["partial"] is True and state["missing_datasets"] == ["family"]
        assert con.execute("select count(*) from extract.moj_probation_flatfile").fetchone()[0] == 24
        names = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'extract'").fetchall()}
        assert not {"family_cases", "family_events", "family_parties"} & names
        rows = con.execute("select decision from meta.load_decisions where table_name = 'family_parties'"
                           ).fetchall()
        assert rows == [("degrade",)]
    report = json.loads(res.report_json.read_text())
    assert report["status"] == "partial" and report["partial"] is True


def test_a_broken_non_critical_source_is_left_out_of_an_existing_warehouse(tmp_path, src, tables):
    load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    bad = write_tables(tables, tmp_path / "bad")
    p = bad / "civil_parties.parquet"
    p.write_bytes(p.read_bytes()[:200])
    res = load_extracts(tmp_path / "p", bad, snapshot_date="2025-02-28")
    assert res.status == "partial"
    assert res.tables["civil_parties"].status == "degraded"
    assert "civil_parties.parquet is not a readable Parquet file" in res.tables["civil_parties"].reason
    with _con(tmp_path / "p") as con:
        names = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    # the previous snapshot's civil_parties is not mixed with the new snapshot
    assert "civil_parties" not in names and "identity_civil_parties" not in names
    assert "civil_cases" in names


def test_duplicated_keys_in_a_non_critical_table_degrade(tmp_path, tables):
    src = write_tables(tables, tmp_path / "src")
    t = tables["family_cases"]
    pq.write_table(pa.concat_tables([t, t.slice(0, 2)]), src / "family_cases.parquet")
    res = load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    assert res.status == "partial"
    assert res.tables["family_cases"].decision == "degrade"
    assert "2 duplicated value(s) of primary key case_number_hash" in res.tables["family_cases"].reason
    # the family tables that point at the left-out cases are loaded, with a warning
    fk = [c for c in res.checks if c.table == "family_events" and c.check == "foreign_key" and c.status == "warn"]
    assert fk and "parent table family_cases is left out of this load" in fk[0].message
    assert res.tables["family_events"].status == "loaded" and res.tables["family_events"].decision == "warn"


def test_sparse_identifiers_in_weak_identifier_sources_do_not_block(tmp_path, tables):
    src = write_tables(tables, tmp_path / "src")
    t = tables["civil_parties"]
    pq.write_table(replace_column(t, "date_of_birth", [None] * len(t)), src / "civil_parties.parquet")
    res = load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    assert res.status == "complete"
    c = next(c for c in res.checks if c.table == "civil_parties" and c.column == "date_of_birth"
             and c.check == "completeness")
    assert c.status == "fail" and not c.blocking and "known to be sparse" in c.message


def test_a_missing_critical_dataset_blocks_unless_out_of_scope(tmp_path, tables):
    from bold_prevention.errors import LoadBlocked

    src = write_tables(tables, tmp_path / "src", skip=("prison",))
    with pytest.raises(LoadBlocked, match="dataset prison .* is critical"):
        load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    res = load_extracts(tmp_path / "p", src, snapshot_date=SNAP,
                        datasets=["mags", "crown", "probation", "oasys", "linking"])
    assert res.status == "complete"
    assert "prison_custodial_journey" not in res.tables and "family_cases" not in res.tables


def test_catalogue_value_sets_are_used_when_loaded(tmp_path, src):
    proj = tmp_path / "p"
    proj.mkdir()
    con = duckdb.connect(str(proj / "warehouse.duckdb"))
    con.execute("create schema catalogue")
    con.execute("create table catalogue.code_lists (dataset varchar, code_list varchar, table_name varchar, "
                "variable varchar, code varchar, label varchar)")
    con.execute("insert into catalogue.code_lists values ('crown', 'crown_defendant_case.plea', "
                "'crown_defendant_case', 'plea', 'G', 'Guilty'), ('crown', 'crown_defendant_case.plea', "
                "'crown_defendant_case', 'plea', 'NG', 'Not guilty')")
    con.close()
    res = load_extracts(proj, src, snapshot_date=SNAP)
    chk = next(c for c in res.checks if c.table == "crown_defendant_case" and c.check == "code_list"
               and c.column == "plea")
    assert chk.status == "fail" and "outside its code list (catalogue)" in chk.message
    assert chk.values and chk.examples


def test_cli_load_blocked_exits_2_with_a_clear_message(tmp_path, tables):
    src = write_tables(tables, tmp_path / "src")
    t = tables["crown_defendant_case"]
    pq.write_table(pa.concat_tables([t, t.slice(0, 2)]), src / "crown_defendant_case.parquet")
    runner = CliRunner()
    r = runner.invoke(app, ["load", str(src), "--project", str(tmp_path / "p"), "--snapshot-date", SNAP])
    assert r.exit_code == 2
    assert "load blocked" in r.output and "duplicated value(s) of primary key" in r.output
    assert "quality report" in r.output
    r2 = runner.invoke(app, ["quality", "show", "--project", str(tmp_path / "p")])
    assert r2.exit_code == 0 and "BLOCKED" in r2.output


def test_cli_load_and_quality_show(tmp_path, tables):
    src = write_tables(tables, tmp_path / "src", skip=("family",))
    runner = CliRunner()
    r = runner.invoke(app, ["load", str(src), "--project", str(tmp_path / "p"), "--snapshot-date", SNAP])
    assert r.exit_code == 0, r.output
    assert "PARTIAL" in r.output and "Quality report:" in r.output
    r2 = runner.invoke(app, ["quality", "show", "--project", str(tmp_path / "p")])
    assert r2.exit_code == 0
    assert "PARTIAL" in r2.output and "DEGRADE" in r2.output and "family_cases" in r2.output
    r3 = runner.invoke(app, ["quality", "show", "--project", str(tmp_path / "empty")])
    assert r3.exit_code == 2 and "no quality report" in r3.output


def test_cli_rejects_a_bad_snapshot_date(tmp_path, tables):
    src = write_tables(tables, tmp_path / "src")
    r = CliRunner().invoke(app, ["load", str(src), "--project", str(tmp_path / "p"), "--snapshot-date", "31/01/25"])
    assert r.exit_code == 2 and "is not a date" in r.output


def test_html_report_is_self_contained_and_accessible(tmp_path, src):
    res = load_extracts(tmp_path / "p", src, snapshot_date=SNAP)
    html = res.report_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "<caption>" in html and 'scope="col"' in html
