"""Linkage of the justice identity records on either engine, through Splink's backend abstraction.

The Data First person tables' identities (``linkage.identity_<table>``: names, date of birth, postcode, sex) are
standardised with :func:`bold_prevention.linkage.standardise.standardise_arrow` - on Spark the same function runs
on every Arrow batch of every partition (``mapInArrow``), so both engines compare identical standard columns - and
deduplicated with :class:`bold_prevention.linkage.splink_model.LinkageModel` over Splink's ``DuckDBAPI`` or
``SparkAPI`` (Splink's Scala similarity functions - Jaro-Winkler, Damerau-Levenshtein - are registered from the jar
Splink ships, which the Spark session loads). Same settings, same saved model, same SQL: only the backend differs.

Written to the warehouse (on the engine in use):

``linkage.justice_standardised``  the standardised identity records (kept for incremental linkage of the next
                                  snapshot);
``linkage.justice_pairs``         scored pairs at or above the prediction threshold: ``unique_id_l``,
                                  ``unique_id_r``, ``match_weight``, ``match_probability``, ``band`` and ``guard``
                                  (the hard non-match rule that refused the pair, else null);
``linkage.justice_clusters``      one row per record: ``record_id``, ``source_table``, ``cluster_high``,
                                  ``cluster_medium``, ``cluster_low``;
``linkage.justice_person_ids``    one row per record: ``record_id``, ``source_table``, ``person_high``,
                                  ``person_medium``, ``person_low`` - stable person ids (:func:`justice_person_ids`),
                                  kept from the previous run's by largest overlap;
``linkage.justice_person_id_changes``  ``band``, ``change`` (split / retired), ``previous_person_id``,
                                  ``person_id`` (ids only);
``linkage.justice_person_id_state``  ``band``, ``next_serial``: the high-water mark of the ids ever issued.

Incremental linkage of a new snapshot is in :mod:`.incremental`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot

from ..datafirst import MODEL
from ..errors import InputError
from ..linkage.blocking import BlockingCount, blocking_counts
from ..linkage.splink_model import (
    BANDS,
    Guards,
    LinkageModel,
    Thresholds,
    TrainingOptions,
    quiet_splink,
    read_model,
)
from ..linkage.stable_ids import assign_person_ids_arrow
from ..linkage.standardise import StandardiseOptions, standardise_arrow
from ..warehouse.engine import Warehouse, transaction
from ..warehouse.spark import SCRATCH

__all__ = [
    "JUSTICE_ROLES",
    "LinkageRun",
    "identity_sql",
    "standardise_spark",
    "standardised_identities",
    "splink_api",
    "dedupe_justice_records",
    "default_model_path",
    "justice_blocking_counts",
    "justice_person_ids",
    "linkage_backend",
    "model_for_backend",
]

Progress = Callable[[str], None]

#: Identifier roles of the Data First person tables (the columns of ``linkage.identity_<table>``).
JUSTICE_ROLES: tuple[str, ...] = ("forename", "middle_names", "surname", "date_of_birth", "sex", "postcode")
DATASET_NAME = "justice"


def default_model_path(wh: Warehouse) -> Path:
    return wh.project.models_dir / "justice_dedupe.json"


# ------------------------------------------------------------------------------------------------ identities
def identity_sql(tables: Sequence[str] | None = None) -> str:
    """Portable SELECT of the justice identity records: ``record_id`` (``<table>:<record id>``),
    ``source_table`` and one column per role of :data:`JUSTICE_ROLES`."""
    chosen = [t for t in MODEL.xjs_tables() if tables is None or t.name in tables]
    if not chosen:
        raise InputError("no Data First person table to link", hint="load the extracts with `bold load` first")
    parts = []
    for t in chosen:
        roles = t.identifier_roles
        cols = ", ".join(f"{roles[r]} AS {r}" if r in roles else f"CAST(NULL AS VARCHAR) AS {r}"
                         for r in JUSTICE_ROLES)
        parts.append(f"SELECT '{t.name}:' || {t.record_id} AS record_id, '{t.name}' AS source_table, {cols} "
                     f"FROM linkage.identity_{t.name}")
    return "\nUNION ALL\n".join(parts)


def _present_identity_tables(wh: Warehouse) -> list[str]:
    have = wh.tables("linkage")
    return [t.name for t in MODEL.xjs_tables() if f"identity_{t.name}" in have]


def _std_schema(input_schema: pa.Schema, columns: dict[str, str], options: StandardiseOptions) -> pa.Schema:
    empty = pa.table({f.name: pa.array([], f.type) for f in input_schema})
    return standardise_arrow(empty, id_column="record_id", columns=columns, options=options).schema


def _with_source_table(std: pa.Table) -> pa.Table:
    """Add ``source_table``: the table part of ``unique_id`` (``<table>:<record id>``)."""
    import pyarrow.compute as pc

    parts = pc.split_pattern(std.column("unique_id"), ":", max_splits=1)
    return std.append_column("source_table", pc.list_element(parts, 0))


def standardise_spark(df, *, columns: dict[str, str] | None = None, options: StandardiseOptions | None = None):
    """Standardise a Spark DataFrame of identity records (``record_id`` and the role columns) on Spark: the same
    standardisation function as on DuckDB, applied to each Arrow batch in the Python workers."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    columns = dict(columns or {r: r for r in JUSTICE_ROLES})
    # one reference date for every batch (the default is "today" at the time each batch runs)
    opts = options or StandardiseOptions()
    if opts.reference_date is None:
        from dataclasses import replace
        from datetime import date

        opts = replace(opts, reference_date=date.today())
    in_schema = to_arrow_schema(df.schema)
    std = _std_schema(in_schema, columns, opts)
    out_schema = pa.schema([*std, pa.field("source_table", pa.string())])

    def run(batches):
        for b in batches:
            if b.num_rows == 0:
                continue
            s = standardise_arrow(pa.Table.from_batches([b]), id_column="record_id", columns=columns, options=opts)
            yield from _with_source_table(s).cast(out_schema).to_batches()

    return df.mapInArrow(run, from_arrow_schema(out_schema))


