"""Link a new source to the justice spine (Waves 1-3): a local authority's residents, pupils, and so on.

Such a source shares no identifier with Data First, so it is linked probabilistically: its identity records (in the
linkage layer's identity store) are scored with Splink against the identity records of every justice record that
belongs to a spine person (``spine.person_record``), through the same pipeline as ``bold link``
(:func:`bold_prevention.linkage.run.link_tables`: standardisation, training or reuse of a saved model, prediction,
hard non-match guards). Each source record then joins the spine person of its best-scoring pair, at the band that
pair's match probability reaches, and is added to ``spine.person_record`` with that ``band_joined`` (only bands at
least as strict as the band the spine was built at). The trained model is saved under ``<project>/models/`` and
reused on the next snapshot.

Identifiers never leave the linkage layer: the scratch tables live in a private in-memory database, and only
pseudonymised person ids, record ids, match scores and bands are written to ``spine.person_record``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..datafirst import MODEL
from ..datafirst.waves import WAVE_MODEL
from ..errors import InputError
from ..warehouse.engine import tables, transaction
from .comparisons import ExtraComparison
from .config import LinkConfig, SideConfig
from .splink_model import BANDS, Thresholds, quiet_splink
from .xjs import band_rank

Progress = Callable[[str], None]

_ROLES = ("forename", "middle_names", "surname", "date_of_birth", "sex", "postcode")

#: Every linked source record's best spine candidate: ``source_table, record_id, person_id, pair_score`` (the best
#: pairwise match probability of Splink's model), ``match_score`` and ``band_joined`` (of the pair the record would
#: join, after the source's evidence; NULL below the low band), whatever band the spine was built at. Records below
#: the spine's band are not in ``spine.person_record``; the studies read them for the low band and for the expected
#: number of missed links (no identifiers: pseudonymised ids and scores only).
LINK_CANDIDATES = "spine.link_candidates"


@dataclass
class WaveLinkResult:
    source_table: str
    records: int
    linked: dict[str, int]
    band: str
    model_path: Path | None
    reused_model: bool
    seconds: float
    quality: dict[str, Any] = field(default_factory=dict)
    #: The best pair of every source record at any band (record_id, person_id, match_score, band_joined), kept
    #: when asked for (``keep_pairs``) for quality by band.
    pairs: Any = None

    @property
    def link_rate(self) -> float:
        return sum(self.linked.values()) / self.records if self.records else 0.0


#: Roles of the NDTMS attributor: initials, date of birth, sex and local authority (as the ``town`` role).
_ATTRIBUTOR_ROLES = ("forename", "surname", "date_of_birth", "sex", "town")


#: The postcode area (the letters the postcode starts with) as an extra comparison beside the postcode role: a
#: person who moved usually moved nearby, so records with different postcodes of the same area are more alike
#: than two postcodes anywhere (the postcode role's levels stop at the district).
AREA = "postcode_area"


def _identity_select(table: str, id_expr: str, extra: str = "") -> str:
    t = WAVE_MODEL.table(table)
    roles = t.identifier_roles
    cols = ", ".join(f"{roles[r]} as {r}" if r in roles else f"null as {r}" for r in _ROLES)
    area = (f", nullif(regexp_extract(upper(trim(cast({roles['postcode']} as varchar))), '^[A-Z]{{1,2}}'), '') "
            f"as {AREA}" if "postcode" in roles else f", cast(null as varchar) as {AREA}")
    return f"select {id_expr} as record_id, {cols}{area}{extra} from linkage.identity_{table}"


def link_source_to_spine(con: duckdb.DuckDBPyConnection, source_table: str = "la_residents", *,
                         model_path: str | Path | None = None, retrain: bool = False,
                         thresholds: Thresholds | None = None, progress: Progress | None = None,
                         attributor: bool = False, keep_pairs: bool = False,
                         one_per_person: bool = False, postcode_area: bool = False,
                         complete_identities: bool = False, exclusive: bool = False,
                         birth_ranges: Any = None, range_evidence: bool = True,
                         household_evidence: bool = False) -> WaveLinkResult:
    """Link ``source_table``'s persons to the spine persons and add them to ``spine.person_record``.

    ``model_path``: where the Splink model is saved (and reused from, unless ``retrain``). ``attributor``: the
    source identifies people by initials, date of birth, sex and local authority only (NDTMS): the spine's
    identities are reduced to the same initials, and their local authority is that of the justice record's LSOA;
    the model compares initials (with their frequencies), date of birth (transpositions and slips included), sex
    and local authority. ``one_per_person``: the source holds one record per person (a register keyed by a
    national number, a pupil reference, a death): a spine person joins at most one of its records, the best scoring
    (the others stay unlinked rather than join a person who already has their record). ``postcode_area``: compare
    the postcode area too (adults who move mostly move nearby); leave it off for children, whose siblings share
    their address and surname. ``complete_identities``: fill what a justice identity lacks (date of birth, sex,
    forename) from the spine person's other identities (see :func:`complete_person_identities`). ``exclusive``:
    score each record-person pair as one assignment among its competitors (see :func:`exclusive_scores_sql`)
    instead of alone. ``birth_ranges`` (with or without ``exclusive``; an Arrow table ``person_id, born_after,
    born_before`` of the dates of birth the spine persons' court roles imply, see
    :func:`bold_prevention.linkage.wave_link.implied_birth_ranges`): the share of spine persons expected in the
    source is counted among the persons whose date of birth (or implied range) the source's dates of birth can
    reach, and, unless ``range_evidence`` is false, every pair of a spine person with no date of birth is weighed by
    whether the record's date of birth lies in the person's implied range (see :func:`birth_range_evidence`).
    ``household_evidence``: the source holds a household reference (``household_id``, a resident index): a pair is
    weighed by whether another member of the record's household has a candidate among the spine person's
    associates, the persons who shared a court case or an address with it (see :func:`household_evidence_sql`).
    """
    import time

    from .run import link_tables

    say = progress or (lambda _m: None)
    t_start = time.perf_counter()
    t = WAVE_MODEL.table(source_table)
    if not t.record_id or not t.holds_persons:
        raise InputError(f"table {source_table} holds no person records to link",
                         hint="link a person table such as la_residents or npd_pupil")
    present = tables(con)
    if ("linkage", f"identity_{source_table}") not in present:
        raise InputError(f"the warehouse has no identities for {source_table} (linkage.identity_{source_table})",
                         hint=f"load the {t.dataset} files with `bold load` first")
    if ("spine", "person_record") not in present:
        raise InputError("the warehouse has no spine.person_record (the XJS person records)",
                         hint="build the spine first: `bold spine build`")
    band = con.execute("select min(band) from spine.person_record").fetchall()[0][0] or "medium"
    thresholds = thresholds or Thresholds()

    # Justice identities of spine persons: one row per distinct identity of a person.
    parts = []
    for jt in MODEL.xjs_tables():
        if ("linkage", f"identity_{jt.name}") not in present:
            continue
        if attributor:
            parts.append(_attributor_spine(jt, ("extract", jt.name) in present))
            continue
        parts.append(
            f"select r.person_id, i.* exclude (record_id) from ({_identity_select(jt.name, jt.record_id)}) i "
            f"join spine.person_record r on r.source_table = '{jt.name}' and r.record_id = i.record_id")
    if not parts:
        raise InputError("no justice identities to link to", hint="load the Data First extracts first")
    scratch = duckdb.connect()
    try:
        src = con.sql(_attributor_source(source_table, t.record_id) if attributor
                      else _identity_select(source_table, t.record_id)).to_arrow_table()
        if src.num_rows == 0:
            raise InputError(f"{source_table} holds no records", hint=f"load a non-empty {source_table} file")
        union = " union all ".join(parts)
        on = con
        if complete_identities and not attributor:
            # completed in the private database (DuckDB SQL), whatever engine holds the warehouse
            scratch.register("__spine_plain_arrow", con.sql(union).to_arrow_table())
            union, on = complete_person_identities("select * from __spine_plain_arrow"), scratch
        spine_ids = on.sql(
            "select person_id || ':' || row_number() over (partition by person_id order by surname, forename, "
            + ("date_of_birth, town" if attributor else "date_of_birth, postcode")
            + ") as record_id, * from (select distinct * from ("
            + union + "))").to_arrow_table()
        scratch.register("__src_arrow", src)
        scratch.register("__spine_arrow", spine_ids)
        scratch.execute("create table __raw_0 as select * from __src_arrow")
        scratch.execute("create table __raw_1 as select * exclude (person_id) from __spine_arrow")
        scratch.execute("create table __spine_person as select record_id, person_id from __spine_arrow")
        mp = Path(model_path) if model_path else None
        reuse = bool(mp and mp.exists() and not retrain)
        roles = {r: r for r in (_ATTRIBUTOR_ROLES if attributor else
                                [r for r in _ROLES if r in t.identifier_roles])}
        area = postcode_area and "postcode" in roles and not attributor
        extra = ((AREA, AREA, "geography"),) if area else ()
        cfg = LinkConfig(
            left=SideConfig(path=Path(source_table), id_column="record_id", name=source_table, columns=roles,
                            postcode_format="uk", one_record_per_person=False, extra=extra),
            right=SideConfig(path=Path("spine_identities"), id_column="record_id", name="justice", columns=roles,
                             extra=extra),
            comparisons=(ExtraComparison(AREA, "geography", tf=False, neutral_within="postcode"),) if area else (),
            thresholds=thresholds, model=mp if reuse else None)
        quiet_splink()
        say(f"linking {src.num_rows:,} {source_table} records to {spine_ids.num_rows:,} spine identities"
            + (" with the saved model" if reuse else ""))
        result = link_tables(scratch, cfg, inputs=["__raw_0", "__raw_1"], progress=say, pairs_only=True)
        if mp is not None and not reuse:
            mp.parent.mkdir(parents=True, exist_ok=True)
            result.model.save(mp)
        pair_scores = (f"select l.left_id as record_id, s.person_id, max(l.match_probability) as match_score "
                       f"from {result.pairs} l join __spine_person s on s.record_id = l.right_id group by 1, 2")
        quality: dict[str, Any] = {}
        ranged = birth_ranges is not None and "date_of_birth" in roles and not attributor
        households = (household_evidence and not attributor and "household_id" in t.column_names
                      and ("extract", source_table) in present)
        if exclusive or ranged or households:
            raw_pairs = (f"select l.left_id as record_id, s.person_id, max(l.match_probability) as p "
                         f"from {result.scored} l join __spine_person s on s.record_id = l.right_id "
                         f"where l.guard is null group by 1, 2")
            persons = int(scratch.sql("select count(distinct person_id) from __spine_person").fetchall()[0][0])
            if ranged:
                scratch.register("__ranges_arrow", birth_ranges)
                raw_pairs, info = birth_range_evidence(
                    scratch, raw_pairs, records="__raw_0", spine="__spine_arrow", ranges="__ranges_arrow",
                    high=thresholds.high, weigh=range_evidence)
                quality["birth_ranges"] = info
                persons = info["plausible_persons"] or persons
            if households:
                scratch.register("__households_arrow", con.sql(
                    f"select {t.record_id} as record_id, household_id from extract.{source_table} "
                    f"where household_id is not null").to_arrow_table())
                scratch.register("__case_associates_arrow", con.sql(_court_associates_sql(present)).to_arrow_table())
                raw_pairs, info = household_evidence_sql(
                    scratch, raw_pairs, households="__households_arrow",
                    associates=("select person_id, associate_id from __case_associates_arrow union "
                                + _address_associates_sql("__spine_arrow")),
                    low=thresholds.low, high=thresholds.high)
                quality["household"] = info
            pair_scores = (exclusive_scores_sql(raw_pairs, records=src.num_rows, persons=persons, low=thresholds.low)
                           if exclusive else
                           f"select record_id, person_id, p as match_score from ({raw_pairs}) x "
                           f"where p >= {thresholds.low!r}")
        best = scratch.sql(f"""
            with p as ({pair_scores}),
            r as (select *, row_number() over (partition by record_id order by match_score desc, person_id) as k
                  from p)
            select person_id, record_id, match_score, {thresholds.band_sql('match_score')} as band_joined
            from r where k = 1
            {"qualify row_number() over (partition by person_id order by match_score desc, record_id) = 1"
             if one_per_person else ""}
        """).to_arrow_table()
        if attributor:
            say("attributor links: initials, date of birth, sex and local authority only; treat the bands as "
                "weaker evidence than a named link")
        # every record's best candidate (the joined person, or the best pairwise one), for the studies'
        # linkage-uncertainty term (see the LINK_CANDIDATES comment)
        scratch.register("__best_arrow", best)
        candidates = scratch.sql(f"""
            with raw as (select l.left_id as record_id, arg_max(s.person_id, l.match_probability) as person_id,
                                max(l.match_probability) as pair_score
                         from {result.scored} l join __spine_person s on s.record_id = l.right_id
                         where l.guard is null group by 1)
            select raw.record_id, coalesce(b.person_id, raw.person_id) as person_id, raw.pair_score,
                   b.match_score, b.band_joined
            from raw left join __best_arrow b using (record_id)""").to_arrow_table()
    finally:
        scratch.close()

    keep_rank = band_rank(band)
    con.register("__wave_links", best)
    con.register("__wave_candidates", candidates)
    try:
        with transaction(con):
            con.execute("delete from spine.person_record where source_table = ?", [source_table])
            ranks = ", ".join(f"('{b}', {band_rank(b)})" for b in BANDS)
            con.execute(f"""
                insert into spine.person_record (person_id, source_dataset, source_table, record_id, match_score,
                                                 band_joined, band, person_record_id)
                select w.person_id, '{t.dataset}', '{source_table}', w.record_id, w.match_score, w.band_joined,
                       '{band}', w.record_id
                from __wave_links w join (values {ranks}) b(name, rank) on b.name = w.band_joined
                where b.rank <= {keep_rank}
            """)
            con.execute(f"create table if not exists {LINK_CANDIDATES} (source_table varchar, record_id varchar, "
                        "person_id varchar, pair_score double, match_score double, band_joined varchar)")
            con.execute(f"delete from {LINK_CANDIDATES} where source_table = ?", [source_table])
            con.execute(f"insert into {LINK_CANDIDATES} select '{source_table}', record_id, person_id, pair_score, "
                        "match_score, band_joined from __wave_candidates")
    finally:
        con.unregister("__wave_links")
        con.unregister("__wave_candidates")
    counts = dict(con.execute(
        "select band_joined, count(*) from spine.person_record where source_table = ? group by 1",
        [source_table]).fetchall())
    return WaveLinkResult(source_table=source_table, records=src.num_rows,
                          linked={b: int(counts.get(b, 0)) for b in BANDS}, band=band, model_path=mp,
                          reused_model=reuse, seconds=time.perf_counter() - t_start, quality=quality,
                          pairs=best if keep_pairs else None)


def _court_associates_sql(present: set | frozenset | list) -> str:
    """Pairs of spine persons (``person_id, associate_id``, both ways) who were parties to one court case (a civil
    claim's defendants, a family case's applicant, respondents and children), from the justice tables that record
    a case number per party."""
    parts = []
    for jt in MODEL.xjs_tables():
        if "case_number_hash" in jt.column_names and ("extract", jt.name) in present:
            parts.append(f"select r.person_id, e.case_number_hash as case_id from spine.person_record r "
                         f"join extract.{jt.name} e on r.source_table = '{jt.name}' and r.record_id = e.{jt.record_id}")
    if not parts:
        return "select null::varchar as person_id, null::varchar as associate_id where false"
    return (f"with c as ({' union all '.join(parts)}) select distinct a.person_id, b.person_id as associate_id "
            f"from c a join c b using (case_id) where a.person_id <> b.person_id")


def _address_associates_sql(spine: str) -> str:
    """Pairs of spine persons (``person_id, associate_id``) whose identities share a full postcode."""
    pc = "upper(replace(postcode, ' ', ''))"
    return (f"select distinct a.person_id, b.person_id as associate_id from "
            f"(select distinct person_id, {pc} as pc from {spine} where postcode is not null) a join "
            f"(select distinct person_id, {pc} as pc from {spine} where postcode is not null) b "
            f"on a.pc = b.pc and a.person_id <> b.person_id")


#: Household evidence categories: the pair's record has household members and its spine person associates, and a
#: member has a candidate among them (``supported``) or not (``unsupported``).
HOUSEHOLD_CATEGORIES = ("supported", "unsupported")


def household_evidence_sql(con: duckdb.DuckDBPyConnection, pairs_sql: str, *, households: str, associates: str,
                           low: float, high: float) -> tuple[str, dict[str, Any]]:
    """Weigh every record-person pair of ``pairs_sql`` (``record_id, person_id, p``) by the record's household.

    ``households``: the source's ``record_id, household_id`` (a resident index's household reference);
    ``associates``: SQL of ``person_id, associate_id``, spine persons who shared a court case or an address. A pair
    whose record has another member in its household and whose spine person has associates falls in one of
    :data:`HOUSEHOLD_CATEGORIES`: ``supported`` when another member's record has a pair at or above ``low`` with one
    of those associates (a family that lives together met the courts together, or at one address), else
    ``unsupported``; other pairs are unchanged. Each category's Bayes factor ``m / u`` is estimated from the data:
    ``m``, its share among the high-band pairs (``p >= high``) in a category; ``u``, its share among the candidate
    pairs below ``low`` (namesakes the blocking found: the non-matches a weak pair competes with; relatives at one
    address among them make ``u`` larger, so the factor errs small), one pseudo-count per category, ``m`` shrunk
    towards ``u`` by as many pseudo-pairs as there are categories. Not weighed (``applied: False``) with fewer than
    :data:`MIN_PAIRS_FOR_RANGE_EVIDENCE` pairs on either side. It separates a court party known by name alone
    (another postcode, no date of birth) from a namesake when the resident's household went to court with it.
    Returns the pairs' SQL (the same columns; a temporary table ``__pair_household`` on ``con`` backs it) and
    what was estimated."""
    con.execute(f"""create or replace temp table __pair_household as
        with pr as (select record_id, person_id, p from ({pairs_sql}) x),
        ass as (select distinct person_id, associate_id from ({associates}) a),
        mates as (select a.record_id, b.record_id as mate from {households} a join {households} b
                  using (household_id) where a.record_id <> b.record_id),
        eligible as (select distinct pr.record_id, pr.person_id from pr
                     where exists (select 1 from mates m where m.record_id = pr.record_id)
                       and exists (select 1 from ass where ass.person_id = pr.person_id)),
        supported as (select distinct pr.record_id, pr.person_id from pr
                      join mates m on m.record_id = pr.record_id
                      join pr y on y.record_id = m.mate and y.p >= {low!r} and y.person_id <> pr.person_id
                      join ass on ass.person_id = pr.person_id and ass.associate_id = y.person_id)
        select pr.record_id, pr.person_id, pr.p,
               case when s.record_id is not null then 'supported' when e.record_id is not null then 'unsupported'
               end as cat
        from pr left join eligible e using (record_id, person_id) left join supported s using (record_id, person_id)""")
    plain = "select record_id, person_id, p from __pair_household"
    hits = dict(con.execute(f"select cat, count(*) from __pair_household where cat is not null and p >= {high!r} "
                            "group by 1").fetchall())
    rest = dict(con.execute(f"select cat, count(*) from __pair_household where cat is not null and p < {low!r} "
                            "group by 1").fetchall())
    n_high, n_low = sum(hits.values()), sum(rest.values())
    info: dict[str, Any] = {"applied": False, "high_pairs": int(n_high), "low_pairs": int(n_low),
                            "supported_high": int(hits.get("supported", 0)),
                            "supported_low": int(rest.get("supported", 0))}
    if min(n_high, n_low) < MIN_PAIRS_FOR_RANGE_EVIDENCE:
        return plain, info
    k = len(HOUSEHOLD_CATEGORIES)
    u = {c: (rest.get(c, 0) + 1) / (n_low + k) for c in HOUSEHOLD_CATEGORIES}
    m = {c: (hits.get(c, 0) + k * u[c]) / (n_high + k) for c in HOUSEHOLD_CATEGORIES}
    factors = {c: m[c] / u[c] for c in HOUSEHOLD_CATEGORIES}
    info.update(applied=True, factors={c: round(f, 3) for c, f in factors.items()},
                m={c: round(v, 4) for c, v in m.items()}, u={c: round(v, 4) for c, v in u.items()})
    case = " ".join(f"when '{c}' then {f!r}" for c, f in factors.items())
    return f"""select record_id, person_id, p * f / (p * f + 1 - p) as p
               from (select *, case cat {case} else 1.0 end as f from __pair_household) x""", info


def residents_link_options(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The options a local authority's residents (Wave 3) are linked with, by the pipeline and the benchmarks
    alike: each justice identity completed from its spine person's others (a civil or family party recorded by
    name alone is compared with the date of birth and sex the spine holds for that person), and the age the spine
    persons' court roles imply weighing every pair of a person with no date of birth
    (:func:`birth_range_evidence`; not the one-assignment score: a resident index holds duplicate records of one
    person, which would compete for it), and each pair weighed by whether the resident's household met the courts
    with the spine person (:func:`household_evidence_sql`)."""
    from .wave_link import implied_birth_ranges

    return {"complete_identities": True, "birth_ranges": implied_birth_ranges(con), "household_evidence": True}


