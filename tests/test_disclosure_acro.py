"""Cross-check with ACRO 1.0.2: every cell ACRO marks as a primary disclosure risk is suppressed here too."""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pandas as pd
import pytest

from bold_prevention.outputs import (
    frequency_table,
    get_rules,
    magnitude_table,
    results_document,
    survival_table,
    write_results,
)

acro = pytest.importorskip("acro")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::pandas.errors.SettingWithCopyWarning")

PRIMARY_TABLE_CHECKS = ("MinimumThresholdCheck", "PresenceOfZeroCheck")
PRIMARY_MAGNITUDE_CHECKS = ("MinimumThresholdCheck", "NKCheck", "PPercentCheck")


@pytest.fixture(scope="module")
def microdata() -> pd.DataFrame:
    """A justice-like population: skewed regions (some tiny), disposals, sex, and costs with planted outliers."""
    rng = np.random.default_rng(2024)
    n = 900
    df = pd.DataFrame({
        "region": rng.choice(["North East", "North West", "Yorkshire", "London", "South East", "South West",
                              "Wales", "East"], n, p=[0.02, 0.16, 0.14, 0.3, 0.2, 0.1, 0.015, 0.065]),
        "disposal": rng.choice(["custody", "suspended", "community", "fine", "discharge"], n,
                               p=[0.12, 0.1, 0.3, 0.4, 0.08]),
        "sex": rng.choice(["F", "M"], n, p=[0.15, 0.85]),
        "cost": rng.gamma(2.0, 1500.0, n),
    })
    london_custody = df.index[(df.region == "London") & (df.disposal == "custody")]
    df.loc[london_custody[0], "cost"] = 2_000_000.0  # one dominant contributor
    east_fine = df.index[(df.region == "East") & (df.disposal == "fine")]
    df.loc[east_fine[:2], "cost"] = [600_000.0, 550_000.0]  # two dominant contributors
    return df


def _acro_session(rules):
    logging.getLogger("acro").setLevel(logging.ERROR)
    session = acro.ACRO(suppress=True)
    session.config.update(rules.to_acro_config())  # ACRO reads its risk appetite from this dict
    return session


def _acro_flags(session, checks) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """The last output's table and the (row, column) labels ACRO flags under the given checks."""
    rec = session.results.get_index(session.results.output_id - 1)
    table = rec.output[0]
    flagged = set()
    for check in checks:
        for i, j in rec.sdc["cells"].get(check, []):
            flagged.add((str(table.index[i]), str(table.columns[j])))
    return table, flagged


def _ours(out, index_labels=True) -> set[tuple[str, str]]:
    m = out.mask
    return {(str(i), str(c)) for i in m.index for c in m.columns if m.loc[i, c]}


def _primary(out) -> set[tuple[str, str]]:
    cr = out.cell_rules
    keep = {"min-threshold", "zeros", "nk-dominance", "p-ratio"}
    return {(str(i), str(c)) for i in cr.index for c in cr.columns
            if keep & set(str(cr.loc[i, c]).split(";")) and str(i) != "Total" and str(c) != "Total"}


@pytest.mark.parametrize("profile", ["default", "ons_10_5", "opensafely"])
@pytest.mark.parametrize("dims", [("region", "disposal"), ("region", "sex"), ("disposal", "sex")])
def test_acro_primary_count_risks_are_suppressed_here(microdata, tmp_path, monkeypatch, profile, dims):
    monkeypatch.chdir(tmp_path)  # ACRO writes only on finalise, which is never called; keep any file in tmp
    rules = get_rules(profile)
    session = _acro_session(rules)
    session.crosstab(microdata[dims[0]], microdata[dims[1]])
    table, flagged = _acro_flags(session, PRIMARY_TABLE_CHECKS)
    ours = frequency_table(microdata, dims[0], dims[1], title="x", rules=rules)
    if dims == ("region", "disposal"):
        assert flagged, "the fixture should give ACRO something to flag"
    assert flagged <= _ours(ours)
    # and the two agree exactly on which interior cells are primary risks
    assert flagged == _primary(ours)
    # ACRO's suppressed output (NaN) is suppressed here too
    nan_cells = {(str(i), str(c)) for i in table.index for c in table.columns if pd.isna(table.loc[i, c])}
    assert nan_cells <= _ours(ours)


@pytest.mark.parametrize("aggfunc", ["mean", "sum"])
def test_acro_dominance_and_threshold_risks_in_magnitude_tables_are_suppressed_here(microdata, tmp_path, monkeypatch,
                                                                                     aggfunc):
    monkeypatch.chdir(tmp_path)
    rules = get_rules("default")
    session = _acro_session(rules)
    session.crosstab(microdata.region, microdata.disposal, values=microdata.cost, aggfunc=aggfunc)
    _, flagged = _acro_flags(session, PRIMARY_MAGNITUDE_CHECKS)
    _, dominance = _acro_flags(session, ("NKCheck", "PPercentCheck"))
    ours = magnitude_table(microdata, "cost", "region", "disposal", title="Cost", stat=aggfunc, rules=rules)
    assert ("London", "custody") in dominance and ("East", "fine") in dominance
    assert flagged <= _ours(ours)
    assert flagged <= _primary(ours)


