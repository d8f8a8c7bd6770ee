"""A link job's clusters solved in process give exactly Splink's own clusters and cluster ids."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from splink import DuckDBAPI
from splink.clustering import cluster_pairwise_predictions_at_threshold

from bold_prevention.linkage.run import cluster_links_in_process
from bold_prevention.linkage.splink_model import BANDS, LinkageModel, Thresholds, quiet_splink

quiet_splink(logging.ERROR)

CON = duckdb.connect()
API = DuckDBAPI(connection=CON)


def _model(sides: dict[str, list[str]]):
    """The parts of a LinkageModel the clustering reads: names, input tables, backend, in-process components."""
    sdfs = []
    for i, side_ids in enumerate(sides.values()):
        CON.execute(f"create or replace table side_{i} as select * from (select unnest($ids) as unique_id)",
                    {"ids": side_ids})
        sdfs.append(SimpleNamespace(physical_name=f"side_{i}"))
    m = SimpleNamespace(names=list(sides), sdfs=sdfs, db_api=API)
    m._components_in_process = lambda *a: LinkageModel._components_in_process(m, *a)
    return m


ids = st.lists(st.sampled_from(["1", "2", "10", "a", "b", "B", "a:1", "zz"]), min_size=1, max_size=6, unique=True)


@settings(max_examples=20, deadline=None)
@given(ids, ids, st.data())
def test_in_process_link_clusters_are_splinks(left, right, data):
    sides = {"la": left, "justice": right}
    candidates = [(a, b) for a in left for b in right]
    chosen = data.draw(st.lists(st.sampled_from(candidates), unique=True, max_size=len(candidates)))
    probs = data.draw(st.lists(st.sampled_from([0.05, 0.5, 0.85, 0.95, 0.995]), min_size=len(chosen),
                               max_size=len(chosen)))
    pred = pa.table({"source_dataset_l": ["la"] * len(chosen), "unique_id_l": [a for a, _ in chosen],
                     "source_dataset_r": ["justice"] * len(chosen), "unique_id_r": [b for _, b in chosen],
                     "match_probability": pa.array(probs, pa.float64())},
                    schema=pa.schema([("source_dataset_l", pa.string()), ("unique_id_l", pa.string()),
                                      ("source_dataset_r", pa.string()), ("unique_id_r", pa.string()),
                                      ("match_probability", pa.float64())]))
    CON.register("pred_a", pred)
    CON.execute("create or replace table pred as select * from pred_a")
    thresholds = Thresholds()
    got = cluster_links_in_process(_model(sides), SimpleNamespace(physical_name="pred"), thresholds)
    # Splink's own clustering of the same graph, on its composite node ids
    nodes = pa.table({"node": [f"{d}-__-{r}" for d, rs in sides.items() for r in rs]})
    edges = pa.table({"node_l": [f"la-__-{a}" for a, _ in chosen], "node_r": [f"justice-__-{b}" for _, b in chosen],
                      "match_probability": pa.array(probs, pa.float64())},
                     schema=pa.schema([("node_l", pa.string()), ("node_r", pa.string()),
                                       ("match_probability", pa.float64())]))
    for b in BANDS:
        ref_con = duckdb.connect()  # Splink's standalone clustering registers fixed table names
        ref = cluster_pairwise_predictions_at_threshold(
            nodes, edges, db_api=DuckDBAPI(connection=ref_con), node_id_column_name="node", edge_id_column_name_left="node_l",
            edge_id_column_name_right="node_r", threshold_match_probability=getattr(thresholds, b))
        want = dict(ref_con.sql(f"select node, cluster_id from {ref.physical_name}").fetchall())
        ref_con.close()
        mine = {f"{d}-__-{r}": c for d, r, c in CON.sql(
            f"select source_dataset, unique_id, cluster_id from {got[b].physical_name}").fetchall()}
        assert mine == want, b
