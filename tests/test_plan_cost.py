"""The cost estimate: interpolation through measured points, candidate pairs by grouped counts, the linkage model
(pairs within and between persons; time and memory fitted to runs), the whole run, advice; the command's JSON."""

from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.linkage.blocking import prediction_blocking
from bold_prevention.planning.cost import (
    JUSTICE_ROLES,
    REGIMES,
    LinkFit,
    PairCounts,
    candidate_pairs,
    default_stages,
    estimate,
    interpolate,
    load_curves,
    pair_sample,
    regime_for,
    rule_pairs,
)

COLUMNS = ("dob_iso", "dob_swapped", "dob_year", "dob_day", "surname_phonetic", "surname_nospace",
           "forename_phonetic", "forename_canonical", "postcode", "postcode_sector", "postcode_outward", "postcode_area")


def _table(con, rows: list[tuple], name: str = "t") -> None:
    con.execute(f"CREATE OR REPLACE TABLE {name} (unique_id VARCHAR, person VARCHAR, "
                + ", ".join(f"{c} VARCHAR" for c in COLUMNS) + ")")
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * (len(COLUMNS) + 2))})", rows)


def test_measured_points_are_reproduced_and_between_is_a_straight_line():
    pts = [(100_000, 3.0), (1_000_000, 11.4), (5_000_000, 41.6)]
    for x, y in pts:
        v, ext = interpolate(pts, x)
        assert v == pytest.approx(y) and not ext
    mid, ext = interpolate(pts, 550_000)  # halfway between the first two
    assert mid == pytest.approx((3.0 + 11.4) / 2) and not ext
    low, ext = interpolate(pts, 10)  # far below: never below proportional scaling, never negative
    assert ext and 0 < low
    big, ext = interpolate(pts, 10_000_000)
    assert ext and big > 41.6
    one, ext = interpolate([(1_000_000, 6.0)], 2_000_000)
    assert one == pytest.approx(12.0) and ext
    twice, _ = interpolate([(1_000_000, 6.0), (1_000_000, 8.0), (2_000_000, 14.0)], 1_000_000)
    assert twice == pytest.approx(7.0)  # two measurements at one size are averaged


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1_000, 10_000_000), st.floats(0.1, 1e4)), min_size=1, max_size=5,
                unique_by=lambda p: p[0]),
       st.integers(1_000, 50_000_000), st.integers(1_000, 50_000_000))
def test_interpolation_is_positive_and_monotone_when_the_points_are(points, a, b):
    pts = sorted(points)
    ys = [y for _, y in pts]
    va, _ = interpolate(pts, a)
    vb, _ = interpolate(pts, b)
    assert va > 0 and vb > 0
    if all(y1 >= y0 for y0, y1 in zip(ys, ys[1:], strict=False)) and a <= b:
        assert va <= vb * (1 + 1e-9)


# ---------------------------------------------------------------------------------------------- pair counting
_value = st.one_of(st.none(), st.sampled_from("abc"))


_RULES = tuple(dict.fromkeys(r["blocking_rule"] for size in REGIMES.values()
                             for r in prediction_blocking(JUSTICE_ROLES, size)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(*[_value] * len(COLUMNS)), max_size=30))
def test_grouped_counts_equal_the_self_join_for_every_rule(values):
    """Each shipped rule, at every job size: the grouped count is the join's pair count (exactly, for a symmetric
    rule) or half its ordered pairs (a one-sided rule)."""
    con = duckdb.connect()
    _table(con, [(f"r{i:03d}", f"p{i}", *v) for i, v in enumerate(values)])
    for rule in _RULES:
        got = rule_pairs(con, "t", rule)
        ordered, once = con.execute(
            f"SELECT COUNT(*), COUNT(*) FILTER (WHERE l.unique_id < r.unique_id) FROM t l JOIN t r "
            f"ON l.unique_id <> r.unique_id AND ({rule})").fetchone()
        assert got == round(ordered / 2)
        if "swapped" not in rule and "null" not in rule.lower():
            assert got == once


def test_a_rule_that_is_not_equalities_is_refused():
    con = duckdb.connect()
    _table(con, [])
    for rule in ("levenshtein(l.surname_nospace, r.surname_nospace) < 2", "l.dob_iso = 'x'",
                 "l.dob_iso is null"):
        with pytest.raises(ValueError):
            rule_pairs(con, "t", rule)


