"""``bold link``: link two files (or deduplicate one) a user brings, end to end.

:func:`link_files` reads a :class:`~.config.LinkConfig`, standardises each file's identifiers, trains (or reuses) a
Splink model, scores candidate pairs, applies the hard non-match guards, clusters at three bands and writes, into
one output folder that appears only when everything succeeded::

    pairs.csv              left_id, right_id, match_probability, band, match_weight (pairs at or above the low band)
    excluded_pairs.csv     pairs the guards refused (twins, generations): left_id, right_id, match_probability, guard
    clusters_high.csv      dataset, record_id, cluster_id  (one row per input record; likewise medium and low)
    model.json             the trained Splink model (reusable: `model:` in the config)
    summary.json           counts, identifier problems, training, bands, timings
    summary.md             the same, short and readable
    scored_pairs.parquet   every scored pair (ids, match weight, probability, comparison levels, guard): for QA and
                           clerical review; no identifier values
    records.parquet        one row per record: dataset, record_id, sex, birth year, the `keep` columns and the
                           cluster id at each band (for the QA report; no names, full dates of birth or postcodes)

:func:`link_tables` is the same pipeline over tables already loaded into a DuckDB connection (used by the
benchmark and the QA report); it returns a :class:`LinkResult` of DuckDB table names without writing files.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from splink.internals.exceptions import SplinkException

from ..errors import InputError
from ..files import atomic_dir, clean_stale_temporaries
from ..warehouse.engine import quote_ident, sql_literal
from .blocking import BlockingCount, blocking_counts
from .config import LinkConfig, SideConfig, load_config
from .splink_model import BANDS, COMPARISON_ROLES, LinkageModel, Thresholds, quiet_splink, read_model
from .standardise import issue_summary, standardise

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

#: Standard columns that hold a role's value (for the "all null" check).
ROLE_COLUMN = {"forename": "forename", "middle_names": "middle_names", "surname": "surname",
               "date_of_birth": "dob_year", "sex": "sex", "postcode": "postcode", "address": "address", "town": "town",
               "id_number": "id_number"}
#: Fewest records a file may hold when a model is trained on it.
MIN_RECORDS_TO_TRAIN = 2


@dataclass
class LinkResult:
    """What a linkage run produced (DuckDB table names in ``con``) and its summary."""

    con: duckdb.DuckDBPyConnection
    model: LinkageModel
    datasets: list[str]
    scored: str
    pairs: str
    excluded: str
    clusters: dict[str, str]
    records: str
    summary: dict[str, Any] = field(default_factory=dict)
    #: Band -> (change, previous_person_id, person_id) table of the stable-id mapping; next serial per band.
    id_changes: dict[str, Any] = field(default_factory=dict)
    next_serial: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ reading
def read_file(con: duckdb.DuckDBPyConnection, path: Path, table: str, *, label: str) -> None:
    """Load a CSV (all columns as text) or Parquet file into ``table``; clear errors for missing/bad files."""
    if not path.exists():
        raise InputError(f"{label}: file {path} not found", hint="check `path` in the config")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            con.execute(f"create or replace table {table} as select * from read_parquet({sql_literal(str(path))})")
        elif suffix in (".csv", ".txt", ".tsv"):
            con.execute(f"create or replace table {table} as select * from read_csv({sql_literal(str(path))}, "
                        "all_varchar = true, header = true)")
        else:
            raise InputError(f"{label}: {path.name} is neither CSV nor Parquet",
                             hint="give a .csv or .parquet file")
    except duckdb.Error as e:
        from ..files import storage_errno
        from ..warehouse.readers import scrub

        if storage_errno(e) is not None:
            raise
        raise InputError(f"{label}: cannot read {path}: {scrub(str(e).splitlines()[0], [path.name])}",
                         hint="check the file is a readable CSV (with a header row) or Parquet file") from e


def _check_ids(con: duckdb.DuckDBPyConnection, table: str, id_col: str, label: str) -> int:
    cols = [r[0] for r in con.execute(f"describe {table}").fetchall()]
    if id_col not in cols:
        from ..warehouse.readers import describe_columns

        raise InputError(f"{label}: record-id column {id_col!r} not found",
                         hint=f"the file has: {describe_columns(cols)}; fix `id` in the config")
    n, nulls, distinct = con.execute(
        f"select count(*), count(*) - count({quote_ident(id_col)}), count(distinct {quote_ident(id_col)}) from {table}").fetchall()[0]
    if nulls:
        raise InputError(f"{label}: {nulls} record(s) have no record id in column {id_col!r}",
                         hint="give every record an id, or choose another id column")
    if distinct != n:
        # the rows of the first duplicates, not their values: the id column may hold an identifier (NI number)
        rows = con.execute(
            f"select min(rn), max(rn) from (select {quote_ident(id_col)} as k, row_number() over () as rn from {table}) "
            f"group by k having count(*) > 1 order by 1 limit 3").fetchall()
        where = "; ".join(f"records {a:,} and {b:,}" for a, b in rows)
        raise InputError(f"{label}: record ids in {id_col!r} are not unique ({n - distinct} duplicate(s), e.g. at "
                         f"{where})", hint="use a column with one value per record")
    return int(n)


def _check_roles_have_values(con: duckdb.DuckDBPyConnection, std: str, side: SideConfig, label: str) -> None:
    for role, col in side.columns.items():
        n = con.execute(f"select count({ROLE_COLUMN[role]}) from {std}").fetchall()[0][0]
        if n == 0:
            raise InputError(
                f"{label}: the {role} column {col!r} has no usable values (all empty or invalid after "
                "standardisation)",
                hint=f"map `{role}` to a column that holds values, fix its format (date_format, postcode_format) "
                     "or leave the role out")


# ------------------------------------------------------------------------------------------------ pipeline
def link_tables(con: duckdb.DuckDBPyConnection, config: LinkConfig, *, inputs: list[str] | None = None,
                progress: Progress | None = None, db_api: Any = None, hashed_roles: list[list[str]] | None = None,
                predict_threshold: float = 0.01, pairs_only: bool = False) -> LinkResult:
    """Run the linkage pipeline on tables in ``con`` (default: read the config's files into it).

    ``inputs`` are table names already in ``con``, one per side (raw files, or hashed tables with ``unique_id``
    in hashed mode, with their roles in ``hashed_roles``). ``pairs_only``: stop after the scored pairs (``scored``,
    ``pairs`` and ``excluded``): no clusters, person ids, records table or guard report (their fields are empty),
    for a caller that resolves the pairs itself (wave linkage picks each record's best spine person).
    """
    say = progress or (lambda _m: None)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - t0, 3)
        return now

    sides = config.sides
    names = [s.name for s in sides]
    t0 = time.perf_counter()
    std_tables: list[str] = []
    side_roles: list[list[str]] = []
    side_summ: list[dict[str, Any]] = []
    for i, side in enumerate(sides):
        label = f"{'left' if i == 0 else 'right'} file {side.path.name}"
        raw = inputs[i] if inputs else f"__raw_{i}"
        if inputs is None:
            say(f"reading {side.path.name}")
            read_file(con, side.path, raw, label=label)
        std = f"__std_{i}"
        if config.mode == "clear":
            n = _check_ids(con, raw, side.id_column, label)
            say(f"standardising {n:,} records of {side.name}")
            standardise(con, raw, id_column=side.id_column, columns=side.columns, out=std, options=side.options(),
                        label=label)
            _check_roles_have_values(con, std, side, label)
            roles = list(side.columns)
            issues = issue_summary(con, std)
        else:
            n = _check_ids(con, raw, "unique_id", label)
            con.execute(f"create or replace table {std} as select * from {raw}")
            roles = list((hashed_roles or [])[i]) if hashed_roles else []
            issues = {}
        if n == 0:
            raise InputError(f"{label} holds no records", hint="give a file with at least one record")
        std_tables.append(std)
        side_roles.append(roles)
        side_summ.append({"name": side.name, "path": str(side.path), "records": n, "roles": roles,
                          "identifier_problems": issues})
    t0 = lap("read_and_standardise", t0)

    common = [r for r in COMPARISON_ROLES if all(r in rs for rs in side_roles)]
    ignored = sorted({r for rs in side_roles for r in rs} - set(common))
    if config.model is not None:
        say(f"reusing the model {config.model}")
    if db_api is None:
        from splink import DuckDBAPI

        db_api = DuckDBAPI(connection=con)
    same_con = getattr(db_api, "duckdb_con", None) is con
    model = _model(con, config, std_tables, common, db_api)
    thin = _thin_identifiers(model, common, config)
    if thin:
        say(f"  {thin['message']}")
    if config.model is None:
        few = min(d["records"] for d in side_summ)
        if few < MIN_RECORDS_TO_TRAIN:
            reason = f"a file holds {few} record: nothing to train on"
            say(f"  {reason}; scoring with generic parameters")
            model.use_default_parameters(reason)
        else:
            try:
                model.train(progress=say)
            except (ValueError, ZeroDivisionError, InputError, SplinkException) as e:
                # identical records, no shared values, no variation: score with generic parameters and say so
                from ..warehouse.readers import scrub

                why = scrub(str(e).splitlines()[0] if str(e) else type(e).__name__)[:160]
                reason = ("the records do not vary enough to estimate a model (a file of identical records, or "
                          f"files sharing no values): {type(e).__name__}")
                log.info("training failed, using generic parameters: %s", why)
                say("  the model cannot be trained on these records: scoring with generic parameters")
                model = _model(con, config, std_tables, common, db_api)
                model.use_default_parameters(reason)
    t0 = lap("train", t0)

    say("scoring candidate pairs")
    pred = model.predict(threshold=min(predict_threshold, config.thresholds.low))
    kept, excluded = model.apply_guards(pred)
    t0 = lap("predict", t0)
    clusters: dict[str, Any] = {}
    if not pairs_only:
        say("clustering at the high, medium and low bands")
        one_to_one = [s.name for s in sides if s.one_record_per_person]
        if not config.dedupe and not one_to_one and same_con:
            clusters = cluster_links_in_process(model, kept, config.thresholds)
        else:
            clusters = model.cluster(kept, config.thresholds, one_to_one=one_to_one)
        t0 = lap("cluster", t0)

    # Splink's outputs as tables in ``con`` (already there on a DuckDB backend sharing the connection; fetched
    # otherwise, e.g. from Spark: only scored pairs above the threshold and one cluster row per record).
    def local(sdf, name: str) -> str:
        if same_con:
            return sdf.physical_name
        con.register("__fetched", sdf.as_pandas_dataframe())
        con.execute(f"create or replace table {name} as select * from __fetched")
        con.unregister("__fetched")
        return name

    kept_t, excluded_t = local(kept, "__link_kept"), local(excluded, "__link_excluded_raw")
    cluster_src = {b: local(clusters[b], f"__link_clusters_raw_{b}") for b in clusters}

    # Tables of results (portable SQL over Splink's outputs).
    left_name = names[0]
    scored, pairs, excl = "__link_scored", "__link_pairs", "__link_excluded"
    gamma_cols = [c for c in _columns(con, kept_t) if c.startswith("gamma_")]
    orient = ("case when source_dataset_l = {ln} then {a} else {b} end" if not config.dedupe else "{a}")

    def side_col(a: str, b: str) -> str:
        return orient.format(ln=sql_literal(left_name), a=a, b=b)

    band = config.thresholds.band_sql()
    g_select = ", ".join(gamma_cols)
    con.execute(f"""
        create or replace table {scored} as
        select {side_col('unique_id_l', 'unique_id_r')} as left_id,
               {side_col('unique_id_r', 'unique_id_l')} as right_id,
               match_weight, match_probability, {band} as band, cast(null as varchar) as guard, {g_select}
        from {kept_t}
        union all
        select {side_col('unique_id_l', 'unique_id_r')}, {side_col('unique_id_r', 'unique_id_l')},
               match_weight, match_probability, null, guard, {g_select}
        from {excluded_t}
    """)
    con.execute(f"""create or replace table {pairs} as
        select left_id, right_id, match_probability, band, match_weight from {scored}
        where guard is null and band is not null order by left_id, right_id""")
    con.execute(f"""create or replace table {excl} as
        select left_id, right_id, match_probability, guard, match_weight from {scored}
        where guard is not null order by left_id, right_id""")
    if pairs_only:
        lap("outputs", t0)
        timings["total"] = round(time.perf_counter() - t_start, 3)
        return LinkResult(con=con, model=model, datasets=names, scored=scored, pairs=pairs, excluded=excl,
                          clusters={}, records="", summary={"timings_s": timings})
    cluster_tables = {}
    id_reports, id_changes, next_serial = {}, {}, {}
    from .stable_ids import assign_person_ids, read_previous

    for b in BANDS:
        t = f"__link_clusters_{b}"
        con.execute(f"""create or replace table __link_clusters_raw_{b}_std as
            select {'source_dataset' if not config.dedupe else sql_literal(left_name)} as dataset,
                   cast(unique_id as varchar) as record_id, cluster_id
            from {cluster_src[b]}""")
        prev, nxt = (read_previous(con, config.previous_run, b, f"__link_previous_{b}")
                     if config.previous_run is not None else (None, 1))
        ids = assign_person_ids(con, f"__link_clusters_raw_{b}_std", prev, next_serial=nxt, out=t)
        id_reports[b], id_changes[b], next_serial[b] = ids.report, ids.changes, ids.next_serial
        cluster_tables[b] = t
    records = _records_table(con, config, std_tables, names, cluster_tables, inputs)
    labels = _labels(con, config, scored, names)
    from .guards import guard_report

    guards_report = guard_report(con, scored, high=config.thresholds.high, labels=labels,
                                 guards={"twins": config.guards.twins, "generation": config.guards.generation})
    lap("outputs", t0)
    timings["total"] = round(time.perf_counter() - t_start, 3)

    summary = _summary(con, config, model, side_summ, common, ignored, pairs, excl, scored, cluster_tables,
                       timings)
    summary["guard_report"] = guards_report
    summary["thin_identifiers"] = thin
    summary["person_ids"] = {"previous_run": str(config.previous_run) if config.previous_run else None,
                             **{b: id_reports[b] for b in BANDS}}
    return LinkResult(con=con, model=model, datasets=names, scored=scored, pairs=pairs, excluded=excl,
                      clusters=cluster_tables, records=records, summary=summary, id_changes=id_changes,
                      next_serial=next_serial)


#: Roles (or any declared extra comparison) of which a config needs one beside names to separate most people.
SEPARATING_ROLES = ("date_of_birth", "id_number", "postcode", "address")


def _thin_identifiers(model: LinkageModel, common: list[str], config: LinkConfig) -> dict[str, Any] | None:
    """A warning, with the candidate pairs per blocking rule behind it, when the identifiers compared cannot
    separate people who share a name (names only, say): such a run links every pair of namesakes it finds."""
    if config.mode != "clear" or config.comparisons or set(common) & set(SEPARATING_ROLES):
        return None
    counts = blocking_counts(model)
    total = counts[-1].cumulative if counts else 0
    per_record = round(total / max(model.records, 1), 2)
    return {"message": f"too few identifiers to separate people: only {', '.join(common)} are compared, so "
                       f"people who share them cannot be told apart ({total:,} candidate pairs, {per_record} per "
                       "record); add a date of birth, postcode, address, id number or an extra comparison",
            "blocking": [c.as_dict() for c in counts], "candidate_pairs": total, "pairs_per_record": per_record}


def _labels(con: duckdb.DuckDBPyConnection, config: LinkConfig, scored: str, names: list[str]) -> str | None:
    """Labels of the scored pairs from the config's truth file (``left_id, right_id, is_match``): only pairs
    whose two records both appear in it, so a partial truth labels what it covers."""
    t = config.truth
    if t is None:
        return None
    if not t.path.is_file():
        raise InputError(f"truth file {t.path.name} not found", hint="fix `truth.path` in the config")
    reader = "read_parquet" if t.path.suffix.lower() in (".parquet", ".pq") else "read_csv"
    extra = ", all_varchar = true" if reader == "read_csv" else ""
    con.execute(f"create or replace table __link_truth_raw as select * from {reader}({sql_literal(str(t.path))}{extra})")
    cols = _columns(con, "__link_truth_raw")
    for c in (t.id_column, t.person_column):
        if c not in cols:
            raise InputError(f"truth file {t.path.name}: column {c!r} not found",
                             hint="fix `truth.id` / `truth.person` in the config")
    ds = (f"cast({quote_ident(t.dataset_column)} as varchar)" if t.dataset_column and t.dataset_column in cols
          else "cast(null as varchar)")
    con.execute(f"""create or replace table __link_truth as select cast({quote_ident(t.id_column)} as varchar) as record_id,
        cast({quote_ident(t.person_column)} as varchar) as person, {ds} as dataset from __link_truth_raw""")
    left, right = sql_literal(names[0]), sql_literal(names[-1])
    con.execute(f"""create or replace table __link_labels as
        select s.left_id, s.right_id, a.person = b.person as is_match from {scored} s
        join __link_truth a on a.record_id = s.left_id and (a.dataset is null or a.dataset = {left})
        join __link_truth b on b.record_id = s.right_id and (b.dataset is null or b.dataset = {right})""")
    return "__link_labels"


#: How Splink joins a record's dataset and id into one node id when it clusters a link job.
COMPOSITE_SEPARATOR = "-__-"


def cluster_links_in_process(model: LinkageModel, predictions: Any, thresholds: Thresholds) -> dict[str, Any]:
    """The clusters of a link job on DuckDB at each band, solved in this process: the same clusters and ids as
    Splink's ``cluster_pairwise_predictions_at_threshold`` (a cluster's id is its smallest
    ``<dataset>-__-<record id>``), with ``source_dataset``, ``unique_id`` and ``cluster_id``.

    Splink solves connected components with a dozen SQL passes per band (about a second for three bands on 5,000
    persons, a fifth of a small ``bold link``); here the edges (two integers each) are read once and each band is
    solved with SciPy in milliseconds, by the model's own in-process components (those of a dedupe)."""
    api = model.db_api
    sep = sql_literal(COMPOSITE_SEPARATOR)
    union = " union all ".join(
        f"select {sql_literal(n)} as source_dataset, cast(unique_id as varchar) as unique_id from {t.physical_name}"
        for n, t in zip(model.names, model.sdfs, strict=True))
    nodes = api.query_sql(
        f"select source_dataset, unique_id, source_dataset || {sep} || unique_id as composite, "
        f"row_number() over (order by source_dataset || {sep} || unique_id) as node_id from ({union})")
    edges = api.query_sql(
        f"select a.node_id as node_l, b.node_id as node_r, p.match_probability from {predictions.physical_name} p "
        f"join {nodes.physical_name} a on a.source_dataset = p.source_dataset_l "
        f"and a.unique_id = cast(p.unique_id_l as varchar) "
        f"join {nodes.physical_name} b on b.source_dataset = p.source_dataset_r "
        f"and b.unique_id = cast(p.unique_id_r as varchar) "
        f"where p.match_probability >= {thresholds.low!r}")
    out = {}
    for band in BANDS:
        cc = model._components_in_process(nodes, edges, getattr(thresholds, band),
                                          f"__bold_link_cc_{band}_{uuid.uuid4().hex[:8]}")
        out[band] = api.query_sql(
            f"select n.source_dataset, n.unique_id, r.composite as cluster_id from {cc.physical_name} c "
            f"join {nodes.physical_name} n on n.node_id = c.node_id "
            f"join {nodes.physical_name} r on r.node_id = c.cluster_id")
    return out


def _model(con: duckdb.DuckDBPyConnection, config: LinkConfig, std_tables: list[str], roles: list[str],
           db_api: Any) -> LinkageModel:
    """The job's Splink model over its standardised tables: the config's saved model, or a new one to train."""
    same_con = getattr(db_api, "duckdb_con", None) is con
    tables: list[Any] = std_tables if same_con else [con.sql(f"select * from {t}").to_arrow_table()
                                                      for t in std_tables]
    bloom = config.mode == "hashed" and all(
        any(c.endswith("_clk_n") for c in _columns(con, t)) for t in std_tables)
    return LinkageModel(tables, names=[s.name for s in config.sides], roles=roles,
                        link_type="dedupe_only" if config.dedupe else "link_only", mode=config.mode, db_api=db_api,
                        settings=read_model(config.model) if config.model is not None else None,
                        guards=config.guards, training=config.training, bloom=bloom,
                        extras=config.comparisons, partial_dates=config.partial_dates)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"describe {table}").fetchall()]


