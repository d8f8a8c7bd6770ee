"""The set-up of a wave link: the pipeline stops at the scored pairs (``pairs_only``) with the same pairs as a full
run, and a trained model's linker, re-created with new parameters, scores as the one it replaced."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bold_prevention.linkage.config import LinkConfig, SideConfig
from bold_prevention.linkage.run import link_tables
from bold_prevention.linkage.splink_model import quiet_splink
from test_linkage_model import population

ROLES = ("forename", "middle_names", "surname", "date_of_birth", "sex", "postcode")


def _run(a, b, *, pairs_only: bool):
    con = duckdb.connect()
    con.register("__a", pa.Table.from_pylist(a))
    con.register("__b", pa.Table.from_pylist(b))
    con.execute("create table __raw_0 as select * from __a")
    con.execute("create table __raw_1 as select * from __b")
    cols = {r: r for r in ROLES}
    cfg = LinkConfig(left=SideConfig(path=Path("a"), id_column="id", name="a", columns=cols),
                     right=SideConfig(path=Path("b"), id_column="id", name="b", columns=cols,
                                      date_format="%d/%m/%Y"))
    res = link_tables(con, cfg, inputs=["__raw_0", "__raw_1"], pairs_only=pairs_only)
    out = {t: con.sql(f"select * from {getattr(res, t)} order by left_id, right_id").fetchall()
           for t in ("scored", "pairs", "excluded")}
    return res, out, con


@pytest.fixture(scope="module")
def runs():
    quiet_splink(logging.ERROR)
    a, b, *_ = population(seed=5, households=250)
    full, full_out, c1 = _run(a, b, pairs_only=False)
    short, short_out, c2 = _run(a, b, pairs_only=True)
    yield full, full_out, short, short_out
    c1.close()
    c2.close()


def test_pairs_only_gives_the_pairs_of_a_full_run(runs):
    full, full_out, short, short_out = runs
    assert full_out["pairs"], "the population links"
    for t in ("scored", "pairs", "excluded"):
        assert short_out[t] == full_out[t], t
    for k in ("comparisons", "probability_two_random_records_match"):
        assert short.model.settings()[k] == full.model.settings()[k], k


def test_pairs_only_makes_no_clusters_ids_or_records(runs):
    full, _, short, _ = runs
    assert set(full.clusters) == {"high", "medium", "low"} and full.records
    assert short.clusters == {} and short.records == "" and short.id_changes == {}
    assert "cluster" not in short.summary["timings_s"] and "predict" in short.summary["timings_s"]


def test_a_retrained_linker_keeps_the_trained_parameters(runs):
    _, _, short, _ = runs
    model = short.model
    before = model.settings()
    model.linker = model._relink(before)
    after = model.settings()
    for k in ("comparisons", "probability_two_random_records_match", "blocking_rules_to_generate_predictions"):
        assert after[k] == before[k], k