#: Fewest high-band pairs of spine persons with an implied birth range from which the range evidence is estimated.
MIN_PAIRS_FOR_RANGE_EVIDENCE = 20
#: Share of a source's dates of birth left out at each end when deciding which spine persons it can hold (typing
#: slips in a year of birth must not make every person plausible).
SOURCE_BIRTH_TAIL = 0.005
#: Lower edges of the age bins of the age evidence, in years above the adult minimum age at the case (16-24,
#: 25-34, 35-44, 45-54, 55 and over).
AGE_BIN_YEARS = (0, 9, 19, 29, 39)


def birth_range_evidence(con: duckdb.DuckDBPyConnection, pairs_sql: str, *, records: str, spine: str, ranges: str,
                         high: float, weigh: bool = True) -> tuple[str, dict[str, Any]]:
    """Weigh every record-person pair of ``pairs_sql`` (``record_id, person_id, p``) whose spine person has no date
    of birth by the age its court roles imply, and count the spine persons the source can hold.

    ``records``: the source's identities (``record_id, date_of_birth``); ``spine``: the spine identities
    (``person_id, date_of_birth``, completed); ``ranges``: ``person_id, born_after, born_before`` (see
    :func:`bold_prevention.linkage.wave_link.implied_birth_ranges`). A pair falls in one category: ``misfit``, the
    record's date of birth is not after ``born_after`` or not on or before ``born_before`` (a missing bound does
    not bound); else, where an adult role bounds the range, ``a0`` to ``a4``, the age at that case in bins of
    :data:`AGE_BIN_YEARS` years above the adult minimum age (16-24, 25-34, 35-44, 45-54, 55 and over: court parties
    are not of every age alike); else ``fit`` (a child party's range only). Each category's Bayes factor ``m / u``
    is estimated from the data: ``m``, the share of the high-band pairs (``p >= high``) of range-bound persons in
    the category (mostly persons who also hold a date of birth, which agreed: the ages true matches have), and
    ``u``, the share of all pairs of a source record with a date of birth and a range-bound person without one in
    it (random pairs, counted exactly from the sorted dates of birth, one pseudo-count per category); ``m`` is
    shrunk towards ``u`` by as many pseudo-pairs as there are categories, so a category seen on neither side
    weighs no more than its absence from the high-band sample says.
    A pair of a person with no date of birth has its odds multiplied by its category's factor; other pairs are
    unchanged. It is the only evidence of age a name-only court party carries (civil and family parties are often
    recorded without a date of birth), and it separates namesakes of two generations at one address.

    Not weighed (``applied: False``) when ``weigh`` is false, with fewer than
    :data:`MIN_PAIRS_FOR_RANGE_EVIDENCE` high-band pairs of range-bound persons, or no range-bound person without a
    date of birth. Either way ``plausible_persons`` counts the spine persons whose date of birth (or implied range,
    or no knowledge at all) overlaps the source's dates of birth, :data:`SOURCE_BIRTH_TAIL` left out at each end:
    the persons the source can hold, over which the share of spine persons expected in it is counted
    (:func:`exclusive_scores_sql`; a source of adults cannot hold a spine person who is a young child, a register
    of pupils not one who was an adult party before it began). Returns the pairs' SQL (the same columns; a temporary
    table ``__pair_birth`` on ``con`` backs it) and what was estimated (``factors``, ``m`` and ``u`` by category)."""
    import numpy as np

    con.execute(f"""create or replace temp table __person_birth as
        with d as (select person_id, min(date_of_birth) as dmin, max(date_of_birth) as dmax from {spine} group by 1)
        select d.person_id, d.dmin is not null as has_dob, g.born_after, g.born_before,
               coalesce(d.dmin, g.born_after) as lo, coalesce(d.dmax, g.born_before) as hi
        from d left join {ranges} g using (person_id)""")
    src_lo, src_hi, n_dob = con.execute(
        f"select quantile_disc(date_of_birth, {SOURCE_BIRTH_TAIL!r}), quantile_disc(date_of_birth, "
        f"{1 - SOURCE_BIRTH_TAIL!r}), count(date_of_birth) from {records}").fetchall()[0]
    reach = ("true" if src_lo is None else
             f"(hi is null or hi >= date '{src_lo.isoformat()}') and (lo is null or lo <= date '{src_hi.isoformat()}')")
    persons, plausible = con.execute(f"select count(*), count(*) filter (where {reach}) from __person_birth"
                                     ).fetchall()[0]
    info: dict[str, Any] = {"applied": False, "spine_persons": int(persons), "plausible_persons": int(plausible)}
    # the category of a pair: misfit, or a fit by the age at the adult-bound case (years above the minimum age:
    # 0-8, 9-18, 19-28, 29-38, 39+), or a fit of a child-bound range only
    edges = AGE_BIN_YEARS
    cat = ("case when not (coalesce(r.date_of_birth > b.born_after, true) and coalesce(r.date_of_birth <= "
           "b.born_before, true)) then 'misfit' when b.born_before is null then 'fit' else 'a' || (" +
           " + ".join(f"(date_diff('day', r.date_of_birth, b.born_before) >= {int(e * 365.25)})::int" for e in edges[1:])
           + ")::varchar end")
    con.execute(f"""create or replace temp table __pair_birth as
        select pr.record_id, pr.person_id, pr.p, b.has_dob,
               r.date_of_birth is not null and (b.born_after is not null or b.born_before is not null) as bounded,
               {cat} as cat
        from ({pairs_sql}) pr
        join (select record_id, date_of_birth from {records}) r using (record_id)
        join __person_birth b using (person_id)""")
    plain = "select record_id, person_id, p from __pair_birth"
    if not weigh or not n_dob:
        return plain, info
    hits = dict(con.execute(f"select cat, count(*) from __pair_birth where bounded and p >= {high!r} group by 1"
                            ).fetchall())
    n_high = sum(hits.values())
    # days since 1970; a missing bound is a day before or after every date of birth
    bounds = con.execute("select coalesce(born_after - date '1970-01-01', -10000000) as a, "
                         "coalesce(born_before - date '1970-01-01', 10000000) as b from __person_birth "
                         "where not has_dob and (born_after is not null or born_before is not null)").fetchnumpy()
    after, before = (np.asarray(bounds[k], dtype=np.int64) for k in ("a", "b"))
    info.update(high_pairs=int(n_high), name_only_persons_with_range=len(after))
    if n_high < MIN_PAIRS_FOR_RANGE_EVIDENCE or not len(after):
        return plain, info
    dobs = np.sort(np.asarray(con.execute(f"select date_of_birth - date '1970-01-01' as d from {records} "
                                          f"where date_of_birth is not null").fetchnumpy()["d"], dtype=np.int64))

    def upto(t):
        return np.searchsorted(dobs, t, side="right")

    adult = before < 10000000
    counts: dict[str, float] = {"fit": float((upto(before) - upto(after))[~adult].sum())}
    for j, e in enumerate(edges):
        hi_t = before - int(e * 365.25)  # born on or before: at least e years above the minimum age
        lo_t = before - int(edges[j + 1] * 365.25) if j + 1 < len(edges) else np.full_like(before, -10000000)
        lo_t = np.maximum(lo_t, after)
        n = np.where(hi_t > lo_t, upto(hi_t) - upto(lo_t), 0)
        counts[f"a{j}"] = float(n[adult].sum())
    total = float(len(dobs)) * len(after)
    counts["misfit"] = total - sum(counts.values())
    k = len(counts)
    u = {c: (counts[c] + 1) / (total + k) for c in counts}
    # m shrunk towards u by k pseudo-pairs: a category that no high-band pair shows is not evidence either way
    # beyond the sample's size (a category empty on both sides weighs k / (n + k), never the ratio of two
    # pseudo-counts)
    m = {c: (hits.get(c, 0) + k * u[c]) / (n_high + k) for c in counts}
    factors = {c: m[c] / u[c] for c in counts}
    info.update(applied=True, factors={c: round(f, 3) for c, f in factors.items()},
                m={c: round(v, 4) for c, v in m.items()}, u={c: round(v, 4) for c, v in u.items()})
    case = " ".join(f"when '{c}' then {f!r}" for c, f in factors.items())
    return f"""select record_id, person_id,
                      case when bounded and not has_dob then p * f / (p * f + 1 - p) else p end as p
               from (select *, case cat {case} else 1.0 end as f from __pair_birth) x""", info


