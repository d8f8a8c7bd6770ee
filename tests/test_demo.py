"""The README's main command: the whole Step A pipeline on a small synthetic population."""

from __future__ import annotations

import json

import openpyxl
import pytest
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError, OutputExistsError
from bold_prevention.pipeline.config import PipelineConfig
from bold_prevention.pipeline.demo import DEFAULT_SEED, MIN_PERSONS, run_demo
from bold_prevention.pipeline.stages import QUESTION_KEYS, RELEASES_FOLDER, USE_CASES

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The smallest demo the pipeline allows (500 persons, the default seed) must run every stage."""
    out = tmp_path_factory.mktemp("demo") / "bold-project"
    stages = []
    result = run_demo(out, persons=MIN_PERSONS, seed=DEFAULT_SEED, progress=lambda s, m: stages.append(s))
    return out, result, stages


def test_every_stage_runs_and_reports_progress(demo):
    _, result, stages = demo
    for s in ("synthetic data", "catalogues", "register", "load", "spine", "waves", "cohorts", "places",
              "timeline", "pathways", "early-warning", "studies", "release"):
        assert s in stages
    assert "link" not in stages  # the justice dedupe is `bold scale run --stages link`, not part of the demo
    assert set(result.timings) >= {"load", "spine", "waves", "cohorts", "release"}
    assert result.engine == "duckdb"


def test_outputs_exist_under_the_final_folder(demo):
    out, result, _ = demo
    assert result.project == out
    for name, path in result.outputs.items():
        assert path.exists(), name
        assert str(path).startswith(str(out)), name
    assert not list(out.parent.glob(".bold-project.tmp-*"))


def _releases(out) -> list:
    return sorted(p for p in (out / "outputs" / RELEASES_FOLDER).iterdir() if p.is_dir())


def test_one_release_per_question_and_an_index(demo):
    out, result, _ = demo
    folders = _releases(out)
    names = {f.name for f in folders}
    questions = {n.split("-")[0] if n.startswith(("cohorts-", "study-")) else
                 "early-warning" if n.startswith("early-warning") else n for n in names}
    assert questions - {"study"} <= set(QUESTION_KEYS)
    assert questions >= {"linkage", "cohorts", "places", "pathways"}
    assert any(n.startswith("cohorts-") for n in names)  # one release per cohort
    if "early-warning" not in questions:  # too few index events at 500 persons: said, not hidden
        assert all(any(n.startswith(f"early warning: {uc} not trained") for n in result.notes) for uc in USE_CASES)
    index = (out / "outputs" / RELEASES_FOLDER / "index.html").read_text(encoding="utf-8")
    for f in folders:
        assert f"{f.name}/report.html" in index
        doc = json.loads((f / "release.json").read_text())
        assert doc["question"] and doc["tables"] > 0
        assert result.outputs[f"release: {f.name}"] == f / "report.html"
    ledger = sorted((out / "ledger").glob("0*.json"))
    assert len(ledger) == len(folders)  # each release recorded, audited with the ones before it


def test_release_is_disclosure_checked(demo):
    out, result, _ = demo
    total = 0
    for release in _releases(out):
        html = (release / "report.html").read_text(encoding="utf-8")
        assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
        wb = openpyxl.load_workbook(release / "tables.xlsx")
        assert wb.sheetnames[:3] == ["Cover", "Contents", "Notes"]
        results = json.loads((release / "output-checking" / "results.json").read_text())
        assert results["results"]
        total += len(results["results"])
    summary = json.loads((out / "reports" / "pipeline.json").read_text())
    assert summary["engine"] == "duckdb" and summary["stages"][-1] == "release"
    assert summary["figures"]["spine_persons"] > 0
    assert summary["figures"]["checked_outputs"] + summary["figures"]["study_outputs"] == total


def test_every_count_that_leaves_is_rounded_or_suppressed_and_the_release_audit_is_clean(demo):
    import pandas as pd

    out, _, _ = demo
    counted = 0
    for release in _releases(out):
        checking = release / "output-checking"
        results = json.loads((checking / "results.json").read_text())["results"]
        for entry in results.values():
            kind = entry["properties"].get("kind")
            if kind not in ("frequency", "series"):
                continue
            table = pd.read_csv(checking / entry["files"][0]["name"], dtype=str)
            index_cols = [c for c in table.columns if table[c].map(lambda v: not _is_value(v)).any()]
            for col in table.columns.difference(index_cols):
                for v in table[col].dropna():
                    counted += 1
                    assert v in ("[c]", "[z]") or float(v) % 5 == 0, (entry["uid"], col, v)
        audit = json.loads((checking / "release_audit.json").read_text())
        assert audit["findings"] == 0, release.name
    assert counted > 50


def _is_value(v) -> bool:
    if v in ("[c]", "[z]"):
        return True
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def test_local_authority_file_is_linked_to_the_spine(demo):
    _, result, _ = demo
    q = result.figures["la_link_quality"]
    assert q["links"] > 0 and q["precision"] >= 0.9


def test_existing_folder_is_not_overwritten(demo):
    out, _, _ = demo
    with pytest.raises(OutputExistsError):
        run_demo(out, persons=MIN_PERSONS)


def test_too_small_a_population_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="too small") as err:
        run_demo(tmp_path / "small", persons=MIN_PERSONS - 1)
    assert f"--persons {MIN_PERSONS}" in err.value.hint
    assert not (tmp_path / "small").exists()
    r = runner.invoke(app, ["demo", "--persons", "100", "--out", str(tmp_path / "small")])
    assert r.exit_code == 2 and not (tmp_path / "small").exists()


@pytest.mark.parametrize("extra", [["--persons", "600"], ["--out", "elsewhere"], ["-o", "elsewhere"],
                                   ["--seed", "42"], ["--overwrite"]])
def test_demo_options_are_refused_with_a_config_not_ignored(tmp_path, extra):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"extracts: {tmp_path}\n")
    r = runner.invoke(app, ["demo", "--config", str(cfg), "--project", str(tmp_path / "p"), *extra])
    assert r.exit_code != 0
    named = {"-o": "--out"}.get(extra[0], extra[0])
    assert "cannot be used with --config" in r.output and f"{named} cannot" in r.output
    assert not (tmp_path / "p").exists()


def test_the_demo_folder_is_the_default_project_folder(tmp_path, monkeypatch):
    """Without --out the demo writes the folder every other command opens by default."""
    from bold_prevention.pipeline import demo as demo_module
    from bold_prevention.project import Project

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOLD_PROJECT", raising=False)
    seen = {}

    def fake_run(config, stages=None, engine=None, *, project, progress=None, command=""):
        seen["project"] = project.root
        raise InputError("stop here", hint="test")

    monkeypatch.setattr(demo_module, "run_pipeline", fake_run)
    with pytest.raises(InputError, match="stop here"):
        run_demo(persons=MIN_PERSONS)
    assert seen["project"].name.startswith(".bold-project.tmp-")
    assert seen["project"].parent == Project.at(None).root.parent
    assert not Project.at(None).root.exists()  # a failed run leaves nothing under the final name


def test_config_for_real_extracts_is_validated(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("extracts: nowhere\nengine: duckdb\n")
    with pytest.raises(InputError, match="extracts folder"):
        PipelineConfig.from_yaml(bad)
    bad.write_text(f"extracts: {tmp_path}\nbogus: 1\n")
    with pytest.raises(InputError, match="unknown settings bogus"):
        PipelineConfig.from_yaml(bad)


def test_studies_without_their_sources_say_how_to_load_them(demo):
    """Without --waves the studies that need Wave 1-3 sources are named in the notes with how to load them; any
    study whose sources are loaded has its own release."""
    from bold_prevention.studies.run import list_studies

    out, result, _ = demo
    names = {f.name for f in _releases(out)}
    for spec in list_studies():
        ran = f"study-{spec.name}" in names
        said = any(n.startswith(f"study {spec.name}: not run") for n in result.notes)
        assert ran or said, spec.name


def test_demo_on_the_improved_xjs_id(tmp_path):
    """`bold demo --xjs improved`: the XJS audit runs first and the spine is built on its improved person id."""
    import duckdb

    out = tmp_path / "improved"
    result = run_demo(out, persons=MIN_PERSONS, seed=DEFAULT_SEED, xjs="improved")
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT xjs_id FROM spine.spine_info").fetchone()[0] == "improved"
    finally:
        con.close()
    assert result.figures["spine_persons"] > 0


def test_xjs_setting_is_checked():
    with pytest.raises(InputError, match="xjs"):
        PipelineConfig(xjs="best")
    with pytest.raises(InputError, match="DuckDB"):
        PipelineConfig(xjs="improved", engine="spark")
