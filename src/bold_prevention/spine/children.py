"""Children of the people on the spine: ``spine.person_child``, so analyses can ask about the children of people in
contact with justice (and :mod:`.outcomes` can measure poor child outcomes for them).

:func:`build_children` relates a spine person to a child from three sources, each with its own relation and band:

==================  ================  ====================================================================  =======
source              relation          how                                                                   band
==================  ================  ====================================================================  =======
``child_benefit``   ``claimant``      the person's linked Child Benefit claim (HMRC, through the claimant's  the
                                      NINO) lists the child                                                 claim's
``family_court``    ``case_party``    the person is an applicant or respondent to a Children Act or         the
                                      adoption case in which the child is a party                           party's
``npd_address``     ``household``     an NPD pupil with the postcode and surname of one of the person's     ``low``
                                      justice records, 15 to 55 years younger
==================  ================  ====================================================================  =======

A child has one pseudonymised ``child_id`` across the sources (an HMAC of its standardised name and date of birth,
made in the linkage layer: :func:`bold_prevention.linkage.wave_link.child_records`); ``child_pupil_ref`` is its NPD
pupil matching reference where the NPD holds it, for the child outcomes. ``band_joined`` is the band at which the
parent's record joined the spine (``low`` for the address relation). No identifier reaches the spine.

:func:`score_children` scores the relation against the synthetic truth (``truth_child_parent`` and, for Child
Benefit, ``truth_child_benefit``): precision and recall overall and by source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..warehouse.engine import table_exists

__all__ = ["ChildrenResult", "build_children", "score_children"]

SOURCES = ("child_benefit", "family_court", "npd_address")


@dataclass
class ChildrenResult:
    rows: int
    persons: int
    children: int
    #: source -> rows, or the reason the source gave none
    sources: dict[str, Any] = field(default_factory=dict)


def build_children(con, *, progress: Callable[[str], None] | None = None) -> ChildrenResult:
    """Build ``spine.person_child`` (``person_id, child_id, relation, source, band_joined, child_table,
    child_record_id, child_pupil_ref, child_birth_year``) from the loaded and linked sources (see the module
    docstring). Sources that are not loaded or linked add no rows and are named in the result."""
    from ..linkage.wave_link import child_records, household_pupils

    say = progress or (lambda _m: None)
    if not table_exists(con, "spine", "person"):
        raise InputError("no spine has been built in this warehouse",
                         hint="run `bold spine build --as-at YYYY-MM-DD` first")
    say("pseudonymising child records")
    kids = child_records(con)
    con.register("_pc_kids", kids)
    parts: list[str] = []
    res = ChildrenResult(0, 0, 0)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _pc_child AS SELECT * FROM _pc_kids")
    finally:
        con.unregister("_pc_kids")
    linked = {r[0] for r in con.execute("SELECT DISTINCT source_table FROM spine.person_record").fetchall()}
    if "hmrc_child_benefit_claims" in linked and table_exists(con, "extract", "hmrc_child_benefit_children"):
        parts.append("""
SELECT r.person_id, k.child_id, 'claimant' AS relation, 'child_benefit' AS source, r.band_joined,
       k.child_table, k.child_record_id, k.pupil_ref AS child_pupil_ref, k.birth_year AS child_birth_year
FROM extract.hmrc_child_benefit_children c
JOIN spine.person_record r ON r.source_table = 'hmrc_child_benefit_claims' AND r.record_id = c.claim_id
JOIN _pc_child k ON k.child_table = 'hmrc_child_benefit_children' AND k.child_record_id = c.child_ref""")
    else:
        res.sources["child_benefit"] = "HMRC Child Benefit is not loaded and linked (`bold link wave hmrc`)"
    if table_exists(con, "extract", "family_parties") and "family_parties" in linked:
        parts.append("""
SELECT r.person_id, k.child_id, 'case_party' AS relation, 'family_court' AS source, r.band_joined,
       k.child_table, k.child_record_id, k.pupil_ref, k.birth_year
