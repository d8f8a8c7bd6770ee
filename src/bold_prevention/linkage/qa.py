"""Linkage quality assurance: link rates by group, accuracy against a truth, threshold sensitivity, clerical review.

Reads the folder a ``bold link`` run wrote (``records.parquet``, ``scored_pairs.parquet``, ``summary.json``) and
writes a QA report (``qa.json`` and a standalone ``qa.html``, no JavaScript, no CDN):

* **Link rates** - the share of each dataset's records whose person (cluster) at each band also holds a record of
  another dataset (a dedupe: another record), by dataset and by every grouping present: sex, age band (from the
  year of birth at ``reference_date``), and the ``keep`` columns the config carried (ethnicity, region, year...).
  Linkage error is not random: a lower link rate for one group is a warning that its figures are biased.
* **Accuracy** - with a truth table (record id -> true person id), pairwise precision, recall and F1 at each band,
  overall and by the same groups (of the left record).
* **Threshold sensitivity** - how headline figures move across the bands: number of persons, share of persons
  with records in two or more datasets, and a rate the caller supplies (for example reoffending: an outcome table
  of record id -> true/false; a person's outcome is true if any of their records' is).
* **Clerical review** - :func:`review_sample` exports pairs stratified by match weight for people to judge;
  :func:`review_precision` imports their decisions and estimates precision at each band with a Wilson interval
  (stratified estimate, effective sample size).
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from ..errors import InputError
from ..files import atomic_dir, atomic_file
from ..outputs.intervals import wilson as wilson_interval
from ..warehouse.engine import quote_ident, sql_literal
from .splink_model import BANDS

#: Age bands (years) used for QA breakdowns.
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 17, "0-17"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 49, "35-49"), (50, 64, "50-64"), (65, None, "65+"),
)
#: `keep` column names recognised as QA groupings (first match wins).
GROUP_ALIASES: dict[str, tuple[str, ...]] = {
    "ethnicity": ("ethnicity", "ethnic_group", "ethnicity_desc", "ethnicity_group"),
    "region": ("region", "region_name", "lad_name", "local_authority", "area"),
    "year": ("year", "record_year", "snapshot_year"),
}
REVIEW_DECISIONS = {"match": True, "m": True, "yes": True, "y": True, "1": True, "true": True,
                    "non-match": False, "nonmatch": False, "no": False, "n": False, "0": False, "false": False}


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, Any]:
    p = tp / n_pred if n_pred else None
    r = tp / n_true if n_true else None
    f1 = (2 * p * r / (p + r)) if p is not None and r is not None and (p + r) else None

    def ci(k: int, n: int) -> list[float] | None:
        return [round(x, 5) for x in wilson_interval(k, n)] if n else None

    return {"true_positives": tp, "predicted": n_pred, "true": n_true,
            "precision": None if p is None else round(p, 5), "recall": None if r is None else round(r, 5),
            "f1": None if f1 is None else round(f1, 5),
            "precision_ci95": ci(tp, n_pred), "recall_ci95": ci(tp, n_true)}


def labelled_accuracy(run: RunFolder, labels: str | os.PathLike) -> dict[str, Any]:
    """Precision and recall at each band from a partial set of labelled pairs (not a full truth file).

    ``labels`` is a CSV/Parquet of ``left_id, right_id`` and ``label`` (match / non-match, yes / no, 1 / 0; rows
    marked unsure or blank are skipped). Precision at a band is the share of labelled pairs linked at that band
    that are matches; recall the share of labelled matches linked at it (a labelled match that was never scored
    counts as missed). Both carry Wilson 95% intervals. The estimates describe the population of pairs only if the
    labelled pairs are a random sample of it; for a sample stratified by match weight use ``bold link review``.
    """
    path = Path(labels)
    if not path.is_file():
        raise InputError(f"labels file {path} not found",
                         hint="give a CSV/Parquet of left_id, right_id and label (match / non-match)")
    reader = "read_parquet" if path.suffix.lower() in (".parquet", ".pq") else "read_csv"
    extra = ", all_varchar = true" if reader == "read_csv" else ""
    con = run.con
    con.execute(f"create or replace table labels_raw as select * from {reader}({sql_literal(path)}{extra})")
    cols = [r[0] for r in con.execute("describe labels_raw").fetchall()]
    lab = next((c for c in ("label", "decision", "is_match", "match") if c in cols), None)
    if not {"left_id", "right_id"} <= set(cols) or lab is None:
        raise InputError(f"labels file {path}: needs columns left_id, right_id and label",
                         hint="one row per labelled pair; label is match or non-match")
    yes = ", ".join(sql_literal(k) for k, v in REVIEW_DECISIONS.items() if v)
    no = ", ".join(sql_literal(k) for k, v in REVIEW_DECISIONS.items() if not v)
    norm = f"lower(trim(cast({quote_ident(lab)} as varchar)))"
    con.execute(f"""create or replace table labels as
        select cast(left_id as varchar) as left_id, cast(right_id as varchar) as right_id,
               {norm} in ({yes}) as is_match
        from labels_raw where {norm} in ({yes}, {no})""")
    n_lab, n_match = con.execute("select count(*), count(*) filter (where is_match) from labels").fetchall()[0]
    rank = {b: i for i, b in enumerate(BANDS)}
    out: dict[str, Any] = {"labelled_pairs": int(n_lab), "labelled_matches": int(n_match), "by_band": {}}
    for b in BANDS:
        allowed = ", ".join(sql_literal(x) for x in BANDS if rank[x] <= rank[b])
        linked, tp = con.execute(f"""
            select count(*), count(*) filter (where l.is_match) from labels l
            where exists (select 1 from scored s where s.guard is null and s.band in ({allowed})
                          and ((s.left_id = l.left_id and s.right_id = l.right_id)
                               or (s.left_id = l.right_id and s.right_id = l.left_id)))""").fetchall()[0]
        row = _prf(int(tp), int(linked), int(n_match))
        row["labelled_linked"] = row.pop("predicted")
        row["labelled_matches"] = row.pop("true")
        out["by_band"][b] = row
    return out


class RunFolder:
    """The files of a ``bold link`` run, loaded into a private DuckDB connection."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir)
        need = ["records.parquet", "scored_pairs.parquet", "summary.json"]
        missing = [n for n in need if not (self.path / n).exists()]
        if missing:
            raise InputError(f"{self.path} is not a `bold link` output folder (missing {', '.join(missing)})",
                             hint="give the --out folder of a finished `bold link` run")
        self.summary = json.loads((self.path / "summary.json").read_text("utf-8"))
        self.con = duckdb.connect()
        self.con.execute(f"create table records as select * from read_parquet({sql_literal(self.path / 'records.parquet')})")
        self.con.execute(f"create table scored as select * from read_parquet("
                         f"{sql_literal(self.path / 'scored_pairs.parquet')})")
        self.datasets = [d["name"] for d in self.summary["datasets"]]
        self.dedupe = self.summary["job"] == "dedupe"
        self.thresholds = self.summary["thresholds"]

    def columns(self) -> list[str]:
        return [r[0] for r in self.con.execute("describe records").fetchall()]

    def close(self) -> None:
        self.con.close()


