"""Benchmark: the early-warning model's gap to the oracle on the true outcome, with its paired bootstrap interval.

    .venv/bin/python bench/early_warning.py --persons 100000
    .venv/bin/python bench/early_warning.py --persons 100000 --variant before

A synthetic population (seed 2024) is generated and loaded once in a child process (cached under
``bench/results/data/``, shared with ``bench/trajectories.py``); the XJS person records are built at the medium band;
then the use case is trained and compared with the oracle (the synthetic truth's outcome probabilities) on every test
row, against the outcome the linked data show and against the true outcome, each gap with a 95% paired bootstrap
interval (the same resampled rows for oracle and model).

``--variant before`` runs the use case without the validity changes of issue 22 part 6 (no fixed look-back window, the
data end at the latest outcome event rather than less the recording lag), for comparison. Results are printed and
recorded in ``bench/results/early_warning-<persons>-<use case>-<variant>.json`` with the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from measure import PeakRSS, machine  # noqa: E402
from trajectories import prepare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--use-case", default="reoffending_12m_after_release")
    ap.add_argument("--bootstrap", type=int, default=500)
    ap.add_argument("--variant", choices=("current", "before"), default="current")
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit")
    args = ap.parse_args()
    os.environ.setdefault("BOLD_PSEUDONYM_KEY", "bench-only-pseudonym-key")
    synth, project_dir = prepare(args.persons, args.seed)

    from bold_prevention.early_warning import train as E
    from bold_prevention.early_warning.usecase import OutcomeSource, load_use_case
    from bold_prevention.linkage.xjs import build_person_records
    from bold_prevention.project import Project
    from bold_prevention.warehouse.engine import duckdb_connect

    proj = Project.at(project_dir).ensure()
    con = duckdb_connect(proj)
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    build_person_records(con, band="medium")
    uc = load_use_case(args.use_case)
    if args.variant == "before":
        uc = dataclasses.replace(uc, lookback_months=None, outcome=dataclasses.replace(
            uc.outcome, sources=tuple(OutcomeSource(s.event_type, s.table, s.date, s.where)
                                      for s in uc.outcome.sources)))
    res: dict = {"persons": args.persons, "seed": args.seed, "use_case": args.use_case, "variant": args.variant,
                 "bootstrap": args.bootstrap, "machine": machine(),
                 "when": datetime.now(UTC).isoformat(timespec="seconds")}
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        rep = E.train(con, uc, project=proj, seed=0, n_boot=args.bootstrap, truth=synth, bands=False,
                      write_scores_table=False, progress=lambda m: print(f"  {m}", flush=True))
        res["wall_s"] = time.perf_counter() - t0
    res["peak_rss_gb"] = peak.peak / 2**30
    card = rep.card
    res["data"] = card["data"]
    res["test"] = {w: card["evaluation"][w]["metrics"] for w in ("primary", "baseline")}
    res["oracle"] = card.get("oracle")
    res["primary_model"] = card["models"]["primary"]  # settings, and how they were chosen
    con.close()
    summary = E.card_summary(card)
    print(summary["headline"])
    for row in summary["table"]:
        print("  " + " | ".join(row))
    for line in summary["oracle"]:
        print(line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"early_warning-{args.persons}-{args.use_case}-{args.variant}.json"
    out.write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"recorded in {out} ({res['wall_s']:.1f} s, peak {res['peak_rss_gb']:.2f} GB)")


if __name__ == "__main__":
    main()
