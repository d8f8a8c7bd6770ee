"""Disclosure control: rules, frequency tables (with a recovery attack on the margins), magnitude tables, rates,
models, and the sealed CheckedOutput (survival curves: tests/test_disclosure_survival.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from bold_prevention.errors import DisclosureError, InputError
from bold_prevention.outputs import (
    SUPPRESSED,
    CheckedOutput,
    check_counts,
    check_frequency_table,
    check_model,
    check_model_metrics,
    frequency_table,
    get_rules,
    load_rules,
    magnitude_table,
    percentage_table,
    rate_table,
    require_checked,
    time_series,
)
from bold_prevention.outputs.rules import PROFILES

EXACT = get_rules("default", round_base=None)  # no rounding: the attacker sees exact margins (the hardest case)


# --- the attack: bound each suppressed cell by linear programming over the published table ---------------------------

def attack(published: pd.DataFrame, lower: float) -> dict[tuple[int, int], tuple[float, float]]:
    """Min and max of every suppressed cell given the published cells, row/column/grand totals and cell >= lower.

    ``published`` is the checked table (last row and column are the totals, NaN where suppressed). Written
    independently of the module: it only reads the published numbers.
    """
    full = published.to_numpy(dtype=float)
    R, C = full.shape
    unknown = [(i, j) for i in range(R) for j in range(C) if np.isnan(full[i, j])]
    pos = {c: k for k, c in enumerate(unknown)}
    A, b = [], []
    lines = [[(i, j) for j in range(C - 1)] + [(i, C - 1)] for i in range(R)]
    lines += [[(i, j) for i in range(R - 1)] + [(R - 1, j)] for j in range(C)]
    for line in lines:
        *parts, total = line
        row, rhs = np.zeros(len(unknown)), 0.0
        for c, coef in [(p, 1.0) for p in parts] + [(total, -1.0)]:
            if c in pos:
                row[pos[c]] += coef
            else:
                rhs -= coef * full[c]
        if row.any():
            A.append(row)
            b.append(rhs)
    out = {}
    for c, k in pos.items():
        obj = np.zeros(len(unknown))
        obj[k] = 1.0
        kw = {"A_eq": np.array(A) if A else None, "b_eq": np.array(b) if A else None,
              "bounds": [(lower, None)] * len(unknown), "method": "highs"}
        lo, hi = linprog(obj, **kw), linprog(-obj, **kw)
        assert lo.status in (0, 3) and hi.status in (0, 3), "the published table must be consistent"
        out[c] = (lo.fun if lo.status == 0 else -np.inf, -hi.fun if hi.status == 0 else np.inf)
    return out


def full_truth(inner: np.ndarray) -> np.ndarray:
    R, C = inner.shape
    f = np.zeros((R + 1, C + 1))
    f[:R, :C], f[:R, C], f[R, :C], f[R, C] = inner, inner.sum(1), inner.sum(0), inner.sum()
    return f


small_counts = st.one_of(st.sampled_from([0, 0, 1, 2, 3, 5, 8, 9, 10, 11, 14]), st.integers(0, 60))


@st.composite
def count_tables(draw):
    r = draw(st.integers(1, 5))
    c = draw(st.integers(2, 5))
    cells = draw(st.lists(small_counts, min_size=r * c, max_size=r * c))
    return np.array(cells, dtype=float).reshape(r, c)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=count_tables(), zeros_disclosive=st.booleans())
def test_no_suppressed_cell_can_be_recovered_from_the_margins(inner, zeros_disclosive):
    rules = EXACT.replace(zeros_disclosive=zeros_disclosive)
    df = pd.DataFrame(inner, index=[f"r{i}" for i in range(inner.shape[0])],
                      columns=[f"c{j}" for j in range(inner.shape[1])])
    out = check_frequency_table(df, title="Random table", rules=rules)
    truth = full_truth(inner)
    published = out.data.to_numpy()
    mask = out.mask.to_numpy()
    # every primary risk is suppressed, every published number is the true one
    low = np.vectorize(rules.is_low)(truth)
    assert mask[low].all()
    assert np.array_equal(published[~mask], truth[~mask])
    # the attack cannot pin any suppressed cell down
    lower = 0.0 if zeros_disclosive else 1.0
    for (i, j), (lo, hi) in attack(out.data, lower).items():
        assert lo - 1e-6 <= truth[i, j] <= hi + 1e-6
        assert hi - lo > 1e-6, f"cell {(i, j)} recoverable as {lo} from the published margins"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=count_tables(), lower=st.sampled_from([0.0, 1.0]), data=st.data())
def test_graph_audit_agrees_with_linear_programming(inner, lower, data):
    """The module's fast exact audit (graph search) says a cell is recoverable iff the LP attack pins it down."""
    from bold_prevention.outputs._protect import recoverable, two_way

    truth = full_truth(inner)
    flags = data.draw(st.lists(st.booleans(), min_size=truth.size, max_size=truth.size))
    hidden = np.array(flags).reshape(truth.shape) & (truth >= lower)
    published = pd.DataFrame(np.where(hidden, np.nan, truth))
    by_lp = {c: hi - lo < 1e-6 for c, (lo, hi) in attack(published, lower).items()}
    by_graph = recoverable(two_way(truth, lb=lower), hidden)
    assert {c for c, fixed in by_lp.items() if fixed} == {tuple(map(int, c)) for c in np.argwhere(by_graph)}


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(small_counts, min_size=1, max_size=8))
def test_one_way_table_total_does_not_reveal_a_suppressed_cell(cells):
    s = pd.Series(cells, index=[f"k{i}" for i in range(len(cells))], dtype=float)
    out = check_frequency_table(s, title="One way", rules=EXACT)
    vals = out.data.iloc[:, 0].to_numpy()
    hidden = np.isnan(vals)
    truth = np.append(np.array(cells, float), sum(cells))
    assert (hidden | (truth >= 10)).all()
    if hidden[-1]:  # total suppressed: the cells alone give nothing away
        return
    if hidden.any():
        # sum of hidden cells is known; each alone must not be
        assert hidden[:-1].sum() >= 2, "a single suppressed cell equals total minus the others"
        assert truth[:-1][hidden[:-1]].sum() > 0 or not EXACT.zeros_disclosive