def test_pair_counts_split_pairs_within_and_between_persons():
    within, between = 3.0, 2e-6
    n, m = 1_000_000, 480_000
    pc = PairCounts(n, within * n + between * n * n, m, within * m + between * m * m)
    assert pc.coefficients == pytest.approx((within, between))
    assert pc.at(5_000_000) == pytest.approx(within * 5e6 + between * 25e12)
    # a subset that kept more than its share is all within persons; less than the square, all between
    assert PairCounts(100, 50, 50, 30).coefficients == (0.5, 0.0)
    assert PairCounts(100, 50, 50, 5).coefficients == pytest.approx((0.0, 50 / 100**2))


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 50), st.floats(0, 1e-4), st.integers(1_000, 2_000_000), st.floats(0.1, 0.9))
def test_pair_counts_recover_their_shares_and_never_go_negative(within, between, n, share):
    m = max(1, int(n * share))
    pc = PairCounts(n, within * n + between * n * n, m, within * m + between * m * m)
    w, b = pc.coefficients
    assert w >= 0 and b >= 0
    assert pc.at(n) == pytest.approx(pc.pairs, rel=1e-6, abs=1e-6)
    assert pc.at(10 * n) >= pc.at(n) - 1e-6


def test_pair_sample_counts_each_regime_on_all_and_on_half_the_persons():
    con = duckdb.connect()
    # 200 persons with 3 records each that share every key within the person and no key across persons
    rows = [(f"r{p}-{k}", f"p{p}", *[f"{c}{p}" for c in COLUMNS]) for p in range(200) for k in range(3)]
    _table(con, rows)
    counts = pair_sample(con, "t", person="person")
    assert set(counts) == set(REGIMES)
    for regime, [[n, pairs, m, half]] in counts.items():
        rules = [r["blocking_rule"] for r in prediction_blocking(JUSTICE_ROLES, REGIMES[regime])]
        assert n == 600 and pairs == sum(c for _r, c in candidate_pairs(con, "t", rules))
        assert 0 < m < n and half == pytest.approx(pairs * m / n)  # whole persons: pairs shrink with the records
        assert PairCounts(n, pairs, m, half).coefficients[1] == pytest.approx(0, abs=1e-12)
    with pytest.raises(InputError):
        _table(con, [], "empty")
        pair_sample(con, "empty")


def test_regimes_follow_the_blocking_thresholds():
    assert [regime_for(x) for x in (1_000, 250_000, 250_001, 1_000_000, 1_000_001)] == \
        ["broad", "broad", "usual", "usual", "large"]


# ---------------------------------------------------------------------------------------------- linkage fit
def test_link_fit_recovers_a_cost_of_records_passes_and_pairs():
    def secs(r, p, k):
        return 2.0 + 4e-6 * r * k + 3e-6 * p

    def gb(r, p, k):
        return 0.5 + 2e-6 * r / k + 1e-6 * r

    runs = [(r, p, k) for r, p, k in ((1e5, 1e6, 1), (1e6, 9e6, 1), (1e6, 9e6, 4), (5e6, 6e7, 4), (2e5, 2e6, 2))]
    fit = LinkFit.from_points([[r, p, k, secs(r, p, k), gb(r, p, k)] for r, p, k in runs])
    for r, p, k in ((3e6, 3e7, 1), (1e7, 1.5e8, 8)):
        assert fit.seconds(r, p, k) == pytest.approx(secs(r, p, k), rel=1e-6)
        assert fit.peak_gb(r, p, k) == pytest.approx(gb(r, p, k), rel=1e-6)


# ---------------------------------------------------------------------------------------------- estimate
def test_the_default_run_is_the_demo_and_sums_its_stages():
    from bold_prevention.pipeline.stages import DEMO_STAGES

    curves = load_curves()
    assert default_stages(curves) == ("synth", *(s.replace("-", "_") for s in DEMO_STAGES))
    est = estimate(200_000, machine_gb=24)
    assert [s.stage for s in est.stages] == list(default_stages(curves))
    assert est.seconds == pytest.approx(sum(s.seconds for s in est.stages))
    assert "DuckDB on this machine" in est.advice


