"""Loading the synthetic population (the shared 2,000-person ``synth_dir``)."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bold_prevention.datafirst import MODEL
from bold_prevention.warehouse.load import latest_load, load_extracts

SNAP = "2025-01-31"


@pytest.fixture(scope="module")
def loaded(synth_dir, tmp_path_factory):
    project = tmp_path_factory.mktemp("synth-load") / "project"
    return project, load_extracts(project, synth_dir, snapshot_date=SNAP)


def test_every_table_is_loaded_with_the_manifest_row_counts(synth_dir, loaded):
    project, res = loaded
    assert res.status == "complete", [d for d in res.decisions if d["decision"] in ("block", "degrade")]
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    rows = {k: (v["rows"] if isinstance(v, dict) else v) for k, v in manifest["tables"].items()}
    assert set(res.tables) == set(MODEL.table_names)
    for name, tl in res.tables.items():
        assert tl.status == "loaded" and tl.rows == rows[name], name
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        for t in MODEL.tables:
            n = con.execute(f"select count(*) from extract.{t.name}").fetchone()[0]
            assert n == rows[t.name]
            if t.holds_persons:
                ident = con.execute(f"select count(*), count(date_of_birth) from linkage.identity_{t.name}"
                                    ).fetchone()
                assert ident[0] == rows[t.name] and ident[1] > 0
        state = latest_load(con)
        assert state["status"] == "complete" and state["partial"] is False


def test_no_blocking_problem_in_clean_synthetic_data(loaded):
    _, res = loaded
    assert not [c for c in res.checks if c.blocking and c.status == "fail"]
    assert not [c for c in res.checks if c.check in ("primary_key", "type", "columns") and c.status != "pass"]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z][A-Za-z'\-]+", text))


def test_report_holds_no_identifier_of_the_population(synth_dir, loaded):
    _, res = loaded
    texts = res.report_json.read_text() + res.report_html.read_text()
    words = _words(texts)
    names, postcodes, dobs = set(), set(), set()
    for t in MODEL.person_tables():
        tab = pq.read_table(synth_dir / "extracts" / f"{t.name}.parquet",
                            columns=[c for c in ("forename", "surname", "postcode", "date_of_birth")
                                     if c in t.column_names])
        for col in ("forename", "surname"):
            names.update(v for v in tab.column(col).to_pylist() if v and len(v) > 3)
        postcodes.update(v for v in tab.column("postcode").to_pylist() if v)
        dobs.update(str(v) for v in pc.unique(tab.column("date_of_birth")).to_pylist() if v)
    # names that are also ordinary words of the report (table or column names) cannot be told apart
    report_vocabulary = _words(" ".join(MODEL.table_names) + " " + " ".join(
        c.name for t in MODEL.tables for c in t.columns))
    leaked = sorted((names - report_vocabulary) & words)
    assert not leaked, f"names in the report: {leaked[:10]}"
    assert not [p for p in postcodes if p in texts]
    shown = {v for c in res.checks for v in c.values} | {e for c in res.checks for e in c.examples}
    assert not [d for d in dobs if any(d in v for v in shown)]


def test_reloading_the_population_changes_nothing(synth_dir, loaded):
    project, res = loaded
    again = load_extracts(project, synth_dir, snapshot_date=SNAP)
    assert again.status == "unchanged" and again.previous_load == res.load_id


def test_drift_in_a_new_synthetic_snapshot_is_flagged(synth_dir, tmp_path):
    project = tmp_path / "p"
    load_extracts(project, synth_dir, snapshot_date=SNAP)
    changed = tmp_path / "changed"
    shutil.copytree(synth_dir / "extracts", changed)
    t = pq.read_table(changed / "moj_probation_flatfile.parquet")
    i = t.schema.get_field_index("mo_category_description")
    groups = t.column(i).to_pylist()
    top = max(set(v for v in groups if v), key=groups.count)
    t = t.set_column(i, t.schema.field(i), [[top] * len(groups)])
    pq.write_table(t, changed / "moj_probation_flatfile.parquet")
    res = load_extracts(project, changed, snapshot_date="2025-02-28")
    flagged = [c for c in res.checks if c.check == "drift" and c.status == "warn"]
    assert [(c.table, c.column) for c in flagged] == [("moj_probation_flatfile", "mo_category_description")]