def standardised_identities(wh: Warehouse, *, tables: Sequence[str] | None = None,
                            options: StandardiseOptions | None = None, source_sql: str | None = None):
    """The standardised justice identity records, on the warehouse's engine: an Arrow table (DuckDB) or a Spark
    DataFrame (Spark), with ``source_table`` carried along."""
    sql = source_sql or identity_sql(tables if tables is not None else _present_identity_tables(wh))
    columns = {r: r for r in JUSTICE_ROLES}
    if wh.is_spark:
        df = wh.con.spark.sql(sqlglot.transpile(sql, read="duckdb", write="spark")[0])
        return standardise_spark(df, columns=columns, options=options)
    raw = wh.con.sql(sql).to_arrow_table()
    return _with_source_table(standardise_arrow(raw, id_column="record_id", columns=columns, options=options))


# ------------------------------------------------------------------------------------------------ backends
#: How string similarity is computed on Spark: ``duckdb`` gives DuckDB's values exactly; ``jar`` uses the Scala
#: functions of Splink's jar throughout.
SIMILARITY = ("duckdb", "jar")


def splink_api(wh: Warehouse, *, duckdb_con: duckdb.DuckDBPyConnection | None = None, similarity: str = "duckdb",
               checkpoints: Path | None = None):
    """Splink's database API for the engine: ``SparkAPI`` over the warehouse's session, or ``DuckDBAPI`` over a
    private in-memory DuckDB (Splink's scratch tables never land in the warehouse file).

    On Spark, Splink's similarity functions come from the Scala jar Splink ships (loaded by the session). Its
    Jaro and Jaro-Winkler count half-transpositions fractionally, where DuckDB (like jellyfish and most
    references) rounds them down, so about 2% of pairs of similar names score differently (ROBIJSON / ROBINSON:
    0.907 against 0.921) and can fall on another comparison level. With ``similarity="duckdb"`` (the default)
    ``jaro_winkler`` and ``jaro_sim`` are replaced by vectorised (Arrow) Python functions computing DuckDB's
    values, so both engines give the same comparison levels and match probabilities; the jar's
    ``damerau_levenshtein`` already agrees with DuckDB's and is kept. ``similarity="jar"`` keeps the jar's
    functions (no Python workers).
    """
    if similarity not in SIMILARITY:
        raise InputError(f"similarity {similarity!r} is not known", hint=f"use one of {', '.join(SIMILARITY)}")
    if wh.is_spark:
        from splink import SparkAPI

        spark = wh.con.spark
        # Splink breaks the lineage of its iterative steps (connected components) by writing them as Parquet
        # under the checkpoint folder; persisting alone lets the query plans grow with every iteration.
        ck = checkpoints or _checkpoint_root(wh)
        ck.mkdir(parents=True, exist_ok=True)
        spark.sparkContext.setCheckpointDir(ck.as_posix())
        api = SparkAPI(spark_session=spark, break_lineage_method="parquet")
        missing = [f for f in ("jaro_winkler", "damerau_levenshtein") if not spark.catalog.functionExists(f)]
        if missing:
            raise InputError(f"Splink's similarity functions ({', '.join(missing)}) are not registered on Spark",
                             hint="start Spark through bold_prevention (it adds Splink's similarity jar to "
                                  "spark.jars), or add splink.backends.spark.similarity_jar_location() yourself")
        if similarity == "duckdb":
            from . import _similarity

            _similarity.register(spark)
        return api
    from splink import DuckDBAPI

    return DuckDBAPI(connection=duckdb_con or duckdb.connect())


