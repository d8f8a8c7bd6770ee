"""Gold-standard needs from linked Wave 2 sources beside the OASys proxy: NULL where the source is not linked,
agreement and Cohen's kappa, who the proxy misses, and a disclosure-checked release."""

from __future__ import annotations

import duckdb
import pytest
from sklearn.metrics import cohen_kappa_score

from bold_prevention.errors import InputError
from bold_prevention.spine.gold import GOLD_DRIVERS, apply_gold, gold_release_outputs, gold_report
from helpers_waves import copy_warehouse, wave_world


@pytest.fixture()
def con(tmp_path_factory, tmp_path):
    _pop, wh = wave_world(tmp_path_factory)
    c = duckdb.connect(str(copy_warehouse(wh, tmp_path)))
    yield c
    c.close()


def test_spine_build_measured_the_gold_standard_beside_the_proxy(con):
    cols = {r[0] for r in con.execute("describe spine.person").fetchall()}
    for d in GOLD_DRIVERS:
        assert f"need_{d}_gold" in cols and f"need_{d}" in cols
    n = con.execute("select count(*) from spine.person").fetchall()[0][0]
    per = dict(con.execute("select driver, count(*) from spine.person_need_gold group by 1").fetchall())
    assert per == {d: n for d in GOLD_DRIVERS}
    # every driver's sources are linked in this world: measured for everyone, some positive
    rows = con.execute("select driver, count(value), count(*) filter (where value) from spine.person_need_gold "
                       "group by 1").fetchall()
    assert all(m == n and 0 < pos < n for _d, m, pos in rows)


def test_unlinked_source_leaves_the_gold_null_never_false(con):
    con.execute("delete from spine.person_record where source_table in "
                "('nhs_patients', 'hes_apc_episodes', 'hes_ae_attendances', 'mhsds_contacts')")
    res = apply_gold(con)
    assert res.drivers["mental_health"] and "hes is loaded but not linked" in res.drivers["mental_health"]
    assert res.drivers["low_income"] is None
    vals = con.execute("select count(value), count(*), any_value(reason) from spine.person_need_gold "
                       "where driver in ('mental_health', 'physical_health')").fetchall()[0]
    assert vals[0] == 0 and vals[1] > 0 and "not linked" in vals[2]
    assert con.execute("select count(need_mental_health_gold) from spine.person").fetchall()[0][0] == 0
    # substance misuse still measured from NDTMS; HES no longer adds to it
    src = con.execute("select distinct source from spine.person_need_gold where driver = 'substance_misuse'"
                      ).fetchall()
    assert src == [("ndtms",)]


def test_report_kappa_agreement_and_who_the_proxy_misses(con):
    rows = {r["driver"]: r for r in gold_report(con)}
    assert set(rows) == set(GOLD_DRIVERS)
    for d, r in rows.items():
        pairs = con.execute("""
            select n.value, g.value from spine.person_need_gold g
            join spine.person_need n on n.person_id = g.person_id and n.driver = g.driver
            where g.driver = ? and g.measured and n.measured and n.value is not null""", [d]).fetchall()
        assert r["both"] == len(pairs) > 0
        proxy, gold = [bool(a) for a, _ in pairs], [bool(b) for _, b in pairs]
        assert r["kappa"] == pytest.approx(cohen_kappa_score(proxy, gold), abs=1e-4)
        assert r["agreement"] == pytest.approx(sum(a == b for a, b in zip(proxy, gold, strict=True)) / len(pairs),
                                               abs=1e-4)
        never = con.execute("""
            select count(*) from spine.person_need_gold g
            where g.driver = ? and g.value and not exists (
                select 1 from spine.person_need n where n.person_id = g.person_id and n.driver = g.driver
                and n.measured)""", [d]).fetchall()[0][0]
        assert r["missed_never_assessed"] == never
        assert r["gold_positive"] >= never
    assert con.execute("select count(*) from results.gold_vs_proxy").fetchall()[0][0] == len(GOLD_DRIVERS)
    # the substance-misuse gold standard agrees with the proxy better than chance
    assert rows["substance_misuse"]["kappa"] > 0


def test_release_goes_through_disclosure_control(con, tmp_path):
    from bold_prevention.outputs import write_release
    from bold_prevention.outputs.ledger import ReleaseLedger
    from bold_prevention.project import Project

    outs = gold_release_outputs(con)
    assert len(outs) == 2
    project = Project(tmp_path / "proj").ensure()
    paths = write_release(outs, tmp_path / "release", title="Gold and proxy", ledger=ReleaseLedger.for_project(project))
    assert (paths.folder / "report.html").exists() and (paths.folder / "tables.xlsx").exists()
    assert [e for e in ReleaseLedger.for_project(project).entries()]


def test_report_before_any_gold_is_an_input_error(tmp_path):
    c = duckdb.connect()
    c.execute("create schema spine")
    with pytest.raises(InputError, match="gold-standard"):
        gold_report(c)
