"""Loading extracts: the warehouse layout, snapshots, idempotency and the report."""

from __future__ import annotations

import duckdb
import pytest

from bold_prevention.datafirst import MODEL
from bold_prevention.warehouse.load import load_extracts
from helpers_load import make_extracts

SNAP = "2025-01-31"


@pytest.fixture(scope="module")
def clean_src(tmp_path_factory):
    return make_extracts(tmp_path_factory.mktemp("clean") / "extracts", n=30)


def _tables(project):
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        return {(s, t) for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}, con
    except Exception:
        con.close()
        raise


def test_clean_load_splits_identifiers_into_linkage(tmp_path, clean_src):
    res = load_extracts(tmp_path / "p", clean_src, snapshot_date=SNAP)
    assert res.status == "complete"
    assert res.counts()["fail"] == 0
    tables, con = _tables(tmp_path / "p")
    with con:
        for t in MODEL.tables:
            assert ("extract", t.name) in tables
            cols = [r[0] for r in con.execute(f"describe extract.{t.name}").fetchall()]
            assert cols == [*t.analysis_columns, "snapshot_date"]
            assert not set(cols) & {"forename", "surname", "date_of_birth", "postcode", "middle_names"}
            if t.holds_persons:
                ident = [r[0] for r in con.execute(f"describe linkage.identity_{t.name}").fetchall()]
                assert ident[0] == t.record_id
                assert set(t.identifier_columns) <= set(ident)
                n = con.execute(f"select count(*) from linkage.identity_{t.name}").fetchone()[0]
                assert n == res.tables[t.name].rows
            else:
                assert ("linkage", f"identity_{t.name}") not in tables
        snap = con.execute("select distinct snapshot_date::varchar from extract.mags_defendant_case").fetchall()
        assert snap == [(SNAP,)]
        rows = con.execute("select table_name, rows, checksum from meta.snapshots").fetchall()
        assert len(rows) == len(MODEL.tables) and all(r[1] == res.tables[r[0]].rows and r[2] for r in rows)
    assert res.report_json.exists() and res.report_html.exists()
