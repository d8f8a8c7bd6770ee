"""spine.timeline, pathways and survival curves on the 2,000-person synthetic population, checked against its truth."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest

from bold_prevention.trajectories import pathways as P
from bold_prevention.trajectories import survival as S
from bold_prevention.trajectories.timeline import EVENT_TYPES, TIMELINE_COLUMNS, build_timeline


@pytest.fixture(scope="module")
def con(spine_project, tmp_path_factory):
    path = tmp_path_factory.mktemp("timeline-synth") / "warehouse.duckdb"
    shutil.copy(spine_project.warehouse_path, path)
    c = duckdb.connect(str(path))
    build_timeline(c)
    yield c
    c.close()


def _one(con, sql):
    return con.execute(sql).fetchall()[0][0]


def test_event_counts_match_the_linked_extracts(con):
    counts = dict(con.execute("select event_type, count(*) from spine.timeline group by 1").fetchall())
    assert set(counts) <= set(EVENT_TYPES)
    assert [r[0] for r in con.execute("describe spine.timeline").fetchall()] == list(TIMELINE_COLUMNS)
    pr = "spine.person_record"
    assert counts["custody_release"] == _one(con, f"""
        select count(*) from extract.prison_custodial_journey j join {pr} r
          on r.source_table = 'prison_custodial_journey' and r.record_id = j.row_id_hash
        where j.release_date is not null""")
    assert counts["mags_case"] == _one(con, f"""
        select count(*) from extract.mags_defendant_case m join {pr} r
          on r.source_table = 'mags_defendant_case' and r.record_id = m.row_id_hash
        where coalesce(m.first_hearing_date, m.final_result_date, m.main_offence_date) is not null""")
    assert counts["civil_repossession"] == _one(con, f"""
        select count(*) from extract.civil_events e
        join (select distinct case_number_hash, row_id_hash from extract.civil_parties
              where party_role = 'DEFT' and not coalesce(is_company, false)) p using (case_number_hash)
        join {pr} r on r.source_table = 'civil_parties' and r.record_id = p.row_id_hash
        where e.event_type = 'REPOSSESSION' and e.event_date is not null""")
    assert counts["requirement_start"] > 0 and counts["oasys_assessment"] > 0 and counts["family_case"] > 0
    # every event belongs to a person of the spine
    assert _one(con, f"select count(*) from spine.timeline t anti join (select distinct person_id from {pr}) p "
                     "using (person_id)") == 0


def test_timeline_persons_are_true_persons(con, synth_dir):
    truth = pd.read_parquet(synth_dir / "truth" / "truth_record.parquet")
    con.register("_truth", truth)
    # events read straight from person tables carry the person record's id: compare with the true person
    df = con.execute("""
        select t.person_id, tr.person_id as true_person
        from spine.timeline t join _truth tr on tr."table" = t.source_table and tr.record_id = t.record_id""").df()
    con.unregister("_truth")
    assert len(df) > 1000
    modal = df.groupby("person_id")["true_person"].agg(lambda s: s.value_counts().iloc[0]).sum()
    assert modal / len(df) > 0.95


def test_order_and_same_day_rules(con):
    # a release never precedes the reception of the same journey in a person's timeline
    bad = _one(con, """
        select count(*) from spine.timeline a join spine.timeline b
          on a.person_id = b.person_id and a.record_id = b.record_id
        where a.event_type = 'custody_start' and b.event_type = 'custody_release' and b.event_date < a.event_date""")
    assert bad == 0
    descr = con.execute("select description from spine.timeline using sample 300 rows (reservoir, 1)").fetchall()
    assert all(d[0] and "None" not in d[0] for d in descr)


def test_possession_funnel_and_survival_on_synthetic_data(con):
    f = P.funnel(con, "possession")
    n = f["persons"].tolist()
    assert n[0] > 50 and n == sorted(n, reverse=True)
    assert f.loc[1, "median_days"] >= 28  # orders come at least four weeks after the claim
    a, km, med = S.analysis(con, "court_after_release")
    assert km["survival"].is_monotonic_decreasing and km["at_risk"].is_monotonic_decreasing
    assert 0 < km["survival"].iloc[-1] < 1
    seq = P.frequent_sequences(con, level="dataset", window_days=365, top=10)
    assert seq["persons"].is_monotonic_decreasing and seq["sequence"].str.len().gt(0).all()
