"""``bold scale run``: the one pipeline from the command line; its options honoured or refused, never ignored."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.project import Project

runner = CliRunner()


@pytest.fixture()
def project(spine_project, tmp_path) -> Project:
    """A copy of the shared 2,000-person project (loaded, spine built) that a test may change."""
    proj = Project(tmp_path / "project").ensure()
    shutil.copy(spine_project.warehouse_path, proj.warehouse_path)
    return proj


@pytest.mark.parametrize("extra", [["--band", "high"], ["--as-at", "2024-06-30"], ["--cohort", "possession_claim"],
                                   ["--chunks", "2"], ["--incremental"], ["--partitions", "4"]])
def test_run_options_are_refused_with_a_config(tmp_path, extra):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"extracts: {tmp_path}\n")
    r = runner.invoke(app, ["scale", "run", "--config", str(cfg), "-p", str(tmp_path / "p"), *extra])
    assert r.exit_code == 2
    assert f"{extra[0]} cannot be used with --config" in r.output


def test_spark_settings_on_duckdb_and_unknown_stages_are_refused(project):
    r = runner.invoke(app, ["scale", "run", "--engine", "duckdb", "--spark-master", "local[2]", "-p",
                            str(project.root)])
    assert r.exit_code == 2 and "spark_master" in r.output and "engine" in r.output
    r = runner.invoke(app, ["scale", "run", "--stages", "spine,bogus", "-p", str(project.root)])
    assert r.exit_code == 2 and "unknown pipeline stage(s) bogus" in r.output


def test_scale_run_builds_and_releases_through_the_one_pipeline(project):
    """Cohorts and their release from `bold scale run`: the same stages and release writer as `bold demo`."""
    r = runner.invoke(app, ["scale", "run", "--engine", "duckdb", "--stages", "release,cohorts",
                            "--cohort", "possession_claim", "-p", str(project.root)])
    assert r.exit_code == 0, r.output
    assert "Pipeline on duckdb" in r.output
    release = project.outputs_dir / "releases" / "cohorts-possession_claim"
    results = json.loads((release / "output-checking" / "results.json").read_text())["results"]
    assert results and all("possession_claim" in uid for uid in results)
    assert (project.outputs_dir / "releases" / "index.html").exists()
    summary = json.loads((project.reports_dir / "pipeline.json").read_text())
    assert summary["stages"] == ["cohorts", "release"] and summary["engine"] == "duckdb"
    assert summary["figures"]["cohort_sizes"]["possession_claim"] > 0
    ledger = json.loads(next((project.root / "ledger").glob("0001-*.json")).read_text())
    assert "bold scale run" in json.dumps(ledger)
