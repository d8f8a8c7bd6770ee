"""Benchmark: person timelines, pathway analyses, and an early-warning use case (features, training, evaluation).

    .venv/bin/python bench/trajectories.py --persons 1000000
    .venv/bin/python bench/trajectories.py --persons 100000 --use-case possession_12m_after_claim

A synthetic population is generated and loaded once in a child process (cached under ``bench/results/data/``), and
the XJS person records are built at the medium band (setup, timed but not a target). Timed in this process:

* ``build_timeline`` (``spine.timeline`` from every linked dataset);
* the pathway analyses over the timeline (possession and justice funnels, frequent sequences, transition matrix,
  Kaplan-Meier time from release to court);
* for the use case: the feature build (index events, features as of T0, outcomes) and the training of both models
  (the target), then the evaluation (bootstrap intervals, reliability, subgroups, the three linkage bands, the
  oracle comparison with the synthetic truth, the disclosure-checked model card and release, and the scores of every
  index event written to ``results.early_warning_scores``).

Prints and records (JSON under ``bench/results/``) wall times, rows per second, peak memory (resident set size of
this process, DuckDB included) and the machine. Targets (issue 9): timelines for 1,000,000 persons under 3 minutes;
feature build and training for one use case on 1,000,000 persons under 10 minutes with peak memory under 12 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from measure import PeakRSS, machine  # noqa: E402


def prepare(persons: int, seed: int) -> tuple[Path, Path]:
    """A synthetic population and a loaded project (cached)."""
    data = RESULTS / "data" / f"trajectories-{persons}-seed{seed}"
    synth, project = data / "synth", data / "project"
    if (synth / "manifest.json").exists() and (project / "warehouse.duckdb").exists():
        print(f"using the cached population and warehouse under {data}")
        return synth, project
    data.mkdir(parents=True, exist_ok=True)
    print(f"generating and loading {persons:,} persons into {data} ...", flush=True)
    t0 = time.perf_counter()
    code = ("import sys; from bold_prevention.synth import generate; "
            "from bold_prevention.warehouse.load import load_extracts; from bold_prevention.project import Project; "
            f"generate(sys.argv[1], persons={persons}, seed={seed}, overwrite=True); "
            "load_extracts(Project.at(sys.argv[2]), sys.argv[1] + '/extracts', write_report=False)")
    subprocess.run([sys.executable, "-c", code, str(synth), str(project)], check=True)
    print(f"prepared in {time.perf_counter() - t0:.1f} s", flush=True)
    return synth, project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--use-case", default="reoffending_12m_after_release")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit")
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")
    synth, project_dir = prepare(args.persons, args.seed)

    from bold_prevention.early_warning import train as E
    from bold_prevention.early_warning.features import build_dataset
    from bold_prevention.early_warning.usecase import load_use_case
    from bold_prevention.linkage.xjs import build_person_records
    from bold_prevention.project import Project
    from bold_prevention.trajectories import pathways as P
    from bold_prevention.trajectories import survival as S
    from bold_prevention.trajectories.timeline import build_timeline
    from bold_prevention.warehouse.engine import duckdb_connect

    proj = Project.at(project_dir).ensure()
    con = duckdb_connect(proj)
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    res: dict = {"persons": args.persons, "seed": args.seed, "use_case": args.use_case, "machine": machine(),
                 "duckdb_memory_limit": args.memory_limit, "when": datetime.now(UTC).isoformat(timespec="seconds")}

    t0 = time.perf_counter()
    build_person_records(con, band="medium")
    res["person_records_s"] = time.perf_counter() - t0
    res["person_records"] = con.execute("SELECT COUNT(*) FROM spine.person_record").fetchall()[0][0]
    print(f"setup: {res['person_records']:,} person records in {res['person_records_s']:.1f} s", flush=True)

    with PeakRSS() as peak:
        t0 = time.perf_counter()
        s = build_timeline(con)
        res["timeline_s"] = time.perf_counter() - t0
    res["timeline_rows"], res["timeline_persons"] = s.rows, s.persons
    res["timeline_rows_per_s"] = s.rows / res["timeline_s"]
    res["timeline_peak_rss_gb"] = peak.peak / 2**30
    print(f"timeline: {s.rows:,} events of {s.persons:,} persons in {res['timeline_s']:.1f} s "
          f"({res['timeline_rows_per_s']:,.0f} events/s; peak {res['timeline_peak_rss_gb']:.2f} GB)", flush=True)

    with PeakRSS() as peak:
        t0 = time.perf_counter()
        P.funnel(con, "possession")
        P.funnel(con, "justice")
        P.frequent_sequences(con, window_days=365)
        P.transition_matrix(con)
        S.analysis(con, "court_after_release")
        res["pathways_s"] = time.perf_counter() - t0
    res["pathways_peak_rss_gb"] = peak.peak / 2**30
    print(f"pathways (two funnels, sequences, transitions, Kaplan-Meier): {res['pathways_s']:.1f} s", flush=True)

    uc = load_use_case(args.use_case)
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        ds = build_dataset(con, uc)
        res["features_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        model, test = E.fit(ds, seed=0)
        res["training_s"] = time.perf_counter() - t1
        res["features_and_training_s"] = time.perf_counter() - t0
        res["features_and_training_peak_rss_gb"] = peak.peak / 2**30
    res["index_events"], res["observed_index_events"] = len(ds.frame), len(ds.observed)
    res["n_train"], res["n_test"] = model.n_train, len(test)
    res["boosting_iterations"] = int(model.primary.model.n_iter_)
    print(f"{args.use_case}: {len(ds.frame):,} index events; features {res['features_s']:.1f} s, training "
          f"{res['training_s']:.1f} s (peak {res['features_and_training_peak_rss_gb']:.2f} GB)", flush=True)

    with PeakRSS() as peak:
        t0 = time.perf_counter()
        rep = E._evaluate_and_write(con, model, ds, test, project=proj, n_boot=args.bootstrap, truth=synth,
                                    bands=True, write_scores_table=True,
                                    progress=lambda m: print(f"  {m}", flush=True))
        res["evaluation_s"] = time.perf_counter() - t0
    res["evaluation_peak_rss_gb"] = peak.peak / 2**30
    ev, o = rep.card["evaluation"], rep.card.get("oracle") or {}
    res["test_auc"] = {w: ev[w]["metrics"]["auc"] for w in ("primary", "baseline")}
    res["test_brier"] = {w: ev[w]["metrics"]["brier"] for w in ("primary", "baseline")}
    res["calibration_slope"] = {w: ev[w]["metrics"]["calibration_slope"] for w in ("primary", "baseline")}
    res["linkage_bands_auc"] = {b["band"]: b.get("primary", {}).get("auc") for b in rep.card["linkage_bands"]}
    res["oracle"] = {k: o.get(k) for k in ("matched", "label_agreement", "oracle", "primary", "baseline")}
    res["scores_written"] = rep.scores_written
    print(f"evaluation (bootstrap {args.bootstrap}, bands, oracle, card, scores): {res['evaluation_s']:.1f} s")
    print(f"test AUC: primary {ev['primary']['metrics']['auc']['value']}, baseline "
          f"{ev['baseline']['metrics']['auc']['value']}")
    if o and "oracle" in o:
        print(f"oracle AUC {o['oracle']['auc']['value']}; gap primary {o['primary']['gap_to_oracle']:.3f}, "
              f"baseline {o['baseline']['gap_to_oracle']:.3f} (tolerance {o['tolerance']})")
    con.close()

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"trajectories-{args.persons}-{args.use_case}.json"
    out.write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"recorded in {out}")


if __name__ == "__main__":
    main()
