"""Bad input on the Spark path: a missing or old Java, an unreachable master, a Parquet warehouse from another
schema version, interrupted writes. Each gives a clear message naming what to install or fix, and changes nothing.

Only the last test starts Spark (local[2]); the others fail before a JVM would start.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError, OutputExistsError
from bold_prevention.project import Project
from bold_prevention.scale import export_warehouse_to_parquet
from bold_prevention.warehouse import open_warehouse
from bold_prevention.warehouse import spark as sp
from bold_prevention.warehouse.engine import duckdb_connect

pytestmark = pytest.mark.spark


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def exported(tmp_path) -> Project:
    """A small warehouse (one extract table) exported as Parquet."""
    proj = Project(tmp_path / "project")
    con = duckdb_connect(proj)
    con.execute("CREATE TABLE extract.xjs_link AS SELECT 'mags_hocas' AS source_dataset, 'r1' AS row_id_hash, "
                "0.9 AS match_score, DATE '2025-01-31' AS snapshot_date")
    con.close()
    export_warehouse_to_parquet(proj)
    return proj


# --------------------------------------------------------------------------------------------------- Java
def test_missing_java_says_what_to_install(monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(InputError) as e:
        sp.check_java()
    assert "no Java runtime" in e.value.message and "default-jre-headless" in e.value.hint
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    with pytest.raises(InputError) as e:
        sp.check_java()
    assert "JAVA_HOME" in e.value.message and "no-such-jdk" in e.value.message


def test_old_java_is_refused(monkeypatch, tmp_path):
    home = tmp_path / "jdk11"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JAVA_HOME", str(home))
    with pytest.raises(InputError) as e:
        sp.check_java()
    assert "Java 11" in e.value.message and "17" in e.value.message


def test_missing_java_through_the_command_writes_nothing(monkeypatch, tmp_path, exported):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    sp.spark_session.cache_clear()
    before = snapshot(exported.parquet_dir)
    res = CliRunner().invoke(app, ["scale", "run", "--engine", "spark", "--spark-master", "local[2]",
                                   "--project", str(exported.root)])
    assert res.exit_code == 2
    assert "no Java runtime" in res.output and "default-jre-headless" in res.output
    assert snapshot(exported.parquet_dir) == before


# --------------------------------------------------------------------------------------------------- master
def test_unreachable_master(exported):
    before = snapshot(exported.parquet_dir)
    with pytest.raises(InputError) as e:
        open_warehouse(exported, "spark", spark_master="spark://127.0.0.1:9")
    assert "cannot reach the Spark master at spark://127.0.0.1:9" in e.value.message
    assert "local[*]" in e.value.hint
    assert snapshot(exported.parquet_dir) == before
    for bad in ("spark:/nohost", "mesos://x:5050", "local[two]"):
        with pytest.raises(InputError):
            sp.check_master(bad)


def test_unreachable_master_through_the_command(exported):
    res = CliRunner().invoke(app, ["scale", "run", "--engine", "spark", "--spark-master", "spark://127.0.0.1:9",
                                   "--project", str(exported.root)])
    assert res.exit_code == 2
    assert "cannot reach the Spark master" in res.output


def test_unknown_engine():
    with pytest.raises(InputError) as e:
        open_warehouse(None, "oracle")
    assert "--engine duckdb or --engine spark" in e.value.hint


# --------------------------------------------------------------------------------------------------- schema version
def test_parquet_from_another_schema_version_is_refused(exported):
    marker = exported.parquet_dir / sp.MARKER
    info = json.loads(marker.read_text())
    assert info["schema_version"] == sp.schema_version()
    info["schema_version"] = "1.0000000000000000"
    info["toolkit_version"] = "0.0.1"
    marker.write_text(json.dumps(info))
    before = snapshot(exported.parquet_dir)
    with pytest.raises(InputError) as e:
        open_warehouse(exported, "spark", spark_master="local[2]")
    msg = e.value.message
    assert "schema version 1.0000000000000000" in msg and sp.schema_version() in msg
    assert "different Data First model" in msg
    assert "bold scale export" in e.value.hint and "--overwrite" in e.value.hint
    assert snapshot(exported.parquet_dir) == before
    info["layout_version"] = 0
    marker.write_text(json.dumps(info))
    with pytest.raises(InputError, match="layout 0"):
        sp.check_parquet_warehouse(exported.parquet_dir)


def test_parquet_folder_without_marker_is_refused(exported):
    (exported.parquet_dir / sp.MARKER).unlink()
    with pytest.raises(InputError) as e:
        sp.check_parquet_warehouse(exported.parquet_dir)
    assert "no _bold_warehouse.json marker" in e.value.message


def test_model_fingerprint_follows_the_model():
    from dataclasses import replace
    from types import SimpleNamespace

    from bold_prevention.datafirst import MODEL

    assert sp.model_fingerprint(SimpleNamespace(tables=list(MODEL.tables))) == sp.model_fingerprint()
    t = MODEL.tables[0]
    fewer = [replace(t, columns=t.columns[:-1]), *MODEL.tables[1:]]
    assert sp.model_fingerprint(SimpleNamespace(tables=fewer)) != sp.model_fingerprint()


def test_export_refuses_to_overwrite_and_needs_a_warehouse(tmp_path, exported):
    with pytest.raises(OutputExistsError):
        export_warehouse_to_parquet(exported)
    res = export_warehouse_to_parquet(exported, overwrite=True)
    assert res.tables == {"extract.xjs_link": 1}
    with pytest.raises(InputError, match="no warehouse"):
        export_warehouse_to_parquet(Project(tmp_path / "nothing"))


# --------------------------------------------------------------------------------------------------- atomicity
def test_interrupted_swap_is_undone(tmp_path):
    folder = tmp_path / "parquet"
    sdir = folder / "spine.db"
    old = sdir / ".person.old-0123456789ab"
    old.mkdir(parents=True)
    (old / "part-0.parquet").write_bytes(b"previous")
    (sdir / ".person.tmp-0123456789ab").mkdir()
    (sdir / ".person.tmp-0123456789ab" / "part-0.parquet").write_bytes(b"half")
    notes = sp.recover_interrupted_swaps(folder)
    assert notes == ["restored spine.person from an interrupted write"]
    assert sorted(p.name for p in sdir.iterdir()) == ["person"]
    assert (sdir / "person" / "part-0.parquet").read_bytes() == b"previous"


def test_failed_write_keeps_the_previous_table(exported):
    """A CREATE OR REPLACE TABLE whose query fails half-way leaves the old table, readable, and no debris."""
    os.environ.setdefault("BOLD_SPARK_CODEGEN", "false")
    wh = open_warehouse(exported, "spark", spark_master="local[2]", partitions=2)
    try:
        con = wh.con
        import pyarrow as pa

        con.register("nums", pa.table({"id": pa.array(range(100), pa.int64())}))
        con.execute("CREATE OR REPLACE TABLE results.t AS SELECT id, id * 2 AS v FROM nums")
        assert con.execute("SELECT COUNT(*), SUM(v) FROM results.t").fetchone() == (100, 9900)

        def boom(x):
            if x == 77:
                raise ValueError("failure half-way through the write")
            return x

        con.spark.udf.register("boom", boom, "bigint")
        with pytest.raises(Exception, match="half-way"):
            con.execute("CREATE OR REPLACE TABLE results.t AS SELECT boom(id) AS id FROM nums")
        assert con.execute("SELECT COUNT(*), SUM(v) FROM results.t").fetchone() == (100, 9900)
        names = [p.name for p in (exported.parquet_dir / "results.db").iterdir()]
        assert names == ["t"]
        # DuckDB statements the library uses, with their Spark meaning
        con.execute("INSERT INTO results.t (id, v) SELECT 1000, ?", [5])
        con.execute("DELETE FROM results.t WHERE id < ?", [50])
        assert con.execute("SELECT COUNT(*), MAX(id) FROM results.t").fetchone() == (51, 1000)
        assert con.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? "
                           "AND table_name = ?", ["results", "t"]).fetchone()[0] == 1
        cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                           "table_schema = 'results' AND table_name = 't' ORDER BY ordinal_position").fetchall()
        assert cols == [("id", "BIGINT"), ("v", "BIGINT")]
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE OR REPLACE TEMP TABLE _x AS SELECT * FROM results.t WHERE id >= 1000")
        con.execute("COMMIT")
        assert con.execute("SELECT COUNT(*) FROM _x").fetchone()[0] == 1
        con.execute("DROP TABLE IF EXISTS _x")
        con.execute("DROP TABLE results.t")
        assert not (exported.parquet_dir / "results.db" / "t").exists()
    finally:
        wh.close()