def _group_columns(run: RunFolder, groups: Mapping[str, str] | None) -> dict[str, str]:
    cols = run.columns()
    out: dict[str, str] = {}
    if any(v is not None for v in run.con.execute("select max(sex) from records").fetchall()[0]):
        out["sex"] = "sex"
    if any(v is not None for v in run.con.execute("select max(birth_year) from records").fetchall()[0]):
        out["age_band"] = "age_band"
    if groups:
        for name, col in groups.items():
            if col not in cols:
                raise InputError(f"QA grouping {name!r}: column {col!r} is not in the run's records",
                                 hint="list the column under `keep` in the link config and run `bold link` again")
            out[name] = col
    else:
        for name, aliases in GROUP_ALIASES.items():
            for a in aliases:
                if a in cols:
                    out[name] = a
                    break
    return out


def _prepare(run: RunFolder, reference_date: date) -> None:
    cases = " ".join(f"when {reference_date.year} - birth_year between {lo} and {hi if hi is not None else 200} "
                     f"then '{label}'" for lo, hi, label in AGE_BANDS)
    run.con.execute(f"""create or replace table rec as
        select *, case when birth_year is null then 'Unknown' {cases} else 'Unknown' end as age_band from records""")
    for b in BANDS:
        if run.dedupe:
            run.con.execute(f"""create or replace table linked_{b} as
                select r.dataset, r.record_id, c.n > 1 as linked
                from rec r join (select cluster_{b} as cid, count(*) as n from rec group by 1) c
                  on c.cid = r.cluster_{b}""")
        else:
            run.con.execute(f"""create or replace table linked_{b} as
                select r.dataset, r.record_id, c.nd > 1 as linked
                from rec r join (select cluster_{b} as cid, count(distinct dataset) as nd from rec group by 1) c
                  on c.cid = r.cluster_{b}""")


