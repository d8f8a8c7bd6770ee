"""Studies 2, 3 and 5 (prison leavers and homelessness, children with a parent in prison, victims' journeys through a
support service) end to end on a small synthetic world with a known truth, and the victims' support service source.

One world is synthesised, loaded and linked per module (about a minute); treat its warehouse as read-only."""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.outputs import CheckedOutput
from bold_prevention.outputs.figures import protected_count
from bold_prevention.project import Project
from bold_prevention.studies import children_parent_prison, prison_leavers_housing, victims_support
from bold_prevention.studies._pilots import BANDS, BandEstimate, across_bands, band_filter, poisson_interval
from bold_prevention.studies.base import StudyContext
from bold_prevention.studies.run import load_study, run_study, write_study_release

AS_AT = date(2022, 12, 31)
SOURCES = ("npd", "hmrc", "support")
PILOTS = ("prison_leavers_housing", "children_parent_prison", "victims_support")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Path]:
    """(population folder, warehouse) of 5,000 persons (seed 7): npd, hmrc and the support service linked, local
    authority residents linked, children related."""
    from bold_prevention.linkage.wave import link_source_to_spine
    from bold_prevention.linkage.wave_link import link_wave_source, load_wave_source
    from bold_prevention.spine import build_spine
    from bold_prevention.spine.children import build_children
    from bold_prevention.synth import generate
    from bold_prevention.warehouse.load import load_extracts

    root = tmp_path_factory.mktemp("pilots")
    generate(root / "pop", persons=5000, seed=7, sources=SOURCES)
    project = Project(root / "proj").ensure()
    load_extracts(project, root / "pop")
    build_spine(project, as_at=AS_AT, band="medium")
    con = duckdb.connect(str(project.warehouse_path))
    try:
        for s in SOURCES:
            load_wave_source(con, s, root / "pop")
            link_wave_source(con, s)
        link_source_to_spine(con, "la_residents")
        build_children(con)
    finally:
        con.close()
    return root / "pop", project.warehouse_path


@pytest.fixture(scope="module")
def runs(world):
    pop, wh = world
    con = duckdb.connect(str(wh), read_only=True)
    try:
        yield {n: run_study(con, None, n, truth=pop) for n in PILOTS}
    finally:
        con.close()


def _ctx(con, band: str = "medium", truth_dir: Path | None = None, **params) -> StudyContext:
    return StudyContext(con=con, project=Project(Path("unused")), spec=None, band=band, params=params,
                        truth_dir=truth_dir)


# ----------------------------------------------------------------------------------------------- the truth
@pytest.mark.parametrize("name", PILOTS)
def test_every_published_headline_with_a_truth_recovers_it(runs, name):
    run = runs[name]
    with_truth = [h for h in run.result.headlines if h.truth is not None and h.value is not None]
    assert with_truth, f"{name}: no published headline has a synthetic truth"
    for h in with_truth:
        assert h.lower <= h.value <= h.upper, h
        assert h.recovers_truth, f"{name}: {h.label}: truth {h.truth} outside [{h.lower}, {h.upper}]"


def test_the_key_figures_are_published_and_recover_their_truth(runs):
    got = {h.name: h for r in runs.values() for h in r.result.headlines}
    for key in ("reoffending_12m", "children_parent_in_prison", "hazard_ratio_aged_under_25",
                "hazard_ratio_police_referral", "court_record_share"):
        assert got[key].value is not None and got[key].recovers_truth, got[key]
    # the hazard ratios are the generator's, and the study sees their direction
    assert got["hazard_ratio_aged_under_25"].truth == 1.8 and got["hazard_ratio_police_referral"].truth == 0.6
    assert got["hazard_ratio_aged_under_25"].value > 1 > got["hazard_ratio_police_referral"].value