@settings(max_examples=60, deadline=None)
@given(inner=count_tables(), profile=st.sampled_from(sorted(p for p, r in PROFILES.items() if r.method != "cell-key")))
def test_rounding_and_threshold_properties(inner, profile):
    rules = get_rules(profile)
    df = pd.DataFrame(inner, index=[f"r{i}" for i in range(inner.shape[0])],
                      columns=[f"c{j}" for j in range(inner.shape[1])])
    out = check_frequency_table(df, title="Rounded", rules=rules)
    truth = full_truth(inner)
    pub = out.data.to_numpy()
    shown = ~np.isnan(pub)
    base = rules.round_base
    assert (np.mod(pub[shown], base) == 0).all()
    assert (np.abs(pub[shown] - truth[shown]) <= base / 2).all()
    # nothing below the threshold is published (zeros only where the profile allows them)
    assert not ((truth[shown] > 0) & (truth[shown] < rules.threshold)).any()
    if rules.zeros_disclosive:
        assert not (truth[shown] == 0).any()
    # suppressed cells are shown as [c] and nowhere else
    assert (out.symbols.to_numpy()[~shown] == SUPPRESSED).all()
    assert (out.symbols.to_numpy()[shown] == "").all()


# --- rules --------------------------------------------------------------------------------------------------------------

def test_profiles_and_threshold_semantics():
    d = PROFILES["default"]
    assert (d.threshold, d.zeros_disclosive, d.round_base, d.nk_n, d.nk_k, d.p_ratio, d.survival_min_at_risk,
            d.model_min_dof) == (10, True, 5, 2, 0.90, 0.10, 10, 10)
    assert d.is_low(9) and not d.is_low(10) and d.is_low(0)  # ACRO: count < 10 fails, 10 passes
    assert not PROFILES["ons_10_5"].is_low(0) and PROFILES["ons_10_5"].is_low(9)
    os_ = PROFILES["opensafely"]
    assert os_.is_low(7) and not os_.is_low(8) and os_.round_base == 5
    assert d.round_count(12) == 10 and d.round_count(13) == 15 and d.round_count(12.5) == 15
    assert get_rules("default", round_base=None).round_count(13) == 13
    assert d.to_acro_config()["safe_threshold"] == 10