def _records_table(con, config: LinkConfig, std_tables: list[str], names: list[str], clusters: dict[str, str],
                   inputs: list[str] | None) -> str:
    parts = []
    for i, (side, std) in enumerate(zip(config.sides, std_tables, strict=True)):
        raw = inputs[i] if inputs else f"__raw_{i}"
        keep_cols = [k for k in side.keep if k in _columns(con, raw)]
        missing = sorted(set(side.keep) - set(keep_cols))
        if missing:
            raise InputError(f"{side.name}: `keep` column(s) {', '.join(missing)} not found",
                             hint="list only columns the file has under `keep`")
        sexcol = "s.sex" if "sex" in _columns(con, std) else "cast(null as varchar)"
        yearcol = "s.dob_year" if "dob_year" in _columns(con, std) else "cast(null as integer)"
        if config.mode == "hashed":
            sexcol, yearcol = "cast(null as varchar)", "cast(null as integer)"
        keep_sql = "".join(f", cast(r.{quote_ident(k)} as varchar) as {quote_ident(k)}" for k in keep_cols)
        rid = side.id_column if config.mode == "clear" else "unique_id"
        join = (f"join {raw} r on cast(r.{quote_ident(rid)} as varchar) = s.unique_id" if keep_cols else "")
        band_cols = ", ".join(
            f"(select c.cluster_id from {clusters[b]} c where c.dataset = {sql_literal(names[i])} "
            f"and c.record_id = s.unique_id) as cluster_{b}" for b in BANDS)
        parts.append(f"select {sql_literal(names[i])} as dataset, s.unique_id as record_id, {sexcol} as sex, "
                     f"{yearcol} as birth_year{keep_sql}, {band_cols} from {std} s {join}")
    all_keep = sorted({k for s in config.sides for k in s.keep})
    # union by name so sides with different keep columns line up
    con.execute("create or replace table __link_records as " + " union all by name ".join(parts))
    for k in all_keep:
        if k not in _columns(con, "__link_records"):
            con.execute(f"alter table __link_records add column {quote_ident(k)} varchar")
    return "__link_records"


