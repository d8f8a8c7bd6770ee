"""The truth behind a release, for tests: the same tables built from the same data with a permissive rule set
(nothing suppressed, nothing rounded), written and read back in the same layout as the release.

This is the one module of the attacker that uses the toolkit, and only to build tables; the attacks never see it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bold_prevention.outputs import check_counts, get_rules, write_results

from .reader import truth_values

# survival steps are grouped by the number of events (the count threshold by default): keep the release's grouping
PERMISSIVE = get_rules("default", name="permissive", threshold=1, round_base=None, zeros_disclosive=False,
                       secondary=False, survival_min_events=get_rules("default").survival_events)


def truth_from_outputs(outputs, folder: str | Path, release_id: str) -> dict[tuple[str, str, str, str], float]:
    """Write permissive checked outputs to ``folder`` and read every cell back, keyed like findings."""
    write_results(list(outputs), folder, overwrite=True)
    return truth_values(folder, release_id)


def cohort_place_outputs(con, cohorts, *, rules=PERMISSIVE, overlap: bool = True) -> list:
    """The cohort profiles, places prevalence and overlap tables, as ``bold demo``, ``bold cohort profile`` and
    ``bold places prevalence`` build them."""
    from bold_prevention.cohorts.release import cohort_outputs, overlap_outputs, places_outputs

    outs: list = []
    for c in cohorts:
        outs += cohort_outputs(con, c, rules=rules)[0]
    outs += places_outputs(con, rules=rules)[0]
    if overlap:
        outs.append(overlap_outputs(con, rules=rules)[0])
    return outs


def demo_outputs(con, *, rules=PERMISSIVE) -> list:
    """The count and survival tables of the ``bold demo`` release (everything but the early-warning models)."""
    from bold_prevention.pipeline.stages import DEFAULT_COHORTS, FUNNELS, SURVIVAL
    from bold_prevention.trajectories.export import checked_outputs
    from bold_prevention.trajectories.pathways import funnel
    from bold_prevention.trajectories.survival import ANALYSES, durations

    outs = cohort_place_outputs(con, DEFAULT_COHORTS, rules=rules)
    for name in FUNNELS:
        outs += checked_outputs("funnel", funnel(con, name), title=f"Funnel: {name}", rules=rules)
    for name in SURVIVAL:
        a = ANALYSES[name]
        d = durations(con, start=a.start, event=a.event)
        if len(d):
            outs += checked_outputs("survival", d, title=a.title, rules=rules)
    df = con.execute("""
        select coalesce(r.band_joined, 'not linked') as band, coalesce(l.sex, 'U') as sex, count(*) as n
        from linkage.identity_la_residents l
        left join spine.person_record r on r.source_table = 'la_residents' and r.record_id = l.resident_id
        group by 1, 2""").df()
    if len(df):
        outs.append(check_counts(pd.DataFrame(df), "n", "band", "sex", rules=rules,
                                 title="Local-authority residents linked to the justice spine, by band and sex"))
    return outs
