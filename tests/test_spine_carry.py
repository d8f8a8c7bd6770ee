"""A spine built at another band carrying over, from a spine kept aside, the persons whose records are the same
(``build_spine(carry_from=...)``, used by band sensitivity) equals the spine built person by person."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.datafirst.waves import WAVE_SOURCES
from bold_prevention.spine import build as B
from bold_prevention.spine import build_spine

AS_AT = date(2024, 12, 31)
PREFIX = "_kept_"
KEPT = ("person", "person_need", "person_record", "spine_info", "person_record_info")


@pytest.fixture()
def con(spine_copy_con):
    return spine_copy_con


def _keep(con) -> None:
    for t in KEPT:
        con.execute(f"DROP TABLE IF EXISTS spine.{PREFIX}{t}")
        con.execute(f"CREATE TABLE spine.{PREFIX}{t} AS SELECT * FROM spine.{t}")


def _snapshot(con) -> dict[str, pd.DataFrame]:
    snap = {}
    for t, cols in (("person", "*"), ("person_need", "*"), ("person_record", "*"), ("need_measure", "*"),
                    ("spine_info", "* EXCLUDE (built_at)"), ("person_record_info", "* EXCLUDE (built_at)")):
        df = con.execute(f"SELECT {cols} FROM spine.{t}").df()
        snap[t] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return snap


def _assert_same(a, b):
    assert set(a) == set(b)
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], obj=k)


def _carried_then_full(con, band: str) -> tuple[dict, dict, list[str]]:
    said: list[str] = []
    build_spine(con, as_at=AS_AT, band=band, carry_from=PREFIX, progress=said.append)
    carried = _snapshot(con)
    build_spine(con, as_at=AS_AT, band=band, rebuild_records=True)
    return carried, _snapshot(con), said


@pytest.mark.parametrize("band", ["high", "low"])
def test_carried_spine_equals_building_every_person(con, band):
    _keep(con)
    kept_persons = con.execute("SELECT COUNT(*) FROM spine.person").fetchone()[0]
    carried, full, said = _carried_then_full(con, band)
    _assert_same(carried, full)
    msg = [m for m in said if "the same as at the kept band" in m]
    assert msg, said  # the carry-over path was taken
    n = int(msg[0].split()[2].replace(",", ""))
    assert 0 < n < kept_persons  # some persons carried over, some built
    assert not [r for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
                if r[0] in B._CARRY_TEMPS]


def test_nothing_carried_from_a_stale_or_wave_linked_kept_spine(con):
    _keep(con)
    fp = B.spine_fingerprint_of(con)
    assert B._carry_source(con, PREFIX, {**fp, "band": "high"}) == "medium"
    assert B._carry_source(con, PREFIX, {**fp, "band": "high", "as_at": "2023-12-31"}) is None
    assert B._carry_source(con, PREFIX, {**fp, "band": "high", "register": "other"}) is None
    assert B._carry_source(con, PREFIX, {**fp, "band": "high", "xjs": "improved abc"}) is None
    assert B._carry_source(con, "_missing_", {**fp, "band": "high"}) is None
    wave = next(iter(WAVE_SOURCES.values())).person_table
    con.execute(f"INSERT INTO spine.{PREFIX}person_record (person_id, source_table, record_id, band) "
                f"VALUES ('x', '{wave}', 'r', 'medium')")
    assert B._carry_source(con, PREFIX, {**fp, "band": "high"}) is None
    # a stale kept spine: the build builds every person and says nothing of carrying
    said: list[str] = []
    build_spine(con, as_at=AS_AT, band="high", carry_from=PREFIX, progress=said.append)
    assert not [m for m in said if "the same as at the kept band" in m]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), share=st.sampled_from([0.02, 0.1, 0.3]), band=st.sampled_from(["high", "low"]))
def test_carried_spine_equals_full_build_whatever_the_clusters(con, seed, share, band):
    """Clusters moved at random (records split off at the high band, persons merged at the low band, records moved
    between medium clusters): carrying over from the medium spine still gives the spine built person by person."""
    con.execute(f"""
CREATE OR REPLACE TABLE extract.xjs_link AS
SELECT * REPLACE (
    CASE WHEN hash(row_id_hash, {seed}, 1) % 1000 < {share * 1000} THEN 'split:' || row_id_hash
         ELSE cluster_high END AS cluster_high,
    CASE WHEN hash(cluster_low, {seed}, 2) % 1000 < {share * 1000}
         THEN 'merged:' || CAST(hash(cluster_low, {seed}) % 50 AS VARCHAR) ELSE cluster_low END AS cluster_low,
    CASE WHEN hash(row_id_hash, {seed}, 3) % 1000 < {share * 100}
         THEN (SELECT MIN(cluster_medium) FROM extract.xjs_link) ELSE cluster_medium END AS cluster_medium)
FROM extract.xjs_link""")
    build_spine(con, as_at=AS_AT, band="medium")
    _keep(con)
    carried, full, said = _carried_then_full(con, band)
    _assert_same(carried, full)
    assert [m for m in said if "the same as at the kept band" in m]