def test_acro_survival_risks_are_not_published_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(9)
    big = pd.DataFrame({"days": np.ceil(rng.exponential(300, 120)), "event": rng.random(120) < 0.5, "g": "big"})
    tiny = pd.DataFrame({"days": [3.0, 5, 8, 9, 20, 30, 31], "event": [1, 1, 0, 1, 1, 1, 0], "g": "tiny"})
    df = pd.concat([big, tiny], ignore_index=True)
    session = _acro_session(get_rules("default"))
    ours = survival_table(df, "days", "event", group="g", title="Survival")
    # a seven-person curve: ACRO fails it (residual dof), and here it is suppressed whole
    session.surv_func(tiny.days, tiny.event.astype(bool), output="table")
    rec = session.results.get_index(session.results.output_id - 1)
    assert rec.status != "pass" and "fail" in rec.summary
    assert ours.mask.xs("tiny", level=0).to_numpy().all()
    # the rows ACRO's table shows with fewer than 10 at risk are points this module does not publish
    table = session.surv_func(big.days, big.event, output="table")
    risky = {float(t) for t in table.index[table["num at risk"] < 10]}
    assert risky
    published = {float(t) for t in ours.data.xs("big", level=0).index}
    assert not (risky & published)


def test_results_json_is_read_by_acro(microdata, tmp_path):
    rules = get_rules("default")
    t1 = frequency_table(microdata, "region", "disposal", title="Disposals by region", rules=rules)
    t2 = magnitude_table(microdata, "cost", "region", title="Cost by region", stat="mean", rules=rules)
    folder = write_results([t1, t2], tmp_path / "checking")
    doc = json.loads((folder / "results.json").read_text())
    assert set(doc["results"]) == {t1.name, t2.name}
    r1 = doc["results"][t1.name]
    assert r1["status"] == "review" and r1["type"] == "table"
    cells = {tuple(c) for c in r1["files"][0]["sdc"]["cells"]["MinimumThresholdCheck"]}
    cr = t1.cell_rules.to_numpy()
    assert cells == {(i, j) for i in range(cr.shape[0]) for j in range(cr.shape[1])
                     if "min-threshold" in cr[i, j].split(";")}
    assert "LinkedTables" in r1["summary"] or "PresenceOfLinkedTableCheck" in r1["summary"]
    assert any(e["action"] == "suppress" for e in r1["log"])
    # ACRO's own loader reads the folder
    records = acro.record.load_records(str(folder))
    assert set(records.get_keys()) == {t1.name, t2.name}
    loaded = records.get(t1.name).output[0]
    assert "[c]" in loaded.to_string()
    # checksums, as ACRO writes them
    for f in ("results.json", f"{t1.name}.csv", "check_log.csv", "config.json"):
        digest = (folder / "checksums" / f"{f}.txt").read_text()
        assert digest == hashlib.sha256((folder / f).read_bytes()).hexdigest()
    # no suppressed value is written anywhere in the folder
    assert results_document([t1])["results"][t1.name]["files"][0]["name"] == f"{t1.name}.csv"


def test_synthetic_population_tables_match_acro_risks(synth_dir, tmp_path, monkeypatch):
    """On the synthetic Data First population: ACRO's primary risks are suppressed here, for every profile."""
    monkeypatch.chdir(tmp_path)
    people = pd.read_parquet(synth_dir / "truth" / "truth_person.parquet")
    people["imd_decile"] = people["imd_decile"].astype("Int64").astype(str)
    for dims in [("ethnic_group", "imd_decile"), ("lad_code", "need_accommodation"), ("ethnic_group", "sex")]:
        for profile in ("default", "opensafely"):
            rules = get_rules(profile)
            session = _acro_session(rules)
            session.crosstab(people[dims[0]], people[dims[1]])
            _, flagged = _acro_flags(session, PRIMARY_TABLE_CHECKS)
            ours = frequency_table(people, dims[0], dims[1], title="x", rules=rules)
            assert flagged <= _ours(ours)
            assert flagged == _primary(ours)
    session = _acro_session(get_rules("default"))
    session.crosstab(people.ethnic_group, people.sex, values=people.need_low_income_score.abs(), aggfunc="mean")
    _, flagged = _acro_flags(session, PRIMARY_MAGNITUDE_CHECKS)
    ours = magnitude_table(people.assign(score=people.need_low_income_score.abs()), "score", "ethnic_group", "sex",
                           title="Mean low-income score", stat="mean")
    assert flagged <= _ours(ours)
