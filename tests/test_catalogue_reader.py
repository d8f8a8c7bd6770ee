"""Reading Data First ODS catalogues: the real OASys layout, GOV.UK-style layouts, the synthetic catalogues written
from the model, and every kind of bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.catalogue.ods import ODS_MIMETYPE, SheetSpec, read_workbook, write_ods, write_package
from bold_prevention.catalogue.reader import find_header, normalise_heading, read_catalogue, read_catalogues
from bold_prevention.catalogue.values import parse_values, render_values
from bold_prevention.catalogue.writer import (
    CATALOGUE_FILES,
    OASYS_FILE,
    reference_oasys_rows,
    write_reference_oasys,
    write_synthetic_catalogues,
)
from bold_prevention.datafirst import MODEL
from bold_prevention.datafirst import codes as K
from bold_prevention.errors import InputError, OutputExistsError

CORE = "oasys_assessments_details_core_risk"


@pytest.fixture(scope="module")
def oasys_real(tmp_path_factory) -> Path:
    """The real OASys variables in the published layout (data_dictionary + drug_lookup)."""
    return write_reference_oasys(tmp_path_factory.mktemp("oasys") / OASYS_FILE)


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("catalogues") / "synthetic"
    write_synthetic_catalogues(out)
    return out


# ------------------------------------------------------------------------------------------- real OASys layout
def test_oasys_layout_sheets_and_header(oasys_real):
    wb = read_workbook(oasys_real)
    assert wb.sheet_names == ["data_dictionary", "drug_lookup"]
    dd = wb.sheets[0]
    assert dd.rows[0] == (1, ["Table Name", "Variable Name", "Variable Description", "Values (optional)"])
    hdr = find_header(dd)
    assert hdr is not None and hdr.row_number == 1
    assert hdr.columns == {"table_name": 0, "variable": 1, "description": 2, "values": 3}


def test_oasys_real_variables_read(oasys_real):
    cat = read_catalogue(oasys_real)
    v = cat.variables
    assert set(v["dataset"]) == {"oasys"}  # from the published file name
    assert len(v) == len(reference_oasys_rows())
    row = v[(v.table_name == CORE) & (v.variable == "question_3_3")].iloc[0]
    assert row.description == "Currently of no fixed abode or in transient accommodation"
    assert (row.source_file, row.sheet) == (OASYS_FILE, "data_dictionary")
    assert row.source_row == 1 + 1 + reference_oasys_rows().index(
        (CORE, "question_3_3", row.description, row["values"]))
    codes = cat.code_lists[cat.code_lists.code_list == f"{CORE}.question_3_3"]
    assert list(zip(codes.code, codes.label, strict=True)) == [("NO", "No"), ("YES", "Yes"), ("M", "Missing")]
    tot = v[v.variable == "question_3_tot"].iloc[0]
    assert (tot.range_min, tot.range_max) == (0, 8)
    assert v[v.variable == "question_1_29"].iloc[0].value_format == "YYYY-MM-DD"
    tr = cat.code_lists[cat.code_lists.code_list == "oasys_assessments_details_tr_bcs.question_tr_bcs37"]
    assert list(tr.code) == ["N/A", "NO", "YES"]
    inject = cat.code_lists[cat.code_lists.code_list == "oasys_assessments_details_bcs.question_bcs86"]
    assert list(inject.label) == ["Never", "Previously", "Current", "Missing"]


def test_oasys_drug_lookup_kept_as_code_list(oasys_real):
    cat = read_catalogue(oasys_real)
    drugs = cat.code_lists[cat.code_lists.code_list == "drug_lookup"]
    assert list(zip(drugs.code, drugs.label, strict=True)) == list(K.DRUG_LOOKUP.codes)
    assert drugs.table_name.isna().all() and (drugs.sheet == "drug_lookup").all()
    main_drug = cat.variables[cat.variables.variable == "question_bcs87"].iloc[0]
    assert main_drug.code_list == "drug_lookup"  # "see drug_lookup" in its values cell
    assert not cat.skipped_sheets


# ------------------------------------------------------------------------------------- GOV.UK-style layouts
def _govuk_like(path: Path) -> Path:
    cover = SheetSpec("Cover", [["Data First: probation dataset catalogue"], ["Published 2024"], [],
                                ["Contact: example"]])
    contents = SheetSpec("Contents", [["Table of contents"], ["Sheet name", "Table description"],
                                      ["Variables", "Data dictionary"], ["offence_codes", "Offence codes"]])
    notes = SheetSpec("Notes", [["Notes"], ["Note number", "Note text"], ["[note 1]", "Values are codes"]])
    dictionary = SheetSpec("Variables", [
        ["Probation dataset: variable dictionary"],
        ["This worksheet contains one table. [note 1]"],
        [],
        ["Table name [note 1]", "Field", "Variable Description", "Code list", "Data type", "Time coverage"],
        ["moj_probation_flatfile", "row_id_hash", "Record key", "", "Text", "2014 to 2020"],
        ["", "gender", "Gender", "F = Female / M = Male", "Text", "2014 to 2020"],
        ["", "disposal_type_description", "Disposal", "Community Order", "Text", ""],
        ["", "", "", "Suspended Sentence Order", "", ""],  # a code list wrapped onto a second row
        [],
        ["moj_probation_rqmnts"],  # a table title row above its block
        ["", "rqmnt_type_main_category_code", "Requirement category", "MH = Mental Health Treatment; "
         "D = Drug Rehabilitation; AT = Alcohol Treatment", "Text", ""],
        ["", "rqmnt_start_date", "Date imposed", "YYYY-MM-DD", "Date", ""],
        [],
        ["Source: Ministry of Justice, Data First"],
    ])
    lookup = SheetSpec("offence_codes", [["Offence codes"], [], ["Code", "Description"], ["01", "Violence"],
                                        ["02", "Sexual offences"]])
    per_table = SheetSpec("mags_defendant_offence", [
        ["Magistrates' offence table"], ["Variable", "Description", "Values"],
        ["offence_seq", "Offence number", "1 - 99"], ["plea", "Plea", "G = Guilty\nNG = Not guilty"]])
    write_ods(path, [cover, contents, notes, dictionary, lookup, per_table])
    return path


def test_govuk_layout_titles_blank_rows_variants(tmp_path):
    cat = read_catalogue(_govuk_like(tmp_path / "ONS_PR_1.ODS"))
    v = cat.variables.set_index(["table_name", "variable"])
    assert set(cat.variables.dataset) == {"probation"}
    assert {s for _, s, _ in cat.skipped_sheets} == {"Cover", "Contents", "Notes"}
    # forward-filled table names, heading variants mapped
    assert v.loc[("moj_probation_flatfile", "gender"), "values"] == "F = Female / M = Male"
    assert v.loc[("moj_probation_flatfile", "gender"), "coverage"] == "2014 to 2020"
    assert v.loc[("moj_probation_flatfile", "gender"), "data_type"] == "Text"
    assert v.loc[("moj_probation_flatfile", "disposal_type_description"), "values"] == \
        "Community Order\nSuspended Sentence Order"
    assert v.loc[("moj_probation_rqmnts", "rqmnt_type_main_category_code"), "n_codes"] == 3
    assert v.loc[("moj_probation_rqmnts", "rqmnt_start_date"), "source_row"] == 12
    # a sheet without a table column takes the sheet's name as the table
    assert v.loc[("mags_defendant_offence", "plea"), "sheet"] == "mags_defendant_offence"
    # the footnote under the table is not a variable
    assert len(cat.variables) == 7
    codes = cat.code_lists
    assert list(codes[codes.code_list == "offence_codes"].code) == ["01", "02"]


def test_heading_normalisation():
    assert normalise_heading("Values (optional)") == "values optional"
    assert normalise_heading("Variable_Name [note 2]") == "variable name"
    assert normalise_heading("  Table\nName ") == "table name"


def test_repeated_rows_and_columns_are_not_expanded(tmp_path):
    """Spreadsheet programs write the empty tail of a sheet as one row repeated a million times."""
    content = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>
<table:table table:name="data_dictionary">
<table:table-row><table:table-cell office:value-type="string"><text:p>Table Name</text:p></table:table-cell>
<table:table-cell><text:p>Variable Name</text:p></table:table-cell><table:table-cell><text:p>Variable Description</text:p>
</table:table-cell><table:table-cell table:number-columns-repeated="16380"/></table:table-row>
<table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
<table:table-row><table:table-cell><text:p>oasys_assessments_details_core_risk</text:p></table:table-cell>
<table:table-cell><text:p>question_3_3</text:p></table:table-cell><table:table-cell><text:p>No<text:s text:c="2"/>fixed
<text:span>abode</text:span></text:p><text:p>second line</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="1048570"><table:table-cell table:number-columns-repeated="16384"/>
</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"""
    path = tmp_path / "repeated.ods"
    write_package(path, {"mimetype": ODS_MIMETYPE.encode(), "content.xml": content.encode(),
                         "META-INF/manifest.xml": b"<manifest/>"})
    cat = read_catalogue(path)
    assert len(cat.variables) == 1
    row = cat.variables.iloc[0]
    assert row.description == "No  fixed abode\nsecond line"
    assert row.source_row == 5
    assert row.dataset == "oasys"  # by its tables, since the file name is not a published one


