"""Determinism, bad inputs, atomic output, CSV output, the ``bold synth`` command and identifier error helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bold_prevention.datafirst import MODEL
from bold_prevention.errors import InputError, OutputExistsError
from bold_prevention.synth import SynthParams, generate
from bold_prevention.synth import writer as writer_module
from bold_prevention.synth.common import add_years, age_at, day, hex_ids
from bold_prevention.synth.identifiers import typos

SMALL = 400


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path, name: str) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}")]


# ------------------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_files(tmp_path):
    a = generate(tmp_path / "a", persons=SMALL, seed=3)
    b = generate(tmp_path / "b", persons=SMALL, seed=3)
    da, db = digests(a.path), digests(b.path)
    assert da == db
    assert len(da) == len(MODEL.tables) + 3 + 1  # extracts, truth tables, manifest


def test_different_seed_gives_different_data(tmp_path):
    a = generate(tmp_path / "a", persons=SMALL, seed=3)
    b = generate(tmp_path / "b", persons=SMALL, seed=4)
    da, db = digests(a.path), digests(b.path)
    differ = [k for k in da if da[k] != db.get(k)]
    assert "truth/truth_person.parquet" in differ
    assert len(differ) >= len(MODEL.tables) // 2


def test_manifest_has_no_timestamps_and_reloads(tmp_path):
    m = generate(tmp_path / "a", persons=SMALL, seed=3)
    text = (m.path / "manifest.json").read_text()
    d = json.loads(text)
    assert set(d) == {"generator", "seed", "persons", "format", "parameters", "tables", "truth", "summary"}
    loaded = writer_module.Manifest.load(m.path)
    assert loaded.tables == m.tables and loaded.seed == 3 and loaded.persons == SMALL


# ------------------------------------------------------------------------------------------------- formats
def test_csv_output_has_the_same_rows(tmp_path):
    p = generate(tmp_path / "p", persons=SMALL, seed=3)
    c = generate(tmp_path / "c", persons=SMALL, seed=3, fmt="csv")
    assert c.format == "csv"
    for name, e in c.tables.items():
        assert e.file == f"extracts/{name}.csv"
        assert e.rows == p.tables[name].rows
    t = pacsv.read_csv(c.path / "extracts" / "mags_defendant_case.csv")
    assert t.num_rows == p.rows("mags_defendant_case")
    assert set(MODEL.table("mags_defendant_case").column_names) == set(t.column_names)
    assert (c.path / "truth" / "truth_person.csv").is_file()


# ------------------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("persons", [0, -5, 1.5, "100", True, None, 10**9])
def test_invalid_number_of_persons_is_refused(tmp_path, persons):
    with pytest.raises(InputError, match="persons"):
        generate(tmp_path / "out", persons=persons, seed=1)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed", [-1, 2**40, "x", 1.0])
def test_invalid_seed_is_refused(tmp_path, seed):
    with pytest.raises(InputError, match="seed"):
        generate(tmp_path / "out", persons=10, seed=seed)


def test_invalid_format_is_refused(tmp_path):
    with pytest.raises(InputError, match="format"):
        generate(tmp_path / "out", persons=10, seed=1, fmt="xlsx")


@pytest.mark.parametrize("change, message", [
    (dict(twin_rate=1.5), "twin_rate"),
    (dict(household_size_probs=(0.5, 0.4)), "household_size_probs"),
    (dict(need_prevalence={"mental_health": 0.1}), "need_prevalence"),
    (dict(xjs_missed_link_rate={"high": 0.01, "medium": 0.05, "low": 0.02}), "xjs_missed_link_rate"),
    (dict(xjs_false_merge_rate={"high": 0.1, "medium": 0.05, "low": 0.2}), "xjs_false_merge_rate"),
    (dict(offence_base_rate=-1.0), "offence_base_rate"),
    (dict(la_pilot_lads=()), "la_pilot_lads"),
    (dict(max_moves=50), "max_moves"),
])
def test_invalid_parameters_are_refused_with_the_name(change, message):
    with pytest.raises(InputError, match=message):
        SynthParams().replace(**change)


def test_non_positive_definite_correlation_is_refused():
    corr = [list(r) for r in SynthParams().need_correlation]
    corr[0][1] = corr[1][0] = 0.99
    corr[0][2] = corr[2][0] = -0.99
    corr[1][2] = corr[2][1] = 0.99
    p = dataclasses.replace(SynthParams(), need_correlation=tuple(tuple(r) for r in corr))
    with pytest.raises(InputError, match="need_correlation"):
        p.validate()


def test_unknown_parameter_and_unknown_pilot_area_are_refused(tmp_path):
    with pytest.raises(InputError, match="unknown"):
        SynthParams().replace(not_a_parameter=1)
    with pytest.raises(InputError, match="unknown"):
        SynthParams.from_dict({"nope": 1})
    bad = SynthParams().replace(la_pilot_lads=("E09999999",))
    with pytest.raises(InputError, match="E09999999"):
        generate(tmp_path / "out", persons=50, seed=1, params=bad)
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path, "out") == []


def test_params_must_be_synthparams(tmp_path):
    with pytest.raises(InputError, match="SynthParams"):
        generate(tmp_path / "out", persons=10, seed=1, params={"twin_rate": 0.1})


def test_existing_folder_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    with pytest.raises(OutputExistsError, match="already exists"):
        generate(out, persons=50, seed=1)
    assert (out / "keep.txt").read_text() == "earlier work"
    m = generate(out, persons=50, seed=1, overwrite=True)
    assert not (out / "keep.txt").exists()
    assert (out / "manifest.json").is_file() and m.persons == 50
    assert leftovers(tmp_path, "out") == []


def test_unwritable_folder_is_refused(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError):
        generate(blocker / "out", persons=10, seed=1)
    ro = tmp_path / "read-only"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ro else real_access(p, mode))
    with pytest.raises(InputError, match="not writable"):
        generate(ro / "out", persons=10, seed=1)
    assert not (ro / "out").exists()


def test_interrupted_run_leaves_no_half_written_folder(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = writer_module.Writer.write_extract

    def failing(self, name, t):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated interruption")
        return real(self, name, t)

    monkeypatch.setattr(writer_module.Writer, "write_extract", failing)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "out", persons=100, seed=1)
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path, "out") == []


def test_interrupted_overwrite_keeps_the_earlier_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    generate(out, persons=60, seed=1)
    before = digests(out)

    def boom(self, manifest):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_module.Writer, "write_manifest", boom)
    with pytest.raises(RuntimeError):
        generate(out, persons=80, seed=2, overwrite=True)
    assert digests(out) == before
    assert leftovers(tmp_path, "out") == []


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_writes_and_summarises(tmp_path):
    from bold_prevention.cli import app

    runner = CliRunner()
    out = tmp_path / "cli"
    r = runner.invoke(app, ["synth", "--persons", "150", "--seed", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "mags_defendant_case" in r.output and "truth_outcomes" in r.output
    assert (out / "manifest.json").is_file()
    r = runner.invoke(app, ["synth", "--persons", "150", "--out", str(out)])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["synth", "--persons", "0", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "persons" in r.output
    r = runner.invoke(app, ["synth", "--persons", "20", "--out", str(tmp_path / "y"), "--file-format", "csv"])
    assert r.exit_code == 0 and (tmp_path / "y" / "extracts" / "xjs_link.csv").is_file()


def test_tiny_populations_still_write_every_table(tmp_path):
    m = generate(tmp_path / "one", persons=1, seed=9)
    assert set(m.tables) == set(MODEL.table_names)
    assert m.truth["truth_person"].rows == 1


# ------------------------------------------------------------------------------------------------- helpers
@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'-", min_size=2, max_size=20),
                min_size=1, max_size=30), st.integers(0, 2**31))
def test_typos_change_one_keystroke_and_keep_the_first_letter(names, seed):
    import jellyfish

    out = typos(pa.array(names), np.random.default_rng(seed)).to_pylist()
    for before, after in zip(names, out, strict=True):
        assert after[0] == before[0]
        assert jellyfish.damerau_levenshtein_distance(before, after) <= 1
        assert abs(len(after) - len(before)) <= 1


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**20), st.text(min_size=1, max_size=12), st.integers(0, 2**32 - 1))
def test_hash_ids_are_unique_within_a_salt(n, salt, seed):
    idx = np.arange(n % 5000)
    ids = hex_ids(idx, salt, seed).to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 for i in ids)


@settings(max_examples=50, deadline=None)
@given(st.dates(min_value=date(1920, 1, 1), max_value=date(2020, 1, 1)),
       st.integers(0, 40))
def test_age_and_year_arithmetic(dob, years):
    d = np.array([day(dob)], dtype=np.int32)
    later = add_years(d, years)
    assert age_at(d, later)[0] == years
    assert age_at(d, later - 1)[0] == max(years - 1, 0) or years == 0
