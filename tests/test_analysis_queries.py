"""The analysis queries the web pages show, as library functions (linkage rates, load quality, cohort list)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from bold_prevention.cohorts.build import list_cohorts
from bold_prevention.errors import InputError
from bold_prevention.linkage.qa import (
    PERSON_GROUPS,
    RECORD_GROUPS,
    persons_by_weakest_band,
    records_by_band,
    spine_band,
)
from bold_prevention.warehouse.load import load_checks, load_decisions


@pytest.fixture()
def con():
    c = duckdb.connect()
    c.execute("create schema spine; create schema results; create schema meta")
    c.execute("""create table idx as select * from (values
        ('prison_people', 'M', date '1990-06-01', 'high', true),
        ('prison_people', 'F', date '2005-01-01', null, true),
        ('prison_people', 'F', date '2005-01-01', 'low', false)) t(source_table, sex_std, dob, band_joined,
        primary_variant)""")
    c.execute("""create table spine.person as select * from (values ('M', '25-34', 'White', 'London', 'high'),
        (null, '25-34', 'White', 'London', 'low')) t(sex, age_band, ethnic_group, region, weakest_band_joined)""")
    c.execute("create table spine.person_record as select 'medium' as band")
    c.execute("""create table results.cohorts as select 'b' cohort, 'B' title, '' description,
        date '2024-01-01' as_at_date, 'high' band union all select 'a', 'A', '', date '2024-01-01', 'low'""")
    c.execute("""create table meta.load_decisions as select 'l1' load_id, 't' table_name, 'd' dataset,
        'load' decision, '' reason""")
    c.execute("""create table meta.quality_results as select * from (values
        ('l1', 't', 'pass_check', null, 'pass', 0, 10, null), ('l1', 't', 'fail_check', 'c', 'fail', 3, 10, '0'))
        v(load_id, table_name, check_name, column_name, status, failing, total, threshold)""")
    return c


def test_records_by_band_counts_primary_variants_only(con):
    by_sex = records_by_band(con, "idx", "sex").sort_values("grp")
    assert list(zip(by_sex.grp, by_sex.band, by_sex.n, strict=True)) == [("F", "not linked", 1), ("M", "high", 1)]
    ages = records_by_band(con, "idx", "age_band", today=date(2025, 1, 1))
    assert int(ages.n.sum()) == 2 and "Unknown" not in set(ages.grp)
    assert {g for g, _ in RECORD_GROUPS} == {"dataset", "sex", "age_band"}


def test_groups_outside_the_list_are_refused(con):
    with pytest.raises(InputError):
        records_by_band(con, "idx", "sex_std; drop table idx")
    with pytest.raises(InputError):
        persons_by_weakest_band(con, "weakest_band_joined) from spine.person; --")


def test_persons_band_cohorts_and_load_quality(con):
    g = persons_by_weakest_band(con, "sex")
    assert dict(zip(g.grp, g.weakest, strict=True)) == {"M": "high", "Unknown": "low"}
    assert all(int(persons_by_weakest_band(con, d).n.sum()) == 2 for d, _ in PERSON_GROUPS)
    assert spine_band(con) == "medium"
    assert [c["name"] for c in list_cohorts(con)] == ["a", "b"]
    assert load_decisions(con, "l1") == [("t", "d", "load", "")]
    assert list(load_checks(con, "l1").check_name) == ["fail_check", "pass_check"]