def test_children_interval_carries_the_bands(world):
    pop, wh = world
    con = duckdb.connect(str(wh), read_only=True)
    try:
        year = 2021
        counts = {b: len(children_parent_prison.children(con, b, year)) for b in BANDS}
        r = children_parent_prison.run(_ctx(con, truth_dir=pop / "truth", year=year))
    finally:
        con.close()
    assert counts["high"] <= counts["medium"] <= counts["low"]
    h = r.headlines[0]
    assert h.truth is not None and h.truth > 0
    if h.value is not None:
        lo_high, _ = poisson_interval(counts["high"])
        _, hi_low = poisson_interval(counts["low"])
        assert h.lower <= math.floor(lo_high) + 1e-9 and h.upper >= math.ceil(hi_low) - 1e-9


# ----------------------------------------------------------------------------------------------- disclosure
@pytest.mark.parametrize("name", PILOTS)
def test_every_output_is_checked_and_the_release_passes_the_audit(runs, name, tmp_path):
    run = runs[name]
    assert run.result.outputs and all(isinstance(o, CheckedOutput) for o in run.result.outputs)
    assert run.result.methods and "synthetic" in run.result.methods.lower()
    write_study_release(run, tmp_path / "release")
    assert any((tmp_path / "release").iterdir())


def test_no_identifier_reaches_an_output(runs, world):
    pop, _ = world
    refs = pq.read_table(pop / "waves" / "support_referrals.parquet").to_pandas()
    names = set(refs["surname"].dropna().astype(str)) | set(refs["postcode"].dropna().astype(str))
    for run in runs.values():
        for o in run.result.outputs:
            text = " ".join(map(str, [*o.data.index, *o.data.columns, o.title]))
            assert not any(n in text for n in names if len(n) > 3)


# ----------------------------------------------------------------------------------------------- missing sources
@pytest.mark.parametrize("mod, table, how", [
    (prison_leavers_housing, "prison_custodial_journey", "bold load"),
    (children_parent_prison, "prison_custodial_journey", "bold load"),
    (victims_support, "support_referrals", "bold synth --sources support"),
])
def test_missing_source_is_named_with_how_to_load_it(mod, table, how):
    con = duckdb.connect()
    try:
        r = mod.run(_ctx(con))
    finally:
        con.close()
    assert not r.headlines and len(r.not_available) == 1
    assert table in r.not_available[0] and how in r.not_available[0]


