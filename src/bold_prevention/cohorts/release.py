"""Disclosure-checked releases of cohort profiles, places prevalence and the risk-factor overlap.

Every figure that leaves the warehouse is built from counts checked by :mod:`bold_prevention.outputs` (threshold,
zeros, rounding, secondary suppression); rates are computed from the checked counts; the Wilson 95% intervals on the
release page's charts and the overlap network are computed from the published counts of the audited release only,
and nothing is shown for a suppressed cell. A release folder holds ``report.html``, ``tables.xlsx``, ``output-checking/`` (ACRO-compatible
``results.json``) and, for the overlap, ``overlap-network.svg``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..outputs import CheckedOutput, check_counts, rate_table, write_release
from .build import _connection, _rows, cohort_table
from .profile import (
    _check_cohort,
    _check_spine,
    _population,
    dimension_label,
    person_sql,
    profile_dimensions,
    spine_drivers,
)

__all__ = ["cohort_outputs", "overlap_outputs", "places_outputs", "write_checked_release"]

_DIM_LABEL = {"sex": "Sex", "age_band": "Age band", "ethnic_group": "Ethnic group", "region": "Region",
              "local_authority": "Local authority", "imd_decile": "IMD decile (1 = most deprived)"}


def spine_version(con) -> str:
    """A short digest of the spine build the counts come from (as-at date, band, fingerprints, build time): counts
    of the same version are the same numbers wherever they are published; other versions (another band or
    snapshot) are other numbers of the same table."""
    import hashlib

    cur = con.execute("SELECT * FROM spine.spine_info")
    row = cur.fetchall()
    # DuckDB's result names its columns; the Spark connection's result gives them through Arrow
    names = [d[0] for d in cur.description] if hasattr(cur, "description") else cur.arrow().column_names
    text = repr(sorted(zip(names, row[0], strict=True))) if row else "none"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


#: Spines with fewer persons than this per local authority (on average) publish places by deprivation decile
#: instead: a table of 331 authorities on a small spine is mostly suppressed cells.
PERSONS_PER_AREA_FOR_LA = 100
#: Cohorts with fewer persons than this per local authority (on average) are not profiled by local authority.
COHORT_PERSONS_PER_AREA = 10

GEOGRAPHIES = {"local_authority": ("lad_name", "Local authority"), "region": ("region", "Region"),
               "imd_decile": ("imd_decile", "IMD decile (1 = most deprived)")}


def choose_geography(con, geography: str = "auto") -> str:
    """``auto``: the finest of local authorities, deprivation deciles and regions with at least
    ``PERSONS_PER_AREA_FOR_LA`` persons per area on average (regions when none has)."""
    if geography != "auto":
        if geography not in GEOGRAPHIES:
            raise InputError(f"unknown geography {geography!r}",
                             hint=f"use auto, {', '.join(GEOGRAPHIES)}")
        return geography
    persons, las, deciles = _rows(con, "SELECT COUNT(*), COUNT(DISTINCT lad_name), COUNT(DISTINCT imd_decile) "
                                       "FROM spine.person")[0]
    for geo, areas in (("local_authority", las), ("imd_decile", deciles)):
        if areas and persons / areas >= PERSONS_PER_AREA_FOR_LA:
            return geo
    return "region"


def _df(con, sql: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(_rows(con, sql), columns=columns)


def _published(out: CheckedOutput) -> dict:
    """(row label, column) -> published value, for cells that are published."""
    res = {}
    for r in out.data.index:
        for c in out.data.columns:
            if out.symbols.loc[r, c] == "" and not (isinstance(out.data.loc[r, c], float)
                                                     and math.isnan(out.data.loc[r, c])):
                res[(r, c)] = out.data.loc[r, c]
    return res


def _labelled(title: str, name: str, label: str | None) -> tuple[str, str]:
    """A title and output name for one of several versions of a table in a release (``label``: e.g. a band)."""
    if not label:
        return title, name
    return f"{title} ({label})", f"{name}_{re.sub(r'[^a-z0-9]+', '_', label.lower()).strip('_')}"


def cohort_outputs(con_or_project, name: str, *, rules=None, dimensions: list[str] | None = None,
                   label: str | None = None) -> tuple[list[CheckedOutput], list[tuple[str, str]]]:
    """Checked outputs of a built cohort: its attrition, and for each dimension the cohort counts, the spine
    population counts and the rate per 100. Returns (outputs, text sections with Wilson intervals). ``label``
    (e.g. "high band") tells apart the versions of the same tables published side by side."""
    tag = label  # (``label`` is reused below for the dimension's column)
    con, close = _connection(con_or_project)
    try:
        _check_spine(con)
        _check_cohort(con, name)
        outs: list[CheckedOutput] = []
        texts: list[tuple[str, str]] = []
        cols = {r[0] for r in _rows(con, f"DESCRIBE {cohort_table(name)}_attrition")}
        note = "note" if "note" in cols else "NULL"
        att = _df(con, f"SELECT step, rule, persons, {note} FROM {cohort_table(name)}_attrition ORDER BY step",
                  ["step", "rule", "persons", "note"])
        att["step"] = [f"{s}. {r}" + (f" ({n})" if isinstance(n, str) and n else "")
                       for s, r, n in zip(att["step"], att["rule"], att["note"], strict=True)]
        ver = spine_version(con)
        att = att.rename(columns={"step": "Step"})
        t_, n_ = _labelled(f"Cohort {name}: persons remaining after each step", f"{name}_attrition", tag)
        outs.append(check_counts(att, "persons", "Step", title=t_,
                                 name=n_, rules=rules, margins=False,
                                 levels={"Step": list(att["Step"])}, value_label="Persons",
                                 population=f"cohort:{name}:attrition@{ver}"))
        members = f"(SELECT DISTINCT person_id FROM {cohort_table(name)})"
        dim_cols = profile_dimensions(con)  # the outcomes too, once built
        dims = list(dimensions or dim_cols)
        if dimensions is None and "local_authority" in dims:
            size, areas = _rows(con, f"SELECT COUNT(*), (SELECT COUNT(DISTINCT lad_name) FROM spine.person) "
                                     f"FROM {members}")[0]
            if not areas or size < COHORT_PERSONS_PER_AREA * areas:
                dims.remove("local_authority")
                texts.append(("Local authorities", f"The cohort has fewer than {COHORT_PERSONS_PER_AREA} persons per "
                              "local authority on average, so it is not broken down by local authority (nearly every "
                              "cell would be suppressed); see the region and deprivation tables."))
        for dim in dims:
            code, label = dim_cols[dim]
            df = _df(con, f"SELECT COALESCE(CAST(sp.{label} AS VARCHAR), 'Unknown') AS category, COUNT(*) AS pop, "
                          f"SUM(CASE WHEN m.person_id IS NOT NULL THEN 1 ELSE 0 END) AS k "
                          f"FROM {person_sql(con)} sp LEFT JOIN {members} m ON m.person_id = sp.person_id "
                          f"GROUP BY COALESCE(CAST(sp.{label} AS VARCHAR), 'Unknown')", ["category", "pop", "k"])
            levels = sorted(df["category"], key=lambda c: (c == "Unknown", int(c) if c.isdigit() else 0, c))
            t = _DIM_LABEL.get(dim) or dimension_label(dim)
            df = df.rename(columns={"category": t})
            t_, n_ = _labelled(f"Cohort {name} by {t.lower()}", f"{name}_{dim}", tag)
            num = check_counts(df, "k", t, title=t_, name=n_,
                               rules=rules, levels={t: levels}, value_label="Persons",
                               population=f"cohort:{name}@{ver}")
            t_, n_ = _labelled(f"Spine population by {t.lower()}", f"{name}_{dim}_population", tag)
            den = check_counts(df, "pop", t, title=t_,
                               name=n_, rules=rules, levels={t: levels},
                               value_label="Persons", population=f"spine:persons@{ver}")
            t_, n_ = _labelled(f"Cohort {name}: persons per 100 in the spine, by {t.lower()}", f"{name}_{dim}_rate",
                               tag)
            rate = rate_table(num, den, title=t_, name=n_, per=100)
            outs += [num, den, rate]
        return outs, texts
    finally:
        if close:
            con.close()


def places_outputs(con_or_project, *, drivers: list[str] | None = None, cohort: str | None = None,
                   rules=None, geography: str = "auto",
                   label: str | None = None) -> tuple[list[CheckedOutput], list[tuple[str, str]]]:
    """Checked outputs of needs prevalence by place: persons with each need and persons assessed for it, by area
    and driver, and the prevalence (per 100 assessed).

    The areas are local authorities, regions or deprivation deciles (``geography``; ``auto`` picks deciles on a
    small spine, see :func:`choose_geography`). A person can have several needs, so the drivers are not a partition:
    each driver's column has its total over the areas, and there is no total across drivers."""
    con, close = _connection(con_or_project)
    try:
        _check_spine(con)
        known = spine_drivers(con)
        ds = drivers or known
        where = ""
        if cohort:
            _check_cohort(con, cohort)
            where = f" WHERE person_id IN (SELECT person_id FROM {cohort_table(cohort)})"
        geo = choose_geography(con, geography)
        col, area = GEOGRAPHIES[geo]
        parts = [f"SELECT COALESCE(CAST({col} AS VARCHAR), 'Unknown') AS area, '{d}' AS driver, "
                 f"SUM(CASE WHEN need_{d} IS NOT NULL AND need_{d}_dataset IS NOT NULL THEN 1 ELSE 0 END) AS assessed, "
                 f"SUM(CASE WHEN need_{d} THEN 1 ELSE 0 END) AS k FROM spine.person{where} "
                 f"GROUP BY COALESCE(CAST({col} AS VARCHAR), 'Unknown')" for d in ds]
        df = _df(con, " UNION ALL ".join(parts), ["area", "driver", "assessed", "k"]).rename(
            columns={"area": area, "driver": "Driver"})
        levels = {area: sorted(df[area].unique(), key=lambda c: (c == "Unknown", int(c) if c.isdigit() else 0, c)),
                  "Driver": list(ds)}
        who = f"cohort {cohort}" if cohort else "the spine"
        ver = spine_version(con)
        within = f":cohort:{cohort}" if cohort else ""
        by = area.split(" (")[0].lower()
        t_, n_ = _labelled(f"Persons with each need, by {by} ({who})", "places_need", label)
        num = check_counts(df, "k", area, "Driver", title=t_,
                           name=n_, rules=rules, levels=levels, margins="row", measure_dims=["Driver"],
                           population=f"spine{within}:need_{{Driver}}@{ver}", family=f"places_need_{geo}")
        t_, n_ = _labelled(f"Persons assessed for each need, by {by} ({who})", "places_assessed", label)
        den = check_counts(df, "assessed", area, "Driver", title=t_,
                           name=n_, rules=rules, levels=levels, margins="row",
                           measure_dims=["Driver"], population=f"spine{within}:assessed_{{Driver}}@{ver}",
                           family=f"places_assessed_{geo}")
        t_, n_ = _labelled(f"Needs prevalence by {by}: per 100 assessed ({who})", "places_prevalence", label)
        rate = rate_table(num, den, title=t_, name=n_, per=100)
        return [num, den, rate], []
    finally:
        if close:
            con.close()


