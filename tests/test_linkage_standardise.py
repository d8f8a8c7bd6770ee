"""Identifier standardisation: names, dates of birth, postcodes and sex codes, in bulk (SQL) and one at a time."""

from __future__ import annotations

import csv
from datetime import date
from importlib import resources

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.linkage.standardise import (
    StandardiseOptions,
    canonical_forename,
    clean_surname,
    issue_summary,
    nickname_rows,
    normalise_postcode,
    normalise_sex,
    parse_date_of_birth,
    postcode_parts,
    split_forenames,
    standardise,
    standardise_arrow,
    swapped_date,
)

REF = date(2024, 6, 30)
COLS = {"forename": "fn", "middle_names": "mn", "surname": "sn", "date_of_birth": "dob", "sex": "sx",
        "postcode": "pc"}


def _std(rows: list[dict], **opts) -> list[dict]:
    t = pa.Table.from_pylist(rows)
    out = standardise_arrow(t, id_column="id", columns={k: v for k, v in COLS.items() if v in t.column_names},
                            options=StandardiseOptions(reference_date=REF, **opts))
    return out.to_pylist()


def test_names_titles_punctuation_hyphens_and_multiple_forenames():
    rows = _std([
        {"id": 1, "fn": "Mr. Bill  Henry", "mn": None, "sn": "O'Brien", "dob": None, "sx": "1", "pc": None},
        {"id": 2, "fn": "Zoë", "mn": "Ann-Marie", "sn": "Smith-Jones Jnr", "dob": None, "sx": "F", "pc": None},
        {"id": 3, "fn": "DR", "mn": None, "sn": "Lord", "dob": None, "sx": None, "pc": None},
        {"id": 4, "fn": "  ", "mn": None, "sn": "mc donald", "dob": None, "sx": None, "pc": None},
    ])
    a, b, c, d = rows
    assert (a["forename"], a["middle_names"], a["forename_canonical"]) == ("BILL", "HENRY", "WILLIAM")
    assert a["surname"] == "OBRIEN" and a["surname_phonetic"]
    assert (b["forename"], b["middle_names"], b["middle_first"]) == ("ZOE", "ANN MARIE", "ANN")
    assert (b["surname"], b["surname_nospace"], b["surname_first"], b["surname_last"]) == (
        "SMITH JONES", "SMITHJONES", "SMITH", "JONES")
    # a title alone is kept (it is the only name given); "Lord" as a surname is a surname
    assert c["forename"] == "DR" and c["surname"] == "LORD"
    assert d["forename"] is None and d["surname_nospace"] == "MCDONALD"


def test_nicknames_map_to_canonical_forenames_using_sex_when_ambiguous():
    rows = _std([
        {"id": i, "fn": fn, "sn": "X", "sx": sx}
        for i, (fn, sx) in enumerate([("Bill", "M"), ("Sam", "M"), ("Sam", "F"), ("Sam", None), ("Kate", None),
                                      ("Gaz", "M"), ("Zebedee", "M")])
    ])
    got = [r["forename_canonical"] for r in rows]
    assert got == ["WILLIAM", "SAMUEL", "SAMANTHA", "SAM", "CATHERINE", "GARETH", "ZEBEDEE"]
    assert canonical_forename("PEGGY", "F") == "MARGARET"


