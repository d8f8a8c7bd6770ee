"""The intruder of ``tests/attacker`` against the releases of one project: ``bold demo`` (spine at the medium linkage
band) and a second release of the same cohorts and places at the high band, audited with the first through the
project's ledger as ``bold cohort profile --out`` and ``bold places prevalence --out`` do.

No suppressed count may be pinned (bound at most 4 wide, holding a true value under the threshold) by any attack, on
either release or across both. The last tests plant weak releases and check the intruder finds them, so a pass
above means something.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attacker import (
    Finding,
    LinearAttack,
    checker_files_attack,
    definitely_small,
    differencing_attack,
    disclosures,
    km_attack,
    load_release,
    lp_attack,
    unsound,
)
from attacker.truth import PERMISSIVE, cohort_place_outputs, demo_outputs, truth_from_outputs
from bold_prevention.outputs import check_frequency_table, get_rules, write_results

PERSONS = 3000
THRESHOLD = 10


def _ledger(project):
    try:
        from bold_prevention.outputs.ledger import ReleaseLedger
    except ImportError:  # before the ledger existed
        return None
    return ReleaseLedger.for_project(project)


@pytest.fixture(scope="module")
def project_releases(tmp_path_factory):
    """Two releases of one synthetic project and the truth behind each (permissive rule set, same data)."""
    from bold_prevention.cohorts import build_cohort
    from bold_prevention.cohorts.release import write_checked_release
    from bold_prevention.pipeline import DEFAULT_COHORTS
    from bold_prevention.pipeline.demo import AS_AT, run_demo
    from bold_prevention.pipeline.stages import RELEASES_FOLDER
    from bold_prevention.project import Project
    from bold_prevention.spine import build_spine
    from bold_prevention.warehouse.engine import duckdb_connect

    root = tmp_path_factory.mktemp("attack")
    res = run_demo(root / "demo", persons=PERSONS, seed=42)
    project = Project(res.project)
    work = root / "work"
    work.mkdir()
    con = duckdb_connect(project, read_only=False)
    try:
        band = con.execute("SELECT band FROM spine.spine_info").fetchall()[0][0]
        assert band == "medium"
        truth = truth_from_outputs(demo_outputs(con), work / "truth-medium", "medium")
        build_spine(con, as_at=AS_AT, band="high")
        for spec in DEFAULT_COHORTS:
            build_cohort(con, spec)
        outs = cohort_place_outputs(con, DEFAULT_COHORTS, rules=None)
        kw = {"ledger": _ledger(project)} if _ledger(project) is not None else {}
        high = write_checked_release(outs, root / "high-band-release", title="Cohorts and places (high band)",
                                     command="bold cohort profile; bold places prevalence", **kw)
        truth.update(truth_from_outputs(cohort_place_outputs(con, DEFAULT_COHORTS), work / "truth-high", "high"))
    finally:
        con.close()
    # the demo's releases (one per question) were made from one spine: one release id, as one release before
    demo = sorted(p for p in (project.outputs_dir / RELEASES_FOLDER).iterdir() if p.is_dir())
    releases = [load_release(f, "medium") for f in demo] + [load_release(high, "high")]
    return releases, truth


def _report(found: list[Finding], truth: dict) -> str:
    return "\n".join(f"{f} truth={truth.get(f.key)}" for f in found[:40]) + (
        f"\n... and {len(found) - 40} more" if len(found) > 40 else "")


def test_intruder_reads_the_releases_correctly(project_releases):
    """The intruder's assumptions (rounding intervals, thresholds, totals, links between tables) hold for the true
    values: otherwise a clean result below would mean nothing."""
    releases, truth = project_releases
    assert all(r.tables for r in releases)
    attack = LinearAttack(releases)
    assert not attack.violations(truth), "\n".join(attack.violations(truth)[:20])


def test_no_suppressed_count_is_pinned(project_releases):
    releases, truth = project_releases
    own = lp_attack(releases)
    found = own + km_attack(releases) + differencing_attack(releases, own=own)
    assert not unsound([f for f in found if f.attack != "differencing"], truth)
    bad = disclosures(found, truth, THRESHOLD)
    assert not bad, f"{len(bad)} small counts pinned:\n{_report(bad, truth)}"


def test_checking_files_do_not_reveal_values(project_releases):
    """The output-checking files travel inside the release folder: they must not say which cells are zeros or
    below the threshold."""
    releases, truth = project_releases
    found = checker_files_attack(releases)
    bad = disclosures(found, truth, THRESHOLD)
    assert not bad, f"{len(bad)} suppressed counts revealed by the checking files:\n{_report(bad, truth)}"


# --- the intruder finds what a weak release gives away ------------------------------------------------------------------

def test_intruder_finds_cells_without_secondary_suppression(tmp_path):
    counts = pd.DataFrame([[3, 25, 30], [20, 18, 40], [22, 31, 27]], index=["a", "b", "c"], columns=["x", "y", "z"])
    weak = get_rules("default", secondary=False, round_base=None)
    # the output-checking folder alone: a weak scheme without the release-wide audit of write_release
    write_results([check_frequency_table(counts, title="Weak", name="weak", rules=weak)], tmp_path / "r")
    truth = truth_from_outputs([check_frequency_table(counts, title="Weak", name="weak", rules=PERMISSIVE)],
                               tmp_path / "truth", "r")
    found = lp_attack(load_release(tmp_path / "r", "r"))
    bad = disclosures(found, truth, THRESHOLD)
    assert [(f.row, f.column, f.lower, f.upper) for f in bad] == [("a", "x", 3, 3)]
    assert definitely_small(bad[0], THRESHOLD)


def test_intruder_differences_two_releases(tmp_path):
    """A count of 8 suppressed in one release and 12 (published as 10) in the next pins it to [8, 12]."""
    a = pd.DataFrame([[8, 25, 30], [20, 18, 40], [22, 31, 27]], index=["a", "b", "c"], columns=["x", "y", "z"])
    b = a.copy()
    b.loc["a", "x"] = 12
    truth = {}
    for rid, counts in (("r1", a), ("r2", b)):
        write_results([check_frequency_table(counts, title="T", name="t")], tmp_path / rid)  # no release-wide audit
        truth.update(truth_from_outputs([check_frequency_table(counts, title="T", name="t", rules=PERMISSIVE)],
                                        tmp_path / f"truth-{rid}", rid))
    rels = [load_release(tmp_path / "r1", "r1"), load_release(tmp_path / "r2", "r2")]
    bad = disclosures(differencing_attack(rels), truth, THRESHOLD)
    assert ("r1", "t", "a", "x") in {f.key for f in bad}


def _km_steps(durations: np.ndarray, events: np.ndarray, leave: int) -> list[tuple[float, int, int, int, float]]:
    """A naive Kaplan-Meier table: a step once ``leave`` people left the risk set, the true survival beside it."""
    order = np.argsort(durations, kind="stable")
    t, e = durations[order], events[order]
    n, s = len(t), 1.0
    rows, d_acc, c_acc = [], 0, 0
    for time in np.unique(t):
        here = t == time
        d, removed = int(e[here].sum()), int(here.sum())
        s *= 1 - d / n
        d_acc += d
        c_acc += removed - d
        n_before = n
        n -= removed
        if d_acc + c_acc >= leave:
            rows.append((float(time), n_before, d_acc, c_acc, s))
            d_acc = c_acc = 0
    return rows


def _write_naive_release(folder: Path, name: str, frame: pd.DataFrame, kind: str, rules: dict) -> None:
    """A release folder in the toolkit's layout, written by hand (a weak scheme the toolkit would not produce)."""
    chk = folder / "output-checking"
    chk.mkdir(parents=True)
    frame.to_csv(chk / f"{name}.csv")
    outcome = {c: {str(r): "ok" for r in frame.index} for c in frame.columns}
    (chk / "results.json").write_text(json.dumps({"version": "1.0.2", "results": {name: {
        "uid": name, "type": "table", "properties": {"kind": kind, "title": name, "rule_set": "naive"},
        "files": [{"name": f"{name}.csv"}], "outcome": outcome}}}), encoding="utf-8")
    (chk / "config.json").write_text(json.dumps({"rule_sets": {"naive": rules}}), encoding="utf-8")