def _summary(con, config: LinkConfig, model: LinkageModel, sides: list[dict], common: list[str], ignored: list[str],
             pairs: str, excl: str, scored: str, clusters: dict[str, str], timings: dict[str, float]) -> dict:
    by_band = dict(con.execute(f"select band, count(*) from {pairs} group by 1").fetchall())
    guards = dict(con.execute(f"select guard, count(*) from {excl} group by 1").fetchall())
    n_scored = con.execute(f"select count(*) from {scored}").fetchall()[0][0]
    left = config.left.name
    cl = {}
    for b, t in clusters.items():
        persons, records = con.execute(f"select count(distinct cluster_id), count(*) from {t}").fetchall()[0]
        multi = con.execute(f"""select count(*) from (select cluster_id from {t} group by 1 having count(*) > 1)"""
                            ).fetchall()[0][0]
        row = {"persons": int(persons), "records": int(records), "persons_with_2_or_more_records": int(multi)}
        if not config.dedupe:
            linked = con.execute(f"""
                with c as (select cluster_id, count(distinct dataset) as nd from {t} group by 1)
                select count(*) from {t} x join c using (cluster_id)
                where x.dataset = {sql_literal(left)} and c.nd > 1""").fetchall()[0][0]
            left_n = sides[0]["records"]
            row["left_records_linked"] = int(linked)
            row["left_link_rate"] = round(linked / left_n, 6) if left_n else None
        cl[b] = row
    s = model.settings()
    return {
        "job": "dedupe" if config.dedupe else "link",
        "mode": config.mode,
        "datasets": sides,
        "roles_compared": common,
        "roles_ignored": ignored,
        "model": {
            "trained_here": config.model is None and not (model.training_report
                                                          and model.training_report.default_parameters),
            "reused_from": str(config.model) if config.model else None,
            "probability_two_random_records_match": s.get("probability_two_random_records_match"),
            "em_sessions": model.training_report.em_sessions if model.training_report else [],
            "default_parameters": model.training_report.default_parameters if model.training_report else None,
        },
        "thresholds": config.thresholds.as_dict(),
        "guards": config.guards.as_dict(),
        "pairs": {"scored": int(n_scored), "by_band": {b: int(by_band.get(b, 0)) for b in BANDS},
                  "excluded_by_guards": {k: int(v) for k, v in guards.items()}},
        "clusters": cl,
        "timings_s": timings,
    }


