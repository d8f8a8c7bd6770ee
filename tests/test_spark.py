"""DuckDB and Spark give the same results on the same synthetic extracts and the same saved linkage model.

One Spark session (``local[2]``, two shuffle partitions) serves the module. The synthetic population (2,000
persons) is loaded and checked on DuckDB, exported as the Parquet warehouse, and the pipeline
(:func:`bold_prevention.pipeline.run_pipeline`) runs on both engines through the same library code: the XJS
person records and spine, the cohorts the release profiles, the timeline, and the
Splink dedupe of the justice identities with a model trained once (on DuckDB) and saved.
"""

from __future__ import annotations

import math
import os
from datetime import date

import pyarrow as pa
import pytest

os.environ.setdefault("BOLD_SPARK_CODEGEN", "false")  # small tables: skip whole-stage code generation

from bold_prevention.linkage.splink_model import TrainingOptions  # noqa: E402
from bold_prevention.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from bold_prevention.project import Project  # noqa: E402
from bold_prevention.scale import export_warehouse_to_parquet  # noqa: E402
from bold_prevention.scale.linkage import dedupe_justice_records  # noqa: E402
from bold_prevention.warehouse import open_warehouse  # noqa: E402
from bold_prevention.warehouse.load import load_extracts  # noqa: E402

pytestmark = pytest.mark.spark

AS_AT = date(2024, 12, 31)


def rows(t: pa.Table, drop: tuple[str, ...] = ()) -> list[tuple]:
    """The table's rows (minus ``drop`` columns), sorted, for comparing engines."""
    cols = [c for c in t.column_names if c not in drop]
    data = [t.column(c).to_pylist() for c in cols]
    out = list(zip(*data, strict=True)) if data else []
    return sorted(out, key=lambda r: tuple((v is None, str(v)) for v in r))


@pytest.fixture(scope="module")
def project(synth_dir, tmp_path_factory) -> Project:
    proj = Project(tmp_path_factory.mktemp("scale") / "project")
    load_extracts(proj, synth_dir, snapshot_date="2025-01-31", write_report=False)
    res = export_warehouse_to_parquet(proj)
    assert res.tables["extract.xjs_link"] > 0
    return proj


@pytest.fixture(scope="module")
def built(project):
    """The pipeline (spine, cohorts, timeline, linkage with one saved model) on both engines."""
    runs = {}
    for engine in ("duckdb", "spark"):
        spark = {"spark_master": "local[2]", "partitions": 2} if engine == "spark" else {}
        runs[engine] = run_pipeline(PipelineConfig(engine=engine, as_at=AS_AT, **spark), "spine,cohorts,timeline",
                                    project=project, command="bold scale run")
    model = project.models_dir / "justice_dedupe.json"
    fast = TrainingOptions(u_max_pairs=2e5, em_max_pairs=2e5)
    duck = open_warehouse(project, "duckdb")
    spark = open_warehouse(project, "spark", spark_master="local[2]", partitions=2)
    try:
        links = {"duckdb": dedupe_justice_records(duck, model_path=model, train=True, training=fast)}
        links["spark"] = dedupe_justice_records(spark, model_path=model, train=False)
        yield {"runs": runs, "links": links, "duckdb": duck, "spark": spark}
    finally:
        duck.close()
        spark.close()


def table(built, engine: str, name: str) -> pa.Table:
    return built[engine].con.sql(f"SELECT * FROM {name}").arrow() if engine == "spark" else \
        built[engine].con.sql(f"SELECT * FROM {name}").to_arrow_table()


def test_spine_is_identical(built):
    for name in ("spine.person_record", "spine.person", "spine.person_need"):
        d, s = table(built, "duckdb", name), table(built, "spark", name)
        assert d.num_rows > 0, name
        assert d.column_names == s.column_names, name
        assert d.schema.equals(s.schema), f"{name}: {d.schema} != {s.schema}"
        assert rows(d) == rows(s), name
    persons = {e: r.stage("spine").detail["persons"] for e, r in built["runs"].items()}
    assert persons["duckdb"] == persons["spark"] > 100


