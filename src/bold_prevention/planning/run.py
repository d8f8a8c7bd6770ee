"""Run a use case (``bold usecase run``): build its cohort and publish its measures and outcomes as one release.

The release holds the cohort's attrition and profile (:func:`bold_prevention.cohorts.release.cohort_outputs`), the
prevalence of each driver the use case names among the cohort (per 100 assessed, by area:
:func:`~bold_prevention.cohorts.release.places_outputs`) and, when ``bold spine outcomes`` has run, the share of the
cohort with each outcome it names (per 100 with the outcome measured). Everything goes through the one release
writer, audited with the project's earlier releases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..cohorts import build_cohort
from ..cohorts.release import cohort_outputs, places_outputs, spine_version, write_checked_release
from ..outputs import check_counts, rate_table
from ..warehouse.engine import sql_literal, table_exists
from .usecase import UseCaseSchema


@dataclass
class UseCaseRun:
    cohort: str
    persons: int
    release: Path | None
    notes: list[str] = field(default_factory=list)


def _outcome_outputs(con, uc: UseCaseSchema, cohort: str, rules=None) -> tuple[list, list[str]]:
    if not uc.outcomes:
        return [], []
    if not table_exists(con, "spine", "person_outcome"):
        return [], [f"outcomes {', '.join(uc.outcomes)} not published: spine.person_outcome is not built "
                    "(run `bold spine outcomes --as-at YYYY-MM-DD --window 12m` first)"]
    from ..cohorts.build import cohort_table

    names = ", ".join(sql_literal(o) for o in uc.outcomes)
    df = con.execute(f"""SELECT o.outcome AS Outcome, SUM(CASE WHEN o.value THEN 1 ELSE 0 END) AS k,
       COUNT(o.value) AS measured
FROM spine.person_outcome o JOIN (SELECT DISTINCT person_id FROM {cohort_table(cohort)}) c USING (person_id)
WHERE o.measure = 'outcome' AND o.outcome IN ({names}) GROUP BY o.outcome""").fetchdf()
    df = (pd.DataFrame({"Outcome": list(uc.outcomes)}).merge(df, on="Outcome", how="left").fillna(0))
    ver = spine_version(con)
    levels = {"Outcome": list(uc.outcomes)}
    num = check_counts(df, "k", "Outcome", title=f"Cohort {cohort}: persons with each outcome",
                       name=f"{uc.name}_outcomes", rules=rules, margins=False, levels=levels, value_label="Persons",
                       measure_dims=["Outcome"], population=f"cohort:{cohort}:outcome_{{Outcome}}@{ver}")
    den = check_counts(df, "measured", "Outcome", title=f"Cohort {cohort}: persons with each outcome measured",
                       name=f"{uc.name}_outcomes_measured", rules=rules, margins=False, levels=levels,
                       value_label="Persons", measure_dims=["Outcome"],
                       population=f"cohort:{cohort}:outcome_measured_{{Outcome}}@{ver}")
    rate = rate_table(num, den, title=f"Cohort {cohort}: outcomes per 100 with the outcome measured",
                      name=f"{uc.name}_outcomes_rate", per=100)
    return [num, den, rate], []


def run_use_case(con, uc: UseCaseSchema, out: str | Path | None = None, *, rules=None, ledger=None,
                 overwrite: bool = False, rebuild_spine: bool = False) -> UseCaseRun:
    """Build ``uc``'s cohort over the current spine and, with ``out``, write its disclosure-checked release."""
    res = build_cohort(con, uc.cohort, as_at=uc.as_at, band=uc.band, rebuild_spine=rebuild_spine)
    name = res.name
    run = UseCaseRun(name, res.persons, None)
    if out is None:
        return run
    outs, texts = cohort_outputs(con, name, rules=rules)
    if uc.drivers:
        p_outs, p_texts = places_outputs(con, drivers=list(uc.drivers), cohort=name, rules=rules)
        outs += p_outs
        texts += p_texts
    o_outs, notes = _outcome_outputs(con, uc, name, rules)
    outs += o_outs
    run.notes += notes
    texts = [("Question", uc.question), *texts, *(("Not published", n) for n in notes)]
    run.release = write_checked_release(outs, out, title=f"Use case: {uc.name}", texts=texts, overwrite=overwrite,
                                        command=f"bold usecase run {uc.name}", ledger=ledger)
    return run