# ------------------------------------------------------------------------------ synthetic catalogues (model)
def test_synthetic_catalogues_use_published_names_and_layouts(synthetic_dir):
    names = sorted(p.name for p in synthetic_dir.iterdir())
    assert names == sorted(CATALOGUE_FILES.values())
    assert len(names) == 8
    oasys = read_workbook(synthetic_dir / OASYS_FILE)
    assert oasys.sheet_names == ["data_dictionary", "drug_lookup"]
    assert oasys.sheets[0].rows[0][1] == ["Table Name", "Variable Name", "Variable Description", "Values (optional)"]
    for f in names:
        if f == OASYS_FILE:
            continue
        wb = read_workbook(synthetic_dir / f)
        assert wb.sheet_names[:3] == ["Cover", "Contents", "Notes"]
        dictionary = wb.sheets[3]
        hdr = find_header(dictionary)
        assert hdr is not None and hdr.row_number > 1  # a title (and blank rows) above the header


def test_synthetic_round_trip_matches_model(synthetic_dir):
    cat = read_catalogues([synthetic_dir])
    got = {(r.dataset, r.table_name, r.variable): r for r in cat.variables.itertuples()}
    expected = {(t.dataset, t.name, c.name): c for d in MODEL.datasets if d.catalogue_file for t in d.tables
                for c in t.columns if not c.identifier}
    assert set(got) == set(expected)
    for k, col in expected.items():
        assert got[k].description == col.description
        if col.codes is not None:
            codes = cat.code_lists[cat.code_lists.code_list == f"{k[1]}.{k[2]}"]
            assert list(codes.code) == list(col.codes.values), k
    identifiers = {c.name for t in MODEL.tables for c in t.columns if c.identifier}
    assert not identifiers & set(cat.variables.variable)