def test_rules_file_and_bad_values(tmp_path):
    f = tmp_path / "rules.yaml"
    f.write_text("profile: opensafely\nround_base: 10\nnk_k: 0.85\n")
    r = load_rules(f)
    assert (r.threshold, r.round_base, r.nk_k) == (8, 10, 0.85)
    assert get_rules(str(f)).round_base == 10
    with pytest.raises(InputError, match="threshold"):
        get_rules("default", threshold=0)
    with pytest.raises(InputError, match="unknown disclosure rule parameter"):
        get_rules("default", treshold=5)
    with pytest.raises(InputError, match="unknown disclosure rule profile"):
        get_rules("strictest")
    (tmp_path / "bad.yaml").write_text("profile: nope\n")
    with pytest.raises(InputError, match="unknown profile"):
        load_rules(tmp_path / "bad.yaml")


# --- frequency tables ---------------------------------------------------------------------------------------------------

def _people(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "region": rng.choice(["North East", "North West", "London", "South West", "Wales"], n,
                             p=[0.04, 0.3, 0.4, 0.22, 0.04]),
        "disposal": rng.choice(["custody", "community", "fine", "discharge"], n, p=[0.2, 0.4, 0.3, 0.1]),
        "sex": rng.choice(["F", "M", None], n, p=[0.2, 0.78, 0.02]),
        "income": rng.gamma(2.0, 9000.0, n),
    })


def test_frequency_table_from_microdata_matches_a_crosstab_and_logs_each_action():
    df = _people()
    out = frequency_table(df, "region", "disposal", title="Disposals by region")
    truth = pd.crosstab(df.region, df.disposal, margins=True, margins_name="Total")
    assert list(out.data.columns) == list(truth.columns)
    assert sorted(map(str, out.data.index)) == sorted(map(str, truth.index))
    t = truth.loc[out.data.index, out.data.columns].to_numpy()
    mask = out.mask.to_numpy()
    assert mask[t < 10].all()
    assert (np.abs(out.data.to_numpy()[~mask] - t[~mask]) <= 2.5).all()
    acts = {(e.rule, e.action) for e in out.log}
    assert {("min-threshold", "suppress"), ("rounding", "round"), ("secondary-suppression", "checked")} <= acts
    for e in out.log:
        if e.action == "suppress":
            assert e.row is not None and e.column is not None and e.reason
    assert out.status == "review" and out.publishable
    assert "suppressed" in out.public_summary()


def test_missing_values_form_a_not_known_level_and_structural_levels_are_zero_cells():
    df = _people()
    out = frequency_table(df, "sex", title="Sex", levels={"sex": ["F", "M", "X", "Not known"]})
    assert list(out.data.index) == ["F", "M", "X", "Not known", "Total"]
    assert out.mask.loc["X"].all()  # zero: class disclosure
    # logged like any small count: the log never tells a zero from a small count
    assert out.cell_rules.loc["X"].iloc[0] == "min-threshold"
    assert not any(e.rule == "zeros" and e.row == "X" for e in out.log)


def test_check_counts_long_table_sums_duplicates_and_fills_missing_cells_with_zero():
    long = pd.DataFrame({"la": ["Barnet", "Barnet", "Camden", "Camden", "Ealing"],
                         "band": ["high", "low", "high", "high", "low"], "n": [40, 25, 30, 12, 50]})
    cells = check_counts(long, "n", "la", "band", title="By LA", rules=EXACT, margins=False)
    assert cells.data.loc["Camden", "high"] == 42
    assert cells.mask.loc["Camden", "low"] and cells.mask.loc["Ealing", "high"]  # zeros not in the long table
    assert "Total" not in cells.data.index
    out = check_counts(long, "n", "la", "band", title="By LA", rules=EXACT)
    assert out.data.loc["Total", "Total"] == 157 and out.mask.loc["Camden", "low"]
    with pytest.raises(InputError, match="already has a total"):
        check_counts(pd.concat([long, pd.DataFrame({"la": ["Total"], "band": ["low"], "n": [1]})]), "n", "la",
                     "band", title="Bad")
    with pytest.raises(InputError, match="not found"):
        check_counts(long, "count", "la", title="Bad")


def test_secondary_suppression_example_and_released_complements_are_logged():
    df = pd.DataFrame({"high": [3, 25, 12], "low": [40, 31, 8]}, index=["Barnet", "Camden", "Ealing"])
    out = check_frequency_table(df, title="Example", rules=EXACT)
    m = out.mask
    assert m.loc["Barnet", "high"] and m.loc["Ealing", "low"]
    assert m.sum().sum() == 4  # a 2x2 cycle: Barnet/Ealing x high/low
    assert all(v > 0.5 for v in [hi - lo for lo, hi in attack(out.data, 0.0).values()])
    sec = [e for e in out.log if e.rule == "secondary-suppression" and e.action == "suppress"]
    assert len(sec) == 2 and all("cannot be worked out" in e.reason for e in sec)


