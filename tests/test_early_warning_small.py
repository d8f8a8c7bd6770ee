"""Early warning on populations too small to publish: `bold ew train` finishes and says what is withheld, and the
card's text (summary, markdown) never fails on a withheld or not-estimable figure."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bold_prevention.cli import app
from bold_prevention.early_warning import metrics as M
from bold_prevention.early_warning import train as E
from bold_prevention.project import Project
from helpers_trajectories import ew_world

runner = CliRunner()
REOFF = "reoffending_12m_after_release"


def test_train_on_a_small_population_reports_withheld_figures(tmp_path):
    # about as many releases as 3,000 synthetic persons give: every test-period figure is withheld, which once
    # ended in a traceback (the printed summary indexed metrics that disclosure control had withheld)
    w = ew_world(150, seed=3)
    proj = Project.at(tmp_path / "project").ensure()
    w.wh.con.execute(f"attach '{proj.warehouse_path}' as f")
    w.wh.con.execute("copy from database memory to f")
    w.wh.con.execute("detach f")
    w.truth_outcomes.to_parquet(tmp_path / "truth_outcomes.parquet")
    r = runner.invoke(app, ["ew", "train", REOFF, "--project", str(proj.root), "--bootstrap", "10",
                            "--truth", str(tmp_path / "truth_outcomes.parquet")])
    assert r.exit_code == 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "model_card.md" in r.output and "band low" in r.output
    folder = next((proj.models_dir / "early_warning" / REOFF).glob(f"{REOFF}-*"))
    card = (folder / "model_card.md").read_text()
    assert "[c]" in card and "None" not in card  # some figures withheld, none printed as a Python value


# every shape a published estimate can take on the card
ESTIMATE = st.one_of(
    st.none(), st.just({}), st.just({"withheld": "withheld by disclosure control"}),
    st.fixed_dictionaries({"value": st.one_of(st.none(), st.floats(-2, 2, allow_nan=False)),
                           "lower": st.one_of(st.none(), st.floats(-2, 2, allow_nan=False)),
                           "upper": st.one_of(st.none(), st.floats(-2, 2, allow_nan=False))}),
    st.just({"value": None, "lower": None, "upper": None, "note": M.NOT_ESTIMABLE_SEPARATION}),
)
WITHHELD = st.just({"withheld": "withheld by disclosure control"})
COUNT = st.one_of(st.none(), st.integers(0, 10_000))


def _metrics():
    return st.one_of(WITHHELD, st.fixed_dictionaries({m: ESTIMATE for m in M.METRICS}))


def _band():
    return st.one_of(st.builds(lambda b, w: {"band": b, **w}, st.sampled_from(["high", "medium", "low"]), WITHHELD),
                     st.fixed_dictionaries({"band": st.sampled_from(["high", "medium", "low"]), "n": COUNT,
                                            "events": COUNT,
                                            "primary": st.one_of(WITHHELD, st.fixed_dictionaries(
                                                {"auc": ESTIMATE, "observed_expected": ESTIMATE})),
                                            "baseline": st.one_of(WITHHELD, st.fixed_dictionaries(
                                                {"auc": ESTIMATE}))}))


def _model_side():
    return st.one_of(WITHHELD, st.fixed_dictionaries({
        "auc": ESTIMATE, "brier": ESTIMATE, "gap": ESTIMATE,
        "gap_to_oracle": st.one_of(st.none(), st.floats(-1, 1, allow_nan=False)),
        "within_tolerance": st.one_of(st.none(), st.booleans())}))


ORACLE = st.one_of(st.none(), st.just({"withheld": "too few test rows matched the truth table"}),
                   st.fixed_dictionaries({
                       "test_rows": COUNT, "matched": COUNT, "all_test_rows": st.booleans(),
                       "label_agreement": st.one_of(st.none(), st.floats(0, 1)),
                       "oracle": st.one_of(WITHHELD, st.fixed_dictionaries({"auc": ESTIMATE, "brier": ESTIMATE})),
                       "primary": _model_side(), "baseline": _model_side(), "tolerance": st.just(0.05),
                       "true_outcome": st.one_of(WITHHELD, st.fixed_dictionaries({
                           "oracle": st.one_of(WITHHELD, st.fixed_dictionaries({"auc": ESTIMATE})),
                           "primary": st.one_of(WITHHELD, st.fixed_dictionaries({"auc": ESTIMATE, "gap": ESTIMATE})),
                           "baseline": st.one_of(WITHHELD, st.fixed_dictionaries({"auc": ESTIMATE,
                                                                                  "gap": ESTIMATE}))})),
                       "goal_true_outcome": st.just(0.03)}))


@settings(max_examples=120, deadline=None)
@given(prim=_metrics(), base=_metrics(), n=COUNT, events=COUNT, bands=st.lists(_band(), max_size=3),
       oracle=ORACLE)
def test_card_text_never_fails_on_withheld_or_missing_figures(prim, base, n, events, bands, oracle):
    card = {"evaluation": {"n": n, "events": events, "prevalence": None,
                           "primary": {"metrics": prim, "reliability": [], "subgroups": []},
                           "baseline": {"metrics": base, "reliability": [], "subgroups": []}},
            "linkage_bands": bands, "oracle": oracle}
    s = E.card_summary(card)
    assert len(s["table"]) == len(M.METRICS)
    text = " ".join([s["headline"], *(" ".join(r) for r in s["table"]), *s["bands"], *s["oracle"]])
    assert "None" not in text and "nan" not in text
    if "withheld" in prim:
        assert all(r[1] == "[c]" for r in s["table"])
    md = E.card_markdown({**card, "model_version": "v", "use_case": {"title": "t", "purpose": "p",
                                                                      "prediction_time": "T0", "outcome": "o",
                                                                      "window_months": 12},
                          "intended_use": "i", "not_intended_for": "n", "data": {}, "leakage_control": "l",
                          "features": [], "models": {"baseline": {"coefficients": []}}, "ethics": "e",
                          "limitations": [], "disclosure": "d"})
    assert "None" not in md.replace("Nonetheless", "")
