"""Rules that must hold generally: property-based tests of the checks and the failure policy."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.datafirst import MODEL
from bold_prevention.errors import LoadBlocked
from bold_prevention.warehouse.contracts import DEFAULT_POLICY, decide, table_contract
from bold_prevention.warehouse.load import load_extracts
from bold_prevention.warehouse.quality import data_checks, plan_columns, primary_key_check, psi
from bold_prevention.warehouse.readers import FileInfo
from helpers_load import build_tables, replace_column, warehouse_fingerprint, write_tables

TABLES = build_tables(12)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _stage(tab: pa.Table, table: str):
    """Stage an Arrow table as the loader would; returns (con, contract, plan, rows)."""
    con = duckdb.connect()
    contract = table_contract(table)
    src = tab  # noqa: F841 - read by DuckDB's replacement scan
    cols = {r[0]: r[1] for r in con.execute("describe select * from src").fetchall()}
    plan, _ = plan_columns(contract, FileInfo(table, "parquet", [], columns=cols))
    con.execute(f"create table s as select {plan.select_sql(contract)} from src")
    return con, contract, plan, tab.num_rows


counts = st.dictionaries(st.sampled_from(list("ABCDEFG")), st.integers(1, 1000), min_size=1)


@given(counts)
def test_psi_of_identical_distributions_is_zero(a):
    assert psi(a, a) == pytest.approx(0, abs=1e-12)
    doubled = {k: 2 * v for k, v in a.items()}
    assert psi(a, doubled) == pytest.approx(0, abs=1e-12)


@given(counts, counts)
def test_psi_is_non_negative_and_symmetric(a, b):
    assert psi(a, b) >= 0
    assert psi(a, b) == pytest.approx(psi(b, a))


@FAST
@given(n=st.integers(10, 200), data=st.data())
def test_completeness_policy(n, data):
    """Date of birth (threshold 95%): pass at or above it, warn just below, block when severely below."""
    nulls = data.draw(st.integers(0, n))
    base = TABLES["moj_probation_flatfile"]
    tab = pa.concat_tables([base] * (n // base.num_rows + 1)).slice(0, n)
    ids = [f"r{i:05d}" for i in range(n)]
    tab = replace_column(tab, "row_id_hash", ids)
    dob = tab.column("date_of_birth").to_pylist()
    tab = replace_column(tab, "date_of_birth", [None if i < nulls else v for i, v in enumerate(dob)])
    con, contract, plan, rows = _stage(tab, "moj_probation_flatfile")
    checks = data_checks(con, "s", contract, plan, rows=rows, today=MODEL.dataset("probation").coverage[1],
                         snapshot_date=MODEL.dataset("probation").coverage[1])
    c = next(c for c in checks if c.check == "completeness" and c.column == "date_of_birth")
    observed = 1 - nulls / n
    assert c.failing == nulls and c.total == n
    if observed >= 0.95 - 1e-12:
        assert c.status == "pass"
    elif observed < 0.95 - DEFAULT_POLICY.completeness_severe_margin:
        assert c.status == "fail" and c.blocking
        assert decide(contract, checks).decision == "block"
        assert set(c.examples) <= set(ids[:nulls]) and len(c.examples) == min(nulls, DEFAULT_POLICY.examples)
    else:
        assert c.status == "warn" and not c.blocking
        assert decide(contract, checks).decision != "block"


@FAST
@given(keys=st.lists(st.integers(0, 30), min_size=1, max_size=80))
def test_primary_key_duplicates_are_counted_exactly(keys):
    base = TABLES["crown_defendant_case"]
    tab = pa.concat_tables([base] * (len(keys) // base.num_rows + 1)).slice(0, len(keys))
    tab = replace_column(tab, "row_id_hash", [f"k{k:03d}" for k in keys])
    con, contract, plan, rows = _stage(tab, "crown_defendant_case")
    res = primary_key_check(con, "s", contract, plan, rows=rows)
    dup_rows = sum(keys.count(k) for k in set(keys) if keys.count(k) > 1)
    assert res.failing == dup_rows
    assert (res.status == "fail") == (dup_rows > 0)
    assert res.blocking == (dup_rows > 0)  # crown is a critical dataset
    assert res.examples == sorted(f"k{k:03d}" for k in set(keys) if keys.count(k) > 1)[:DEFAULT_POLICY.examples]


@FAST
@given(values=st.lists(st.one_of(st.none(), st.sampled_from(["M", "F", "U", "X", "male", ""])), min_size=1,
                       max_size=60))
def test_code_list_violations_are_counted_exactly(values):
    base = TABLES["prison_custodial_journey"]
    tab = pa.concat_tables([base] * (len(values) // base.num_rows + 1)).slice(0, len(values))
    tab = replace_column(tab, "row_id_hash", [f"r{i}" for i in range(len(values))])
    tab = replace_column(tab, "gender", values)
    con, contract, plan, rows = _stage(tab, "prison_custodial_journey")
    checks = data_checks(con, "s", contract, plan, rows=rows, today=MODEL.dataset("prison").coverage[1],
                         snapshot_date=MODEL.dataset("prison").coverage[1])
    c = next(c for c in checks if c.check == "code_list" and c.column == "gender")
    assert c.failing == sum(1 for v in values if v is not None and v not in ("M", "F", "U"))
    assert c.total == sum(1 for v in values if v is not None)


def _break(kind: str, table: str, folder: Path) -> None:
    t = TABLES[table]
    p = folder / f"{table}.parquet"
    if kind == "corrupt":
        p.write_bytes(p.read_bytes()[:100])
    elif kind == "duplicate":
        pq.write_table(pa.concat_tables([t, t.slice(0, 1)]), p)
    elif kind == "drop_key":
        pq.write_table(t.drop_columns([t.column_names[0]]), p)
    elif kind == "empty":
        pq.write_table(t.slice(0, 0), p)


CRITICAL = [t.name for t in MODEL.tables if MODEL.dataset(t.dataset).critical]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["corrupt", "duplicate", "drop_key", "empty"]), table=st.sampled_from(CRITICAL))
def test_any_blocking_break_in_a_critical_table_leaves_the_warehouse_unchanged(kind, table):
    # the warehouse holds two datasets; the load that breaks covers the broken table's dataset only
    scope = [MODEL.dataset_of(table).key]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        good = write_tables(TABLES, d / "good")
        load_extracts(d / "p", good, snapshot_date="2025-01-31", datasets=sorted({*scope, "probation"}))
        before = warehouse_fingerprint(d / "p")
        bad = write_tables(TABLES, d / "bad")
        _break(kind, table, bad)
        with pytest.raises(LoadBlocked) as ei:
            load_extracts(d / "p", bad, snapshot_date="2025-02-28", datasets=scope)
        assert table in ei.value.message
        assert warehouse_fingerprint(d / "p") == before