def test_nothing_publishable_still_makes_an_output_saying_why():
    out = check_counts(pd.DataFrame({"la": ["a", "b"], "n": [3, 4]}), "n", "la", title="Tiny")
    assert not out.publishable and out.n_suppressed == out.n_cells == 3
    reason = out.nothing_publishable_reason()
    assert "Nothing in this table can be published" in reason and "fewer than 10" in reason
    assert reason in out.public_summary()


def test_bad_count_tables_are_refused_with_the_table_named():
    with pytest.raises(InputError, match="'Neg'.*negative"):
        check_frequency_table(pd.DataFrame({"a": [1, -2]}), title="Neg")
    with pytest.raises(InputError, match="missing counts"):
        check_frequency_table(pd.DataFrame({"a": [1, np.nan], "b": [1, 2]}), title="Nan")


# --- sealed outputs ------------------------------------------------------------------------------------------------------

def test_checked_output_cannot_be_forged_changed_or_pickled():
    with pytest.raises(DisclosureError, match="checked-outputs-only"):
        CheckedOutput(title="forged", kind="frequency", data=pd.DataFrame({"a": [1]}),
                      symbols=pd.DataFrame({"a": [""]}), rules=EXACT)
    out = check_frequency_table(pd.DataFrame({"a": [30, 40], "b": [20, 50]}), title="Fine")
    with pytest.raises(AttributeError):
        out._data = pd.DataFrame()
    copy = out.data
    copy.iloc[0, 0] = 1  # a copy: no effect
    assert out.verify() is out
    out._data.iloc[0, 0] = 3  # reaching inside is detected
    with pytest.raises(DisclosureError, match="integrity"):
        out.verify()
    with pytest.raises(DisclosureError, match="integrity"):
        require_checked(out)
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(check_frequency_table(pd.DataFrame({"a": [30]}), title="P"))
    with pytest.raises(DisclosureError, match="checked-outputs-only.*pandas.DataFrame"):
        require_checked(pd.DataFrame({"a": [1]}), "table 1")


# --- magnitude tables ----------------------------------------------------------------------------------------------------

def _spend() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for la in ["Barnet", "Camden", "Ealing", "Hackney"]:
        for band in ["high", "low"]:
            n = 30
            if (la, band) == ("Ealing", "low"):
                n = 7  # too few contributors
            vals = rng.gamma(3.0, 100.0, n)
            if (la, band) == ("Camden", "high"):
                vals[0] = 250_000.0  # one dominant contributor
            if (la, band) == ("Hackney", "low"):
                vals[:2] = [150_000.0, 140_000.0]  # two dominant contributors (p-ratio)
            rows += [(la, band, v) for v in vals]
    return pd.DataFrame(rows, columns=["la", "band", "cost"])


def test_dominance_rules_catch_planted_contributors_and_the_rest_is_exact():
    df = _spend()
    out = magnitude_table(df, "cost", "la", "band", title="Cost", rules=EXACT)
    cr = out.cell_rules
    assert {"nk-dominance", "p-ratio"} <= set(cr.loc["Camden", "high"].split(";"))
    assert {"nk-dominance", "p-ratio"} <= set(cr.loc["Hackney", "low"].split(";"))
    assert "min-threshold" in cr.loc["Ealing", "low"]
    assert out.mask.loc["Barnet", "high"] == False  # noqa: E712
    expect = df[(df.la == "Barnet") & (df.band == "high")].cost.sum()
    assert out.data.loc["Barnet", "high"] == pytest.approx(expect)
    # the sums table hides its suppressed cells from its own margins too
    for cell, (lo, hi) in attack(out.data, 0.0).items():
        assert hi - lo > 1e-6, f"{cell} recoverable"
    means = magnitude_table(df, "cost", "la", "band", title="Mean cost", stat="mean", rules=EXACT)
    assert means.mask.equals(out.mask)
    assert means.data.loc["Barnet", "high"] == pytest.approx(expect / 30)
    assert means.data.loc["Total", "Total"] == pytest.approx(df.cost.mean()) or means.mask.loc["Total", "Total"]


