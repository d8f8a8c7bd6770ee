"""Linkage QA on the synthetic population: link rates by group, accuracy against the truth, threshold sensitivity,
clerical review with a Wilson interval."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.linkage.qa import review_precision, review_sample, wilson_interval, write_qa_report
from bold_prevention.linkage.run import link_files
from bold_prevention.linkage.splink_model import quiet_splink

runner = CliRunner()
JUSTICE = ("mags_defendant_case", "moj_probation_flatfile", "prison_custodial_journey")
ROLES = {"forename": "forename", "middle_names": "middle_names", "surname": "surname",
         "date_of_birth": "date_of_birth", "sex": "sex", "postcode": "postcode"}


@pytest.fixture(scope="module")
def qa(synth_dir, tmp_path_factory):
    quiet_splink(logging.ERROR)
    tmp = tmp_path_factory.mktemp("qa")
    ext, truth = Path(synth_dir) / "extracts", Path(synth_dir) / "truth"
    con = duckdb.connect()
    parts = " union all ".join(
        f"select '{t}:' || row_id_hash as record_id, forename, middle_names, surname, date_of_birth, postcode, "
        f"gender as sex, ethnicity_desc from read_parquet('{ext}/{t}.parquet')" for t in JUSTICE)
    con.execute(f"copy ({parts}) to '{tmp}/justice.parquet'")
    con.execute(f"copy (select * from read_parquet('{ext}/la_residents.parquet')) to '{tmp}/la.parquet'")
    con.execute(f"""copy (select case when "table" = 'la_residents' then record_id else "table" || ':' || record_id
                         end as record_id, person_id from read_parquet('{truth}/truth_record.parquet')
                         where "table" in ('la_residents', {', '.join(f"'{t}'" for t in JUSTICE)}))
                    to '{tmp}/truth.csv' (header)""")
    con.execute(f"""copy (select "table" || ':' || record_id as record_id, outcome
                         from read_parquet('{truth}/truth_outcomes.parquet')
                         where use_case = 'reoffending_12m_after_release') to '{tmp}/reoffending.csv' (header)""")
    cfg = {"left": {"path": "la.parquet", "id": "resident_id", "name": "la", "columns": ROLES,
                    "keep": ["ethnic_group"]},
           "right": {"path": "justice.parquet", "id": "record_id", "name": "justice", "columns": ROLES}}
    (tmp / "link.yaml").write_text(yaml.safe_dump(cfg))
    link_files(tmp / "link.yaml", tmp / "run")
    report = write_qa_report(tmp / "run", tmp / "qa", truth=tmp / "truth.csv", outcomes=tmp / "reoffending.csv")
    return {"tmp": tmp, "report": report}


def test_report_files_are_standalone(qa):
    html = (qa["tmp"] / "qa" / "qa.html").read_text()
    assert "<script" not in html and "http" not in html.split("<main>")[0]
    assert "Link rates by ethnicity" in html and "Threshold sensitivity" in html and "Accuracy" in html
    assert json.loads((qa["tmp"] / "qa" / "qa.json").read_text())["job"] == "link"


def test_link_rates_by_dataset_and_group(qa):
    lr = qa["report"]["link_rates"]
    assert set(lr["by_dataset"]) == {"la", "justice"}
    for band in ("high", "medium", "low"):
        assert 0 < lr["by_dataset"]["la"][band] < 1
    assert lr["by_dataset"]["la"]["high"] <= lr["by_dataset"]["la"]["medium"] <= lr["by_dataset"]["la"]["low"]
    assert {"sex", "age_band", "ethnicity"} <= set(lr["by_group"])
    eth = lr["by_group"]["ethnicity"]["la"]
    assert "White" in eth and sum(v["records"] for v in eth.values()) == lr["by_dataset"]["la"]["records"]
    assert set(lr["by_group"]["age_band"]["la"]) <= {"0-17", "18-24", "25-34", "35-49", "50-64", "65+", "Unknown"}


def test_accuracy_against_the_truth_overall_and_by_group(qa):
    acc = qa["report"]["accuracy"]
    med = acc["overall"]["medium"]
    assert med["precision"] >= 0.95 and med["recall"] >= 0.9 and med["f1"] >= 0.93
    assert acc["overall"]["high"]["precision"] >= med["precision"] - 1e-9
    assert acc["overall"]["low"]["recall"] >= med["recall"] - 1e-9
    by_sex = acc["by_group"]["sex"]
    assert {"M", "F"} <= set(by_sex)
    assert sum(v["medium"]["true"] for v in by_sex.values()) == med["true"]


def test_threshold_sensitivity_moves_headline_figures(qa):
    sens = qa["report"]["sensitivity"]
    assert sens["high"]["persons"] >= sens["medium"]["persons"] >= sens["low"]["persons"]
    assert sens["high"]["share_in_2_or_more_datasets"] <= sens["low"]["share_in_2_or_more_datasets"]
    assert all(0 <= sens[b]["outcome_rate"] <= 1 and sens[b]["outcome_persons"] > 0 for b in sens)


def test_clerical_review_round_trip_estimates_precision(qa):
    tmp = qa["tmp"]
    sample = tmp / "review.csv"
    r = runner.invoke(app, ["link", "review", "export", "--run", str(tmp / "run"), "--out", str(sample),
                            "--n", "160", "--config", str(tmp / "link.yaml")])
    assert r.exit_code == 0, r.output
    with open(sample, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"left_forename", "right_surname", "decision", "stratum"} <= set(rows[0])
    assert len({r["stratum"] for r in rows}) >= 4
    truth = {}
    with open(tmp / "truth.csv", newline="") as fh:
        for t in csv.DictReader(fh):
            truth[t["record_id"]] = t["person_id"]
    for row in rows:  # a reviewer who always gets it right
        row["decision"] = "match" if truth.get(row["left_id"]) == truth.get(row["right_id"]) else "non-match"
    with open(tmp / "decided.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    est = review_precision(tmp / "run", tmp / "decided.csv")
    actual = qa["report"]["accuracy"]["overall"]["medium"]["precision"]
    med = est["by_band"]["medium"]
    assert med["reviewed"] > 0 and med["ci95"][0] <= actual <= med["ci95"][1]
    assert abs(med["precision"] - actual) < 0.05
    r = runner.invoke(app, ["link", "review", "import", "--run", str(tmp / "run"), "--decisions",
                            str(tmp / "decided.csv"), "--out", str(tmp / "precision.json")])
    assert r.exit_code == 0 and "Precision from" in r.output
    assert json.loads((tmp / "precision.json").read_text())["by_band"]["medium"] == med


def test_review_sample_is_deterministic_and_bad_decisions_are_refused(qa, tmp_path):
    run = qa["tmp"] / "run"
    review_sample(run, tmp_path / "a.csv", n=40, seed=5)
    review_sample(run, tmp_path / "b.csv", n=40, seed=5)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    text = (tmp_path / "a.csv").read_text().splitlines()
    text[1] = text[1].rsplit(",", 2)[0] + ",perhaps,"
    (tmp_path / "bad.csv").write_text("\n".join(text))
    with pytest.raises(InputError, match="unrecognised decision"):
        review_precision(run, tmp_path / "bad.csv")
    with pytest.raises(InputError, match="not a `bold link` output folder"):
        review_sample(tmp_path, tmp_path / "c.csv")


def test_qa_cli_and_missing_truth(qa, tmp_path):
    r = runner.invoke(app, ["link", "qa", "--run", str(qa["tmp"] / "run"), "--out", str(tmp_path / "q"),
                            "--truth", str(tmp_path / "none.csv")])
    assert r.exit_code == 2 and "not found" in " ".join(r.output.split())
    assert not (tmp_path / "q").exists()
    r = runner.invoke(app, ["link", "qa", "--run", str(qa["tmp"] / "run"), "--out", str(tmp_path / "q")])
    assert r.exit_code == 0 and (tmp_path / "q" / "qa.html").exists()


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_interval_contains_the_estimate_and_stays_in_range(k, n):
    k = min(k, n)
    lo, hi = wilson_interval(k, n)
    assert 0 <= lo <= k / n <= hi <= 1
    lo2, hi2 = wilson_interval(4 * k, 4 * n)
    assert hi2 - lo2 <= hi - lo + 1e-12