def test_intruder_inverts_a_survival_curve_published_with_exact_survival(tmp_path):
    rng = np.random.default_rng(3)
    durations = rng.integers(1, 300, size=45).astype(float)
    events = (rng.random(45) < 0.35).astype(int)
    steps = _km_steps(durations, events, leave=10)
    rules = {"threshold": 10, "round_base": 5, "zeros_disclosive": True, "survival_min_at_risk": 10}

    def rnd(x: float) -> int:
        return int(math.floor(x / 5 + 0.5) * 5)

    rows = [("All", 0.0, rnd(len(durations)), 0, 0, 1.0)]
    rows += [("All", time, rnd(n), rnd(d), rnd(c), round(s, 3)) for time, n, d, c, s in steps if n >= 10]
    frame = pd.DataFrame(rows, columns=["group", "Time (days)", "At risk", "Events", "Censored", "Survival"])
    frame = frame.set_index(["group", "Time (days)"])
    _write_naive_release(tmp_path / "naive", "km", frame, "survival", rules)
    truth = {("naive", "km", f"All / {time}", "Events"): float(d) for time, _n, d, _c, _s in steps}
    found = km_attack(load_release(tmp_path / "naive", "naive"))
    assert not unsound(found, truth), _report(unsound(found, truth), truth)
    bad = disclosures(found, truth, THRESHOLD)
    assert bad, "the intruder should pin the events of some step from the exact survival column"
