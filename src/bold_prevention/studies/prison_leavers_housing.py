"""Study 2: prison leavers and homelessness.

People released from custody (``prison_custodial_journey`` releases linked to the spine) with their accommodation
status at release (from OASys: the latest assessment between a year before reception and release; no fixed abode or
transient accommodation, unsuitable accommodation, settled, or not known), the local authority's housing and
homelessness contacts (housing options, temporary accommodation, prevention and relief) in the 3 and 12 months after
release for leavers known to the authority, reoffending (a new magistrates' case with an offence in the 12 months
after release) by accommodation status, and, for leavers without settled accommodation who had a housing contact,
the share whose next OASys assessment records settled accommodation, by the service of that contact: an
association, not an effect.

Synthetic truth: the 12-month reoffending rate of the same releases from ``truth_outcomes`` (use case
``reoffending_12m_after_release``), and the share of leavers who were residents of the pilot authority with a
housing contact within 12 months, from the true persons of the prison and local-authority records
(``truth_record``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from ..outputs import check_counts, rate_table
from ._pilots import (
    BANDS,
    BandEstimate,
    as_at,
    band_filter,
    check_band,
    has_table,
    improved_xjs_table,
    linked_tables,
    methods_of,
    not_loaded,
    param_date,
    proportion_headline,
    subpopulation,
    years_before,
)
from .base import StudyContext, StudyResult
from .registry import study

NAME = "prison_leavers_housing"
STATUSES = ("No fixed abode or transient", "Unsuitable", "Settled", "Not known")
HOUSING_SERVICES = {"HOUS": "Housing options", "TA": "Temporary accommodation",
                    "HPR": "Homelessness prevention and relief"}
WINDOWS = {"3 months": 91, "12 months": 365}

def _window(ctx: StudyContext) -> tuple[date, date]:
    end = as_at(ctx)
    return (param_date(ctx, "release_from", date(2011, 1, 1)),
            param_date(ctx, "release_to", years_before(end, 365)))


def _accommodation_sql(con: Any, band: str) -> str | None:
    """Per OASys assessment: (pkey, assessment_date, status) or None without OASys (``pkey``: see
    :func:`_person_key`)."""
    if not (has_table(con, "extract", "oasys_assessments_metadata")
            and "oasys_assessments_metadata" in linked_tables(con)):
        return None
    joins, nfa, unsuit, known = [], [], [], []
    if has_table(con, "extract", "oasys_assessments_details_core_risk"):
        joins.append("LEFT JOIN extract.oasys_assessments_details_core_risk c ON c.row_id_hash = m.row_id_hash")
        nfa.append("c.question_3_3 = 'YES'")
        unsuit.append("c.question_3_4 = '2'")
        known.append("c.question_3_3 IN ('YES', 'NO') OR c.question_3_4 IN ('0', '1', '2')")
    for t, col in (("oasys_assessments_details_bcs", "question_bcs33"),
                   ("oasys_assessments_details_tr_bcs", "question_tr_bcs33")):
        if has_table(con, "extract", t):
            a = "b" if t.endswith("_bcs") and "tr_" not in t else "tb"
            joins.append(f"LEFT JOIN extract.{t} {a} ON {a}.row_id_hash = m.row_id_hash")
            nfa.append(f"{a}.{col} IN ('NFA', 'ROUGH')")
            unsuit.append(f"{a}.{col} = 'TEMP'")
            known.append(f"{a}.{col} IS NOT NULL")
    if not joins:
        return None
    join, key = _person_key(con, "oasys_assessments_metadata", "m", band)
    return f"""
SELECT {key} AS pkey, m.assessment_date,
       CASE WHEN {' OR '.join(nfa)} THEN '{STATUSES[0]}' WHEN {' OR '.join(unsuit)} THEN '{STATUSES[1]}'
            ELSE '{STATUSES[2]}' END AS status
