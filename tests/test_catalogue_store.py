"""Storing the catalogue in the warehouse (all or nothing), exporting it, and the ``bold catalogue`` commands."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from bold_prevention.catalogue.ods import SheetSpec, write_ods
from bold_prevention.catalogue.store import export_csv, load_catalogues, read_stored
from bold_prevention.catalogue.writer import OASYS_FILE, write_reference_oasys, write_synthetic_catalogues
from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.project import Project

runner = CliRunner()


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cat") / "synthetic"
    write_synthetic_catalogues(out)
    return out


def _counts(project: Path) -> dict[str, int]:
    con = duckdb.connect(str(Project.at(project).warehouse_path), read_only=True)
    try:
        return dict(con.execute("select dataset, count(*) from catalogue.variables group by 1").fetchall())
    finally:
        con.close()


def test_load_store_and_read_back(tmp_path, synthetic_dir):
    catalogue, counts = load_catalogues([synthetic_dir], tmp_path)
    assert set(counts) == {"mags", "crown", "prison", "probation", "oasys", "family", "civil", "linking"}
    stored = read_stored(tmp_path)
    assert len(stored.variables) == len(catalogue.variables) == sum(counts.values())
    pd.testing.assert_frame_equal(
        stored.variables.sort_values(["dataset", "table_name", "variable"]).reset_index(drop=True),
        catalogue.variables.sort_values(["dataset", "table_name", "variable"]).reset_index(drop=True),
        check_dtype=False)
    assert len(stored.code_lists) == len(catalogue.code_lists)
    assert set(read_stored(tmp_path, datasets=["civil"]).variables.dataset) == {"civil"}


def test_reload_replaces_only_its_datasets(tmp_path, synthetic_dir):
    load_catalogues([synthetic_dir], tmp_path)
    before = _counts(tmp_path)
    ref = write_reference_oasys(tmp_path / "real" / OASYS_FILE)
    load_catalogues([ref], tmp_path)
    after = _counts(tmp_path)
    assert after["oasys"] != before["oasys"]
    assert {k: v for k, v in after.items() if k != "oasys"} == {k: v for k, v in before.items() if k != "oasys"}
    stored = read_stored(tmp_path)
    names = set(stored.variables.variable)
    assert "question_10_7_v2_psychtreat" in names and "question_4_2" not in names  # the real OASys list now
    assert (stored.code_lists.code_list == "drug_lookup").sum() == 15


def test_bad_file_stores_nothing(tmp_path, synthetic_dir):
    load_catalogues([synthetic_dir], tmp_path)
    before = _counts(tmp_path)
    dup = tmp_path / "ONS_civil_gov_uk_v1.ods"
    write_ods(dup, [SheetSpec("Data", [["Table", "Variable", "Description"], ["civil_cases", "claim_type", "x"],
                                       ["civil_cases", "claim_type", "y"]])])
    good = write_reference_oasys(tmp_path / "good" / OASYS_FILE)
    with pytest.raises(InputError, match="ONS_civil_gov_uk_v1.ods, sheet 'Data'"):
        load_catalogues([good, dup], tmp_path)
    assert _counts(tmp_path) == before  # the good file was not stored either


def test_read_stored_without_catalogue(tmp_path):
    with pytest.raises(InputError, match="no warehouse"):
        read_stored(tmp_path / "nowhere")
    Project.at(tmp_path).ensure()
    duckdb.connect(str(Project.at(tmp_path).warehouse_path)).close()
    with pytest.raises(InputError, match="no catalogue in the warehouse"):
        read_stored(tmp_path)


def test_export_csv(tmp_path, synthetic_dir):
    catalogue, _ = load_catalogues([synthetic_dir], tmp_path)
    out = export_csv(read_stored(tmp_path), tmp_path / "out" / "catalogue.csv")
    df = pd.read_csv(out)
    assert list(df.columns[:5]) == ["dataset", "table_name", "variable", "description", "values"]
    assert len(df) == len(catalogue.variables)
    codes = pd.read_csv(export_csv(read_stored(tmp_path), tmp_path / "codes.csv", what="code_lists"),
                        dtype=str)
    assert {"code_list", "code", "label"} <= set(codes.columns)


# ----------------------------------------------------------------------------------------------------- CLI
def test_cli_write_load_search_export(tmp_path):
    proj = tmp_path / "project"
    r = runner.invoke(app, ["catalogue", "write-synthetic", str(tmp_path / "cats")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cats" / "ONS_CR_1.ODS").exists()
    r = runner.invoke(app, ["catalogue", "write-synthetic", str(tmp_path / "cats")])
    assert r.exit_code == 2 and "--overwrite" in " ".join(r.output.split())
    r = runner.invoke(app, ["catalogue", "load", str(tmp_path / "cats"), "--project", str(proj)])
    assert r.exit_code == 0, r.output
    assert "ONS_mags_gov_uk_v2.ods" in r.output
    r = runner.invoke(app, ["catalogue", "search", "rough sleeping", "--project", str(proj), "--limit", "3"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "question_bcs33" in r.output
    r = runner.invoke(app, ["catalogue", "search", "--driver", "accommodation", "--dataset", "civil",
                            "--project", str(proj)], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "event_type" in r.output
    out = tmp_path / "catalogue.csv"
    r = runner.invoke(app, ["catalogue", "export", "--out", str(out), "--project", str(proj)])
    assert r.exit_code == 0 and len(pd.read_csv(out)) > 200


def _text(r) -> str:
    return " ".join(r.output.split())


def test_cli_errors_are_messages(tmp_path):
    bad = tmp_path / "notes.ods"
    bad.write_text("not a spreadsheet")
    r = runner.invoke(app, ["catalogue", "load", str(bad), "--project", str(tmp_path / "p")])
    assert r.exit_code == 2
    assert "notes.ods is not an ODS spreadsheet" in _text(r) and "Traceback" not in r.output
    r = runner.invoke(app, ["catalogue", "search", "rent", "--project", str(tmp_path / "p")])
    assert r.exit_code == 2 and "bold catalogue load" in _text(r)
    r = runner.invoke(app, ["catalogue", "export", "--out", str(tmp_path / "x.txt"), "--project", str(tmp_path)])
    assert r.exit_code == 2 and "does not end in .csv" in _text(r)