FROM extract.family_parties a
JOIN extract.family_cases fc ON fc.case_number_hash = a.case_number_hash AND fc.case_type IN ('C', 'P', 'A')
JOIN extract.family_parties c ON c.case_number_hash = a.case_number_hash AND c.role_model LIKE 'CHLD%'
JOIN spine.person_record r ON r.source_table = 'family_parties' AND r.record_id = a.row_id_hash
JOIN _pc_child k ON k.child_table = 'family_parties' AND k.child_record_id = c.row_id_hash
WHERE a.role_model LIKE 'APL%' OR a.role_model LIKE 'RSP%'""")
    else:
        res.sources["family_court"] = "family court parties are not loaded"
    hh = household_pupils(con)
    if hh.num_rows:
        con.register("_pc_hh", hh)
        con.execute("CREATE OR REPLACE TEMP TABLE _pc_household AS SELECT * FROM _pc_hh")
        con.unregister("_pc_hh")
        parts.append("""
SELECT h.person_id, k.child_id, 'household' AS relation, 'npd_address' AS source, 'low' AS band_joined,
       k.child_table, k.child_record_id, k.pupil_ref, k.birth_year
FROM _pc_household h JOIN _pc_child k ON k.child_table = 'npd_pupil' AND k.child_record_id = h.child_record_id""")
    else:
        res.sources["npd_address"] = "no NPD pupil shares an address and surname with a spine person"
    say("writing spine.person_child")
    body = "\nUNION ALL\n".join(parts) if parts else (
        "SELECT CAST(NULL AS VARCHAR) AS person_id, CAST(NULL AS VARCHAR) AS child_id, CAST(NULL AS VARCHAR) AS "
        "relation, CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS band_joined, CAST(NULL AS VARCHAR) AS "
        "child_table, CAST(NULL AS VARCHAR) AS child_record_id, CAST(NULL AS VARCHAR) AS child_pupil_ref, "
        "CAST(NULL AS BIGINT) AS child_birth_year WHERE FALSE")
    con.execute(f"""CREATE OR REPLACE TABLE spine.person_child AS
SELECT x.person_id, x.child_id, x.relation, x.source, x.band_joined, x.child_table, x.child_record_id,
       x.child_pupil_ref, x.child_birth_year
FROM ({body}) x JOIN spine.person p ON p.person_id = x.person_id
WHERE x.person_id IS NOT NULL
QUALIFY ROW_NUMBER() OVER (PARTITION BY x.person_id, x.child_id, x.source
                           ORDER BY CASE x.band_joined WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
                                    x.child_record_id) = 1