def summary_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# Linkage summary ({summary['job']}, {summary['mode']} identifiers)", ""]
    for d in summary["datasets"]:
        probs = "; ".join(f"{k.replace('_issue', '')}: " + ", ".join(f"{a} {b:,}" for a, b in v.items())
                          for k, v in d.get("identifier_problems", {}).items() if v)
        lines.append(f"- **{d['name']}**: {d['records']:,} records ({d['path']})" + (f"; nulled: {probs}"
                                                                                       if probs else ""))
    lines += ["", f"Identifiers compared: {', '.join(summary['roles_compared'])}"]
    if summary["roles_ignored"]:
        lines.append(f"Mapped on one side only (not compared): {', '.join(summary['roles_ignored'])}")
    m = summary["model"]
    how = ('trained on these files' if m['trained_here'] else 'generic parameters (not trained)'
           if m.get('default_parameters') else 'reused from ' + str(m['reused_from']))
    lines.append(f"Model: {how}; "
                 f"prior match probability {m['probability_two_random_records_match']:.3g}")
    lines += ["", "| band | threshold | pairs | persons | persons with 2+ records |"
              + (" left records linked |" if summary["job"] == "link" else ""),
              "|---|---|---|---|---|" + ("---|" if summary["job"] == "link" else "")]
    for b in BANDS:
        c = summary["clusters"][b]
        row = (f"| {b} | {summary['thresholds'][b]} | {summary['pairs']['by_band'][b]:,} | {c['persons']:,} | "
               f"{c['persons_with_2_or_more_records']:,} |")
        if summary["job"] == "link":
            row += f" {c['left_records_linked']:,} ({c['left_link_rate']:.1%}) |"
        lines.append(row)
    ex = summary["pairs"]["excluded_by_guards"]
    if ex:
        lines += ["", "Pairs refused by the hard non-match guards: "
                  + ", ".join(f"{k} {v:,}" for k, v in sorted(ex.items()))]
    if summary.get("guard_report"):
        from .guards import guard_lines

        lines += ["", "Guards on this data:"] + [f"- {x}" for x in guard_lines(summary["guard_report"])]
    if summary.get("thin_identifiers"):
        lines += ["", f"Warning: {summary['thin_identifiers']['message']}."]
    if m.get("default_parameters"):
        lines += ["", f"Model not trained ({m['default_parameters']}): generic parameters were used, so the bands "
                      "are rough; reuse a model trained on larger files with `model:` where one exists."]
    ids = summary.get("person_ids")
    if ids:
        lines += ["", "Person ids (medium band): " + ", ".join(
            f"{k.replace('_', ' ')} {ids['medium'][k]:,}" for k in ("persons", "kept", "new", "retired", "splits",
                                                                     "merges"))
            + (f" (mapped from {ids['previous_run']})" if ids.get("previous_run") else "")]
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v}" for k, v in summary["timings_s"].items()), ""]
    return "\n".join(lines)


