"""The cost estimate: interpolation through measured points, scaling and advice; the command's JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.planning.cost import STAGES, estimate, interpolate, load_curves


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


def test_estimate_covers_every_stage_and_advises():
    small = estimate(50_000, machine_gb=24)
    assert [s.stage for s in small.stages] == list(STAGES)
    assert "DuckDB on this machine" in small.advice
    big = estimate(50_000_000, machine_gb=24)
    assert "at least" in big.advice and big.peak_gb > small.peak_gb
    assert big.notes  # extrapolated
    spark = estimate(1_000_000, engine="spark")
    assert any("no Spark path" in s.note for s in spark.stages)
    scaled = estimate(1_000_000, blocking_ratio=2.0, machine_gb=24)
    base = estimate(1_000_000, machine_gb=24)
    link = {s.stage: s.seconds for s in scaled.stages}["link"]
    assert link == pytest.approx(2 * {s.stage: s.seconds for s in base.stages}["link"])


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(InputError):
        estimate(0)
    with pytest.raises(InputError):
        estimate(1000, engine="oracle")
    f = tmp_path / "c.yaml"
    f.write_text("stages:\n  spine:\n    duckdb: [[100000, -3.0, 0.5]]\n")
    with pytest.raises(InputError, match="positive"):
        load_curves(f)
    f.write_text("stages:\n  spine:\n    duckdb: [[100000, 3.0]]\n")
    with pytest.raises(InputError):
        load_curves(f)


def test_command_json_parses(tmp_path):
    r = CliRunner().invoke(app, ["plan", "cost", "--persons", "1000000", "--format", "json", "--project",
                                 str(tmp_path / "none")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["persons"] == 1_000_000 and len(doc["stages"]) == len(STAGES)