FROM extract.oasys_assessments_metadata m
{join}
{' '.join(joins)}
WHERE m.assessment_date IS NOT NULL AND ({' OR '.join(known)})"""


def _person_key(con: Any, table: str, alias: str, band: str, link: str | None = None) -> tuple[str, str]:
    """(join, key) giving each row of justice table ``table`` (aliased ``alias``) its person at ``band``: the XJS
    cluster at that band (``extract.xjs_link``, which holds all three bands whatever band the spine was built at;
    ``link``: another table shaped like it, such as the improved XJS person id), else the spine person its record
    joined at that band or a stricter one."""
    from ..datafirst import MODEL

    src = MODEL.table(table).xjs_source
    if src and link is not None:
        x = f"i_{alias}"
        return (f"JOIN {link} {x} ON {x}.source_dataset = '{src}' AND {x}.row_id_hash = {alias}.row_id_hash",
                f"{x}.cluster_{check_band(band)}")
    if src and has_table(con, "extract", "xjs_link"):
        x = f"x_{alias}"
        return (f"JOIN extract.xjs_link {x} ON {x}.source_dataset = '{src}' AND {x}.row_id_hash = {alias}.row_id_hash",
                f"{x}.cluster_{check_band(band)}")
    r = f"r_{alias}"
    return (f"JOIN spine.person_record {r} ON {r}.source_table = '{table}' AND {r}.record_id = {alias}.row_id_hash "
            f"AND {band_filter(band, f'{r}.band_joined')}", f"{r}.person_id")


def _la_ok(con: Any) -> bool:
    return (has_table(con, "extract", "la_service_contacts") and has_table(con, "extract", "la_residents")
            and "la_residents" in linked_tables(con))


def _services() -> str:
    return ", ".join(repr(k) for k in HOUSING_SERVICES)


def leavers(con: Any, band: str, start: date, end: date) -> pd.DataFrame:
    """One row per linked release in the window: ``journey``, ``person_id`` (spine), ``pkey`` (the person at the
    band, see :func:`_person_key`), ``release_date``, ``status``
    (accommodation at release), ``reoffended`` (within 12 months; NULL without court data), ``known_to_la`` and
    housing contacts within 3 and 12 months (``housing_3m``, ``housing_12m``; NULL without local-authority data).

    Reoffending is counted on ``rkey``: the person of the release on the improved XJS person id at the band when
    the project holds it (:func:`._pilots.improved_xjs_table`: XJS's medium persons joined where the toolkit's model
    links two with high confidence; its high band is XJS's own, its low band XJS's low persons joined through the
    improved medium ones), so a magistrates' case on another XJS fragment of the same person counts; else ``pkey``."""
    acc = _accommodation_sql(con, band)
    mags = has_table(con, "extract", "mags_defendant_case") and "mags_defendant_case" in linked_tables(con)
    la = _la_ok(con)
    imp = improved_xjs_table(con)
    pj, pk = _person_key(con, "prison_custodial_journey", "p", band)
    rk = pk
    if imp is not None:
        ij, ik = _person_key(con, "prison_custodial_journey", "p", band, link=imp)
        if ik.startswith("i_p."):  # a release the improved id lacks keeps its XJS person ('I' + md5 ids: no clash)
            pj += f"\n  LEFT {ij}"
            rk = f"coalesce({ik}, {pk})"
    ctes = [f"""j AS (
  SELECT p.row_id_hash AS journey, r.person_id, {pk} AS pkey, {rk} AS rkey, p.reception_date, p.release_date
  FROM extract.prison_custodial_journey p
  JOIN spine.person_record r ON r.source_table = 'prison_custodial_journey' AND r.record_id = p.row_id_hash
  {pj}
  WHERE {band_filter(band, 'r.band_joined')} AND p.release_date BETWEEN DATE '{start}' AND DATE '{end}')"""]
    joins, cols = [], []
    if acc:
        ctes += [f"acc AS ({acc})", """st AS (
  SELECT j.journey, a.status FROM j JOIN acc a ON a.pkey = j.pkey
    AND a.assessment_date BETWEEN j.reception_date - INTERVAL 365 DAY AND j.release_date
  QUALIFY ROW_NUMBER() OVER (PARTITION BY j.journey ORDER BY a.assessment_date DESC, a.status) = 1)"""]
        joins.append("LEFT JOIN st USING (journey)")
        cols.append("coalesce(st.status, 'Not known') AS status")
    else:
        cols.append("'Not known' AS status")
    if mags:
        mj, mk = _person_key(con, "mags_defendant_case", "c", band, link=imp)
        ctes.append(f"""mc AS (SELECT {mk} AS rkey, c.main_offence_date FROM extract.mags_defendant_case c {mj}),
ro AS (
  SELECT DISTINCT j.journey FROM j JOIN mc ON mc.rkey = j.rkey
  WHERE mc.main_offence_date > j.release_date AND mc.main_offence_date <= j.release_date + INTERVAL 365 DAY)""")
        joins.append("LEFT JOIN ro ON ro.journey = j.journey")
        cols.append("ro.journey IS NOT NULL AS reoffended")
    else:
        cols.append("CAST(NULL AS BOOLEAN) AS reoffended")
    if la:
        ctes += [f"""lp AS (SELECT DISTINCT person_id FROM spine.person_record
  WHERE source_table = 'la_residents' AND {band_filter(band)})""", f"""hc AS (
  SELECT j.journey, bool_or(s.contact_date <= j.release_date + INTERVAL 91 DAY) AS h3
  FROM j JOIN spine.person_record r ON r.person_id = j.person_id AND r.source_table = 'la_residents'
  JOIN extract.la_service_contacts s ON s.resident_id = r.record_id
  WHERE {band_filter(band, 'r.band_joined')} AND s.service IN ({_services()})
    AND s.contact_date > j.release_date AND s.contact_date <= j.release_date + INTERVAL 365 DAY
  GROUP BY j.journey)"""]
        joins += ["LEFT JOIN lp ON lp.person_id = j.person_id", "LEFT JOIN hc ON hc.journey = j.journey"]
        cols += ["lp.person_id IS NOT NULL AS known_to_la", "coalesce(hc.h3, false) AS housing_3m",
                 "hc.journey IS NOT NULL AS housing_12m"]
    else:
        cols += ["CAST(NULL AS BOOLEAN) AS known_to_la", "CAST(NULL AS BOOLEAN) AS housing_3m",
                 "CAST(NULL AS BOOLEAN) AS housing_12m"]
    sql = (f"WITH {', '.join(ctes)}\nSELECT j.journey, j.person_id, j.pkey, j.release_date, {', '.join(cols)}\n"
           f"FROM j {' '.join(joins)} ORDER BY j.journey")
    return con.execute(sql).fetchdf()