ORDER BY x.person_id, x.child_id, x.source""")
    for t in ("_pc_child", "_pc_household"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    n, persons, children = con.execute("SELECT COUNT(*), COUNT(DISTINCT person_id), COUNT(DISTINCT child_id) "
                                       "FROM spine.person_child").fetchall()[0]
    res.rows, res.persons, res.children = int(n), int(persons), int(children)
    for s, c in con.execute("SELECT source, COUNT(*) FROM spine.person_child GROUP BY 1").fetchall():
        res.sources[s] = int(c)
    return res


def _prf(correct: int, links: int, findable: int) -> dict[str, Any]:
    p = correct / links if links else None
    r = min(1.0, correct / findable) if findable else None
    f1 = 2 * p * r / (p + r) if p and r else None
    return {"pairs": links, "correct": correct, "findable": findable,
            "precision": None if p is None else round(p, 4), "recall": None if r is None else round(r, 4),
            "f1": None if f1 is None else round(f1, 4)}


def score_children(con, truth_dir: str | Path) -> dict[str, Any]:
    """Precision and recall of ``spine.person_child`` against the synthetic truth (evaluation only).

    Each spine person is its modal true person (over its justice records); each child record its true person. A
    relation is correct when (true parent, true child) is in ``truth_child_parent``. Recall counts the true pairs
    whose parent is on the spine and whose child has a record in the child sources; for ``child_benefit`` it counts
    the pairs of ``truth_child_benefit`` whose claimant is on the spine. Returns ``overall`` and ``by_source``."""
    import duckdb

    truth = Path(truth_dir)
    need = {n: truth / f"{n}.parquet" for n in ("truth_record", "truth_child_parent", "truth_child_benefit")}
    for n in ("truth_record", "truth_child_parent"):
        if not need[n].exists():
            raise InputError(f"no {n} table in {truth}", hint="give the truth folder of a synthetic population "
                             "generated with --waves or --sources")
    if not table_exists(con, "spine", "person_child"):
        raise InputError("the spine has no spine.person_child", hint="run `bold spine children` first")
    from ..datafirst import MODEL

    justice = ", ".join(f"'{t.name}'" for t in MODEL.xjs_tables())
    s = duckdb.connect()
    try:
        s.register("pc", con.sql("SELECT person_id, child_id, source, child_table, child_record_id "
                                 "FROM spine.person_child").to_arrow_table())
        s.register("pr", con.sql(f"SELECT r.person_id, r.source_table, r.record_id FROM spine.person_record r "
                                 f"JOIN spine.person p ON p.person_id = r.person_id "
                                 f"WHERE r.source_table IN ({justice})").to_arrow_table())
        s.execute(f"CREATE TABLE tr AS SELECT * FROM read_parquet('{need['truth_record'].as_posix()}')")
        s.execute(f"CREATE TABLE cp AS SELECT * FROM read_parquet('{need['truth_child_parent'].as_posix()}')")
        s.execute("""CREATE TABLE parent AS SELECT person_id, true_person FROM (
            SELECT pr.person_id, t.person_id AS true_person, COUNT(*) AS n FROM pr
            JOIN tr t ON t."table" = pr.source_table AND t.record_id = pr.record_id GROUP BY 1, 2)
            QUALIFY ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY n DESC, true_person) = 1""")
        s.execute("""CREATE TABLE judged AS SELECT DISTINCT pc.person_id, pc.child_id, pc.source, p.true_person,
            t.person_id AS true_child, EXISTS (SELECT 1 FROM cp WHERE cp.parent_person_id = p.true_person
                                              AND cp.child_person_id = t.person_id) AS correct
            FROM pc LEFT JOIN parent p USING (person_id)
            LEFT JOIN tr t ON t."table" = pc.child_table AND t.record_id = pc.child_record_id""")
        child_tables = ", ".join(f"'{t}'" for t in ("hmrc_child_benefit_children", "npd_pupil", "family_parties"))
        s.execute(f"""CREATE TABLE findable AS SELECT DISTINCT cp.parent_person_id, cp.child_person_id FROM cp
            WHERE cp.parent_person_id IN (SELECT true_person FROM parent)
              AND cp.child_person_id IN (SELECT person_id FROM tr WHERE "table" IN ({child_tables}))""")

        def found(where: str) -> int:
            return s.execute(f"""SELECT COUNT(*) FROM (SELECT DISTINCT true_person, true_child FROM judged
                                 WHERE correct AND {where})""").fetchall()[0][0]

        def pairs(where: str) -> tuple[int, int]:
            return s.execute(f"""SELECT COUNT(*), COUNT(*) FILTER (WHERE correct) FROM (
                SELECT person_id, child_id, BOOL_OR(correct) AS correct FROM judged WHERE {where} GROUP BY 1, 2)"""
                             ).fetchall()[0]

        n_find = s.execute("SELECT COUNT(*) FROM findable").fetchall()[0][0]
        links, correct = pairs("TRUE")
        out: dict[str, Any] = {"overall": {**_prf(correct, links, n_find), "true_pairs_found": found("TRUE")},
                               "by_source": {}}
        out["overall"]["recall"] = round(found("TRUE") / n_find, 4) if n_find else None
        for src in SOURCES:
            lk, cr = pairs(f"source = '{src}'")
            if not lk:
                continue
            out["by_source"][src] = _prf(cr, lk, 0)
            if src == "child_benefit" and need["truth_child_benefit"].exists():
                s.execute(f"CREATE TABLE cb AS SELECT * FROM read_parquet('{need['truth_child_benefit'].as_posix()}')")
                fb = s.execute("""SELECT COUNT(*) FROM cb WHERE claimant_person_id IN (SELECT true_person FROM parent)
                                  """).fetchall()[0][0]
                hit = s.execute("""SELECT COUNT(*) FROM (SELECT DISTINCT true_person, true_child FROM judged j
                    JOIN cb ON cb.claimant_person_id = j.true_person AND cb.child_person_id = j.true_child
                    WHERE j.source = 'child_benefit')""").fetchall()[0][0]
                out["by_source"][src]["against_truth_child_benefit"] = {
                    "findable": int(fb), "found": int(hit), "recall": round(hit / fb, 4) if fb else None}
        # recomputed F1 with the overall recall
        o = out["overall"]
        if o["precision"] and o["recall"]:
            o["f1"] = round(2 * o["precision"] * o["recall"] / (o["precision"] + o["recall"]), 4)
        return out
    finally:
        s.close()
