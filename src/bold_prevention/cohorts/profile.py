"""Profiles and places: who is in a cohort, needs prevalence by local authority, and how drivers overlap.

* :func:`profile` — counts and rates of a cohort by sex, age band, ethnic group, region, local authority and
  deprivation decile, against the spine population, with Wilson 95% confidence intervals
  (``results.cohort_<name>_profile``);
* :func:`places_prevalence` — for each local authority and driver: persons, persons assessed, persons with the
  need, prevalence among the assessed with a Wilson interval (``results.places_prevalence``);
* :func:`driver_overlap` — co-occurrence counts and lift between every pair of drivers (``results.driver_overlap``),
  and :func:`overlap_network_svg`, the overlap drawn as a network.

All results stay in the warehouse; anything taken away goes through disclosure control.
"""

from __future__ import annotations

import functools
import math
from itertools import combinations
from pathlib import Path

import pyarrow as pa

from ..errors import InputError
from ..outputs.intervals import wilson as _wilson
from ..warehouse.engine import table_exists
from ..warehouse.tables import PERSON
from .build import _connection, _rows, cohort_table

__all__ = ["DIMENSIONS", "OUTCOME_CATEGORIES", "dimension_label", "driver_overlap", "outcome_dimensions",
           "overlap_network_svg", "person_sql", "places_prevalence", "profile", "profile_dimensions", "spine_drivers",
           "wilson"]

#: Profile dimensions: name -> (category code column, category label column) of spine.person.
wilson = functools.partial(_wilson, empty=None)  # None, None for an empty group

DIMENSIONS: dict[str, tuple[str, str]] = {
    "sex": ("sex", "sex"),
    "age_band": ("age_band", "age_band"),
    "ethnic_group": ("ethnic_group", "ethnic_group"),
    "region": ("region", "region"),
    "local_authority": ("lad_code", "lad_name"),
    "imd_decile": ("imd_decile", "imd_decile"),
}


#: The categories of an outcome dimension (``spine.person_outcome``'s headline value): true, false, NULL.
OUTCOME_CATEGORIES = ("Yes", "No", "Not measured")
_OUTCOME_PREFIX = "outcome_"


def outcome_dimensions(con) -> dict[str, tuple[str, str]]:
    """One profile dimension per outcome built in ``spine.person_outcome`` (``bold spine outcomes``), named
    ``outcome_<outcome>`` with the categories of :data:`OUTCOME_CATEGORIES` (the outcome's headline value in the
    window; unmeasured is its own category, never "No"). Empty when the outcomes have not been built."""
    if not table_exists(con, "spine", "person_outcome"):
        return {}
    from ..spine.outcomes import OUTCOMES

    built = {r[0] for r in _rows(con, "SELECT DISTINCT outcome FROM spine.person_outcome WHERE measure = 'outcome'")}
    return {f"{_OUTCOME_PREFIX}{o}": (f"{_OUTCOME_PREFIX}{o}", f"{_OUTCOME_PREFIX}{o}") for o in OUTCOMES if o in built}


def profile_dimensions(con) -> dict[str, tuple[str, str]]:
    """Every dimension a profile can break a cohort down by: :data:`DIMENSIONS` and, once built, the outcomes."""
    return {**DIMENSIONS, **outcome_dimensions(con)}


def dimension_label(dim: str) -> str:
    """A dimension's name in words (outcome dimensions: the outcome, e.g. "Outcome: in work poverty")."""
    if dim.startswith(_OUTCOME_PREFIX):
        return "Outcome: " + dim[len(_OUTCOME_PREFIX):].replace("_", " ")
    return dim.replace("_", " ").capitalize()


