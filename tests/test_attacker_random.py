"""Random releases against the intruder of ``tests/attacker``: no published release, alone or beside a related one,
may let the intruder pin a small count.

A disclosure is a suppressed count whose bound (from the published files only) is at most 4 wide, holds the true
value, and that true value is under the threshold. The truth comes from the same tables checked with a permissive
rule set. These properties state what disclosure control must achieve; the counter-examples hypothesis finds are
the cases it does not.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from attacker import (
    LinearAttack,
    differencing_attack,
    disclosures,
    km_attack,
    load_release,
    lp_attack,
    unsound,
)
from attacker.truth import PERMISSIVE, truth_from_outputs
from bold_prevention.errors import DisclosureError
from bold_prevention.outputs import check_frequency_table, get_rules, survival_table, write_release
from bold_prevention.outputs.ledger import ReleaseLedger

RULES = {"default": get_rules("default"), "ons_10_5": get_rules("ons_10_5")}
# Shrinking a failure re-publishes hundreds of releases (minutes): only when asked, to study a counter-example.
PHASES = tuple(Phase) if os.environ.get("BOLD_ATTACK_SHRINK") else (Phase.explicit, Phase.reuse, Phase.generate)
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

small_counts = st.one_of(st.integers(0, 9), st.integers(0, 9), st.integers(0, 40))


@st.composite
def count_tables(draw, min_rows: int = 2, max_rows: int = 8, min_cols: int = 2, max_cols: int = 6) -> np.ndarray:
    r = draw(st.integers(min_rows, max_rows))
    c = draw(st.integers(min_cols, max_cols))
    vals = draw(st.lists(small_counts, min_size=r * c, max_size=r * c))
    return np.array(vals, dtype=float).reshape(r, c)


def frame(values: np.ndarray, named: bool = True) -> pd.DataFrame:
    r, c = values.shape
    return pd.DataFrame(values, index=pd.Index([f"area {i}" for i in range(r)], name="Area" if named else None),
                        columns=pd.Index([f"group {j}" for j in range(c)], name="Group" if named else None))


def publish(folder: Path, tables: dict[str, np.ndarray], rules, named: bool = True, ledger=None) -> None:
    """Release the tables; releases of one project share its ledger (as every release command does)."""
    outs = [check_frequency_table(frame(v, named), title=f"Persons by area and group ({name})", name=name,
                                  rules=rules) for name, v in tables.items()]
    try:
        write_release(outs, folder, title="Random release", charts=False, ledger=ledger)
    except DisclosureError:
        pass  # refused, with nothing written: an attacker gets nothing from it


def truth_of(folder: Path, rid: str, tables: dict[str, np.ndarray], named: bool = True) -> dict:
    outs = [check_frequency_table(frame(v, named), title=f"Persons by area and group ({name})", name=name,
                                  rules=PERMISSIVE) for name, v in tables.items()]
    return truth_from_outputs(outs, folder, rid)


def explain(found, truth) -> str:
    return "\n".join(f"{f} truth={truth.get(f.key)}" for f in found)


@SETTINGS
@given(values=count_tables(), profile=st.sampled_from(sorted(RULES)), named=st.booleans())
def test_one_table_hides_its_small_counts(values, profile, named):
    """One table with totals (its row and column variables named, or a plain frame of counts)."""
    rules = RULES[profile]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        publish(tmp / "r1", {"t": values}, rules, named)
        truth = truth_of(tmp / "truth", "r1", {"t": values}, named)
        rel = load_release(tmp / "r1", "r1")
        attack = LinearAttack([rel])
        assert not attack.violations(truth), "the intruder's reading of the release is wrong"
        found = attack.run()
    assert not unsound(found, truth), explain(unsound(found, truth), truth)
    bad = disclosures(found, truth, rules.threshold)
    assert not bad, f"table\n{values.astype(int)}\n{profile}:\n{explain(bad, truth)}"


@st.composite
def related_releases(draw) -> list[np.ndarray]:
    base = draw(count_tables(max_rows=6, max_cols=5))
    k = draw(st.integers(2, 3))
    out = [base]
    for _ in range(k - 1):
        delta = np.array(draw(st.lists(st.integers(-3, 3), min_size=base.size, max_size=base.size)),
                         dtype=float).reshape(base.shape)
        out.append(np.maximum(base + delta, 0))
    return out


@SETTINGS
@given(versions=related_releases(), profile=st.sampled_from(sorted(RULES)))
def test_related_releases_do_not_difference(versions, profile):
    """The same table published again with a few counts changed (another linkage band, a later snapshot)."""
    rules = RULES[profile]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        truth: dict = {}
        rels = []
        ledger = ReleaseLedger(tmp / "ledger")
        for n, v in enumerate(versions):
            rid = f"r{n}"
            publish(tmp / rid, {"t": v}, rules, ledger=ledger)
            if not (tmp / rid).exists():
                continue
            truth.update(truth_of(tmp / f"truth{n}", rid, {"t": v}))
            rels.append(load_release(tmp / rid, rid))
        own = lp_attack(rels)
        found = own + differencing_attack(rels, own=own)
    bad = disclosures(found, truth, rules.threshold)
    tables = "\n\n".join(str(v.astype(int)) for v in versions)
    assert not bad, f"tables\n{tables}\n{profile}:\n{explain(bad, truth)}"


@st.composite
def nested_tables(draw) -> tuple[np.ndarray, np.ndarray]:
    sup = draw(count_tables(max_rows=6, max_cols=5))
    frac = np.array(draw(st.lists(st.floats(0, 1), min_size=sup.size, max_size=sup.size))).reshape(sup.shape)
    return sup, np.floor(sup * frac)


@SETTINGS
@given(pair=nested_tables(), profile=st.sampled_from(sorted(RULES)), together=st.booleans())
def test_cohort_and_sub_cohort(pair, profile, together):
    """A cohort and a sub-cohort of it, in one release or in two releases from the same data."""
    sup, sub = pair
    rules = RULES[profile]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if together:
            publish(tmp / "r1", {"cohort_area": sup, "cohort_4plus_area": sub}, rules)
            truth = truth_of(tmp / "truth", "r1", {"cohort_area": sup, "cohort_4plus_area": sub})
            rels = [load_release(tmp / "r1", "r1")]
            groups = None
        else:
            ledger = ReleaseLedger(tmp / "ledger")
            publish(tmp / "r1", {"cohort_area": sup}, rules, ledger=ledger)
            publish(tmp / "r2", {"cohort_4plus_area": sub}, rules, ledger=ledger)
            truth = truth_of(tmp / "truth1", "r1", {"cohort_area": sup})
            truth.update(truth_of(tmp / "truth2", "r2", {"cohort_4plus_area": sub}))
            rels = [load_release(tmp / "r1", "r1"), load_release(tmp / "r2", "r2")]
            groups = [{"r1", "r2"}]
        attack = LinearAttack(rels, same_data=groups, nested={"cohort_4plus": "cohort"},
                              nested_tables=[("cohort_4plus_area", "cohort_area")])
        assert not attack.violations(truth)
        found = attack.run()
    bad = disclosures(found, truth, rules.threshold)
    assert not bad, f"cohort\n{sup.astype(int)}\nsub-cohort\n{sub.astype(int)}\n{profile}:\n{explain(bad, truth)}"


@st.composite
def survival_data(draw) -> pd.DataFrame:
    n = draw(st.integers(12, 60))
    times = draw(st.lists(st.integers(1, 400), min_size=n, max_size=n))
    events = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return pd.DataFrame({"days": times, "event": [int(e) for e in events]})


@settings(max_examples=30, deadline=None, derandomize=True, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])
@given(data=survival_data())
def test_survival_curve_cannot_be_inverted(data):
    """The Kaplan-Meier table: its survival column must not pin the events of a step more finely than they are
    published."""
    rules = RULES["default"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = survival_table(data, "days", "event", title="Time to the next event", name="km", rules=rules)
        write_release([out], tmp / "r1", title="Survival", charts=False)
        truth = truth_from_outputs([survival_table(data, "days", "event", title="Time to the next event",
                                                   name="km", rules=PERMISSIVE)], tmp / "truth", "r1")
        found = km_attack(load_release(tmp / "r1", "r1"))
    assert not unsound(found, truth), explain(unsound(found, truth), truth)
    bad = disclosures(found, truth, rules.threshold)
    assert not bad, f"{data.sort_values('days').to_dict('list')}\n{explain(bad, truth)}"