def test_cohort_memberships_are_identical(built):
    cohorts = built["runs"]["duckdb"].stage("cohorts").detail["persons"]
    assert cohorts == built["runs"]["spark"].stage("cohorts").detail["persons"]
    assert cohorts and any(n > 0 for n in cohorts.values())
    for name in cohorts:
        d, s = table(built, "duckdb", f"results.cohort_{name}"), table(built, "spark", f"results.cohort_{name}")
        assert rows(d) == rows(s), name
        attr = "results.cohort_" + name + "_attrition"
        assert rows(table(built, "duckdb", attr)) == rows(table(built, "spark", attr)), name
    reg = ("built_at", "spine_fingerprint")  # when, and digests of what it was built from (engine-specific)
    assert rows(table(built, "duckdb", "results.cohorts"), reg) == rows(table(built, "spark", "results.cohorts"), reg)


def test_timeline_is_identical(built):
    d, s = table(built, "duckdb", "spine.timeline"), table(built, "spark", "spine.timeline")
    assert d.num_rows > 1000
    assert rows(d) == rows(s)


def test_match_probabilities_agree(built):
    links = built["links"]
    assert links["duckdb"].trained and not links["spark"].trained
    d = {(r["unique_id_l"], r["unique_id_r"]): r for r in table(built, "duckdb", "linkage.justice_pairs").to_pylist()}
    s = {(r["unique_id_l"], r["unique_id_r"]): r for r in table(built, "spark", "linkage.justice_pairs").to_pylist()}
    assert len(d) > 1000
    assert set(d) == set(s)
    worst = max(abs(d[k]["match_probability"] - s[k]["match_probability"]) for k in d)
    assert worst <= 1e-6
    assert all(math.isclose(d[k]["match_weight"], s[k]["match_weight"], abs_tol=1e-6) for k in d)
    assert all(d[k]["band"] == s[k]["band"] and d[k]["guard"] == s[k]["guard"] for k in d)
    # and therefore the same persons at every band
    assert rows(table(built, "duckdb", "linkage.justice_clusters")) == \
        rows(table(built, "spark", "linkage.justice_clusters"))
    assert links["duckdb"].clusters == links["spark"].clusters


def test_spark_tables_are_parquet_in_the_project(built, project):
    person = project.parquet_dir / "spine.db" / "person"
    assert any(person.glob("*.parquet"))
    leftovers = [p.name for p in (project.parquet_dir / "spine.db").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_blocking_counts_are_the_same_on_both_engines(built, project):
    """``bold scale blocking`` counts the same candidate pairs per rule on Spark as on DuckDB."""
    from bold_prevention.scale.linkage import justice_blocking_counts

    model = project.models_dir / "justice_dedupe.json"
    counts = {e: justice_blocking_counts(built[e], model_path=model) for e in ("duckdb", "spark")}
    assert [(c.pairs, c.cumulative) for c in counts["duckdb"]] == [(c.pairs, c.cumulative) for c in counts["spark"]]
    assert counts["duckdb"][-1].cumulative > 1000


def test_linkage_leaves_no_checkpoints_behind(built, project):
    """Splink writes every table it materialises on Spark as Parquet under the run's checkpoint folder; the run
    removes its folder at the end (and those left by killed runs at the start)."""
    from bold_prevention.scale.linkage import justice_blocking_counts

    root = project.parquet_dir / "_scratch" / "checkpoints"
    assert not list(root.glob("run-*"))  # the dedupe of the fixture left nothing
    dead = root / "run-999999999-deadbeef" / "some-context" / "__splink__df_predict"
    dead.mkdir(parents=True)
    (dead / "part-0.parquet").write_bytes(b"left by a killed run")
    justice_blocking_counts(built["spark"], sample=0.5)
    assert not list(root.glob("run-*"))
