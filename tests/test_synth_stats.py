"""Statistical behaviour of the synthetic population on a larger sample: OASys measures the latent needs as
parameterised, needs co-occur in the answers, XJS error rates match their settings, truth outcomes are calibrated."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from bold_prevention.synth import OASYS_PROXY_RULES, SynthParams, generate

PERSONS = 20_000
PARAMS = SynthParams()


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth-big") / "population"
    generate(out, persons=PERSONS, seed=11)
    return out


@pytest.fixture(scope="module")
def db(big_dir):
    con = duckdb.connect()
    for name in ("oasys_assessments_details_core_risk", "oasys_assessments_metadata", "xjs_link"):
        con.execute(f"create view {name} as select * from read_parquet('{big_dir}/extracts/{name}.parquet')")
    for name in ("truth_person", "truth_record", "truth_outcomes"):
        con.execute(f"create view {name} as select * from read_parquet('{big_dir}/truth/{name}.parquet')")
    yield con
    con.close()


def _latest_proxies(db) -> pd.DataFrame:
    """Each assessed person's latest core assessment: proxy values and true needs."""
    exprs = ", ".join(f"coalesce(({rule}), false) as m_{d}" for d, rule in OASYS_PROXY_RULES.items())
    truth = ", ".join(f"p.need_{d} as t_{d}" for d in OASYS_PROXY_RULES)
    return db.execute(f"""
        select * from (
            select r.person_id, m.assessment_date, {exprs}, {truth},
                   row_number() over (partition by r.person_id order by m.assessment_date desc, m.row_id_hash) as k
            from oasys_assessments_details_core_risk c
            join oasys_assessments_metadata m using (row_id_hash)
            join truth_record r on r."table" = 'oasys_assessments_metadata' and r.record_id = c.row_id_hash
            join truth_person p using (person_id)) where k = 1""").df()


def test_register_proxies_estimate_prevalence_within_two_points(db):
    df = _latest_proxies(db)
    assert len(df) > 800
    for d in OASYS_PROXY_RULES:
        measured, true = df[f"m_{d}"].mean(), df[f"t_{d}"].mean()
        se = np.sqrt(true * (1 - true) / len(df))
        assert abs(measured - true) < 0.02 + 2 * se, f"{d}: proxy {measured:.3f} vs true {true:.3f}"


def test_accommodation_answers_follow_the_need(db):
    rows = db.execute("""select p.need_accommodation, avg((c.question_3_3 = 'YES' or c.question_3_4 = '2')::int),
                                avg((c.question_3_4 in ('1', '2'))::int)
        from oasys_assessments_details_core_risk c
        join truth_record r on r."table" = 'oasys_assessments_metadata' and r.record_id = c.row_id_hash
        join truth_person p using (person_id) group by 1""").fetchall()
    rates = {r[0]: r[1:] for r in rows}
    assert rates[True][0] > 0.85 and rates[False][0] < 0.05
    assert rates[True][1] > rates[False][1] + 0.5


def test_oasys_sensitivity_and_specificity_match_the_parameters(db):
    df = _latest_proxies(db)
    for d in OASYS_PROXY_RULES:
        pos, neg = df[df[f"t_{d}"]], df[~df[f"t_{d}"]]
        sens = pos[f"m_{d}"].mean()
        spec = 1 - neg[f"m_{d}"].mean()
        # missing answers lower the sensitivity a little below the domain-level parameter
        assert PARAMS.oasys_sensitivity[d] - 0.06 < sens <= 1.0, f"{d}: sensitivity {sens:.3f}"
        assert abs(spec - PARAMS.oasys_specificity[d]) < 0.025, f"{d}: specificity {spec:.3f}"


def test_needs_cooccur_in_oasys_answers(db):
    df = _latest_proxies(db)

    def odds_ratio(a: str, b: str) -> float:
        x, y = df[f"m_{a}"].to_numpy(), df[f"m_{b}"].to_numpy()
        n11, n10, n01, n00 = (x & y).sum(), (x & ~y).sum(), (~x & y).sum(), (~x & ~y).sum()
        return (n11 + 0.5) * (n00 + 0.5) / ((n10 + 0.5) * (n01 + 0.5))

    for a, b in (("low_income", "employment"), ("accommodation", "substance_misuse"),
                 ("family", "domestic_abuse"), ("mental_health", "substance_misuse"),
                 ("accommodation", "low_income")):
        assert odds_ratio(a, b) > 1.3, f"{a} and {b} should co-occur in OASys answers"


# ------------------------------------------------------------------------------------------------- XJS
@pytest.fixture(scope="module")
def xjs(db) -> pd.DataFrame:
    return db.execute("""select x.*, r.person_id from xjs_link x
        join truth_record r on r.record_id = x.row_id_hash""").df()


def _split_share(x: pd.DataFrame, params: SynthParams) -> np.ndarray:
    """Each record's chance of being split off its person's cluster, per band (from the settings)."""
    weak = x["source_dataset"].isin(["familyman", "civil_caseman_pcol"]).to_numpy()
    return {b: np.where(weak, r * params.xjs_weak_source_multiplier, r) for b, r in
            params.xjs_missed_link_rate.items()}


