"""Rebuilds decided by content, and the pseudonymisation key's fingerprint."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bold_prevention.cohorts import build_cohort, profile
from bold_prevention.errors import InputError
from bold_prevention.linkage.pseudonym import KEY_ENV, key_fingerprint, pseudonymise, recorded_key_fingerprint
from bold_prevention.spine import build_spine
from bold_prevention.spine.fingerprint import changes
from bold_prevention.trajectories.timeline import build_timeline, person_timeline
from test_spine_fixtures import AS_AT, RULES, mini_warehouse

SPEC = {"name": "adults", "inclusion": [{"name": "adults", "where": "age >= 18"}]}


def _merge_c_and_d(con) -> None:
    """Same rows, same snapshot date: record crD1 joins C's medium cluster."""
    con.execute("UPDATE extract.xjs_link SET cluster_medium = 'M3', estimated_xjs_id = 'M3' "
                "WHERE row_id_hash = 'crD1'")


def _persons(con) -> int:
    return con.sql("select count(*) from spine.person").fetchall()[0][0]


def test_fingerprint_changes_are_named():
    old = {"inputs": {"xjs_link": "a", "mags_defendant_case": "b"}, "register": "r", "band": "medium",
           "as_at": "2023-12-31", "key": "k"}
    assert changes(old, dict(old)) == []
    new = {**old, "inputs": {"xjs_link": "z", "mags_defendant_case": "b"}, "band": "high", "key": "k2"}
    what = changes(old, new)
    assert what[0] == "the loaded extracts changed (extract.xjs_link)"
    assert "the linkage band changed (medium -> high)" in what and "the pseudonymisation key changed" in what
    assert changes(None, new) == ["it was built before fingerprints were recorded"]


def test_changed_clusters_with_the_same_row_count_rebuild_the_spine():
    con = mini_warehouse()
    build_spine(con, as_at=AS_AT, register=RULES)
    assert _persons(con) == 6
    said: list[str] = []
    build_spine(con, as_at=AS_AT, register=RULES, progress=said.append)
    assert "person records up to date" in said
    rows = con.sql("select count(*) from extract.xjs_link").fetchall()[0][0]
    _merge_c_and_d(con)
    assert con.sql("select count(*) from extract.xjs_link").fetchall()[0][0] == rows
    said.clear()
    build_spine(con, as_at=AS_AT, register=RULES, progress=said.append)
    assert any(m.startswith("rebuilding person records: the loaded extracts changed (extract.xjs_link)") for m in said)
    assert _persons(con) == 5


def test_a_same_date_reload_with_changed_clusters_rebuilds_the_spine(spine_project, synth_dir, tmp_path):
    from bold_prevention.project import Project
    from bold_prevention.warehouse.load import load_extracts

    project = Project(tmp_path / "p").ensure()
    shutil.copy(spine_project.warehouse_path, project.warehouse_path)
    src = tmp_path / "extracts"
    shutil.copytree(synth_dir / "extracts", src)
    shutil.copy(synth_dir / "manifest.json", tmp_path / "manifest.json")
    path = next(src.glob("xjs_link*.parquet"))
    t = pq.read_table(path)
    # every record of the medium clusters of the first 200 rows joins one cluster: same rows, other persons
    first = t.column("cluster_medium").slice(0, 200).to_pylist()
    merged = pc.if_else(pc.is_in(t.column("cluster_medium"), value_set=pc.unique(t.column("cluster_medium")
                                                                                 .slice(0, 200))),
                        first[0], t.column("cluster_medium"))
    pq.write_table(t.set_column(t.column_names.index("cluster_medium"), "cluster_medium", merged), path)
    con = duckdb.connect(str(project.warehouse_path))
    before = _persons(con)
    snap = con.sql("select max(snapshot_date) from extract.xjs_link").fetchall()[0][0]
    con.close()
    load_extracts(project, src, snapshot_date=snap)
    con = duckdb.connect(str(project.warehouse_path))
    try:
        assert con.sql("select max(snapshot_date) from extract.xjs_link").fetchall()[0][0] == snap
        build_spine(con, as_at=date(2024, 12, 31), band="medium")
        assert _persons(con) < before
    finally:
        con.close()


def test_cohorts_and_timelines_on_an_older_spine_are_refused():
    con = mini_warehouse()
    build_spine(con, as_at=AS_AT, register=RULES)
    build_cohort(con, SPEC)
    build_timeline(con)
    profile(con, "adults")
    person_timeline(con, pseudonymise("M1"))
    _merge_c_and_d(con)
    # the spine is now older than the loaded extracts
    with pytest.raises(InputError, match=r"spine is out of date: the loaded extracts changed \(extract.xjs_link\)"):
        build_cohort(con, SPEC)
    with pytest.raises(InputError, match="person_record is out of date"):
        build_timeline(con)
    build_spine(con, as_at=AS_AT, register=RULES)
    with pytest.raises(InputError, match=r"built over an earlier spine: since then the loaded extracts changed"):
        profile(con, "adults")
    with pytest.raises(InputError, match="timeline was built from earlier person records") as e:
        person_timeline(con, pseudonymise("M1"))
    assert "bold timeline build" in e.value.hint
    build_cohort(con, SPEC)
    profile(con, "adults")
    build_timeline(con)
    person_timeline(con, pseudonymise("M1"))
    # another register: the spine changes, so does the cohort's standing
    rules = {"drivers": RULES["drivers"][:2]}
    build_spine(con, as_at=AS_AT, register=rules)
    with pytest.raises(InputError, match="register's derivation rules changed"):
        profile(con, "adults")