def test_study_without_local_authority_data_runs_the_rest(world, tmp_path):
    _, wh = world
    copy = tmp_path / "w.duckdb"
    shutil.copy(wh, copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute("DROP TABLE extract.la_service_contacts")
        r = prison_leavers_housing.run(_ctx(con, band="medium"))
        assert any("la_service_contacts" in n and "bold load" in n for n in r.not_available)
        assert {h.name for h in r.headlines} == {"no_settled_accommodation", "reoffending_12m"}
        con.execute("DROP TABLE extract.support_contacts")
        con.execute("DROP TABLE extract.support_referrals")
        with pytest.raises(InputError) as e:
            run_study(con, None, "victims_support")
        assert "support" in str(e.value) and "--sources support" in (e.value.hint or "")
    finally:
        con.close()


def test_definitions_are_valid_and_name_their_sources():
    for n in PILOTS:
        spec = load_study(n)
        assert spec.code_name == n and spec.methods.synthetic and spec.truth
        assert any(s.required for s in spec.sources)


# ----------------------------------------------------------------------------------------------- the synthetic source
def test_support_service_source_is_consistent(world):
    pop, _ = world
    refs = pq.read_table(pop / "waves" / "support_referrals.parquet").to_pandas()
    contacts = pq.read_table(pop / "waves" / "support_contacts.parquet").to_pandas()
    truth = pq.read_table(pop / "truth" / "truth_support_service.parquet").to_pandas()
    assert len(refs) > 50 and refs["referral_id"].is_unique
    assert set(truth["referral_id"]) == set(refs["referral_id"])
    assert (refs["exit_date"].isna() == refs["exit_reason"].isna()).all()
    closed = refs.dropna(subset=["exit_date"])
    assert (closed["exit_date"] >= closed["referral_date"]).all()
    assessed = refs.dropna(subset=["assessment_date"])
    assert (assessed["assessment_date"] > assessed["referral_date"]).all()
    m = contacts.merge(refs, on="referral_id")
    assert len(m) == len(contacts)
    assert (m["contact_date"] > m["referral_date"]).all()
    assert (m["exit_date"].isna() | (m["contact_date"] <= m["exit_date"])).all()
    assert (refs["age_at_referral"] >= 16).all()


def test_support_source_by_wave_and_deterministic(tmp_path):
    from bold_prevention.datafirst.waves import resolve_sources
    from bold_prevention.synth import generate

    assert resolve_sources([], [3]) == ("support",)
    a = generate(tmp_path / "a", persons=600, seed=3, sources=("support",))
    b = generate(tmp_path / "b", persons=600, seed=3, sources=("support",))
    assert a.tables["support_referrals"].sha256 == b.tables["support_referrals"].sha256
    assert a.tables["support_contacts"].sha256 == b.tables["support_contacts"].sha256
    assert "truth_support_hazard" in a.truth


# ----------------------------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=3, max_size=3))
def test_interval_across_bands_holds_every_band(pairs):
    est = {b: BandEstimate(b, float(min(k, n)), float(n)) for b, (k, n) in zip(BANDS, pairs, strict=True)}
    lo, hi = across_bands(est)
    for e in est.values():
        elo, ehi = e.interval()
        if math.isnan(elo):
            continue
        assert lo <= elo <= ehi <= hi
        # the limits come from the published (protected) counts only: the exact counts behind them stay hidden
        k, n = protected_count(e.k), protected_count(e.n)
        if k is not None and n is not None:
            assert e.interval() == BandEstimate(e.band, float(k), float(n)).interval()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_poisson_interval_holds_the_count(k):
    lo, hi = poisson_interval(k)
    assert 0 <= lo <= k <= hi


@settings(deadline=None)  # a DuckDB connection per example: slow on a loaded machine, not wrong
@given(st.sampled_from(BANDS))
def test_band_filter_admits_the_band_and_stricter_ones(band):
    con = duckdb.connect()
    try:
        got = {r[0] for r in con.execute(f"SELECT b FROM (VALUES ('high'), ('medium'), ('low')) t(b) "
                                         f"WHERE {band_filter(band, 'b')}").fetchall()}
    finally:
        con.close()
    assert got == set(BANDS[: BANDS.index(band) + 1])
    with pytest.raises(InputError):
        band_filter("weak")
    assert np.isfinite(poisson_interval(0)[1])


@pytest.mark.parametrize("breakage, column", [("no_key", "date_of_birth"), ("out_of_period", "referral_date")])
def test_broken_support_file_is_refused_naming_the_column(world, tmp_path, breakage, column):
    import pyarrow as pa
    import pyarrow.compute as pc

    from bold_prevention.linkage.wave_link import load_wave_source

    pop, wh = world
    folder = tmp_path / "support"
    folder.mkdir()
    t = pq.read_table(pop / "waves" / "support_referrals.parquet")
    i = t.schema.get_field_index(column)
    if breakage == "no_key":
        t = t.set_column(i, column, pa.nulls(len(t), t.schema.field(column).type))
    else:
        t = t.set_column(i, column, pc.cast(pa.array([date(1990, 1, 1)] * len(t)), t.schema.field(column).type))
    pq.write_table(t, folder / "support_referrals.parquet")
    shutil.copy(pop / "waves" / "support_contacts.parquet", folder / "support_contacts.parquet")
    copy = tmp_path / "w.duckdb"
    shutil.copy(wh, copy)
    con = duckdb.connect(str(copy))
    try:
        res = load_wave_source(con, "support", folder)
    finally:
        con.close()
    assert res.tables["support_referrals"] == "refused"
    text = " ".join(res.problems)
    assert "support_referrals" in text and (column in text or "usable key" in text)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.one_of(st.none(), st.integers(0, 400)),
                          st.sampled_from(["COMPLETED", "DISENGAGED", "REFERRED", "MOVED"]),
                          st.sampled_from(["POLICE", "SELF", "HEALTH"]), st.integers(16, 80)),
                min_size=0, max_size=40))