def link_rates(run: RunFolder, groups: dict[str, str]) -> dict[str, Any]:
    """Share of records linked at each band, by dataset and by (dataset, group)."""
    out: dict[str, Any] = {"by_dataset": {}, "by_group": {}}
    con = run.con
    for b in BANDS:
        for ds, n, k in con.execute(f"select dataset, count(*), sum(case when linked then 1 else 0 end) "
                                    f"from linked_{b} group by 1 order by 1").fetchall():
            out["by_dataset"].setdefault(ds, {"records": int(n)})[b] = round(k / n, 5) if n else None
        for g, col in groups.items():
            rows = con.execute(f"""
                select r.dataset, coalesce(cast(r.{quote_ident(col)} as varchar), 'Unknown') as grp, count(*),
                       sum(case when l.linked then 1 else 0 end)
                from rec r join linked_{b} l using (dataset, record_id) group by 1, 2 order by 1, 2""").fetchall()
            for ds, grp, n, k in rows:
                cell = out["by_group"].setdefault(g, {}).setdefault(ds, {}).setdefault(grp, {"records": int(n)})
                cell[b] = round(k / n, 5) if n else None
    return out


def _load_truth(run: RunFolder, truth: str | os.PathLike | Mapping[str, Any]) -> None:
    spec = dict(truth) if isinstance(truth, Mapping) else {"path": truth}
    path = Path(spec["path"])
    if not path.exists():
        raise InputError(f"truth file {path} not found", hint="give a CSV or Parquet of record id and person id")
    reader = "read_parquet" if path.suffix.lower() in (".parquet", ".pq") else "read_csv"
    extra = ", all_varchar = true" if reader == "read_csv" else ""
    run.con.execute(f"create or replace table truth_raw as select * from {reader}({sql_literal(path)}{extra})")
    cols = [r[0] for r in run.con.execute("describe truth_raw").fetchall()]
    rid = spec.get("id") or next((c for c in ("record_id", "unique_id", "id") if c in cols), None)
    pid = spec.get("person") or next((c for c in ("person_id", "true_id", "cluster") if c in cols), None)
    ds = spec.get("dataset")
    if rid not in cols or pid not in cols:
        raise InputError(f"truth file {path}: needs a record-id and a person-id column (has {', '.join(cols)})",
                         hint="name them record_id and person_id, or say which with truth: {id: ..., person: ...}")
    ds_sql = f"cast({quote_ident(ds)} as varchar)" if ds and ds in cols else "null"
    run.con.execute(f"""create or replace table truth as
        select r.dataset, r.record_id, cast(t.{quote_ident(pid)} as varchar) as person_id
        from rec r join truth_raw t on cast(t.{quote_ident(rid)} as varchar) = r.record_id
         and ({ds_sql} is null or {ds_sql} = r.dataset)""")


