"""Local-authority residents (Wave 3) linked with the options the pipeline uses: completed justice identities and
the age a spine person's court roles imply, weighed on every pair without the one-assignment score, and the
residents' households."""

from __future__ import annotations

import pytest

from bold_prevention.linkage.wave import link_source_to_spine, residents_link_options, score_against_truth


@pytest.fixture(scope="module")
def wh(spine_warehouse_copy, tmp_path_factory):
    con = spine_warehouse_copy(tmp_path_factory.mktemp("residents"))
    yield con
    con.close()


def _links(con):
    return con.execute("select record_id, person_id, band_joined, round(match_score, 9) from spine.person_record "
                       "where source_table = 'la_residents' order by 1").fetchall()


def test_options_are_the_completed_identities_and_the_implied_ages(wh):
    opts = residents_link_options(wh)
    assert opts["complete_identities"] is True
    assert opts["household_evidence"] is True
    assert {"person_id", "born_after", "born_before"} <= set(opts["birth_ranges"].column_names)
    assert "exclusive" not in opts  # a resident index holds duplicates of one person: no one-assignment score


def test_the_age_evidence_without_weighing_changes_no_link(wh, tmp_path):
    """Weighed by nothing (``range_evidence=False``) the pairs read through the age evidence are the plain pairs:
    the same links, bands and scores as a link without it."""
    model = tmp_path / "m.json"
    link_source_to_spine(wh, "la_residents", model_path=model, complete_identities=True)
    plain = _links(wh)
    res = link_source_to_spine(wh, "la_residents", model_path=model, complete_identities=True,
                               birth_ranges=residents_link_options(wh)["birth_ranges"], range_evidence=False)
    assert res.quality["birth_ranges"]["applied"] is False
    assert _links(wh) == plain


def test_linked_as_the_pipeline_links_them(wh, synth_dir):
    res = link_source_to_spine(wh, "la_residents", **residents_link_options(wh))
    info = res.quality["birth_ranges"]
    assert info["plausible_persons"] <= info["spine_persons"]
    hh = res.quality["household"]  # the residents' household reference was read
    assert hh["supported_high"] <= hh["high_pairs"] and hh["supported_low"] <= hh["low_pairs"]
    rows = wh.execute("select count(*), count(distinct record_id) from spine.person_record "
                      "where source_table = 'la_residents'").fetchone()
    assert rows[0] == rows[1] == sum(res.linked.values()) > 0  # one person per resident
    assert {b for b, n in res.linked.items() if n} <= {"high", "medium"}
    q = score_against_truth(wh, "la_residents", synth_dir / "truth")
    assert q["precision"] >= 0.9 and q["recall"] >= 0.85
