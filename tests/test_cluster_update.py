"""Updating clusters with a new snapshot's pairs gives the partition a full re-clustering would give."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.scale.cluster_update import update_clusters


def _full_partition(existing: dict[str, str], new: list[str], edges: list[tuple[str, str, float]], t: float):
    """Union-find over every record: members of an existing cluster together, plus every accepted edge."""
    parent = {r: r for r in [*existing, *new]}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    by_cluster: dict[str, str] = {}
    for rec, cid in existing.items():
        if cid in by_cluster:
            union(rec, by_cluster[cid])
        by_cluster.setdefault(cid, rec)
    for left, right, p in edges:
        if p >= t:
            union(left, right)
    groups: dict[str, set] = {}
    for r in parent:
        groups.setdefault(find(r), set()).add(r)
    return {frozenset(g) for g in groups.values()}


@st.composite
def snapshots(draw):
    n_old = draw(st.integers(1, 25))
    old = [f"o{i:02d}" for i in range(n_old)]
    # an existing clustering: each record points at its cluster's smallest member
    labels = draw(st.lists(st.integers(0, n_old - 1), min_size=n_old, max_size=n_old))
    first = {}
    for rec, lab in zip(old, labels, strict=True):
        first.setdefault(lab, rec)
    existing = {rec: first[lab] for rec, lab in zip(old, labels, strict=True)}
    new = [f"n{i:02d}" for i in range(draw(st.integers(1, 15)))]
    ends = st.sampled_from(new)
    pair = st.tuples(ends, st.sampled_from([*old, *new]), st.floats(0.0, 1.0))
    edges = [e for e in draw(st.lists(pair, max_size=40)) if e[0] != e[1]]
    return existing, new, edges


@settings(max_examples=200, deadline=None)
@given(snapshots(), st.sampled_from([0.5, 0.9, 0.99]))
def test_update_equals_full_reclustering(snap, t):
    existing, new, edges = snap
    frame = pd.DataFrame(edges, columns=["unique_id_l", "unique_id_r", "match_probability"])
    frame["l"] = frame["unique_id_l"].map(existing)
    frame["r"] = frame["unique_id_r"].map(existing)
    res = update_clusters(pd.Series(new), frame, threshold=t, cluster_left="l", cluster_right="r")
    a = res.assignments
    moved = dict(zip(a.loc[a.is_existing_cluster, "node_id"], a.loc[a.is_existing_cluster, "cluster_id"],
                     strict=True))
    updated = {rec: moved.get(cid, cid) for rec, cid in existing.items()}
    updated.update(dict(zip(a.loc[~a.is_existing_cluster, "node_id"], a.loc[~a.is_existing_cluster, "cluster_id"],
                            strict=True)))
    assert set(updated) == set(existing) | set(new)
    groups: dict[str, set] = {}
    for rec, cid in updated.items():
        groups.setdefault(cid, set()).add(rec)
    assert {frozenset(g) for g in groups.values()} == _full_partition(existing, new, edges, t)
    # an existing person keeps an existing id; clusters never split
    old_ids = set(existing.values())
    for cid in moved.values():
        assert cid in old_ids
    assert res.merged == sum(1 for k, v in moved.items() if k != v)
    assert res.joined == sum(1 for n in new if updated[n] in old_ids)


def test_new_records_alone_take_their_smallest_id():
    edges = pd.DataFrame({"unique_id_l": ["n2", "n9"], "unique_id_r": ["n1", "o1"], "match_probability": [0.99, 0.2],
                          "l": [None, None], "r": [None, "o0"]})
    res = update_clusters(pd.Series(["n1", "n2", "n9"]), edges, threshold=0.9, cluster_left="l", cluster_right="r")
    got = dict(zip(res.assignments.node_id, res.assignments.cluster_id, strict=True))
    assert got == {"n1": "n1", "n2": "n1", "n9": "n9"}
    assert res.joined == 0 and res.merged == 0