def accuracy(run: RunFolder, groups: dict[str, str]) -> dict[str, Any]:
    """Pairwise precision, recall and F1 at each band against table ``truth``, overall and by group."""
    con = run.con
    left = run.datasets[0]
    if run.dedupe:
        cond = "a.record_id < b.record_id"
    else:
        cond = f"a.dataset = {sql_literal(left)} and b.dataset <> {sql_literal(left)}"
    con.execute(f"""create or replace table true_pairs as
        select a.record_id as left_id, b.record_id as right_id from truth a join truth b using (person_id)
        where {cond}""")
    rank = {b: i for i, b in enumerate(BANDS)}
    out: dict[str, Any] = {"overall": {}, "by_group": {}}
    for b in BANDS:
        allowed = ", ".join(sql_literal(x) for x in BANDS if rank[x] <= rank[b])
        con.execute(f"""create or replace table pred_{b} as
            select left_id, right_id from scored where guard is null and band in ({allowed})""")
        tp = con.execute(f"select count(*) from pred_{b} p join true_pairs t using (left_id, right_id)"
                         ).fetchall()[0][0]
        n_pred = con.execute(f"select count(*) from pred_{b}").fetchall()[0][0]
        n_true = con.execute("select count(*) from true_pairs").fetchall()[0][0]
        out["overall"][b] = _prf(int(tp), int(n_pred), int(n_true))
        for g, col in groups.items():
            rows = con.execute(f"""
                with lg as (select record_id, coalesce(cast({quote_ident(col)} as varchar), 'Unknown') as grp
                            from rec where dataset = {sql_literal(left)}),
                t as (select lg.grp, count(*) as n_true from true_pairs tp join lg on lg.record_id = tp.left_id
                      group by 1),
                p as (select lg.grp, count(*) as n_pred,
                             sum(case when tp.left_id is not null then 1 else 0 end) as tp
                      from pred_{b} pr join lg on lg.record_id = pr.left_id
                      left join true_pairs tp using (left_id, right_id) group by 1)
                select coalesce(t.grp, p.grp), coalesce(p.tp, 0), coalesce(p.n_pred, 0), coalesce(t.n_true, 0)
                from t full join p on t.grp = p.grp order by 1""").fetchall()
            for grp, tp_g, np_g, nt_g in rows:
                out["by_group"].setdefault(g, {}).setdefault(grp, {})[b] = _prf(int(tp_g), int(np_g), int(nt_g))
    return out


def sensitivity(run: RunFolder, outcomes: str | os.PathLike | None = None,
                outcome_column: str = "outcome") -> dict[str, Any]:
    """Headline figures at each band: persons, share of persons in 2+ datasets (records), outcome rate."""
    con = run.con
    if outcomes is not None:
        path = Path(outcomes)
        if not path.exists():
            raise InputError(f"outcomes file {path} not found", hint="give a CSV/Parquet of record_id, outcome")
        reader = "read_parquet" if path.suffix.lower() in (".parquet", ".pq") else "read_csv"
        con.execute(f"create or replace table outcomes_raw as select * from {reader}({sql_literal(path)})")
        cols = [r[0] for r in con.execute("describe outcomes_raw").fetchall()]
        if "record_id" not in cols or outcome_column not in cols:
            raise InputError(f"outcomes file {path}: needs columns record_id and {outcome_column}",
                             hint="one row per record with a true/false outcome (e.g. reoffended within 12 months)")
        ds = "cast(o.dataset as varchar)" if "dataset" in cols else "null"
        con.execute(f"""create or replace table outcomes as
            select r.dataset, r.record_id, cast(o.{quote_ident(outcome_column)} as boolean) as outcome
            from rec r join outcomes_raw o on cast(o.record_id as varchar) = r.record_id
             and ({ds} is null or {ds} = r.dataset)""")
    out: dict[str, Any] = {}
    for b in BANDS:
        persons, multi = con.execute(f"""
            with c as (select cluster_{b} as cid, count(distinct dataset) as nd, count(*) as n from rec group by 1)
            select count(*), sum(case when {'n' if run.dedupe else 'nd'} > 1 then 1 else 0 end) from c""").fetchall()[0]
        row: dict[str, Any] = {"threshold": run.thresholds[b], "persons": int(persons),
                               ("persons_with_2_or_more_records" if run.dedupe
                                else "share_in_2_or_more_datasets"): (int(multi) if run.dedupe
                                                                       else round(multi / persons, 5))}
        if outcomes is not None:
            k, n = con.execute(f"""
                with p as (select r.cluster_{b} as cid, bool_or(o.outcome) as outcome
                           from rec r join outcomes o using (dataset, record_id) group by 1)
                select sum(case when outcome then 1 else 0 end), count(*) from p""").fetchall()[0]
            row["outcome_persons"] = int(n)
            row["outcome_rate"] = round(k / n, 5) if n else None
        out[b] = row
    return out


