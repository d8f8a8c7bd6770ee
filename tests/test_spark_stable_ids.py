"""Stable person ids on the scale linkage: three snapshots of a few hundred persons linked on Spark and on DuckDB
give the same clusters and the same person ids, equal to what DuckDB's own assignment
(:func:`bold_prevention.linkage.stable_ids.assign_person_ids`) gives on those clusters, chained run to run."""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa
import pytest

os.environ.setdefault("BOLD_SPARK_CODEGEN", "false")  # small tables: skip whole-stage code generation

from bold_prevention.linkage.splink_model import BANDS, TrainingOptions  # noqa: E402
from bold_prevention.linkage.stable_ids import assign_person_ids  # noqa: E402
from bold_prevention.project import Project  # noqa: E402
from bold_prevention.scale import export_warehouse_to_parquet  # noqa: E402
from bold_prevention.scale.linkage import dedupe_justice_records  # noqa: E402
from bold_prevention.warehouse import open_warehouse  # noqa: E402
from bold_prevention.warehouse.load import load_extracts  # noqa: E402

pytestmark = pytest.mark.spark

# Record ids are "<table>:<id>", so a cluster's Splink id (its smallest record id) changes whenever records of
# civil_parties or crown_defendant_case arrive or leave: snapshot 2 adds the family and civil parties, snapshot 3
# drops the Crown Court cases.
CRIMINAL = ["mags_defendant_case", "crown_defendant_case", "prison_custodial_journey", "moj_probation_flatfile",
            "oasys_assessments_metadata"]
SNAPSHOTS = (CRIMINAL, [*CRIMINAL, "family_parties", "civil_parties"],
             [t for t in CRIMINAL if t != "crown_defendant_case"] + ["family_parties", "civil_parties"])


def rows(t: pa.Table) -> list[tuple]:
    return sorted(zip(*(t.column(c).to_pylist() for c in sorted(t.column_names)), strict=True))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    from bold_prevention.synth import generate

    root = tmp_path_factory.mktemp("stable-ids")
    # at this size some seeds leave a required OASys column empty, which blocks the load; seed 11 does not
    generate(root / "population", persons=500, seed=11)
    proj = Project(root / "project")
    load_extracts(proj, root / "population", snapshot_date="2025-01-31", write_report=False)
    export_warehouse_to_parquet(proj)
    return proj


def _reference(clusters: pa.Table, previous: dict[str, pa.Table] | None, marks: dict[str, int]):
    """DuckDB's own assignment on the clusters, band by band: (record_id -> id per band, tables, marks)."""
    ids, tables, nxt = {}, {}, {}
    for b in BANDS:
        con = duckdb.connect()
        con.register("cur", pa.table({"dataset": clusters.column("source_table"),
                                      "record_id": clusters.column("record_id"),
                                      "cluster_id": clusters.column(f"cluster_{b}")}))
        if previous is not None:
            con.register("prev", previous[b])
        res = assign_person_ids(con, "cur", "prev" if previous is not None else None, next_serial=marks.get(b, 1))
        tables[b] = con.sql(f"select dataset, record_id, person_id from {res.table}").to_arrow_table()
        ids[b] = dict(zip(tables[b].column("record_id").to_pylist(), tables[b].column("person_id").to_pylist(),
                          strict=True))
        nxt[b] = res.next_serial
        con.close()
    return ids, tables, nxt


def test_person_ids_persist_across_three_snapshots_on_spark(project):
    model = project.models_dir / "justice_dedupe.json"
    fast = TrainingOptions(u_max_pairs=1e5, em_max_pairs=1e5)
    duck = open_warehouse(project, "duckdb")
    spark = open_warehouse(project, "spark", spark_master="local[2]", partitions=2)
    previous, marks, history = None, {}, []
    try:
        for k, tables in enumerate(SNAPSHOTS):
            d = dedupe_justice_records(duck, model_path=model, train=k == 0, training=fast, tables=tables)
            s = dedupe_justice_records(spark, model_path=model, train=False, tables=tables)
            q = "SELECT * FROM linkage.justice_clusters"
            clusters = spark.to_arrow(q)
            assert rows(clusters) == rows(duck.to_arrow(q)), f"snapshot {k + 1}: the engines cluster differently"
            q = "SELECT * FROM linkage.justice_person_ids"
            on_spark = spark.to_arrow(q)
            assert on_spark.num_rows == clusters.num_rows
            assert rows(on_spark) == rows(duck.to_arrow(q)), f"snapshot {k + 1}"
            assert s.person_ids == d.person_ids
            ref, previous, marks = _reference(clusters, previous, marks)
            for b in BANDS:
                got = dict(zip(on_spark.column("record_id").to_pylist(), on_spark.column(f"person_{b}").to_pylist(),
                               strict=True))
                assert got == ref[b], f"snapshot {k + 1}, band {b}"
            state = dict(spark.sql("SELECT band, next_serial FROM linkage.justice_person_id_state").fetchall())
            assert state == marks
            q = "SELECT band, change, previous_person_id, person_id FROM linkage.justice_person_id_changes"
            assert rows(spark.to_arrow(q)) == rows(duck.to_arrow(q))
            history.append((clusters, on_spark, s.person_ids))
    finally:
        duck.close()
        spark.close()
    for (c0, p0, _), (c1, p1, rep1) in zip(history, history[1:], strict=False):
        before = {r["record_id"]: r for r in c0.join(p0, ["record_id", "source_table"]).to_pylist()}
        after = {r["record_id"]: r for r in c1.join(p1, ["record_id", "source_table"]).to_pylist()}
        both = set(before) & set(after)
        assert both
        # the person persists although Splink's cluster id changed (a smaller record id arrived or left)
        moved = [r for r in both if before[r]["cluster_medium"] != after[r]["cluster_medium"]]
        assert moved
        kept = sum(before[r]["person_medium"] == after[r]["person_medium"] for r in moved)
        assert kept / len(moved) > 0.9
        assert sum(before[r]["person_medium"] == after[r]["person_medium"] for r in both) / len(both) > 0.95
        assert rep1["medium"]["kept"] > 0 and rep1["medium"]["previous_persons"] > 0
    # an id retired after snapshot 1 is never issued again
    ids = [set(p.column("person_medium").to_pylist()) for _, p, _ in history]
    assert not ((ids[0] - ids[1]) & ids[2])
