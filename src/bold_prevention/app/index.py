"""The single view's in-memory index, built when the server starts.

Finding a person and opening their page must stay fast on a national-scale warehouse, which the app opens read-only
(so it cannot add indexes to it). At start-up the server therefore builds, in its own in-memory DuckDB database:

``person_index``  one row per person-level identity record (and per surname variant of it): the record's
                  identifiers standardised by the linkage layer (``linkage.standardise.standardise``: cleaned
                  forename, canonical forename for nicknames, surname without spaces and the parts of a
                  double-barrelled surname, date of birth and its day/month swap), the values as recorded (for the
                  page), and the person it joined (``spine.person_record``: person id, dataset, band joined, match
                  score). ART indexes on the search keys, the record id and the person id.
``person_status``, ``person_need``, ``ew_scores``  the rows of ``spine.person`` (the status columns),
                  ``spine.person_need`` and ``results.early_warning_scores``, indexed by person id.
``person_custody``, ``person_probation``, ``person_requirement``, ``person_court``, ``person_assessment``
                  the analysis columns the person page's current position and needs read, one row per linked
                  record (prison custody spells, probation sentences and supervision, the requirements of those
                  orders, court cases with their sentence, OASys assessments), with the person and the band at
                  which the record joined, indexed by person id (:data:`POSITION_SOURCES`). Built once here, so
                  a page never scans an extract table.

The identifiers never leave server memory: nothing is written to disk, and the index is rebuilt from the warehouse at
each start. Tables that are not built yet are skipped (the pages say so).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import duckdb

from ..datafirst import MODEL
from ..warehouse.tables import PERSON, PERSON_RECORD

MEM = "memory.main"

#: Columns of ``spine.person`` the person page's status section reads.
STATUS_COLUMNS = ("as_at_date", "in_custody", "last_release_date", "cj_contact_12m", "last_cj_date", "last_oasys_date",
                  "n_possession_claims_12m", "n_family_cases_12m", "lad_name", "need_count")

#: The in-memory tables of the person page's current position and assessments: name -> (extract table it reads,
#: the person-level table its rows reach a person through, the join from the extract row to that person-level
#: record, and the analysis columns it keeps).
POSITION_SOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "person_custody": ("prison_custodial_journey", "prison_custodial_journey", "t.row_id_hash",
                       ("reception_date", "admission_reason", "sentence_date", "sentence_length_days",
                        "release_date", "release_reason", "establishment")),
    "person_probation": ("moj_probation_flatfile", "moj_probation_flatfile", "t.row_id_hash",
                         ("event_id_hash", "referral_date", "disposal_type_description", "disposal_date",
                          "disposal_termination_date", "length_in_days", "probation_area_desc")),
    "person_requirement": ("moj_probation_rqmnts", "moj_probation_flatfile", "p.row_id_hash",
                           ("event_id_hash", "rqmnt_type_main_category_code", "rqmnt_type_main_category_desc",
                            "rqmnt_start_date", "rqmnt_commencement_date", "rqmnt_termination_date",
                            "rqmnt_termination_reason_desc", "length")),
    "person_court_mags": ("mags_defendant_case", "mags_defendant_case", "t.row_id_hash",
                          ("final_result_date", "first_hearing_date", "sentence", "offence_group", "outcome")),
    "person_court_crown": ("crown_defendant_case", "crown_defendant_case", "t.row_id_hash",
                           ("sentence_date", "receipt_date", "sentence", "offence_group", "outcome")),
    "person_assessment": ("oasys_assessments_metadata", "oasys_assessments_metadata", "t.row_id_hash",
                          ("assessment_date", "assessment_type", "assessment_context")),
}

_ROLES = ("forename", "middle_names", "surname", "date_of_birth", "sex", "postcode")


def _columns(con, qualified: str) -> set[str]:
    catalog, schema, table = qualified.split(".")
    return {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_catalog = ? and table_schema = ? "
        "and table_name = ?", [catalog, schema, table]).fetchall()}


def build_single_view_index(con: duckdb.DuckDBPyConnection, identity_tables: tuple[str, ...], *,
                            has: Callable[[str], bool], progress: Callable[[str], None] | None = None) -> dict:
    """Build the in-memory tables (see the module docstring) on ``con``, which has the warehouse attached as
    ``wh``. Returns row counts and seconds per step."""
    from ..linkage.standardise import standardise

    say = progress or (lambda _m: None)
    stats: dict = {}
    t0 = time.perf_counter()
    parts = []
    for name in identity_tables:
        table = MODEL.table(name)
        rid = table.record_id or table.primary_key[0]
        roles = {k: v for k, v in table.identifier_roles.items() if k in _ROLES}
        source = f"wh.linkage.identity_{name}"
        present = _columns(con, source)
        roles = {k: v for k, v in roles.items() if v in present}
        out = f"{MEM}._std_{name}"
        say(f"standardising the identity store of {name}")
        standardise(con, source, id_column=rid, columns=roles, out=out, label=f"linkage.identity_{name}")

        def raw(role: str, cast: str = "varchar", roles=roles) -> str:
            return f"cast(i.\"{roles[role]}\" as {cast})" if role in roles else f"cast(null as {cast})"

        parts.append(
            f"select '{name}' as source_table, s.unique_id as record_id, "
            f"{raw('forename')} as forename, {raw('middle_names')} as middle_names, {raw('surname')} as surname, "
            f"{raw('date_of_birth', 'date')} as date_of_birth, {raw('postcode')} as postcode, {raw('sex')} as sex, "
            "s.forename as forename_std, s.forename_canonical, s.surname_nospace, s.surname_first, s.sex as sex_std, "
            "s.surname_last, s.dob, try_cast(s.dob_swapped as date) as dob_swapped "
            f"from {out} s join {source} i on cast(i.\"{rid}\" as varchar) = s.unique_id")
    stats["standardise_s"] = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()
    say("joining identity records to their persons")
    union = " union all ".join(parts)
    con.execute(f"""
        create or replace table {MEM}.person_index as
        with ids as ({union}),
        linked as (
            select ids.*, pr.person_id, pr.source_dataset, pr.band_joined, pr.band, pr.match_score
            from ids left join (select person_id, source_dataset, source_table, record_id, band_joined, band,
                                       match_score from wh.spine.person_record
                                where source_table in ({', '.join(f"'{n}'" for n in identity_tables)})) pr
              on pr.source_table = ids.source_table and pr.record_id = ids.record_id),
        per_person as (
            select person_id, count(*) as person_records,
                   list(distinct source_dataset order by source_dataset) as person_datasets
            from linked where person_id is not null group by person_id),
        variants as (
            select linked.*, v.surname_key, v.surname_key = linked.surname_nospace as primary_variant
            from linked, (select distinct unnest(list_filter(
                [linked.surname_nospace, linked.surname_first, linked.surname_last], lambda x: x is not null))
                          as surname_key) v
            union all
            select linked.*, null, true from linked where linked.surname_nospace is null)
        select variants.*, per_person.person_records, per_person.person_datasets,
               surname_key || '|' || cast(dob as varchar) as sd_key,
               surname_key || '|' || cast(dob_swapped as varchar) as sd_key_swapped,
               case when primary_variant then forename_canonical || '|' || cast(dob as varchar) end as fd_key,
               case when primary_variant then forename_canonical || '|' || cast(dob_swapped as varchar) end
                   as fd_key_swapped
        from variants left join per_person using (person_id)
        order by surname_key, dob""")
    for name in identity_tables:
        con.execute(f"drop table if exists {MEM}._std_{name}")
    stats["person_index_rows"] = con.execute(f"select count(*) from {MEM}.person_index").fetchone()[0]
    say("indexing")
    for col in ("surname_key", "sd_key", "sd_key_swapped", "fd_key", "fd_key_swapped", "record_id", "person_id"):
        con.execute(f"create index pi_{col} on {MEM}.person_index({col})")
    stats["person_index_s"] = round(time.perf_counter() - t1, 2)
    t2 = time.perf_counter()
    if has(PERSON):
        present = _columns(con, "wh.spine.person")
        cols = ", ".join(c for c in STATUS_COLUMNS if c in present)
        con.execute(f"create or replace table {MEM}.person_status as select person_id, {cols} "
                    "from wh.spine.person order by person_id")
        con.execute(f"create index ps_person on {MEM}.person_status(person_id)")
    if has("spine.person_need"):
        measured = ("measured, unmeasured_reason" if {"measured", "unmeasured_reason"} <= _columns(
            con, "wh.spine.person_need") else "true as measured, cast(null as varchar) as unmeasured_reason")
        con.execute(f"create or replace table {MEM}.person_need as select person_id, driver, value, score, "
                    f"evidence_dataset, evidence_variable, evidence_date, {measured} from wh.spine.person_need "
                    "order by person_id")
        con.execute(f"create index pn_person on {MEM}.person_need(person_id)")
    if has("results.early_warning_scores"):
        con.execute(f"create or replace table {MEM}.ew_scores as select person_id, use_case, t0, score, "
                    "model_version from wh.results.early_warning_scores order by person_id")
        con.execute(f"create index ew_person on {MEM}.ew_scores(person_id)")
    if has(PERSON_RECORD):
        _position_tables(con, has, say)
    stats["person_tables_s"] = round(time.perf_counter() - t2, 2)
    stats["total_s"] = round(time.perf_counter() - t0, 2)
    return stats


def _position_tables(con, has: Callable[[str], bool], say: Callable[[str], None]) -> None:
    """The tables of :data:`POSITION_SOURCES` whose extract tables (with every column kept) are in the warehouse."""
    for name, (table, person_table, join, columns) in POSITION_SOURCES.items():
        if not has(f"extract.{table}") or not has(f"extract.{person_table}"):
            continue
        if not set(columns) <= _columns(con, f"wh.extract.{table}"):
            continue
        say(f"indexing {name.replace('_', ' ')}")
        via = ""
        if person_table != table:  # requirements reach their person through the probation event
            via = f" join wh.extract.{person_table} p on p.event_id_hash = t.event_id_hash"
        cols = ", ".join(f"t.{c}" for c in columns)
        con.execute(
            f"create or replace table {MEM}.{name} as select pr.person_id, pr.band_joined, {cols} "
            f"from wh.extract.{table} t{via} join wh.spine.person_record pr "
            f"on pr.source_table = '{person_table}' and pr.record_id = {join} order by pr.person_id")
        con.execute(f"create index {name}_person on {MEM}.{name}(person_id)")