def linkage_qa(run_dir: str | os.PathLike, *, truth: str | os.PathLike | Mapping[str, Any] | None = None,
               outcomes: str | os.PathLike | None = None, outcome_column: str = "outcome",
               groups: Mapping[str, str] | None = None, reference_date: date | None = None,
               labels: str | os.PathLike | None = None) -> dict[str, Any]:
    """The QA report of a ``bold link`` run as a dict (see the module docstring)."""
    run = RunFolder(run_dir)
    try:
        ref = reference_date or date.today()
        _prepare(run, ref)
        g = _group_columns(run, groups)
        report: dict[str, Any] = {
            "run": str(run.path), "job": run.summary["job"], "mode": run.summary["mode"],
            "datasets": run.datasets, "thresholds": run.thresholds, "reference_date": ref.isoformat(),
            "groups": g, "link_rates": link_rates(run, g), "sensitivity": sensitivity(run, outcomes, outcome_column),
            "guards": run.summary["pairs"]["excluded_by_guards"],
        }
        if truth is not None:
            _load_truth(run, truth)
            report["accuracy"] = accuracy(run, g)
        if labels is not None:
            report["labelled_accuracy"] = labelled_accuracy(run, labels)
        review = run.path / "review_decisions.csv"
        if review.exists():
            report["clerical_review"] = review_precision(run.path, review)
        return report
    finally:
        run.close()


# ------------------------------------------------------------------------------------------------ clerical review
def review_sample(run_dir: str | os.PathLike, out_csv: str | os.PathLike, *, n: int = 200, strata: int = 8,
                  seed: int = 42, identifiers: tuple[Any, Any | None] | None = None,
                  overwrite: bool = False) -> dict[str, Any]:
    """Export ``n`` scored pairs for clerical review, stratified by match weight (equal-width strata between the
    lowest and highest weight, equal allocation), with an empty ``decision`` column (match / non-match / unsure).

    ``identifiers``: optional ``(left, right)`` tables (Arrow) of ``unique_id`` and identifier columns, to show
    reviewers the two records side by side (``right`` None for a dedupe). This makes the file personal data: keep it
    inside the linkage environment.
    """
    if n < 1 or strata < 1:
        raise InputError("the review sample needs n >= 1 and strata >= 1", hint="use --n 200 --strata 8")
    run = RunFolder(run_dir)
    try:
        con = run.con
        lo, hi, total = con.execute("select min(match_weight), max(match_weight), count(*) from scored").fetchall()[0]
        if not total:
            raise InputError(f"{run.path} has no scored pairs to review", hint="run `bold link` on larger files")
        width = (hi - lo) / strata if hi > lo else 1.0
        per = max(1, math.ceil(n / strata))
        con.execute(f"""create or replace table strat as
            select *, least({strata - 1}, cast(floor((match_weight - {lo!r}) / {width!r}) as integer)) as stratum
            from scored""")
        con.execute(f"""create or replace table sample as
            with s as (select *, count(*) over (partition by stratum) as stratum_pairs,
                              row_number() over (partition by stratum
                                                 order by hash(left_id || '|' || right_id || '{int(seed)}'),
                                                          left_id, right_id) as k
                       from strat)
            select stratum, stratum_pairs, left_id, right_id, round(match_weight, 4) as match_weight,
                   round(match_probability, 6) as match_probability, coalesce(band, 'below low') as band,
                   guard from s where k <= {per} order by stratum, left_id, right_id""")
        cols = "stratum, stratum_pairs, left_id, right_id, match_weight, match_probability, band, guard"
        if identifiers is not None:
            left_t, right_t = identifiers
            con.register("__ids_left", left_t)
            con.register("__ids_right", right_t if right_t is not None else left_t)
            extra = ""
            for side in ("left", "right"):
                idcols = [r[0] for r in con.execute(f"describe select * from __ids_{side}").fetchall()
                          if r[0] != "unique_id"]
                extra += "".join(f", {side[0]}.{quote_ident(c)} as {quote_ident(side + '_' + c)}" for c in idcols)
            query = (f"select s.*{extra}, '' as decision, '' as note from sample s "
                     "left join __ids_left l on l.unique_id = s.left_id "
                     "left join __ids_right r on r.unique_id = s.right_id order by stratum, left_id, right_id")
        else:
            query = f"select {cols}, '' as decision, '' as note from sample order by stratum, left_id, right_id"
        rel = con.sql(query)
        rows = rel.fetchall()
        names = rel.columns
        with atomic_file(out_csv, overwrite=overwrite, mode="w") as fh:
            w = csv.writer(fh)
            w.writerow(names)
            w.writerows(rows)
        return {"pairs": len(rows), "strata": strata, "scored_pairs": int(total), "path": str(out_csv)}
    finally:
        run.close()


