"""Fixed costs of a linkage run on small files: no redundant training session, a u sample sized to the records,
dedupe clusters solved in process (the same clusters as Splink's), no chart modules loaded by a run."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.linkage.blocking import ROLE_COLUMNS, _training_rules
from bold_prevention.linkage.splink_model import (
    COMPARISON_ROLES,
    U_MAX_PAIRS,
    U_MIN_PAIRS,
    LinkageModel,
    Thresholds,
    TrainingOptions,
)

ROLES = [r for r in COMPARISON_ROLES if r in ROLE_COLUMNS]


def _free(sql: str, roles) -> set[str]:
    return {r for r in roles if not any(f'"{c}"' in sql for c in ROLE_COLUMNS[r])}


def _sessions(roles, em):
    return [[_free(r.get_blocking_rule("duckdb").blocking_rule_sql, roles) for r in alts] for alts in em]


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(ROLES), min_size=2))
def test_dropping_redundant_sessions_keeps_what_is_estimated(roles):
    import bold_prevention.linkage.blocking as m

    if not roles & {r for r, _ in m._COVER_KEYS}:  # nothing to block on: refused, naming the roles
        with pytest.raises(InputError, match="too few identifiers"):
            _training_rules(sorted(roles))
        return
    sessions = _sessions(roles, _training_rules(sorted(roles))[1])
    drop = m._drop_redundant_sessions
    try:
        m._drop_redundant_sessions = lambda s, _f, _e: s
        every_session = _sessions(roles, _training_rules(sorted(roles))[1])
    finally:
        m._drop_redundant_sessions = drop
    assert len(sessions) <= len(every_session)
    covered: set[str] = set()
    for i, alts in enumerate(sessions):
        assert all(alts), "a session with nothing to estimate"
        if i:  # a later session estimates something no earlier session is sure to
            assert any(not f <= covered for f in alts)
        covered |= set.intersection(*alts)
    assert covered >= set.union(set(), *(set.intersection(*alts) for alts in every_session))


def test_roles_with_nothing_to_block_on_are_refused_as_too_few_identifiers():
    with pytest.raises(InputError, match="too few identifiers") as e:
        _training_rules(["middle_names", "sex"])
    assert "middle_names" in str(e.value) and "forename" in e.value.hint


def test_the_id_number_session_is_dropped_when_names_and_dates_cover_it():
    roles = ["forename", "surname", "date_of_birth", "postcode", "address", "id_number"]
    _det, em = _training_rules(roles)
    sqls = [r.get_blocking_rule("duckdb").blocking_rule_sql for alts in em for r in alts]
    assert not any('"id_number"' in s for s in sqls)
    assert any('"dob_iso"' in s for s in sqls)


@given(st.integers(0, 10**8), st.integers(0, 10**8))
def test_u_sample_grows_with_the_records_within_bounds(a, b):
    opts = TrainingOptions()
    lo, hi = sorted((a, b))
    assert U_MIN_PAIRS <= opts.u_pairs(lo) <= opts.u_pairs(hi) <= U_MAX_PAIRS
    assert TrainingOptions(u_max_pairs=12345).u_pairs(hi) == 12345


def test_dedupe_clusters_in_process_equal_splinks():
    import duckdb
    from splink import DuckDBAPI

    # chains and singletons at each band: a-b (0.99), b-c (0.95), d-e (0.85), f alone
    recs = pa.table({"unique_id": list("abcdef"), "forename": ["x"] * 6, "surname": ["y"] * 6})
    con = duckdb.connect()
    api = DuckDBAPI(connection=con)
    model = LinkageModel([recs], names=["d"], roles=["forename", "surname"], link_type="dedupe_only", db_api=api)
    pred = api.register(pa.table({"unique_id_l": ["a", "b", "d"], "unique_id_r": ["b", "c", "e"],
                                  "match_probability": [0.99, 0.95, 0.85], "match_weight": [7.0, 4.0, 2.5]}),
                        table_name="__pred")
    th = Thresholds(high=0.98, medium=0.9, low=0.8)
    ours = model.cluster(pred, th)
    for band in ("high", "medium", "low"):
        theirs = model.linker.clustering.cluster_pairwise_predictions_at_threshold(
            pred, threshold_match_probability=getattr(th, band))
        a = sorted(map(tuple, ours[band].as_pandas_dataframe()[["unique_id", "cluster_id"]].values.tolist()))
        b = sorted(map(tuple, theirs.as_pandas_dataframe()[["unique_id", "cluster_id"]].values.tolist()))
        assert a == b, band


def test_a_run_without_labels_loads_no_chart_modules():
    code = ("import sys, bold_prevention.linkage.run, bold_prevention.linkage.guards; "
            "print(any(m.startswith('bold_prevention.outputs') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_training_key_empty_on_a_side_is_seen_without_running_a_session():
    import duckdb
    from splink import DuckDBAPI

    recs = pa.table({"unique_id": list("abc"), "forename": ["x", "y", None], "surname": ["y"] * 3,
                     "postcode_sector": pa.array([None] * 3, pa.string())})
    api = DuckDBAPI(connection=duckdb.connect())
    model = LinkageModel([recs], names=["d"], roles=["forename", "surname"], link_type="dedupe_only", db_api=api)
    assert model._keys_have_values('(l."forename" = r."forename") AND (l."surname" = r."surname")')
    assert not model._keys_have_values('(l."forename" = r."forename") AND (l."postcode_sector" = r."postcode_sector")')
    assert model._keys_have_values('l."not_a_column" = r."not_a_column"')  # unknown: left to Splink
