"""Updating an existing clustering with a new snapshot's records, without re-clustering everything.

Incremental linkage scores only pairs that involve a new record. In the graph of those pairs every existing
record stands for its existing cluster (a cluster is already one connected component of the old graph), so the
graph to solve holds only the new records and the existing clusters they touch - small by construction, a few
times the size of the new snapshot. It is solved here, on the driver, with SciPy's connected components; the whole
population is never re-clustered.

Each component keeps the smallest existing cluster id it holds, so an existing person keeps their id unless two
existing clusters are bridged by a new record (then both take the smaller id). A component of new records only
takes its smallest record id, the representative Splink's own clustering would choose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["ClusterUpdate", "update_clusters"]


@dataclass(frozen=True)
class ClusterUpdate:
    """One band's update: ``assignments`` has ``node_id``, ``cluster_id``, ``is_existing_cluster`` for every new
    record and every existing cluster a new record touches; ``joined`` counts new records that joined an existing
    cluster, ``merged`` existing clusters that took another cluster's id."""

    assignments: pd.DataFrame
    joined: int
    merged: int


def _labels(ids: pd.Series, clusters: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A pair end's node: its existing cluster when it has one, else the (new) record itself."""
    existing = clusters.notna()
    return clusters.where(existing, ids).astype(str), existing


def update_clusters(new_ids: pd.Series, edges: pd.DataFrame, *, threshold: float,
                    cluster_left: str, cluster_right: str) -> ClusterUpdate:
    """Connected components over the new records and the existing clusters they touch, at one threshold.

    ``new_ids``: the new records' ids. ``edges``: the accepted pairs (``unique_id_l``, ``unique_id_r``,
    ``match_probability``) with each end's existing cluster in ``cluster_left`` / ``cluster_right`` (null for a
    new record).
    """
    e = edges[edges["match_probability"] >= threshold]
    lab_l, ex_l = _labels(e["unique_id_l"], e[cluster_left])
    lab_r, ex_r = _labels(e["unique_id_r"], e[cluster_right])
    nodes = pd.DataFrame({
        "node_id": pd.concat([new_ids.astype(str), lab_l, lab_r], ignore_index=True),
        "is_existing_cluster": np.concatenate([np.zeros(len(new_ids), bool), ex_l.to_numpy(), ex_r.to_numpy()]),
    }).drop_duplicates("node_id", ignore_index=True)
    index = pd.Index(nodes["node_id"])
    if not index.is_unique:  # cannot happen while existing cluster ids are existing record ids
        raise ValueError("an existing cluster id equals a new record's id")
    n = len(nodes)
    rows, cols = index.get_indexer(lab_l), index.get_indexer(lab_r)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    nodes["component"] = component
    # each component's smallest id, and smallest existing cluster id: the first of each component in id order
    # (a groupby ``min`` over strings runs in Python, group by group)
    in_order = nodes.sort_values("node_id", kind="stable")
    any_min = in_order.drop_duplicates("component").set_index("component")["node_id"]
    existing_min = (in_order[in_order["is_existing_cluster"]].drop_duplicates("component")
                    .set_index("component")["node_id"])
    chosen = existing_min.reindex(any_min.index).fillna(any_min)
    nodes["cluster_id"] = chosen.reindex(nodes["component"]).to_numpy()
    has_existing = nodes["component"].isin(existing_min.index)
    joined = int((~nodes["is_existing_cluster"] & has_existing).sum())
    merged = int((nodes["is_existing_cluster"] & (nodes["node_id"] != nodes["cluster_id"])).sum())
    return ClusterUpdate(assignments=nodes[["node_id", "cluster_id", "is_existing_cluster"]], joined=joined,
                         merged=merged)