def person_sql(con) -> str:
    """``spine.person`` with one column per built outcome (``outcome_<outcome>``: Yes, No or Not measured), as a
    parenthesised query to select from."""
    outs = outcome_dimensions(con)
    if not outs:
        return PERSON
    yes, no, unmeasured = OUTCOME_CATEGORIES
    cols = ", ".join(
        f"CASE MAX(CASE WHEN o.outcome = '{d[len(_OUTCOME_PREFIX):]}' THEN CASE WHEN o.value THEN 2 WHEN NOT o.value "
        f"THEN 1 ELSE 0 END END) WHEN 2 THEN '{yes}' WHEN 1 THEN '{no}' ELSE '{unmeasured}' END AS {d}" for d in outs)
    return (f"(SELECT sp.*, oc.* EXCLUDE (person_id) FROM spine.person sp LEFT JOIN (SELECT o.person_id, {cols} "
            "FROM spine.person_outcome o WHERE o.measure = 'outcome' GROUP BY o.person_id) oc "
            f"ON oc.person_id = sp.person_id)")


def _write(con, name: str, table: pa.Table) -> None:
    con.register("_profile_arrow", table)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _profile_arrow")
    if hasattr(con, "unregister"):
        con.unregister("_profile_arrow")


def _check_cohort(con, name: str) -> None:
    """The cohort exists and was built over the current spine (same as-at date and band)."""
    if not table_exists(con, "results", f"cohort_{name}"):
        raise InputError(f"no cohort {name!r} has been built", hint=f"run `bold cohort build {name}` first")
    from .build import spine_state

    state = spine_state(con)
    if state is None:
        return
    built = _rows(con, f"SELECT as_at_date, band FROM results.cohorts WHERE cohort = '{name}'")
    if built and (built[0][0], built[0][1]) != state:
        raise InputError(f"cohort {name} was built over the spine as at {built[0][0]} (band {built[0][1]}), but the "
                         f"spine is now as at {state[0]} (band {state[1]})",
                         hint=f"rebuild the cohort: `bold cohort build {name}`")
    what = cohort_spine_changes(con, name)
    if what:
        raise InputError(f"cohort {name} was built over an earlier spine: since then " + "; ".join(what),
                         hint=f"rebuild the cohort over the current spine: `bold cohort build {name}`")