def exclusive_scores_sql(pairs_sql: str, *, records: int, persons: int, low: float) -> str:
    """Record-person match probabilities that take the competing pairs into account (``record_id, person_id,
    match_score`` of the pairs at or above ``low``), from ``pairs_sql`` (``record_id, person_id, p``: every scored
    pair, each the pairwise probability of Splink's model).

    Splink scores a pair alone: its probability is that of two random records matching, updated by their
    agreement. But a source record is one person at most, and a spine person has at most one record in a source
    that holds one record per person; so a pair that does not match leaves its record unmatched or matched to one
    of its other candidates, and its spine person likewise. Under that one-to-one model (the bipartite model of
    Sadinle, *JASA* 2017, approximated one pair at a time), with pairwise odds ``o = p / (1 - p)``::

        q(r, P) = o(r, P) / (o(r, P) + (1 - rho + sum of o(r, P') over P' != P) (1 - pi + sum of o(r', P) over r' != r))

    where ``rho`` is the share of the source's records expected on the spine and ``pi`` the share of spine
    persons expected in the source (each the sum over its side of the best pairwise probability, over the side's
    count). A pair with no competitor on either side is more likely than Splink's score says when the source
    covers most spine persons (``pi`` near 1: a spine person missing from it is itself unlikely); a pair whose
    record or person has another strong candidate is less likely. ``q`` reduces to ``p`` when both shares are
    small and nothing competes.
    """
    return f"""
        with pr as (select record_id, person_id, least(greatest(p, 1e-9), 1 - 1e-9) as p from ({pairs_sql}) x),
        o as (select *, p / (1 - p) as o from pr),
        sr as (select record_id, sum(o) as so, max(p) as mp from o group by 1),
        sp as (select person_id, sum(o) as so, max(p) as mp from o group by 1),
        shares as (select least((select sum(mp) from sr) / {max(records, 1)}, 0.99) as rho,
                          least((select sum(mp) from sp) / {max(persons, 1)}, 0.99) as pi),
        q as (select o.record_id, o.person_id,
                     o.o / (o.o + (1 - shares.rho) * (1 - shares.pi + sp.so - o.o)) as match_score
              from o join sr using (record_id) join sp using (person_id) cross join shares)
        select record_id, person_id, match_score from q where match_score >= {low!r}"""