def _splink_dialect(name: str):
    from splink.internals.dialects import SplinkDialect

    return SplinkDialect.from_string(name)


def _translate_condition(sql: str, source: str, target: str) -> str:
    """One SQL condition of a Splink model from ``source`` to ``target`` dialect (sqlglot), with Splink's
    similarity functions renamed to the target backend's (``jaro_winkler_similarity`` -> ``jaro_winkler``...)."""
    if sql.strip().upper() == "ELSE":
        return sql
    src, tgt = _splink_dialect(source), _splink_dialect(target)
    names = {}
    for attr in ("jaro_winkler_function_name", "jaro_function_name", "levenshtein_function_name",
                 "damerau_levenshtein_function_name"):
        try:
            names[getattr(src, attr).lower()] = getattr(tgt, attr)
        except (AttributeError, NotImplementedError):
            continue
    tree = sqlglot.parse_one(sql, read=src.sqlglot_dialect)
    for fn in list(tree.find_all(sqlglot.exp.Func)):
        rendered = fn.sql(dialect=src.sqlglot_dialect).split("(")[0].strip().lower()
        if rendered in names and names[rendered].lower() != rendered:
            args = [a for a in (fn.args.get("this"), fn.args.get("expression")) if a is not None] \
                if not isinstance(fn, sqlglot.exp.Anonymous) else list(fn.expressions)
            fn.replace(sqlglot.exp.Anonymous(this=names[rendered], expressions=args))
    return tree.sql(dialect=tgt.sqlglot_dialect)


def model_for_backend(settings: dict[str, Any], target: str) -> dict[str, Any]:
    """A saved Splink model rewritten for another backend's SQL dialect.

    Splink reads a model's conditions in the dialect of the backend it is loaded on, so a model saved on DuckDB
    (``"forename_l" = "forename_r"``: double-quoted identifiers) would compare string literals on Spark. Every
    comparison-level condition and blocking rule is transpiled with sqlglot from the model's ``sql_dialect`` and
    the similarity functions renamed; parameters (m, u, term frequencies) are unchanged.
    """
    source = str(settings.get("sql_dialect") or "duckdb")
    if source == target:
        return settings
    out = json.loads(json.dumps(settings))
    for c in out.get("comparisons", []):
        for lv in c.get("comparison_levels", []):
            if "sql_condition" in lv:
                lv["sql_condition"] = _translate_condition(lv["sql_condition"], source, target)
    rules = []
    for br in out.get("blocking_rules_to_generate_predictions", []):
        if isinstance(br, dict) and "blocking_rule" in br:
            br = dict(br, blocking_rule=_translate_condition(br["blocking_rule"], source, target))
            br["sql_dialect"] = target
        elif isinstance(br, str):
            br = _translate_condition(br, source, target)
        rules.append(br)
    out["blocking_rules_to_generate_predictions"] = rules
    out["sql_dialect"] = target
    return out


def _api_dialect(api) -> str:
    return api.sql_dialect.sql_dialect_str


def _dialect_sql(api, sql: str) -> str:
    """DuckDB-dialect SQL in the dialect of Splink's backend."""
    if type(api).__name__ == "SparkAPI":
        return sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    return sql


def _query(api, sql: str):
    return api.query_sql(_dialect_sql(api, sql))


#: Rows per Arrow batch when results stream from Splink's scratch DuckDB into the warehouse.
STREAM_BATCH_ROWS = 1_000_000