def test_support_study_never_fails_on_small_or_odd_services(rows):
    """Any small service (no referrals, no disengagements, one covariate constant) gives withheld or consistent
    figures, never an error."""
    con = duckdb.connect()
    try:
        con.execute("CREATE SCHEMA extract")
        con.execute("CREATE TABLE extract.support_referrals (referral_id VARCHAR, referral_date DATE, "
                    "referral_source VARCHAR, crime_type VARCHAR, assessment_date DATE, exit_date DATE, "
                    "exit_reason VARCHAR, age_at_referral BIGINT)")
        for i, (start, length, reason, source, age) in enumerate(rows):
            d0 = date(2015, 1, 1).toordinal() + start
            con.execute("INSERT INTO extract.support_referrals VALUES (?, ?, ?, 'SV', NULL, ?, ?, ?)",
                        [f"R{i}", date.fromordinal(d0), source,
                         None if length is None else date.fromordinal(d0 + length),
                         None if length is None else reason, age])
        r = victims_support.run(_ctx(con))
    finally:
        con.close()
    for h in r.headlines:
        assert h.value is None or (h.lower is None or h.lower <= h.value <= h.upper), h
    if not rows:
        assert r.not_available and not r.headlines


def test_court_record_share_carries_the_referrals_missed_links(world, runs):
    """The support linkage keeps each referral's best candidate; Study 5's interval carries the referrals the model
    expects it missed (its upper limit is above the one of the links made) and says so in the release's text."""
    from bold_prevention.studies._pilots import link_recall

    pop, wh = world
    con = duckdb.connect(str(wh), read_only=True)
    try:
        rec = {b: link_recall(con, "support_referrals", b) for b in BANDS}
        assert len(victims_support.court_records(con, "low")) >= len(victims_support.court_records(con, "medium"))
    finally:
        con.close()
    assert all(r is not None and 0 < r.recall <= 1 for r in rec.values())
    assert rec["high"].recall <= rec["medium"].recall
    h = next(h for h in runs["victims_support"].result.headlines if h.name == "court_record_share")
    texts = dict(runs["victims_support"].result.texts)
    assert "expected to have missed" in texts["Interval"] and "recall" in texts["Interval"]
    assert h.upper > h.value


def test_wave_linkage_keeps_every_records_best_candidate(world):
    """``spine.link_candidates``: one row per support referral with a scored pair; every joined referral has its
    joined person and band there; its pairwise score is a probability; no identifier column."""
    from bold_prevention.linkage.wave import LINK_CANDIDATES

    pop, wh = world
    con = duckdb.connect(str(wh), read_only=True)
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE {LINK_CANDIDATES}").fetchall()]
        n, distinct, bad = con.execute(f"""SELECT count(*), count(DISTINCT record_id),
            count(*) FILTER (WHERE pair_score < 0 OR pair_score > 1) FROM {LINK_CANDIDATES}
            WHERE source_table = 'support_referrals'""").fetchone()
        unmatched = con.execute(f"""SELECT count(*) FROM spine.person_record r LEFT JOIN {LINK_CANDIDATES} c
            ON c.source_table = r.source_table AND c.record_id = r.record_id
            WHERE r.source_table = 'support_referrals'
              AND (c.record_id IS NULL OR c.person_id <> r.person_id OR c.band_joined <> r.band_joined)""").fetchone()
        below = con.execute(f"""SELECT count(*) FROM {LINK_CANDIDATES} WHERE source_table = 'support_referrals'
            AND coalesce(band_joined, 'none') NOT IN ('high', 'medium')""").fetchone()[0]
    finally:
        con.close()
    assert cols == ["source_table", "record_id", "person_id", "pair_score", "match_score", "band_joined"]
    assert n == distinct > 0 and bad == 0 and unmatched[0] == 0
    assert below > 0  # the records the spine does not hold are kept too


