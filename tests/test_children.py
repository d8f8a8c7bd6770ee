"""Children of spine persons (spine.person_child): sources, bands, no identifiers, one id per child across sources,
and precision and recall against the synthetic truth."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from bold_prevention.spine.children import build_children, score_children
from bold_prevention.spine.outcomes import build_outcomes
from helpers_waves import AS_AT, copy_warehouse, wave_world


@pytest.fixture()
def world(tmp_path_factory, tmp_path):
    pop, wh = wave_world(tmp_path_factory)
    c = duckdb.connect(str(copy_warehouse(wh, tmp_path)))
    yield pop, c
    c.close()


def test_relation_from_three_sources_without_identifiers(world):
    pop, con = world
    res = build_children(con)
    assert {"child_benefit", "family_court", "npd_address"} <= set(res.sources)
    assert all(isinstance(res.sources[s], int) and res.sources[s] > 0 for s in ("child_benefit", "npd_address"))
    cols = {r[0] for r in con.execute("describe spine.person_child").fetchall()}
    assert cols == {"person_id", "child_id", "relation", "source", "band_joined", "child_table", "child_record_id",
                    "child_pupil_ref", "child_birth_year"}
    assert not cols & {"forename", "surname", "date_of_birth", "postcode", "nino"}
    bands = {r[0] for r in con.execute("select distinct band_joined from spine.person_child").fetchall()}
    assert bands <= {"high", "medium", "low"}
    assert con.execute("select count(*) from spine.person_child where source = 'npd_address' and band_joined <> 'low'"
                       ).fetchall()[0][0] == 0
    # one child, one id: children found both in Child Benefit and the NPD carry the same child_id and pupil ref
    both = con.execute("""select count(*) from (select child_id from spine.person_child group by 1
                          having count(distinct child_table) > 1)""").fetchall()[0][0]
    assert both > 0
    assert con.execute("select count(*) from spine.person_child where source = 'child_benefit' "
                       "and child_pupil_ref is not null").fetchall()[0][0] > 0


def test_precision_and_recall_against_the_truth(world):
    pop, con = world
    build_children(con)
    s = score_children(con, pop / "truth")
    assert s["overall"]["precision"] >= 0.85 and s["overall"]["recall"] >= 0.4
    cb = s["by_source"]["child_benefit"]
    assert cb["precision"] >= 0.95 and cb["against_truth_child_benefit"]["recall"] >= 0.6
    assert s["by_source"]["npd_address"]["precision"] >= 0.8


def test_child_outcomes_measured_for_parents_with_a_linked_pupil(world):
    pop, con = world
    before = build_outcomes(con, as_at=AS_AT, window_months=12)
    assert "person-to-child" in before.measures["child_npd"]
    build_children(con)
    res = build_outcomes(con, as_at=AS_AT, window_months=12)
    assert res.measures["child_npd"] is None and res.headline["child_outcomes"]["kind"] == "gold"
    parents = con.execute("select count(distinct person_id) from spine.person_child "
                          "where child_pupil_ref is not null").fetchall()[0][0]
    assert res.headline["child_outcomes"]["measured"] == parents > 0
    no_child = con.execute("select any_value(reason) from spine.person_outcome where measure = 'child_npd' "
                           "and value is null").fetchall()[0][0]
    assert no_child == "no linked child found in the NPD"
    assert date(2023, 1, 1) == res.window_start