def settled_after_contact(con: Any, band: str, lv: pd.DataFrame) -> pd.DataFrame:
    """For leavers without settled accommodation who had a housing contact within 12 months: the service of the
    first such contact and whether the next OASys assessment (within a year) records settled accommodation."""
    acc = _accommodation_sql(con, band)
    if acc is None or not _la_ok(con):
        return pd.DataFrame(columns=["service", "settled"])
    target = lv[lv["status"].isin(STATUSES[:2]) & lv["housing_12m"].fillna(False).astype(bool)]
    if target.empty:
        return pd.DataFrame(columns=["service", "settled"])
    con.register("_pl_target", target[["journey", "person_id", "pkey", "release_date"]])
    try:
        df = con.execute(f"""
WITH acc AS ({acc}),
first_contact AS (
  SELECT t.journey, t.pkey, s.service, s.contact_date
  FROM _pl_target t JOIN spine.person_record r ON r.source_table = 'la_residents' AND r.person_id = t.person_id
  JOIN extract.la_service_contacts s ON s.resident_id = r.record_id
  WHERE {band_filter(band, 'r.band_joined')} AND s.service IN ({_services()})
    AND s.contact_date > t.release_date AND s.contact_date <= t.release_date + INTERVAL 365 DAY
  QUALIFY ROW_NUMBER() OVER (PARTITION BY t.journey ORDER BY s.contact_date, s.service) = 1)
SELECT f.journey, f.service, a.status AS next_status
FROM first_contact f JOIN acc a ON a.pkey = f.pkey AND a.assessment_date > f.contact_date
  AND a.assessment_date <= f.contact_date + INTERVAL 365 DAY
QUALIFY ROW_NUMBER() OVER (PARTITION BY f.journey ORDER BY a.assessment_date, a.status) = 1""").fetchdf()
    finally:
        con.unregister("_pl_target")
    return pd.DataFrame({"service": df["service"].map(HOUSING_SERVICES),
                         "settled": df["next_status"] == STATUSES[2]})


def _truth(ctx: StudyContext, start: date, end: date) -> dict[str, float | None]:
    """The synthetic truth over the same window, every record at its true person (see the module docstring)."""
    out: dict[str, float | None] = {"reoffending": None, "housing_12m": None}
    if ctx.truth_dir is None:
        return out
    from .synthetic import has_view, population_connection

    t = population_connection(ctx.truth_dir)
    try:
        if has_view(t, "truth_outcomes"):
            r = t.execute(f"""SELECT avg(CAST(outcome AS DOUBLE)) FROM truth_outcomes
                WHERE use_case = 'reoffending_12m_after_release' AND "table" = 'prison_custodial_journey'
                  AND t0 BETWEEN DATE '{start}' AND DATE '{end}'""").fetchone()[0]
            out["reoffending"] = None if r is None else float(r)
        if all(has_view(t, v) for v in ("truth_record", "prison_custodial_journey", "la_service_contacts")):
            r = t.execute(f"""
WITH rel AS (SELECT p.row_id_hash, p.release_date, tr.person_id FROM prison_custodial_journey p
             JOIN truth_record tr ON tr."table" = 'prison_custodial_journey' AND tr.record_id = p.row_id_hash
             WHERE p.release_date BETWEEN DATE '{start}' AND DATE '{end}'
               AND tr.person_id IN (SELECT person_id FROM truth_record WHERE "table" = 'la_residents')),
c AS (SELECT tr.person_id, s.contact_date FROM la_service_contacts s
      JOIN truth_record tr ON tr."table" = 'la_residents' AND tr.record_id = s.resident_id
      WHERE s.service IN ({_services()}))
SELECT avg(CAST(EXISTS (SELECT 1 FROM c WHERE c.person_id = rel.person_id AND c.contact_date > rel.release_date
                        AND c.contact_date <= rel.release_date + INTERVAL 365 DAY) AS DOUBLE))
FROM rel""").fetchone()[0]
            out["housing_12m"] = None if r is None else float(r)
    finally:
        t.close()
    return out