def test_negative_values_mark_the_output_for_review():
    df = _spend().assign(cost=lambda d: d.cost - 400)
    out = magnitude_table(df, "cost", "la", "band", title="Net cost")
    assert out.status == "review" and any("negative" in r for r in out.review)


# --- rates and percentages -----------------------------------------------------------------------------------------------

def _with_margins(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["Total"] = out.sum(axis=1)
    out.loc["Total"] = out.sum(axis=0)
    return out


def test_rates_are_suppressed_with_numerator_or_denominator_and_use_exact_counts():
    events = pd.DataFrame({"2022": [4, 30, 0], "2023": [25, 12, 18]}, index=["a", "b", "c"])
    people = pd.DataFrame({"2022": [120, 8, 400], "2023": [130, 150, 600]}, index=["a", "b", "c"])
    num = check_frequency_table(events, title="Events", rules="ons_10_5")
    den = check_frequency_table(people, title="People", rules="ons_10_5")
    rate = rate_table(num, den, title="Rate", per=1000)
    events = _with_margins(events)
    people = _with_margins(people)
    for i in rate.data.index:
        for c in rate.data.columns:
            if num.mask.loc[i, c] or den.mask.loc[i, c]:
                assert rate.symbols.loc[i, c] == SUPPRESSED
            elif den.data.loc[i, c] == 0:
                assert rate.symbols.loc[i, c] == "[z]"
            elif rate.symbols.loc[i, c] == "":  # from the exact counts, not the rounded ones
                assert rate.data.loc[i, c] == pytest.approx(round(events.loc[i, c] / people.loc[i, c] * 1000, 1))
    assert rate.symbols.loc["b", "2022"] == SUPPRESSED  # denominator 8
    assert rate.data.loc["c", "2022"] == 0  # a true zero published under ons_10_5
    with pytest.raises(DisclosureError, match="checked-outputs-only"):
        rate_table(num, pd.DataFrame(), title="x")


def test_percentages_follow_their_counts():
    counts = check_frequency_table(pd.DataFrame({"yes": [40, 3, 35], "no": [60, 50, 45]}, index=["a", "b", "c"]),
                                   title="C")
    pct = percentage_table(counts, of="row")
    row_total_hidden = counts.mask[["Total"]].to_numpy()
    assert (pct.mask.to_numpy() == (counts.mask.to_numpy() | row_total_hidden)).all()
    assert pct.data.loc["a", "yes"] == pytest.approx(counts.data.loc["a", "yes"] / counts.data.loc["a", "Total"]
                                                     * 100)
    assert pct.mask.loc["b", "yes"]
    one_way = percentage_table(check_frequency_table(pd.Series({"x": 30, "y": 70}), title="One"))
    assert one_way.data.loc["Total"].iloc[0] == 100


def test_time_series_points_below_the_threshold_are_suppressed_without_totals():
    ts = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-03", "2024-04"], "n": [25, 4, 30, 0],
                       "pop": [200, 210, 5, 220]})
    counts = time_series(ts, "month", "n", title="Monthly")
    assert counts.kind == "series" and "Total" not in counts.data.index
    assert counts.mask.iloc[:, 0].tolist() == [False, True, False, True]
    rates = time_series(ts, "month", "n", denominator="pop", title="Monthly rate")
    assert rates.mask.iloc[:, 0].tolist() == [False, True, True, True]


# --- models -----------------------------------------------------------------------------------------------------------

def _ols(n: int):
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"age": rng.normal(35, 10, n), "prior": rng.poisson(2, n).astype(float)})
    y = 0.1 * X.age + 0.5 * X.prior + rng.normal(size=n)
    return sm.OLS(y, sm.add_constant(X)).fit()


def test_model_coefficients_publish_with_enough_dof_and_are_suppressed_without():
    res = _ols(200)
    out = check_model(res, title="Reoffending model")
    assert out.publishable and list(out.data.index) == ["const", "age", "prior"]
    assert out.data.loc["age", "Coefficient"] == pytest.approx(res.params["age"])
    assert any("200 observations" in n for n in out.notes)
    tiny = check_model(_ols(12), title="Tiny model")  # 12 - 3 = 9 residual dof
    assert not tiny.publishable and "degrees of freedom" in tiny.nothing_publishable_reason()