def review_precision(run_dir: str | os.PathLike, decisions_csv: str | os.PathLike) -> dict[str, Any]:
    """Estimate precision at each band from reviewers' decisions (stratified by match weight, Wilson interval).

    For the pairs a band links (band at least as strict, not refused by a guard), precision is the stratum-weighted
    share judged ``match``: p = sum_h W_h p_h with W_h the band's pairs in stratum h; its variance
    sum_h W_h^2 p_h (1 - p_h) / n_h gives an effective sample size for the Wilson interval.
    """
    path = Path(decisions_csv)
    if not path.exists():
        raise InputError(f"decisions file {path} not found", hint="give the review CSV with its decision column")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "decision" not in rows[0] or "left_id" not in rows[0] or "right_id" not in rows[0]:
        raise InputError(f"{path} has no left_id, right_id and decision columns",
                         hint="fill in the decision column of the file `bold link review export` wrote")
    judged: dict[tuple[str, str], bool] = {}
    bad = []
    for r in rows:
        d = (r.get("decision") or "").strip().lower()
        if not d or d in ("unsure", "?", "skip"):
            continue
        if d not in REVIEW_DECISIONS:
            bad.append(d)
            continue
        judged[(r["left_id"], r["right_id"])] = REVIEW_DECISIONS[d]
    if bad:
        raise InputError(f"{path}: unrecognised decision(s) {', '.join(sorted(set(bad))[:5])}",
                         hint="write match, non-match or unsure")
    run = RunFolder(run_dir)
    try:
        con = run.con
        lo, hi = con.execute("select min(match_weight), max(match_weight) from scored").fetchall()[0]
        strata = max((int(r.get("stratum") or 0) for r in rows), default=0) + 1
        width = (hi - lo) / strata if hi is not None and hi > lo else 1.0
        con.execute(f"""create or replace table strat as
            select *, least({strata - 1}, cast(floor((match_weight - {lo!r}) / {width!r}) as integer)) as stratum
            from scored""")
        import pyarrow as pa

        con.register("__judged", pa.table({
            "left_id": [k[0] for k in judged], "right_id": [k[1] for k in judged],
            "is_match": [v for v in judged.values()]}))
        rank = {b: i for i, b in enumerate(BANDS)}
        out: dict[str, Any] = {"decisions": len(judged), "strata": strata, "by_band": {}}
        for b in BANDS:
            allowed = ", ".join(sql_literal(x) for x in BANDS if rank[x] <= rank[b])
            res = con.execute(f"""
                with pop as (select stratum, count(*) as N from strat where guard is null and band in ({allowed})
                             group by 1),
                rev as (select s.stratum, count(*) as n, sum(case when j.is_match then 1 else 0 end) as k
                        from strat s join __judged j using (left_id, right_id)
                        where s.guard is null and s.band in ({allowed}) group by 1)
                select pop.stratum, pop.N, coalesce(rev.n, 0), coalesce(rev.k, 0)
                from pop left join rev using (stratum) order by 1""").fetchall()
            covered = [(N, n, k) for _s, N, n, k in res if n > 0]
            N_total = sum(N for N, _n, _k in covered)
            N_all = sum(N for _s, N, _n, _k in res)
            if not covered:
                out["by_band"][b] = {"reviewed": 0, "precision": None, "ci95": None, "pairs": int(N_all)}
                continue
            p = sum(N / N_total * (k / n) for N, n, k in covered)
            var = sum((N / N_total) ** 2 * (k / n) * (1 - k / n) / n for N, n, k in covered)
            n_rev = sum(n for _N, n, _k in covered)
            n_eff = (p * (1 - p) / var) if var > 0 else float(n_rev)
            lo_ci, hi_ci = wilson_interval(p * n_eff, n_eff)
            out["by_band"][b] = {"pairs": int(N_all), "pairs_in_reviewed_strata": int(N_total),
                                 "reviewed": int(n_rev), "precision": round(p, 5),
                                 "ci95": [round(lo_ci, 5), round(hi_ci, 5)], "effective_n": round(n_eff, 1)}
        return out
    finally:
        run.close()


