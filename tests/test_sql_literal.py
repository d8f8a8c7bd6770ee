"""The one value-quoting helper (``warehouse.engine.sql_literal``): any value a caller may splice into SQL reads
back as itself, and a string cannot end the literal early; and the read-only attached warehouse
(``duckdb_connect(..., attach_as=...)``) the web application reads through."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.project import Project
from bold_prevention.warehouse.engine import date_literal, duckdb_connect, sql_literal

CON = duckdb.connect()

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=True, allow_infinity=True), texts,
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**9, max_value=10**9),
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_a_literal_reads_back_as_its_value(v):
    got = CON.execute(f"select {sql_literal(v)}").fetchone()[0]
    if isinstance(v, float) and math.isnan(v):
        assert math.isnan(got)
    elif isinstance(v, Decimal):
        assert Decimal(str(got)) == v
    else:
        assert got == v and type(got) is type(v)


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(min_value=-5, max_value=5))
def test_a_literal_is_one_expression_wherever_it_is_spliced(s, n):
    """A string with quotes cannot close the literal, and a negative number after a minus is not a comment."""
    row = CON.execute(f"select {sql_literal(s)} = ?, 1 -{sql_literal(n)}, 'x'", [s]).fetchone()
    assert row == (True, 1 - n, "x")


def test_a_path_is_quoted_as_a_string_and_a_date_of_a_datetime_as_a_date():
    assert sql_literal(Path("/tmp/o'brien.csv")) == "'/tmp/o''brien.csv'"
    assert date_literal(dt.datetime(2024, 2, 29, 13, 5)) == "DATE '2024-02-29'"


def test_the_attached_warehouse_is_read_only_and_memory_holds_the_callers_tables(tmp_path):
    project = Project.at(tmp_path)
    con = duckdb_connect(project)
    con.execute("create table spine.person as select 1 as person_id")
    con.close()
    ro = duckdb_connect(project, read_only=True, attach_as="wh")
    try:
        assert ro.execute("select person_id from spine.person").fetchall() == [(1,)]
        with pytest.raises(duckdb.Error):
            ro.execute("create table spine.other as select 1")
        ro.execute("create table memory.main.idx as select 2 as k")  # the caller's own scratch space
        assert ro.execute("select k from memory.main.idx").fetchall() == [(2,)]
    finally:
        ro.close()
    with pytest.raises(ValueError):
        duckdb_connect(project, attach_as="wh")


def test_a_missing_or_damaged_warehouse_is_refused_by_name(tmp_path):
    project = Project.at(tmp_path)
    with pytest.raises(InputError, match="no warehouse at"):
        duckdb_connect(project, read_only=True, attach_as="wh")
    project.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    project.warehouse_path.write_bytes(b"not a database" * 100)
    with pytest.raises(InputError, match="cannot be read") as e:
        duckdb_connect(project, read_only=True, attach_as="wh")
    assert "warehouse.duckdb" in e.value.message and e.value.hint