def write_outputs(result: LinkResult, out: Path) -> None:
    """Write a run's files into folder ``out`` (already created; the caller makes it atomic)."""
    con = result.con
    csv = "(header true, delimiter ',')"
    con.execute(f"copy {result.pairs} to {sql_literal(str(out / 'pairs.csv'))} {csv}")
    con.execute(f"copy {result.excluded} to {sql_literal(str(out / 'excluded_pairs.csv'))} {csv}")
    for b, t in result.clusters.items():
        con.execute(f"copy {t} to {sql_literal(str(out / f'clusters_{b}.csv'))} {csv}")
        changes = result.id_changes.get(b)
        if changes is not None:
            import pyarrow.csv as pacsv

            pacsv.write_csv(changes, out / f"person_id_changes_{b}.csv")
    if result.next_serial:
        from .stable_ids import STATE_FILE, state_text

        (out / STATE_FILE).write_text(state_text(result.next_serial), encoding="utf-8")
    con.execute(f"copy (select * from {result.scored} order by left_id, right_id) to "
                f"{sql_literal(str(out / 'scored_pairs.parquet'))} (format parquet)")
    con.execute(f"copy (select * from {result.records} order by dataset, record_id) to "
                f"{sql_literal(str(out / 'records.parquet'))} (format parquet)")
    result.model.save(out / "model.json")
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2, default=str), encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(result.summary), encoding="utf-8")


