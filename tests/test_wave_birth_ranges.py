"""Age evidence for spine persons known by name alone: the dates of birth their court roles imply, weighed on every
candidate pair of a wave link, and the spine persons a source's dates of birth can reach."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def _court_world():
    c = duckdb.connect()
    for s in ("spine", "extract"):
        c.execute(f"create schema {s}")
    c.execute("create table spine.person_record (person_id varchar, source_dataset varchar, source_table varchar, "
              "record_id varchar, match_score double, band_joined varchar, band varchar, person_record_id varchar)")
    c.execute("create table extract.family_parties (row_id_hash varchar, case_number_hash varchar, role_model varchar)")
    c.execute("create table extract.family_cases (case_number_hash varchar, receipt_date date)")
    c.execute("create table extract.civil_parties (row_id_hash varchar, case_number_hash varchar, is_company boolean)")
    c.execute("create table extract.civil_cases (case_number_hash varchar, issue_date date)")
    return c


def _party(c, person, table, row, case, when, role=None, company=None):
    c.execute("insert into spine.person_record values (?, ?, ?, ?, null, null, 'medium', ?)",
              [person, table.split("_")[0], table, row, row])
    if table == "family_parties":
        c.execute("insert into extract.family_parties values (?, ?, ?)", [row, case, role])
        c.execute("insert into extract.family_cases values (?, ?)", [case, when])
    else:
        c.execute("insert into extract.civil_parties values (?, ?, ?)", [row, case, company])
        c.execute("insert into extract.civil_cases values (?, ?)", [case, when])


def test_court_roles_imply_a_range_of_dates_of_birth():
    from bold_prevention.linkage.wave_link import ADULT_PARTY_MIN_AGE, implied_birth_ranges

    c = _court_world()
    _party(c, "A", "family_parties", "F1", "K1", date(2010, 6, 1), role="APLZ")  # an applicant in 2010
    _party(c, "B", "family_parties", "F2", "K2", date(2012, 6, 1), role="CHLDC")  # a child in 2012
    _party(c, "B", "family_parties", "F3", "K3", date(2030, 6, 1), role="RSPA")  # and a respondent in 2030
    _party(c, "C", "civil_parties", "V1", "K4", date(2018, 3, 1), company=False)  # a defendant twice
    _party(c, "C", "civil_parties", "V2", "K5", date(2015, 3, 1), company=None)
    _party(c, "D", "civil_parties", "V3", "K6", date(2016, 1, 1), company=True)  # a company: no age
    got = {r["person_id"]: (r["born_after"], r["born_before"]) for r in implied_birth_ranges(c).to_pylist()}
    c.close()
    assert got == {
        "A": (None, date(2010 - ADULT_PARTY_MIN_AGE, 6, 1)),
        "B": (date(2012 - 18, 6, 1), date(2030 - ADULT_PARTY_MIN_AGE, 6, 1)),
        "C": (None, date(2015 - ADULT_PARTY_MIN_AGE, 3, 1)),  # the earliest adult case bounds it
    }


def test_no_court_tables_no_ranges():
    from bold_prevention.linkage.wave_link import implied_birth_ranges

    c = duckdb.connect()
    c.execute("create schema spine")
    assert implied_birth_ranges(c).num_rows == 0
    c.close()


def _evidence_world(*, p: float, record_dob: date, n_high: int, weigh: bool = True):
    """Source records R0.. with known dates of birth; spine persons: H0.. (a date of birth and an adult role, each
    matched at the high band by its record), N (no date of birth, an adult party in 2010: born before 1994-06-01),
    K (a date of birth in 1960, no role), Y (a young child, born 2020). The pair (X, N) is scored ``p``; so is
    (X, K)."""
    from bold_prevention.linkage.wave import birth_range_evidence

    s = duckdb.connect()
    recs = [(f"R{k}", date(1960 + k % 30, 1 + k % 12, 1)) for k in range(n_high)]
    recs += [("X", record_dob)] + [(f"Z{k}", date(1950 + k, 5, 5)) for k in range(60)]
    s.register("records", pa.table({"record_id": [r[0] for r in recs], "date_of_birth": [r[1] for r in recs]}))
    spine = [(f"H{k}", d) for k, (_r, d) in enumerate(recs[:n_high])] + [("N", None), ("K", date(1960, 1, 1)),
                                                                         ("Y", date(2020, 1, 1))]
    s.register("spine", pa.table({"person_id": [x[0] for x in spine],
                                  "date_of_birth": pa.array([x[1] for x in spine], pa.date32())}))
    ranges = [(f"H{k}", date(2015, 1, 1)) for k in range(n_high)] + [("N", date(1994, 6, 1))]
    s.register("ranges", pa.table({"person_id": [x[0] for x in ranges],
                                   "born_after": pa.array([None] * len(ranges), pa.date32()),
                                   "born_before": pa.array([x[1] for x in ranges], pa.date32())}))
    pairs = [(f"R{k}", f"H{k}", 0.999) for k in range(n_high)] + [("X", "N", p), ("X", "K", p)]
    s.register("pairs", pa.table({"record_id": [x[0] for x in pairs], "person_id": [x[1] for x in pairs],
                                  "p": [x[2] for x in pairs]}))
    sql, info = birth_range_evidence(s, "select * from pairs", records="records", spine="spine", ranges="ranges",
                                     high=0.99, weigh=weigh)
    out = {(r, q): v for r, q, v in s.execute(sql).fetchall()}
    s.close()
    return out, info


def _odds(x):
    return x / (1 - x)


@settings(max_examples=20, deadline=None)
@given(p=st.floats(0.05, 0.95), days=st.integers(-40 * 365, 20 * 365))
def test_a_name_only_persons_pairs_are_weighed_by_their_age_category(p, days):
    from bold_prevention.linkage.wave import MIN_PAIRS_FOR_RANGE_EVIDENCE

    record_dob = date(1994, 6, 1) + timedelta(days=days)
    out, info = _evidence_world(p=p, record_dob=record_dob, n_high=MIN_PAIRS_FOR_RANGE_EVIDENCE)
    f = info["factors"]
    assert info["applied"] and f["misfit"] < 1
    ratio = _odds(out[("X", "N")]) / _odds(p)
    if record_dob > date(1994, 6, 1):  # under 16 at the 2010 case: cannot have been a party
        assert ratio == pytest.approx(f["misfit"], abs=6e-4)
    else:  # a fit: weighed by its age bin's factor
        assert any(ratio == pytest.approx(v, abs=6e-4) for k, v in f.items() if k != "misfit")
    assert out[("X", "K")] == pytest.approx(p)  # a person with a date of birth: the model already compared it
    assert all(out[(f"R{k}", f"H{k}")] == pytest.approx(0.999) for k in range(MIN_PAIRS_FOR_RANGE_EVIDENCE))


def test_a_fit_at_the_ages_true_matches_have_gains():
    from bold_prevention.linkage.wave import MIN_PAIRS_FOR_RANGE_EVIDENCE

    # the high-band matches were 52-71 at their case (born 1960-1979, an adult bound of 2015: most 55 or over);
    # X, born 1950, was 60 at N's 2010 case: the bin where most true matches lie and few random records do
    out, info = _evidence_world(p=0.5, record_dob=date(1950, 1, 1), n_high=MIN_PAIRS_FOR_RANGE_EVIDENCE)
    assert out[("X", "N")] > 0.5
    assert info["factors"]["a0"] < 1  # no true match was 16-24 at their case: a fit there is weak evidence
    assert info["factors"]["fit"] <= 1  # no child-bound range on either side: no evidence, never a large factor


def test_too_few_high_band_pairs_weigh_nothing_but_still_count_the_plausible_persons():
    from bold_prevention.linkage.wave import MIN_PAIRS_FOR_RANGE_EVIDENCE

    out, info = _evidence_world(p=0.7, record_dob=date(2005, 1, 1), n_high=MIN_PAIRS_FOR_RANGE_EVIDENCE - 1)
    assert not info["applied"] and out[("X", "N")] == pytest.approx(0.7)
    # Y, born 2020, is younger than every source record: the source (born 1950-2005) cannot hold it
    assert info["spine_persons"] == MIN_PAIRS_FOR_RANGE_EVIDENCE - 1 + 3
    assert info["plausible_persons"] == info["spine_persons"] - 1
    out, info = _evidence_world(p=0.7, record_dob=date(2005, 1, 1), n_high=MIN_PAIRS_FOR_RANGE_EVIDENCE,
                                weigh=False)
    assert not info["applied"] and out[("X", "N")] == pytest.approx(0.7)


def test_pupils_are_weighed_by_the_adult_bound_only():
    # a pupil's child-party roles are weighed after the model (weigh_child_party_evidence), not twice
    from bold_prevention.linkage.wave_link import _birth_ranges_for

    c = _court_world()
    _party(c, "B", "family_parties", "F2", "K2", date(2012, 6, 1), role="CHLDC")
    _party(c, "B", "family_parties", "F3", "K3", date(2030, 6, 1), role="RSPA")
    pupils = _birth_ranges_for(c, "npd_pupil").to_pylist()
    adults = _birth_ranges_for(c, "hmrc_individuals").to_pylist()
    c.close()
    assert pupils == [{"person_id": "B", "born_after": None, "born_before": date(2014, 6, 1)}]
    assert adults == [{"person_id": "B", "born_after": date(1994, 6, 1), "born_before": date(2014, 6, 1)}]