def test_synthetic_catalogues_are_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_synthetic_catalogues(a)
    write_synthetic_catalogues(b)
    for f in a.iterdir():
        assert f.read_bytes() == (b / f.name).read_bytes()


def test_write_synthetic_refuses_to_overwrite(tmp_path):
    write_synthetic_catalogues(tmp_path)
    with pytest.raises(OutputExistsError) as e:
        write_synthetic_catalogues(tmp_path)
    assert "--overwrite" in str(e.value)
    write_synthetic_catalogues(tmp_path, overwrite=True)


# ------------------------------------------------------------------------------------------------ bad input
def _error(path: Path) -> str:
    with pytest.raises(InputError) as e:
        read_catalogue(path)
    return str(e.value)


def test_not_an_ods_file(tmp_path):
    txt = tmp_path / "catalogue.ods"
    txt.write_text("Table,Variable\nx,y\n")
    assert "catalogue.ods is not an ODS spreadsheet" in _error(txt)
    empty = tmp_path / "empty.ods"
    empty.write_bytes(b"")
    assert "is empty" in _error(empty)
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Table Name", "Variable Name", "Variable Description"])
    xlsx = tmp_path / "ONS_PR_1.xlsx"
    wb.save(xlsx)
    msg = _error(xlsx)
    assert "ONS_PR_1.xlsx is an Excel (.xlsx) workbook" in msg and "What to do" in msg
    odt = tmp_path / "text.ods"
    write_package(odt, {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
    assert "not a spreadsheet" in _error(odt)
    assert "does not exist" in _error(tmp_path / "missing.ods")


def test_corrupt_ods(tmp_path, oasys_real):
    data = oasys_real.read_bytes()
    truncated = tmp_path / "truncated.ods"
    truncated.write_bytes(data[: len(data) // 2])
    assert "truncated.ods is a corrupt ODS file" in _error(truncated)
    bad_xml = tmp_path / "bad_xml.ods"
    write_package(bad_xml, {"mimetype": ODS_MIMETYPE.encode(), "content.xml": b"<office:document-content><oops>"})
    assert "bad_xml.ods is a corrupt ODS file" in _error(bad_xml)
    no_content = tmp_path / "no_content.ods"
    write_package(no_content, {"mimetype": ODS_MIMETYPE.encode()})
    assert "content.xml is missing" in _error(no_content)


def test_password_protected_ods(tmp_path, oasys_real):
    manifest = b"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="5000">
  <manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k"
   manifest:checksum="abc"><manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc"
   manifest:initialisation-vector="xyz"/></manifest:encryption-data></manifest:file-entry></manifest:manifest>"""
    locked = tmp_path / "ONS_civil_gov_uk_v1.ods"
    write_package(locked, {"mimetype": ODS_MIMETYPE.encode(), "META-INF/manifest.xml": manifest,
                           "content.xml": b"\x8f\x02encrypted bytes"})
    msg = _error(locked)
    assert "ONS_civil_gov_uk_v1.ods is password-protected" in msg and "without one" in msg


def test_no_dictionary_sheet(tmp_path):
    path = tmp_path / "ONS_family_gov_uk_v1.ods"
    write_ods(path, [SheetSpec("Cover", [["Family court catalogue"], ["Coming soon"]]),
                     SheetSpec("Notes", [["Note number", "Note text"], ["1", "Draft"]])])
    msg = _error(path)
    assert "ONS_family_gov_uk_v1.ods: no variable dictionary sheet found (sheets: 'Cover', 'Notes')" in msg


def test_duplicate_variable_names_file_sheet_and_rows(tmp_path):
    path = tmp_path / OASYS_FILE
    write_ods(path, [SheetSpec("data_dictionary", [
        ["Table Name", "Variable Name", "Variable Description", "Values (optional)"],
        [CORE, "question_3_3", "No fixed abode", "NO = No\nYES = Yes"],
        [CORE, "question_3_4", "Suitable accommodation", "0 - 2"],
        [CORE, "Question_3_3 ", "No fixed abode again", ""]])])
    msg = _error(path)
    assert f"{OASYS_FILE}, sheet 'data_dictionary'" in msg
    assert "question_3_3" in msg and "rows 2 and 4" in msg


def test_duplicate_variable_across_sheets(tmp_path):
    header = ["Table", "Variable", "Description"]
    path = tmp_path / "ONS_mags_gov_uk_v2.ods"
    write_ods(path, [SheetSpec("Table_1", [header, ["mags_defendant_case", "plea", "Plea"]]),
                     SheetSpec("Table_2", [header, ["mags_defendant_case", "plea", "Plea again"]])])
    msg = _error(path)
    assert "sheet 'Table_1'" in msg and "sheet 'Table_2'" in msg


def test_two_files_for_one_dataset(tmp_path, oasys_real, synthetic_dir):
    with pytest.raises(InputError) as e:
        read_catalogues([synthetic_dir, oasys_real])
    assert "both describe dataset 'oasys'" in str(e.value)


def test_variable_without_a_table(tmp_path):
    path = tmp_path / "x.ods"
    write_ods(path, [SheetSpec("dictionary", [["Table", "Variable", "Description"], ["", "plea", "Plea"]])])
    assert "has no table name" in _error(path)


# -------------------------------------------------------------------------------------------- values parser
_code = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=8)
_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'(),-", min_size=1, max_size=30) \
    .map(str.strip).filter(bool)


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(_code, _label), min_size=1, max_size=8, unique_by=lambda p: p[0]),
       sep=st.sampled_from(["\n", "; ", " / ", "\n\n", " ;", "\r\n"]))
def test_values_round_trip(pairs, sep):
    """Any code list written as ``code = label`` pairs with any separator in use reads back exactly."""
    pairs = [(c, lab) for c, lab in pairs if c != lab]
    if not pairs:
        return
    spec = parse_values(render_values(pairs, sep))
    assert spec.codes == tuple(pairs)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_values_parser_never_raises(text):
    spec = parse_values(text)
    assert all(c and c == c.strip() for c, _ in spec.codes)
    assert len({c for c, _ in spec.codes}) == len(spec.codes)


@pytest.mark.parametrize("cell,codes,rng,fmt", [
    ("NO = No\nYES = Yes", (("NO", "No"), ("YES", "Yes")), None, None),
    ("0 = Never / 1 = Previously / 2 = Current / M = Missing",
     (("0", "Never"), ("1", "Previously"), ("2", "Current"), ("M", "Missing")), None, None),
    ("0 = No / 2 = Yes", (("0", "No"), ("2", "Yes")), None, None),
    ("DK / NO / YES", (("DK", "DK"), ("NO", "NO"), ("YES", "YES")), None, None),
    ("N/A / NO / YES", (("N/A", "N/A"), ("NO", "NO"), ("YES", "YES")), None, None),
    ("0/1/2", (("0", "0"), ("1", "1"), ("2", "2")), None, None),
    ("YES", (("YES", "YES"),), None, None),
    ("0 - 99", (), (0.0, 99.0), None),
    ("0 – 9", (), (0.0, 9.0), None),
    ("YYYY-MM-DD", (), None, "YYYY-MM-DD"),
    ("Coded categories incl. permanent/temporary/rough sleeping (see catalogue)", (), None, None),
    ("White: British/English/Welsh\nChinese", (("White: British/English/Welsh", "White: British/English/Welsh"),
                                               ("Chinese", "Chinese")), None, None),
    ("", (), None, None),
])
def test_values_layouts_in_use(cell, codes, rng, fmt):
    spec = parse_values(cell)
    assert (spec.codes, spec.value_range, spec.value_format) == (codes, rng, fmt)


def test_zip_entries_of_written_ods_are_valid(synthetic_dir):
    with zipfile.ZipFile(synthetic_dir / OASYS_FILE) as zf:
        assert zf.namelist()[0] == "mimetype"
        assert zf.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert zf.read("mimetype").decode() == ODS_MIMETYPE