def cohort_spine_changes(con, name: str) -> list[str]:
    """What changed in the spine since cohort ``name`` was built, in words (empty: built on the current spine)."""
    import json

    from ..spine.build import spine_fingerprint_of
    from ..spine.fingerprint import changes

    current = spine_fingerprint_of(con)
    if current is None:
        return []
    cols = {r[0] for r in _rows(con, "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                     "'results' AND table_name = 'cohorts'")}
    if "spine_fingerprint" not in cols:
        return changes(None, current)
    row = _rows(con, f"SELECT spine_fingerprint FROM results.cohorts WHERE cohort = '{name}'")
    if not row:
        return []
    try:
        old = json.loads(row[0][0]) if row[0][0] else None
    except ValueError:
        old = None
    return changes(old, current)


def _check_spine(con) -> None:
    if not table_exists(con, "spine", "person"):
        raise InputError("no spine has been built in this warehouse",
                         hint="run `bold spine build --as-at YYYY-MM-DD` first")


def spine_drivers(con) -> list[str]:
    """Drivers with need columns on spine.person, in column order."""
    cols = [r[0] for r in _rows(con, "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                     "'spine' AND table_name = 'person' ORDER BY ordinal_position")]
    return [c[5:-8] for c in cols if c.startswith("need_") and c.endswith("_dataset")]


def _sort_key(dim: str, cat):
    if dim == "imd_decile":
        return (0, int(cat)) if cat not in (None, "Unknown") else (1, 0)
    if dim.startswith(_OUTCOME_PREFIX) and cat in OUTCOME_CATEGORIES:
        return (0, str(OUTCOME_CATEGORIES.index(cat)))
    return (1 if cat in (None, "Unknown") else 0, str(cat))


def profile(con_or_project, name: str, *, dimensions: list[str] | None = None) -> pa.Table:
    """Counts and rates of cohort ``name`` by each dimension, with Wilson 95% intervals.

    Columns: dimension, category_code, category, cohort_n, population_n, rate (cohort_n / population_n),
    rate_low, rate_high, share (of the cohort), share_low, share_high. The population is every person in the
    spine; a category ``All`` carries the totals. Written to ``results.cohort_<name>_profile``.

    Once ``bold spine outcomes`` has built ``spine.person_outcome``, the cohort is also broken down by each
    outcome (dimensions ``outcome_<outcome>``, categories Yes, No and Not measured: see
    :func:`outcome_dimensions`); naming an outcome dimension before then is an error that says what to run.
    """
    con, close = _connection(con_or_project)
    try:
        _check_spine(con)
        known = profile_dimensions(con)
        dims = dimensions or list(known)
        unknown = [d for d in dims if d not in known]
        if unknown:
            if any(d.startswith(_OUTCOME_PREFIX) for d in unknown) and not outcome_dimensions(con):
                raise InputError(f"profile dimension {', '.join(unknown)} needs the outcomes, but the warehouse has "
                                 "no table spine.person_outcome",
                                 hint="run `bold spine outcomes --as-at YYYY-MM-DD --window 12m` first")
            raise InputError(f"unknown profile dimension {', '.join(unknown)}", hint=f"use {', '.join(known)}")
        _check_cohort(con, name)
        parts = ["SELECT 'all' AS dimension, 'All' AS code, 'All' AS label, COUNT(*) AS population_n, "
                 "SUM(CASE WHEN c_person IS NOT NULL THEN 1 ELSE 0 END) AS cohort_n FROM sp_c"]
        for d in dims:
            code, label = known[d]
            parts.append(
                f"SELECT '{d}' AS dimension, COALESCE(CAST({code} AS VARCHAR), 'Unknown') AS code, "
                f"COALESCE(CAST({label} AS VARCHAR), 'Unknown') AS label, COUNT(*) AS population_n, "
                f"SUM(CASE WHEN c_person IS NOT NULL THEN 1 ELSE 0 END) AS cohort_n FROM sp_c "
                f"GROUP BY COALESCE(CAST({code} AS VARCHAR), 'Unknown'), COALESCE(CAST({label} AS VARCHAR), 'Unknown')")
        sql = (f"WITH sp_c AS (SELECT sp.*, c.person_id AS c_person FROM {person_sql(con)} sp LEFT JOIN "
               f"(SELECT DISTINCT person_id FROM {cohort_table(name)}) c ON c.person_id = sp.person_id) "
               + " UNION ALL ".join(parts))
        rows = _rows(con, sql)
        total = next(r[4] for r in rows if r[0] == "all")
        out = []
        order = {d: i for i, d in enumerate(["all", *dims])}
        for dim, code, label, pop, k in sorted(rows, key=lambda r: (order[r[0]], _sort_key(r[0], r[1]))):
            k, pop = int(k or 0), int(pop or 0)
            lo, hi = wilson(k, pop)
            slo, shi = wilson(k, total)
            out.append({"dimension": dim, "category_code": code, "category": label, "cohort_n": k,
                        "population_n": pop, "rate": k / pop if pop else None, "rate_low": lo, "rate_high": hi,
                        "share": k / total if total else None, "share_low": slo, "share_high": shi})
        table = pa.Table.from_pylist(out, schema=pa.schema([
            ("dimension", pa.string()), ("category_code", pa.string()), ("category", pa.string()),
            ("cohort_n", pa.int64()), ("population_n", pa.int64()), ("rate", pa.float64()),
            ("rate_low", pa.float64()), ("rate_high", pa.float64()), ("share", pa.float64()),
            ("share_low", pa.float64()), ("share_high", pa.float64())]))
        _write(con, f"{cohort_table(name)}_profile", table)
        return table
    finally:
        if close:
            con.close()


def _population_filter(con, cohort: str | None) -> str:
    if cohort is None:
        return ""
    _check_cohort(con, cohort)
    return f" WHERE person_id IN (SELECT person_id FROM {cohort_table(cohort)})"


def places_prevalence(con_or_project, *, drivers: list[str] | None = None, cohort: str | None = None) -> pa.Table:
    """Needs prevalence by local authority: for each district and driver, persons in the spine (or cohort),
    persons assessed (with evidence for the driver; persons whose need could not be measured are not assessed),
    persons with the need, prevalence among the assessed with a Wilson 95% interval, the rate per 1,000 persons,
    and ``unmeasured`` (persons whose need the loaded extract could not measure). Written to
    ``results.places_prevalence``."""
    con, close = _connection(con_or_project)
    try:
        _check_spine(con)
        known = spine_drivers(con)
        ds = drivers or known
        bad = [d for d in ds if d not in known]
        if bad:
            raise InputError(f"the spine has no need column for {', '.join(bad)}",
                             hint=f"drivers on the spine: {', '.join(known)}")
        where = _population_filter(con, cohort)
        parts = [
            f"SELECT COALESCE(lad_code, 'Unknown') AS lad_code, COALESCE(lad_name, 'Unknown') AS lad_name, "
            f"COALESCE(region, 'Unknown') AS region, '{d}' AS driver, COUNT(*) AS persons, "
            f"SUM(CASE WHEN need_{d} IS NOT NULL AND need_{d}_dataset IS NOT NULL THEN 1 ELSE 0 END) AS assessed, "
            f"SUM(CASE WHEN need_{d} THEN 1 ELSE 0 END) AS with_need, "
            f"SUM(CASE WHEN need_{d} IS NULL THEN 1 ELSE 0 END) AS unmeasured FROM spine.person{where} "
            f"GROUP BY COALESCE(lad_code, 'Unknown'), COALESCE(lad_name, 'Unknown'), COALESCE(region, 'Unknown')"
            for d in ds]
        rows = _rows(con, " UNION ALL ".join(parts)) if parts else []
        out = []
        for lad, lad_name, region, d, persons, assessed, k, unm in sorted(rows, key=lambda r: (r[0], ds.index(r[3]))):
            persons, assessed, k = int(persons), int(assessed or 0), int(k or 0)
            lo, hi = wilson(k, assessed)
            out.append({"lad_code": lad, "lad_name": lad_name, "region": region, "driver": d, "persons": persons,
                        "assessed": assessed, "with_need": k, "prevalence": k / assessed if assessed else None,
                        "prevalence_low": lo, "prevalence_high": hi,
                        "per_1000_persons": 1000 * k / persons if persons else None,
                        "population": cohort or "spine", "unmeasured": int(unm or 0)})
        table = pa.Table.from_pylist(out, schema=pa.schema([
            ("lad_code", pa.string()), ("lad_name", pa.string()), ("region", pa.string()), ("driver", pa.string()),
            ("persons", pa.int64()), ("assessed", pa.int64()), ("with_need", pa.int64()),
            ("prevalence", pa.float64()), ("prevalence_low", pa.float64()), ("prevalence_high", pa.float64()),
            ("per_1000_persons", pa.float64()), ("population", pa.string()), ("unmeasured", pa.int64())]))
        _write(con, "results.places_prevalence", table)
        return table
    finally:
        if close:
            con.close()


def _population(con, population: str) -> tuple[str, str]:
    """(WHERE clause over spine.person, label) for ``oasys`` (persons with an OASys assessment), ``spine``
    (everyone) or a built cohort's name."""
    if population == "oasys":
        return " WHERE has_oasys", "persons with an OASys assessment"
    if population == "spine":
        return "", "all persons in the spine"
    _check_cohort(con, population)
    return _population_filter(con, population), f"cohort {population}"


def driver_overlap(con_or_project, *, drivers: list[str] | None = None, population: str = "oasys") -> pa.Table:
    """Co-occurrence of every pair of drivers within a population, with lift.

    ``population``: ``oasys`` (persons with an OASys assessment, where most needs are measured: the default),
    ``spine`` (every person) or the name of a built cohort. A need counts when its flag is set (a person with no
    evidence for a driver counts as not having it). Columns: driver_a, driver_b, n (population), n_a, n_b, n_both,
    p_a, p_b, p_both, lift (p_both / (p_a p_b)), jaccard; the diagonal rows (driver_a = driver_b) carry each
    driver's prevalence. Written to ``results.driver_overlap``.
    """
    con, close = _connection(con_or_project)
    try:
        _check_spine(con)
        known = spine_drivers(con)
        ds = drivers or known
        bad = [d for d in ds if d not in known]
        if bad:
            raise InputError(f"the spine has no need column for {', '.join(bad)}",
                             hint=f"drivers on the spine: {', '.join(known)}")
        if len(ds) < 2:
            raise InputError("an overlap needs at least two drivers", hint="name two or more drivers")
        where, label = _population(con, population)
        pairs = [(a, a) for a in ds] + list(combinations(ds, 2))
        cols = ["COUNT(*) AS n"] + [f"SUM(CASE WHEN need_{a} AND need_{b} THEN 1 ELSE 0 END) AS c{i}"
                                    for i, (a, b) in enumerate(pairs)]
        row = _rows(con, f"SELECT {', '.join(cols)} FROM spine.person{where}")[0]
        n = int(row[0])
        k = {pair: int(row[1 + i] or 0) for i, pair in enumerate(pairs)}
        out = []
        for a, b in pairs:
            na, nb, nab = k[(a, a)], k[(b, b)], k[(a, b)]
            pa_, pb, pab = (na / n, nb / n, nab / n) if n else (None, None, None)
            lift = None if a == b or not (n and na and nb) else n * nab / (na * nb)
            union = na + nb - nab
            out.append({"driver_a": a, "driver_b": b, "n": n, "n_a": na, "n_b": nb, "n_both": nab, "p_a": pa_,
                        "p_b": pb, "p_both": pab, "lift": lift,
                        "jaccard": None if a == b else (nab / union if union else None), "population": label})
        table = pa.Table.from_pylist(out, schema=pa.schema([
            ("driver_a", pa.string()), ("driver_b", pa.string()), ("n", pa.int64()), ("n_a", pa.int64()),
            ("n_b", pa.int64()), ("n_both", pa.int64()), ("p_a", pa.float64()), ("p_b", pa.float64()),
            ("p_both", pa.float64()), ("lift", pa.float64()), ("jaccard", pa.float64()),
            ("population", pa.string())]))
        _write(con, "results.driver_overlap", table)
        return table
    finally:
        if close:
            con.close()


def overlap_network_svg(overlap: pa.Table, path: str | Path, *, min_count: int = 10,
                        title: str = "Risk-factor overlap") -> Path:
    """Draw the driver overlap as a network (SVG): nodes sized by prevalence, edges by lift.

    Only pairs that co-occur in at least ``min_count`` persons and have a lift above 1 are drawn, so no edge rests
    on a small count. Returns the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..files import atomic_path

    allrows = overlap.to_pylist()
    nodes: dict[str, float] = {r["driver_a"]: r["p_a"] or 0.0 for r in allrows if r["driver_a"] == r["driver_b"]}
    rows = [r for r in allrows if r["driver_a"] != r["driver_b"]]
    for r in rows:
        nodes.setdefault(r["driver_a"], 0.0)
        nodes.setdefault(r["driver_b"], 0.0)
    names = list(nodes)
    pos = {n: (math.cos(2 * math.pi * i / len(names)), math.sin(2 * math.pi * i / len(names)))
           for i, n in enumerate(names)}
    fig, ax = plt.subplots(figsize=(7, 7))
    edges = [r for r in rows if r["lift"] is not None and r["lift"] > 1 and r["n_both"] >= min_count]
    max_lift = max((r["lift"] for r in edges), default=1.0)
    for r in edges:
        (x1, y1), (x2, y2) = pos[r["driver_a"]], pos[r["driver_b"]]
        w = 0.5 + 6 * (r["lift"] - 1) / max(max_lift - 1, 1e-9)
        ax.plot([x1, x2], [y1, y2], color="#1d70b8", alpha=0.6, linewidth=w, zorder=1)
        ax.text((x1 + x2) / 2, (y1 + y2) / 2, f"{r['lift']:.1f}", fontsize=7, color="#0b0c0c", ha="center",
                va="center", zorder=3, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5})
    for n in names:
        x, y = pos[n]
        ax.scatter([x], [y], s=300 + 4000 * (nodes[n] or 0), color="#f47738", edgecolor="#0b0c0c", zorder=2)
        ax.text(x * 1.22, y * 1.22, f"{n.replace('_', ' ')}\n{(nodes[n] or 0):.0%}", ha="center", va="center",
                fontsize=9)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{title}\nnode size: prevalence; edge: lift (drawn where lift > 1 and at least {min_count} "
                 "persons share both)", fontsize=9)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return path
