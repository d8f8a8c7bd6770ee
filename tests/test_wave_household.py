"""Household evidence for a resident index's pairs: another member of the resident's household has a candidate
among the spine person's associates (persons who shared a court case or an address with it)."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.linkage.wave import HOUSEHOLD_CATEGORIES, household_evidence_sql


def _world(n_high: int = 25, n_low: int = 25, low_supported: int = 5, extra=()):
    """``n_high`` two-person households whose members match two associated spine persons at the high band, and
    ``n_low`` (at most ``n_high``) namesake pairs below the low band (``low_supported`` of them supported by
    chance), plus ``extra`` pairs ``(record, person, p, household, associates of the person)``."""
    c = duckdb.connect()
    hh, pairs, ass = [], [], []
    for i in range(n_high):
        hh += [(f"a{i}", f"H{i}"), (f"b{i}", f"H{i}")]
        pairs += [(f"a{i}", f"PA{i}", 0.995), (f"b{i}", f"PB{i}", 0.995)]
        ass += [(f"PA{i}", f"PB{i}"), (f"PB{i}", f"PA{i}")]
    for i in range(n_low):
        pairs.append((f"a{i}", f"Q{i}", 0.1))
        ass.append((f"Q{i}", f"PB{i}" if i < low_supported else f"QX{i}"))
    for rec, person, p, house, friends in extra:
        hh.append((rec, house))
        pairs.append((rec, person, p))
        ass += [(person, f) for f in friends]
    c.execute("create table hh (record_id varchar, household_id varchar)")
    c.executemany("insert into hh values (?, ?)", hh)
    c.execute("create table pairs (record_id varchar, person_id varchar, p double)")
    c.executemany("insert into pairs values (?, ?, ?)", pairs)
    c.execute("create table ass (person_id varchar, associate_id varchar)")
    c.executemany("insert into ass values (?, ?)", ass)
    return c


def _factor(info, cat):
    """The factor of ``cat`` from the counts the evidence reports (its ``factors`` are rounded)."""
    k = len(HOUSEHOLD_CATEGORIES)
    hi = {"supported": info["supported_high"], "unsupported": info["high_pairs"] - info["supported_high"]}
    lo = {"supported": info["supported_low"], "unsupported": info["low_pairs"] - info["supported_low"]}
    u = (lo[cat] + 1) / (info["low_pairs"] + k)
    return (hi[cat] + k * u) / (info["high_pairs"] + k) / u


def _weigh(c):
    sql, info = household_evidence_sql(c, "select * from pairs", households="hh",
                                       associates="select * from ass", low=0.5, high=0.99)
    return {(r, p): q for r, p, q in c.execute(sql).fetchall()}, info


def test_a_household_that_met_the_courts_together_supports_a_weak_pair():
    extra = [("w1", "PW1", 0.6, "HW", ["PW2"]), ("w2", "PW2", 0.995, "HW", ["PW1"]),  # supported
             ("u1", "PU1", 0.95, "HU", ["PU9"]), ("u2", "PZ", 0.995, "HU", []),  # a member, no associate match
             ("n1", "PN", 0.7, "HN", ["PN2"])]  # alone in its household: not weighed
    c = _world(extra=extra)
    got, info = _weigh(c)
    assert info["applied"]
    f = info["factors"]
    assert f["supported"] > 1 > f["unsupported"]
    assert got[("w1", "PW1")] > 0.6
    assert got[("u1", "PU1")] < 0.95
    assert got[("n1", "PN")] == pytest.approx(0.7)
    assert got[("u2", "PZ")] == pytest.approx(0.995)  # PZ has no associates: not weighed


def test_factors_are_the_estimated_m_over_u():
    c = _world(n_high=40, n_low=40, low_supported=8)
    _, info = _weigh(c)
    assert info["supported_high"] == 80 and info["high_pairs"] == 80
    assert info["supported_low"] == 8 and info["low_pairs"] == 40
    k = len(HOUSEHOLD_CATEGORIES)
    u = {"supported": (8 + 1) / (40 + k), "unsupported": (32 + 1) / (40 + k)}
    m = {"supported": (80 + k * u["supported"]) / (80 + k), "unsupported": (0 + k * u["unsupported"]) / (80 + k)}
    for cat in HOUSEHOLD_CATEGORIES:
        assert info["factors"][cat] == pytest.approx(m[cat] / u[cat], abs=5e-4)  # reported to 3 places


def test_too_few_pairs_weigh_nothing():
    c = _world(n_high=5, n_low=40)
    got, info = _weigh(c)
    assert not info["applied"]
    assert got == {(r, p): q for r, p, q in c.execute("select * from pairs").fetchall()}


@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.001, 0.999), supported=st.booleans())
def test_a_pairs_odds_are_multiplied_by_its_categorys_factor(p, supported):
    friends = ["PV2"] if supported else ["PV9"]
    c = _world(extra=[("v1", "PV1", p, "HV", friends), ("v2", "PV2", 0.8, "HV", [])])
    got, info = _weigh(c)
    f = _factor(info, "supported" if supported else "unsupported")
    q = got[("v1", "PV1")]
    assert q / (1 - q) == pytest.approx(f * p / (1 - p), rel=1e-6)
    assert (q > p) == (f > 1)