# ----------------------------------------------------------------------------------- the improved person id
def _improved_copy(con) -> None:
    """An improved XJS person id that is XJS's own (the audit's table, shaped like ``extract.xjs_link``)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS linkage")
    con.execute("CREATE OR REPLACE TABLE linkage.xjs_link_improved AS SELECT * FROM extract.xjs_link")


def test_reoffending_follows_the_improved_person(world, tmp_path):
    """A magistrates' case planted 30 days after a release, on another XJS fragment (another medium and low
    person): on the published id the release does not count as reoffending; once the improved id joins the two
    fragments it does at the medium and low bands (the high band stays XJS's own); the improved id only joins
    persons, so no other release loses its reoffending, and only the joined persons' releases gain it."""
    pop, wh = world
    w = tmp_path / "w.duckdb"
    shutil.copy(wh, w)
    start, end = date(2011, 1, 1), date(2021, 12, 31)
    con = duckdb.connect(str(w))
    try:
        before = prison_leavers_housing.leavers(con, "medium", start, end)
        quiet = before[~before["reoffended"].astype(bool)].iloc[0]
        rel = con.execute("""SELECT x.cluster_medium, x.cluster_low FROM extract.prison_custodial_journey p
            JOIN extract.xjs_link x ON x.source_dataset = 'prison_nomis' AND x.row_id_hash = p.row_id_hash
            WHERE p.row_id_hash = ?""", [quiet["journey"]]).fetchone()
        case, case_person = con.execute("""SELECT c.row_id_hash, x.cluster_medium FROM extract.mags_defendant_case c
            JOIN extract.xjs_link x ON x.source_dataset = 'mags_hocas' AND x.row_id_hash = c.row_id_hash
            WHERE x.cluster_medium <> ? AND x.cluster_low <> ? ORDER BY 1 LIMIT 1""", list(rel)).fetchone()
        con.execute("UPDATE extract.mags_defendant_case SET main_offence_date = ? WHERE row_id_hash = ?",
                    [pd.Timestamp(quiet["release_date"]).date() + timedelta(days=30), case])
        published = {b: prison_leavers_housing.leavers(con, b, start, end).set_index("journey") for b in BANDS}
        assert not any(published[b].loc[quiet["journey"], "reoffended"] for b in BANDS)
        _improved_copy(con)
        same = prison_leavers_housing.leavers(con, "medium", start, end).set_index("journey")
        assert same["reoffended"].equals(published["medium"]["reoffended"])  # XJS's own persons: nothing moves
        con.execute("""UPDATE linkage.xjs_link_improved SET cluster_medium = ?, cluster_low = ?
                       WHERE cluster_medium = ?""", [*rel, case_person])
        joined_pkeys = {rel[0], case_person}
        for b in BANDS:
            after = prison_leavers_housing.leavers(con, b, start, end).set_index("journey")
            assert after.loc[quiet["journey"], "reoffended"] == (b != "high")
            a, p = after["reoffended"].astype(bool), published[b]["reoffended"].astype(bool)
            assert not (p & ~a).any()
            gained = after[a & ~p]
            if b == "medium":
                assert set(gained["pkey"]) <= joined_pkeys
        # the release says which person id it counted on
        run = run_study(con, None, "prison_leavers_housing", bands=(), truth=pop)
        assert "improved XJS person id" in dict(run.result.texts)["Persons"]
    finally:
        con.close()


def test_studies_stage_writes_the_improved_id_for_study_2(world, tmp_path, monkeypatch):
    """The pipeline's studies stage runs the XJS audit before Study 2 when the project lacks the improved id."""
    from bold_prevention.linkage import xjs_audit
    from bold_prevention.studies.run import ensure_improved_id

    calls = []
    monkeypatch.setattr(xjs_audit, "audit_xjs", lambda con, progress=None: calls.append(1) or {"improved_table": 1})
    pop, wh = world
    w = tmp_path / "w.duckdb"
    shutil.copy(wh, w)
    con = duckdb.connect(str(w))
    try:
        assert ensure_improved_id(con, [load_study("children_parent_prison")]) is None and not calls
        assert ensure_improved_id(con, [load_study("prison_leavers_housing")]) == {"improved_table": 1}
        _improved_copy(con)
        assert ensure_improved_id(con, [load_study("prison_leavers_housing")]) is None and len(calls) == 1
    finally:
        con.close()
