"""Privacy-preserving linkage: derive, then hash; linkage on hashed files with no clear identifier anywhere."""

from __future__ import annotations

import csv
import json
import logging
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.errors import InputError
from bold_prevention.linkage.bloom import BloomEncoder, dice
from bold_prevention.linkage.privacy import METADATA_KEY, hash_file, key_check, linkage_secret
from bold_prevention.linkage.run import link_files
from bold_prevention.linkage.splink_model import quiet_splink
from test_linkage_model import population

runner = CliRunner()
SECRET = "a-shared-secret-for-tests-only-0123456789"
COLUMNS = {"forename": "first", "middle_names": "middle", "surname": "last", "date_of_birth": "born", "sex": "sex",
           "postcode": "pc"}


def _write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "first", "middle", "last", "born", "sex", "pc"])
        for r in rows:
            born = r["date_of_birth"]
            born = born if isinstance(born, str) else born.strftime("%d/%m/%Y")
            w.writerow([r["id"], r["forename"], r["middle_names"] or "", r["surname"], born, r["sex"],
                        r["postcode"] or ""])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    quiet_splink(logging.ERROR)
    tmp = tmp_path_factory.mktemp("privacy")
    a, b, truth, _twins, _juniors, _people = population(seed=11, households=500)
    _write(tmp / "a.csv", a)
    _write(tmp / "b.csv", b)
    for name in ("a", "b"):
        (tmp / f"hash_{name}.yaml").write_text(yaml.safe_dump(
            {"left": {"path": f"{name}.csv", "id": "id", "name": name, "columns": COLUMNS}}))
    (tmp / "clear.yaml").write_text(yaml.safe_dump(
        {"left": {"path": "a.csv", "id": "id", "name": "a", "columns": COLUMNS},
         "right": {"path": "b.csv", "id": "id", "name": "b", "columns": COLUMNS}}))
    (tmp / "hashed.yaml").write_text(yaml.safe_dump(
        {"mode": "hashed", "left": {"path": "a_hashed.parquet", "name": "a"},
         "right": {"path": "b_hashed.parquet", "name": "b"}}))
    clear_values = set()
    for r in a + b:
        for k in ("forename", "middle_names", "surname", "postcode"):
            if r[k] and len(r[k]) >= 3:
                clear_values.add(r[k].upper())
        d = r["date_of_birth"]
        if not isinstance(d, str):
            clear_values |= {d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d")}
    return {"tmp": tmp, "truth": truth, "clear_values": clear_values, "a": a, "b": b}


@pytest.fixture(scope="module")
def hashed(files):
    tmp = files["tmp"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOLD_LINKAGE_SECRET", SECRET)
        for name in ("a", "b"):
            r = runner.invoke(app, ["link", "hash", "--config", str(tmp / f"hash_{name}.yaml"), "--out",
                                    str(tmp / f"{name}_hashed.parquet")])
            assert r.exit_code == 0, r.output
    return files


def _strings_in_parquet(path: Path) -> set[str]:
    t = pq.read_table(path)
    out: set[str] = set()
    for col in t.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out |= {str(v).upper() for v in col.to_pylist() if v is not None}
    return out


def test_hashed_file_carries_no_clear_identifier(hashed):
    path = hashed["tmp"] / "a_hashed.parquet"
    values = _strings_in_parquet(path)
    ids = {r["id"].upper() for r in hashed["a"]}
    assert not (values - ids) & hashed["clear_values"]
    # every identifier value is a 128-bit hexadecimal keyed hash
    t = pq.read_table(path)
    for name in t.column_names:
        if name == "unique_id" or "_clk_" in name:
            continue
        assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in t.column(name).to_pylist() if v is not None), name
    meta = json.loads(pq.read_schema(path).metadata[METADATA_KEY])
    assert meta["key_check"] == key_check(SECRET.encode()) and set(meta["roles"]) == set(COLUMNS)
    assert "forename_clk_0" in t.column_names and "surname_clk_n" in t.column_names


def test_equal_values_hash_equal_across_partners_and_columns_share_domains(hashed):
    ta = pq.read_table(hashed["tmp"] / "a_hashed.parquet").to_pylist()
    tb = {r["unique_id"]: r for r in pq.read_table(hashed["tmp"] / "b_hashed.parquet").to_pylist()}
    same = 0
    for r in ta:
        other = tb.get("B" + r["unique_id"][1:])
        if other and other["surname"] == r["surname"]:
            same += 1
    assert same > 0.8 * len(tb)
    # names share one domain (forename vs middle name levels survive hashing); unrelated fields do not
    a0 = ta[0]
    assert a0["forename"] != a0["forename_phonetic"] and a0["dob_iso"] != a0["dob_year"]


def test_linkage_on_hashed_files_is_close_to_clear_text_and_leaks_nothing(hashed):
    tmp = hashed["tmp"]
    truth = hashed["truth"]
    clear = link_files(tmp / "clear.yaml", tmp / "clear_out")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("BOLD_LINKAGE_SECRET", raising=False)  # the linker does not need the secret
        summary = link_files(tmp / "hashed.yaml", tmp / "hashed_out")
    assert summary["mode"] == "hashed" and clear["mode"] == "clear"

    def f1(folder: Path) -> float:
        with open(folder / "pairs.csv", newline="") as fh:
            got = {(r["left_id"], r["right_id"]) for r in csv.DictReader(fh) if r["band"] in ("high", "medium")}
        want = {(x, "B" + x[1:]) for x in truth if x.startswith("A") and "B" + x[1:] in truth
                and truth[x] == truth["B" + x[1:]] and any(r["id"] == "B" + x[1:] for r in hashed["b"])}
        tp = len(got & want)
        return 2 * tp / (len(got) + len(want))

    f_clear, f_hashed = f1(tmp / "clear_out"), f1(tmp / "hashed_out")
    assert f_clear >= 0.95
    assert f_hashed >= f_clear - 0.03, (f_clear, f_hashed)
    # no clear identifier in any output of the hashed run
    leaked = set()
    for path in (tmp / "hashed_out").iterdir():
        if path.suffix == ".parquet":
            leaked |= _strings_in_parquet(path) & hashed["clear_values"]
        else:
            text = path.read_text().upper()
            leaked |= {v for v in hashed["clear_values"] if re.search(rf"(?<![A-Z0-9]){re.escape(v)}(?![A-Z0-9])",
                                                                       text)}
    assert not leaked, sorted(leaked)[:10]


def test_missing_secret_is_a_clear_error_and_writes_nothing(files, monkeypatch):
    monkeypatch.delenv("BOLD_LINKAGE_SECRET", raising=False)
    out = files["tmp"] / "nothing.parquet"
    r = runner.invoke(app, ["link", "hash", "--config", str(files["tmp"] / "hash_a.yaml"), "--out", str(out)])
    assert r.exit_code == 2 and "BOLD_LINKAGE_SECRET" in r.output and "is not set" in " ".join(r.output.split())
    assert not out.exists()
    monkeypatch.setenv("BOLD_LINKAGE_SECRET", "short")
    with pytest.raises(InputError, match="too short"):
        linkage_secret()


def test_files_hashed_with_different_secrets_are_refused(hashed, monkeypatch):
    tmp = hashed["tmp"]
    monkeypatch.setenv("OTHER_SECRET", "another-secret-entirely-0123456789")
    cfg = yaml.safe_load((tmp / "hash_b.yaml").read_text())
    cfg["secret_env"] = "OTHER_SECRET"
    (tmp / "hash_b_other.yaml").write_text(yaml.safe_dump(cfg))
    hash_file(tmp / "hash_b_other.yaml", tmp / "b_other.parquet")
    (tmp / "mixed.yaml").write_text(yaml.safe_dump(
        {"mode": "hashed", "left": {"path": "a_hashed.parquet"}, "right": {"path": "b_other.parquet"}}))
    with pytest.raises(InputError, match="different secrets"):
        link_files(tmp / "mixed.yaml", tmp / "mixed_out")
    assert not (tmp / "mixed_out").exists()
    # and a clear file given as hashed
    (tmp / "wrong.yaml").write_text(yaml.safe_dump({"mode": "hashed", "left": {"path": "a.csv"}}))
    with pytest.raises(InputError, match="not a readable Parquet|not written by"):
        link_files(tmp / "wrong.yaml", tmp / "wrong_out")


def test_bloom_filters_approximate_name_similarity():
    enc = BloomEncoder(b"k" * 20)
    same = dice(enc.encode_one("CATHERINE"), enc.encode_one("CATHERINE"))
    close = dice(enc.encode_one("CATHERINE"), enc.encode_one("KATHERINE"))
    far = dice(enc.encode_one("CATHERINE"), enc.encode_one("ROBERT"))
    assert same == 1.0 and close > 0.7 > far
    other_key = BloomEncoder(b"j" * 20)
    assert dice(enc.encode_one("CATHERINE"), other_key.encode_one("CATHERINE")) < 0.6
    blocks, counts, valid = enc.encode(["ANN", None, "ANN"])
    assert list(valid) == [True, False, True] and counts[0] == counts[2] > 0 and (blocks[0] == blocks[2]).all()