def link_files(config: LinkConfig | str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False,
               progress: Progress | None = None, db_api: Any = None, verbose: bool = False) -> dict[str, Any]:
    """Run ``bold link``: the whole job, writing ``out_dir`` atomically. Returns the summary."""
    cfg = config if isinstance(config, LinkConfig) else load_config(config)
    quiet_splink(logging.INFO if verbose else logging.ERROR)
    out = Path(out_dir)
    clean_stale_temporaries(out.absolute().parent)  # folders of killed runs (they hold identifiers)
    if out.exists() and not overwrite:
        raise InputError(f"output folder {out} already exists", hint="pass --overwrite or choose another folder")
    con = duckdb.connect()
    try:
        inputs, hashed_roles = None, None
        if cfg.mode == "hashed":
            from .privacy import load_hashed_inputs

            inputs, hashed_roles = load_hashed_inputs(con, cfg)
        result = link_tables(con, cfg, inputs=inputs, progress=progress, db_api=db_api, hashed_roles=hashed_roles)
        with atomic_dir(out, overwrite=overwrite) as tmp:
            write_outputs(result, tmp)
        return result.summary
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ helpers
#: Standardised columns shown to clerical reviewers.
REVIEW_COLUMNS = ("forename", "middle_names", "surname", "dob_iso", "sex", "postcode", "address", "town",
                  "id_number")


