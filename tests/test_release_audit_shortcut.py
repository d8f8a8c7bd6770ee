"""The release-wide audit's shortcut (a cell shown protected by integer solutions met while bounding other cells is
not solved itself) decides exactly as solving every cell would."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.outputs import audit as A
from bold_prevention.outputs import check_counts, rate_table


def _outputs(seed: int, n: int, las: int) -> list:
    rng = np.random.default_rng(seed)
    people = pd.DataFrame({"la": rng.choice([f"LA{i}" for i in range(las)], n),
                           "sex": rng.choice(["F", "M"], n), "age": rng.choice(["18-24", "25-49", "50+"], n)})
    a = check_counts(people.assign(n=1), "n", "la", "sex", title="By sex", population="people@v1")
    b = check_counts(people.assign(n=1), "n", "la", "age", title="By age", population="people@v1")
    k = rng.integers(0, 40, las)
    df = pd.DataFrame({"la": [f"LA{i}" for i in range(las)], "k": k, "n": k + rng.integers(0, 300, las)})
    num = check_counts(df, "k", "la", title="Need", population="need@1")
    den = check_counts(df, "n", "la", title="Assessed", population="assessed@1")
    return [a, b, num, den, rate_table(num, den, title="Prevalence")]


def _audit(outs, width: float, shortcut: bool):
    real = A._solve_bounds

    def solve(model, targets, report, w=None):
        return real(model, targets, report, w if shortcut else None)

    A._solve_bounds = solve
    try:
        return A.audit_system(A.system_of(outs), width=width)
    finally:
        A._solve_bounds = real


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(30, 400), las=st.integers(2, 8),
       width=st.sampled_from([1.0, 3.0, 5.0, 10.0, 40.0]))
def test_shortcut_finds_exactly_the_cells_full_solving_finds(seed, n, las, width):
    outs = _outputs(seed, n, las)
    full = _audit(outs, width, shortcut=False)
    fast = _audit(outs, width, shortcut=True)
    assert full.certified == 0
    assert [(f.key, f.lower, f.upper) for f in fast.findings] == [(f.key, f.lower, f.upper) for f in full.findings]
    assert fast.targets == full.targets
    # two solves saved per cell shown protected; at most a few more per linked group (signed sums and lifts)
    extra = fast.lp_solves - (full.lp_solves - 2 * fast.certified)
    assert 0 <= extra <= (2 * A.PRESOLVE_DIRECTIONS + 2) * full.components


def test_shortcut_saves_solves_on_a_release_with_many_suppressed_cells():
    outs = _outputs(3, 200, 12)
    full = _audit(outs, 5.0, shortcut=False)
    fast = _audit(outs, 5.0, shortcut=True)
    assert fast.targets > 0 and fast.certified > 0
    assert fast.lp_solves < full.lp_solves
