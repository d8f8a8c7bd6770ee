"""Candidate pairs per blocking rule (``bold link blocking``, ``bold scale blocking``): what a linkage job will
cost, counted before anything is scored."""

from __future__ import annotations

import json
import logging

import duckdb
import pytest
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.linkage.blocking import PAIRS_PER_RECORD_LIMIT, BlockingCount
from bold_prevention.linkage.config import load_config
from bold_prevention.linkage.run import count_blocked_pairs, link_tables
from bold_prevention.linkage.splink_model import quiet_splink
from bold_prevention.project import Project
from bold_prevention.scale.linkage import justice_blocking_counts
from bold_prevention.warehouse import open_warehouse
from bold_prevention.warehouse.load import load_extracts

runner = CliRunner()


@pytest.fixture(scope="module")
def febrl(tmp_path_factory):
    from test_linkage_run import _config, _febrl_files

    quiet_splink(logging.ERROR)
    tmp = tmp_path_factory.mktemp("blocking")
    left, right, _truth = _febrl_files(tmp, n=400)
    return {"tmp": tmp, "link": _config(tmp, left, right), "dedupe": _config(tmp, left, None)}


@pytest.mark.parametrize("job", ["link", "dedupe"])
def test_the_counted_pairs_are_the_pairs_the_job_scores(febrl, job):
    """Every candidate pair the rules make is scored once: the counts' total is the number of pairs the link job
    scores when it keeps every score."""
    counts = count_blocked_pairs(febrl[job])
    assert len(counts) >= 3
    assert sum(c.pairs for c in counts) == counts[-1].cumulative
    assert [c.cumulative for c in counts] == sorted(c.cumulative for c in counts)
    assert not any(c.estimate or c.rough for c in counts)

    con = duckdb.connect()
    res = link_tables(con, load_config(febrl[job]), predict_threshold=1e-300)  # every pair, however unlikely
    assert res.summary["pairs"]["scored"] == counts[-1].cumulative > 0
    records = sum(d["records"] for d in res.summary["datasets"])
    assert counts[0].pairs_per_record == pytest.approx(counts[0].pairs / records, abs=1e-3)


def test_a_sample_gives_an_estimate(febrl):
    exact = count_blocked_pairs(febrl["link"])
    half = count_blocked_pairs(febrl["link"], sample=0.5)
    assert [c.rule for c in half] == [c.rule for c in exact]
    assert all(c.estimate and c.sample == 0.5 for c in half)
    assert all(c.sampled_pairs == round(c.pairs * 0.25) for c in half)
    assert 0.5 * exact[-1].cumulative <= half[-1].cumulative <= 1.5 * exact[-1].cumulative
    assert any(c.rough for c in half)  # 400 records: some rules count fewer than 1,000 sampled pairs


@pytest.mark.parametrize("sample", [0.0, -0.1, 1.5])
def test_a_sample_outside_0_to_1_is_refused(febrl, sample):
    with pytest.raises(InputError, match="blocking sample"):
        count_blocked_pairs(febrl["link"], sample=sample)


def test_rules_are_flagged_by_pairs_per_record():
    def count(per_record: float, sample: float = 1.0, sampled: int = 0) -> BlockingCount:
        return BlockingCount(rule="r", pairs=0, cumulative=0, pairs_per_record=per_record, sample=sample,
                             sampled_pairs=sampled)

    assert count(PAIRS_PER_RECORD_LIMIT + 0.1).too_broad and not count(PAIRS_PER_RECORD_LIMIT).too_broad
    assert count(1, 0.1, 999).rough and not count(1, 0.1, 1000).rough and not count(1).rough
    assert count(30).as_dict()["too_broad"] is True


def test_cli_prints_the_counts_and_writes_json(febrl):
    out = febrl["tmp"] / "blocking.json"
    result = runner.invoke(app, ["link", "blocking", "--config", str(febrl["link"]), "--json-file", str(out)])
    assert result.exit_code == 0, result.output
    assert "Candidate pairs per blocking rule" in result.output
    written = json.loads(out.read_text())
    assert [(r["rule"], r["pairs"], r["cumulative"]) for r in written] == \
        [(c.rule, c.pairs, c.cumulative) for c in count_blocked_pairs(febrl["link"])]
    bad = runner.invoke(app, ["link", "blocking", "--config", str(febrl["link"]), "--sample", "0"])
    assert bad.exit_code == 2


def test_justice_dedupe_counts(synth_dir, tmp_path):
    """``bold scale blocking``: the justice dedupe's rules on the loaded identity records; nothing is written to
    the warehouse."""
    proj = Project(tmp_path / "project")
    load_extracts(proj, synth_dir, snapshot_date="2025-01-31", write_report=False)
    wh = open_warehouse(proj, "duckdb")
    try:
        before = sorted(wh.tables("linkage"))
        counts = justice_blocking_counts(wh)
        assert sorted(wh.tables("linkage")) == before
    finally:
        wh.close()
    assert counts[-1].cumulative > 1000
    result = runner.invoke(app, ["scale", "blocking", "--project", str(proj.root), "--sample", "0.5"])
    assert result.exit_code == 0, result.output
    assert "Justice dedupe on duckdb" in result.output and "Estimated from 50%" in result.output


def _rule_sql(rule) -> str:
    return rule if isinstance(rule, str) else rule.get_blocking_rule("duckdb").blocking_rule_sql


def test_large_jobs_tighten_the_rules_that_grow_with_the_square_of_the_records():
    """Above LARGE_BLOCKING_MIN_RECORDS the name-and-birth-year, year-and-day and missing-date-of-birth rules each
    get one more key; every other rule is unchanged, and a tightened rule whose key is missing is dropped."""
    from bold_prevention.linkage.blocking import LARGE_BLOCKING_MIN_RECORDS, blocking_rules_for

    roles = ("forename", "middle_names", "surname", "date_of_birth", "sex", "postcode")
    usual = [_rule_sql(r) for r in blocking_rules_for(roles, LARGE_BLOCKING_MIN_RECORDS)]
    large = [_rule_sql(r) for r in blocking_rules_for(roles, LARGE_BLOCKING_MIN_RECORDS + 1)]
    assert len(usual) == len(large)
    changed = [(u, g) for u, g in zip(usual, large, strict=True) if u != g]
    assert len(changed) == 4
    extra = {"postcode_area", "forename_phonetic", "postcode_outward"}
    for u, g in changed:
        assert any(f"r.{k}" in g.replace('"', "") and f"r.{k}" not in u.replace('"', "") for k in extra), g
    assert sum("dob_iso is null" in g for _, g in changed) == 2

    no_postcode = [_rule_sql(r) for r in blocking_rules_for(roles[:-1], LARGE_BLOCKING_MIN_RECORDS + 1)]
    assert not any("postcode" in r or "dob_iso is null" in r for r in no_postcode)
    assert any("forename_phonetic" in r and "dob_day" in r for r in no_postcode)


def test_the_large_job_rules_make_a_subset_of_the_pairs(febrl, monkeypatch):
    """Each tightened rule only adds a key, so a large job's candidate pairs are a subset of the usual ones."""
    from bold_prevention.linkage import blocking

    monkeypatch.setattr(blocking, "BROAD_BLOCKING_MAX_RECORDS", 0)  # as for any job of millions
    usual = count_blocked_pairs(febrl["link"])[-1].cumulative
    monkeypatch.setattr(blocking, "LARGE_BLOCKING_MIN_RECORDS", 0)
    large = count_blocked_pairs(febrl["link"])[-1].cumulative
    assert 0 < large < usual