def _standardise_config(con: duckdb.DuckDBPyConnection, cfg: LinkConfig) -> tuple[list[str], list[list[str]]]:
    """Read and standardise (or, hashed, load) every side of ``cfg`` into ``__std_<i>``; returns the tables and
    each side's identifier roles."""
    if cfg.mode == "hashed":
        from .privacy import load_hashed_inputs

        return load_hashed_inputs(con, cfg)
    out = []
    for i, side in enumerate(cfg.sides):
        label = f"{'left' if i == 0 else 'right'} file {side.path.name}"
        read_file(con, side.path, f"__raw_{i}", label=label)
        _check_ids(con, f"__raw_{i}", side.id_column, label)
        standardise(con, f"__raw_{i}", id_column=side.id_column, columns=side.columns, out=f"__std_{i}",
                    options=side.options(), label=label)
        out.append(f"__std_{i}")
    return out, [list(side.columns) for side in cfg.sides]


def count_blocked_pairs(config: LinkConfig | str | os.PathLike, *, sample: float = 1.0) -> list[BlockingCount]:
    """The candidate pairs each blocking rule of a link job makes, with nothing scored (``bold link blocking``).

    The rules are those the job would use: the config's saved model with the blocking chosen for these files'
    size, or those of a new model. ``sample`` below 1 estimates the counts from that share of the records.
    """
    cfg = config if isinstance(config, LinkConfig) else load_config(config)
    quiet_splink(logging.ERROR)
    con = duckdb.connect()
    try:
        std, side_roles = _standardise_config(con, cfg)
        roles = [r for r in COMPARISON_ROLES if all(r in rs for rs in side_roles)]
        from splink import DuckDBAPI

        return blocking_counts(_model(con, cfg, std, roles, DuckDBAPI(connection=con)), sample=sample)
    finally:
        con.close()


