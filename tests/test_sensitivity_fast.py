"""Band sensitivity without needless spine rebuilds: the current spine's band is computed on it as it stands and the
spine is put back instead of rebuilt; the figures equal those of building the spine at each band in turn."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bold_prevention.cohorts import build_cohort, spine_state
from bold_prevention.cohorts.release import cohort_outputs, places_outputs
from bold_prevention.planning import band_sensitivity
from bold_prevention.planning import sensitivity as S
from bold_prevention.spine import build_spine
from bold_prevention.spine.fingerprint import extract_frozen, frozen_memo, inputs_fingerprint

COHORTS = ["multiple_disadvantage", "young_adults_cusp"]
AS_AT = date(2024, 12, 31)


@pytest.fixture()
def con(spine_copy_con):
    return spine_copy_con


def _per_band_by_rebuilding(con, bands=("high", "low", "medium")) -> dict[str, pd.DataFrame]:
    """The reference: the spine rebuilt at each band, each cohort and the places built on it."""
    out = {}
    for b in bands:
        build_spine(con, as_at=AS_AT, band=b)
        for c in COHORTS:
            build_cohort(con, c, as_at=AS_AT, band=b)
            outs, _ = cohort_outputs(con, c, dimensions=S.SENSITIVITY_DIMENSIONS, label=f"{b} band")
            out.update({o.name: o for o in outs})
        outs, _ = places_outputs(con, label=f"{b} band")
        out.update({o.name: o for o in outs})
    return out


def _spine_snapshot(con) -> dict[str, pd.DataFrame]:
    snap = {}
    for t in ("person", "person_need", "spine_info", "person_record"):
        df = con.execute(f"SELECT * FROM spine.{t}").df()
        snap[t] = df.sort_values(list(df.columns)).reset_index(drop=True)
    for t in COHORTS:
        df = con.execute(f"SELECT * FROM results.cohort_{t}").df()
        snap[t] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return snap


def test_fast_path_equals_rebuilding_each_band_and_leaves_the_spine_as_it_was(con):
    for c in COHORTS:  # the cohorts as the project had them before the run
        build_cohort(con, c, as_at=AS_AT, band="medium")
    before = _spine_snapshot(con)
    assert S._reusable(con, AS_AT, "medium")
    calls = []
    real = S.build_spine

    def counting(*a, **k):
        calls.append(k.get("band"))
        assert k.get("carry_from") == S._SAVED  # the other bands carry over the persons kept aside
        return real(*a, **k)

    S.build_spine = counting
    try:
        res = band_sensitivity(con, COHORTS, places=True)
    finally:
        S.build_spine = real
    assert sorted(calls) == ["high", "low"]  # the medium spine is used as it stands and not rebuilt afterwards
    after = _spine_snapshot(con)
    for k, df in before.items():  # the spine (its build time included) and the cohorts are the ones it had
        pd.testing.assert_frame_equal(df, after[k], obj=k)
    assert not [r for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
                if r[0].startswith(S._SAVED)]
    fast = {o.name: o for o in res.outputs}
    # the release lists the other bands first, then the starting band, as when every band was rebuilt
    assert [o.name.rsplit("_", 2)[-2] for o in res.outputs][-1] == "medium"
    ref = _per_band_by_rebuilding(con)
    assert set(fast) == set(ref)
    for name, o in ref.items():
        pd.testing.assert_frame_equal(fast[name].data, o.data, obj=name)
        pd.testing.assert_frame_equal(fast[name].symbols, o.symbols, obj=name)


def test_spine_put_back_when_a_band_fails(con, monkeypatch):
    before = con.execute("SELECT * FROM spine.spine_info").df()
    persons = con.execute("SELECT COUNT(*) FROM spine.person").fetchone()[0]
    real = S.build_cohort

    def failing(c, name, **k):
        if k.get("band") == "low":
            raise RuntimeError("boom")
        return real(c, name, **k)

    monkeypatch.setattr(S, "build_cohort", failing)
    with pytest.raises(RuntimeError):
        band_sensitivity(con, COHORTS[:1], places=False)
    pd.testing.assert_frame_equal(con.execute("SELECT * FROM spine.spine_info").df(), before)
    assert con.execute("SELECT COUNT(*) FROM spine.person").fetchone()[0] == persons
    assert spine_state(con) == (AS_AT, "medium")


def test_stale_spine_is_rebuilt_at_every_band(con):
    # another as-at date than the spine's: nothing can be reused, every band is built and the spine rebuilt after
    other = date(2023, 12, 31)
    assert not S._reusable(con, other, "medium")
    res = band_sensitivity(con, COHORTS[:1], places=False, as_at=other, bands=("high", "medium"))
    assert spine_state(con) == (AS_AT, "medium")
    assert set(res.published[COHORTS[0]]) == {"high", "medium"}


def test_extract_frozen_memo_is_scoped(con):
    calls = []

    def compute():
        calls.append(1)
        return {"x": 1}

    assert frozen_memo(con, ("k",), compute) == {"x": 1}
    assert frozen_memo(con, ("k",), compute) == {"x": 1}
    assert len(calls) == 2  # outside the block: always computed
    with extract_frozen():
        frozen_memo(con, ("k",), compute)
        frozen_memo(con, ("k",), compute)
        a = inputs_fingerprint(con)
        a["mutated"] = "yes"  # a caller changing its copy does not change the memo
        assert "mutated" not in inputs_fingerprint(con)
    assert len(calls) == 3
    assert inputs_fingerprint(con) == {k: v for k, v in a.items() if k != "mutated"}