def overlap_outputs(con_or_project, *, drivers: list[str] | None = None, population: str = "oasys",
                    rules=None) -> tuple[CheckedOutput, int, str]:
    """The checked co-occurrence matrix (persons with both needs; the diagonal: persons with the need), the
    population size and its label."""
    con, close = _connection(con_or_project)
    try:
        _check_spine(con)
        ds = drivers or spine_drivers(con)
        where, label = _population(con, population)
        cols = ", ".join(f"SUM(CASE WHEN need_{a} AND need_{b} THEN 1 ELSE 0 END)" for a in ds for b in ds)
        row = _rows(con, f"SELECT COUNT(*), {cols} FROM spine.person{where}")[0]
        n = int(row[0])
        recs = [{"driver": a, "with": b, "k": int(row[1 + i * len(ds) + j] or 0)}
                for i, a in enumerate(ds) for j, b in enumerate(ds)]
        out = check_counts(pd.DataFrame(recs), "k", "driver", "with",
                           title=f"Persons with both needs ({label}; diagonal: persons with the need)",
                           name="driver_overlap", rules=rules, margins=False,
                           levels={"driver": list(ds), "with": list(ds)})
        return out, n, label
    finally:
        if close:
            con.close()


def overlap_from_checked(out: CheckedOutput, n: int) -> list[dict]:
    """Overlap rows (with lift) computed from a checked co-occurrence matrix's published cells only."""
    pub = _published(out)
    ds = list(out.data.index)
    rows = []
    for a in ds:
        ka = pub.get((a, a))
        rows.append({"driver_a": a, "driver_b": a, "n": n, "n_a": ka, "n_b": ka, "n_both": ka,
                     "p_a": ka / n if ka is not None and n else None, "p_b": None, "p_both": None, "lift": None})
    for i, a in enumerate(ds):
        for b in ds[i + 1:]:
            ka, kb, kab = pub.get((a, a)), pub.get((b, b)), pub.get((a, b))
            lift = n * kab / (ka * kb) if None not in (ka, kb, kab) and ka and kb else None
            rows.append({"driver_a": a, "driver_b": b, "n": n, "n_a": ka, "n_b": kb, "n_both": kab or 0,
                         "p_a": None, "p_b": None, "p_both": None, "lift": lift})
    return rows