def complete_person_identities(identities_sql: str) -> str:
    """The spine identities of ``identities_sql`` (``person_id`` and the identifier roles), each completed from
    its spine person's other identities: a missing date of birth takes the person's most frequent one, a missing
    or unknown sex (not M or F) the person's only known sex, a missing forename the person's most frequent
    forename. A court form that gives only a name (civil and family parties) is then compared as the person the
    spine holds: its agreement with a source's date of birth or sex counts, and so does a disagreement (a namesake
    with another date of birth, a relative of the other sex at the same address), which the name alone hid. Values
    already present are never changed."""
    return f"""
        with ids as ({identities_sql}),
        pv as (select person_id,
                      mode(date_of_birth) filter (where date_of_birth is not null) as dob_m,
                      min(upper(trim(sex))) filter (where upper(trim(sex)) in ('M', 'F')) as sex_m,
                      count(distinct upper(trim(sex))) filter (where upper(trim(sex)) in ('M', 'F')) as sex_n,
                      mode(forename) filter (where length(trim(forename)) > 1) as fn_m
               from ids group by person_id)
        select i.* replace (
                   coalesce(nullif(trim(i.forename), ''), pv.fn_m) as forename,
                   coalesce(i.date_of_birth, pv.dob_m) as date_of_birth,
                   case when upper(trim(i.sex)) in ('M', 'F') or pv.sex_n <> 1 then i.sex else pv.sex_m end as sex)
        from ids i join pv using (person_id)"""