# ------------------------------------------------------------------------------------------------ rendering
def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.1%}" if 0 <= v <= 1 else f"{v:,.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return html.escape(str(v))

    head = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Mapping[str, Any]) -> str:
    """A standalone, accessible HTML page of the QA report (inline CSS, no scripts)."""
    parts = [f"<h1>Linkage quality report</h1><p>Run <code>{html.escape(report['run'])}</code>: "
             f"{html.escape(report['job'])} of {', '.join(html.escape(d) for d in report['datasets'])} "
             f"({html.escape(report['mode'])} identifiers). Bands: "
             + ", ".join(f"{b} &ge; {report['thresholds'][b]}" for b in BANDS) + ".</p>"]
    lr = report["link_rates"]
    parts.append("<h2>Link rates by dataset</h2>")
    parts.append(_table(["dataset", "records", *BANDS],
                        [[ds, v["records"], *[v.get(b) for b in BANDS]] for ds, v in lr["by_dataset"].items()]))
    for g, per_ds in lr["by_group"].items():
        parts.append(f"<h2>Link rates by {html.escape(g.replace('_', ' '))}</h2>")
        rows = [[ds, grp, v["records"], *[v.get(b) for b in BANDS]]
                for ds, groups in per_ds.items() for grp, v in groups.items()]
        parts.append(_table(["dataset", g, "records", *BANDS], rows))
    if "accuracy" in report:
        acc = report["accuracy"]
        parts.append("<h2>Accuracy against the truth (pairs)</h2>")
        parts.append(_table(["band", "precision", "recall", "F1", "predicted", "true"],
                            [[b, v["precision"], v["recall"], v["f1"], v["predicted"], v["true"]]
                             for b, v in acc["overall"].items()]))
        for g, per in acc["by_group"].items():
            parts.append(f"<h3>By {html.escape(g.replace('_', ' '))}</h3>")
            rows = [[grp, b, v[b]["precision"], v[b]["recall"], v[b]["f1"], v[b]["true"]]
                    for grp, v in per.items() for b in BANDS if b in v]
            parts.append(_table([g, "band", "precision", "recall", "F1", "true pairs"], rows))
    if "labelled_accuracy" in report:
        la = report["labelled_accuracy"]

        def ci(v: list[float] | None) -> str:
            return "" if not v else f"{v[0]:.1%} to {v[1]:.1%}"

        parts.append(f"<h2>Accuracy from labelled pairs ({la['labelled_pairs']} labelled, "
                     f"{la['labelled_matches']} matches)</h2>")
        parts.append(_table(["band", "precision", "95% interval", "recall", "95% interval", "linked labelled"],
                            [[b, v["precision"], ci(v["precision_ci95"]), v["recall"], ci(v["recall_ci95"]),
                              v["labelled_linked"]] for b, v in la["by_band"].items()]))
    sens = report["sensitivity"]
    parts.append("<h2>Threshold sensitivity</h2>")
    keys = [k for k in next(iter(sens.values())) if k != "threshold"]
    parts.append(_table(["band", "threshold", *[k.replace("_", " ") for k in keys]],
                        [[b, v["threshold"], *[v.get(k) for k in keys]] for b, v in sens.items()]))
    if report.get("guards"):
        parts.append("<h2>Pairs refused by hard non-match rules</h2>")
        parts.append(_table(["rule", "pairs"], list(report["guards"].items())))
    if "clerical_review" in report:
        cr = report["clerical_review"]
        parts.append(f"<h2>Clerical review ({cr['decisions']} decisions)</h2>")
        parts.append(_table(["band", "pairs", "reviewed", "precision", "95% interval"],
                            [[b, v.get("pairs"), v.get("reviewed"), v.get("precision"),
                              "" if not v.get("ci95") else f"{v['ci95'][0]:.1%} to {v['ci95'][1]:.1%}"]
                             for b, v in cr["by_band"].items()]))
    css = ("body{font-family:Arial,Helvetica,sans-serif;margin:2em;max-width:70em;color:#0b0c0c}"
           "table{border-collapse:collapse;margin:0 0 1.5em}th,td{border:1px solid #b1b4b6;padding:.3em .6em;"
           "text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f3f2f1}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Linkage quality report</title>"
            f"<style>{css}</style></head><body><main>{''.join(parts)}</main></body></html>")