def write_checked_release(outputs: list[CheckedOutput], folder: str | Path, *, title: str,
                          texts: list[tuple[str, str]] | None = None, subtitle: str | None = None,
                          network: tuple[CheckedOutput, int] | None = None, overwrite: bool = False,
                          command: str = "", ledger=None) -> Path:
    """Write ``report.html``, ``tables.xlsx``, ``output-checking/`` (and ``overlap-network.svg``) into ``folder``
    through the one release writer (:func:`bold_prevention.outputs.write_release`), audited with the project's
    earlier releases when ``ledger`` is given."""
    import pyarrow as pa

    from .profile import overlap_network_svg

    sections = list(texts or [])
    extra = None
    if network is not None:
        net_out, n = network

        def extra(tmp: Path, released: list[CheckedOutput]) -> None:
            same = [o for o in released if o.name == net_out.name]
            rows = overlap_from_checked(same[0], n) if same else []
            overlap_network_svg(pa.Table.from_pylist(rows), tmp / "overlap-network.svg", min_count=0,
                                title="Risk-factor overlap (published counts only)")

        sections.append(("Risk-factor overlap network",
                         "overlap-network.svg draws each need as a node sized by its prevalence and joins needs "
                         "that co-occur more often than chance (lift above 1), using only the published cells "
                         "of the co-occurrence table; suppressed pairs are not drawn."))
    paths = write_release(outputs, folder, title=title, subtitle=subtitle,
                          source="BOLD Prevention spine (Data First, linked through XJS)",
                          overwrite=overwrite, command=command, ledger=ledger, texts=sections, extra=extra)
    return paths.folder
