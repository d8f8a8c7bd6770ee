"""Loading Wave 1-2 sources under their contracts and linking them to the spine (bold link wave)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- scoring a link among its competitors
def _exclusive(pairs, *, records, persons, low=0.01):
    from bold_prevention.linkage.wave import exclusive_scores_sql

    s = duckdb.connect()
    s.register("pairs", pa.table({"record_id": [p[0] for p in pairs], "person_id": [p[1] for p in pairs],
                                  "p": [float(p[2]) for p in pairs]}))
    out = {(r, p): q for r, p, q in s.execute(exclusive_scores_sql(
        "select * from pairs", records=records, persons=persons, low=low)).fetchall()}
    s.close()
    return out


@settings(max_examples=60, deadline=None)
@given(p=st.floats(0.02, 0.98))
def test_a_lone_pair_is_scored_as_splink_does_when_the_source_covers_few_spine_persons(p):
    # one pair among many records and persons: both shares are tiny, nothing competes
    q = _exclusive([("r", "P", p)], records=100_000, persons=100_000)[("r", "P")]
    assert q == pytest.approx(p, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(p=st.floats(0.3, 0.98), rival=st.floats(0.3, 0.98), n=st.integers(2, 6))
def test_a_person_claimed_by_other_records_lowers_each_claim(p, rival, n):
    # n persons each with a sure record, so most spine persons are in the source (pi high)
    base = [(f"r{i}", f"P{i}", 0.999) for i in range(n)]
    alone = _exclusive([*base, ("x", "Q", p)], records=n + 2, persons=n + 1)[("x", "Q")]
    contested = _exclusive([*base, ("x", "Q", p), ("y", "Q", rival)], records=n + 2, persons=n + 1)[("x", "Q")]
    assert alone >= p - 1e-9  # a spine person expected in the source with one candidate: the candidate gains
    assert contested < alone  # another record claiming the same person takes from it


def test_completed_identities_fill_only_what_is_missing():
    from bold_prevention.linkage.wave import complete_person_identities

    s = duckdb.connect()
    s.execute("""create table ids as select * from (values
        ('A', 'JOHN', 'SMITH', date '1980-01-02', 'M'),
        ('A', null, 'SMITH', null, 'U'),
        ('B', 'ANN', 'JONES', null, null),
        ('C', 'SAM', 'LEE', date '1990-05-05', 'M'),
        ('C', 'SAM', 'LEE', date '1990-05-05', 'F'),
        ('C', null, 'LEE', null, null)) t(person_id, forename, surname, date_of_birth, sex)""")
    rows = s.execute(f"select * from ({complete_person_identities('select * from ids')}) "
                     "order by person_id, forename nulls last, date_of_birth, sex").fetchall()
    s.close()
    a = [r for r in rows if r[0] == "A"]
    assert a == [("A", "JOHN", "SMITH", date(1980, 1, 2), "M")] * 2  # the name-only record takes the person's
    assert [r for r in rows if r[0] == "B"] == [("B", "ANN", "JONES", None, None)]  # nothing known to fill with
    c = [r for r in rows if r[0] == "C"]
    assert {r[4] for r in c} == {"M", "F", None}  # the person's sex is not known for certain: left as it was
    assert all(r[1] == "SAM" and r[3] == date(1990, 5, 5) for r in c)


def test_the_postcode_area_adds_nothing_where_the_postcode_agrees():
    from bold_prevention.linkage.comparisons import ExtraComparison, comparison

    spec = ExtraComparison("postcode_area", "geography", tf=False, neutral_within="postcode")
    levels = comparison(spec).get_comparison("duckdb").as_dict()["comparison_levels"]
    null = levels[0]
    assert null["is_null_level"] and '"postcode_l" = "postcode_r"' in null["sql_condition"]
    plain = comparison(ExtraComparison("postcode_area", "geography", tf=False)).get_comparison("duckdb").as_dict()
    assert "postcode_l" not in plain["comparison_levels"][0]["sql_condition"]


def test_only_registers_of_persons_are_scored_exclusively():
    from bold_prevention.datafirst.waves import WAVE_SOURCES
    from bold_prevention.linkage.wave_link import holds_one_record_per_person

    one = {k for k, s in WAVE_SOURCES.items() if holds_one_record_per_person(s)}
    assert {"dwp", "hmrc", "hes", "deaths", "npd"} <= one
    assert "ndtms" not in one  # episodes: one person, many records


def test_a_record_borrows_the_stronger_link_of_the_same_national_number():
    from types import SimpleNamespace

    from bold_prevention.linkage.splink_model import Thresholds
    from bold_prevention.linkage.wave_link import borrow_national_number_links

    c = duckdb.connect()
    for s in ("linkage", "spine"):
        c.execute(f"create schema {s}")
    ident = "(ref varchar, nino varchar, forename varchar, surname varchar, date_of_birth date, postcode varchar, sex varchar)"
    c.execute(f"create table linkage.identity_dwp_customers {ident.replace('ref', 'customer_ref')}")
    c.execute(f"create table linkage.identity_hmrc_individuals {ident.replace('ref', 'individual_ref')}")
    c.execute("""insert into linkage.identity_dwp_customers values
        ('D1', 'AB1', 'ANN', 'LEE', date '1980-01-01', null, 'F'),
        ('D2', 'AB2', 'BOB', 'KAY', date '1970-02-02', null, 'M'),
        ('D3', 'AB3', 'CAT', 'ROY', date '1960-03-03', null, 'F')""")
    c.execute("""insert into linkage.identity_hmrc_individuals values
        ('H1', 'AB1', 'Ann', 'Lee', date '1980-01-01', null, 'F'),   -- same NINO, same person: borrows
        ('H2', 'AB2', 'ZED', 'FOX', date '1999-09-09', null, 'M'),   -- a mistyped NINO of someone else: does not
        ('H3', 'AB3', 'CAT', 'ROY', date '1960-03-03', null, 'F')    -- its own link is stronger: keeps it""")
    c.execute("create table spine.person_record (person_id varchar, source_dataset varchar, source_table varchar, "
              "record_id varchar, match_score double, band_joined varchar, band varchar, person_record_id varchar)")
    c.execute("""insert into spine.person_record values
        ('P1', 'dwp', 'dwp_customers', 'D1', 0.999, 'high', 'medium', 'D1'),
        ('P2', 'dwp', 'dwp_customers', 'D2', 0.999, 'high', 'medium', 'D2'),
        ('P9', 'dwp', 'dwp_customers', 'D3', 0.95, 'medium', 'medium', 'D3'),
        ('P3', 'hmrc', 'hmrc_individuals', 'H3', 0.999, 'high', 'medium', 'H3')""")
    own = pa.table({"person_id": ["P3", "P7"], "record_id": ["H3", "H1"], "match_score": [0.999, 0.6],
                    "band_joined": ["high", "low"]})
    res = SimpleNamespace(pairs=own, band="medium", linked={})
    assert borrow_national_number_links(c, "hmrc", res, Thresholds()) == 1
    got = dict(c.execute("select record_id, person_id from spine.person_record "
                         "where source_table = 'hmrc_individuals'").fetchall())
    assert got == {"H1": "P1", "H3": "P3"}
    assert res.linked["high"] == 2
    c.close()


def _party_world(pupil_dob: date, case_date: date, role: str):
    c = duckdb.connect()
    for s in ("linkage", "spine", "extract"):
        c.execute(f"create schema {s}")
    c.execute("create table linkage.identity_npd_pupil (pupil_matching_reference varchar, date_of_birth date)")
    c.execute("insert into linkage.identity_npd_pupil values ('PMR1', ?), ('PMR2', null)", [pupil_dob])
    c.execute("create table spine.person_record (person_id varchar, source_dataset varchar, source_table varchar, "
              "record_id varchar, match_score double, band_joined varchar, band varchar, person_record_id varchar)")
    c.execute("""insert into spine.person_record values
        ('P1', 'family', 'family_parties', 'F1', null, null, 'medium', 'F1'),
        ('P1', 'npd', 'npd_pupil', 'PMR1', 0.95, 'medium', 'medium', 'PMR1'),
        ('P1', 'npd', 'npd_pupil', 'PMR2', 0.95, 'medium', 'medium', 'PMR2')""")
    c.execute("create table extract.family_parties (row_id_hash varchar, case_number_hash varchar, role_model varchar)")
    c.execute("insert into extract.family_parties values ('F1', 'C1', ?)", [role])
    c.execute("create table extract.family_cases (case_number_hash varchar, receipt_date date)")
    c.execute("insert into extract.family_cases values ('C1', ?)", [case_date])
    return c


@settings(max_examples=30, deadline=None)
@given(age_days=st.integers(0, 30 * 365), role=st.sampled_from(["APLZ", "RSPC", "CHLDC"]))
def test_a_pupil_never_links_to_an_adult_party_of_a_case_before_their_sixteenth_birthday(age_days, role):
    from bold_prevention.linkage.wave_link import ADULT_PARTY_MIN_AGE, refuse_children_as_adult_parties

    dob = date(2005, 3, 1)
    case = dob + timedelta(days=age_days)
    c = _party_world(dob, case, role)
    gone = refuse_children_as_adult_parties(c, "npd_pupil")
    adult_too_young = not role.startswith("CHLD") and case < date(dob.year + ADULT_PARTY_MIN_AGE, dob.month, dob.day)
    assert gone == (["PMR1"] if adult_too_young else [])
    left = {r[0] for r in c.execute("select record_id from spine.person_record where source_table = 'npd_pupil'")
            .fetchall()}
    assert left == ({"PMR2"} if adult_too_young else {"PMR1", "PMR2"})  # no date of birth: never judged
    c.close()


def test_wave_model_options_by_source():
    from bold_prevention.datafirst.waves import WAVE_SOURCES
    from bold_prevention.linkage.wave_link import CHILD_GENERATION_YEARS, wave_model_options

    assert wave_model_options(WAVE_SOURCES["npd"]) == {"surname_changes": True,
                                                       "generation_years": CHILD_GENERATION_YEARS}
    assert wave_model_options(WAVE_SOURCES["hmrc"]) == {"surname_changes": True}
    assert wave_model_options(WAVE_SOURCES["ndtms"]) == {"surname_changes": False}  # initials only


def test_child_party_evidence_raises_links_to_child_parties_and_lowers_the_others():
    from types import SimpleNamespace

    from bold_prevention.linkage.splink_model import Thresholds
    from bold_prevention.linkage.wave_link import MIN_LINKS_FOR_EVIDENCE, weigh_child_party_evidence

    n = MIN_LINKS_FOR_EVIDENCE
    c = _party_world(date(2005, 3, 1), date(2012, 6, 1), "CHLDC")  # P1 is a child party at age 7
    c.execute("delete from spine.person_record where source_table = 'npd_pupil'")
    c.execute("delete from linkage.identity_npd_pupil")
    # n pupils linked at the high band to child parties, n to other persons; two pupils at 0.8 (low band)
    rows, ids, persons = [], [], []
    for k in range(2 * n + 2):
        pid = f"C{k}" if k < n or k == 2 * n else f"Q{k}"
        rows.append((f"PMR{k}", date(2005, 3, 1)))
        if pid.startswith("C"):
            c.execute("insert into extract.family_parties values (?, ?, 'CHLDC')", [f"F{k}", f"K{k}"])
            c.execute("insert into extract.family_cases values (?, date '2012-06-01')", [f"K{k}"])
            c.execute("insert into spine.person_record values (?, 'family', 'family_parties', ?, null, null, "
                      "'medium', ?)", [pid, f"F{k}", f"F{k}"])
        else:
            c.execute("insert into spine.person_record values (?, 'family', 'family_parties', ?, null, null, "
                      "'medium', ?)", [pid, f"A{k}", f"A{k}"])
        ids.append(f"PMR{k}")
        persons.append(pid)
    c.executemany("insert into linkage.identity_npd_pupil values (?, ?)", rows)
    # most spine persons are adults never in a family case as a child
    c.executemany("insert into spine.person_record values (?, 'family', 'family_parties', ?, null, null, 'medium', ?)",
                  [(f"Z{k}", f"Z{k}", f"Z{k}") for k in range(8 * n)])
    scores = [0.999] * (2 * n) + [0.8, 0.8]
    bands = ["high"] * (2 * n) + ["low", "low"]
    res = SimpleNamespace(pairs=pa.table({"person_id": persons, "record_id": ids, "match_score": scores,
                                          "band_joined": bands}), band="medium", linked={})
    ev = weigh_child_party_evidence(c, "npd_pupil", res, Thresholds())
    assert ev["applied"] and ev["factor_child_party"] > 1 > ev["factor_other"]
    got = dict(zip(res.pairs.column("record_id").to_pylist(), res.pairs.column("match_score").to_pylist(),
                   strict=True))
    assert got[f"PMR{2 * n}"] > 0.8 > got[f"PMR{2 * n + 1}"]  # the child party's pupil gains, the other loses
    linked = {r[0] for r in c.execute("select record_id from spine.person_record where source_table = 'npd_pupil'")
              .fetchall()}
    assert f"PMR{2 * n + 1}" not in linked and len(linked) >= 2 * n
    # too few high-band links: nothing is weighed
    few = SimpleNamespace(pairs=res.pairs.slice(2 * n), band="medium", linked={})
    assert weigh_child_party_evidence(c, "npd_pupil", few, Thresholds()) == {
        "applied": False, "high_links": 0, "spine_persons": 10 * n + 3, "child_party_persons": n + 2}
    c.close()