def _write_results(wh: Warehouse, api, tables: dict[str, str]) -> None:
    """Write results (``{warehouse table: SQL over Splink's tables}``) to the warehouse.

    On DuckDB the rows stream from Splink's scratch database in Arrow batches, so tens of millions of pairs are
    never held in this process at once, and all the tables are written in one transaction: an interrupted run
    leaves the warehouse as it was. On Spark (Splink's tables are views in the warehouse's own session) each
    table is written by an atomic replace, in the order given, so the caller puts the table that marks a
    finished run last.
    """
    if wh.is_spark:
        for target, sql in tables.items():
            wh.materialise(target, sql)
        return
    with transaction(wh):
        for target, sql in tables.items():
            wh.write_arrow(target, api.duckdb_con.sql(sql).to_arrow_reader(STREAM_BATCH_ROWS))


def _store_standardised(wh: Warehouse, std) -> None:
    wh.write_arrow("linkage.justice_standardised", std)


def _scratch_duckdb(wh: Warehouse) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for Splink, spilling to ``<project>/.linkage-tmp`` beyond
    ``$BOLD_DUCKDB_MEMORY_LIMIT`` (default: DuckDB's own limit, 80% of the machine's memory)."""
    import os

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    limit = os.environ.get("BOLD_DUCKDB_MEMORY_LIMIT")
    if limit:
        con.execute(f"SET memory_limit = '{limit}'")
    tmp = wh.project.root / ".linkage-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = '{tmp.as_posix()}'")
    return con


def _checkpoint_root(wh: Warehouse) -> Path:
    return wh.con.parquet_dir / SCRATCH / "checkpoints"


def _remove_stale_checkpoints(root: Path) -> None:
    """Remove the checkpoint folders of runs whose process has ended (a run that was killed cannot clean up)."""
    import os

    for folder in root.glob("run-*"):
        pid = folder.name.split("-")[1]
        alive = True
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            alive = False
        except PermissionError:  # another user's live process
            pass
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def linkage_backend(wh: Warehouse, *, similarity: str = "duckdb") -> Iterator[Any]:
    """Splink's backend for one linkage run on the warehouse's engine, cleaned up when the run ends.

    On DuckDB: a private in-memory database (:func:`_scratch_duckdb`, spilling to ``<project>/.linkage-tmp``),
    closed at the end. On Spark: the warehouse's session, with a checkpoint folder of this run's own under
    ``<parquet>/_scratch/checkpoints``. Splink writes every table it materialises there as Parquet and never
    deletes it - at a million records that is gigabytes a run - so the folder is removed at the end, with any
    left by runs that were killed.
    """
    import os

    if wh.is_spark:
        root = _checkpoint_root(wh)
        _remove_stale_checkpoints(root)
        folder = root / f"run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        try:
            yield splink_api(wh, similarity=similarity, checkpoints=folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    con = _scratch_duckdb(wh)
    try:
        yield splink_api(wh, duckdb_con=con, similarity=similarity)
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ person ids
PERSON_IDS = "linkage.justice_person_ids"
PERSON_ID_CHANGES = "linkage.justice_person_id_changes"
PERSON_ID_STATE = "linkage.justice_person_id_state"


def _next_serials(wh: Warehouse) -> dict[str, int]:
    if "justice_person_id_state" not in wh.tables("linkage"):
        return {}
    out = {}
    for band, n in wh.sql(f"SELECT band, next_serial FROM {PERSON_ID_STATE}").fetchall():
        if band in BANDS and n is not None and int(n) >= 1:
            out[str(band)] = int(n)
    return out


def justice_person_ids(wh: Warehouse, *, progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Stable person ids for the clusters of ``linkage.justice_clusters``, on either engine.

    Each band's clusters are mapped onto the ids of the previous run (``linkage.justice_person_ids`` as it stands)
    by largest overlap, with the rules of :func:`bold_prevention.linkage.stable_ids.assign_person_ids` (the same
    function: the record and cluster ids are read to Arrow and assigned in an embedded DuckDB - on Spark too, a
    few hundred megabytes at five million records). New ids are numbered above the high-water mark kept in
    ``linkage.justice_person_id_state``, so a retired id is never issued again. Writes the ids, the changes
    (splits and retired ids) and the high-water marks; returns the report per band (kept, new, retired, splits,
    merges...).

    On DuckDB the three tables are written in one transaction. On Spark the high-water mark is written first,
    so a run interrupted between the writes can only skip numbers, never issue one twice.
    """
    say = progress or (lambda _m: None)
    say("stable person ids: mapping the clusters onto the previous run's ids")
    cols = ", ".join(f"cluster_{b}" for b in BANDS)
    current = wh.to_arrow(f"SELECT record_id, source_table, {cols} FROM linkage.justice_clusters")
    have = wh.tables("linkage")
    previous = wh.to_arrow(f"SELECT source_table, record_id, {', '.join(f'person_{b}' for b in BANDS)} "
                           f"FROM {PERSON_IDS}") if "justice_person_ids" in have else None
    marks = _next_serials(wh)
    out: pa.Table | None = None
    reports: dict[str, dict[str, Any]] = {}
    changes: list[pa.Table] = []
    next_serial: dict[str, int] = {}
    for b in BANDS:
        # the source table is the dataset: record ids are unique within it (and carry it as their prefix)
        cur = pa.table({"dataset": current.column("source_table"), "record_id": current.column("record_id"),
                        "cluster_id": current.column(f"cluster_{b}").cast(pa.string())})
        prev = None
        if previous is not None:
            prev = pa.table({"dataset": previous.column("source_table"), "record_id": previous.column("record_id"),
                             "person_id": previous.column(f"person_{b}")})
        ids, res = assign_person_ids_arrow(cur, prev, next_serial=marks.get(b, 1))
        # every band's ids come in the same (dataset, record_id) order
        if out is None:
            out = pa.table({"record_id": ids.column("record_id"), "source_table": ids.column("dataset")})
        elif not out.column("record_id").equals(ids.column("record_id")):
            raise RuntimeError("person ids: the bands' records are not in the same order")
        out = out.append_column(f"person_{b}", ids.column("person_id").cast(pa.string()))
        reports[b], next_serial[b] = res.report, res.next_serial
        if res.changes is not None and res.changes.num_rows:
            changes.append(res.changes.add_column(0, "band", pa.array([b] * res.changes.num_rows, pa.string())))
    schema = pa.schema([("band", pa.string()), ("change", pa.string()), ("previous_person_id", pa.string()),
                        ("person_id", pa.string())])
    change_table = pa.concat_tables(changes).cast(schema) if changes else schema.empty_table()
    state = pa.table({"band": pa.array(list(next_serial), pa.string()),
                      "next_serial": pa.array(list(next_serial.values()), pa.int64())})
    if wh.is_spark:
        wh.write_arrow(PERSON_ID_STATE, state)
        wh.write_arrow(PERSON_ID_CHANGES, change_table)
        wh.write_arrow(PERSON_IDS, out)
    else:
        with transaction(wh):
            for target, data in ((PERSON_ID_STATE, state), (PERSON_ID_CHANGES, change_table), (PERSON_IDS, out)):
                wh.write_arrow(target, data)
    return reports


