"""Pathway results leave only through disclosure control: small cells suppressed, counts rounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bold_prevention.errors import InputError
from bold_prevention.outputs import CheckedOutput
from bold_prevention.trajectories.export import checked_outputs, export_table


def test_small_sequence_counts_are_suppressed_and_the_rest_rounded():
    df = pd.DataFrame({"sequence": ["mags", "mags > crown", "civil"], "length": [1, 2, 1], "persons": [123, 4, 57],
                       "share": [0.67, 0.02, 0.31]})
    [t] = checked_outputs("sequences", df, title="Sequences")
    assert isinstance(t, CheckedOutput)
    sym = t.symbols.iloc[:, 0]
    assert sym["mags > crown"] == "[c]"
    assert t.data.iloc[:, 0]["mags"] % 5 == 0 and t.data.iloc[:, 0]["civil"] % 5 == 0


def test_funnel_conversion_is_suppressed_with_its_counts():
    df = pd.DataFrame({"stage": [1, 2, 3, 4], "name": ["Claim", "Order", "Warrant", "Repossession"],
                       "persons": [400, 220, 30, 6]})
    reached, conversion = checked_outputs("funnel", df, title="Possession funnel")
    assert reached.symbols.iloc[3, 0] == "[c]"
    assert conversion.symbols.iloc[3, 0] == "[c]"
    assert conversion.data.iloc[1, 0] == pytest.approx(220 / 400 * 100, abs=2)


def test_transitions_and_survival_checked(tmp_path):
    tr = pd.DataFrame({"from_state": ["mags", "mags", "prison", "prison"], "to_state": ["crown", "prison", "mags",
                                                                                       "probation"],
                       "transitions": [200, 3, 150, 90], "persons": [180, 3, 140, 90], "rate": [0.98, 0.02, 0.6, 0.4],
                       "median_days": [30, 40, 200, 0]})
    counts, shares = checked_outputs("transitions", tr, title="Transitions")
    assert (counts.symbols == "[c]").any().any()
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"person_id": [f"p{i}" for i in range(300)], "group": "All",
                      "duration": rng.integers(1, 900, 300).astype(float), "observed": rng.random(300) < 0.6})
    paths = export_table("survival", d, title="Time to court", folder=tmp_path / "out")
    assert all(p.exists() for p in paths)
    text = (tmp_path / "out" / "output-checking").joinpath("results.json").read_text()
    assert "p1" not in text.replace("p-ratio", "")
    with pytest.raises(InputError, match="unknown kind"):
        checked_outputs("histogram", d, title="x")