def test_the_stale_spine_can_be_rebuilt_by_the_cohort():
    con = mini_warehouse()
    build_spine(con, as_at=AS_AT, register=RULES)
    _merge_c_and_d(con)
    res = build_cohort(con, SPEC, rebuild_spine=True, register=RULES)
    assert _persons(con) == 5 and res.persons <= 5


def test_the_key_fingerprint_is_recorded_at_first_use():
    con = mini_warehouse()
    assert recorded_key_fingerprint(con) is None
    build_spine(con, as_at=AS_AT, register=RULES)
    fp = recorded_key_fingerprint(con)
    assert fp == key_fingerprint() and len(fp) == 16
    import os

    assert os.environ[KEY_ENV] not in fp
    info = con.sql("select key_fingerprint from spine.spine_info").fetchall()[0][0]
    assert info == fp


def test_a_different_key_is_refused(monkeypatch):
    con = mini_warehouse()
    build_spine(con, as_at=AS_AT, register=RULES)
    ids = set(con.sql("select person_id from spine.person").df()["person_id"])
    monkeypatch.setenv(KEY_ENV, "another-key-of-some-length")
    with pytest.raises(InputError, match="not the key this project's person ids were made with") as e:
        build_spine(con, as_at=AS_AT, register=RULES)
    assert "--rekey" in e.value.hint and "another-key" not in str(e.value)
    assert set(con.sql("select person_id from spine.person").df()["person_id"]) == ids


def test_a_missing_key_is_refused(monkeypatch):
    con = mini_warehouse()
    build_spine(con, as_at=AS_AT, register=RULES)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(InputError, match=f"{KEY_ENV} is not set, and this project's person ids were made with a key"
                       ) as e:
        build_spine(con, as_at=AS_AT, register=RULES)
    assert "same key" in e.value.hint


def test_rekey_drops_what_the_old_key_built(monkeypatch, tmp_path):
    from bold_prevention.project import Project

    project = Project(tmp_path / "p").ensure()
    con = mini_warehouse(project.warehouse_path)
    build_spine(con, as_at=AS_AT, register=RULES)
    build_cohort(con, SPEC)
    build_timeline(con)
    (project.models_dir / "early_warning" / "x").mkdir(parents=True)
    (project.models_dir / "linkage.json").write_text("{}")
    old = set(con.sql("select person_id from spine.person").df()["person_id"])
    monkeypatch.setenv(KEY_ENV, "a-new-key-for-this-project")
    res = build_spine(con, as_at=AS_AT, register=RULES, rekey=True)
    assert "results.cohorts" in res.dropped and "spine.timeline" in res.dropped
    assert not (project.models_dir / "early_warning").exists() and (project.models_dir / "linkage.json").exists()
    new = set(con.sql("select person_id from spine.person").df()["person_id"])
    assert len(new) == len(old) and not new & old
    assert recorded_key_fingerprint(con) == key_fingerprint(b"a-new-key-for-this-project")
    tables = {r[0] for r in con.sql("select table_schema || '.' || table_name from information_schema.tables "
                                    "where table_schema in ('results', 'spine')").fetchall()}
    assert not any(t.startswith("results.") for t in tables) and "spine.timeline" not in tables
    assert "spine.geo_lsoa" in tables
    build_spine(con, as_at=AS_AT, register=RULES)  # the new key is now the project's
    con.close()


def test_the_cli_refuses_a_changed_key_without_a_traceback(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from bold_prevention.cli import app

    con = mini_warehouse(tmp_path / "warehouse.duckdb")
    build_spine(con, as_at=AS_AT)
    con.close()
    monkeypatch.setenv(KEY_ENV, "another-key-of-some-length")
    runner = CliRunner()
    r = runner.invoke(app, ["spine", "build", "--as-at", AS_AT.isoformat(), "--project", str(tmp_path)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "not the key this project" in r.output and "--rekey" in r.output
    r = runner.invoke(app, ["spine", "build", "--as-at", AS_AT.isoformat(), "--project", str(tmp_path), "--rekey"])
    assert r.exit_code == 0, r.output
    assert "Re-keyed" in r.output
    r = runner.invoke(app, ["spine", "show", "--project", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert key_fingerprint(b"another-key-of-some-length") in r.output
