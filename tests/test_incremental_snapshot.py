"""Linking a new snapshot incrementally (``bold scale run --stages link --incremental``) gives the pairs and the
persons a full relink gives, on DuckDB and on Spark: new records are added, records whose identifiers were
corrected are relinked, and records that disappeared take their links with them."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pytest

from bold_prevention.datafirst import MODEL
from bold_prevention.errors import InputError
from bold_prevention.linkage.splink_model import BANDS, TrainingOptions
from bold_prevention.pipeline import PipelineConfig, run_pipeline
from bold_prevention.project import Project
from bold_prevention.scale import export_warehouse_to_parquet
from bold_prevention.scale.incremental import link_new_snapshot
from bold_prevention.scale.linkage import dedupe_justice_records
from bold_prevention.warehouse import open_warehouse
from bold_prevention.warehouse.load import load_extracts

GONE = 12  # records of the earlier snapshot that are not in the current one


@pytest.fixture(scope="module")
def project(synth_dir, tmp_path_factory) -> Project:
    proj = Project(tmp_path_factory.mktemp("incremental") / "project")
    load_extracts(proj, synth_dir, snapshot_date="2025-01-31", write_report=False)
    # one model, trained once, without term-frequency adjustments: then a pair scores the same whatever else is in
    # the population, and incremental linkage must reproduce a full relink exactly
    wh = open_warehouse(proj, "duckdb")
    try:
        trained = dedupe_justice_records(wh, train=True,
                                         training=TrainingOptions(u_max_pairs=2e5, em_max_pairs=2e5))
    finally:
        wh.close()
    settings = json.loads(trained.model_path.read_text())
    for c in settings["comparisons"]:
        for lv in c["comparison_levels"]:
            lv.pop("tf_adjustment_column", None)
            lv.pop("tf_adjustment_weight", None)
    trained.model_path.write_text(json.dumps(settings))
    export_warehouse_to_parquet(proj)
    return proj


def _identities(wh) -> dict[str, pa.Table]:
    linked = {f"identity_{t.name}" for t in MODEL.xjs_tables()}  # the person tables the link stage reads
    names = sorted(t for t in wh.tables("linkage") if t in linked)
    return {n: (wh.con.sql(f"SELECT * FROM linkage.{n}").arrow() if wh.is_spark
                else wh.con.sql(f"SELECT * FROM linkage.{n}").to_arrow_table()) for n in names}


def _set_identities(wh, tables: dict[str, pa.Table]) -> None:
    for name, t in tables.items():
        wh.con.register("__identities", t)
        try:
            wh.con.execute(f"CREATE OR REPLACE TABLE linkage.{name} AS SELECT * FROM __identities")
        finally:
            wh.con.unregister("__identities")


def _earlier(current: dict[str, pa.Table]) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """The snapshot before: without every 20th record (new since), with every 50th surname misspelt (corrected
    since), and with copies of a few records under other ids (deleted since)."""
    out, counts = {}, {"new": 0, "changed": 0}
    gone_left = GONE
    for name, t in current.items():
        table = MODEL.table(name.removeprefix("identity_"))
        rid, sur = table.record_id, table.identifier_roles.get("surname")
        earlier = t.filter(pa.array([k % 20 != 0 for k in range(t.num_rows)]))
        counts["new"] += t.num_rows - earlier.num_rows
        if sur:
            surname = earlier.column(sur).to_pylist()
            for k in range(0, len(surname), 50):
                if surname[k]:
                    surname[k] = surname[k] + "X"
                    counts["changed"] += 1
            earlier = earlier.set_column(earlier.column_names.index(sur), sur,
                                         pa.array(surname, earlier.schema.field(sur).type))
        take = min(gone_left, earlier.num_rows // 10)
        if take:
            copies = earlier.slice(1, take)
            ids = [f"{r}-gone" for r in copies.column(rid).to_pylist()]
            copies = copies.set_column(copies.column_names.index(rid), rid,
                                       pa.array(ids, copies.schema.field(rid).type))
            earlier = pa.concat_tables([earlier, copies])
            gone_left -= take
        out[name] = earlier
    assert gone_left == 0
    return out, counts


def _read(wh, table: str) -> list[dict]:
    sql = f"SELECT * FROM {table}"
    return (wh.con.sql(sql).arrow() if wh.is_spark else wh.con.sql(sql).to_arrow_table()).to_pylist()


def _partition(rows: list[dict], band: str) -> set[frozenset]:
    groups: dict[str, set] = {}
    for r in rows:
        groups.setdefault(r[f"cluster_{band}"], set()).add(r["record_id"])
    return {frozenset(g) for g in groups.values()}


def _pairs(rows: list[dict]) -> dict[tuple, tuple]:
    return {tuple(sorted((r["unique_id_l"], r["unique_id_r"]))): (round(r["match_probability"], 9), r["band"],
                                                                   r["guard"]) for r in rows}


def _copy(project: Project, engine: str, tmp_path):
    """A copy of the module's project (warehouse, Parquet and model), opened on ``engine``; and the model's path."""
    proj = Project(tmp_path / "project")
    shutil.copytree(project.root, proj.root)
    return open_warehouse(proj, engine, spark_master="local[2]", partitions=2), proj.models_dir / "justice_dedupe.json"


@pytest.mark.parametrize(("engine", "large"), [("duckdb", False), ("duckdb", True),
                                               pytest.param("spark", False, marks=pytest.mark.spark)])
def test_incremental_snapshot_equals_full_relink(project, engine, large, tmp_path, monkeypatch):
    """``large``: the population is over the size where blocking is tightened (here made small), so the saved
    model's rules are not the ones a full relink uses; the incremental run must use the full relink's."""
    if large:
        from bold_prevention.linkage import blocking

        monkeypatch.setattr(blocking, "LARGE_BLOCKING_MIN_RECORDS", 1000)
        monkeypatch.setattr(blocking, "BROAD_BLOCKING_MAX_RECORDS", 999)
    wh, model = _copy(project, engine, tmp_path)
    try:
        current = _identities(wh)
        earlier, expect = _earlier(current)
        _set_identities(wh, earlier)
        dedupe_justice_records(wh, model_path=model, train=False)

        _set_identities(wh, current)
        run = link_new_snapshot(wh, model_path=model)
        assert (run.new, run.changed, run.removed) == (expect["new"], expect["changed"], GONE)
        assert run.reopened > 0 and run.existing > 0
        assert sum(run.joined_existing.values()) > 0
        inc_clusters = _read(wh, "linkage.justice_clusters")
        inc_pairs = _pairs(_read(wh, "linkage.justice_pairs"))
        assert not any(r["record_id"].endswith("-gone") for r in inc_clusters)

        # nothing new: nothing to do, nothing rewritten
        again = link_new_snapshot(wh, model_path=model)
        assert (again.new, again.changed, again.removed, again.reopened) == (0, 0, 0, 0)

        dedupe_justice_records(wh, model_path=model, train=False)
        full_clusters = _read(wh, "linkage.justice_clusters")
        full_pairs = _pairs(_read(wh, "linkage.justice_pairs"))
    finally:
        wh.close()
    assert len(inc_clusters) == len(full_clusters) == sum(t.num_rows for t in current.values())
    assert inc_pairs == full_pairs
    for b in BANDS:
        assert _partition(inc_clusters, b) == _partition(full_clusters, b), b
    assert {r["record_id"]: r["source_table"] for r in inc_clusters} == \
        {r["record_id"]: r["source_table"] for r in full_clusters}


def test_incremental_needs_a_full_run_first(synth_dir, tmp_path):
    proj = Project(tmp_path / "project")
    load_extracts(proj, synth_dir, snapshot_date="2025-01-31", write_report=False)
    with pytest.raises(InputError) as err:
        run_pipeline(PipelineConfig(link_incremental=True), "link", "duckdb", project=proj)
    assert "linkage.justice_standardised" in err.value.message
    assert "--stages link" in err.value.hint


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_chunked_scoring_gives_the_same_pairs_and_persons(project, engine, tmp_path):
    """``--chunks``: pairs scored chunk by chunk with ``predict_chunk`` (each chunk narrowed before the next)."""
    wh, model = _copy(project, engine, tmp_path)
    try:
        whole = dedupe_justice_records(wh, model_path=model, train=False)
        pairs, clusters = _pairs(_read(wh, "linkage.justice_pairs")), _read(wh, "linkage.justice_clusters")
        chunked = dedupe_justice_records(wh, model_path=model, train=False, chunks=(2, 3))
        assert _pairs(_read(wh, "linkage.justice_pairs")) == pairs
        again = _read(wh, "linkage.justice_clusters")
    finally:
        wh.close()
    assert len(pairs) > 1000 and (chunked.pairs, chunked.excluded) == (whole.pairs, whole.excluded)
    for b in BANDS:
        assert _partition(again, b) == _partition(clusters, b), b


def test_compact_clustering_gives_splinks_clusters_and_ids(project):
    """Clustering over integer node ids returns exactly the clusters and cluster ids of Splink's own clustering."""
    import duckdb
    from splink import DuckDBAPI

    from bold_prevention.linkage.splink_model import LinkageModel, Thresholds, read_model
    from bold_prevention.scale.linkage import JUSTICE_ROLES, standardised_identities

    wh = open_warehouse(project, "duckdb")
    try:
        std = standardised_identities(wh)
    finally:
        wh.close()
    con = duckdb.connect()
    model = LinkageModel([std], names=["justice"], roles=JUSTICE_ROLES, link_type="dedupe_only",
                         db_api=DuckDBAPI(connection=con),
                         settings=read_model(project.models_dir / "justice_dedupe.json"))
    kept, _ = model.predict_guarded(threshold=0.01)
    thresholds = Thresholds()
    splinks, compact = model.cluster(kept, thresholds), model.cluster(kept, thresholds, compact=True)
    for b in BANDS:
        a = sorted(con.sql(f"select unique_id, cluster_id from {splinks[b].physical_name}").fetchall())
        c = sorted(con.sql(f"select unique_id, cluster_id from {compact[b].physical_name}").fetchall())
        assert a == c and len(a) == std.num_rows, b
        assert len({cid for _, cid in a}) < len(a)  # some records were joined


