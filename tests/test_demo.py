"""The README's main command: the whole Step A pipeline on a small synthetic population."""

from __future__ import annotations

import json

import openpyxl
import pytest

from bold_prevention.errors import InputError, OutputExistsError
from bold_prevention.pipeline.config import PipelineConfig
from bold_prevention.pipeline.demo import run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "bold-demo"
    stages = []
    result = run_demo(out, persons=3000, seed=3, progress=lambda s, m: stages.append(s))
    return out, result, stages


def test_every_stage_runs_and_reports_progress(demo):
    _, result, stages = demo
    for s in ("synthetic data", "catalogues", "register", "load", "spine", "linkage", "cohorts", "places",
              "trajectories", "early-warning", "release"):
        assert s in stages
    assert set(result.timings) >= {"load", "spine", "linkage", "cohorts", "release"}


def test_outputs_exist_under_the_final_folder(demo):
    out, result, _ = demo
    assert result.project == out
    for name, path in result.outputs.items():
        assert path.exists(), name
        assert str(path).startswith(str(out)), name
    assert not list(out.parent.glob(".bold-demo.tmp-*"))


def test_release_is_disclosure_checked(demo):
    out, result, _ = demo
    release = out / "outputs" / "step-a-release"
    html = (release / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    wb = openpyxl.load_workbook(release / "tables.xlsx")
    assert wb.sheetnames[:3] == ["Cover", "Contents", "Notes"]
    results = json.loads((release / "output-checking" / "results.json").read_text())
    assert results["results"]
    summary = json.loads((out / "reports" / "pipeline.json").read_text())
    assert summary["figures"]["spine_persons"] > 0
    assert summary["figures"]["checked_outputs"] == len(results["results"])


def test_every_count_that_leaves_is_rounded_or_suppressed_and_the_release_audit_is_clean(demo):
    import pandas as pd

    out, _, _ = demo
    checking = out / "outputs" / "step-a-release" / "output-checking"
    results = json.loads((checking / "results.json").read_text())["results"]
    counted = 0
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
    assert counted > 100
    audit = json.loads((checking / "release_audit.json").read_text())
    assert audit["findings"] == 0 and audit["primary_cells_bounded"] > 0
    assert list((out / "ledger").glob("0001-*.json"))


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
        run_demo(out, persons=200)


def test_config_for_real_extracts_is_validated(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("extracts: nowhere\nengine: duckdb\n")
    with pytest.raises(InputError, match="extracts folder"):
        PipelineConfig.from_yaml(bad)
    bad.write_text(f"extracts: {tmp_path}\nbogus: 1\n")
    with pytest.raises(InputError, match="unknown settings bogus"):
        PipelineConfig.from_yaml(bad)
