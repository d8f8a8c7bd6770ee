"""Linking a Wave 3 source (local-authority residents) to the justice spine."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from bold_prevention.errors import InputError
from bold_prevention.linkage.wave import link_source_to_spine, score_against_truth


@pytest.fixture(scope="module")
def linked(spine_project, synth_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("wave")
    db = work / "warehouse.duckdb"
    shutil.copy(spine_project.warehouse_path, db)
    con = duckdb.connect(str(db))
    model = work / "la_model.json"
    result = link_source_to_spine(con, "la_residents", model_path=model)
    yield con, result, model
    con.close()


def test_links_residents_to_spine_persons_with_bands(linked):
    con, result, model = linked
    assert model.exists()
    assert result.records > 100
    assert sum(result.linked.values()) > 0
    rows = con.execute("select count(*), count(distinct record_id) from spine.person_record "
                       "where source_table = 'la_residents'").fetchone()
    assert rows[0] == rows[1] == sum(result.linked.values())  # one person per resident
    bands = {r[0] for r in con.execute("select distinct band_joined from spine.person_record "
                                       "where source_table = 'la_residents'").fetchall()}
    assert bands <= {"high", "medium"}  # the spine is at the medium band: no low-band links join it


def test_link_quality_against_truth(linked, synth_dir):
    con, _, _ = linked
    q = score_against_truth(con, "la_residents", synth_dir / "truth")
    assert q["precision"] >= 0.9
    assert q["recall"] >= 0.85


def test_spine_carries_no_identifiers_after_linking(linked):
    con, _, _ = linked
    cols = {r[0] for r in con.execute("describe spine.person_record").fetchall()}
    assert not cols & {"forename", "surname", "date_of_birth", "postcode", "middle_names"}


def test_saved_model_is_reused_and_relinking_is_idempotent(linked):
    con, first, model = linked
    before = con.execute("select record_id, person_id, band_joined from spine.person_record "
                         "where source_table = 'la_residents' order by 1").fetchall()
    again = link_source_to_spine(con, "la_residents", model_path=model)
    assert again.reused_model
    after = con.execute("select record_id, person_id, band_joined from spine.person_record "
                        "where source_table = 'la_residents' order by 1").fetchall()
    assert after == before


def test_unloaded_source_is_a_clear_error(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(InputError, match="identity_la_residents"):
        link_source_to_spine(con, "la_residents")
    with pytest.raises(InputError, match="no person records"):
        link_source_to_spine(con, "la_service_contacts")
