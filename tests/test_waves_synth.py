"""Synthetic Wave 1-2 sources: shapes, identifiers, truth and the associations they carry."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.datafirst import arrow_schema
from bold_prevention.datafirst.waves import WAVE_MODEL, WAVE_SOURCES, resolve_sources, wave_tables
from bold_prevention.errors import InputError
from bold_prevention.synth import check_sources, generate
from bold_prevention.synth.wave_common import nhs_number_matrix, nino_matrix

ALL = tuple(WAVE_SOURCES)


@pytest.fixture(scope="module")
def pop(tmp_path_factory):
    out = tmp_path_factory.mktemp("waves") / "pop"
    generate(out, persons=3000, seed=11, sources=ALL)
    return out


def read(pop, name):
    return pq.read_table(pop / "waves" / f"{name}.parquet")


def test_every_wave_table_written_with_the_model_schema(pop):
    for t in wave_tables():
        tab = read(pop, t.name)
        assert tab.schema.equals(arrow_schema(t)), t.name
    assert read(pop, "hmrc_paye_pay").num_rows > 0 and read(pop, "ndtms_episodes").num_rows > 0


def test_default_output_has_no_wave_files(synth_dir):
    assert not (synth_dir / "waves").exists()
    assert not (synth_dir / "truth" / "truth_child_parent.parquet").exists()


def test_truth_covers_every_wave_record(pop):
    tr = pq.read_table(pop / "truth" / "truth_record.parquet").to_pandas()
    for t in wave_tables():
        key = t.record_id or (t.primary_key[0] if len(t.primary_key) == 1 else None)
        if key is None:
            continue
        ids = set(read(pop, t.name).column(key).to_pylist())
        assert ids <= set(tr.loc[tr["table"] == t.name, "record_id"]), t.name
    cp = pq.read_table(pop / "truth" / "truth_child_parent.parquet").to_pandas()
    assert len(cp) > 0 and (cp.child_person_id != cp.parent_person_id).all()
    cb = pq.read_table(pop / "truth" / "truth_child_benefit.parquet").to_pandas()
    pairs = set(zip(cp.child_person_id, cp.parent_person_id, strict=True))
    assert all(p in pairs for p in zip(cb.child_person_id, cb.claimant_person_id, strict=True))


def _person_of(pop, table):
    tr = pq.read_table(pop / "truth" / "truth_record.parquet").to_pandas()
    return tr.loc[tr["table"] == table, "person_id"]


def test_associations_follow_the_truth(pop):
    tp = pq.read_table(pop / "truth" / "truth_person.parquet").to_pandas().set_index("person_id")
    treated = set(_person_of(pop, "ndtms_episodes"))
    sub = tp.need_substance_misuse
    in_t = tp.index.isin(list(treated))
    assert in_t[sub].mean() > 3 * in_t[~sub].mean()
    emp = _person_of(pop, "hmrc_paye_employments").value_counts().reindex(tp.index, fill_value=0)
    adults = (tp.date_of_birth < np.datetime64("1998-01-01")) & (tp.date_of_birth > np.datetime64("1960-01-01"))
    assert emp[adults & tp.need_employment].mean() < emp[adults & ~tp.need_employment].mean()


def test_no_wave_event_after_its_persons_death(pop):
    d = pq.read_table(pop / "truth" / "truth_death.parquet").to_pandas().set_index("person_id").date_of_death
    tr = pq.read_table(pop / "truth" / "truth_record.parquet").to_pandas()
    for table, col in (("hes_apc_episodes", "admission_date"), ("dwp_benefit_spells", "spell_start_date")):
        t = read(pop, table).to_pandas()
        key = WAVE_MODEL.table(table).primary_key[0]
        t = t.merge(tr[tr["table"] == table], left_on=key, right_on="record_id")
        t["death"] = t.person_id.map(d)
        assert not (t.death.notna() & (t[col] > t.death)).any()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 20_000_000), min_size=1, max_size=50, unique=True), st.integers(0, 2**31))
def test_national_numbers_are_valid_and_distinct(persons, seed):
    p = np.array(persons)
    nhs = nhs_number_matrix(p, seed) - ord("0")
    s = (nhs[:, :9].astype(int) * np.arange(10, 1, -1)).sum(axis=1)
    assert (((11 - s % 11) % 11) == nhs[:, 9]).all()
    ni = [bytes(r).decode() for r in nino_matrix(p, seed)]
    assert len({n[:8] for n in ni}) == len(ni)
    assert all(n[:2].isalpha() and n[2:8].isdigit() and n[8] in "ABCD" for n in ni)


def test_unknown_sources_and_waves_are_refused():
    with pytest.raises(InputError, match="unknown wave source"):
        check_sources(["dwp", "gp_records"])
    with pytest.raises(KeyError):
        resolve_sources(waves=[4])
    assert resolve_sources(waves=[1]) == ("npd",)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**40), min_size=0, max_size=200), st.sampled_from(["", "EM", "CU"]),
       st.sampled_from([8, 12, 16]), st.integers(0, 2**31))
def test_event_ids_are_those_of_the_common_generator(index, prefix, width, seed):
    from bold_prevention.synth.common import hex_ids as common_ids
    from bold_prevention.synth.wave_common import hex_ids

    idx = np.asarray(index, dtype=np.int64)
    assert hex_ids(idx, "t", seed, prefix=prefix, width=width).equals(
        common_ids(idx, "t", seed, prefix=prefix, width=width))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=4, max_size=4), st.booleans()), max_size=100))
def test_fixed_width_strings_keep_bytes_and_nulls(rows):
    from bold_prevention.synth.wave_common import fixed_width_strings

    alnum = [bytes(65 + b % 26 for b in r) for r, _ in rows]  # ASCII letters
    mat = np.frombuffer(b"".join(alnum), dtype=np.uint8).reshape(len(rows), 4)
    miss = np.array([m for _, m in rows], dtype=bool)
    arr = fixed_width_strings(mat, miss)
    arr.validate(full=True)
    assert arr.to_pylist() == [None if m else a.decode() for a, (_, m) in zip(alnum, rows, strict=True)]


def test_national_numbers_per_person_do_not_depend_on_the_batch():
    from bold_prevention.synth.wave_common import nino_column

    p = np.array([5, 0, 999, 5])
    a = nino_matrix(p, 3)
    b = nino_matrix(np.arange(2000), 3)[p]  # a larger population replaces the cached one
    assert (a == b).all() and (nhs_number_matrix(p, 3) == nhs_number_matrix(np.arange(2000), 3)[p]).all()
    arr, state = nino_column(p, 3, np.random.default_rng(0), missing=0.5, mistyped=0.0)
    assert [v is None for v in arr.to_pylist()] == list(state == 1)
