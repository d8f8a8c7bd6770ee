"""The XJS audit's set-based counting and connected components give what the direct record-level queries give
(the record self-joins the audit used before, which did not scale past a few thousand persons)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bold_prevention.linkage.xjs_audit import _components, split_counts


@st.composite
def _audits(draw):
    """Records with an XJS person and a starting person inside it (the XJS person, or a part of it), and joins
    between starting persons."""
    n = draw(st.integers(1, 25))
    xjs = [f"x{draw(st.integers(0, 6))}" for _ in range(n)]
    base = [x if draw(st.booleans()) else f"{x}|m{draw(st.integers(0, 2))}" for x in xjs]
    nodes = sorted(set(base))
    pairs = draw(st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)), max_size=15))
    edges = sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b})
    return xjs, base, edges


def _scratch(xjs, base, edges):
    s = duckdb.connect()
    s.register("a", pa.table({"record_key": [f"r{i}" for i in range(len(xjs))], "xjs_medium": xjs,
                              "base_medium": base}))
    s.execute("create table __audit as select * from a")
    s.register("e", pa.table({"c1": pa.array([e[0] for e in edges], pa.string()),
                              "c2": pa.array([e[1] for e in edges], pa.string())}))
    s.execute("create table __split_edges as select * from e")
    return s


def _direct_split_counts(s) -> tuple[int, int]:
    """The record-level queries of the first audit."""
    pairs = s.execute("""
        select count(distinct (least(a.xjs_medium, b.xjs_medium), greatest(a.xjs_medium, b.xjs_medium)))
        from __split_edges e join __audit a on a.base_medium = e.c1 join __audit b on b.base_medium = e.c2
        where a.xjs_medium <> b.xjs_medium""").fetchall()[0][0]
    persons = s.execute("""select count(*) from (
        select a.xjs_medium from __split_edges e join __audit a on a.base_medium in (e.c1, e.c2)
        join __audit b on b.base_medium in (e.c1, e.c2) where a.xjs_medium <> b.xjs_medium group by 1)"""
                        ).fetchall()[0][0]
    return int(pairs), int(persons)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_audits())
def test_split_counts_equal_the_record_level_counts(audit):
    s = _scratch(*audit)
    assert split_counts(s) == _direct_split_counts(s)


def _reference_components(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    parent = {n: n for n in nodes}

    def root(n):
        while parent[n] != n:
            n = parent[n]
        return n

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {n: root(n) for n in nodes}


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_audits())
def test_components_are_labelled_by_their_smallest_node(audit):
    _xjs, base, edges = audit
    s = _scratch(*audit)
    got = _components(s, "select c1, c2 from __split_edges", "select base_medium as node from __audit")
    want = _reference_components(sorted(set(base)), edges)
    assert dict(zip(got.column("node").to_pylist(), got.column("component").to_pylist(), strict=True)) == want
    assert got.column("node").to_pylist() == sorted(set(base))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_audits())
def test_joining_each_cluster_to_its_groups_smallest_gives_the_components_of_every_pair(audit):
    # the low band: clusters (xjs_medium here) sharing a group (base_medium here) are one
    s = _scratch(*audit)
    every_pair = _components(s, """select distinct a.xjs_medium, b.xjs_medium from __audit a join __audit b
                                   on a.base_medium = b.base_medium and a.xjs_medium < b.xjs_medium""",
                             "select xjs_medium as node from __audit")
    star = _components(s, """select distinct xjs_medium, min(xjs_medium) over (partition by base_medium)
                             from __audit""", "select xjs_medium as node from __audit")
    assert star.equals(every_pair)


def test_no_nodes_no_components():
    s = duckdb.connect()
    s.execute("create table n (node varchar)")
    got = _components(s, "select node, node from n", "select node from n")
    assert got.num_rows == 0 and got.schema.names == ["node", "component"]