# ------------------------------------------------------------------------------------------------ dedupe
@dataclass
class LinkageRun:
    engine: str
    records: int
    pairs: int
    excluded: int
    clusters: dict[str, int]
    model_path: Path | None
    trained: bool
    seconds: dict[str, float] = field(default_factory=dict)
    #: per band, the stable person id report (:func:`justice_person_ids`)
    person_ids: dict[str, dict[str, Any]] = field(default_factory=dict)


def _pairs_sql(kept: str, excluded: str, thresholds: Thresholds) -> str:
    band = thresholds.band_sql()
    return (f"SELECT unique_id_l, unique_id_r, match_weight, match_probability, {band} AS band, "
            f"CAST(NULL AS VARCHAR) AS guard FROM {kept} "
            f"UNION ALL SELECT unique_id_l, unique_id_r, match_weight, match_probability, CAST(NULL AS VARCHAR), "
            f"guard FROM {excluded}")


def _clusters_sql(std: str, clusters: dict[str, str]) -> str:
    joins = " ".join(f"JOIN {clusters[b]} c_{b} ON c_{b}.unique_id = s.unique_id" for b in BANDS)
    cols = ", ".join(f"c_{b}.cluster_id AS cluster_{b}" for b in BANDS)
    return f"SELECT s.unique_id AS record_id, s.source_table, {cols} FROM {std} s {joins}"


