"""Each kind of bad input gets its own clear message, and nothing is half-loaded."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bold_prevention.errors import InputError, LoadBlocked
from bold_prevention.warehouse.load import load_extracts
from helpers_load import build_tables, replace_column, warehouse_fingerprint, write_tables

SNAP = "2025-01-31"


@pytest.fixture(scope="module")
def tables():
    return build_tables(20)


@pytest.fixture
def src(tmp_path, tables):
    return write_tables(tables, tmp_path / "src")


@pytest.fixture
def csv_src(tmp_path, tables):
    return write_tables(tables, tmp_path / "csv", fmt="csv")


def _blocked(tmp_path, source, **kw) -> LoadBlocked:
    with pytest.raises(LoadBlocked) as ei:
        load_extracts(tmp_path / "proj", source, snapshot_date=SNAP, **kw)
    assert "nothing was committed" in ei.value.message
    assert ei.value.result.status == "blocked"
    # a blocked first load leaves no warehouse behind, and its report says why
    assert not (tmp_path / "proj" / "warehouse.duckdb").exists()
    report = json.loads(ei.value.result.report_json.read_text())
    assert report["status"] == "blocked"
    return ei.value


def test_corrupted_parquet(tmp_path, src):
    p = src / "prison_custodial_journey.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    e = _blocked(tmp_path, src)
    assert "prison_custodial_journey.parquet is not a readable Parquet file (corrupted or truncated)" in e.message


def test_parquet_damaged_inside_is_reported_with_its_file(tmp_path, src, tables):
    p = src / "moj_probation_flatfile.parquet"
    pq.write_table(tables["moj_probation_flatfile"], p, compression="none")
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 400] = b"\xff" * 400  # footer intact, pages garbage
    p.write_bytes(bytes(data))
    e = _blocked(tmp_path, src)
    assert "moj_probation_flatfile" in e.message
    assert "Parquet" in e.message


def test_csv_with_an_unknown_delimiter(tmp_path, csv_src):
    p = csv_src / "moj_probation_flatfile.csv"
    p.write_text(p.read_text().replace(",", ":"))
    e = _blocked(tmp_path, csv_src)
    assert "moj_probation_flatfile.csv: cannot find the delimiter" in e.message
    assert "comma, tab, semicolon or pipe" in e.message


def test_csv_with_a_delimiter_other_than_the_one_given(tmp_path, csv_src):
    p = csv_src / "mags_defendant_case.csv"
    p.write_text(p.read_text().replace(",", ";"))
    e = _blocked(tmp_path, csv_src, delimiter=",")
    assert "mags_defendant_case.csv is not comma-delimited" in e.message
    assert "looks semicolon-delimited" in e.message


def test_semicolon_csv_is_sniffed_and_loaded(tmp_path, csv_src):
    p = csv_src / "mags_defendant_case.csv"
    p.write_text(p.read_text().replace(",", ";"))
    res = load_extracts(tmp_path / "proj", csv_src, snapshot_date=SNAP)
    assert res.status == "complete"
    assert res.tables["mags_defendant_case"].rows == 20
    assert any("semicolon-delimited" in n for n in res.notes)


def test_csv_with_ragged_rows(tmp_path, csv_src):
    p = csv_src / "crown_defendant_case.csv"
    lines = p.read_text().splitlines()
    lines[3] = lines[3] + ',"extra","fields"'
    p.write_text("\n".join(lines) + "\n")
    e = _blocked(tmp_path, csv_src)
    assert "file crown_defendant_case.csv: line 4 has 24 fields but the header has 22" in e.message


def test_non_utf8_csv(tmp_path, csv_src):
    p = csv_src / "mags_defendant_case.csv"
    p.write_bytes(p.read_text().replace("Smith", "Sm\u00efth").encode("latin-1"))
    e = _blocked(tmp_path, csv_src)
    assert "mags_defendant_case.csv is not UTF-8" in e.message
    assert "Latin-1" in e.message
    assert "Sm" not in e.message  # the offending text (a name) is not repeated


def test_utf16_csv(tmp_path, csv_src):
    p = csv_src / "crown_defendant_case.csv"
    p.write_bytes(p.read_text().encode("utf-16"))
    e = _blocked(tmp_path, csv_src)
    assert "crown_defendant_case.csv is UTF-16 text; CSV extracts must be UTF-8" in e.message


def test_renamed_column(tmp_path, src, tables):
    t = tables["mags_defendant_case"]
    t = t.rename_columns(["gendr" if c == "gender" else c for c in t.column_names])
    pq.write_table(t, src / "mags_defendant_case.parquet")
    e = _blocked(tmp_path, src)
    assert "mags_defendant_case: required column gender is missing; the file has 'gendr' instead" in e.message


def test_missing_column(tmp_path, src, tables):
    t = tables["moj_probation_flatfile"].drop_columns(["disposal_date"])  # a confirmed Data First name
    pq.write_table(t, src / "moj_probation_flatfile.parquet")
    e = _blocked(tmp_path, src)
    assert "moj_probation_flatfile: required column disposal_date is missing" in e.message


def test_missing_optional_column_is_loaded_empty_with_a_warning(tmp_path, src, tables):
    t = tables["mags_defendant_case"].drop_columns(["estimated_defendant_id"])  # an inferred name
    pq.write_table(t, src / "mags_defendant_case.parquet")
    res = load_extracts(tmp_path / "proj", src, snapshot_date=SNAP)
    warn = [c for c in res.checks if c.check == "columns" and c.column == "estimated_defendant_id"]
    assert warn and warn[0].status == "warn" and "loaded as empty" in warn[0].message


def test_wrong_type(tmp_path, src, tables):
    t = tables["prison_custodial_journey"]
    i = t.schema.get_field_index("reception_date")
    t = t.set_column(i, "reception_date", pa.array(["31/01/2020"] * len(t)))
    pq.write_table(t, src / "prison_custodial_journey.parquet")
    e = _blocked(tmp_path, src)
    assert "20 value(s) of reception_date that are not dates (the file stores it as VARCHAR)" in e.message
    assert "the column has the wrong type" in e.message
    chk = next(c for c in e.result.checks if c.check == "type")
    assert chk.values == ["shape 99/99/9999 (20)"]  # values that fail to convert are shown by shape only


def test_dates_as_iso_text_are_converted(tmp_path, src, tables):
    t = tables["prison_custodial_journey"]
    i = t.schema.get_field_index("reception_date")
    t = t.set_column(i, "reception_date", pa.array([d.isoformat() for d in t.column(i).to_pylist()]))
    pq.write_table(t, src / "prison_custodial_journey.parquet")
    res = load_extracts(tmp_path / "proj", src, snapshot_date=SNAP)
    assert res.tables["prison_custodial_journey"].decision == "load"


def test_thirty_percent_null_dates_of_birth(tmp_path, src, tables):
    t = tables["moj_probation_flatfile"]
    dob = [None if i % 10 < 3 else v for i, v in enumerate(t.column("date_of_birth").to_pylist())]
    pq.write_table(replace_column(t, "date_of_birth", dob), src / "moj_probation_flatfile.parquet")
    e = _blocked(tmp_path, src)
    assert ("moj_probation_flatfile.date_of_birth: only 70.0% complete (6 of 20 missing); the threshold is 95%: "
            "a severe completeness failure") in e.message


def test_a_few_null_dates_of_birth_warn(tmp_path, src, tables):
    t = tables["moj_probation_flatfile"]
    dob = [None if i < 2 else v for i, v in enumerate(t.column("date_of_birth").to_pylist())]
    pq.write_table(replace_column(t, "date_of_birth", dob), src / "moj_probation_flatfile.parquet")
    res = load_extracts(tmp_path / "proj", src, snapshot_date=SNAP)
    c = next(c for c in res.checks if c.check == "completeness" and c.column == "date_of_birth"
             and c.table == "moj_probation_flatfile")
    assert c.status == "warn" and c.failing == 2 and "below the 95% threshold" in c.message
    assert res.status == "complete"


def test_duplicated_primary_keys(tmp_path, src, tables):
    t = tables["crown_defendant_case"]
    pq.write_table(pa.concat_tables([t, t.slice(0, 3)]), src / "crown_defendant_case.parquet")
    e = _blocked(tmp_path, src)
    assert "crown_defendant_case: 3 duplicated value(s) of primary key row_id_hash (6 rows)" in e.message
    chk = next(c for c in e.result.checks if c.check == "primary_key" and c.status == "fail")
    assert chk.examples == sorted(t.column("row_id_hash").to_pylist()[:3])


def test_dates_in_the_future_or_before_1900(tmp_path, src, tables):
    t = tables["mags_defendant_case"]
    final = t.column("final_result_date").to_pylist()
    final[0], final[1] = date(2099, 1, 1), date(1850, 6, 1)
    dob = t.column("date_of_birth").to_pylist()
    dob[2] = date(2090, 1, 1)
    t = replace_column(replace_column(t, "final_result_date", final), "date_of_birth", dob)
    pq.write_table(t, src / "mags_defendant_case.parquet")
    res = load_extracts(tmp_path / "proj", src, snapshot_date=SNAP)
    by = {(c.check, c.column): c for c in res.checks if c.table == "mags_defendant_case"}
    fut = by[("date_future", "final_result_date")]
    assert fut.status == "fail" and fut.failing == 1
    assert "date(s) of final_result_date after 2025-01-31 (in the future)" in fut.message
    assert fut.examples == [t.column("row_id_hash")[0].as_py()] and fut.values == ["2099-01-01 (1)"]
    old = by[("date_before_1900", "final_result_date")]
    assert old.failing == 1 and "before 1900-01-01" in old.message
    dobf = by[("date_future", "date_of_birth")]
    assert dobf.failing == 1 and dobf.values == []  # identifier values are never shown
    # bad dates are reported, not blocking: the table is loaded with a warning
    assert res.tables["mags_defendant_case"].decision == "warn"


def test_empty_file(tmp_path, src):
    (src / "prison_safety_in_custody.parquet").unlink()
    (src / "prison_safety_in_custody.csv").write_text("")
    e = _blocked(tmp_path, src)
    assert "prison_safety_in_custody: file prison_safety_in_custody.csv is empty (0 bytes)" in e.message


def test_file_without_rows(tmp_path, src, tables):
    pq.write_table(tables["prison_safety_in_custody"].slice(0, 0), src / "prison_safety_in_custody.parquet")
    e = _blocked(tmp_path, src)
    assert "prison_safety_in_custody: the extract has no rows (empty file)" in e.message


def test_unknown_table_in_the_folder(tmp_path, src, tables):
    pq.write_table(tables["mags_defendant_case"], src / "mags_defendent_cases.parquet")
    res = load_extracts(tmp_path / "proj", src, snapshot_date=SNAP)
    assert res.status == "complete"
    msg = next(c.message for c in res.checks if c.check == "unknown_table")
    assert "file mags_defendent_cases.parquet: 'mags_defendent_cases' is not a table of the Data First model" in msg
    assert "did you mean mags_defendant_case" in msg
    assert any(d["decision"] == "warn" and "mags_defendent_cases" in d["reason"] for d in res.decisions)


def test_folder_without_any_model_table(tmp_path, tables):
    d = tmp_path / "odd"
    d.mkdir()
    pq.write_table(tables["mags_defendant_case"], d / "cases.parquet")
    with pytest.raises(InputError, match="no Data First tables found"):
        load_extracts(tmp_path / "proj", d, snapshot_date=SNAP)


def test_missing_source_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_extracts(tmp_path / "proj", tmp_path / "nowhere")


def test_multi_part_files_load_as_one_table(tmp_path, src, tables):
    t = tables["moj_probation_flatfile"]
    (src / "moj_probation_flatfile.parquet").unlink()
    for k in range(3):
        pq.write_table(t.slice(k * 7, 7), src / f"moj_probation_flatfile_{k + 1:02d}.parquet")
    res = load_extracts(tmp_path / "proj", src, snapshot_date=SNAP)
    tl = res.tables["moj_probation_flatfile"]
    assert tl.rows == 20 and tl.files == [f"moj_probation_flatfile_{k:02d}.parquet" for k in (1, 2, 3)]


def test_both_csv_and_parquet_for_one_table(tmp_path, src, tables):
    import pyarrow.csv as pacsv

    pacsv.write_csv(tables["prison_safety_in_custody"], src / "prison_safety_in_custody.csv")
    e = _blocked(tmp_path, src)
    assert "table prison_safety_in_custody is given both as CSV and as Parquet" in e.message


def test_blocked_load_leaves_an_existing_warehouse_exactly_as_it_was(tmp_path, src, tables):
    load_extracts(tmp_path / "proj", src, snapshot_date=SNAP)
    before = warehouse_fingerprint(tmp_path / "proj")
    bad = write_tables(tables, tmp_path / "bad")
    t = tables["crown_defendant_case"]
    pq.write_table(pa.concat_tables([t, t.slice(0, 1)]), bad / "crown_defendant_case.parquet")
    with pytest.raises(LoadBlocked):
        load_extracts(tmp_path / "proj", bad, snapshot_date="2025-02-28")
    assert warehouse_fingerprint(tmp_path / "proj") == before


def test_report_never_shows_identifiers(tmp_path, src, tables):
    """A load with problems in identifier columns reports counts and record ids only."""
    t = tables["moj_probation_flatfile"]
    dob = t.column("date_of_birth").to_pylist()
    dob = [None if i % 10 < 3 else v for i, v in enumerate(dob)]
    dob[5] = date(2091, 3, 3)
    names = t.column("surname").to_pylist()
    names[4] = None
    t = replace_column(replace_column(t, "date_of_birth", dob), "surname", names)
    pq.write_table(t, src / "moj_probation_flatfile.parquet")
    e = _blocked(tmp_path, src)
    texts = [e.result.report_json.read_text(), e.result.report_html.read_text(), e.message]
    ident = set()
    for tab in tables.values():
        for col in ("forename", "surname", "postcode", "middle_names", "date_of_birth"):
            if col in tab.column_names:
                ident.update(str(v) for v in tab.column(col).to_pylist() if v is not None)
    ident.add("2091-03-03")
    for text in texts:
        leaked = sorted(v for v in ident if v in text)
        assert not leaked, f"identifier values in the report: {leaked[:5]}"
    # the record ids of the failing rows are there
    assert t.column("row_id_hash")[5].as_py() in texts[0]
