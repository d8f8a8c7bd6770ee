"""Auditing the XJS table: the toolkit's own model against XJS, estimates of XJS's precision and recall, and an
improved person id the spine can be built on."""

from __future__ import annotations

import json
import shutil

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.linkage.xjs import build_person_records
from bold_prevention.linkage.xjs_audit import IMPROVED_TABLE, audit_xjs


@pytest.fixture(scope="module")
def audited(spine_project, synth_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("xjs-audit")
    db = work / "warehouse.duckdb"
    shutil.copy(spine_project.warehouse_path, db)
    con = duckdb.connect(str(db))
    # a clerical sample: pairs of records of the same true person and of different ones
    truth = pd.read_parquet(synth_dir / "truth" / "truth_record.parquet")
    xjs = con.sql("select source_dataset, row_id_hash from extract.xjs_link").df()
    from bold_prevention.datafirst import MODEL

    source = {t.name: t.xjs_source for t in MODEL.xjs_tables()}
    truth = truth[truth["table"].isin(source)].assign(key=lambda d: d["table"].map(source) + ":" + d.record_id)
    keys = set(xjs.source_dataset + ":" + xjs.row_id_hash)
    truth = truth[truth.key.isin(keys)]
    multi = truth.groupby("person_id").filter(lambda g: len(g) > 1).sort_values(["person_id", "key"])
    firsts = multi.groupby("person_id").key.apply(list)
    same = [(v[0], v[1]) for v in firsts.head(150)]
    lefts = [a for a, _ in same]
    diff = list(zip(lefts[:50], [b for _, b in same][1:51], strict=True))
    review = work / "review.csv"
    pd.DataFrame({"left_key": [a for a, _ in same + diff], "right_key": [b for _, b in same + diff],
                  "label": ["match"] * len(same) + ["non-match"] * len(diff)}).to_csv(review, index=False)
    report = audit_xjs(con, truth_dir=synth_dir / "truth", review=review)
    yield con, report, work, review
    con.close()


def test_audit_counts_splits_and_merges_and_scores_xjs(audited):
    _con, r, _w, _rv = audited
    assert r["records"] > 1000 and r["xjs_persons_medium"] > 100
    assert r["splits"]["xjs_person_pairs_joined_by_model_high"] > 0
    assert r["improved_persons_medium"] < r["xjs_persons_medium"]
    t = r["against_truth"]
    # the improved id finds what XJS split and keeps precision high
    assert t["improved_medium"]["recall"] > t["xjs_medium"]["recall"]
    assert t["improved_medium"]["recall"] >= 0.97 and t["improved_medium"]["precision"] >= 0.97
    assert t["improved_medium"]["f1"] > t["xjs_medium"]["f1"]


def test_clerical_sample_estimates_have_intervals(audited):
    _con, r, _w, _rv = audited
    cr = r["clerical_review"]
    assert cr["reviewed_pairs"] == 200
    for name in ("xjs", "improved"):
        v = cr[name]
        lo, hi = v["recall_ci95"]
        assert 0 <= lo <= v["recall"] <= hi <= 1
    assert cr["improved"]["recall"] >= cr["xjs"]["recall"]


def test_improved_table_is_shaped_like_xjs_and_builds_the_spine(audited):
    con, _r, _w, _rv = audited
    want = [(c, t) for c, t, *_ in con.execute("describe extract.xjs_link").fetchall()]
    got = [(c, t) for c, t, *_ in con.execute(f"describe {IMPROVED_TABLE}").fetchall()]
    assert sorted(got) == sorted(want)
    n_x, n_i = con.execute(f"select (select count(*) from extract.xjs_link), (select count(*) from {IMPROVED_TABLE})"
                           ).fetchall()[0]
    assert n_x == n_i
    # nested: every XJS medium person lies inside one improved person
    assert con.execute(f"""select count(*) from (select x.cluster_medium from extract.xjs_link x
        join {IMPROVED_TABLE} i using (source_dataset, row_id_hash) where x.cluster_medium is not null
        group by 1 having count(distinct i.cluster_medium) > 1)""").fetchall()[0][0] == 0
    before = con.execute("select count(distinct person_id) from spine.person_record").fetchall()[0][0]
    build_person_records(con, band="medium", link_table=IMPROVED_TABLE)
    after = con.execute("select count(distinct person_id) from spine.person_record").fetchall()[0][0]
    assert after < before
    cols = {c for c, *_ in con.execute("describe spine.person_record").fetchall()}
    assert not cols & {"forename", "surname", "date_of_birth", "postcode"}


def test_cli(audited, tmp_path):
    con, _r, work, review = audited
    con.execute("checkpoint")
    proj = tmp_path / "p"
    proj.mkdir()
    from bold_prevention.project import Project

    p = Project(proj).ensure()
    shutil.copy(work / "warehouse.duckdb", p.warehouse_path)
    res = CliRunner().invoke(app, ["link", "xjs-audit", "--project", str(proj), "--review", str(review),
                                   "--json-file", str(tmp_path / "a.json"), "--no-improved"])
    assert res.exit_code == 0, res.output
    assert "Split by XJS" in res.output and "reviewed pairs" in res.output
    assert json.loads((tmp_path / "a.json").read_text())["clerical_review"]["reviewed_pairs"] == 200


def test_split_mode_trades_recall_for_precision(audited, synth_dir):
    con, joined, _w, _rv = audited
    split = audit_xjs(con, truth_dir=synth_dir / "truth", split=True, write_improved=False)
    a, b = joined["against_truth"]["improved_medium"], split["against_truth"]["improved_medium"]
    assert split["split"] and b["precision"] >= a["precision"] and b["recall"] <= a["recall"]
    # the XJS figures themselves do not depend on the mode
    assert split["against_truth"]["xjs_medium"] == joined["against_truth"]["xjs_medium"]
    assert split["improved_persons_medium"] >= joined["improved_persons_medium"]


def test_spine_build_on_the_improved_id(audited):
    from datetime import date

    from bold_prevention.spine import build_spine

    con, r, _w, _rv = audited
    pub = build_spine(con, as_at=date(2024, 12, 31), link_table="published")
    imp = build_spine(con, as_at=date(2024, 12, 31), link_table="improved")
    assert (pub.xjs, imp.xjs) == ("published", "improved") and imp.persons < pub.persons
    assert con.execute("select xjs_id from spine.spine_info").fetchall() == [("improved",)]
    # the improved persons are the audit's (those with a record in view at the as-at date)
    n = con.execute(f"select count(distinct cluster_medium) from {IMPROVED_TABLE}").fetchall()[0][0]
    assert n == r["improved_persons_medium"] and imp.persons <= n


def test_splitting_on_contradictions_removes_xjs_merges_and_keeps_recall(audited, synth_dir):
    con, joined, _w, _rv = audited
    contra = audit_xjs(con, truth_dir=synth_dir / "truth", split="contradictions", write_improved=False)
    a, b = joined["against_truth"]["improved_medium"], contra["against_truth"]["improved_medium"]
    assert contra["merges_split_on_contradictions"] > 0
    assert b["precision"] > a["precision"] and b["recall"] >= a["recall"] - 0.005
    court = contra["against_truth"]["by_source"]
    for src in ("familyman", "civil_caseman_pcol"):
        assert court[src]["improved_medium"]["recall"] > court[src]["xjs_medium"]["recall"]


def test_cli_refuses_an_unknown_split_mode(tmp_path):
    res = CliRunner().invoke(app, ["link", "xjs-audit", "--project", str(tmp_path), "--split", "sideways"])
    assert res.exit_code != 0
    assert "sideways" in res.output and "contradictions" in res.output