def dedupe_justice_records(wh: Warehouse, *, model_path: str | Path | None = None, train: bool | None = None,
                           thresholds: Thresholds | None = None, guards: Guards | None = None,
                           training: TrainingOptions | None = None, predict_threshold: float = 0.01,
                           chunks: tuple[int, int] | None = None, tables: Sequence[str] | None = None,
                           options: StandardiseOptions | None = None, similarity: str = "duckdb",
                           progress: Progress | None = None) -> LinkageRun:
    """Deduplicate the justice identity records on the warehouse's engine with Splink.

    ``model_path``: the saved Splink model to use (default ``<project>/models/justice_dedupe.json``); when it does
    not exist (or ``train``), a model is trained on this engine and saved there. ``chunks``: split prediction into
    ``(left, right)`` chunks (Splink's ``num_chunks_left`` / ``num_chunks_right``) to bound memory.
    """
    say = progress or (lambda _m: None)
    quiet_splink(logging.ERROR)
    thresholds = thresholds or Thresholds()
    mp = Path(model_path) if model_path else default_model_path(wh)
    do_train = train if train is not None else not mp.exists()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say(f"standardising the justice identity records on {wh.engine}")
    std = standardised_identities(wh, tables=tables, options=options)
    _store_standardised(wh, std)
    if wh.is_spark:
        std = wh.con.spark.table("linkage.justice_standardised")
        n = std.count()
    else:
        n = std.num_rows
    if n == 0:
        raise InputError("there are no justice identity records to link",
                         hint="load the Data First extracts (with identifiers) with `bold load` first")
    timings["standardise"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with linkage_backend(wh, similarity=similarity) as api:
        settings = None if do_train else model_for_backend(read_model(mp), _api_dialect(api))
        model = LinkageModel([std], names=[DATASET_NAME], roles=JUSTICE_ROLES, link_type="dedupe_only",
                             db_api=api, settings=settings, guards=guards, training=training)
        if do_train:
            say(f"training the linkage model on {n:,} records")
            model.train(progress=say)
            mp.parent.mkdir(parents=True, exist_ok=True)
            from ..files import atomic_file

            with atomic_file(mp) as fh:
                json.dump(model.settings(), fh, indent=2)
        timings["train"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say("scoring candidate pairs" + (f" in {chunks[0]} x {chunks[1]} chunks" if chunks else ""))
        kept, excluded = model.predict_guarded(threshold=min(predict_threshold, thresholds.low), chunks=chunks)
        timings["predict"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say("clustering at the high, medium and low bands")
        clusters = model.cluster(kept, thresholds, compact=True)
        timings["cluster"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        say("writing the pairs and clusters to the warehouse")
        _write_results(wh, api, {
            "linkage.justice_pairs": _pairs_sql(kept.physical_name, excluded.physical_name, thresholds),
            "linkage.justice_clusters": _clusters_sql(model.sdfs[0].physical_name,
                                                      {b: c.physical_name for b, c in clusters.items()}),
        })
        counts = wh.con.execute(
            "SELECT COUNT(*), COUNT(guard), " + ", ".join(f"(SELECT COUNT(DISTINCT cluster_{b}) FROM "
                                                          f"linkage.justice_clusters)" for b in BANDS)
            + " FROM linkage.justice_pairs").fetchall()[0]
    person_ids = justice_person_ids(wh, progress=say)
    timings["write"] = time.perf_counter() - t0
    return LinkageRun(engine=wh.engine, records=int(n), pairs=int(counts[0]) - int(counts[1]),
                      excluded=int(counts[1]), clusters={b: int(counts[2 + i]) for i, b in enumerate(BANDS)},
                      model_path=mp, trained=do_train, seconds={k: round(v, 3) for k, v in timings.items()},
                      person_ids=person_ids)


def justice_blocking_counts(wh: Warehouse, *, model_path: str | Path | None = None, sample: float = 1.0,
                            tables: Sequence[str] | None = None, options: StandardiseOptions | None = None,
                            similarity: str = "duckdb") -> list[BlockingCount]:
    """The candidate pairs each blocking rule of the justice dedupe would make on the warehouse's engine, with
    nothing scored (``bold scale blocking``): the rules the saved model (default
    ``<project>/models/justice_dedupe.json``) is given for this many records, or those of a new model when none is
    saved. ``sample`` below 1 estimates the counts from that share of the records on each side."""
    quiet_splink(logging.ERROR)
    mp = Path(model_path) if model_path else default_model_path(wh)
    std = standardised_identities(wh, tables=tables, options=options)
    if (std.count() if wh.is_spark else std.num_rows) == 0:
        raise InputError("there are no justice identity records to count pairs for",
                         hint="load the Data First extracts (with identifiers) with `bold load` first")
    with linkage_backend(wh, similarity=similarity) as api:
        settings = model_for_backend(read_model(mp), _api_dialect(api)) if mp.exists() else None
        model = LinkageModel([std], names=[DATASET_NAME], roles=JUSTICE_ROLES, link_type="dedupe_only",
                             db_api=api, settings=settings)
        return blocking_counts(model, sample=sample)