@study(NAME, kinds=("shares", "association"),
       measures=("accommodation_at_release", "housing_contact_3m", "housing_contact_12m", "reoffending_12m",
                 "settled_after_contact"),
       sources=("prison", "oasys", "courts", "local_authority"))
def run(ctx: StudyContext) -> StudyResult:
    """Run study 2 at ``ctx.band`` (see the module docstring; the methods note is the definition's)."""
    con, band = ctx.con, ctx.band
    res = StudyResult(name=NAME, band=band, methods=methods_of(ctx))
    if not (has_table(con, "extract", "prison_custodial_journey")
            and "prison_custodial_journey" in linked_tables(con)):
        res.not_available.append(not_loaded("Prison releases", "extract.prison_custodial_journey (linked to the "
                                            "spine)", "load the Data First extracts with `bold load` and build the "
                                            "spine with `bold spine build`"))
        return res
    start, end = _window(ctx)
    population = f"{NAME}@{band}"
    by_band = {b: leavers(con, b, start, end) for b in BANDS}
    lv = by_band[band]
    if _accommodation_sql(con, band) is None:
        res.not_available.append(not_loaded("Accommodation status at release", "OASys assessments "
                                            "(oasys_assessments_metadata and the core risk or BCS details)",
                                            "load the Data First extracts with `bold load` (OASys dataset)"))
    status = lv["status"]
    res.outputs.append(check_counts(
        status.value_counts().reindex(STATUSES, fill_value=0).rename_axis("Accommodation at release")
        .reset_index(name="n"), "n", "Accommodation at release", levels={"Accommodation at release": list(STATUSES)},
        title="Releases from custody by accommodation status at release", population=population,
        source="P-NOMIS custodial journeys and OASys, linked on the spine"))
    nfa_est = {b: BandEstimate(b, float(d["status"].isin(STATUSES[:2]).sum()), float(len(d)))
               for b, d in by_band.items()}
    h, outs = proportion_headline("no_settled_accommodation", "Releases without settled accommodation",
                                  nfa_est, band, truth=None, title="Releases with no fixed abode or unsuitable "
                                  "accommodation", population=population)
    res.headlines.append(h)
    res.outputs.extend(outs[2:])
    truth = _truth(ctx, start, end)

    # reoffending by accommodation status
    if lv["reoffended"].isna().all():
        res.not_available.append(not_loaded("Reoffending", "extract.mags_defendant_case (linked)",
                                            "load the Data First extracts with `bold load`"))
    else:
        grp = lv.groupby("status")["reoffended"].agg(["sum", "count"]).reindex(STATUSES, fill_value=0)
        frame = grp.rename_axis("Accommodation at release").reset_index()
        order = {"Accommodation at release": list(STATUSES)}
        num = check_counts(frame, "sum", "Accommodation at release", levels=order,
                           title="Releases followed by reoffending within 12 months",
                           population=subpopulation(population, "reoffended"))
        den = check_counts(frame, "count", "Accommodation at release", levels=order,
                           title="Releases (reoffending denominator)",
                           population=population)
        res.outputs += [num, den, rate_table(num, den, title="Reoffending within 12 months of release by "
                                                              "accommodation status at release (%)")]
        est = {b: BandEstimate(b, float(d["reoffended"].sum()), float(len(d))) for b, d in by_band.items()}
        h, outs = proportion_headline("reoffending_12m", "Releases followed by reoffending within 12 months", est,
                                      band, truth=truth["reoffending"], title="Reoffending within 12 months of "
                                      "release", population=population)
        res.headlines.append(h)
        res.outputs.append(outs[2])

    # housing and homelessness contacts after release
    if not _la_ok(con):
        res.not_available.append(not_loaded(
            "Local-authority housing and homelessness contacts", "extract.la_residents and "
            "extract.la_service_contacts (linked to the spine)", "put the local-authority files in the extracts "
            "folder, `bold load`, then link residents (the pipeline's la_residents stage, `bold demo`)"))
    else:
        known = lv[lv["known_to_la"].fillna(False).astype(bool)]
        rows = []
        for st in STATUSES:
            sub = known[known["status"] == st]
            for w, col in (("3 months", "housing_3m"), ("12 months", "housing_12m")):
                rows.append({"Accommodation at release": st, "Window": w,
                             "k": int(sub[col].fillna(False).astype(bool).sum()), "n": len(sub)})
        frame = pd.DataFrame(rows)
        lv_ = {"Window": list(WINDOWS), "Accommodation at release": list(STATUSES)}
        num = check_counts(frame, "k", "Accommodation at release", "Window", levels=lv_, title="Leavers known to "
                           "the local authority with a housing or homelessness contact after release",
                           population=subpopulation(population, "housing_contact"), margins="row")
        den = check_counts(frame, "n", "Accommodation at release", "Window", levels=lv_, title="Leavers known to the "
                           "local authority", population=subpopulation(population, "known_to_la"), margins="row")
        res.outputs += [num, den, rate_table(num, den, title="Housing or homelessness contact within 3 and 12 "
                                                              "months of release, by accommodation at release (%)")]
        est = {}
        for b, d in by_band.items():
            kk = d[d["known_to_la"].fillna(False).astype(bool)]
            est[b] = BandEstimate(b, float(kk["housing_12m"].fillna(False).astype(bool).sum()), float(len(kk)))
        h, outs = proportion_headline("housing_contact_12m", "Leavers known to the authority with a housing "
                                      "contact within 12 months", est, band, truth=truth["housing_12m"],
                                      title="Housing or homelessness contact within 12 months of release",
                                      population=population)
        res.headlines.append(h)
        res.outputs.append(outs[2])
        sa = settled_after_contact(con, band, lv)
        if len(sa):
            g = sa.groupby("service")["settled"].agg(["sum", "count"]).reindex(list(HOUSING_SERVICES.values()),
                                                                                fill_value=0)
            frame = g.rename_axis("First housing contact").reset_index()
            num = check_counts(frame, "sum", "First housing contact", title="Leavers without settled accommodation "
                               "whose next assessment records settled accommodation",
                               population=subpopulation(population, "settled_after_contact"))
            den = check_counts(frame, "count", "First housing contact", title="Leavers without settled "
                               "accommodation with a housing contact and a later assessment",
                               population=subpopulation(population, "contact_and_later_assessment"))
            res.outputs += [num, den, rate_table(num, den, title="Settled accommodation at the next assessment after "
                                                 "a housing contact, by service (%): an association, not an effect")]
        else:
            res.texts.append(("Settled accommodation after a contact", "No leaver without settled accommodation had "
                              "both a housing contact and a later OASys assessment at this band."))
    res.texts.append(("Window", f"Releases from {start} to {end}, linkage band {band}."))
    improved = improved_xjs_table(con) is not None
    if improved:
        res.texts.append(("Persons", "Persons: reoffending is counted on the improved XJS person id (`bold link "
                          "xjs-audit`: XJS's medium persons joined wherever the toolkit's own model links two of "
                          "them with high confidence), so a magistrates' case on another XJS fragment of the person "
                          "released counts. The improved id is built at the medium band: at the high band the "
                          "persons are XJS's own high clusters, at the low band XJS's low clusters joined through "
                          "the improved persons. Accommodation at release is matched on XJS's person at the band."))
    else:
        res.texts.append(("Persons", "Persons: XJS's published person id at the band. A magistrates' case on "
                          "another XJS fragment of the person released is missed, so the reoffending share is too "
                          "low; run `bold link xjs-audit` (the improved person id) and rerun the study."))
    res.texts.append(("Interval", "Each share's interval carries sampling uncertainty (95% Wilson intervals of the "
                      "published counts) and linkage uncertainty as the union of the intervals at the high, medium "
                      "and low bands (a court case or assessment joins its release through the "
                      + ("improved " if improved else "") + "XJS person at that band, which the warehouse holds "
                      "at all three). It does not carry the court cases on another XJS fragment of the same person "
                      "that " + ("even the improved id" if improved else "XJS") + " does not join at the low band: "
                      "where they are missed the reoffending share is low."))
    return res