def test_dedupe_streams_its_results_and_writes_them_together(project, tmp_path, monkeypatch):
    """On DuckDB the pairs and clusters stream into the warehouse batch by batch (here 500 rows a batch) and are
    written in one transaction: a failure while writing the clusters leaves the pairs of the last run in place."""
    import duckdb

    from bold_prevention.scale import linkage

    wh, model = _copy(project, "duckdb", tmp_path)
    try:
        whole = dedupe_justice_records(wh, model_path=model, train=False)
        pairs, clusters = _read(wh, "linkage.justice_pairs"), _read(wh, "linkage.justice_clusters")
        assert len(pairs) > 2 * 500

        monkeypatch.setattr(linkage, "STREAM_BATCH_ROWS", 500)
        streamed = dedupe_justice_records(wh, model_path=model, train=False)
        assert (streamed.pairs, streamed.excluded, streamed.clusters) == (whole.pairs, whole.excluded, whole.clusters)
        assert _pairs(_read(wh, "linkage.justice_pairs")) == _pairs(pairs)

        wh.con.execute("DELETE FROM linkage.identity_mags_defendant_case")  # a different run, then a failure
        monkeypatch.setattr(linkage, "_clusters_sql", lambda std, cl: f"SELECT no_such_column FROM {std}")
        with pytest.raises(duckdb.Error, match="no_such_column"):
            dedupe_justice_records(wh, model_path=model, train=False)
        assert sorted(map(str, _read(wh, "linkage.justice_pairs"))) == sorted(map(str, pairs))
        assert sorted(map(str, _read(wh, "linkage.justice_clusters"))) == sorted(map(str, clusters))
    finally:
        wh.close()