@pytest.mark.parametrize("bad", ["resid", "fittedvalues", "predict", "array", "frame"])
def test_model_residuals_and_predictions_are_refused(bad):
    res = _ols(200)
    obj = {"resid": res.resid, "fittedvalues": res.fittedvalues, "predict": res.predict(),
           "array": np.asarray(res.resid),
           "frame": pd.DataFrame({"coef": [1.0], "residual": [0.2]}, index=["age"])}[bad]
    with pytest.raises(DisclosureError, match="model-no-individual-values"):
        check_model(obj, title="Leaky", dof=100)


def test_sklearn_model_and_metrics():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = (X.a + rng.normal(size=300) > 0).astype(int)
    m = LogisticRegression().fit(X, y)
    out = check_model(m, title="Logistic", n_obs=300)
    assert list(out.data.index) == ["Intercept", "a", "b"]
    with pytest.raises(InputError, match="degrees of freedom"):
        check_model(m, title="Logistic")
    metrics = check_model_metrics({"AUC": 0.74, "Brier score": 0.18}, n=300, n_events=120, title="Performance")
    assert metrics.publishable
    few = check_model_metrics({"AUC": 0.9}, n=300, n_events=6, title="Few events")
    assert not few.publishable
    with pytest.raises(DisclosureError, match="model-no-individual-values"):
        check_model_metrics({"predicted risk": [0.1, 0.2]}, n=300, title="Leaky")


def test_place_prevalence_on_the_synthetic_population_cannot_be_unpicked(synth_dir):
    """Need by local authority on the synthetic population: sparse, many zeros; the attack recovers nothing."""
    people = pd.read_parquet(synth_dir / "truth" / "truth_person.parquet")
    top = people.lad_code.value_counts().index[:25]
    sub = people[people.lad_code.isin(top)]
    out = frequency_table(sub, "lad_code", ["need_accommodation", "need_substance_misuse"],
                          title="Accommodation and substance misuse need by local authority", rules=EXACT)
    assert out.n_suppressed and out.publishable
    for cell, (lo, hi) in attack(out.data, 0.0).items():
        assert hi - lo > 1e-6, f"{cell} recoverable"
    levels = {"lad_code": sorted(top)}
    needs = check_counts(sub.assign(n=sub.need_accommodation.astype(int)), "n", "lad_code", levels=levels,
                         title="People with accommodation need")
    population = check_counts(sub.assign(n=1), "n", "lad_code", levels=levels, title="People")
    prevalence = rate_table(needs, population, per=1000, title="Accommodation need per 1,000")
    hidden = needs.mask.to_numpy() | population.mask.to_numpy()
    assert (prevalence.mask.to_numpy() >= hidden).all()  # and where too few lack the need
    shown = ~prevalence.mask.to_numpy()
    k = sub.groupby("lad_code").need_accommodation.sum().reindex(sorted(top)).to_numpy()
    n = sub.groupby("lad_code").size().reindex(sorted(top)).to_numpy()
    exact = np.append(k / n, k.sum() / n.sum()).reshape(-1, 1) * 1000
    assert np.allclose(prevalence.data.to_numpy()[shown], np.round(exact, 1)[shown])


def test_which_tables_are_solved_optimally_depends_on_their_size_not_the_clock():
    """A large table goes to the graph heuristic by its size alone (no solve that could finish on a fast machine and
    time out on a slow one), and a small one gets the same optimal pattern every time."""
    from bold_prevention.outputs import _protect

    rng = np.random.default_rng(1)
    big = rng.poisson(60, size=(333, 9)).astype(float)
    small = rng.poisson(60, size=(12, 6)).astype(float)
    for v, n in ((big, 9), (small, 4)):
        idx = rng.choice(v.size, n, replace=False)
        v.flat[idx] = rng.integers(1, 9, n)
    big_primary, small_primary = big < 10, small < 10
    assert big_primary.sum() * big.size > _protect.OPTIMAL_LIMIT
    assert _protect.optimal_protect(_protect.two_way(big), big_primary, time_limit=1e-3) is None
    first = _protect.optimal_protect(_protect.two_way(small), small_primary)
    again = _protect.optimal_protect(_protect.two_way(small), small_primary)
    assert first is not None and again is not None
    assert (first.suppressed == again.suppressed).all() and not (_protect.recoverable(
        _protect.two_way(small), first.suppressed) & small_primary).any()
