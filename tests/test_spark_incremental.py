"""Incremental linkage of a new snapshot (``predict_between`` / ``predict_within`` and a cluster update) gives the
same pairs and the same persons as relinking everything, through Splink's backend abstraction (run here on
DuckDB; the Spark backend runs the same SQL, see test_spark.py for engine equivalence)."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest
from splink import DuckDBAPI

from bold_prevention.linkage.splink_model import BANDS, LinkageModel, Thresholds, TrainingOptions
from bold_prevention.project import Project
from bold_prevention.scale.incremental import link_new_records
from bold_prevention.scale.linkage import (
    JUSTICE_ROLES,
    model_for_backend,
    standardised_identities,
)
from bold_prevention.warehouse import open_warehouse
from bold_prevention.warehouse.load import load_extracts

pytestmark = pytest.mark.spark


def _partition(pairs: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for rec, cid in pairs.items():
        groups.setdefault(cid, set()).add(rec)
    return {frozenset(g) for g in groups.values()}


def _clusters(con, model: LinkageModel, thresholds: Thresholds) -> tuple[dict, pa.Table]:
    pred = model.predict(threshold=0.01)
    kept, _ = model.apply_guards(pred)
    cl = model.cluster(kept, thresholds)
    tables = {b: con.sql(f"SELECT unique_id, cluster_id FROM {cl[b].physical_name}").to_arrow_table() for b in BANDS}
    return tables, con.sql(f"SELECT unique_id_l, unique_id_r, match_probability FROM {kept.physical_name}"
                           ).to_arrow_table()


def test_incremental_equals_full_relink(synth_dir, tmp_path):
    proj = Project(tmp_path / "project")
    load_extracts(proj, synth_dir, snapshot_date="2025-01-31", write_report=False)
    wh = open_warehouse(proj, "duckdb")
    try:
        std = standardised_identities(wh)
    finally:
        wh.close()
    # the new snapshot: 5% of the records, drawn at random
    import numpy as np

    mask = np.random.default_rng(3).random(std.num_rows) < 0.05
    new, existing = std.filter(pa.array(mask)), std.filter(pa.array(~mask))
    assert new.num_rows > 50

    con = duckdb.connect()
    api = DuckDBAPI(connection=con)
    trained = LinkageModel([existing], names=["justice"], roles=JUSTICE_ROLES, link_type="dedupe_only",
                           db_api=api, training=TrainingOptions(u_max_pairs=2e5, em_max_pairs=2e5))
    trained.train()
    settings = trained.settings()
    # Without term-frequency adjustments the existing pairs score the same before and after the new records
    # arrive, so the partition must match a full relink exactly.
    for c in settings["comparisons"]:
        for lv in c["comparison_levels"]:
            lv.pop("tf_adjustment_column", None)
            lv.pop("tf_adjustment_weight", None)
    thresholds = Thresholds()

    full_model = LinkageModel([pa.concat_tables([existing, new])], names=["justice"], roles=JUSTICE_ROLES,
                              link_type="dedupe_only", db_api=api, settings=settings)
    full_clusters, full_pairs = _clusters(con, full_model, thresholds)
    old_model = LinkageModel([existing], names=["justice"], roles=JUSTICE_ROLES, link_type="dedupe_only",
                             db_api=api, settings=settings)
    old_clusters, _ = _clusters(con, old_model, thresholds)
    existing_clusters = pa.table({"record_id": old_clusters["high"].column("unique_id")})
    for b in BANDS:
        m = dict(zip(*(old_clusters[b].column(c).to_pylist() for c in ("unique_id", "cluster_id")), strict=True))
        existing_clusters = existing_clusters.append_column(
            f"cluster_{b}", pa.array([m[r] for r in existing_clusters.column("record_id").to_pylist()]))

    run, out = link_new_records(api, settings, existing, new, existing_clusters, thresholds=thresholds)
    assert run.existing == existing.num_rows and run.new == new.num_rows
    assert run.joined_existing["medium"] > 0

    # the same scored pairs as the full relink, for every pair that involves a new record
    new_ids = set(new.column("unique_id").to_pylist())
    inc = con.sql(f"SELECT unique_id_l, unique_id_r, match_probability FROM {out['pairs'].physical_name} "
                  "WHERE guard IS NULL").to_arrow_table()
    inc_pairs = {tuple(sorted((r["unique_id_l"], r["unique_id_r"]))): r["match_probability"] for r in inc.to_pylist()}
    full = {tuple(sorted((r["unique_id_l"], r["unique_id_r"]))): r["match_probability"]
            for r in full_pairs.to_pylist() if r["unique_id_l"] in new_ids or r["unique_id_r"] in new_ids}
    assert set(inc_pairs) == set(full)
    assert max(abs(inc_pairs[k] - full[k]) for k in full) < 1e-9

    # and the same persons at every band
    for b in BANDS:
        res = con.sql(f"SELECT node_id, cluster_id, is_existing_cluster FROM {out['assignments'][b].physical_name}"
                      ).to_arrow_table().to_pylist()
        moved = {r["node_id"]: r["cluster_id"] for r in res if r["is_existing_cluster"]}
        updated = {rec: moved.get(cid, cid) for rec, cid in zip(
            existing_clusters.column("record_id").to_pylist(),
            existing_clusters.column(f"cluster_{b}").to_pylist(), strict=True)}
        updated.update({r["node_id"]: r["cluster_id"] for r in res if not r["is_existing_cluster"]})
        assert set(updated) == set(std.column("unique_id").to_pylist())
        full_map = dict(zip(full_clusters[b].column("unique_id").to_pylist(),
                            full_clusters[b].column("cluster_id").to_pylist(), strict=True))
        assert _partition(updated) == _partition(full_map), b
    assert set(json.loads(json.dumps(run.seconds))) == {"term_frequencies", "predict", "cluster"}
    con.close()


def test_saved_model_translates_between_dialects():
    settings = {"sql_dialect": "duckdb", "comparisons": [{"output_column_name": "surname", "comparison_levels": [
        {"sql_condition": '"surname_l" IS NULL OR "surname_r" IS NULL', "is_null_level": True},
        {"sql_condition": '"surname_l" = "surname_r"', "tf_adjustment_column": "surname"},
        {"sql_condition": 'jaro_winkler_similarity("surname_l", "surname_r") >= 0.92'},
        {"sql_condition": "ABS(EPOCH(\"dob_l\") - EPOCH(\"dob_r\")) <= 31557600.0"},
        {"sql_condition": "ELSE"}]}],
        "blocking_rules_to_generate_predictions": [{"blocking_rule": '(l."dob_iso" = r."dob_iso")',
                                                     "sql_dialect": "duckdb"}]}
    spark = model_for_backend(settings, "spark")
    conds = [lv["sql_condition"] for lv in spark["comparisons"][0]["comparison_levels"]]
    assert conds[1] == "`surname_l` = `surname_r`"
    assert conds[2].lower() == "jaro_winkler(`surname_l`, `surname_r`) >= 0.92"  # Spark names ignore case
    assert "UNIX_TIMESTAMP" in conds[3] and conds[4] == "ELSE"
    assert spark["blocking_rules_to_generate_predictions"][0]["blocking_rule"] == "(l.`dob_iso` = r.`dob_iso`)"
    assert spark["sql_dialect"] == "spark" and settings["sql_dialect"] == "duckdb"  # the input is not changed
    assert model_for_backend(settings, "duckdb") is settings
