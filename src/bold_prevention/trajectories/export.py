"""Pathway and time-to-event results through disclosure control, and their export.

Sequences, transitions, flows and funnels are frequency tables (ACRO: frequencies, including Sankey flows):
counts are checked against the threshold, suppressed cells are protected from recovery through the totals, and
counts are rounded; conversion rates and transition shares are computed from the checked counts, so they are
suppressed wherever their numerator or denominator is. Kaplan-Meier curves are survival tables
(:mod:`bold_prevention.outputs.survival`): steps of at least the threshold of events, reported only while enough
people are at risk, counts rounded and survival recomputed from the published counts so the curve cannot be
inverted, with ACRO's own verdict recorded beside ours. Median days between stages are not exported (order
statistics of small groups can be disclosive); they stay in the analyst's console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from ..errors import InputError
from ..outputs import (
    CheckedOutput,
    check_counts,
    percentage_table,
    rate_table,
    survival_table,
    write_release,
)

Kind = Literal["sequences", "transitions", "flows", "funnel", "survival"]
KINDS = ("sequences", "transitions", "flows", "funnel", "survival")


def checked_outputs(kind: Kind, df: pd.DataFrame, *, title: str, rules=None) -> list[CheckedOutput]:
    """The disclosure-checked outputs of one pathway result (``df`` as the pathway function returned it; for
    ``survival``, the durations of :func:`bold_prevention.trajectories.survival.durations`)."""
    if kind == "sequences":
        t = check_counts(df.rename(columns={"sequence": "Sequence"}), "persons", "Sequence", title=title,
                         rules=rules, margins=False, levels={"Sequence": list(df["sequence"])},
                         value_label="Persons")
        return [t]
    if kind == "transitions":
        d = df.rename(columns={"from_state": "From", "to_state": "To"})
        counts = check_counts(d, "transitions", "From", "To", title=title, rules=rules, margins=True)
        return [counts, percentage_table(counts, of="row", title=f"{title}: share of transitions out of each state")]
    if kind == "flows":
        d = df.assign(From=df["step"].astype(str) + ": " + df["from_state"]).rename(columns={"to_state": "To"})
        return [check_counts(d, "persons", "From", "To", title=title, rules=rules, margins=False)]
    if kind == "funnel":
        names = list(df["name"])
        d = df.rename(columns={"name": "Stage"})
        reached = check_counts(d, "persons", "Stage", title=f"{title}: persons reaching each stage", rules=rules,
                               margins=False, levels={"Stage": names}, value_label="Persons")
        prev = d.assign(previous=d["persons"].shift(1).fillna(d["persons"].iloc[0]).astype(int))
        before = check_counts(prev, "previous", "Stage", title=f"{title}: persons at the previous stage",
                              rules=rules, margins=False, levels={"Stage": names}, value_label="Persons")
        conversion = rate_table(reached, before, per=100, title=f"{title}: conversion from the previous stage (%)",
                                decimals=1)
        return [reached, conversion]
    if kind == "survival":
        d = df.assign(observed=df["observed"].astype(int))
        return [survival_table(d, "duration", "observed", group="group", title=title, rules=rules)]
    raise InputError(f"unknown kind of pathway result {kind!r}", hint=f"use one of: {', '.join(KINDS)}")


def export_table(kind: Kind, df: pd.DataFrame, *, title: str, folder: str | Path, overwrite: bool = False,
                 rules=None, ledger=None) -> list[Path]:
    """Check a pathway result and write the release (HTML report, spreadsheet, output-checking folder), audited
    with the project's earlier releases when ``ledger`` is given."""
    outs = checked_outputs(kind, df, title=title, rules=rules)
    paths = write_release(outs, folder, title=title, overwrite=overwrite, command=f"bold pathways {kind}", ledger=ledger,
                          subtitle="Pathways through services, from linked justice records (spine.timeline)")
    return [paths.report, paths.spreadsheet, paths.checking]
