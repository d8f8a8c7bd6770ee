"""No unrounded count in a model card: every count in the card (JSON and markdown) and in the notes of its release
is rounded or withheld, and every prevalence is withheld or published over a protected denominator at a precision
that cannot give its count back."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.early_warning import export as X
from bold_prevention.early_warning import train as E
from bold_prevention.outputs import get_rules, magnitude_table
from bold_prevention.outputs.figures import protected_count, protected_share, share_step
from bold_prevention.project import Project
from helpers_trajectories import ew_world

RULES = get_rules()
BASE, THRESHOLD = RULES.round_base, RULES.threshold

#: keys whose numbers are counts of people, events or rows
COUNT_KEY = re.compile(r"^(n|events|persons|index_events|observed_index_events|n_train|n_test|test_rows|matched|"
                       r"cases|rows|training|test)$")
#: keys whose numbers are shares, with the key of their published denominator beside them
SHARE_DENOMINATOR = {"prevalence": "n", "train_prevalence": "n_train", "label_agreement": "matched"}


@pytest.fixture(scope="module")
def card_folder(tmp_path_factory):
    world = ew_world(1500, seed=11, false_merge_rate=0.05)
    root = tmp_path_factory.mktemp("cards")
    truth = root / "truth_outcomes.parquet"
    world.truth_outcomes.to_parquet(truth)
    proj = Project.at(root / "project").ensure()
    report = E.train(world.wh.con, "reoffending_12m_after_release", project=proj, truth=truth, n_boot=20)
    return report


def _is_protected_count(v) -> bool:
    return v is None or (isinstance(v, int) and not isinstance(v, bool) and v % BASE == 0 and v >= THRESHOLD)


def _walk(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, (*path, str(k)))
            yield path, str(k), v, obj
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, (*path, str(i)))


def test_every_count_in_the_card_is_rounded_or_withheld(card_folder):
    card = json.loads((card_folder.folder / "model_card.json").read_text())
    seen = 0
    for path, key, value, _ in _walk(card):
        if COUNT_KEY.match(key) and not isinstance(value, dict | list | str):
            seen += 1
            assert _is_protected_count(value), f"{'/'.join(path)}/{key} = {value!r} is not a protected count"
    assert seen >= 20  # the scan found the card's counts (data, evaluation, subgroups, bands, oracle)
    data = card["data"]
    assert data["persons"] and data["index_events"] and data["n_train"]


def test_every_share_has_a_protected_denominator_and_cannot_give_its_count_back(card_folder):
    card = json.loads((card_folder.folder / "model_card.json").read_text())
    found = 0
    for path, key, value, parent in _walk(card):
        if re.search(r"prevalence|agreement|share|percent", key) and not isinstance(value, dict | list | str):
            assert key in SHARE_DENOMINATOR, f"{'/'.join(path)}/{key}: a share with no known denominator"
            if value is None:
                continue
            found += 1
            den = parent[SHARE_DENOMINATOR[key]]
            assert den is not None and _is_protected_count(den), f"{key}: denominator {den!r} is not protected"
            # computed from the published counts (no more than they say), or on the grid set by the denominator
            num = parent.get("events") if key == "prevalence" else None
            if num is not None:
                assert value == round(num / den, 3)
            else:
                step = share_step(den, RULES)
                assert abs(value / step - round(value / step)) < 1e-6, f"{key} = {value} is finer than {step}"
                assert step * den >= 2 * BASE
    assert found >= 2


def test_the_markdown_card_shows_only_protected_counts(card_folder):
    md = (card_folder.folder / "model_card.md").read_text()
    # sentences: "N index events, M outcomes", "On N test index events", list items "- persons: N"
    numbers = re.findall(r"(\d[\d,]*) (?:test )?(?:index events|outcomes|persons|cases|observations|rows)", md)
    numbers += re.findall(r"^- (?:index events|observed index events|persons|n train): (\d[\d,]*|\[c\])$", md, re.M)
    assert len(numbers) >= 5
    for n in numbers:
        assert n == "[c]" or _is_protected_count(int(n.replace(",", ""))), n
    # table columns headed n or outcomes
    for block in re.findall(r"(\|[^\n]*\|\n\|[-|]+\|\n(?:\|[^\n]*\|\n?)+)", md):
        lines = block.strip().splitlines()
        head = [h.strip() for h in lines[0].strip("|").split("|")]
        cols = [i for i, h in enumerate(head) if h in ("n", "outcomes")]
        for line in lines[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            for i in cols:
                assert cells[i] == "[c]" or _is_protected_count(int(cells[i].replace(",", ""))), line


def test_release_notes_carry_only_rounded_counts(card_folder):
    results = json.loads((card_folder.folder / "release" / "output-checking" / "results.json").read_text())
    notes = [c for r in results["results"].values() for c in r["comments"]]
    counted = [int(m.replace(",", "")) for c in notes for m in re.findall(r"(?:Based on|Fitted on) ([\d,]+)", c)]
    assert counted
    assert all(n % BASE == 0 and n >= THRESHOLD for n in counted)


def test_reliability_intervals_come_from_published_figures(card_folder):
    rel = card_folder.card["evaluation"]["primary"]["reliability"]
    shown = [r for r in rel if "withheld" not in r]
    assert shown
    for r in shown:
        lo, hi = X.observed_interval(r["observed"], r["n"])
        assert (round(lo, 4), round(hi, 4)) == (r["observed_lower"], r["observed_upper"])
        assert r["observed_lower"] <= r["observed"] <= r["observed_upper"]


# --- the figures rules on their own ------------------------------------------------------------------------------------

def _window(published: float, base: int) -> range:
    return range(max(math.ceil(published - base / 2), 0), math.ceil(published + base / 2))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3000), st.integers(1, 3000))
def test_a_share_never_gives_its_count_back(x, n):
    x = min(x, n)
    sh = protected_share(x, n, RULES)
    if RULES.is_low(x) or RULES.is_low(n) or RULES.is_low(n - x):
        assert sh is None
        return
    assert sh is not None
    n_pub = RULES.round_count(n)
    assert protected_count(n, RULES) == n_pub
    # the attacker: every numerator that rounds to the published share over some denominator in n's window
    candidates = {x2 for n2 in _window(n_pub, BASE) if n2 > 0 for x2 in range(0, n2 + 1)
                  if round(math.floor(x2 / n2 / sh.step + 0.5) * sh.step, sh.decimals) == sh.value}
    assert x in candidates
    assert max(candidates) - min(candidates) >= 2 * BASE - 1


def test_a_share_from_exact_counts_beside_its_rounded_numerator_would_narrow_it():
    """Why a share whose numerator is published too is computed from the published counts: from the exact counts it
    can cut the numerator's rounding window down to one value."""
    pinned = 0
    for n in range(200, 400):
        for x in range(40, 120):
            step = share_step(RULES.round_count(n), RULES)
            p = round(math.floor(x / n / step + 0.5) * step, 6)
            window = _window(RULES.round_count(x), BASE)
            left = {x2 for x2 in window for n2 in _window(RULES.round_count(n), BASE)
                    if round(math.floor(x2 / n2 / step + 0.5) * step, 6) == p}
            pinned += len(left) == 1
            # the share as published beside the count (from the published counts) narrows nothing
            sh = protected_share(x, n, RULES, numerator_published=True)
            assert sh.from_published_counts and sh.value == round(RULES.round_count(x) / RULES.round_count(n), 3)
    assert pinned > 0


def test_analysts_pages_sort_on_the_value_shown():
    from bold_prevention.app.released import table_view

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"la": rng.choice(["A", "B"], 400), "cost": rng.gamma(2.0, 1000.0, 400)})
    out = magnitude_table(df, "cost", "la", stat="mean", title="Mean cost", margins=False)
    view = table_view(out, table_id="t")
    for row in view.rows:
        for cell in row.cells:
            if cell.sort not in (None, "-1"):
                assert float(cell.sort) == float(cell.text.replace(",", ""))
