"""How good is `bold plan cost`? Leave-one-out over the measured points it rests on, and the whole run against
measured `bold demo` runs.

    .venv/bin/python bench/plan_cost.py [--curves FILE]
    .venv/bin/python bench/plan_cost.py --count-pairs PROJECT     # candidate pairs of a linked project

Scoring (the default):

- stages other than ``link``: every stage and engine with three or more measured sizes; each size is predicted
  from the others alone (interpolated between its neighbours, or extrapolated beyond them);
- ``link``: each measured link run is predicted from the runs at other sizes (the fit of time to records,
  chunks and candidate pairs), with the run's pairs as shipped and, where they were counted at that size, once more
  with the pairs extrapolated from the count at another size;
- the whole run: each measured ``bold demo`` (``totals.demo`` in the curves) against the sum of the demo's stages
  estimated from the shipped curves (not left out: stages measured only inside the demo rest on its own points).

Errors are predicted / measured - 1. Results: bench/results/plan_cost.json and tables on standard output (copied
into BENCHMARKS.md).

``--count-pairs PROJECT [--truth DIR]``: count the candidate pairs of each blocking regime's rules on a project's
standardised justice identity records, and on the records of about half its persons
(``bold_prevention.planning.cost.pair_sample``): after a justice dedupe, its medium-band persons; otherwise the
records are standardised here and halved by the synthetic truth's persons. Printed as the ``link.pairs`` entries of
the curves.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bold_prevention.planning.cost import (
    LinkFit,
    PairCounts,
    default_stages,
    estimate,
    interpolate,
    load_curves,
    pair_sample,
    pairs_for,
)

RESULTS = Path(__file__).parent / "results"


def _near(a: float, b: float) -> bool:
    return abs(a / b - 1) < 0.25


def score_stages(curves) -> list[dict]:
    rows = []
    for stage, c in curves.stages.items():
        for engine, pts in (("duckdb", c.duckdb), ("spark", c.spark)):
            sizes = sorted({p[0] for p in pts})
            if len(sizes) < 3:
                continue
            for x in sizes:
                here = [p for p in pts if p[0] == x]
                rest = [p for p in pts if p[0] != x]
                t = sum(p[1] for p in here) / len(here)
                m = sum(p[2] for p in here) / len(here)
                pt, ext = interpolate([(p[0], p[1]) for p in rest], x)
                pm, _ = interpolate([(p[0], p[2]) for p in rest], x)
                rows.append({"stage": stage, "engine": engine, "persons": int(x), "measured_s": round(t, 1),
                             "predicted_s": round(pt, 1), "time_error": round(pt / t - 1, 3),
                             "measured_gb": round(m, 2), "predicted_gb": round(pm, 2),
                             "memory_error": round(pm / m - 1, 3), "basis": "extrapolated" if ext else "interpolated"})
    return rows


def score_link(curves) -> list[dict]:
    link = curves.link
    rows: list[dict] = []
    if link is None:
        return rows
    for engine, pts in (("duckdb", link.duckdb), ("spark", link.spark)):
        for p in pts:
            rest = [q for q in pts if not _near(q[0], p[0])]
            if len(rest) < 2:
                continue
            fit = LinkFit.from_points(rest)
            others = {r: [s for s in ss if not _near(s[0], p[0])] for r, ss in link.pairs.items()}
            ext_pairs, _regime, _note = pairs_for(link.model_copy(update={"pairs": others}), p[0])
            ext = not fit.records_range[0] <= p[0] <= fit.records_range[1]
            bases = [("pairs as shipped", p[1])]
            if abs(ext_pairs / p[1] - 1) > 0.005:
                bases.append(("pairs extrapolated from another size", ext_pairs))
            for basis, pairs in bases:
                t, m = fit.seconds(p[0], pairs, int(p[2])), fit.peak_gb(p[0], pairs, int(p[2]))
                rows.append({"stage": "link", "engine": engine, "records": int(p[0]), "chunks": int(p[2]),
                             "pairs": int(pairs), "measured_s": p[3], "predicted_s": round(t, 1),
                             "time_error": round(t / p[3] - 1, 3), "measured_gb": p[4], "predicted_gb": round(m, 2),
                             "memory_error": round(m / p[4] - 1, 3),
                             "basis": f"{basis}, {'extrapolated' if ext else 'interpolated'}"})
    return rows


def score_pairs(curves) -> list[dict]:
    """Each pair count predicted from the counts at other sizes in the same blocking regime."""
    rows = []
    if curves.link is None:
        return rows
    for regime, ss in curves.link.pairs.items():
        for s in ss:
            rest = [q for q in ss if not _near(q[0], s[0])]
            if not rest:
                continue
            best = min(rest, key=lambda q: abs(q[0] / s[0] - 1))
            pred = PairCounts(*best).at(s[0])
            rows.append({"regime": regime, "records": int(s[0]), "counted": int(s[1]), "predicted": int(pred),
                         "error": round(pred / s[1] - 1, 3), "from_records": int(best[0])})
    return rows


def score_runs(curves) -> list[dict]:
    """Each measured whole run against the estimate from the shipped curves (every point kept: the stages measured
    only inside that run rest on it), stage by stage."""
    rows = []
    for run, totals in curves.totals.items():
        stages = curves.runs.get(run) or default_stages(curves)
        for x, secs, gb in totals:
            est = estimate(int(x), stages=stages, curves=curves, machine_gb=64)
            rows.append({"run": run, "persons": int(x), "measured_s": secs, "predicted_s": round(est.seconds, 1),
                         "time_error": round(est.seconds / secs - 1, 3), "measured_gb": gb,
                         "predicted_gb": round(est.peak_gb, 2), "memory_error": round(est.peak_gb / gb - 1, 3),
                         "by_stage": {s.stage: round(s.seconds, 1) for s in est.stages}})
    return rows


def count_pairs(project: Path, truth: Path | None = None) -> dict:
    """The pair counts of a project: with ``truth`` (the generator's ``truth`` folder), its identity records are
    standardised here and halved by the synthetic truth's persons; otherwise on its linked records with their
    medium-band persons when it has them, else halved by record."""
    import duckdb

    from bold_prevention.datafirst import MODEL
    from bold_prevention.linkage.standardise import standardise_arrow
    from bold_prevention.scale.linkage import JUSTICE_ROLES, identity_sql
    from bold_prevention.warehouse.engine import table_exists

    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        if truth is None and table_exists(con, "linkage", "justice_standardised") and table_exists(
                con, "linkage", "justice_clusters"):
            table = ("(SELECT s.*, c.cluster_medium FROM linkage.justice_standardised s "
                     "JOIN linkage.justice_clusters c ON c.record_id = s.unique_id) AS records")
            return pair_sample(con, table, person="cluster_medium")
        tables = [t.name for t in MODEL.xjs_tables() if table_exists(con, "linkage", f"identity_{t.name}")]
        raw = con.sql(identity_sql(tables)).to_arrow_table()
    finally:
        con.close()
    std = standardise_arrow(raw, id_column="record_id", columns={r: r for r in JUSTICE_ROLES})
    mem = duckdb.connect()
    mem.register("std_arrow", std)
    mem.execute("CREATE TABLE std AS SELECT * FROM std_arrow")
    if truth is None:
        return pair_sample(mem, "std")
    mem.execute("CREATE TABLE truth AS SELECT \"table\" || ':' || record_id AS unique_id, person_id "
                f"FROM read_parquet('{truth / 'truth_record.parquet'}')")
    return pair_sample(mem, "(SELECT s.*, t.person_id FROM std s LEFT JOIN truth t USING (unique_id)) AS records",
                       person="coalesce(person_id, unique_id)")


def _pct(v: float) -> str:
    return f"{v:+.0%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--curves", default=None)
    ap.add_argument("--count-pairs", type=Path, metavar="PROJECT")
    ap.add_argument("--truth", type=Path, metavar="DIR", help="with --count-pairs: the synthetic truth folder")
    args = ap.parse_args()
    if args.count_pairs:
        counts = count_pairs(args.count_pairs, args.truth)
        print(json.dumps(counts, indent=2))
        for regime, ss in counts.items():
            print(f"    {regime}: [{', '.join('[' + ', '.join(str(int(v)) for v in s) + ']' for s in ss)}]")
        return
    curves = load_curves(args.curves)
    stages, link, pairs, runs = score_stages(curves), score_link(curves), score_pairs(curves), score_runs(curves)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "plan_cost.json").write_text(json.dumps({"stages": stages, "link": link, "pairs": pairs,
                                                        "runs": runs}, indent=2))
    print("| stage | engine | size | measured (s) | predicted (s) | error | measured GB | predicted GB | error | basis |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in stages:
        print(f"| {r['stage']} | {r['engine']} | {r['persons']:,} persons | {r['measured_s']} | {r['predicted_s']} | "
              f"{_pct(r['time_error'])} | {r['measured_gb']} | {r['predicted_gb']} | {_pct(r['memory_error'])} | "
              f"{r['basis']} |")
    for r in link:
        print(f"| link | {r['engine']} | {r['records']:,} records, {r['pairs'] / 1e6:.1f}M pairs, {r['chunks']} x "
              f"{r['chunks']} chunks | {r['measured_s']} | {r['predicted_s']} | {_pct(r['time_error'])} | "
              f"{r['measured_gb']} | {r['predicted_gb']} | {_pct(r['memory_error'])} | {r['basis']} |")
    if pairs:
        print("\n| blocking rules | records | pairs counted | predicted from | predicted | error |")
        print("|---|---|---|---|---|---|")
        for r in pairs:
            print(f"| {r['regime']} | {r['records']:,} | {r['counted']:,} | {r['from_records']:,} records | "
                  f"{r['predicted']:,} | {_pct(r['error'])} |")
    if runs:
        print("\n| run | persons | measured (s) | predicted (s) | error | measured GB | predicted GB | error |")
        print("|---|---|---|---|---|---|---|---|")
        for r in runs:
            print(f"| bold {r['run']} | {r['persons']:,} | {r['measured_s']} | {r['predicted_s']} | "
                  f"{_pct(r['time_error'])} | {r['measured_gb']} | {r['predicted_gb']} | {_pct(r['memory_error'])} |")


if __name__ == "__main__":
    main()
