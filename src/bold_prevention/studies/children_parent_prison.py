"""Study 3: children with a parent in prison (the shape of "Estimates of children with a parent in prison").

The number of dependent children (under 18 in the year) with a parent in custody at some point in a calendar year:
custodial journeys (``prison_custodial_journey``) that overlap the year, linked to the spine, and the children the
spine relates to those parents (``spine.person_child``: Child Benefit claims, family court cases and NPD pupils at
the parent's address; see :mod:`bold_prevention.spine.children`). Each child is counted once, however many parents
were in prison. By the parent's region and the child's age band.

The interval carries linkage uncertainty (the count at each of the three bands, and at the strictest band with the
claim and court relations only, without the weak address relation) and sampling uncertainty (an exact Poisson
interval at each): the published interval is the union of those intervals.

Synthetic truth: the true children (``truth_child_parent``), under 18 in the year (``truth_person``), of the true
persons of the custodial journeys overlapping the year (``truth_record``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from ..outputs import check_counts
from ._pilots import (
    BANDS,
    BandEstimate,
    as_at,
    band_filter,
    count_headline,
    has_table,
    linked_tables,
    methods_of,
)
from .base import StudyContext, StudyResult
from .registry import study

NAME = "children_parent_prison"
AGE_BANDS = (("0-4", 0, 4), ("5-9", 5, 9), ("10-15", 10, 15), ("16-17", 16, 17))
CHILD_SOURCES = {
    "child_benefit": ("Child Benefit claims", "hmrc_child_benefit_claims", "link HMRC with `bold link wave hmrc "
                      "--from FOLDER` (synthetic: `bold synth --sources hmrc`), then `bold spine children`"),
    "npd_address": ("NPD pupils at the parent's address", "npd_pupil", "link the NPD with `bold link wave npd "
                    "--from FOLDER` (synthetic: `bold synth --sources npd`), then `bold spine children`"),
    "family_court": ("Family court cases", "family_parties", "load the Data First extracts with `bold load`, "
                     "then `bold spine children`"),
}

def _year(ctx: StudyContext) -> int:
    if "year" in ctx.params:
        return int(ctx.params["year"])
    d = as_at(ctx)
    return d.year if (d.month, d.day) == (12, 31) else d.year - 1


#: Relations whose evidence names the parent (a claim, a court case); the address relation is weaker.
STRONG_RELATIONS = ("child_benefit", "family_court")


def children(con: Any, band: str, year: int, *, strong_only: bool = False) -> pd.DataFrame:
    """One row per dependent child with a parent in prison in ``year``, the parent's prison record and the record
    the relation rests on linked at ``band`` or a stricter one: ``child_id``, ``region`` (of the first parent),
    ``age_band``. The address relation (band ``low`` in ``spine.person_child``: a weak relation, not a weak link)
    is included unless ``strong_only``."""
    lo, hi = date(year, 1, 1), date(year, 12, 31)
    bands = " ".join(f"WHEN {year} - c.child_birth_year BETWEEN {a} AND {b} THEN '{n}'" for n, a, b in AGE_BANDS)
    region = "p.region" if has_table(con, "spine", "person") else "NULL"
    relation = (f"c.source IN ({', '.join(repr(r) for r in STRONG_RELATIONS)})" if strong_only else "TRUE")
    return con.execute(f"""
WITH par AS (
  SELECT DISTINCT r.person_id FROM extract.prison_custodial_journey j
  JOIN spine.person_record r ON r.source_table = 'prison_custodial_journey' AND r.record_id = j.row_id_hash
  WHERE {band_filter(band, 'r.band_joined')} AND j.reception_date <= DATE '{hi}'
    AND (j.release_date IS NULL OR j.release_date >= DATE '{lo}'))
SELECT c.child_id, coalesce({region}, 'Not known') AS region, CASE {bands} END AS age_band
FROM spine.person_child c JOIN par USING (person_id) LEFT JOIN spine.person p USING (person_id)
WHERE ({band_filter(band, 'c.band_joined')} OR c.source = 'npd_address') AND {relation}
  AND {year} - c.child_birth_year BETWEEN 0 AND 17
QUALIFY ROW_NUMBER() OVER (PARTITION BY c.child_id ORDER BY c.person_id) = 1
ORDER BY c.child_id""").fetchdf()


def true_children(ctx: StudyContext, year: int) -> int | None:
    """The true number of dependent children of the true persons with a custodial journey overlapping ``year``
    (None without a synthetic truth folder)."""
    if ctx.truth_dir is None:
        return None
    from .synthetic import has_view, population_connection

    t = population_connection(ctx.truth_dir)
    try:
        if not all(has_view(t, v) for v in ("truth_record", "truth_child_parent", "truth_person",
                                            "prison_custodial_journey")):
            return None
        return int(t.execute(f"""
