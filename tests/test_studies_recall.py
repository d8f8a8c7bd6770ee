"""The studies' missed-link term: a wave source's estimated link recall from its own match probabilities
(``_pilots.link_recall`` over ``spine.person_record`` and ``spine.link_candidates``), and intervals whose upper limit
carries the expected missed links (``BandEstimate.recall``, ``share_headline(recall=...)``)."""

from __future__ import annotations

import math

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.linkage.wave import LINK_CANDIDATES
from bold_prevention.studies._pilots import BANDS, BandEstimate, across_bands, link_recall, recall_note
from bold_prevention.studies.run import share_headline

SRC = "ons_death_registrations"


def _warehouse(rows: list[tuple[str, float, str | None, float]], *, spine_band: str = "medium",
               refused: frozenset[str] = frozenset()) -> duckdb.DuckDBPyConnection:
    """A warehouse with one wave source: ``rows`` are (record_id, match score of the best pair after the source's
    evidence or NaN below the low band, its band or None, best pairwise probability). Records at the spine's band or
    a stricter one are joined (``spine.person_record``) unless ``refused``."""
    con = duckdb.connect()
    con.execute("create schema spine")
    con.execute("create table spine.person_record (person_id varchar, source_dataset varchar, source_table varchar, "
                "record_id varchar, match_score double, band_joined varchar, band varchar, person_record_id varchar)")
    con.execute(f"create table {LINK_CANDIDATES} (source_table varchar, record_id varchar, person_id varchar, "
                "pair_score double, match_score double, band_joined varchar)")
    keep = BANDS[: BANDS.index(spine_band) + 1]
    for rid, score, band, pair in rows:
        ms = None if math.isnan(score) else score
        con.execute(f"insert into {LINK_CANDIDATES} values (?, ?, ?, ?, ?, ?)", [SRC, rid, "P" + rid, pair, ms, band])
        if band in keep and rid not in refused:
            con.execute("insert into spine.person_record values (?, 'deaths', ?, ?, ?, ?, ?, ?)",
                        ["P" + rid, SRC, rid, ms, band, spine_band, rid])
    return con


def test_recall_counts_joined_scores_against_the_candidates_of_the_rest():
    con = _warehouse([("a", 0.999, "high", 0.999), ("b", 0.95, "medium", 0.95), ("c", 0.6, "low", 0.7),
                      ("d", math.nan, None, 0.2), ("e", 0.999, "high", 0.999)], refused=frozenset({"e"}))
    med = link_recall(con, SRC, "medium")
    assert med.linked == pytest.approx(0.999 + 0.95)
    # c and d are missed (their best pairwise probabilities); e was refused after linking, not missed
    assert med.missed == pytest.approx(0.7 + 0.2)
    assert med.recall == pytest.approx(1.949 / 2.849)
    high = link_recall(con, SRC, "high")
    assert high.linked == pytest.approx(0.999) and high.missed == pytest.approx(0.95 + 0.9)
    low = link_recall(con, SRC, "low")  # c joins at the low band from the candidates, with its match score
    assert low.linked == pytest.approx(0.999 + 0.95 + 0.6) and low.missed == pytest.approx(0.2)
    assert "medium 0.684" in recall_note({"medium": med}, "the deaths")


def test_no_candidates_no_recall():
    con = duckdb.connect()
    assert link_recall(con, SRC, "medium") is None
    assert "relink" in recall_note({"medium": None}, "the deaths")
    con = _warehouse([("a", 0.999, "high", 0.999)])
    assert link_recall(con, "support_referrals", "medium") is None  # another source's candidates only
    # candidates but no joined record (the spine rebuilt since the source was linked): no recall, not zero
    assert link_recall(_warehouse([("a", math.nan, None, 0.4)]), SRC, "medium") is None


_row = st.tuples(st.floats(0.01, 1.0), st.sampled_from([*BANDS, None]))


@settings(max_examples=20, deadline=None)
@given(st.lists(_row, min_size=1, max_size=12))
def test_recall_is_a_share_and_never_higher_at_a_stricter_band(rows):
    th = {"high": 0.99, "medium": 0.9, "low": 0.5}
    data = []
    for i, (p, band) in enumerate(rows):
        score = max(p, th[band]) if band else math.nan
        data.append((f"r{i}", score, band, score if band else min(p, 0.49)))
    con = _warehouse(data)
    got = {b: link_recall(con, SRC, b) for b in BANDS}
    joined = {b: any(band in BANDS[: BANDS.index(b) + 1] for _, band in rows if band != "low") for b in BANDS}
    assert {b: r is not None for b, r in got.items()} == {**joined, "low": joined["low"] or any(
        band == "low" for _, band in rows)}
    rec = {b: r.recall for b, r in got.items() if r is not None}
    assert all(0 < r <= 1 for r in rec.values())
    if "high" in rec:
        assert rec["high"] <= rec["medium"] + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5000), st.integers(1, 5000), st.floats(0.5, 1.0))
def test_missed_links_raise_only_the_upper_limit(k, n, recall):
    k = min(k, n)
    plain = BandEstimate("medium", float(k), float(n)).interval()
    carried = BandEstimate("medium", float(k), float(n), recall=recall).interval()
    if math.isnan(plain[0]):
        assert math.isnan(carried[0])
        return
    assert carried[0] == plain[0] and carried[1] >= plain[1] - 1e-12
    count = BandEstimate("medium", float(k), recall=recall).interval()
    assert count[0] == BandEstimate("medium", float(k)).interval()[0]
    assert count[1] >= BandEstimate("medium", float(k)).interval()[1] - 1e-9


def test_upper_limit_reaches_the_count_with_the_missed_links():
    # 400 of 2,000 linked, recall 0.8: the upper limit is at least that of 500 of 2,000
    e = BandEstimate("medium", 400.0, 2000.0, recall=0.8)
    lo, hi = across_bands({"medium": e, "high": BandEstimate("high", 380.0, 2000.0, recall=0.75)})
    assert hi > 500 / 2000 and lo < 380 / 2000


def test_share_headline_carries_the_recall_in_its_upper_limit():
    plain = share_headline("d", "Deaths", 200, 10_000, per=100_000.0, units="per 100,000", decimals=0)
    carried = share_headline("d", "Deaths", 200, 10_000, per=100_000.0, units="per 100,000", decimals=0,
                             recall=0.9)
    assert carried.value == plain.value and carried.lower == plain.lower
    assert carried.upper > plain.upper and carried.upper >= 100_000 * 200 / 0.9 / 10_000
    # a withheld figure stays withheld
    assert share_headline("d", "Deaths", 3, 10_000, recall=0.9).value is None