def test_shipped_nickname_list_is_well_formed_and_large():
    text = resources.files("bold_prevention.linkage").joinpath("data/nicknames.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) >= 300
    keys = [(r["nickname"], r["sex"]) for r in rows]
    assert len(keys) == len(set(keys)), "one canonical form per (nickname, sex)"
    assert all(r["nickname"].isalpha() and r["nickname"].isupper() and r["canonical"].isupper() for r in rows)
    assert all(r["sex"] in ("M", "F", "") for r in rows)
    # chains are resolved: no canonical name is itself a nickname for the same sex
    resolved = {(n, s): c for n, c, s in nickname_rows()}
    for (_n, s), c in resolved.items():
        assert resolved.get((c, s)) in (None, c)


def test_dates_of_birth_formats_impossible_dates_reasons_and_transposition():
    values = ["1990-02-03", "03/02/1990", "3.2.1990", "19900203", "3 Feb 1990", "31/02/1990", "1990-13-01",
              "hello", "01/01/1900", "2099-01-01", "", "1850-05-05", "13/02/1990"]
    rows = _std([{"id": i, "dob": v, "sn": "X"} for i, v in enumerate(values)])
    got = [(r["dob_iso"], r["dob_issue"]) for r in rows]
    assert got[:5] == [("1990-02-03", None)] * 5
    assert [g[1] for g in got[5:12]] == ["impossible_date", "impossible_date", "unrecognised_format", "placeholder",
                                         "in_future", "missing", "before_1900"]
    assert all(g[0] is None for g in got[5:12])
    assert rows[0]["dob_swapped"] == "1990-03-02"  # 3 Feb could be 2 March typed the other way round
    assert rows[12]["dob_swapped"] is None  # day 13 cannot be a month
    assert (rows[0]["dob_year"], rows[0]["dob_month"], rows[0]["dob_day"], rows[0]["dob_ym"]) == (1990, 2, 3,
                                                                                                   "1990-02")


def test_configured_date_format_and_typed_dates():
    rows = _std([{"id": 1, "dob": "02/03/1990"}, {"id": 2, "dob": "1990-03-02"}], date_format="%m/%d/%Y")
    assert rows[0]["dob_iso"] == "1990-02-03" and rows[1]["dob_issue"] == "impossible_date"
    t = pa.table({"id": [1, 2], "dob": pa.array([date(1980, 5, 6), None], pa.date32())})
    out = standardise_arrow(t, id_column="id", columns={"date_of_birth": "dob"},
                            options=StandardiseOptions(reference_date=REF)).to_pylist()
    assert out[0]["dob_iso"] == "1980-05-06" and out[1]["dob_issue"] == "missing"


def test_postcodes_sex_codes_and_issue_summary():
    rows = _std([{"id": i, "pc": pc, "sx": sx} for i, (pc, sx) in enumerate(
        [("sw1a1aa", "male"), ("SW1A 1AA ", "2"), ("ec1a-1bb", "Woman"), ("XX1", "U"), ("", "9"), (None, "1.0")])])
    assert [r["postcode"] for r in rows] == ["SW1A 1AA", "SW1A 1AA", "EC1A 1BB", None, None, None]
    assert (rows[0]["postcode_outward"], rows[0]["postcode_sector"], rows[0]["postcode_area"]) == (
        "SW1A", "SW1A 1", "SW")
    assert [r["postcode_issue"] for r in rows[3:]] == ["invalid", "missing", "missing"]
    assert [r["sex"] for r in rows] == ["M", "F", "F", None, None, "M"]
    import duckdb

    con = duckdb.connect()
    con.register("t", pa.Table.from_pylist([{"id": 1, "pc": "nonsense", "dob": "31/02/2000"},
                                            {"id": 2, "pc": None, "dob": None}]))
    standardise(con, "t", id_column="id", columns={"postcode": "pc", "date_of_birth": "dob"}, out="s")
    assert issue_summary(con, "s") == {"dob_issue": {"impossible_date": 1, "missing": 1},
                                       "postcode_issue": {"invalid": 1, "missing": 1}}


def test_any_postcode_format_keeps_foreign_codes():
    rows = _std([{"id": 1, "pc": "4223"}, {"id": 2, "pc": " 2000-a "}], postcode_format="any")
    assert [r["postcode"] for r in rows] == ["4223", "2000A"]
    assert rows[0]["postcode_sector"] is None


def test_missing_or_unknown_columns_are_clear_errors():
    t = pa.table({"id": [1], "first": ["A"]})
    with pytest.raises(InputError, match="'surname_col' not found"):
        standardise_arrow(t, id_column="id", columns={"forename": "first", "surname": "surname_col"})
    with pytest.raises(InputError, match="unknown identifier role"):
        standardise_arrow(t, id_column="id", columns={"nickname": "first"})


def test_output_keeps_input_order_and_one_row_per_record():
    rows = [{"id": f"r{i:04d}", "fn": ["Ann", "Bob", "Cy"][i % 3], "sn": "Z"} for i in range(500)]
    out = _std(rows)
    assert [r["unique_id"] for r in out] == [r["id"] for r in rows]


# ------------------------------------------------------------------------------------------------ properties
postcode_like = st.from_regex(r"\A[A-Za-z]{1,2}[0-9][A-Za-z0-9]?[ -]?[0-9][A-Za-z]{2}\Z")


@settings(max_examples=200, deadline=None)
@given(st.one_of(postcode_like, st.text(max_size=12)))
def test_postcode_normalisation_is_idempotent_and_well_formed(raw):
    once = normalise_postcode(raw)
    assert normalise_postcode(once) == once
    if once is not None:
        outward, inward = once.split(" ")
        assert 2 <= len(outward) <= 4 and len(inward) == 3 and once == once.upper()
        assert postcode_parts(once)[1] == f"{outward} {inward[0]}"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(postcode_like, st.text(max_size=10)), min_size=1, max_size=30))
def test_bulk_postcode_rule_agrees_with_scalar_rule(values):
    rows = _std([{"id": i, "pc": v} for i, v in enumerate(values)])
    assert [r["postcode"] for r in rows] == [normalise_postcode(v) for v in values]


name_text = st.text(alphabet=st.sampled_from(list("abcdeéöXYZ -'.")), max_size=20)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(name_text, name_text, name_text), min_size=1, max_size=20))
def test_bulk_name_rules_agree_with_scalar_rules(names):
    rows = _std([{"id": i, "fn": f, "mn": m, "sn": s} for i, (f, m, s) in enumerate(names)])
    for r, (f, m, s) in zip(rows, names, strict=True):
        assert (r["forename"], r["middle_names"]) == split_forenames(f, m)
        assert r["surname"] == clean_surname(s)
        if r["forename"]:
            assert r["forename"].isalpha() and r["forename"].isupper()


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1900, 1, 2), max_value=REF))
def test_date_round_trip_and_transposition_is_an_involution(d):
    for text in (d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d")):
        assert parse_date_of_birth(text, reference_date=REF) == (d, None) or d.isoformat() in ("1901-01-01",)
    sw = swapped_date(d)
    if sw is not None:
        assert swapped_date(sw) == d and sw != d


@given(st.sampled_from(["1", "M", "m", "Male", "MAN", "boy", "2", "F", "female", "Woman", "girl", "U", "0", "9", "",
                        "X", "unknown"]))
def test_sex_codes(raw):
    got = normalise_sex(raw)
    assert got in ("M", "F", None)
    assert (got == "M") == (raw.upper() in ("1", "M", "MALE", "MAN", "BOY"))