def test_linkage_follows_the_pairs_and_chunks_when_memory_is_short():
    big = estimate(5_000_000, stages=["link"], machine_gb=256)
    small_machine = estimate(5_000_000, stages=["link"], machine_gb=16)
    assert big.link_chunks == 1 and small_machine.link_chunks > 1
    assert small_machine.stages[0].peak_gb < big.stages[0].peak_gb
    assert "candidate pairs" in big.stages[0].note
    one = estimate(1_000_000, stages=["link"], chunks=1, machine_gb=24).stages[0]
    # twice the pairs per record in this project's own count: more time
    curves = load_curves()
    own = {r: [[p[0], 2 * p[1], p[2], 2 * p[3]] for p in ps] for r, ps in curves.link.pairs.items()}
    more = estimate(1_000_000, stages=["link"], chunks=1, machine_gb=24, pair_samples=own).stages[0]
    assert more.seconds > one.seconds and "this project" in more.note


def test_a_small_project_count_scales_the_benchmark_curve_far_beyond_its_size():
    """A 100k project's count is not extrapolated with its own (uncertain) between-person share to 5M: the
    benchmark's curve is scaled by the project's count over the curve's value at the project's size."""
    from bold_prevention.planning.cost import pairs_for

    link = load_curves().link
    base, regime, _ = pairs_for(link, 5_000_000)
    n = 100_000.0
    large_at_n = PairCounts(*min(link.pairs["large"], key=lambda p: abs(p[0] / 5e6 - 1))).at(n)
    own = {"large": [[n, 3 * large_at_n, n / 2, 1.5 * large_at_n * 0.9]]}  # a between share that would explode
    scaled, _, note = pairs_for(link, 5_000_000, own)
    assert regime == "large" and scaled == pytest.approx(3 * base) and "scaled" in note
    near, _, note = pairs_for(link, 300_000, {"usual": [[n, 1e6, n / 2, 5e5]]})
    assert near == pytest.approx(3e6) and "scaled" not in note  # within 4x: the project's own shape (linear here)


def test_estimate_covers_stages_engines_and_advises():
    small = estimate(50_000, machine_gb=24)
    big = estimate(50_000_000, machine_gb=24)
    assert "at least" in big.advice and big.peak_gb > small.peak_gb
    assert big.notes  # extrapolated
    spark = estimate(1_000_000, engine="spark")
    assert any("no Spark path" in s.note for s in spark.stages)
    assert estimate(1_000_000, engine="spark", stages=["link"]).stages[0].engine == "spark"


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(InputError):
        estimate(0)
    with pytest.raises(InputError):
        estimate(1000, engine="oracle")
    with pytest.raises(InputError, match="chunks"):
        estimate(1000, chunks=0)
    with pytest.raises(InputError, match="no measured curve"):
        estimate(1000, stages=["nowhere"])
    f = tmp_path / "c.yaml"
    f.write_text("stages:\n  spine:\n    duckdb: [[100000, -3.0, 0.5]]\n")
    with pytest.raises(InputError, match="positive"):
        load_curves(f)
    f.write_text("stages:\n  spine:\n    duckdb: [[100000, 3.0]]\n")
    with pytest.raises(InputError):
        load_curves(f)
    f.write_text("stages: {}\nlink:\n  records_per_person: 1.0\n  pairs: {huge: [[10, 5, 5, 1]]}\n")
    with pytest.raises(InputError, match="regime"):
        load_curves(f)
    f.write_text("stages: {}\nlink:\n  records_per_person: 1.0\n  pairs: {large: [[10, 5, 20, 1]]}\n")
    with pytest.raises(InputError, match="fewer records"):
        load_curves(f)
    f.write_text("stages: {}\nruns: {demo: [spine]}\n")
    with pytest.raises(InputError, match="without a curve"):
        load_curves(f)


def test_command_json_parses(tmp_path):
    r = CliRunner().invoke(app, ["plan", "cost", "--persons", "1000000", "--format", "json", "--project",
                                 str(tmp_path / "none")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["persons"] == 1_000_000 and len(doc["stages"]) == len(default_stages(load_curves()))
    r = CliRunner().invoke(app, ["plan", "cost", "--persons", "5000000", "--stages", "link,spine", "--chunks", "4",
                                 "--format", "json", "--project", str(tmp_path / "none")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [s["stage"] for s in doc["stages"]] == ["link", "spine"] and doc["link_chunks"] == 4