def _attributor_source(table: str, id_col: str) -> str:
    t = WAVE_MODEL.table(table)
    roles = t.identifier_roles
    cols = {c.name for c in t.columns}
    la = "local_authority" if "local_authority" in cols else "null"
    return (f"select {id_col} as record_id, upper(substr({roles.get('forename', 'null')}, 1, 1)) as forename, "
            f"upper(substr({roles.get('surname', 'null')}, 1, 1)) as surname, {roles.get('date_of_birth', 'null')} "
            f"as date_of_birth, {roles.get('sex', 'null')} as sex, {la} as town from linkage.identity_{table}")


def _attributor_spine(jt, has_extract: bool) -> str:
    """A justice table's identities as the attributor sees them: initials, date of birth, sex, local authority."""
    from ..geography import lsoa11_path

    roles = jt.identifier_roles
    lsoa = "lsoa_residence" in jt.column_names and has_extract
    la = "g.lad_code" if lsoa else "null"
    join = (f"left join extract.{jt.name} e on e.{jt.record_id} = i.{jt.record_id} "
            f"left join read_parquet('{lsoa11_path().as_posix()}') g on g.lsoa11_code = e.lsoa_residence"
            if lsoa else "")
    return (f"select r.person_id, upper(substr(i.{roles.get('forename', 'null')}, 1, 1)) as forename, "
            f"upper(substr(i.{roles.get('surname', 'null')}, 1, 1)) as surname, i.{roles['date_of_birth']} "
            f"as date_of_birth, i.{roles.get('sex', 'null')} as sex, {la} as town "
            f"from linkage.identity_{jt.name} i {join} join spine.person_record r on r.source_table = '{jt.name}' "
            f"and r.record_id = i.{jt.record_id}")