def standardised_tables(config: LinkConfig | str | os.PathLike) -> list[Any]:
    """Each side's standardised identifiers (Arrow tables of ``unique_id`` and :data:`REVIEW_COLUMNS`)."""
    cfg = config if isinstance(config, LinkConfig) else load_config(config)
    con = duckdb.connect()
    try:
        tables = []
        for t in _standardise_config(con, cfg)[0]:
            cols = [c for c in ("unique_id", *REVIEW_COLUMNS) if c in _columns(con, t)]
            tables.append(con.sql(f"select {', '.join(cols)} from {t}").to_arrow_table())
        return tables
    finally:
        con.close()


def explain_pair(config: LinkConfig | str | os.PathLike, run_dir: str | os.PathLike, left_id: str,
                 right_id: str):
    """The match-weight waterfall of one pair of records, scored with the model a run saved."""
    cfg = config if isinstance(config, LinkConfig) else load_config(config)
    model_path = Path(run_dir) / "model.json"
    settings = read_model(model_path)
    quiet_splink(logging.ERROR)
    con = duckdb.connect()
    try:
        std, _roles = _standardise_config(con, cfg)
        right_table = std[1] if len(std) > 1 else std[0]

        def record(table: str, rid: str, which: str):
            t = con.sql(f"select * from {table} where unique_id = {sql_literal(str(rid))}").to_arrow_table()
            if t.num_rows == 0:
                raise InputError(f"record {rid!r} not found in the {which} file",
                                 hint="give a record id from the file's id column")
            return t

        rec_l = record(std[0], left_id, "left")
        rec_r = record(right_table, right_id, "right" if len(std) > 1 else "left")
        from .splink_model import model_roles

        roles = list(model_roles(settings))
        from splink import DuckDBAPI

        model = LinkageModel(std, names=[s.name for s in cfg.sides], roles=roles,
                             link_type="dedupe_only" if cfg.dedupe else "link_only", mode=cfg.mode,
                             db_api=DuckDBAPI(connection=con), settings=settings, guards=cfg.guards,
                             log_level=logging.ERROR)
        return model.explain(rec_l, rec_r)
    finally:
        con.close()
