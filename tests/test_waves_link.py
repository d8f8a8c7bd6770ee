"""Loading Wave 1-2 sources under their contracts and linking them to the spine (bold link wave)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.synth import generate
    from bold_prevention.warehouse.load import load_extracts

    root = tmp_path_factory.mktemp("wavelink")
    generate(root / "pop", persons=2500, seed=5, sources=("dwp", "ndtms"))
    project = Project(root / "proj").ensure()
    load_extracts(project, root / "pop")
    build_spine(project, as_at=date(2024, 12, 31), band="medium")
    return root, project


@pytest.fixture()
def con(world, tmp_path):
    root, project = world
    db = tmp_path / "w.duckdb"
    shutil.copy(project.warehouse_path, db)
    c = duckdb.connect(str(db))
    yield c
    c.close()


def test_dwp_links_with_events_and_quality_by_group(world, con):
    root, _ = world
    load = load_wave_source(con, "dwp", root / "pop")
    assert set(load.tables.values()) == {"loaded"}
    res = link_wave_source(con, "dwp", truth_dir=root / "pop" / "truth")
    q = res.quality["bands"]
    assert q["low"]["precision"] >= 0.95 and q["low"]["f1"] >= 0.9
    assert set(res.quality["by"]["medium"]) == {"sex", "age_band", "ethnic_group"}
    spells = res.events["dwp_benefit_spells"]
    assert 0 < spells["linked"] <= spells["records"]
    cols = {r[0] for r in con.execute("describe extract.dwp_customers").fetchall()}
    assert not cols & {"nino", "forename", "surname", "date_of_birth", "postcode"}


def test_ndtms_attributor_links(world, con):
    root, _ = world
    load_wave_source(con, "ndtms", root / "pop")
    res = link_wave_source(con, "ndtms", truth_dir=root / "pop" / "truth")
    assert res.quality["bands"]["low"]["f1"] >= 0.85


def _copy_with(root, tmp_path, table, change):
    src = tmp_path / "src"
    (src / "waves").mkdir(parents=True)
    for p in (root / "pop" / "waves").glob("dwp_*.parquet"):
        t = pq.read_table(p)
        if p.stem == table:
            t = change(t)
        pq.write_table(t, src / "waves" / p.name)
    return src


def test_no_usable_key_is_refused_and_not_linked(world, con, tmp_path):
    root, _ = world

    def blank(t):
        for c in ("nino", "forename", "surname", "date_of_birth", "postcode"):
            i = t.schema.get_field_index(c)
            t = t.set_column(i, c, pa.nulls(t.num_rows, t.schema.field(c).type))
        return t

    load = load_wave_source(con, "dwp", _copy_with(root, tmp_path, "dwp_customers", blank))
    assert load.tables["dwp_customers"] == "refused"
    assert any("no record has a usable key" in p for p in load.problems)
    assert con.execute("select count(*) from information_schema.tables where table_name = 'identity_dwp_customers'"
                       ).fetchone()[0] == 0


def test_source_outside_the_spine_period_is_refused(world, con, tmp_path):
    root, _ = world

    def old(t):
        for c in ("spell_start_date", "spell_end_date"):
            i = t.schema.get_field_index(c)
            t = t.set_column(i, c, pa.array([date(1995, 1, 1)] * t.num_rows, pa.date32()))
        return t

    load = load_wave_source(con, "dwp", _copy_with(root, tmp_path, "dwp_benefit_spells", old))
    assert load.tables["dwp_benefit_spells"] == "refused"
    assert any("spine's period" in p for p in load.problems)


def test_spell_ending_before_it_starts_is_reported_and_never_linked(world, con, tmp_path):
    root, _ = world

    def backwards(t):
        s = t.column("spell_start_date")
        i = t.schema.get_field_index("spell_end_date")
        return t.set_column(i, "spell_end_date", pa.array([d - timedelta(days=30) for d in s.to_pylist()],
                                                          pa.date32()))

    load = load_wave_source(con, "dwp", _copy_with(root, tmp_path, "dwp_benefit_spells", backwards))
    assert load.tables["dwp_benefit_spells"] == "loaded"
    assert any(c.check == "date_order" and c.status == "fail" for c in load.checks)
    res = link_wave_source(con, "dwp")
    ev = res.events["dwp_benefit_spells"]
    assert ev["dates_out_of_order"] == ev["records"] and ev["linked"] == 0


def test_a_death_stronger_than_later_event_links_stands_and_the_events_go():
    from bold_prevention.linkage.wave_link import _refuse_deaths_before_events

    c = duckdb.connect()
    c.execute("create schema spine; create schema extract")
    c.execute("create table spine.person_record (person_id varchar, source_dataset varchar, source_table varchar, "
              "record_id varchar, match_score double, band_joined varchar, band varchar, person_record_id varchar)")
    c.execute("create table extract.ons_death_registrations as select * from (values ('D1', date '2020-01-01'), "
              "('D2', date '2020-01-01')) t(registration_id, date_of_death)")
    c.execute("create table extract.dwp_benefit_spells as select * from (values ('S1', date '2021-01-01'), "
              "('S2', date '2019-01-01'), ('S3', date '2021-01-01')) t(spell_id, spell_start_date)")
    c.execute("""insert into spine.person_record (person_id, source_table, record_id, match_score) values
        ('A', 'ons_death_registrations', 'D1', 0.999), ('A', 'dwp_benefit_spells', 'S1', 0.95),
        ('A', 'dwp_benefit_spells', 'S2', 0.95),
        ('B', 'ons_death_registrations', 'D2', 0.95), ('B', 'dwp_benefit_spells', 'S3', 0.99)""")
    assert _refuse_deaths_before_events(c) == (1, 1)
    left = set(c.execute("select record_id from spine.person_record").fetchall())
    # A: the death is stronger than the later spell, which goes (the earlier one stays); B: the later spell is
    # stronger than the death, which is refused
    assert left == {("D1",), ("S2",), ("S3",)}
