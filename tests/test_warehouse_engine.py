"""The one Warehouse: opening engines, and the shared helpers (table exists, identifier quoting, transaction)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.project import Project
from bold_prevention.warehouse import (
    Warehouse,
    duckdb_connect,
    open_warehouse,
    quote_ident,
    table_exists,
    transaction,
)
from bold_prevention.warehouse.engine import tables


@pytest.fixture()
def wh(tmp_path):
    proj = Project(tmp_path / "p")
    duckdb_connect(proj).close()
    w = open_warehouse(proj, "duckdb")
    yield w
    w.close()


def test_open_refuses_a_missing_warehouse_and_an_unknown_engine(tmp_path):
    with pytest.raises(InputError, match="no warehouse"):
        open_warehouse(Project(tmp_path / "none"), "duckdb")
    with pytest.raises(InputError, match="not known"):
        open_warehouse(Project(tmp_path / "none"), "oracle")


def test_materialise_write_read_and_exists(wh: Warehouse):
    assert not wh.table_exists("spine", "t")
    wh.materialise("spine.t", "SELECT 1 AS a UNION ALL SELECT 2")
    assert wh.table_exists("spine", "t") and "t" in wh.tables("spine")
    assert ("spine", "t") in tables(wh)
    assert wh.to_arrow("SELECT sum(a) AS s FROM spine.t").column("s").to_pylist() == [3]
    wh.write_arrow("results.u", pa.table({"x": [1, 2, 3]}))
    assert list(wh.to_pandas("SELECT x FROM results.u ORDER BY x")["x"]) == [1, 2, 3]
    # an Ibis expression is accepted where a SELECT is
    t = wh.ibis().table("u", database="results")
    wh.materialise("results.v", t.filter(t.x > 1))
    assert wh.sql("SELECT count(*) FROM results.v").fetchone()[0] == 2
    with pytest.raises(InputError, match="schema.name"):
        wh.materialise("nodot", "SELECT 1")


def test_a_failed_materialise_leaves_the_old_table(wh: Warehouse):
    wh.materialise("spine.t", "SELECT 1 AS a")
    with pytest.raises(duckdb.Error):
        wh.materialise("spine.t", "SELECT error('boom') AS a")
    assert wh.sql("SELECT a FROM spine.t").fetchall() == [(1,)]


def test_transaction_commits_or_rolls_back():
    con = duckdb.connect()
    con.execute("create table t (a int)")
    with transaction(con):
        con.execute("insert into t values (1)")
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("insert into t values (2)")
        raise RuntimeError("stop")
    assert con.execute("select a from t").fetchall() == [(1,)]


def test_table_exists_sees_only_the_current_database(tmp_path):
    con = duckdb.connect()
    con.execute("create schema s; create table s.t (a int)")
    other = tmp_path / "other.duckdb"
    o = duckdb.connect(str(other))
    o.execute("create schema s2; create table s2.u (a int)")
    o.close()
    con.execute(f"attach '{other}' as other (read_only)")
    assert table_exists(con, "s", "t")
    assert not table_exists(con, "s2", "u")  # in an attached database, not this warehouse
    assert not table_exists(con, "s", "missing")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
               max_size=12))
def test_quote_ident_round_trips_any_name(name):
    con = duckdb.connect()
    q = quote_ident(name)
    assert con.execute(f"select 1 as {q}").description[0][0] == name


@pytest.mark.spark
def test_the_same_operations_on_spark(tmp_path):
    pytest.importorskip("pyspark")
    from bold_prevention.warehouse.spark import SparkConnection

    proj = Project(tmp_path / "p")
    w = Warehouse("spark", proj, SparkConnection(proj.parquet_dir, "local[1]", partitions=1))
    try:
        assert not w.table_exists("spine", "t")
        w.materialise("spine.t", "SELECT 1 AS a UNION ALL SELECT 2")
        assert w.table_exists("spine.t") and w.tables("spine") == {"t"} and ("spine", "t") in tables(w)
        w.write_arrow("results.u", pa.table({"x": [1, 2, 3]}))
        assert w.to_arrow("SELECT sum(x) AS s FROM results.u").column("s").to_pylist() == [6]
        with transaction(w):  # every write is atomic on its own on Spark: the statements are accepted
            w.materialise("results.v", "SELECT x FROM results.u WHERE x > 1")
        assert sorted(w.to_pandas("SELECT x FROM results.v")["x"]) == [2, 3]
    finally:
        w.close()
