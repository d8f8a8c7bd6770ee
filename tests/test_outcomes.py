"""The six outcomes per person (spine.person_outcome): the proven reoffending definition on hand-built timelines,
NULL where a window is incomplete or a source is not loaded, and the outcomes of a linked synthetic world."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.spine.outcomes import MEASURES, OUTCOMES, build_outcomes, months_after, parse_window
from helpers_waves import AS_AT, copy_warehouse, wave_world

INDEX = date(2020, 1, 1)


def _court_warehouse(offences):
    """A warehouse holding only court records: ``offences`` are (person, offence date, outcome, result date,
    court) tuples."""
    con = duckdb.connect()
    for s in ("spine", "extract"):
        con.execute(f"create schema {s}")
    con.execute("create table extract.mags_defendant_case (row_id_hash varchar, main_offence_date date, "
                "first_hearing_date date, final_result_date date, outcome varchar)")
    con.execute("create table extract.mags_defendant_offence (offence_id_hash varchar, row_id_hash varchar, "
                "offence_date date, outcome varchar)")
    con.execute("create table extract.crown_defendant_case (row_id_hash varchar, receipt_date date, "
                "main_offence_date date, sentence_date date, outcome varchar)")
    con.execute("create table spine.person_record (person_id varchar, source_dataset varchar, source_table varchar,"
                " record_id varchar, match_score double, band_joined varchar, band varchar, person_record_id varchar)")
    people = sorted({o[0] for o in offences} | {"nobody"})
    con.execute("create table spine.person as select unnest(?) as person_id", [people])
    for i, (p, off, outcome, result, court) in enumerate(offences):
        rid = f"R{i}"
        if court == "mags":
            con.execute("insert into extract.mags_defendant_case values (?, ?, ?, ?, ?)",
                        [rid, off, off + timedelta(days=20), result, outcome])
            con.execute("insert into extract.mags_defendant_offence values (?, ?, ?, ?)", [f"O{i}", rid, off, outcome])
            rows = [("mags", "mags_defendant_case", rid), ("mags", "mags_defendant_offence", f"O{i}")]
        else:
            con.execute("insert into extract.crown_defendant_case values (?, ?, ?, ?, ?)",
                        [rid, off + timedelta(days=30), off, result, outcome])
            rows = [("crown", "crown_defendant_case", rid)]
        for ds, table, rec in rows:
            con.execute("insert into spine.person_record values (?, ?, ?, ?, 1.0, 'high', 'medium', ?)",
                        [p, ds, table, rec, rid])
    return con


def _values(con, measure="proven_reoffending"):
    return dict(con.execute("select person_id, value from spine.person_outcome where measure = ?",
                            [measure]).fetchall())


def test_proven_reoffending_on_a_hand_built_timeline():
    end = months_after(INDEX, 12)  # window 2020-01-02 .. 2021-01-01; proven by 2021-07-01
    con = _court_warehouse([
        ("a", date(2020, 6, 1), "CONV", date(2021, 3, 1), "mags"),      # in window, proven in time
        ("b", date(2020, 6, 1), "CONV", date(2021, 9, 1), "mags"),      # proven after the waiting period
        ("c", end + timedelta(days=1), "CONV", date(2021, 2, 1), "mags"),  # offence after the window
        ("d", date(2020, 6, 1), "ACQ", date(2020, 9, 1), "mags"),       # not proven
        ("e", date(2019, 12, 1), "CONV", date(2020, 3, 1), "mags"),     # before the index date
        ("f", date(2020, 11, 1), "CONV", date(2021, 5, 1), "crown"),    # Crown Court, proven in time
        ("g", INDEX, "CONV", date(2020, 2, 1), "mags"),                 # on the index date: not after it
    ])
    res = build_outcomes(con, as_at=INDEX, window_months=12, data_end=date(2021, 12, 31))
    v = _values(con)
    assert v == {"a": True, "b": False, "c": False, "d": False, "e": False, "f": True, "g": False, "nobody": False}
    assert res.headline["offending"] == {"kind": "proxy", "positive": 2, "measured": 8}
    head = dict(con.execute("select person_id, value from spine.person_outcome where outcome = 'offending' "
                            "and measure = 'outcome'").fetchall())
    assert head == v
    ev = con.execute("select evidence_date, window_start, window_end from spine.person_outcome "
                     "where person_id = 'a' and measure = 'proven_reoffending'").fetchall()[0]
    assert ev == (date(2020, 6, 1), INDEX + timedelta(days=1), end)


def test_incomplete_windows_are_null_not_zero():
    con = _court_warehouse([("a", date(2020, 6, 1), "CONV", date(2021, 3, 1), "mags")])
    # the waiting period ends on 2021-07-01: a data end a day earlier leaves everyone unmeasured
    build_outcomes(con, as_at=INDEX, window_months=12, data_end=date(2021, 6, 30))
    rows = con.execute("select value, reason from spine.person_outcome where measure = 'proven_reoffending'"
                       ).fetchall()
    assert rows and all(v is None for v, _ in rows)
    assert all("window incomplete" in r for _, r in rows)
    build_outcomes(con, as_at=INDEX, window_months=12, data_end=date(2021, 7, 1))
    assert _values(con) == {"a": True, "nobody": False}


def test_sources_not_loaded_give_null_with_the_reason():
    con = _court_warehouse([("a", date(2020, 6, 1), "CONV", date(2021, 3, 1), "mags")])
    res = build_outcomes(con, as_at=INDEX, window_months=12, data_end=date(2022, 12, 31))
    assert {m.measure for m in MEASURES} == set(res.measures)
    for outcome in OUTCOMES:
        if outcome == "offending":
            continue
        rows = con.execute("select value, reason from spine.person_outcome where outcome = ? and measure = "
                           "'outcome'", [outcome]).fetchall()
        assert rows and all(v is None and r for v, r in rows), outcome
    why = res.measures["emergency_admission"]
    assert "hes is not loaded" in why


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(-200, 700), st.sampled_from(["CONV", "ACQ", "WD"]), st.integers(0, 400),
                          st.sampled_from(["mags", "crown"])), min_size=1, max_size=6))
def test_reoffending_follows_the_definition(events):
    end, proven = months_after(INDEX, 12), months_after(months_after(INDEX, 12), 6)
    offences = []
    expected = {"p0": False, "p1": False, "nobody": False}
    for i, (off, outcome, lag, court) in enumerate(events):
        p = f"p{i % 2}"
        od = INDEX + timedelta(days=off)
        rd = od + timedelta(days=lag)
        offences.append((p, od, outcome, rd, court))
        if INDEX < od <= end and outcome == "CONV" and rd <= proven:
            expected[p] = True
    con = _court_warehouse(offences)
    build_outcomes(con, as_at=INDEX, window_months=12, data_end=date(2030, 1, 1))
    got = _values(con)
    assert got == {k: v for k, v in expected.items() if k in got}


def test_window_parsing():
    assert parse_window("12m") == 12 and parse_window("2y") == 24 and parse_window(6) == 6
    for bad in ("0m", "twelve", "200m"):
        with pytest.raises(InputError):
            parse_window(bad)


def test_outcomes_of_a_linked_world(tmp_path_factory, tmp_path):
    pop, wh = wave_world(tmp_path_factory)
    con = duckdb.connect(str(copy_warehouse(wh, tmp_path)))
    try:
        res = build_outcomes(con, as_at=AS_AT, window_months=12)
        assert res.data_end >= months_after(res.window_end, 6)
        kinds = {o: h["kind"] for o, h in res.headline.items()}
        assert kinds["in_work_poverty"] == kinds["inactivity_unemployment"] == "gold"
        assert kinds["offending"] == "proxy"
        # deaths are not linked: the death measure is NULL for everyone, with the reason
        rows = con.execute("select count(*), count(value), any_value(reason) from spine.person_outcome "
                           "where measure = 'death'").fetchall()[0]
        assert rows[0] == res.persons and rows[1] == 0 and "deaths is not loaded" in rows[2]
        # one of its gold measures is missing, so the outcome falls back to its proxy and says why
        assert kinds["ill_health_mortality"] == "proxy"
        note = con.execute("select any_value(reason) from spine.person_outcome where outcome = "
                           "'ill_health_mortality' and measure = 'outcome' and value is not null").fetchall()[0][0]
        assert note.startswith("proxy:") and "deaths" in note
        # the headline is true exactly when a chosen measure is true
        bad = con.execute("""
            select count(*) from spine.person_outcome h join (
                select person_id, bool_or(value) as anyv from spine.person_outcome
                where outcome = 'inactivity_unemployment' and proxy_or_gold = 'gold' and measure <> 'outcome'
                group by 1) m using (person_id)
            where h.outcome = 'inactivity_unemployment' and h.measure = 'outcome'
              and coalesce(h.value, false) <> coalesce(m.anyv, false)""").fetchall()[0][0]
        assert bad == 0
        assert res.headline["inactivity_unemployment"]["positive"] > 0
        # a window ending after the data end: every measure NULL
        late = build_outcomes(con, as_at=res.data_end, window_months=12)
        assert all(h["measured"] == 0 for h in late.headline.values())
    finally:
        con.close()


def test_cohort_spec_with_a_condition_on_an_outcome(tmp_path_factory, tmp_path):
    from bold_prevention.cohorts.build import build_cohort
    from bold_prevention.cohorts.spec import parse_spec

    _pop, wh = wave_world(tmp_path_factory)
    con = duckdb.connect(str(copy_warehouse(wh, tmp_path)))
    try:
        build_outcomes(con, as_at=AS_AT, window_months=12)
        spec = {"name": "workless_after", "title": "Long-term workless in the year after",
                "entry": {"population": "spine"},
                "inclusion": [{"name": "Long-term workless", "outcome": {"name": "inactivity_unemployment"}}]}
        build_cohort(con, spec)
        want = con.execute("select count(*) from spine.person_outcome where outcome = 'inactivity_unemployment' "
                           "and measure = 'outcome' and value").fetchall()[0][0]
        got = con.execute("select count(*) from results.cohort_workless_after"
                          ).fetchall()[0][0]
        assert got == want > 0
    finally:
        con.close()
    with pytest.raises(InputError, match="not known"):
        parse_spec({"name": "x", "title": "x", "inclusion": [{"name": "a", "outcome": {"name": "wealth"}}]})
    with pytest.raises(InputError, match="no measure"):
        parse_spec({"name": "x", "title": "x", "inclusion": [{"name": "a", "outcome": {"name": "offending",
                                                                                       "measure": "death"}}]})


def test_profiles_by_outcome_are_disclosure_checked(tmp_path_factory, tmp_path):
    from bold_prevention.cohorts.build import build_cohort
    from bold_prevention.cohorts.profile import OUTCOME_CATEGORIES, profile
    from bold_prevention.cohorts.release import cohort_outputs, write_checked_release

    _pop, wh = wave_world(tmp_path_factory)
    con = duckdb.connect(str(copy_warehouse(wh, tmp_path)))
    try:
        build_outcomes(con, as_at=AS_AT, window_months=12)
        spec = {"name": "women", "title": "Women", "entry": {"population": "spine"},
                "inclusion": [{"name": "Women", "where": "sex = 'F'"}]}
        build_cohort(con, spec)
        rows = profile(con, "women").to_pylist()
        total = rows[0]["cohort_n"]
        for o in OUTCOMES:
            cats = {r["category"]: r for r in rows if r["dimension"] == f"outcome_{o}"}
            assert set(cats) <= set(OUTCOME_CATEGORIES) and cats, o
            # the categories partition the cohort and the spine; unmeasured is never counted as "No"
            assert sum(r["cohort_n"] for r in cats.values()) == total
            want = dict(con.execute("""
                select case when o.value then 'Yes' when not o.value then 'No' else 'Not measured' end, count(*)
                from spine.person_outcome o join results.cohort_women c using (person_id)
                where o.outcome = ? and o.measure = 'outcome' group by 1""", [o]).fetchall())
            assert {k: r["cohort_n"] for k, r in cats.items() if r["cohort_n"]} == want
        assert any(r["category"] == "Yes" and r["cohort_n"] > 0 for r in rows
                   if r["dimension"] == "outcome_inactivity_unemployment")
        outs, _ = cohort_outputs(con, "women")
        names = {o.name for o in outs}
        assert {f"women_outcome_{o}" for o in OUTCOMES} <= names
        assert {f"women_outcome_{o}_rate" for o in OUTCOMES} <= names
        folder = write_checked_release(outs, tmp_path / "rel", title="Women by outcome")
        assert (folder / "output-checking" / "results.json").exists()
    finally:
        con.close()