def _missed_rate(x: pd.DataFrame, band: str, params: SynthParams = PARAMS) -> tuple[float, float]:
    """Share of true-match record pairs not in one cluster (1 - pairwise recall), observed and expected.

    A pair stays linked when neither record is split off: expected share 1 - mean((1 - q_i)(1 - q_j)).
    """
    col = f"cluster_{band}"
    a = 1 - _split_share(x, params)[band]
    d = x.assign(a=a, a2=a * a)
    per_person = d.groupby("person_id").agg(n=("a", "size"), s=("a", "sum"), s2=("a2", "sum"))
    pairs = per_person["n"] * (per_person["n"] - 1) / 2
    linked_expected = ((per_person["s"] ** 2 - per_person["s2"]) / 2).sum()
    per_cluster = d.groupby(["person_id", col]).size()
    linked_observed = (per_cluster * (per_cluster - 1) / 2).sum()
    return 1 - linked_observed / pairs.sum(), 1 - linked_expected / pairs.sum()


def _merge_rate(x: pd.DataFrame, band: str, params: SynthParams = PARAMS) -> tuple[float, float]:
    """Share of persons sharing a cluster with another person, observed and expected.

    A join is visible when both persons keep at least one record in their cluster (chance ``A`` each), so the
    expected share is about ``rate * mean(A)^2``.
    """
    col = f"cluster_{band}"
    persons_per_cluster = x.groupby(col)["person_id"].nunique()
    shared = x[col].map(persons_per_cluster) > 1
    observed = shared.groupby(x["person_id"]).any().mean()
    q = _split_share(x, params)[band]
    keep_one = 1 - pd.Series(q, index=x.index).groupby(x["person_id"]).prod()
    expected = params.xjs_false_merge_rate[band] * keep_one.mean() ** 2
    return observed, expected


@pytest.mark.parametrize("band", ["high", "medium", "low"])
def test_xjs_missed_link_rates_match_their_settings(xjs, band):
    observed, expected = _missed_rate(xjs, band)
    assert abs(observed - expected) < 0.2 * expected + 0.004, f"{band}: {observed:.4f} vs {expected:.4f}"


@pytest.mark.parametrize("band", ["high", "medium", "low"])
def test_xjs_false_merge_rates_match_their_settings(xjs, band):
    observed, expected = _merge_rate(xjs, band)
    assert abs(observed - expected) < 0.3 * expected + 0.002, f"{band}: {observed:.4f} vs {expected:.4f}"


def test_xjs_bands_nest_and_order_their_errors(xjs):
    assert (xjs.groupby("cluster_high")["cluster_medium"].nunique() == 1).all()
    assert (xjs.groupby("cluster_medium")["cluster_low"].nunique() == 1).all()
    assert (xjs["estimated_xjs_id"] == xjs["cluster_medium"]).all()
    missed = [_missed_rate(xjs, b)[0] for b in ("high", "medium", "low")]
    merged = [_merge_rate(xjs, b)[0] for b in ("high", "medium", "low")]
    assert missed[0] > missed[1] > missed[2]
    assert merged[0] < merged[1] < merged[2]


def test_xjs_match_scores_reflect_the_band_thresholds(xjs):
    thr = PARAMS.xjs_thresholds
    multi = xjs.groupby("person_id")["row_id_hash"].transform("size") >= 2
    per_cluster = xjs.groupby("cluster_medium")["row_id_hash"].transform("size")
    linked = xjs[multi & (per_cluster >= 2)]
    assert (linked["match_score"] >= thr["medium"]).mean() > 0.99
    assert xjs["match_score"].between(0, 1).all()


def test_xjs_error_rates_follow_custom_settings(tmp_path):
    p = SynthParams().replace(xjs_missed_link_rate={"high": 0.3, "medium": 0.2, "low": 0.1},
                              xjs_false_merge_rate={"high": 0.05, "medium": 0.1, "low": 0.2})
    out = tmp_path / "custom"
    generate(out, persons=4000, seed=5, params=p)
    x = pq.read_table(out / "extracts" / "xjs_link.parquet").to_pandas()
    tr = pq.read_table(out / "truth" / "truth_record.parquet").to_pandas()
    x = x.merge(tr[["record_id", "person_id"]], left_on="row_id_hash", right_on="record_id")
    for band in ("high", "medium", "low"):
        observed, expected = _missed_rate(x, band, p)
        assert abs(observed - expected) < 0.15 * expected + 0.01, band
        merged, expected = _merge_rate(x, band, p)
        assert abs(merged - expected) < 0.3 * expected + 0.01, band


# ------------------------------------------------------------------------------------------------- truth outcomes
@pytest.mark.parametrize("use_case", ["reoffending_12m_after_release", "possession_12m_after_claim"])
def test_truth_outcomes_are_calibrated(db, use_case):
    rows = db.execute(f"select probability, outcome from truth_outcomes where use_case = '{use_case}'").fetchnumpy()
    p, y = rows["probability"], rows["outcome"].astype(float)
    assert len(p) > 50
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(y.mean() - p.mean()) < 4 * se
    # higher predicted probability, higher observed rate
    hi = p >= np.median(p)
    assert y[hi].mean() > y[~hi].mean()


def test_reoffending_probability_rises_with_needs(db):
    rows = db.execute("""select (p.need_substance_misuse or p.need_accommodation) as need, avg(o.probability)
        from truth_outcomes o join truth_person p using (person_id)
        where o.use_case = 'reoffending_12m_after_release' group by 1""").fetchall()
    means = dict(rows)
    assert means[True] > means[False]
