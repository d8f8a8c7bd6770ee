"""Score a cohort against a synthetic population's truth: precision, recall and F1 of its membership.

The truth-based cohort is the same spec evaluated on :func:`bold_prevention.spine.validity.truth_spine` (true
persons, their latent needs, true age and criminal-justice contact from their true records) instead of
``spine.person``. Both sides are restricted to people with an OASys assessment on or before the as-at date, the
people whose needs the Data First proxies can observe. Spine members are mapped to their modal true person.
Specs whose rules read only spine fields (``where:``) can be scored this way.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..spine.validity import load_truth, population_column, spine_truth_map, truth_spine
from .build import _rows, cohort_table
from .compile import _spine_columns_used, compile_cohort
from .spec import CohortSpec, load_spec

__all__ = ["cohort_validity"]


def _where_only(spec: CohortSpec) -> bool:
    def leaf_ok(c) -> bool:
        return (c.where is not None) or (c.group is not None and all(leaf_ok(x) for x in c.of))

    return not spec.entry_events and all(leaf_ok(r.criterion) for r in (*spec.inclusion, *spec.exclusion))


def cohort_validity(con, spec: str | Path | dict | CohortSpec, truth_dir: str | Path, *,
                    population: str = "oasys") -> dict:
    """Precision, recall and F1 of a built cohort's membership against the truth-based cohort.

    ``population``: ``oasys`` (people with any OASys record) or ``oasys_full`` (a layer 1 or layer 3 assessment).
    """
    has = population_column(population)
    spec = spec if isinstance(spec, CohortSpec) else load_spec(spec)
    if not _where_only(spec):
        raise InputError(f"cohort {spec.name} uses entry or window events; only spine-field cohorts can be scored "
                         "against the truth", hint="score cohorts defined by where: rules over spine fields")
    as_at = _rows(con, "SELECT as_at_date FROM spine.spine_info")[0][0]
    load_truth(con, truth_dir)
    truth_spine(con, as_at)
    spine_truth_map(con)
    tcols = {r[0] for r in _rows(con, "SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = '_truth_spine'")}
    used = {c for r in (*spec.inclusion, *spec.exclusion) for c in _spine_columns_used(r.criterion)}
    missing = sorted(used - tcols)
    if missing:
        raise InputError(f"cohort {spec.name} reads {', '.join(missing)}, which the truth does not hold",
                         hint=f"truth fields: {', '.join(sorted(tcols))}")
    steps = compile_cohort(spec, as_at, person_table="_truth_spine")
    for s in steps:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {s.name} AS {s.sql}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _truth_cohort AS SELECT DISTINCT c.person_id FROM {steps[-1].name} c "
                f"JOIN _truth_spine t ON t.person_id = c.person_id WHERE t.{has}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _spine_cohort AS SELECT DISTINCT m.truth_person_id AS person_id "
                f"FROM {cohort_table(spec.name)} c JOIN spine.person sp ON sp.person_id = c.person_id "
                f"JOIN _spine_truth m ON m.person_id = c.person_id WHERE sp.{has}")
    n_s, n_t, n_both = _rows(con, """
SELECT (SELECT COUNT(*) FROM _spine_cohort), (SELECT COUNT(*) FROM _truth_cohort),
       (SELECT COUNT(*) FROM _spine_cohort s JOIN _truth_cohort t ON t.person_id = s.person_id)""")[0]
    for s in steps:
        con.execute(f"DROP TABLE IF EXISTS {s.name}")
    precision = n_both / n_s if n_s else None
    recall = n_both / n_t if n_t else None
    f1 = 2 * n_both / (n_s + n_t) if (n_s + n_t) else None
    return {"cohort": spec.name, "spine_members": int(n_s), "truth_members": int(n_t), "both": int(n_both),
            "precision": precision, "recall": recall, "f1": f1,
            "population": {"oasys": "persons with an OASys record on or before the as-at date",
                           "oasys_full": "persons with a full (layer 1 or 3) OASys assessment on or before the "
                                         "as-at date"}[population]}
