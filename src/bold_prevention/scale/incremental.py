"""Incremental linkage: a new snapshot of the justice identity records linked to the population already linked,
instead of relinking everything.

:func:`link_new_records` scores only pairs that involve a new record - against the existing population with
Splink's ``predict_between`` and among themselves with ``predict_within`` - with term frequencies from the whole
population and the same hard non-match guards, then updates the clusters the new records touch
(:mod:`.cluster_update`). :func:`link_new_snapshot` does this for a warehouse: it compares the standardised
records of the current snapshot with those of the last linkage run, relinks the new and changed records (and every
member of a cluster that held a changed or removed record, so no cluster keeps a link only a vanished record made),
and rewrites ``linkage.justice_standardised``, ``linkage.justice_pairs``, ``linkage.justice_clusters`` and the stable
person ids (``linkage.justice_person_ids``).
Both run on DuckDB and on Spark through Splink's backend abstraction.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..linkage.blocking import prediction_blocking
from ..linkage.splink_model import (
    BANDS,
    Guards,
    Thresholds,
    guard_conditions,
    model_roles,
    quiet_splink,
    read_model,
)
from ..warehouse.engine import Warehouse
from .cluster_update import update_clusters
from .linkage import (
    Progress,
    _api_dialect,
    _query,
    _write_results,
    default_model_path,
    justice_person_ids,
    linkage_backend,
    model_for_backend,
    standardised_identities,
)

__all__ = ["IncrementalRun", "link_new_records", "link_new_snapshot"]


@dataclass
class IncrementalRun:
    engine: str
    existing: int
    new: int
    pairs: int
    joined_existing: dict[str, int]
    merged_clusters: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    #: records of the last run whose standardised identifiers changed (relinked) or that are gone (dropped)
    changed: int = 0
    removed: int = 0
    #: unchanged records relinked because their cluster held a changed or removed record
    reopened: int = 0
    #: per band, the stable person id report (:func:`.linkage.justice_person_ids`); empty when nothing changed
    person_ids: dict[str, dict[str, Any]] = field(default_factory=dict)


def _tf_columns(settings: dict[str, Any]) -> list[str]:
    cols = []
    for c in settings.get("comparisons", []):
        for lv in c.get("comparison_levels", []):
            col = lv.get("tf_adjustment_column")
            if col and col not in cols:
                cols.append(col)
    return cols


def link_new_records(api, settings: dict[str, Any], existing, new, existing_clusters, *,
                     thresholds: Thresholds | None = None, guards: Guards | None = None,
                     predict_threshold: float = 0.01, progress: Progress | None = None) -> tuple[IncrementalRun, dict]:
    """Link a new snapshot's standardised records to an already linked population, incrementally.

    ``api``: Splink's backend (:func:`splink_api`); ``existing`` / ``new``: standardised records (anything
    ``api.register`` takes: Arrow, a Spark DataFrame, a table name); ``existing_clusters``: the existing records'
    clusters (``record_id``, ``cluster_high``, ``cluster_medium``, ``cluster_low``). Pairs are scored new x
    existing (``predict_between``) and new x new (``predict_within``) only, with term frequencies from the whole
    population; the hard non-match guards apply; then, per band, connected components over the new records and
    the existing clusters they touch give each new record its cluster (an existing cluster's id when it joins one;
    clusters bridged by a new record merge under the smallest id).

    Returns the summary and SplinkDataFrames: ``pairs`` (scored pairs with ``guard``) and ``assignments`` (per band:
    ``node_id``, ``cluster_id`` for the new records and for every existing cluster whose id changes).
    """
    from splink import Linker
    say = progress or (lambda _m: None)
    quiet_splink(logging.ERROR)
    thresholds = thresholds or Thresholds()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    sdf_old = api.register(existing, table_name=f"__inc_existing_{tag}")
    sdf_new = api.register(new, table_name=f"__inc_new_{tag}")
    all_sql = (f"SELECT * FROM {sdf_old.physical_name} UNION ALL SELECT * FROM {sdf_new.physical_name}")
    sdf_all = api.register(_query(api, all_sql).physical_name, table_name=f"__inc_all_{tag}")
    n_all = int(_query(api, f"SELECT COUNT(*) AS n FROM {sdf_all.physical_name}").as_record_list()[0]["n"])
    # the blocking rules a full relink of the whole population would use (they depend on its size)
    s = dict(settings, blocking_rules_to_generate_predictions=prediction_blocking(model_roles(settings), n_all))
    s = model_for_backend(s, _api_dialect(api))
    s["link_type"] = "dedupe_only"
    s["retain_matching_columns"] = True
    s["retain_intermediate_calculation_columns"] = False
    linker = Linker(sdf_all, s)
    say("term frequencies over the whole population")
    for col in _tf_columns(s):
        linker.table_management.compute_tf_table(col)
    timings["term_frequencies"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("scoring the new records against the existing population (predict_between) and each other")
    thr = min(predict_threshold, thresholds.low)
    between = linker.inference.predict_between(sdf_new, sdf_old, threshold_match_probability=thr,
                                               warning_mode="never")
    within = linker.inference.predict_within(sdf_new, threshold_match_probability=thr, warning_mode="never")
    # reuse LinkageModel's guards on the union of both
    union = _query(api, f"SELECT * FROM {between.physical_name} UNION ALL SELECT * FROM {within.physical_name}")
    conds = guard_conditions(s, guards or Guards())
    any_cond = " OR ".join(conds.values()) if conds else "FALSE"
    reason = ("CASE " + " ".join(f"WHEN {c} THEN '{k}'" for k, c in conds.items()) + " END") if conds else \
        "CAST(NULL AS VARCHAR)"
    pairs = _query(api, f"SELECT unique_id_l, unique_id_r, match_weight, match_probability, "
                        f"CASE WHEN {any_cond} THEN {reason} END AS guard FROM {union.physical_name}")
    timings["predict"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("updating the clusters the new records touch")
    clusters_old = api.register(existing_clusters, table_name=f"__inc_clusters_{tag}")
    ends = ", ".join(f"cl.cluster_{b} AS l_{b}, cr.cluster_{b} AS r_{b}" for b in BANDS)
    edges = _query(api, f"""
        SELECT p.unique_id_l, p.unique_id_r, p.match_probability, {ends}
        FROM {pairs.physical_name} p
        LEFT JOIN {clusters_old.physical_name} cl ON cl.record_id = p.unique_id_l
        LEFT JOIN {clusters_old.physical_name} cr ON cr.record_id = p.unique_id_r
        WHERE p.guard IS NULL AND p.match_probability >= {min(getattr(thresholds, b) for b in BANDS)!r}"""
                   ).as_pandas_dataframe()
    new_ids = _query(api, f"SELECT unique_id FROM {sdf_new.physical_name}").as_pandas_dataframe()["unique_id"]
    assignments, joined, merged = {}, {}, {}
    for b in BANDS:
        update = update_clusters(new_ids, edges, threshold=getattr(thresholds, b), cluster_left=f"l_{b}",
                                 cluster_right=f"r_{b}")
        assignments[b] = api.register(update.assignments, table_name=f"__inc_assign_{b}_{tag}")
        joined[b], merged[b] = update.joined, update.merged
    timings["cluster"] = time.perf_counter() - t0
    n_pairs = _query(api, f"SELECT COUNT(*) AS n FROM {pairs.physical_name}").as_record_list()[0]["n"]
    n_old = _query(api, f"SELECT COUNT(*) AS n FROM {sdf_old.physical_name}").as_record_list()[0]["n"]
    n_new = _query(api, f"SELECT COUNT(*) AS n FROM {sdf_new.physical_name}").as_record_list()[0]["n"]
    run = IncrementalRun(engine="spark" if type(api).__name__ == "SparkAPI" else "duckdb", existing=int(n_old),
                         new=int(n_new), pairs=int(n_pairs), joined_existing=joined, merged_clusters=merged,
                         seconds={k: round(v, 3) for k, v in timings.items()})
    return run, {"pairs": pairs, "assignments": assignments}


# ------------------------------------------------------------------------------------------------ a warehouse
_LINKED = ("justice_standardised", "justice_pairs", "justice_clusters")


def _input(wh: Warehouse, api, data, name: str):
    """Warehouse data as a table of Splink's backend (materialised on Spark, so rewriting the warehouse table it
    came from cannot change it)."""
    if wh.is_spark:
        if isinstance(data, str):
            data = wh.con.spark.table(data)
        return api.register(data.localCheckpoint(eager=True), table_name=name)
    if isinstance(data, str):
        data = wh.con.sql(f"SELECT * FROM {data}").to_arrow_table()
    return api.register(data, table_name=name)


def _columns(wh: Warehouse, data) -> list[str]:
    return list(data.columns) if wh.is_spark else list(data.column_names)


def link_new_snapshot(wh: Warehouse, *, model_path: str | Path | None = None, thresholds: Thresholds | None = None,
                      guards: Guards | None = None, predict_threshold: float = 0.01, similarity: str = "duckdb",
                      progress: Progress | None = None) -> IncrementalRun:
    """Link the current snapshot's justice identity records to the population of the last linkage run.

    Needs a full run first (:func:`.linkage.dedupe_justice_records`, the ``link`` stage) and its saved model.
    Records new since that run, and records whose standardised identifiers changed, are scored against the rest
    and each other; clusters that held a changed or removed record are reopened (their members relinked too);
    every other pair and cluster is kept. Cluster ids of existing persons are kept unless a new record bridges two
    clusters, which then share the smaller id; stable person ids (``linkage.justice_person_ids``) are then mapped
    from the previous run's by largest overlap, as after a full run.
    """
    say = progress or (lambda _m: None)
    quiet_splink(logging.ERROR)
    thresholds = thresholds or Thresholds()
    have = wh.tables("linkage")
    missing = [t for t in _LINKED if t not in have]
    if missing:
        raise InputError(f"there is no earlier linkage run to add to (linkage.{missing[0]} is missing)",
                         hint="run the full link stage once first: `bold scale run --stages link`")
    mp = Path(model_path) if model_path else default_model_path(wh)
    if not mp.exists():
        raise InputError(f"the saved linkage model {mp} does not exist",
                         hint="incremental linkage scores with the model of the full run; give it with --model")
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    say(f"standardising the current justice identity records on {wh.engine}")
    current = standardised_identities(wh)
    prev_cols = _columns(wh, wh.con.spark.table("linkage.justice_standardised") if wh.is_spark
                         else wh.con.sql("SELECT * FROM linkage.justice_standardised LIMIT 0").to_arrow_table())
    cols = _columns(wh, current)
    if cols != prev_cols:
        raise InputError("the standardised records of the last linkage run have other columns than this toolkit "
                         "writes now (linkage.justice_standardised)",
                         hint="relink everything once: `bold scale run --stages link`")
    tag = uuid.uuid4().hex[:8]
    with linkage_backend(wh, similarity=similarity) as api:
        settings = model_for_backend(read_model(mp), _api_dialect(api))
        cur = _input(wh, api, current, f"__snap_cur_{tag}").physical_name
        prev = _input(wh, api, "linkage.justice_standardised", f"__snap_prev_{tag}").physical_name
        old_cl = _input(wh, api, "linkage.justice_clusters", f"__snap_clusters_{tag}").physical_name
        old_pairs = _input(wh, api, "linkage.justice_pairs", f"__snap_pairs_{tag}").physical_name
        differs = " OR ".join(f'p."{c}" IS DISTINCT FROM c."{c}"' for c in cols if c != "unique_id")
        gone = _query(api, f"""
            SELECT p.unique_id, c.unique_id IS NULL AS removed FROM {prev} p
            LEFT JOIN {cur} c ON c.unique_id = p.unique_id
            WHERE c.unique_id IS NULL OR {differs}""").physical_name
        reopen = _query(api, f"""
            SELECT DISTINCT k.record_id FROM {old_cl} k JOIN (
                SELECT DISTINCT o.cluster_low FROM {old_cl} o JOIN {gone} g ON g.unique_id = o.record_id) x
              ON x.cluster_low = k.cluster_low""").physical_name
        status = _query(api, f"""
            SELECT c.unique_id, CASE WHEN p.unique_id IS NULL THEN 'new' WHEN g.unique_id IS NOT NULL THEN 'changed'
                                     WHEN r.record_id IS NOT NULL THEN 'reopened' ELSE 'kept' END AS status
            FROM {cur} c LEFT JOIN {prev} p ON p.unique_id = c.unique_id
            LEFT JOIN {gone} g ON g.unique_id = c.unique_id
            LEFT JOIN {reopen} r ON r.record_id = c.unique_id""").physical_name
        counts = {r["status"]: int(r["n"]) for r in _query(
            api, f"SELECT status, COUNT(*) AS n FROM {status} GROUP BY status").as_record_list()}
        removed = int(_query(api, f"SELECT COUNT(*) AS n FROM {gone} WHERE removed").as_record_list()[0]["n"])
        n_relink = counts.get("new", 0) + counts.get("changed", 0) + counts.get("reopened", 0)
        seconds = {"compare": time.perf_counter() - t0}
        say(f"{counts.get('new', 0):,} new, {counts.get('changed', 0):,} changed and {removed:,} removed records; "
            f"{counts.get('reopened', 0):,} records of their clusters relinked with them")
        if n_relink == 0 and removed == 0:
            return IncrementalRun(engine=wh.engine, existing=counts.get("kept", 0), new=0, pairs=0,
                                  joined_existing={b: 0 for b in BANDS}, merged_clusters={b: 0 for b in BANDS},
                                  seconds={k: round(v, 3) for k, v in seconds.items()})
        select = ", ".join(f'c."{c}"' for c in cols)
        relink = _query(api, f"SELECT {select} FROM {cur} c JOIN {status} s ON s.unique_id = c.unique_id "
                             "WHERE s.status <> 'kept'").physical_name
        kept = _query(api, f"SELECT {select} FROM {cur} c JOIN {status} s ON s.unique_id = c.unique_id "
                           "WHERE s.status = 'kept'").physical_name
        kept_cl = _query(api, f"""
            SELECT k.record_id, {', '.join(f'k.cluster_{b}' for b in BANDS)} FROM {old_cl} k
            JOIN {status} s ON s.unique_id = k.record_id WHERE s.status = 'kept'""").physical_name
        kept_pairs = (f"SELECT o.unique_id_l, o.unique_id_r, o.match_weight, o.match_probability, o.band, o.guard "
                      f"FROM {old_pairs} o JOIN {status} sl ON sl.unique_id = o.unique_id_l AND sl.status = 'kept' "
                      f"JOIN {status} sr ON sr.unique_id = o.unique_id_r AND sr.status = 'kept'")
        if n_relink:
            run, out = link_new_records(api, settings, kept, relink, kept_cl, thresholds=thresholds, guards=guards,
                                        predict_threshold=predict_threshold, progress=say)
            seconds.update(run.seconds)
            new_pairs = out["pairs"].physical_name
            pairs_sql = (f"{kept_pairs} UNION ALL SELECT unique_id_l, unique_id_r, match_weight, match_probability, "
                         f"CASE WHEN guard IS NULL THEN {thresholds.band_sql()} END AS band, guard FROM {new_pairs}")
            assign = {b: out["assignments"][b].physical_name for b in BANDS}
            moved = " ".join(f"LEFT JOIN (SELECT node_id, cluster_id FROM {assign[b]} WHERE is_existing_cluster) "
                             f"m_{b} ON m_{b}.node_id = k.cluster_{b}" for b in BANDS)
            joins = " ".join(f"JOIN {assign[b]} a_{b} ON a_{b}.node_id = c.unique_id AND NOT a_{b}.is_existing_cluster"
                             for b in BANDS)
            clusters_sql = (
                "SELECT k.record_id, c.source_table, "
                + ", ".join(f"COALESCE(m_{b}.cluster_id, k.cluster_{b}) AS cluster_{b}" for b in BANDS)
                + f" FROM {kept_cl} k JOIN {cur} c ON c.unique_id = k.record_id {moved} "
                f"UNION ALL SELECT c.unique_id AS record_id, c.source_table, "
                + ", ".join(f"a_{b}.cluster_id AS cluster_{b}" for b in BANDS)
                + f" FROM {relink} c {joins}")
        else:  # only removals, all of them singletons
            run = IncrementalRun(engine=wh.engine, existing=counts.get("kept", 0), new=0, pairs=0,
                                 joined_existing={b: 0 for b in BANDS}, merged_clusters={b: 0 for b in BANDS})
            pairs_sql = kept_pairs
            clusters_sql = (f"SELECT k.record_id, c.source_table, {', '.join(f'k.cluster_{b}' for b in BANDS)} "
                            f"FROM {kept_cl} k JOIN {cur} c ON c.unique_id = k.record_id")
        t0 = time.perf_counter()
        say("writing the updated pairs and clusters")
        _write_results(wh, api, {"linkage.justice_clusters": clusters_sql, "linkage.justice_pairs": pairs_sql,
                                 "linkage.justice_standardised": f"SELECT * FROM {cur}"})
        person_ids = justice_person_ids(wh, progress=say)
        seconds["write"] = time.perf_counter() - t0
        seconds["total"] = time.perf_counter() - t_all
    run.existing = counts.get("kept", 0)
    run.new = counts.get("new", 0)
    run.changed = counts.get("changed", 0)
    run.removed = removed
    run.reopened = counts.get("reopened", 0)
    run.person_ids = person_ids
    run.seconds = {k: round(v, 3) for k, v in seconds.items()}
    return run
