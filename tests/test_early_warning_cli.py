"""The commands: bold timeline build, bold pathways ..., bold ew list/train/evaluate on a project warehouse."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.project import Project
from helpers_trajectories import ew_world

runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    w = ew_world(1500, seed=11)
    proj = Project.at(root / "project").ensure()
    w.wh.con.execute(f"attach '{proj.warehouse_path}' as f")
    w.wh.con.execute("copy from database memory to f")
    w.wh.con.execute("detach f")
    w.truth_outcomes.to_parquet(root / "truth_outcomes.parquet")
    return proj, root


def _ok(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.output


def test_timeline_and_pathways_commands(project):
    proj, root = project
    p = ["--project", str(proj.root)]
    out = _ok(["timeline", "build", *p])
    assert "spine.timeline" in out and "custody_release" in out
    out = _ok(["pathways", "funnel", "possession", *p])
    assert "Claim" in out and "Warrant" in out
    out = _ok(["pathways", "sequences", "--level", "event_type", "--top", "5", *p])
    assert "custody_start" in out
    _ok(["pathways", "transitions", *p])
    _ok(["pathways", "flows", "--steps", "2", *p])
    out = _ok(["pathways", "survival", "court_after_release", "--out", str(root / "km"), *p])
    assert "at_risk" in out and "Exported" in out
    assert (root / "km" / "tables.xlsx").is_file() and (root / "km" / "output-checking" / "results.json").is_file()
    r = runner.invoke(app, ["pathways", "survival", "court_after_release", "--out", str(root / "km"), *p])
    assert r.exit_code == 2 and "--overwrite" in r.output
    _ok(["pathways", "survival", "court_after_release", "--out", str(root / "km"), "--overwrite", *p])


def test_bad_requests_are_clear(project):
    proj, root = project
    p = ["--project", str(proj.root)]
    r = runner.invoke(app, ["pathways", "funnel", "nothing", *p])
    assert r.exit_code == 2 and "unknown funnel" in r.output
    r = runner.invoke(app, ["ew", "train", "no_such_use_case", *p])
    assert r.exit_code == 2 and "unknown use case" in r.output
    r = runner.invoke(app, ["timeline", "build", "--project", str(root / "empty")])
    assert r.exit_code == 2 and "no warehouse" in r.output
    r = runner.invoke(app, ["ew", "evaluate", "possession_12m_after_claim", "--project", str(root / "empty")])
    assert r.exit_code == 2


def test_ew_list_train_evaluate(project):
    proj, root = project
    p = ["--project", str(proj.root)]
    out = _ok(["ew", "list"])
    assert "reoffending_12m_after_release" in out and "possession_12m_after_claim" in out
    out = _ok(["ew", "train", "possession_12m_after_claim", "--bootstrap", "20", "--no-bands",
               "--truth", str(root / "truth_outcomes.parquet"), *p])
    assert "auc" in out and "oracle AUC" in out and "model_card.md" in out
    assert "results.early_warning_scores" in out
    latest = json.loads((proj.models_dir / "early_warning" / "possession_12m_after_claim" / "latest.json")
                        .read_text())
    out = _ok(["ew", "evaluate", "possession_12m_after_claim", "--bootstrap", "20", "--no-bands", *p])
    assert latest["model_version"] in out
    r = runner.invoke(app, ["ew", "train", "possession_12m_after_claim", "--data-end", "31/12/2024", *p])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