def write_qa_report(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False,
                    **kw: Any) -> dict[str, Any]:
    """Write ``qa.json`` and ``qa.html`` into ``out_dir`` (atomically). Keyword arguments as :func:`linkage_qa`."""
    report = linkage_qa(run_dir, **kw)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / "qa.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        (tmp / "qa.html").write_text(render_html(report), encoding="utf-8")
    return report


# ------------------------------------------------------------------------------------------------ warehouse link rates
def age_band_sql(dob: str, today: date) -> str:
    """A CASE expression giving the :data:`AGE_BANDS` label of the date of birth ``dob`` (a column or expression)
    at ``today`` ('Unknown' where it is missing)."""
    age = f"date_diff('year', {dob}, date '{today.isoformat()}')"
    return "case " + " ".join(
        f"when {age} >= {lo}" + (f" and {age} <= {hi}" if hi is not None else "") + f" then '{label}'"
        for lo, hi, label in AGE_BANDS) + " else 'Unknown' end"


#: The groups person-level records are counted by in :func:`records_by_band`: (name, words).
RECORD_GROUPS: tuple[tuple[str, str], ...] = (
    ("dataset", "dataset"), ("sex", "sex (as recorded)"), ("age_band", "age band (from the recorded date of birth)"))


def records_by_band(con, records: str, group: str, *, today: date | None = None):
    """Person-level records by the band at which they joined their person (``not linked`` where none), by
    ``group`` (one of :data:`RECORD_GROUPS`): a frame of ``grp, band, n``.

    ``records`` names a relation with one row per identity of a person-level record: ``source_table``,
    ``sex_std``, ``dob``, ``band_joined`` and ``primary_variant`` (the single view's identity index)."""
    from ..datafirst import MODEL

    if group == "dataset":
        expr = "case source_table " + " ".join(
            f"when '{t.name}' then '{t.dataset}'" for t in MODEL.person_tables()) + " end"
    elif group == "sex":
        expr = "coalesce(sex_std, 'Unknown')"
    elif group == "age_band":
        expr = age_band_sql("dob", today or date.today())
    else:
        raise InputError(f"records cannot be grouped by {group!r}",
                         hint=f"use one of {', '.join(g for g, _ in RECORD_GROUPS)}")
    return con.execute(f"select {expr} as grp, coalesce(band_joined, 'not linked') as band, count(*) as n "
                       f"from {records} where primary_variant group by all").df()


#: The groups spine persons are counted by in :func:`persons_by_weakest_band`: (column, words).
PERSON_GROUPS: tuple[tuple[str, str], ...] = (
    ("sex", "sex"), ("age_band", "age band"), ("ethnic_group", "ethnic group"), ("region", "region"))


def persons_by_weakest_band(con, group: str):
    """Spine persons by the weakest band among their links, by ``group`` (one of :data:`PERSON_GROUPS`): a frame
    of ``grp, weakest, n``."""
    if group not in dict(PERSON_GROUPS):
        raise InputError(f"spine persons cannot be grouped by {group!r}",
                         hint=f"use one of {', '.join(g for g, _ in PERSON_GROUPS)}")
    return con.execute(
        f"select coalesce(cast({quote_ident(group)} as varchar), 'Unknown') as grp, "
        "coalesce(cast(weakest_band_joined as varchar), 'Unknown') as weakest, count(*) as n "
        "from spine.person group by all").df()


def spine_band(con) -> str | None:
    """The band the spine's person records were built at (None: no person records)."""
    rows = con.execute("select any_value(band) from spine.person_record").fetchall()
    return rows[0][0] if rows else None