WITH parents AS (
  SELECT DISTINCT tr.person_id FROM prison_custodial_journey j
  JOIN truth_record tr ON tr."table" = 'prison_custodial_journey' AND tr.record_id = j.row_id_hash
  WHERE j.reception_date <= DATE '{year}-12-31' AND (j.release_date IS NULL OR j.release_date >= DATE '{year}-01-01'))
SELECT COUNT(DISTINCT cp.child_person_id) FROM truth_child_parent cp
JOIN parents p ON p.person_id = cp.parent_person_id
JOIN truth_person c ON c.person_id = cp.child_person_id
WHERE {year} - year(c.date_of_birth) BETWEEN 0 AND 17""").fetchone()[0])
    finally:
        t.close()


@study(NAME, kinds=("count",), measures=("dependent_children",),
       sources=("prison", "children", "child_benefit", "npd", "family_court"))
def run(ctx: StudyContext) -> StudyResult:
    """Run study 3 at ``ctx.band`` (see the module docstring; the methods note is the definition's)."""
    con, band = ctx.con, ctx.band
    res = StudyResult(name=NAME, band=band, methods=methods_of(ctx))
    linked = linked_tables(con)
    if not (has_table(con, "extract", "prison_custodial_journey") and "prison_custodial_journey" in linked):
        res.not_available.append("Prison spells not available: extract.prison_custodial_journey is not loaded and "
                                 "linked; load the Data First extracts with `bold load` and build the spine with "
                                 "`bold spine build`")
        return res
    if not has_table(con, "spine", "person_child"):
        res.not_available.append("Children of spine persons not available: spine.person_child has not been built; "
                                 "link HMRC and the NPD (`bold link wave hmrc|npd --from FOLDER`) then run `bold "
                                 "spine children`")
        return res
    have = {r[0] for r in con.execute("SELECT DISTINCT source FROM spine.person_child").fetchall()}
    for key, (title, table, how) in CHILD_SOURCES.items():
        if key not in have and table not in linked:
            res.not_available.append(f"{title} not available: {table} is not linked; {how}. The count is a lower "
                                     "bound without it.")
    year = _year(ctx)
    population = f"{NAME}@{band}@{year}"
    by_band = {b: children(con, b, year) for b in BANDS}
    kids = by_band[band]
    est = {b: BandEstimate(b, float(len(d))) for b, d in by_band.items()}
    # the strictest reading: strong relations only, at the strict band (the lower end of the interval)
    est["high, claim or court relations only"] = BandEstimate("high", float(len(children(con, "high", year,
                                                                                          strong_only=True))))
    h, outs = count_headline("children_parent_in_prison", f"Dependent children with a parent in prison in {year}",
                             est, band, truth=true_children(ctx, year), title=f"Dependent children with a parent in "
                             f"prison in {year}", population=population,
                             note="interval: exact 95% Poisson limits at each linkage band, from the strictest "
                                  "count (claim or court relations only, high band) to the widest (low band); the "
                                  "address relation is included in the value")
    res.headlines.append(h)
    res.outputs.extend(outs)
    src = "P-NOMIS custodial journeys linked to Child Benefit, family court and NPD records on the spine"
    regions = sorted(set(kids["region"])) or ["Not known"]
    res.outputs.append(check_counts(
        kids["region"].value_counts().reindex(regions, fill_value=0).rename_axis("Region of the parent")
        .reset_index(name="n"), "n", "Region of the parent", title=f"Dependent children with a parent in prison "
        f"in {year}, by the parent's region", population=population, source=src))
    ages = [a for a, _, _ in AGE_BANDS]
    res.outputs.append(check_counts(
        kids["age_band"].value_counts().reindex(ages, fill_value=0).rename_axis("Age of the child")
        .reset_index(name="n"), "n", "Age of the child", levels={"Age of the child": ages},
        title=f"Dependent children with a parent in prison in "
        f"{year}, by age", population=population, source=src))
    res.texts.append(("Year and band", f"Custodial journeys overlapping {year}; linkage band {band}; interval over "
                      f"the bands {', '.join(BANDS)}. The interval carries sampling uncertainty (exact Poisson limits) and "
                      "linkage uncertainty (the bands, and the strict reading of the relations); it does not add "
                      "children whose relation to a parent was not found."))
    return res