def score_against_truth(con: duckdb.DuckDBPyConnection, source_table: str, truth_dir: str | Path) -> dict[str, Any]:
    """Precision, recall and F1 of a wave link against the synthetic truth (evaluation only).

    A source record's link is correct when the spine person it joined holds a justice record of the same true
    person. Recall counts source records whose true person has any justice record on the spine.
    """
    truth = Path(truth_dir) / "truth_record.parquet"
    if not truth.exists():
        raise InputError(f"no truth table at {truth}", hint="give the truth folder of a synthetic population")
    row = con.execute(f"""
        with tr as (select * from read_parquet('{truth.as_posix()}')),
        src as (select record_id, person_id as true_person from tr where "table" = '{source_table}'),
        justice as (select r.person_id, t.person_id as true_person
                    from spine.person_record r join tr t on t."table" = r.source_table and t.record_id = r.record_id
                    where r.source_table in ({", ".join(f"'{j.name}'" for j in MODEL.xjs_tables())})),
        spine_true as (select distinct person_id, true_person from justice),
        links as (select r.record_id, r.person_id from spine.person_record r where r.source_table = '{source_table}'),
        judged as (select l.record_id,
                          exists (select 1 from spine_true s, src where src.record_id = l.record_id
                                  and s.person_id = l.person_id and s.true_person = src.true_person) as correct
                   from links l),
        findable as (select count(*) n from src where true_person in (select true_person from spine_true))
        select (select count(*) from judged), (select count(*) from judged where correct), (select n from findable)
    """).fetchall()[0]
    links, correct, findable = (int(x or 0) for x in row)
    precision = correct / links if links else float("nan")
    recall = correct / findable if findable else float("nan")
    f1 = (2 * precision * recall / (precision + recall)) if links and findable and (precision + recall) else float("nan")
    return {"links": links, "correct": correct, "findable": findable,
            "precision": None if math.isnan(precision) else round(precision, 4),
            "recall": None if math.isnan(recall) else round(recall, 4),
            "f1": None if math.isnan(f1) else round(f1, 4)}
